"""An Android phone over adb (Debian's `adb`, or Android's platform-tools). A phone has no
Python, so the measuring is done by LiteRT's own benchmark_model binary for the phone's ABI,
which the user downloads and names with --benchmark-binary. On first use it is pushed, with
each file, to a temporary folder under /data/local/tmp that `close()` removes; each job is one
run of the tool (`runners.benchmark_model` gives its flags and reads its report), and a job that
asks for a per-op profile one more run with the tool's op profiler, whose files are pulled and
read (`runners.op_profile`). A profile the phone cannot give leaves the timings standing.

No phone attached, or one not authorized, is a skipped row with adb's own message. The tool
gives timings, cold start and memory, not outputs: accuracy and fidelity are measured on the
host's rows.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from edgekit.core.errors import BackendUnavailable, EdgekitError
from edgekit.measure import harness
from edgekit.runners import benchmark_model, op_profile
from edgekit.runners.base import Job, Runner, seconds_left
from edgekit.runners.devices import Phone
from edgekit.runners.worker_process import how_it_ended
from edgekit.runtimes.base import check_profile

COMMAND_SECONDS = 120  # one set-up command (a push, a folder) on the phone
GRACE_SECONDS = 5.0  # past the deadline, what the tool gets to stop on its own --max_secs
EXIT_MARK = "edgekit-exit-status="
# ELF e_machine -> the Android ABI a binary is built for
ELF_ABIS = {183: "arm64-v8a", 40: "armeabi-v7a", 62: "x86_64", 3: "x86", 243: "riscv64"}
PROPERTIES = {"manufacturer": "ro.product.manufacturer", "model": "ro.product.model",
              "soc_manufacturer": "ro.soc.manufacturer", "soc": "ro.soc.model", "board": "ro.board.platform",
              "android": "ro.build.version.release", "sdk": "ro.build.version.sdk", "abi": "ro.product.cpu.abi",
              "build": "ro.build.fingerprint"}


class AdbRunner(Runner):
    kind = "adb"

    def __init__(self, phone: Phone):
        self.serial, self.device = phone.serial, phone.name
        self.binary = Path(phone.benchmark_binary) if phone.benchmark_binary else None
        self.folder: str | None = None
        self.broken: Exception | None = None
        self.copied: dict[Path, str] = {}
        self.phone: dict | None = None

    def adb(self, *args: str, timeout: float = COMMAND_SECONDS) -> subprocess.CompletedProcess:
        adb = shutil.which("adb")
        if adb is None:
            raise BackendUnavailable("adb is not installed: apt install adb (Debian), or add Android's "
                                     "platform-tools to PATH")
        serial = ["-s", self.serial] if self.serial else []
        try:
            return subprocess.run([adb, *serial, *args], capture_output=True, text=True, errors="replace",
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise EdgekitError(f"{self.device} did not answer adb within {timeout:.0f} s") from None

    def shell(self, command: str) -> str:
        """A set-up command on the phone; its failure is the row's reason."""
        result = self.adb("shell", command)
        if result.returncode != 0:
            raise EdgekitError(f"{self.device}: `{command}` failed{benchmark_model.tail(result.stderr or result.stdout)}")
        return result.stdout.strip()

    def setup(self) -> None:
        """The phone's fingerprint and a temporary folder holding the tool; a phone that is not
        there skips every later job at once with the same reason."""
        if self.broken:
            raise self.broken
        if self.folder is not None:
            return
        try:
            self._check_binary(self.probe()["abi"])
            folder = self.shell("mktemp -d /data/local/tmp/edgekit.XXXXXX")
            self.push(self.binary, f"{folder}/benchmark_model")
            self.shell(f"chmod 755 {shlex.quote(folder)}/benchmark_model")
        except (BackendUnavailable, EdgekitError) as exc:
            self.broken = exc
            raise
        self.folder = folder

    def probe(self) -> dict:
        """The phone's fingerprint (what `edgekit env --device adb` shows); BackendUnavailable with
        adb's own message when it is not there."""
        if self.phone is None:
            state = self.adb("get-state", timeout=30)
            if state.returncode != 0 or state.stdout.strip() != "device":
                raise BackendUnavailable(f"adb says \"{_last_error(state)}\": attach the phone with USB debugging on "
                                         "and accept its prompt (`adb devices` lists it)")
            self.phone = fingerprint(self.shell("getprop"), self.shell("nproc"))
        return self.phone

    def push(self, local: Path, remote: str) -> None:
        result = self.adb("push", str(local), remote)
        if result.returncode != 0:
            raise EdgekitError(f"adb push {local.name} to {self.device} failed{benchmark_model.tail(result.stderr)}")

    def _check_binary(self, abi: str) -> None:
        if self.binary is None:
            raise EdgekitError("--device adb needs --benchmark-binary PATH: LiteRT's benchmark_model built for "
                               f"the phone's ABI ({abi})")
        built_for = elf_abi(self.binary)
        if built_for != abi and not (built_for == "armeabi-v7a" and abi == "arm64-v8a"):
            raise EdgekitError(f"--benchmark-binary {self.binary} is built for {built_for or 'no Android ABI'}, but "
                               f"{self.device} is {abi}: download the benchmark_model for {abi}")

    def _measure_impl(self, job: Job, deadline) -> tuple[dict, None]:
        flags = benchmark_model.target_flags(job.runtime, job.options)
        self.setup()
        if job.artifact not in self.copied:
            remote = f"{self.folder}/{len(self.copied)}-{job.artifact.name}"
            self.push(job.artifact, remote)
            self.copied[job.artifact] = remote
        left = seconds_left(deadline)
        runs = job.runs or benchmark_model.AUTO_RUNS  # the tool has no stopping rule of its own
        line = benchmark_model.command("./benchmark_model", self.copied[job.artifact], flags, runs, job.warmup,
                                       min(left, job.share or left))
        script = f"cd {shlex.quote(self.folder)} && {shlex.join(line)} 2>&1; echo {EXIT_MARK}$?"
        try:
            result = self.adb("shell", script, timeout=left + GRACE_SECONDS)
        except EdgekitError:
            self._stop_the_tool()
            deadline.check()  # past the deadline: stopped at the time limit
            raise
        report, _, status = result.stdout.rpartition(EXIT_MARK)
        if not _is_count(status):  # the connection dropped before the tool ended
            raise EdgekitError(f"lost {self.device} while benchmark_model ran: {_last_error(result)}")
        if int(status) != 0:
            raise EdgekitError(f"benchmark_model {how_it_ended(int(status))} in {job.target} on {self.device}"
                               f"{benchmark_model.tail(report)}")
        found = benchmark_model.parse(report)
        if job.runs and found["latency_us"]["runs"] < job.runs:
            deadline.check()  # the tool's --max_secs cut the runs short: the deadline passed
        if job.profile > 0:  # as a worker's: {"skipped": why} where the phone cannot give one
            found["profile"] = harness.profiled(lambda _: self._profile(job, flags, deadline), job.latency_feeds[0])
        return found, None

    def _profile(self, job: Job, flags: list[str], deadline) -> dict:
        """Where the time goes on the phone: a run of its own with the tool's op profiler (a
        profiled run's latency is never reported) writing the op table as CSV and the node ->
        delegate map, both pulled and read. BackendUnavailable with the reason when the phone
        cannot say: a tool too old for the flags, a failed run, no time left."""
        left = seconds_left(deadline)
        if left < 1:
            raise BackendUnavailable("no per-op profile: the time limit left no time for its run")
        table, info = f"{self.folder}/profile.csv", f"{self.folder}/runtime_info.pb"
        line = benchmark_model.command("./benchmark_model", self.copied[job.artifact],
                                       [*flags, *benchmark_model.profile_flags(table, info)], job.profile,
                                       job.warmup, left)
        script = (f"cd {shlex.quote(self.folder)} && rm -f {shlex.quote(table)} {shlex.quote(info)} && "
                  f"{shlex.join(line)} 2>&1; echo {EXIT_MARK}$?")
        try:
            result = self.adb("shell", script, timeout=left + GRACE_SECONDS)
        except EdgekitError:
            self._stop_the_tool()
            raise BackendUnavailable("no per-op profile: its run did not end before the time limit") from None
        report, _, status = result.stdout.rpartition(EXIT_MARK)
        if not _is_count(status) or int(status) != 0:
            ended = how_it_ended(int(status)) if _is_count(status) else "lost the phone"
            raise BackendUnavailable(f"no per-op profile: benchmark_model {ended} when profiling on {self.device}"
                                     f"{benchmark_model.tail(report)}")
        with tempfile.TemporaryDirectory(prefix="edgekit-profile-") as folder:
            text, placement = self._pull_text(table, Path(folder)), self._pull_bytes(info, Path(folder))
        return read_profile(text, placement, report, benchmark_model.asked_delegate(flags), job.profile)

    def _pull_text(self, remote: str, folder: Path) -> str | None:
        local = self.pull(remote, folder)
        return local.read_text(errors="replace") if local else None

    def _pull_bytes(self, remote: str, folder: Path) -> bytes | None:
        local = self.pull(remote, folder)
        return local.read_bytes() if local else None

    def pull(self, remote: str, folder: Path) -> Path | None:
        """A file from the phone into `folder`; None when the tool did not write it, or the
        phone did not answer (the profile then says what is missing)."""
        local = folder / Path(remote).name
        try:
            result = self.adb("pull", remote, str(local))
        except EdgekitError:
            return None
        return local if result.returncode == 0 and local.is_file() else None

    def _stop_the_tool(self) -> None:
        try:
            self.adb("shell", f"pkill -f {shlex.quote(self.folder)}", timeout=10)
        except EdgekitError:
            pass

    def fingerprint(self) -> dict | None:
        return self.phone

    def close(self) -> None:
        if self.folder is not None:
            folder, self.folder = self.folder, None
            try:
                self.adb("shell", f"rm -rf {shlex.quote(folder)}", timeout=30)
            except (EdgekitError, BackendUnavailable):
                pass  # the phone went away; /data/local/tmp keeps the folder until it is cleared


