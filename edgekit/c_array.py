"""A `.tflite` file as C++ source, the way TFLite Micro's examples build a model into firmware:
a 16-byte-aligned `const unsigned char` array (flatbuffers are read in place, and TFLite Micro
expects their tables aligned) and its length, in `model_data.cc`, declared in `model_data.h`.
"""

from __future__ import annotations

import re
from pathlib import Path

from edgekit.artifacts import atomic_write_bytes, sha256_of
from edgekit.errors import EdgekitError

HEADER, SOURCE = "model_data.h", "model_data.cc"
BYTES_PER_LINE = 12
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def export(model: Path, folder: Path, symbol: str = "g_model_data") -> list[Path]:
    """Write HEADER and SOURCE for `model` into `folder` (made if missing); both or neither."""
    if not _IDENTIFIER.match(symbol):
        raise EdgekitError(f"--symbol {symbol!r} is not a C identifier: use letters, digits and _")
    if folder.exists() and not folder.is_dir():
        raise EdgekitError(f"--out {folder} is a file: give a folder for {HEADER} and {SOURCE}")
    content = model.read_bytes()
    guard = f"EDGEKIT_{symbol.upper()}_H_"
    origin = f"// {model.name} ({len(content):,} bytes, sha256 {sha256_of(model)}), written by edgekit export.\n"
    header = (f"{origin}#ifndef {guard}\n#define {guard}\n\n"
              f"extern const unsigned char {symbol}[];\nextern const unsigned int {symbol}_len;\n\n#endif  // {guard}\n")
    rows = ",\n".join("  " + ", ".join(f"0x{b:02x}" for b in content[i:i + BYTES_PER_LINE])
                      for i in range(0, len(content), BYTES_PER_LINE))
    source = (f"{origin}#include \"{HEADER}\"\n\n"
              f"alignas(16) const unsigned char {symbol}[] = {{\n{rows}\n}};\n"
              f"const unsigned int {symbol}_len = {len(content)};\n")
    folder.mkdir(parents=True, exist_ok=True)
    return [atomic_write_bytes(folder / SOURCE, source.encode()), atomic_write_bytes(folder / HEADER, header.encode())]
