"""The runner protocol: how edgekit talks to a worker that measures models for it, in another
process on this machine or on a board over SSH. Version 1.

A message is a 4-byte big-endian length, a UTF-8 JSON object of that length (the header), then
each array the header's "arrays" list names, in that order, in numpy's .npy format (numbers and
booleans only: no pickles, records or strings; a receiver bounds their size from their headers
before it allocates). Every header has "type" and "protocol". The worker speaks first:

    worker -> host  hello    {"fingerprint": {python, platform, cpu, versions}}
    host -> worker  measure  {"artifact", "runtime", "target", "options", "runs", "warmup",
                              "batch", "seconds", "feeds", "share"}  arrays: latency/<i>/<input>, eval/<input>
                             ("runs" null: until the median is known, within "share" seconds)
    worker -> host  result   {"status": ok | skipped | failed | stopped, "reason" | "found"}
                             arrays: outputs/<output> (the evaluation outputs, when measured)
    host -> worker  exit     {}  (or end of input)

The host refuses a worker of another protocol version before it sends anything, and checks every
reply against its schema (`runners.replies`) before it reads it. This module imports only the
standard library and numpy: it runs on the board too.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

VERSION = 1
MAX_HEADER_BYTES = 16 << 20


class ProtocolError(Exception):
    """What came from the other side is not a message of this protocol."""


class StreamEnded(ProtocolError):
    """The stream ended inside a message: the other side died, or closed its end, mid-message."""


class ArrayTooLarge(ProtocolError):
    """An array header declares more data than the receiver allows (nothing was allocated)."""

    def __init__(self, name: str, size: int, limit: int, what: str):
        super().__init__(f"array {name!r} declares {what}, {size:,} bytes, over the {limit:,} bytes allowed")
        self.name, self.size, self.limit, self.what = name, size, limit, what


# numbers and booleans, what models take and give: no objects (pickles), records, strings or times
ARRAY_KINDS = "biuf"
MAX_DIMS = 32
_CHUNK = 1 << 24  # bytes read at a time into an array's buffer


def send(stream, kind: str, header: dict | None = None, arrays: dict[str, np.ndarray] | None = None) -> None:
    arrays = arrays or {}
    body = json.dumps({**(header or {}), "type": kind, "protocol": VERSION, "arrays": list(arrays)},
                      allow_nan=False).encode()
    stream.write(struct.pack(">I", len(body)) + body)
    for value in arrays.values():
        np.lib.format.write_array(_Stream(stream), np.ascontiguousarray(value), allow_pickle=False)
    stream.flush()


def receive(stream, max_bytes: int | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """The next message; EOFError when the stream ends between messages. `max_bytes` bounds the
    data of all its arrays together: each array's header is checked against it before anything
    is allocated (a host reading a worker's reply; the worker trusts its host)."""
    prefix = stream.read(4)
    if not prefix:
        raise EOFError
    if len(prefix) < 4:
        raise StreamEnded("the stream ended inside a message")
    (size,) = struct.unpack(">I", prefix)
    if size > MAX_HEADER_BYTES:
        raise ProtocolError(f"a header of {size} bytes: not a message of this protocol")
    body = stream.read(size)
    if len(body) < size:
        raise StreamEnded("the stream ended inside a message")
    try:
        header = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: not JSON, or a 5000-digit integer
        raise ProtocolError("a header that is not JSON: not a message of this protocol") from None
    names = header.pop("arrays", []) if isinstance(header, dict) else None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ProtocolError("a header that is not a JSON object with an 'arrays' list of names")
    if len(set(names)) < len(names):
        raise ProtocolError("a header that names an array twice")
    arrays, left = {}, max_bytes
    for name in names:
        arrays[name] = _read_array(stream, name, left)
        left = None if left is None else left - arrays[name].nbytes
    return header, arrays


def _read_array(stream, name: str, max_bytes: int | None) -> np.ndarray:
    """One array in .npy format, its header checked before its data is allocated and read."""
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):  # 3.0 exists for record field names, which are refused
            raise ValueError(f"npy format version {version}")
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = header(stream)
    except Exception as exc:  # numpy parses the header with ast and builds a dtype from it: any failure is damage
        if "EOF" in str(exc):
            raise StreamEnded(f"the stream ended inside array {name!r}") from None
        raise ProtocolError(f"array {name!r} is damaged ({str(exc)[:200]})") from None
    if dtype.kind not in ARRAY_KINDS or dtype.hasobject or dtype.subdtype is not None:
        raise ProtocolError(f"array {name!r} has dtype {str(dtype)[:80]}: only numbers and booleans are accepted")
    if len(shape) > MAX_DIMS or any(d < 0 for d in shape):
        raise ProtocolError(f"array {name!r} has shape {str(shape)[:80]}: not an array's shape")
    size = math.prod(shape) * dtype.itemsize
    if max_bytes is not None and size > max_bytes:
        raise ArrayTooLarge(name, size, max_bytes, f"shape {str(shape)[:80]} of {dtype}")
    data = bytearray(size)  # bounded above; filled in place, so the data is held once
    view, filled = memoryview(data), 0
    while filled < size:
        chunk = stream.read(min(size - filled, _CHUNK))
        if not chunk:
            raise StreamEnded(f"the stream ended inside array {name!r}")
        view[filled:filled + len(chunk)] = chunk
        filled += len(chunk)
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")


class _Stream:
    """A pipe as numpy must see it: a stream to write in order (given a real file object, numpy
    seeks, and a pipe cannot)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, data) -> int:
        return self.stream.write(data)
