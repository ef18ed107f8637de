"""Where a command's outputs go, and the rule that keeps the user's files safe there.

A folder output (`convert`, `optimize`, `tune`) is built in a staging folder beside it and
swapped in whole (`staged_folder`). edgekit replaces only a folder that holds its own manifest
(manifest.json, optimization.json, tune.json) or is empty, never one that is, holds or lies
inside the command's inputs; one run at a time writes a folder (a lock beside it), and each run
first clears what a killed run left there. A file output (`--json`, `--out`) is checked the same
way and written atomically. An OSError of the user's environment (no space, a name too long, a
symlink loop, no permission) is one line naming the path and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from edgekit.core import interrupts
from edgekit.core.artifacts import OWN_MANIFESTS, atomic_write_bytes, umask
from edgekit.core.errors import EdgekitError

# What an output path can fail on that is the user's environment, not a bug: the problem in words
# and the fix. The CLI maps any such OSError it meets late to one line too (cli.main).
USER_ERRNOS = {
    errno.ENOSPC: ("has no space left on its device", "free some space or give {option} a path on another disk"),
    errno.EDQUOT: ("is over its disk quota", "free some space or give {option} a path on another disk"),
    errno.EFBIG: ("is too large for its file system", "give {option} a path on another file system"),
    errno.ENAMETOOLONG: ("has a name too long for its file system", "give {option} a shorter name"),
    errno.ELOOP: ("is a symlink loop", "fix the link or give {option} another path"),
    errno.EACCES: ("is not accessible (permission denied)", "check its permissions or give {option} another path"),
    errno.EPERM: ("is not writable (operation not permitted)", "check its attributes or give {option} another path"),
    errno.EROFS: ("is on a read-only file system", "give {option} a writable path"),
}
LOW_SPACE_BYTES = 1 << 20  # a run that fails with less than this left was most likely stopped by it

MAX_MANIFEST_BYTES = 64 << 20

# Names a staged run keeps beside its output folder NAME: .NAME.lock, .NAME.staging-XXXXXXXX (the
# new folder), .NAME.tmp-XXXXXXXX (the run's temporary files), .NAME.old-XXXXXXXX (the swap)
_RANDOM = 8  # tempfile's random part
STAGING_EXTRA = len("..staging-") + _RANDOM  # bytes the longest of those adds to NAME
FILE_EXTRA = len("...tmp") + _RANDOM  # atomic_write_bytes's temporary name adds to a file name


def user_path_error(exc: OSError, path, option: str | None = None, what: str = "output path") -> EdgekitError:
    """One line for an OSError on a path the user gave (or its folder): the problem and the fix."""
    problem, fix = USER_ERRNOS.get(exc.errno, (f"cannot be used ({exc.strerror})", "give {option} another path"))
    return EdgekitError(f"{what} {path} {problem}: {fix.format(option=option or 'the command')}")


def check_output_parent(out: Path, option: str = "--out") -> None:
    """Fail early, before any heavy work, when the output folder cannot be written. Writability
    is probed with a real one-byte file: permission bits do not tell (root ignores them, an
    immutable or read-only-mounted folder refuses even root), and a full disk shows only then."""
    out = Path(out)
    for parent in [out, *out.parents]:
        state = _lookup(parent, option)
        if state is None:
            continue
        if not stat.S_ISDIR(state.st_mode):
            raise EdgekitError(f"output path {parent} is a file, not a folder: give {option} another path")
        try:
            fd, probe = tempfile.mkstemp(prefix=".edgekit-probe-", dir=parent)
            try:
                os.write(fd, b"\0")
            finally:
                os.close(fd)
                os.unlink(probe)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise user_path_error(exc, parent, option, "output folder") from None
            raise EdgekitError(f"output folder {parent} is not writable ({exc.strerror}): "
                               f"give {option} another path") from None
        return


def _lookup(path: Path, option: str) -> os.stat_result | None:
    """The path's stat, None where nothing is there yet; a dangling symlink, a symlink loop or
    a name too long is the user's to fix, said in one line."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise EdgekitError(f"output path {path} is a symlink to {os.readlink(path)}, which does not exist: "
                               f"create it or give {option} another path") from None
        return None
    except NotADirectoryError:  # a file higher up: the loop over the parents names it
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            path = next((p for p in [path, *path.parents] if os.path.islink(p) and _loops(p)), path)
        raise user_path_error(exc, path, option) from None


