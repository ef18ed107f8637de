"""The worker as one file to copy to a board: a zip of the edgekit modules the worker imports,
that Python runs directly (`python3 worker.pyz`). The modules are found by reading the imports of
runners/worker.py and of each module it reaches, those inside functions too, so that a module a
runtime imports only when it runs is shipped as well. tests/cli/test_ssh_board.py runs the bundle
where no edgekit is installed; tests/unit/runners/test_runners.py checks that a real worker imports
nothing the bundle lacks."""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # edgekit/
WORKER = "edgekit.runners.worker"
MAIN = "import sys\nfrom edgekit.runners.worker import main\nsys.exit(main())\n"


def build(path: Path) -> Path:
    """Write the bundle to `path` (some 140 KB, zipped)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__main__.py", MAIN)
        for module in modules():
            archive.write(_source(module), _source(module).relative_to(_PACKAGE.parent).as_posix())
    return path


def modules() -> list[str]:
    """Every edgekit module the worker can import, with the packages that hold them, sorted."""
    found, todo = set(), [WORKER]
    while todo:
        module = todo.pop()
        if module in found:
            continue
        found.add(module)
        for name in _imports(module):
            parts = name.split(".")
            todo += [m for m in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if _source(m)]
    return sorted(found)


def _source(module: str) -> Path | None:
    """The file of an edgekit module or package; None for anything else (a name in a module)."""
    top, *rest = module.split(".")
    if top != "edgekit":
        return None
    folder = _PACKAGE.joinpath(*rest)
    return next((p for p in (folder / "__init__.py", folder.with_suffix(".py")) if p.is_file()), None)


def _imports(module: str):
    """The dotted names `module` imports (for `from a import b`: a, and a.b, which may be a module)."""
    path = _source(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _code(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, `level` - 1 steps up
                above = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*above, base] if base else above)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _code(tree: ast.AST, top: bool = True):
    """The nodes that can run: not what only a type checker reads (`if TYPE_CHECKING:`), nor a
    module's lazy attributes (edgekit's `__getattr__` gives the whole API, which no worker uses)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if top and isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            continue
        yield node
        yield from _code(node, top=False)