def read_profile(table: str | None, runtime_info: bytes | None, report: str, delegate: str | None,
                 runs: int) -> dict:
    """A profile (runtimes.base) from what a profiled run of benchmark_model left: its CSV op
    table (None: not written; a tool that ignores --op_profiling_output_file prints the table
    in its `report`), its runtime info (None: a tool older than the flag; placement is then read
    from the table's delegate rows) and its log (the delegate's refusals). BackendUnavailable
    with the reason when there is no table, or it cannot be read."""
    ignored = benchmark_model.unconsumed(report)
    source = table if table and table.strip() else report
    try:
        ops = op_profile.parse_op_profile(source)
        placement = op_profile.parse_runtime_info(runtime_info) if runtime_info else None
    except EdgekitError as exc:
        why = f" (it ignored {ignored}: a newer benchmark_model writes one)" if ignored else ""
        raise BackendUnavailable(f"no per-op profile: {exc}{why}") from None
    stats = [m for m in map(benchmark_model.STAT.search, report.splitlines()) if m]
    found = op_profile.place(ops, placement, delegate, int(stats[-1][1]) if stats else runs,
                             op_profile.refusals(report))
    if placement is None:
        found["note"] = ("placement read from the op table: this benchmark_model wrote no runtime info"
                         + (f" (it ignored {ignored})" if ignored else ""))
    check_profile(found)
    return found