def _loops(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def check_name_fits(path: Path, extra: int, option: str) -> None:
    """Refuse a name that is legal but leaves no room for the temporary names edgekit makes from
    it (`extra` bytes more): the run would otherwise fail at its first write."""
    limit = 255
    for folder in path.parents:
        with contextlib.suppress(OSError, ValueError):
            limit = os.pathconf(folder, "PC_NAME_MAX")
            break
    size = len(os.fsencode(path.name))
    if size + extra > limit:
        raise EdgekitError(f"output name {path} is too long: {size} bytes, and the file system allows "
                           f"{limit} with the {extra} that edgekit's temporary names add; give {option} "
                           f"(or the model) a name of at most {limit - extra} bytes")


def check_apart(output: Path, inputs, option: str, folder: bool) -> None:
    """Refuse an output that is, holds (a folder output, which is replaced whole) or lies inside
    one of the command's own inputs, `inputs` being (what, path) pairs; paths are compared
    resolved, so a symlink or `..` does not hide it."""
    out = Path(os.path.realpath(output))
    for what, given in inputs:
        if given is None:
            continue
        source = Path(os.path.realpath(given))
        if out == source:
            relation = "is"
        elif folder and out in source.parents:
            relation = "holds"
        elif source in out.parents and os.path.isdir(source):
            relation = "lies inside"
        else:
            continue
        if folder:
            raise EdgekitError(f"output folder {output} {relation} the {what} {given}, and edgekit replaces its "
                               f"output folder whole: give {option} a folder apart from the {what}")
        raise EdgekitError(f"{option} {output} {relation} the {what} {given}: writing it would change "
                           f"the {what}; give {option} another path")


def check_output_file(path: str | Path, option: str, inputs=()) -> Path:
    """Fail early when a file option (--json, --out) names a folder, an unwritable place, or one
    of the command's own inputs ((what, path) pairs)."""
    path = Path(path)
    check_apart(path, inputs, option, folder=False)  # first: the parent check writes a probe file
    state = _lookup(path, option)
    if state is not None and stat.S_ISDIR(state.st_mode):
        raise EdgekitError(f"{option} {path} is a folder: give a file name, e.g. {path / 'results.json'}")
    check_output_parent(path.parent, option)
    check_name_fits(path, FILE_EXTRA, option)
    return path


def write_output_file(path: Path, text: str) -> None:
    """Write a report or results file, making its folder, atomically."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        if exc.errno not in USER_ERRNOS:
            raise
        raise user_path_error(exc, path) from None


def written_by_edgekit(folder: Path) -> bool:
    """Whether `folder` holds the manifest one of edgekit's commands writes (see new_manifest;
    tune.json before it carried one said kind "edgekit tune")."""
    for name in OWN_MANIFESTS:
        path = folder / name
        try:
            if not path.is_file() or path.stat().st_size > MAX_MANIFEST_BYTES:
                continue
            data = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError):
            continue
        if isinstance(data, dict) and (isinstance(data.get("edgekit_version"), str)
                                       or data.get("kind") == "edgekit tune"):
            return True
    return False


def check_replaceable(final: Path, option: str = "--out") -> None:
    """Refuse to replace anything but an empty folder or one edgekit wrote."""
    try:
        state = os.lstat(final)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise user_path_error(exc, final, option) from None
    if stat.S_ISLNK(state.st_mode):
        raise EdgekitError(f"output folder {final} is a symlink, which edgekit would replace with a folder: "
                           f"give {option} a folder where {final.name} is a real folder or absent")
    if not stat.S_ISDIR(state.st_mode):
        raise EdgekitError(f"output path {final} is a file, not a folder: give {option} another path")
    try:
        with os.scandir(final) as entries:
            empty = next(entries, None) is None
    except OSError as exc:
        raise user_path_error(exc, final, option) from None
    if not empty and not written_by_edgekit(final):
        raise EdgekitError(f"output folder {final} holds files edgekit did not write (no edgekit "
                           f"{', '.join(OWN_MANIFESTS)} in it) and edgekit replaces its output folder whole: "
                           f"move them or give {option} another folder")


def check_output_folder(final: Path, inputs=(), option: str = "--out") -> None:
    """Everything that can be known about an output folder before a run: its parents can be
    written, its name leaves room for the staging names, it is apart from the inputs, and what is
    there now is edgekit's (or nothing)."""
    final = Path(final)
    check_apart(final, inputs, option, folder=True)  # first: the parent check writes a probe file
    check_output_parent(final, option)
    check_name_fits(final, STAGING_EXTRA, option)
    check_replaceable(final, option)


