"""A suite's jobs as Ray tasks: each model's conversion on any CPU worker; once every conversion is
done, its measurement, only on a node whose Ray resources name the suite's device (`device:host`,
`device:pi5`), through that node's runner: this machine, or the board `EDGEKIT_DEVICE` names in
the node's environment (`ssh://pi@pi5.local`, `adb`, a name in the `EDGEKIT_DEVICES` file), as
`bench --device` does.

Artifacts move through Ray's object store (a conversion returns its folder's files; a measurement
unpacks them on its node), or through the suite's "shared" folder when every node sees it at the
same path. Either way the driver gathers them into the sweep's output.

A task whose worker or node dies is run again up to RETRIES times, on any node that still offers
what it needs; then its rows fail with the reason. A measurement whose device no live node offers
(from the start, or after its node left) is not left waiting: its rows are skipped or failed.
Ctrl-C cancels every task before the output is left as it was."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path

from edgekit.core.errors import EdgekitError, first_line
from edgekit.results.schema import combine
from edgekit.workflows import sweep_jobs

RETRIES = 2
POLL_SECONDS = 0.5  # how often a wait looks up (so Ctrl-C and a lost node are seen at once)
ORPHAN_SECONDS = 10.0  # a measurement whose device no live node offers for this long has lost its node
INSTALL_RAY = 'Ray is not installed: pip install -e ".[ray]"'


def import_ray():
    try:
        import ray
    except ImportError:
        raise EdgekitError(INSTALL_RAY) from None
    return ray


class ObjectStore:
    """Artifacts as objects: a conversion task returns its folder's files, a measurement task
    writes them into a temporary folder on its own node."""

    description = "Ray's object store"

    def convert(self, suite: dict, name: str) -> dict[str, bytes]:
        with tempfile.TemporaryDirectory(prefix="edgekit-sweep-") as scratch:
            folder = sweep_jobs.convert_model(suite, name, Path(scratch))
            return {p.relative_to(folder).as_posix(): p.read_bytes()
                    for p in sorted(folder.rglob("*")) if p.is_file()}

    @contextlib.contextmanager
    def opened(self, files: dict[str, bytes], name: str):
        with tempfile.TemporaryDirectory(prefix="edgekit-sweep-") as scratch:
            folder = Path(scratch) / name
            self.gather(files, folder)
            yield folder

    def gather(self, files: dict[str, bytes], folder: Path) -> None:
        """Write a conversion's files into `folder` (on a measuring node, or the driver's output)."""
        for relative, data in files.items():
            path = folder / relative
            if ".." in Path(relative).parts or Path(relative).is_absolute():
                raise EdgekitError(f"a conversion returned the file {relative!r}, outside its folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def close(self) -> None:
        pass


class SharedFolder:
    """Artifacts in a folder every node sees at the same path: this sweep's own subfolder of it,
    removed at the end."""

    def __init__(self, root: str):
        self.root = Path(root)
        self.description = f"the shared folder {root}"
        self.folder = self.root / f"edgekit-sweep-{uuid.uuid4().hex[:12]}"

    def convert(self, suite: dict, name: str) -> str:
        return str(sweep_jobs.convert_model(suite, name, self.folder))

    @contextlib.contextmanager
    def opened(self, folder: str, name: str):
        yield Path(folder)

    def gather(self, folder: str, destination: Path) -> None:
        shutil.copytree(folder, destination)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _where() -> str:
    """The host, node and worker process a task ran in (a retried task names its new worker)."""
    import ray

    return f"{socket.gethostname()} (node {ray.get_runtime_context().get_node_id()[:8]}, pid {os.getpid()})"


def _convert(transport, suite: dict, name: str):
    return transport.convert(suite, name), _where()


def _measure(transport, suite: dict, converted, name: str, repeat: int, shown: Path):
    with transport.opened(converted[0], name) as folder:
        return sweep_jobs.measure_model(suite, folder, repeat, shown), _where()


class _Lost(EdgekitError):
    """A task that did not finish: its worker or node died more than RETRIES times, or its device
    left the cluster."""


class Cluster:
    """A connection to a Ray cluster for one sweep."""

    def __init__(self, ray, address: str | None):
        self.ray, self.address = ray, address

    def run(self, suite: dict, out: Path, log, repeat: int = 1, shown: Path | None = None) -> tuple[dict, dict]:
        """The suite's results, with where each job ran; artifacts gathered into out/artifacts (the
        rows name them in `shown`, where `out` will be moved)."""
        ray = self.ray
        device = f"device:{suite.get('device', sweep_jobs.DEFAULT_DEVICE)}"
        transport = SharedFolder(suite["shared"]) if suite.get("shared") else ObjectStore()
        offered = device in ray.cluster_resources()
        count = len(suite["models"])
        log(f"ray: {count} conversion{'s' if count != 1 else ''}; measurements "
            + (f"on {device}" if offered else f"skipped: no node offers {device}")
            + f"; artifacts through {transport.description}")
        convert_task = ray.remote(num_cpus=1, max_retries=RETRIES)(_convert)
        measure_task = ray.remote(num_cpus=1, resources={device: 1}, max_retries=RETRIES)(_measure)
        start = time.monotonic()
        refs: list = []
        try:
            converting = {name: convert_task.remote(transport, suite, name) for name in suite["models"]}
            refs += converting.values()
            jobs, folders = {}, {}
            for name, ref in converting.items():
                converted, where = self._get(ref, f"converting {name}")
                folders[name] = out / "artifacts" / name
                transport.gather(converted, folders[name])
                jobs[name] = {"model": name, "converted_on": where, "measured_on": None}
                log(f"converted {name} on {where}")
            converted_at = time.monotonic()
            # Measurements begin once every conversion is done: the conversions get every CPU
            # worker, and none runs beside a timed loop on a node that does both
            measuring = {name: measure_task.remote(transport, suite, ref, name, repeat,
                                                   (shown or out) / "artifacts" / name)
                         for name, ref in converting.items()} if device in ray.cluster_resources() else {}
            refs += measuring.values()
            parts = []
            for name, folder in folders.items():
                if name not in measuring:
                    parts.append(sweep_jobs.unmeasured(suite, folder, "skipped", f"no node offers {device}"))
                    continue
                try:
                    part, jobs[name]["measured_on"] = self._get(measuring[name], f"measuring {name}", device)
                    parts.append(part)
                    log(f"measured {name} on {jobs[name]['measured_on']}")
                except _Lost as lost:
                    log(f"{lost}: its rows are failed")
                    parts.append(sweep_jobs.unmeasured(suite, folder, "failed", str(lost)))
        except BaseException:
            for ref in refs:  # Ctrl-C or an error: nothing of this sweep goes on running
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            raise
        finally:
            transport.close()
        done = time.monotonic()
        record = {"runner": "ray", "address": self.address, "device": device, "artifacts": transport.description,
                  "conversion_seconds": round(converted_at - start, 2), "seconds": round(done - start, 2),
                  "jobs": list(jobs.values())}
        return combine(parts), record

    def _get(self, ref, what: str, device: str | None = None):
        """The task's value, waiting in short steps; _Lost when its retries ran out, or when
        `device` has been offered by no live node for ORPHAN_SECONDS (Ray would wait forever)."""
        ray = self.ray
        missing_since = None
        while not ray.wait([ref], timeout=POLL_SECONDS)[0]:
            if device is None or device in ray.cluster_resources():
                missing_since = None
                continue
            missing_since = missing_since or time.monotonic()
            if time.monotonic() - missing_since >= ORPHAN_SECONDS:
                ray.cancel(ref, force=True)
                raise _Lost(f"{what}: no node offers {device} any more (its node left the cluster)")
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # the job itself failed: its own error, as here
            cause = exc.cause
            raise cause if isinstance(cause, EdgekitError) else EdgekitError(f"{what}: {first_line(cause)}")
        except ray.exceptions.RayError as exc:
            raise _Lost(f"{what}: lost after {RETRIES} retries ({first_line(exc)})") from None


@contextlib.contextmanager
def connect(address: str | None):
    """A Cluster at `address` (None: RAY_ADDRESS, else a new one on this machine, whose node
    offers device:host; "auto": the one `ray start` runs here)."""
    ray = import_ray()
    given = address or os.environ.get("RAY_ADDRESS")
    if given and (reason := _unreachable(given)):  # Ray itself would retry for many minutes
        raise EdgekitError(f"no Ray cluster at {given}: {reason}; start one there with `ray start --head`, "
                           "or leave ADDRESS out for one on this machine")
    try:
        if given:
            ray.init(address=address or None, log_to_driver=False, configure_logging=False)
        else:  # "local": a new one even where `ray start` runs one (`--ray auto` takes that)
            ray.init(address="local", resources={f"device:{sweep_jobs.DEFAULT_DEVICE}": 1}, log_to_driver=False,
                     configure_logging=False)
    except ConnectionError as exc:
        if "InvalidAuthToken" in str(exc.__context__):
            raise EdgekitError(f"the Ray cluster at {given} asks for its token: set RAY_AUTH_MODE=token here, "
                               "with the token `ray get-auth-token` prints on its head in RAY_AUTH_TOKEN "
                               "or ~/.ray/auth_token") from None
        raise EdgekitError(f"no Ray cluster at {given} ({first_line(exc)}): start one there with "
                           "`ray start --head`, or leave ADDRESS out for one on this machine") from None
    try:
        yield Cluster(ray, given or "local")
    finally:
        ray.shutdown()


def _unreachable(address: str) -> str | None:
    """Why nothing answers at a host:port address (None when something does, or for another
    form, such as ray://host:port or auto)."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return None
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        return f"nothing answers at port {port} ({exc.strerror or exc})"
    return None
