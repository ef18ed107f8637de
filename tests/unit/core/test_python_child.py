"""Every Python child edgekit starts gets its command and environment from edgekit/core/python_child.py
(nothing from the working folder on its path): read edgekit's source and find any other."""

import ast
from pathlib import Path

import edgekit

PACKAGE = Path(edgekit.__file__).resolve().parent
HELPER = PACKAGE / "core" / "python_child.py"


def sources():
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(PACKAGE.rglob("*.py")) if path != HELPER]


def test_no_python_child_is_started_but_through_the_helper():
    """`sys.executable` (a subprocess call's command, or a name it is kept under) only in the helper."""
    found = [f"{path.relative_to(PACKAGE.parent)}:{node.lineno}" for path, tree in sources() for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr == "executable"
             and isinstance(node.value, ast.Name) and node.value.id == "sys"]
    assert found == [], "start Python children with python_child.command() and .environment()"


def test_a_module_that_builds_a_child_command_gives_it_the_environment_too():
    """-P keeps the working folder off the child's path; the environment keeps it out of PYTHONPATH."""
    def calls(tree, name):
        return any(isinstance(node, ast.Attribute) and node.attr == name and isinstance(node.value, ast.Name)
                   and node.value.id == "python_child" for node in ast.walk(tree))

    users = [(path, tree) for path, tree in sources() if calls(tree, "command")]
    assert len(users) >= 4  # the worker, the HDF5 probe, an NPU compile, TFLite Micro's arena search
    assert [str(path) for path, tree in users if not calls(tree, "environment")] == []
