"""A devices file (`--devices FILE`, EDGEKIT_DEVICES) as a declared schema: a TOML table per
device, a board (`ssh = ...`) or a phone (`adb = ...`), every entry checked when the file is read,
a bad one as one line naming the file, the entry and the field (edgekit/core/schemas.py).

A devices file is trusted like ~/.ssh/config: its ssh_options reach ssh as they are, and
`-o ProxyCommand=...` runs a command. Only its `ssh` target is kept from passing for an option.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from edgekit.core.errors import EdgekitError
from edgekit.core.schemas import read_toml, validate

ADB_TARGET = re.compile(r"^adb(?:://(?P<serial>[A-Za-z0-9._:-]+))?$")
SSH_TARGET = re.compile(r"^(?:ssh://)?(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9._:-]+?)(?::(?P<port>\d+))?$")
STRICT = ConfigDict(strict=True, extra="forbid")
SSH_FIX = 'write ssh = "[user@]host[:port]" (or "ssh://[user@]host[:port]")'
ENTRY_FIX = ('each entry is a [name] table: a board has ssh, python, notes, ssh_options; a phone has adb, '
             'benchmark_binary, notes')


def _ssh_target(target: str) -> str:
    match = SSH_TARGET.match(target)
    if not match or not match["host"] or target.startswith("-"):
        raise ValueError("is not an SSH target")
    return target


def _serial(serial: str) -> str:
    if serial and not ADB_TARGET.match(f"adb://{serial}"):
        raise ValueError("is not an adb serial (`adb devices` lists them)")
    return serial


class BoardEntry(BaseModel):
    model_config = STRICT
    ssh: Annotated[str, AfterValidator(_ssh_target)] = Field(description=SSH_FIX)
    python: str = Field("python3", min_length=1, description="give the board's Python, e.g. \"python3\"")
    notes: str = Field("", description="give a sentence on the board")
    ssh_options: list[str] = Field([], description='give a list of ssh arguments, e.g. ["-i", "~/.ssh/pi5"]')


class PhoneEntry(BaseModel):
    model_config = STRICT
    adb: Annotated[str, AfterValidator(_serial)] = Field(description='give its serial, or "" for the only phone attached')
    benchmark_binary: str | None = Field(None, description="give the path of LiteRT's benchmark_model for its ABI")
    notes: str = Field("", description="give a sentence on the phone")


def read(path: Path) -> dict[str, BoardEntry | PhoneEntry]:
    """Every device the file names, each checked."""
    table = read_toml(path, f"devices file {path}", "give a TOML file of [name] tables (see `edgekit bench --help`)")
    devices = {}
    for name, entry in table.items():
        where = f"devices file {path} [{name}]"
        if name == "local" or name.startswith("ssh://") or ADB_TARGET.match(name):
            raise EdgekitError(f"{where}: {name!r} is what --device {name} means without a devices file, so this "
                               "entry could never be used: give it another name")
        if "," in name or not name.strip():
            raise EdgekitError(f"{where}: a device's name must be non-empty and hold no comma (--device takes "
                               "several, separated by commas): give it another name")
        if isinstance(entry, dict) and "ssh" in entry and "adb" in entry:
            raise EdgekitError(f"{where} has both ssh (a board) and adb (a phone): keep one")
        if isinstance(entry, dict) and "ssh" not in entry and "adb" not in entry:
            raise EdgekitError(f"{where} needs ssh = \"[user@]host[:port]\" (a board) or adb = \"SERIAL\" (a phone)")
        devices[name] = validate(PhoneEntry if isinstance(entry, dict) and "adb" in entry else BoardEntry, entry, where,
                                 ENTRY_FIX)
    return devices
