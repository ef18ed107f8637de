"""Observable states of processes a test started, to wait on instead of sleeping: a timed
sleep assumes how fast this machine is now."""

import time
from pathlib import Path


def wait_for(condition, what: str, timeout: float = 300) -> None:
    """Poll `condition()` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def descendants(ancestor: int) -> list[int]:
    """The processes below `ancestor`, at any depth, as /proc shows them now."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:  # the fields after the command's closing parenthesis: state, then the parent's pid
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # it ended meanwhile
    found = []
    for pid, up in parents.items():
        while up in parents and up != ancestor:
            up = parents[up]
        if up == ancestor:
            found.append(pid)
    return found


def has_mapped(pid: int, name: str) -> bool:
    """Whether process `pid` has a file whose name ends with `name` mapped (a board's copy is
    N-NAME): a runtime that has a model open (LiteRT maps the file it loads), so it is run."""
    try:
        return any(line.rstrip().endswith(name) for line in Path(f"/proc/{pid}/maps").read_text().splitlines())
    except OSError:
        return False  # it ended
