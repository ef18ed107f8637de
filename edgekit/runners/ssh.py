"""A Linux board over SSH, with the system's OpenSSH client (so ~/.ssh/config, agents and jump
hosts work). On first use it makes a temporary folder on the board and copies the worker bundle
there (`runners.bundle`: the board needs only Python 3, numpy and the runtime), then each file
once; each job is a worker started over its own connection, as a local job is a process of its
own; `close()` removes the folder. An unreachable board, a dropped connection or a missing
package is a row with the reason, within ConnectTimeout and ServerAlive's bounds."""

from __future__ import annotations

import shlex
import subprocess
import tempfile
import time
from pathlib import Path

from edgekit.core.errors import EdgekitError
from edgekit.runners import bundle
from edgekit.runners.base import Job
from edgekit.runners.devices import Device
from edgekit.runners.local import LocalRunner
from edgekit.runners.worker_process import WorkerProcess, WorkerTimedOut

SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5",
               "-o", "ServerAliveCountMax=3")
COMMAND_SECONDS = 120  # one set-up command (a folder, a copy) on the board


class SshRunner(LocalRunner):
    kind = "ssh"
    exit_meanings = {255: "lost its SSH connection"}

    def __init__(self, device: Device):
        self.board, self.device = device, device.name
        self.folder: str | None = None
        self.broken: str | None = None
        self.copied: dict[Path, str] = {}

    def ssh(self, command: str) -> list[str]:
        port = ["-p", str(self.board.port)] if self.board.port else []
        return ["ssh", *SSH_OPTIONS, *port, *self.board.ssh_options, "--", self.board.destination, command]

    def remote(self, command: str, data: bytes | None = None) -> str:
        """Run a set-up command on the board; its failure is the row's reason."""
        try:
            result = subprocess.run(self.ssh(command), input=data, capture_output=True, timeout=COMMAND_SECONDS)
        except subprocess.TimeoutExpired:
            raise EdgekitError(f"{self.device} did not answer within {COMMAND_SECONDS} s over SSH") from None
        except FileNotFoundError:
            raise EdgekitError("the ssh client is not installed: install OpenSSH (Debian: apt install "
                               "openssh-client)") from None
        if result.returncode != 0:
            lines = [line for line in result.stderr.decode(errors="replace").splitlines() if line.strip()]
            raise EdgekitError(f"{self.device} over SSH: {lines[-1] if lines else f'exit status {result.returncode}'}")
        return result.stdout.decode(errors="replace").strip()

    def setup(self) -> None:
        """The board's temporary folder with the worker in it; a board that cannot be reached
        fails every later job at once with the same reason."""
        if self.broken:
            raise EdgekitError(self.broken)
        if self.folder is not None:
            return
        try:
            folder = self.remote("mktemp -d /tmp/edgekit-worker.XXXXXX")
            with tempfile.TemporaryDirectory() as scratch:
                data = bundle.build(Path(scratch) / "worker.pyz").read_bytes()
            self.remote(f"cat > {shlex.quote(folder)}/worker.pyz", data)
        except EdgekitError as exc:
            self.broken = str(exc)
            raise
        self.folder = folder

    def prepare(self, job: Job, deadline) -> str:
        self.setup()
        if job.artifact not in self.copied:
            remote = f"{self.folder}/{len(self.copied)}-{job.artifact.name}"
            self.remote(f"cat > {shlex.quote(remote)}", job.artifact.read_bytes())
            self.copied[job.artifact] = remote
        return self.copied[job.artifact]

    def probe(self, seconds: float = 60) -> dict:
        """The board's fingerprint, from a worker started there (what `edgekit env --device` shows)."""
        self.setup()
        try:
            with WorkerProcess(self.command(), self.device, self.exit_meanings, self.environment()) as worker:
                return worker.hello(time.monotonic() + seconds)
        except WorkerTimedOut:
            raise EdgekitError(f"the worker on {self.device} did not introduce itself within {seconds:g} s") from None

    def command(self) -> list[str]:
        # `; exit $?` keeps the shell as the worker's parent, so a crash reads as 128+N, not ssh's 255
        return self.ssh(f"cd {shlex.quote(self.folder)} && {_remote_path(self.board.python)} worker.pyz; exit $?")

    def where(self, job: Job) -> str:
        return f"{job.target} on {self.device}"

    def environment(self) -> dict | None:
        return None  # ssh's own

    def fingerprint(self) -> dict | None:
        return self.worker_fingerprint

    def close(self) -> None:
        if self.folder is not None:
            folder, self.folder = self.folder, None
            try:
                self.remote(f"rm -rf {shlex.quote(folder)}")
            except EdgekitError:
                pass  # the board went away: /tmp on it is cleaned at its next boot


def _remote_path(path: str) -> str:
    """A path for the board's shell, quoted, but with a leading ~/ left for the shell to expand."""
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)
