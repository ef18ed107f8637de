"""The per-op profile of what Intel OpenVINO's dispatch runs for LiteRT's NPU target: OpenVINO's
own per-node counters (PERF_COUNT), on the .tflite compiled by OpenVINO directly (its TFLite
frontend), since LiteRT's dispatch hands OpenVINO its partitions without a way to read them back.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import BackendUnavailable, EdgekitError
from edgekit.models.inspection import tflite_io
from edgekit.runtimes.base import quantize
from edgekit.runtimes.messages import plain

# rows OpenVINO lists that are the graph's edges, not work: not counted as fused ops
_NOT_OPS = ("Parameter", "Result", "Constant")
_WARMUP = 20


def profile_openvino(path: Path, feed: dict[str, np.ndarray], runs: int, backend: str, placement: dict,
                     dispatch_us: float | None = None) -> dict:
    """`runs` infers of `path` compiled by OpenVINO for `backend` ("cpu", "gpu", "npu") with its
    per-node counters on; `placement`: LiteRT's own profile of the file on the NPU through the
    dispatch (its partitions and the ops it left on the CPU); `dispatch_us`: the median of plain
    runs through LiteRT's dispatch, whose excess over OpenVINO's own infer is a row of its own."""
    import openvino

    core = openvino.Core()
    device = backend.upper()
    if device not in core.available_devices:
        raise BackendUnavailable(f"Intel OpenVINO has no {device} device here (it sees "
                                 f"{', '.join(core.available_devices)})")
    specs = [TensorSpec.from_dict(t) for t in tflite_io(path)["inputs"]]
    missing = [s.name for s in specs if s.name not in feed]
    if missing:
        raise EdgekitError(f"feed lacks input(s) {', '.join(missing)}")
    try:
        model = core.read_model(str(path))
        ports = _match_inputs(model.inputs, specs)
        model.reshape({port: list(np.shape(feed[spec.name])) for port, spec in ports})
        # LATENCY: the hint Intel's plugin compiles the dispatch's partitions with (openvino_compile_context.cc)
        compiled = core.compile_model(model, device, {"PERF_COUNT": "YES", "PERFORMANCE_HINT": "LATENCY"})
    except RuntimeError as exc:  # the file alone: LiteRT's dispatch took it as partitions
        said = plain(str(exc).splitlines()[-1] if str(exc).strip() else "")
        raise BackendUnavailable(f"OpenVINO could not compile {path.name} whole for its {device}, which its "
                                 f"per-node counters need{': ' + said if said else ''}") from None
    request = compiled.create_infer_request()
    inputs = {port.get_any_name(): quantize(feed[spec.name], spec).astype(port.get_element_type().to_dtype())
              for port, spec in ports}
    for _ in range(_WARMUP):  # the first infers set OpenVINO's buffers and caches up: not ones like the others
        request.infer(inputs)
    captured, walls = [], []
    for _ in range(runs):
        started = time.perf_counter()
        request.infer(inputs)
        walls.append((time.perf_counter() - started) * 1e6)
        captured.append(profiling_rows(request.get_profiling_info()))  # the last infer's only
    found = openvino_ops(captured, device, placement)
    if dispatch_us is not None:
        with_dispatch(found, dispatch_us, float(np.median(walls)))
    return found


def with_dispatch(found: dict, dispatch_us: float, infer_us: float) -> None:
    """Add what a plain run through LiteRT's dispatch takes beyond OpenVINO's nodes (OpenVINO's own
    infer request, the tensors LiteRT hands in and out, the call) as one more op: the counters
    time the nodes only, and the p50 beside the total is the whole path's."""
    nodes = sum(op["us"] for op in found["ops"])
    found["note"] += (f"; a plain run through LiteRT's dispatch took {dispatch_us:.0f} µs (median), OpenVINO's own "
                      f"infer {infer_us:.0f} µs, its nodes {nodes:.0f} µs")
    if dispatch_us > nodes:
        found["ops"].append({"index": len(found["ops"]), "name": "outside OpenVINO's nodes: its infer request, "
                             "LiteRT's tensors in and out, the call", "type": "DISPATCH",
                             "executor": "LiteRT dispatch", "us": dispatch_us - nodes})


def _match_inputs(ports, specs: list[TensorSpec]) -> list[tuple]:
    """OpenVINO's input ports with the file's signature inputs: by the tensor name, which holds the
    signature's ("serving_default_image:0" for "image"), else in order."""
    matched = []
    for position, port in enumerate(ports):
        names = port.get_names()
        found = [s for s in specs if s.name in names or any(n.split(":")[0].endswith("_" + s.name) for n in names)]
        matched.append((port, found[0] if len(found) == 1 else specs[position]))
    return matched


def profiling_rows(info) -> list[dict]:
    """OpenVINO's ProfilingInfo rows as plain data (what tests/data/openvino keeps)."""
    return [{"node_name": p.node_name, "node_type": p.node_type, "exec_type": p.exec_type,
             "status": p.status.name, "real_time_us": p.real_time.total_seconds() * 1e6} for p in info]


def openvino_ops(captured: list[list[dict]], device: str, placement: dict) -> dict:
    """The per-op profile (base.PROFILE_METHODS' dict) of OpenVINO's rows of each infer, in its
    execution order (a row NOT_RUN was fused into another node or done in place: counted in
    `fused`), placed as LiteRT's `placement` profile says (partitions, ops left on the CPU)."""
    if not captured:
        raise ValueError("no OpenVINO profiling rows to read")
    first = captured[0]
    kept = _uninterrupted(captured)
    times: dict[str, list[float]] = {}
    for rows in kept:
        for row in rows:
            if row["status"] == "EXECUTED":
                times.setdefault(row["node_name"], []).append(row["real_time_us"])
    ops = [{"index": index, "name": row["node_name"], "type": row["node_type"],
            "executor": f"OpenVINO {device} {row['exec_type']}",
            "us": sum(times[row["node_name"]]) / len(times[row["node_name"]])}
           for index, row in enumerate(first) if row["status"] == "EXECUTED"]
    fused = sum(row["status"] != "EXECUTED" and row["node_type"] not in _NOT_OPS for row in first)
    dispatched = sum(op["us"] for op in placement["ops"] if op["executor"].startswith("NPU partition"))
    inside = (f"inside LiteRT (its profiler on) the dispatch's partitions took {dispatched:.0f} µs a run, "
              f"OpenVINO's nodes here {sum(op['us'] for op in ops):.0f} µs")
    note = f"OpenVINO's per-node counters, on the file OpenVINO compiles itself; {inside}"
    if not placement["fully_delegated"]:
        note = (f"OpenVINO compiles the whole file here; inside LiteRT's dispatch only the partitions it takes run "
                f"there, the rest on XNNPACK or LiteRT's kernels; {inside}")
    return {"method": "profiler", "runs": len(kept), "ops": ops, "partitions": placement["partitions"],
            "fully_delegated": placement["fully_delegated"], "left_on_cpu": placement["left_on_cpu"],
            "fused": fused, "note": note}


def _uninterrupted(captured: list[list[dict]]) -> list[list[dict]]:
    """The infers whose nodes took no more than 1.5 times the median infer's: on a busy machine an
    infer the OS interrupted would make a mean no node ever takes (a latency's p50 leaves them out)."""
    totals = [sum(row["real_time_us"] for row in rows) for rows in captured]
    limit = 1.5 * float(np.median(totals)) + 2
    return [rows for rows, total in zip(captured, totals) if total <= limit]
