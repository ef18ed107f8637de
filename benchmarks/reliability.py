"""The reliability table in the README: every command against every case of the bad-input
corpus (tests/corpus/), then the Hypothesis fuzz targets (tests/unit/test_fuzz.py) for N
iterations each, every target in a child process of its own so that a crash or a hang of a
native library is counted, not fatal.

    python benchmarks/reliability.py                      # print the table
    python benchmarks/reliability.py --fuzz 2000 --update-readme

Exit 0 when every case was handled and no fuzz target failed, else 1.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
README = REPO / "README.md"
START, END = "<!-- reliability:start -->", "<!-- reliability:end -->"
HANG_SECONDS = 1800  # a whole fuzz target; a single input is guarded inside the test (faulthandler)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=1000, metavar="N", help="fuzz iterations per target (default: 1000)")
    parser.add_argument("--update-readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args(argv)

    started = time.monotonic()
    corpus = run_corpus()
    fuzz = [run_fuzz(name, args.fuzz) for name in fuzz_targets()]
    table = render(corpus, fuzz, args.fuzz, time.monotonic() - started)
    print(table)
    if args.update_readme:
        text = README.read_text()
        if START not in text or END not in text:
            print(f"README.md has no {START} ... {END} block to fill", file=sys.stderr)
            return 2
        head, rest = text.split(START, 1)
        README.write_text(head + START + "\n" + table + "\n" + END + rest.split(END, 1)[1])
        print(f"wrote the table into {README}", file=sys.stderr)
    handled = all(not outcome.faults for outcome in corpus["outcomes"])
    return 0 if handled and all(f["ok"] for f in fuzz) else 1


def run_corpus() -> dict:
    from tests.corpus import cases

    with tempfile.TemporaryDirectory() as tmp:
        places = {}
        try:
            places = cases.prepare(Path(tmp))  # inside the try: it mounts, and release unmounts
            outcomes, skipped = [], []
            with cases.unblocked(places):  # a FIFO case that regressed fails instead of hanging
                for case in cases.all_cases() + cases.special_model_cases():
                    if cases.unavailable(case, places):
                        skipped.append(case)
                        continue
                    outcome = cases.run(case, places)
                    outcomes.append(outcome)
                    if outcome.faults:
                        print(f"NOT HANDLED: {case.name}: {outcome.faults}\n{outcome.stderr}", file=sys.stderr)
        finally:
            cases.release(places)
    files = {arg for c in cases.all_cases() for arg in c.argv if str(cases.CORPUS) in arg}
    return {"outcomes": outcomes, "skipped": skipped, "files": len(files),
            "commands": sorted({o.case.argv[0] for o in outcomes})}


def fuzz_targets() -> list[str]:
    from tests.unit.test_fuzz import TARGETS

    return list(TARGETS)


def run_fuzz(name: str, examples: int) -> dict:
    """One target in a child process: iterations run, and how it ended."""
    code = f"from tests.unit.test_fuzz import fuzz; print('iterations', fuzz({name!r}, {examples}))"
    started = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                                timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        return {"name": name, "ok": False, "iterations": 0, "outcome": f"hung past {HANG_SECONDS} s", "seconds": HANG_SECONDS}
    found = re.search(r"^iterations (\d+)$", result.stdout, re.M)
    if result.returncode < 0 or result.returncode > 128:
        outcome = f"crashed (signal {abs(result.returncode) % 128})"
    elif result.returncode != 0 or not found:
        outcome = "failed: " + (result.stderr.strip().splitlines() or ["no output"])[-1]
    else:
        outcome = "ok"
    if outcome != "ok":
        print(f"FUZZ {name}: {outcome}\n{result.stderr[-3000:]}", file=sys.stderr)
    return {"name": name, "ok": outcome == "ok", "iterations": int(found.group(1)) if found else 0,
            "outcome": outcome, "seconds": time.monotonic() - started}


def render(corpus: dict, fuzz: list[dict], examples: int, seconds: float) -> str:
    outcomes = corpus["outcomes"]
    handled = sum(not o.faults for o in outcomes)
    iterations = sum(f["iterations"] for f in fuzz)
    bad_fuzz = [f for f in fuzz if not f["ok"]]
    rows = [
        ("bad-input cases run (corpus files, bad arguments, output paths, FIFOs; through " + ", ".join(corpus["commands"]) + ")",
         f"{len(outcomes)} ({corpus['files']} corpus files)"),
        ("handled: exit code 2 and one line naming the file or option and the problem", f"{handled} of {len(outcomes)}"),
        ("tracebacks", str(sum(o.traceback for o in outcomes))),
        ("output folders changed", str(sum(o.changed for o in outcomes))),
        (f"fuzz iterations ({len(fuzz)} targets x N = {examples}, random and mutated files)", f"{iterations:,}"),
        ("fuzz inputs that crashed, hung or raised anything but a clear error",
         "0" if not bad_fuzz else "; ".join(f"{f['name']}: {f['outcome']}" for f in bad_fuzz)),
    ]
    if corpus["skipped"]:
        rows.append(("cases skipped (a place this user cannot make: an unwritable folder, a tmpfs mount)",
                     str(len(corpus["skipped"]))))
    lines = ["| check | result |", "| --- | --- |", *[f"| {a} | {b} |" for a, b in rows], "",
             "Fuzz targets: " + ", ".join(f"`{f['name']}` ({f['iterations']:,} in {f['seconds']:.0f} s)" for f in fuzz) + ".",
             f"Produced by `python benchmarks/reliability.py --fuzz {examples}` in {seconds / 60:.1f} min."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
