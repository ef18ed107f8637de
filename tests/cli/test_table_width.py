"""The terminal tables of convert and bench fit the width they are given (COLUMNS), in plain
ASCII when stdout is not a terminal, naming the columns they left out."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # each test converts and benchmarks the default model

VARIANTS = ("fp32", "fp16", "dynamic", "int8", "int16x8")


def assert_fits(stdout: str, width: int):
    lines = stdout.splitlines()
    assert lines and max(map(len, lines)) <= width, "\n".join(line for line in lines if len(line) > width)
    assert stdout.isascii() and "\x1b" not in stdout  # a pipe: no colours, no box drawing


def header(stdout: str) -> list[str]:
    """The column names (a header can take two lines: its long names break at spaces)."""
    return stdout.split("\n---")[0].split()


@pytest.fixture(scope="module")
def converted80(tmp_path_factory):
    out = tmp_path_factory.mktemp("convert-80")
    code, stdout, stderr = run_cli("convert", "--no-bench", "-q", "--out", out, env={"COLUMNS": "80"})
    assert code == 0, stderr
    return out / "digits_cnn", stdout


def test_convert_fits_80_columns_with_every_file_named_whole(converted80):
    _, stdout = converted80
    assert_fits(stdout, 80)
    for variant in VARIANTS:
        assert f"digits_cnn_{variant}.tflite" in stdout
    assert {"artifact", "variant", "size", "accuracy"} <= set(header(stdout))
    assert "not shown at 80 columns: gzip" in stdout and "--json shows them" in " ".join(stdout.split())


def test_convert_fits_120_columns_and_shows_more_of_them(converted80, tmp_path):
    code, stdout, stderr = run_cli("convert", "--no-bench", "-q", "--out", tmp_path, env={"COLUMNS": "120"})
    assert code == 0, stderr
    assert_fits(stdout, 120)
    assert len(header(stdout)) > len(header(converted80[1]))
    assert {"gzip", "SQNR", "top-1"} <= set(header(stdout))


@pytest.mark.parametrize("width", [80, 120])
def test_bench_fits_the_width_keeping_latency_and_accuracy(converted80, width):
    folder, _ = converted80
    code, stdout, stderr = run_cli("bench", folder, "--runs", 20, "--warmup", 2, "--runtime", "litert:xnnpack", "-q",
                                   env={"COLUMNS": str(width)})
    assert code == 0, stderr
    assert_fits(stdout, width)
    assert {"artifact", "target", "p50", "accuracy"} <= set(header(stdout))
    rows = [line for line in stdout.splitlines() if "litert:xnnpack x1" in line and line.startswith("digits_cnn_")]
    assert len(rows) == len(VARIANTS)
    flat = " ".join(stdout.split())
    assert "recommended: digits_cnn_" in flat
    if width == 80:
        assert "not shown at 80 columns:" in flat and "peak MB" in flat.split("not shown")[1]
    else:
        assert len(header(stdout)) > 8
