"""A `.tflite` file as C++ source, the way TFLite Micro's examples build a model into firmware:
a 16-byte-aligned `const unsigned char` array (flatbuffers are read in place, and TFLite Micro
expects their tables aligned) and its length, in `model_data.cc`, declared in `model_data.h`.

Nothing the user names reaches the source unchecked: the symbol must be a C identifier that C
and C++ leave to the program, and the model's name in the first-line comment is percent-encoded
(a newline, a trailing backslash or a `??/` trigraph would otherwise put code after the comment).
That first line is also how a later run knows the files are edgekit's to replace.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import urllib.parse
from pathlib import Path

from edgekit.core import interrupts
from edgekit.core.artifacts import sha256_of, umask
from edgekit.core.errors import EdgekitError, option

HEADER, SOURCE = "model_data.h", "model_data.cc"
BYTES_PER_LINE = 12
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# C11 and C23 keywords, C++20 keywords and alternative tokens (the reserved `_x` and `__` names
# are refused by rule), `main`, and the macros GCC predefines in its default GNU modes (g++ -std=gnu++17)
KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if inline int long
    register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
    alignas alignof bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual
    asm catch char8_t char16_t char32_t class concept consteval constinit const_cast co_await co_return co_yield
    decltype delete dynamic_cast explicit export friend mutable namespace new noexcept operator private protected
    public reinterpret_cast requires static_cast template this throw try typeid typename using virtual wchar_t
    and and_eq bitand bitor compl not not_eq or or_eq xor xor_eq
    main linux unix
""".split())
# the first line of a file edgekit export wrote (the name percent-encoded, so on one line)
_OWN_FIRST_LINE = re.compile(rb"// [^\n]* \([0-9,]+ bytes, sha256 [0-9a-f]{64}\), written by edgekit export\.")
_SAFE_IN_COMMENT = " ._-+=,()[]{}@#&!:;'<>|$^"  # kept as they are; `%` itself is encoded


def export(model: Path, folder: Path, symbol: str = "g_model_data") -> list[Path]:
    """Write HEADER and SOURCE for `model` into `folder` (made if missing); both or neither, and
    only over files an earlier export wrote."""
    check_symbol(symbol)
    if folder.exists() and not folder.is_dir():
        raise EdgekitError(f"{option('out')} {folder} is a file: give a folder for {HEADER} and {SOURCE}")
    for name in (SOURCE, HEADER):
        check_replaceable(folder / name)
    content = model.read_bytes()
    guard = f"EDGEKIT_{symbol.upper()}_H_"
    origin = (f"// {comment_safe(model.name)} ({len(content):,} bytes, sha256 {sha256_of(model)}), "
              "written by edgekit export.\n")
    header = (f"{origin}#ifndef {guard}\n#define {guard}\n\n"
              f"extern const unsigned char {symbol}[];\nextern const unsigned int {symbol}_len;\n\n#endif  // {guard}\n")
    rows = ",\n".join("  " + ", ".join(f"0x{b:02x}" for b in content[i:i + BYTES_PER_LINE])
                      for i in range(0, len(content), BYTES_PER_LINE))
    source = (f"{origin}#include \"{HEADER}\"\n\n"
              f"alignas(16) const unsigned char {symbol}[] = {{\n{rows}\n}};\n"
              f"const unsigned int {symbol}_len = {len(content)};\n")
    folder.mkdir(parents=True, exist_ok=True)
    return _write_both(folder, {SOURCE: source.encode(), HEADER: header.encode()})


def check_symbol(symbol: str) -> None:
    """A name the source can declare: a C identifier that is no keyword of C or C++, and neither
    it nor `SYMBOL_len` is reserved to the implementation (`__` anywhere; a leading `_`, which C
    and C++ reserve for global names like these)."""
    where = f"{option('symbol')} {symbol!r}"
    if not _IDENTIFIER.fullmatch(symbol):
        raise EdgekitError(f"{where} is not a C identifier: use letters, digits and _, not starting with a digit")
    if symbol in KEYWORDS:
        raise EdgekitError(f"{where} is a C or C++ keyword (or a name compilers reserve): give another name, "
                           "e.g. g_model_data")
    for name in (symbol, f"{symbol}_len"):
        if "__" in name or name.startswith("_"):
            raise EdgekitError(f"{where}: {name} is reserved to the compiler in C and C++ (a double underscore, or "
                               "_ at the start of a global name): give another name, e.g. g_model_data")


def comment_safe(text: str) -> str:
    """`text` for a `//` comment on one line: anything but letters, digits and plain punctuation
    percent-encoded (line breaks, backslashes, `?`, `/`, `*`, `%`, non-ASCII and undecodable bytes)."""
    return urllib.parse.quote(os.fsencode(text), safe=_SAFE_IN_COMMENT)


def written_by_export(path: Path) -> bool:
    """Whether the regular file `path` starts with the line this module writes."""
    with open(path, "rb") as fh:
        return _OWN_FIRST_LINE.fullmatch(fh.readline(4096).rstrip(b"\n")) is not None


def check_replaceable(path: Path) -> None:
    """Refuse to replace anything at `path` but a file an earlier export wrote."""
    try:
        state = os.lstat(path)
    except FileNotFoundError:
        return
    except NotADirectoryError:  # the folder is a file: said by the caller
        return
    fix = f"move it or give {option('out')} another folder"
    if not stat.S_ISREG(state.st_mode):
        raise EdgekitError(f"{path} is not a regular file, and edgekit export would replace it: {fix}")
    try:
        ours = written_by_export(path)
    except OSError as exc:
        raise EdgekitError(f"{path} cannot be read ({exc.strerror}), so edgekit export cannot tell it wrote it: "
                           f"{fix}") from None
    if not ours:
        raise EdgekitError(f"{path} was not written by edgekit export (its first line is not edgekit's), and "
                           f"edgekit keeps it: {fix}")


def _write_both(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Write every file under a temporary name first, then rename them all with interrupts
    deferred: a failed write (a full disk) leaves the folder as it was."""
    staged: dict[str, str] = {}
    try:
        for name, data in files.items():
            fd, staged[name] = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            os.chmod(staged[name], 0o666 & ~umask())  # mkstemp makes 0600; give the file a normal mode
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            except OSError as exc:  # a failed write (a full disk) names no file
                raise OSError(exc.errno, exc.strerror, str(folder / name)) from exc
        with interrupts.deferred():
            for name in files:
                os.replace(staged.pop(name), folder / name)
    finally:
        for tmp in staged.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return [folder / name for name in files]
