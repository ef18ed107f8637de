"""The worker as one file to copy to a board: a zip of the modules the worker imports (MODULES)
that Python runs directly (`python3 worker.pyz`). tests/unit/test_runners.py checks that the
worker imports nothing else of edgekit, and the SSH test runs the bundle where no edgekit is
installed."""

from __future__ import annotations

import zipfile
from pathlib import Path

import edgekit

MODULES = (
    "__init__", "errors", "artifacts", "heavy", "interrupts", "environment", "inspection", "graph_costs", "limits",
    "bench/__init__", "bench/timing", "bench/memory", "bench/harness",
    "report/__init__", "report/schema", "report/table",
    "runtimes/__init__", "runtimes/base", "runtimes/keras", "runtimes/litert", "runtimes/litert_guard",
    "runtimes/litert_compiled", "runtimes/messages", "runtimes/onnxruntime", "runtimes/tflm",
    "runners/__init__", "runners/protocol", "runners/worker",
)
MAIN = "import sys\nfrom edgekit.runners.worker import main\nsys.exit(main())\n"


def build(path: Path) -> Path:
    """Write the bundle to `path` (a few hundred KB of Python source)."""
    package = Path(edgekit.__file__).parent
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__main__.py", MAIN)
        for module in MODULES:
            archive.write(package / f"{module}.py", f"edgekit/{module}.py")
    return path
