"""The host's side of one worker process: start it, check its protocol version, send a job,
read the reply before a hard deadline, and say why when the worker died instead.

The worker runs in a session of its own (a Ctrl-C at the terminal reaches edgekit, which
kills it), with stderr in a temporary file, so that a crash can be reported with its last
lines and a chatty runtime can never fill a pipe and stall.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import tempfile
import time

from edgekit.core import interrupts, limits
from edgekit.core.errors import EdgekitError
from edgekit.core.schemas import shown
from edgekit.core.units import human_size
from edgekit.runners import protocol, replies
from edgekit.runtimes.messages import plain

STDERR_LINES = 2  # the last lines of a crashed worker's stderr its row quotes
STDERR_CHARS = 300


class WorkerTimedOut(Exception):
    """The worker did not answer before the deadline (it has been killed)."""


class WorkerFailed(EdgekitError):
    """The worker crashed, exited or spoke something else: the row's reason says which."""


class WorkerProcess:
    def __init__(self, command: list[str], where: str, exit_meanings: dict | None = None, env: dict | None = None):
        self.where = where  # e.g. "litert-compiled:cpu x1", or a board's name and target
        self.exit_meanings = exit_meanings or {}  # e.g. ssh's 255: the connection failed
        self.stderr = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=self.stderr, start_new_session=True, env=env)
        except OSError as exc:
            self.stderr.close()
            raise WorkerFailed(f"could not start the worker ({' '.join(command[:2])}): {exc.strerror or exc}") from None
        self._abort = interrupts.on_abort(self.kill)
        self._abort.__enter__()

    def hello(self, until: float) -> dict:
        """The worker's first message: its fingerprint, checked. Refuses a worker of another version."""
        header, arrays = self._receive(until, max_bytes=0)
        if header.get("type") != "hello":
            raise WorkerFailed(f"the worker for {self.where} did not introduce itself "
                               f"(got {shown(header.get('type'))})")
        if header.get("protocol") != protocol.VERSION:
            raise WorkerFailed(f"the worker for {self.where} speaks runner protocol {shown(header.get('protocol'))}, "
                               f"this edgekit speaks {protocol.VERSION}: install the same edgekit version on both "
                               "sides")
        if arrays:
            raise WorkerFailed(f"the worker for {self.where} sent arrays with its hello: {replies.FIX}")
        return replies.fingerprint(header, self.where)

    def request(self, kind: str, header: dict, arrays: dict, until: float) -> tuple[dict, dict]:
        """Send a job; the reply, its arrays within the evaluation data's limit (--max-data-size):
        they are the outputs of that data."""
        try:
            protocol.send(self.process.stdin, kind, header, arrays)
        except (BrokenPipeError, ConnectionResetError):
            raise self._died() from None
        return self._receive(until, limits.current().data_bytes)

    def _receive(self, until: float, max_bytes: int) -> tuple[dict, dict]:
        try:
            return protocol.receive(_TimedReader(self.process.stdout.fileno(), until), max_bytes)
        except WorkerTimedOut:
            self.kill()
            raise
        except EOFError:
            raise self._died() from None
        except protocol.StreamEnded as exc:  # it died mid-message, or closed its output and lives on
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.kill()
                raise WorkerFailed(f"the worker for {self.where} sent something else than the runner protocol "
                                   f"({exc})") from None
            raise self._died() from None
        except protocol.ArrayTooLarge as exc:
            self.kill()
            if not max_bytes:
                raise WorkerFailed(f"the worker for {self.where} sent arrays with its hello: {replies.FIX}") from None
            size = human_size(exc.size) if exc.size < 1 << 50 else "over a petabyte"
            raise WorkerFailed(f"the worker for {self.where} sent array {shown(exc.name)} of {exc.what} ({size}), "
                               f"over the {human_size(exc.limit)} its outputs may take ({limits.named('data_bytes')}): "
                               f"{replies.FIX}") from None
        except protocol.ProtocolError as exc:
            self.kill()
            raise WorkerFailed(f"the worker for {self.where} sent something else than the runner protocol "
                               f"({exc})") from None

    def _died(self) -> WorkerFailed:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        how = self.exit_meanings.get(code) or how_it_ended(code)
        tail, said = self.stderr_tail()
        return WorkerFailed(f"{how} in {self.where}" + (f": {tail}" if tail else ""), detail=said or None)

    def stderr_tail(self) -> tuple[str, str]:
        """The last lines the worker wrote, as a row shows them (without source locations) and as written."""
        self.stderr.seek(0, os.SEEK_END)
        size = self.stderr.tell()
        self.stderr.seek(max(0, size - 8192))
        lines = [line.strip() for line in self.stderr.read().decode(errors="replace").splitlines() if line.strip()]
        shown = " / ".join(filter(None, map(plain, lines[-STDERR_LINES:])))
        return (shown if len(shown) <= STDERR_CHARS else shown[:STDERR_CHARS - 1] + "…"), "\n".join(lines[-STDERR_LINES:])

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Ask the worker to exit, then make sure it has."""
        try:
            if self.process.poll() is None:
                try:
                    protocol.send(self.process.stdin, "exit")
                    self.process.stdin.close()
                    self.process.wait(timeout=2)
                except (OSError, ValueError, subprocess.TimeoutExpired):
                    pass
            self.kill()
        finally:
            for stream in (self.process.stdin, self.process.stdout, self.stderr):
                try:
                    stream.close()
                except OSError:
                    pass
            self._abort.__exit__(None, None, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _TimedReader:
    """`read(n)` on a pipe that gives up at `until` (time.monotonic) with WorkerTimedOut."""

    def __init__(self, fd: int, until: float):
        self.fd, self.until = fd, until

    def read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            wait = self.until - time.monotonic()
            if wait <= 0:
                raise WorkerTimedOut
            ready, _, _ = select.select([self.fd], [], [], min(wait, 1.0))
            if not ready:
                continue
            data = os.read(self.fd, min(left, 1 << 20))
            if not data:
                break
            chunks.append(data)
            left -= len(data)
        return b"".join(chunks)


def how_it_ended(code: int | None) -> str:
    """A process's exit status in words: the signal that ended it, else the status."""
    if code is not None and (code < 0 or 128 < code < 128 + 65):  # a shell says 128+N (over SSH or adb)
        number = -code if code < 0 else code - 128
        try:
            return f"crashed with {signal.Signals(number).name}"
        except ValueError:
            return f"crashed with signal {number}"
    return f"exited with status {code}"
