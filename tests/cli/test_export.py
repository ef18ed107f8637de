"""edgekit export --c-array: the model as C++ source that a C++ compiler builds into the same bytes."""

import os
import subprocess

import pytest

from tests.conftest import folder_state, run_cli

MAIN = r"""
#include <cstdint>
#include <cstdio>
#include "model_data.h"
int main() {
  if (reinterpret_cast<std::uintptr_t>(g_model_data) % 16 != 0) return 3;  // TFLite Micro reads it in place
  std::fwrite(g_model_data, 1, g_model_data_len, stdout);
  return 0;
}
"""


def test_the_c_array_compiles_and_holds_the_file_s_bytes_aligned(converted, tmp_path):
    model = converted["folder"] / "digits_cnn_int8.tflite"
    code, stdout, stderr = run_cli("export", model, "--c-array", "--out", tmp_path / "firmware")
    assert code == 0, stderr
    folder = tmp_path / "firmware"
    assert sorted(p.name for p in folder.iterdir()) == ["model_data.cc", "model_data.h"]
    (folder / "main.cc").write_text(MAIN)
    built = subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", "main.cc", "model_data.cc", "-o", "roundtrip"],
                           cwd=folder, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([str(folder / "roundtrip")], capture_output=True)
    assert ran.returncode == 0, "the array is not 16-byte aligned"
    assert ran.stdout == model.read_bytes()


@pytest.mark.parametrize("make, expected", [
    (lambda tmp: tmp / "missing.tflite", "no such file"),
    (lambda tmp: (tmp / "junk.tflite").write_bytes(b"not a model") and tmp / "junk.tflite", "damaged"),
])
def test_a_bad_model_is_one_line_and_writes_nothing(tmp_path, make, expected):
    model = make(tmp_path)
    before = folder_state(tmp_path)
    code, stdout, stderr = run_cli("export", model, "--out", tmp_path / "firmware")
    assert code == 2 and expected in stderr and "Traceback" not in stderr
    assert folder_state(tmp_path) == before and not (tmp_path / "firmware").exists()


def test_a_file_given_as_the_output_folder_is_refused_and_kept(converted, tmp_path):
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    code, _, stderr = run_cli("export", converted["folder"] / "digits_cnn_int8.tflite", "--out", taken)
    assert code == 2 and "is a file" in stderr
    assert taken.read_text() == "mine"


def tiny_model(folder, name="tiny.tflite"):
    from tests.corpus.tflite_builder import tiny_tflite

    model = folder / name
    model.write_bytes(tiny_tflite())
    return model