@contextlib.contextmanager
def staged_folder(final: Path, inputs=(), option: str = "--out"):
    """Yield an empty staging folder beside `final`; on success it replaces `final` whole.

    Before the yield, so before any heavy work: `check_output_folder`, a lock that a second run
    into `final` fails on at once, and the debris of a killed run cleared (stale staging and
    temporary folders removed, a previous output a kill left inside `.NAME.old-*` put back). The
    run's temporary files (tempfile, TMPDIR: SavedModel exports, quantizer scratch) go to a
    folder beside `final` too, so even SIGKILL leaves nothing that the next run does not remove.
    On any failure or interrupt the staging folder is removed and `final` is left as it was;
    `final` is checked once more just before the swap, with interrupts deferred.
    """
    final = Path(final)
    check_output_folder(final, inputs, option)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise user_path_error(exc, final.parent, option) from None
    with _output_lock(final, option) as lock:
        _finish_killed_run(final)
        check_replaceable(final, option)
        made: list[Path] = []
        try:
            try:
                with interrupts.deferred():
                    for kind in ("staging", "tmp"):
                        made.append(Path(tempfile.mkdtemp(prefix=f".{final.name}.{kind}-", dir=final.parent)))
            except OSError as exc:
                raise user_path_error(exc, final.parent, option) from None
            stage, scratch = made
            os.chmod(stage, 0o777 & ~umask())  # mkdtemp makes 0700; the result is an ordinary folder
            with interrupts.on_abort(lambda: (_remove(*made), lock.release())), _temporary_files_in(scratch):
                try:
                    yield stage
                except Exception as exc:
                    if _out_of_space(exc, final.parent):
                        raise EdgekitError(f"output folder {final.parent} has no space left on its device: "
                                           f"free some space or give {option} a path on another disk") from exc
                    raise
            with interrupts.deferred():  # the last moment to refuse; no signal splits the renames
                interrupts.check()
                check_replaceable(final, option)
                _swap(stage, final)
        finally:
            with interrupts.deferred():
                _remove(*made)


def _swap(stage: Path, final: Path) -> None:
    if not final.exists():
        os.replace(stage, final)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    os.replace(final, old / final.name)
    try:
        os.replace(stage, final)
    except BaseException:
        os.replace(old / final.name, final)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _remove(*paths: Path) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def _finish_killed_run(final: Path) -> None:
    """Clear what a run into `final` that was killed (SIGKILL, power loss) left beside it. Only
    called with the lock held, so no live run owns any of it."""
    leftover = re.compile(rf"\.{re.escape(final.name)}\.(staging|tmp|old)-[a-z0-9_]{{{_RANDOM}}}")
    found = [p for p in final.parent.iterdir() if leftover.fullmatch(p.name) and p.is_dir() and not p.is_symlink()]
    if not os.path.lexists(final):  # killed between the two renames of a swap: the previous output is here
        olds = sorted((p for p in found if ".old-" in p.name and (p / final.name).is_dir()),
                      key=lambda p: p.stat().st_mtime, reverse=True)
        if olds:
            os.replace(olds[0] / final.name, final)
    _remove(*found)


class _Lock:
    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    def release(self) -> None:
        """Remove the lock file while holding it (a run that opened it meanwhile sees it is gone
        and opens the new one), then let go."""
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = -1


@contextlib.contextmanager
def _output_lock(final: Path, option: str):
    """An exclusive lock on `final` (flock on `.NAME.lock` beside it) for the whole run."""
    path = final.parent / f".{final.name}.lock"
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise user_path_error(exc, final.parent, option) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise EdgekitError(f"output folder {final} is in use: another edgekit run"
                               f"{f' (pid {holder})' if holder.isdigit() else ''} is writing it; wait for it "
                               f"to end or give {option} another folder") from None
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        opened = os.fstat(fd)
        if current is not None and (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
            break
        os.close(fd)  # the run before us removed this lock file as it finished: take the new one
    lock = _Lock(path, fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield lock
    finally:
        lock.release()


@contextlib.contextmanager
def _temporary_files_in(folder: Path):
    """Point tempfile and TMPDIR (which native code and child processes read) at `folder`."""
    saved = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = str(folder)
    os.environ["TMPDIR"] = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved[0]
        if saved[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[1]


def _out_of_space(exc: BaseException, folder: Path) -> bool:
    """Whether a failure was the disk filling up: said so (an OSError, or a backend's message
    carrying the C library's words), or, for an unexpected error, almost no space left now."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if any(words in str(exc) for words in (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))):
        return True
    if isinstance(exc, EdgekitError):
        return False
    try:
        fs = os.statvfs(folder)
    except OSError:
        return False
    return fs.f_bavail * fs.f_frsize < LOW_SPACE_BYTES
