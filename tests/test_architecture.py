"""The layering rule of ARCHITECTURE.md, checked on the code as it is: import-linter's layers
contract (pyproject.toml), no import circle between modules, and the board bundle free of the
layers a worker never needs."""

import ast
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


def _imports_in_functions(node: ast.AST, in_function: bool = False):
    """Every edgekit import (absolute or relative) inside a function body, nested ones too."""
    for child in ast.iter_child_nodes(node):
        if in_function and isinstance(child, ast.Import | ast.ImportFrom):
            names = [a.name for a in child.names] if isinstance(child, ast.Import) else [child.module or ""]
            if getattr(child, "level", 0) or any(name.split(".")[0] == "edgekit" for name in names):
                yield child
        inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        yield from _imports_in_functions(child, inside)


def test_an_import_inside_a_function_says_why_it_is_lazy():
    """An edgekit import inside a function is a lazy import of something heavy (or optional) for a cheap
    entry point, never a way round an import circle: its line says why (`# lazy: ...`; for an import
    over several lines, on its first or last line). Anything else belongs with the module's imports."""
    unmarked = []
    for path in sorted((REPO / "edgekit").rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in _imports_in_functions(ast.parse("\n".join(lines), str(path))):
            if not any("# lazy:" in lines[n - 1] for n in (node.lineno, node.end_lineno)):
                unmarked.append(f"{path.relative_to(REPO).as_posix()}:{node.lineno}: {ast.unparse(node)}")
    assert unmarked == []
