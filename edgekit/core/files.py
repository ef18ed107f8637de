"""Checks on a user's file before it is opened: a regular file, not a FIFO or a device, and a
.npz whose arrays can be read without running code."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import numpy as np

from edgekit.core import limits
from edgekit.core.archives import check_zip
from edgekit.core.errors import EdgekitError, first_line


def check_regular(path: Path, what: str = "data", give: str = "a .npz, .npy or a folder of images") -> None:
    """Refuse a FIFO, socket or device (following links) before anything opens it: reading one
    blocks, or never ends. Folders pass: their files are checked one by one."""
    kind = special_kind(path)
    if kind:
        raise EdgekitError(f"{what} {path} is {kind}, not a regular file: give {give}")


def check_npz(path: Path) -> None:
    """Refuse an .npz whose arrays, as their headers declare them, are unsafe or too big to load."""
    check_regular(path)
    members = check_zip(path, "data", limits.current().data_bytes, limits.named("data_bytes"),
                        check_ratio=False)  # zeros-heavy data compresses far: its size is what counts
    try:
        with zipfile.ZipFile(path) as archive:
            for member in members:
                with archive.open(member) as fh:
                    _check_npy_header(fh, path, member.file_size, member.filename)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
        raise EdgekitError(f"data {path} is not a readable .npz ({exc})") from None


def _check_npy_header(fh, path: Path, file_size: int, member: str | None = None) -> None:
    """Read an .npy header and refuse an array that would be too big to decode, or that declares
    more data than the file holds (a huge declared shape in a tiny file)."""
    where = f"data {path}" + (f" [{member}]" if member else "")
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        version = np.lib.format.read_magic(fh)
        if version not in readers:
            raise EdgekitError(f"{where}: .npy format version {version} is not supported; save with numpy.save")
        shape, _, dtype = readers[version](fh)
    except EdgekitError:
        raise
    except Exception as exc:  # numpy parses the header as Python literals: many error types
        raise EdgekitError(f"{where} is not a readable .npy ({first_line(exc)})") from None
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    limits.check_data_size(path, declared)
    held = file_size - fh.tell()
    if dtype.kind != "O" and held < declared:
        raise EdgekitError(f"{where} declares shape {shape} ({declared} bytes) but holds {held} bytes: "
                           "the file is truncated")


_SPECIAL_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"))


def special_kind(path: Path) -> str | None:
    """What a path is when it is not a regular file or a folder (following links), in words."""
    mode = path.stat().st_mode
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return next((kind for test, kind in _SPECIAL_KINDS if test(mode)), "not a regular file")
