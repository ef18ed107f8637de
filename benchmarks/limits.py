"""What the op limit costs and what it bounds: counting a file's ops (done before every load by
inspect, bench, compile, export and convert's validation) and `edgekit inspect` itself, on chains
of RELUs of growing length (tests/corpus/make_corpus.py writes them), .tflite and .onnx.

    python benchmarks/limits.py            # writes benchmarks/results/limits.{json,md}

Counting must stay negligible beside a load (a fraction of a millisecond for a real model);
inspect must grow with the ops, not with their square (its arena plan was quadratic: 20 s for
20k ops, and minutes for 240k).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.core import limits  # noqa: E402
from edgekit.models.inspection import inspect_model, op_count  # noqa: E402
from tests.corpus.make_corpus import chain_onnx, chain_tflite  # noqa: E402

SIZES = (100, 1_000, 10_000, 100_000)


def best_of(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    limits.configure({"ops": str(max(SIZES))})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            for suffix, write in ((".tflite", chain_tflite), (".onnx", chain_onnx)):
                path = Path(tmp) / f"chain{size}{suffix}"
                path.write_bytes(write(size))
                rows.append({"file": path.name, "ops": size, "bytes": path.stat().st_size,
                             "count_ms": round(1e3 * best_of(5, lambda: op_count(path)), 3),
                             "inspect_s": round(best_of(1 if size > 10_000 else 3, lambda: inspect_model(path)), 3)})
                print(rows[-1], flush=True)
    out = REPO / "benchmarks" / "results"
    (out / "limits.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["# Op counting and inspect, by graph size", "",
             "Chains of RELUs (tests/corpus/make_corpus.py); best of several runs on one machine.", "",
             "| file | ops | size | counting the ops | edgekit inspect |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['file']} | {r['ops']:,} | {r['bytes'] / 1e6:.2f} MB | {r['count_ms']} ms | {r['inspect_s']} s |"
              for r in rows]
    (out / "limits.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