# names that end a // comment or continue it onto the next line: a line break, a trailing backslash
# (a line splice), trigraphs (??= is a #), a bare CR, bytes that are not UTF-8
HOSTILE_NAMES = {
    "line break": "evil\n#error injected by the file name\n.tflite",
    "splice": "evil\\\n#error spliced\n??=error after a trigraph\nx\r#error after a CR\n.tflite",
    "not utf-8": os.fsdecode(b"caf\xe9\n#error not utf-8\n.tflite"),
}


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_a_model_name_that_holds_code_stays_in_its_comment_and_the_array_compiles(tmp_path, name):
    model = tiny_model(tmp_path, name)
    folder = tmp_path / "firmware"
    code, _, stderr = run_cli("export", model, "--out", folder)
    assert code == 0, stderr
    for generated in ("model_data.h", "model_data.cc"):
        first = (folder / generated).read_bytes().split(b"\n")[0]
        assert first.startswith(b"// ") and first.endswith(b"written by edgekit export.")
        assert not any(ch in first for ch in b"\\\r?") and first.isascii()
    (folder / "main.cc").write_text(MAIN)
    built = subprocess.run(["g++", "-std=c++17", "-trigraphs", "-Wall", "-Werror", "main.cc", "model_data.cc", "-o",
                            "roundtrip"], cwd=folder, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([str(folder / "roundtrip")], capture_output=True)
    assert ran.returncode == 0 and ran.stdout == model.read_bytes()


@pytest.mark.parametrize("symbol", ["int", "class", "and", "bitand", "co_await", "char8_t", "typeof", "_Bool",
                                    "_model", "__model", "g__model", "g_", "main", "linux", "g_model\n"])
def test_a_symbol_c_or_cxx_cannot_declare_is_one_line_naming_symbol(tmp_path, symbol):
    model = tiny_model(tmp_path)
    code, stdout, stderr = run_cli("export", model, "--symbol", symbol, "--out", tmp_path / "firmware")
    assert code == 2 and stdout == "" and "Traceback" not in stderr
    [line] = stderr.strip().splitlines()
    assert "--symbol" in line and ("keyword" in line or "reserved" in line or "not a C identifier" in line)
    assert not (tmp_path / "firmware").exists()


def test_every_refused_keyword_really_cannot_name_the_array(tmp_path):
    """The list refuses nothing usable: each name fails to compile as the array's name in C++20 or
    C23 (GNU modes, g++'s and gcc's defaults, where `linux` and `unix` are macros). One translation
    unit per name, so that one error cannot hide another."""
    from edgekit.hardware.c_array import KEYWORDS

    for name in KEYWORDS:
        (tmp_path / f"{name}.c").write_text(f"extern const unsigned char {name}[];\nconst unsigned char {name}[] = {{1}};\n")
    files = sorted(f"{name}.c" for name in KEYWORDS)
    cxx = subprocess.run(["g++", "-std=gnu++20", "-x", "c++", "-fsyntax-only", *files], cwd=tmp_path,
                         capture_output=True, text=True).stderr
    c23 = subprocess.run(["gcc", "-std=gnu2x", "-fsyntax-only", *files], cwd=tmp_path,
                         capture_output=True, text=True).stderr
    compiled = {name for name in KEYWORDS if not any(f"{name}.c:{line}:" in said for line in (1, 2)
                                                      for said in (cxx, c23))}
    assert compiled <= {"typeof_unqual"}  # C23's, which GCC knows from version 13


USERS_FILES = {
    "a hand-written model_data.cc": {"model_data.cc": b"// ours\nconst unsigned char g_model_data[] = {1};\n"},
    "a hand-written model_data.h": {"model_data.h": b"#pragma once\n// ours\n"},
    "a model_data.cc that says edgekit lower down": {"model_data.cc": b"// ours\n// written by edgekit export.\n"},
}


@pytest.mark.parametrize("files", USERS_FILES.values(), ids=USERS_FILES.keys())
def test_export_never_replaces_a_file_it_did_not_write(tmp_path, files):
    model = tiny_model(tmp_path)
    folder = tmp_path / "firmware"
    folder.mkdir()
    (folder / "main.cc").write_text(MAIN)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    before = folder_state(folder)
    code, stdout, stderr = run_cli("export", model, "--out", folder)
    assert code == 2 and stdout == "" and "Traceback" not in stderr
    [line] = stderr.strip().splitlines()
    [name] = files
    assert f"{folder / name} was not written by edgekit export" in line and "--out another folder" in line
    assert folder_state(folder) == before  # byte for byte, and the other file was not written either


def test_export_replaces_what_it_wrote_but_not_a_link_or_fifo_in_its_place(tmp_path):
    model = tiny_model(tmp_path)
    folder = tmp_path / "firmware"
    assert run_cli("export", model, "--out", folder)[0] == 0
    code, _, stderr = run_cli("export", model, "--symbol", "g_other", "--out", folder)
    assert code == 0, stderr
    assert "g_other_len" in (folder / "model_data.h").read_text()
    elsewhere = tmp_path / "elsewhere.cc"
    elsewhere.write_text("// the team's file\n")
    (folder / "model_data.cc").unlink()
    (folder / "model_data.cc").symlink_to(elsewhere)
    code, _, stderr = run_cli("export", model, "--out", folder)
    assert code == 2 and "model_data.cc is not a regular file" in stderr
    assert (folder / "model_data.cc").is_symlink() and elsewhere.read_text() == "// the team's file\n"
    (folder / "model_data.cc").unlink()
    (folder / "model_data.h").unlink()
    os.mkfifo(folder / "model_data.h")  # read, it would block the run
    code, _, stderr = run_cli("export", model, "--out", folder, timeout=120)
    assert code == 2 and "model_data.h is not a regular file" in stderr
    assert sorted(p.name for p in folder.iterdir()) == ["model_data.h"]
