"""The layering rule of ARCHITECTURE.md, checked on the code as it is: import-linter's layers
contract (pyproject.toml), no import circle between modules, and the board bundle free of the
layers a worker never needs."""

import subprocess
import sys
from pathlib import Path

import grimp

from edgekit.runners import bundle

REPO = Path(__file__).resolve().parents[1]


def _graph():
    return grimp.build_graph("edgekit")


def test_imports_run_downward_only():
    """import-linter's layers contract: a module imports only its own layer and those below."""
    done = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                           "lint_imports_command()"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 kept, 0 broken" in done.stdout


def test_no_module_imports_itself_through_others():
    """No circle of imports, inside a layer too (functions' imports count: grimp reads them all)."""
    graph = _graph()
    modules = sorted(m for m in graph.modules if m != "edgekit")  # the root only re-exports api lazily
    circles = [(a, b) for a in modules for b in graph.find_modules_directly_imported_by(a)
               if b != "edgekit" and a != b and graph.chain_exists(importer=b, imported=a)]
    assert circles == []


def test_the_api_never_imports_the_cli():
    assert not _graph().chain_exists(importer="edgekit.api", imported="edgekit.cli")


def test_the_board_bundle_holds_no_renderer_or_workflow():
    """What a board runs is the worker's own import closure: no renderer, workflow, CLI or API."""
    modules = bundle.modules()
    assert "edgekit.runners.worker" in modules
    above = ("edgekit.render", "edgekit.results", "edgekit.workflows", "edgekit.cli", "edgekit.api")
    assert [m for m in modules if m.startswith(above)] == []
