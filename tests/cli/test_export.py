"""edgekit export --c-array: the model as C++ source that a C++ compiler builds into the same bytes."""

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
