"""The command and environment of every Python child edgekit starts (the worker, the HDF5 probe,
an NPU compile, TFLite Micro's arena search, fine-tuning): this Python and this edgekit, with nothing from the
working folder on its path.

Python puts the working folder first on the path of `python -c` and `python -m`
(docs/DESIGN.md, pitfall 21), so an `h5py.py` or `json.py` planted there would run. `-P` leaves it out; so must
PYTHONPATH, where an empty entry means the working folder and a relative one a folder in it.
`-I` would do both, but it also drops PYTHONPATH and the user's site-packages, where the
packages the child needs (TensorFlow's h5py, tflite-micro, openvino, on a board too) may be.
Runs on boards as part of the worker bundle: the standard library only.
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path


def command(*args: str) -> list[str]:
    """`python -P ARGS` with this interpreter."""
    return [sys.executable, "-P", *args]


def environment(**extra: str) -> dict[str, str]:
    """This process's environment for the child, with `extra` set: PYTHONSAFEPATH=1 (which keeps
    the working folder off the path of the child's own Python children too), and PYTHONPATH with
    edgekit's own root first and only absolute entries after it."""
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if os.path.isabs(p)]
    root = str(Path(__file__).resolve().parents[2])  # a checkout, or the bundle's zip on a board
    if root not in _site_folders():  # there the child finds edgekit by itself: site-packages must not go before the standard library
        paths = [root, *(p for p in paths if p != root)]
    env = {**os.environ, "PYTHONSAFEPATH": "1", **extra}
    env.pop("PYTHONPATH", None)
    return {**env, "PYTHONPATH": os.pathsep.join(paths)} if paths else env


def _site_folders() -> set[str]:
    folders = [*site.getsitepackages(), site.getusersitepackages()]
    return {str(Path(folder).resolve()) for folder in folders}
