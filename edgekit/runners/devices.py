"""What `--device` names: `local` (the default: a worker process here), `ssh://[user@]host[:port]`
(a Linux board), `adb` or `adb://SERIAL` (an Android phone), or a name from a devices file
(`--devices FILE`, TOML; its schema: edgekit/runners/devices_file.py):

    [pi5]
    ssh = "pi@pi5.local"                    # or ssh://pi@pi5.local:22
    python = "/home/pi/edgekit/bin/python"  # default: python3
    notes = "Raspberry Pi 5, 8 GB, active cooler"
    ssh_options = ["-i", "~/.ssh/pi5"]      # added to the ssh command line

    [pixel8]
    adb = "39081FDJH00A2B"                  # its serial (`adb devices`); "" for the only one attached
    benchmark_binary = "~/Downloads/android_aarch64_benchmark_model"
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edgekit.core.errors import EdgekitError
from edgekit.runners import devices_file as file_schema
from edgekit.runners import runner
from edgekit.runners.devices_file import ADB_TARGET, SSH_TARGET


@dataclasses.dataclass(frozen=True)
class Device:
    name: str  # what records say: the devices file's name, or the ssh:// target
    host: str
    user: str | None = None
    port: int | None = None
    python: str = "python3"
    ssh_options: tuple[str, ...] = ()
    notes: str = ""

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host


@dataclasses.dataclass(frozen=True)
class Phone:
    name: str  # what records say: the devices file's name, or adb[://SERIAL]
    serial: str | None = None  # None: the one phone attached
    benchmark_binary: str | None = None  # LiteRT's benchmark_model for the phone's ABI
    notes: str = ""


def parse_ssh(target: str, name: str | None = None, **fields) -> Device:
    match = SSH_TARGET.match(target)
    if not match or not match["host"] or target.startswith("-"):
        raise EdgekitError(f"--device {target!r} is not an SSH target: write ssh://[user@]host[:port]")
    return Device(name or target, match["host"], match["user"], int(match["port"]) if match["port"] else None,
                  **fields)


def find(spec: str, devices_file: str | None = None, remote_python: str | None = None,
         benchmark_binary: str | None = None) -> Device | Phone | None:
    """The board or phone `spec` names; None for this machine. A devices file is checked whole
    (edgekit/runners/devices_file.py), even where `spec` names none of its entries."""
    table = file_schema.read(Path(devices_file)) if devices_file is not None else None
    extra = {"python": remote_python} if remote_python else {}
    if spec == "local":
        return None
    if spec.startswith("ssh://"):
        return parse_ssh(spec, **extra)
    if match := ADB_TARGET.match(spec):
        return Phone(spec, match["serial"], benchmark_binary)
    if table is None:
        raise EdgekitError(f"--device {spec!r} is not local, ssh://[user@]host[:port] or adb[://SERIAL]; to use a "
                           "name, give the devices file that defines it with --devices FILE")
    if spec not in table:
        raise EdgekitError(f"--device {spec!r} is not in {devices_file} (it defines: {', '.join(table) or 'nothing'})")
    entry = table[spec]
    if isinstance(entry, file_schema.PhoneEntry):
        binary = benchmark_binary or entry.benchmark_binary
        return Phone(spec, entry.adb or None, binary and str(Path(binary).expanduser()), entry.notes)
    return parse_ssh(entry.ssh, spec, ssh_options=tuple(entry.ssh_options), notes=entry.notes,
                     python=remote_python or entry.python)


def runner_for(spec: str | None, devices_file: str | None = None, remote_python: str | None = None,
               benchmark_binary: str | None = None):
    """The runner that measures on what `--device` names."""
    found = find(spec or "local", devices_file, remote_python, benchmark_binary)
    if found is None:
        return runner("local")
    return runner("adb" if isinstance(found, Phone) else "ssh", found)