def fingerprint(getprop: str, cores: str) -> dict:
    """The phone as records name it, from `getprop`'s `[key]: [value]` lines."""
    props = dict(line.strip()[1:-1].split("]: [", 1) for line in getprop.splitlines()
                 if line.strip().startswith("[") and "]: [" in line)
    found = {key: props.get(prop, "") for key, prop in PROPERTIES.items()}
    soc = " ".join(filter(None, [found["soc_manufacturer"], found["soc"]])) or found["board"] or "unknown SoC"
    return {"platform": f"Android {found['android']} (SDK {found['sdk']}), {found['abi']}",
            "cpu": {"name": soc, "cores": int(cores) if _is_count(cores) else 0, "machine": found["abi"]},
            "phone": f"{found['manufacturer']} {found['model']}".strip(), "abi": found["abi"],
            "build": found["build"], "versions": {}}


def _is_count(text: str) -> bool:
    """Whether a phone's words are a number a shell prints (ASCII digits: "²" is a digit to
    str.isdigit, and int() refuses it), of a size a count or an exit status has."""
    text = text.strip()
    return text.isascii() and text.isdigit() and len(text) <= 9


def elf_abi(path: Path) -> str | None:
    """The Android ABI an ELF executable is built for; None for anything else."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(20)
    except OSError as exc:
        raise EdgekitError(f"--benchmark-binary {path} cannot be read ({exc.strerror})") from None
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    return ELF_ABIS.get(int.from_bytes(head[18:20], "little" if head[5] == 1 else "big"))


def _last_error(result: subprocess.CompletedProcess) -> str:
    """adb's own message: its last `error:` line, else its last line."""
    lines = [line.strip() for line in (result.stderr + "\n" + result.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [f"exit status {result.returncode}"])[-1]

