"""What `--device` names: `local` (the default: a worker process here), `ssh://[user@]host[:port]`
(a Linux board), or a name from a devices file (`--devices FILE`, TOML):

    [pi5]
    ssh = "pi@pi5.local"                    # or ssh://pi@pi5.local:22
    python = "/home/pi/edgekit/bin/python"  # default: python3
    notes = "Raspberry Pi 5, 8 GB, active cooler"
    ssh_options = ["-i", "~/.ssh/pi5"]      # added to the ssh command line
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from edgekit.errors import EdgekitError, unreadable

SSH_TARGET = re.compile(r"^(?:ssh://)?(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9._:-]+?)(?::(?P<port>\d+))?$")


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


def parse_ssh(target: str, name: str | None = None, **fields) -> Device:
    match = SSH_TARGET.match(target)
    if not match or not match["host"] or target.startswith("-"):
        raise EdgekitError(f"--device {target!r} is not an SSH target: write ssh://[user@]host[:port]")
    return Device(name or target, match["host"], match["user"], int(match["port"]) if match["port"] else None,
                  **fields)


def find(spec: str, devices_file: str | None = None, remote_python: str | None = None) -> Device | None:
    """The board `spec` names; None for this machine."""
    extra = {"python": remote_python} if remote_python else {}
    if spec == "local":
        return None
    if spec.startswith("ssh://"):
        return parse_ssh(spec, **extra)
    if devices_file is None:
        raise EdgekitError(f"--device {spec!r} is not local or ssh://[user@]host[:port]; to use a name, give the "
                           "devices file that defines it with --devices FILE")
    table = _read(Path(devices_file))
    if spec not in table:
        raise EdgekitError(f"--device {spec!r} is not in {devices_file} (it defines: {', '.join(table) or 'nothing'})")
    entry = table[spec]
    where = f"{devices_file}: [{spec}]"
    if not isinstance(entry, dict) or not isinstance(entry.get("ssh"), str):
        raise EdgekitError(f"{where} needs ssh = \"[user@]host[:port]\"")
    options = entry.get("ssh_options", [])
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise EdgekitError(f"{where}: ssh_options must be a list of strings")
    for key in ("python", "notes"):
        if not isinstance(entry.get(key, ""), str):
            raise EdgekitError(f"{where}: {key} must be a string")
    fields = {"python": entry.get("python", "python3"), "notes": entry.get("notes", ""), **extra}
    return parse_ssh(entry["ssh"], spec, ssh_options=tuple(options), **fields)


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise unreadable(path, exc, "devices file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EdgekitError(f"devices file {path} is not valid TOML ({exc})") from None


def runner_for(spec: str | None, devices_file: str | None = None, remote_python: str | None = None):
    """The runner that measures on what `--device` names."""
    from edgekit.runners import runner

    device = find(spec or "local", devices_file, remote_python)
    return runner("local") if device is None else runner("ssh", device)
