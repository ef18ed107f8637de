"""Checks on a zip archive (a `.keras` model, an `.npz` data set) before anything reads it:
every member stays inside the folder it would unpack to, none is a link, and the whole unpacks
to a bounded size, at a ratio no real model reaches (a zip bomb's zeros compress ~1000:1).

Python's zipfile never inflates a member past the size its header declares, so checking the
declared sizes bounds what any later reader (ours, Keras's, numpy's) can unpack.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from edgekit.core.errors import EdgekitError
from edgekit.core.units import human_size

MAX_RATIO = 100  # real weights compress 1x to 10x, even pruned ones
RATIO_FLOOR = 16 << 20  # below this many unpacked bytes no ratio can hurt


def check_zip(path: Path, what: str, max_bytes: int, option: str, check_ratio: bool = True
              ) -> list[zipfile.ZipInfo]:
    """The archive's members, once they are known to be safe to read; else a one-line error."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise EdgekitError(f"{what} {path} is a damaged zip ({exc})") from None
    for member in members:
        reason = _unsafe(member)
        if reason:
            raise EdgekitError(f"{what} {path} has a member {member.filename!r} that {reason}: refused")
    unpacked = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if unpacked > max_bytes:
        raise EdgekitError(f"{what} {path} unpacks to {human_size(unpacked)}, over the {human_size(max_bytes)} "
                           f"limit: raise {option} if that is expected")
    if check_ratio and unpacked > RATIO_FLOOR and unpacked > MAX_RATIO * max(packed, 1):
        raise EdgekitError(f"{what} {path} unpacks {unpacked // max(packed, 1)}x ({human_size(packed)} to "
                           f"{human_size(unpacked)}), past the {MAX_RATIO}x of any real model: refused as a zip bomb")
    return members


def _unsafe(member: zipfile.ZipInfo) -> str | None:
    name = member.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if "\0" in name:
        return "has a NUL byte in its name"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if ".." in parts:
        return "would unpack outside the archive's folder"
    if stat.S_ISLNK(member.external_attr >> 16):
        return "is a symbolic link"
    return None
