"""The runner protocol: how edgekit talks to a worker that measures models for it, in another
process on this machine or on a board over SSH. Version 1.

A message is a 4-byte big-endian length, a UTF-8 JSON object of that length (the header), then
each array the header's "arrays" list names, in that order, in numpy's .npy format (pickles
refused). Every header has "type" and "protocol". The worker speaks first:

    worker -> host  hello    {"fingerprint": {python, platform, cpu, versions}}
    host -> worker  measure  {"artifact", "runtime", "target", "options", "runs", "warmup",
                              "batch", "seconds", "feeds", "share"}  arrays: latency/<i>/<input>, eval/<input>
                             ("runs" null: until the median is known, within "share" seconds)
    worker -> host  result   {"status": ok | skipped | failed | stopped, "reason" | "found"}
                             arrays: outputs/<output> (the evaluation outputs, when measured)
    host -> worker  exit     {}  (or end of input)

The host refuses a worker of another protocol version before it sends anything. This module
imports only the standard library and numpy: it runs on the board too.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np

VERSION = 1
MAX_HEADER_BYTES = 16 << 20


class ProtocolError(Exception):
    """What came from the other side is not a message of this protocol."""


def send(stream, kind: str, header: dict | None = None, arrays: dict[str, np.ndarray] | None = None) -> None:
    arrays = arrays or {}
    body = json.dumps({**(header or {}), "type": kind, "protocol": VERSION, "arrays": list(arrays)},
                      allow_nan=False).encode()
    stream.write(struct.pack(">I", len(body)) + body)
    for value in arrays.values():
        np.lib.format.write_array(_Stream(stream), np.ascontiguousarray(value), allow_pickle=False)
    stream.flush()


def receive(stream) -> tuple[dict, dict[str, np.ndarray]]:
    """The next message; EOFError when the stream ends between messages."""
    prefix = stream.read(4)
    if not prefix:
        raise EOFError
    if len(prefix) < 4:
        raise ProtocolError("the stream ended inside a message")
    (size,) = struct.unpack(">I", prefix)
    if size > MAX_HEADER_BYTES:
        raise ProtocolError(f"a header of {size} bytes: not a message of this protocol")
    body = stream.read(size)
    try:
        header = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ProtocolError("a header that is not JSON: not a message of this protocol") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays", []), list):
        raise ProtocolError("a header that is not a JSON object with an 'arrays' list")
    arrays = {}
    for name in header.pop("arrays", []):
        try:
            arrays[str(name)] = np.lib.format.read_array(_Stream(stream), allow_pickle=False)
        except (ValueError, EOFError, io.UnsupportedOperation) as exc:
            raise ProtocolError(f"array {name!r} is damaged ({exc})") from None
    return header, arrays


class _Stream:
    """A pipe as numpy must see it: a stream to read and write in order (given a real file
    object, numpy seeks, and a pipe cannot)."""

    def __init__(self, stream):
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def write(self, data) -> int:
        return self.stream.write(data)
