"""Where a measurement runs (Olive calls these systems): in edgekit's own process, or in a
worker process that speaks `runners.protocol`. A new place is one module and one line in
RUNNERS. Nothing is imported here, so that the worker, which lives in this package too, loads
only what it uses."""

from __future__ import annotations

import importlib

RUNNERS = {
    "local": "edgekit.runners.local:LocalRunner",  # a worker process per job on this machine (default)
    "in-process": "edgekit.runners.in_process:InProcessRunner",  # edgekit's own process (Keras, --in-process)
    "ssh": "edgekit.runners.ssh:SshRunner",  # a Linux board, given a runners.devices.Device
    "adb": "edgekit.runners.adb:AdbRunner",  # an Android phone, given a runners.devices.Phone
}


def runner(kind: str, *args):
    """A new runner of the kind named."""
    module, _, cls = RUNNERS[kind].partition(":")
    return getattr(importlib.import_module(module), cls)(*args)
