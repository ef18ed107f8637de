"""Terminal tables laid out to a width: which columns go first, names folded, notes wrapped."""

from __future__ import annotations

import re

from edgekit.render import terminal
from edgekit.render.table import BENCH_DROP, bench_table
from tests.results_sample import sample_results

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def header_of(text: str) -> str:
    return text.split("\n---")[0]  # the header, over one or two lines


def test_bench_at_80_columns_keeps_what_ran_its_latency_and_accuracy(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    text = bench_table(sample_results()["models"][0])
    assert max(map(len, text.splitlines())) <= 80
    header = header_of(text)
    assert all(name in header for name in ("artifact", "target", "p50", "accuracy"))
    assert not any(name in header for name in ("peak MB", "cold", "p99"))
    note = " ".join(text.split("not shown at 80 columns:")[1].split())
    assert note.startswith("p99 us, spread, cold ms, batch/s, peak MB")
    assert "digits_cnn_int8.tflite" in text  # a name that fits stays whole


def test_a_wide_terminal_shows_every_column_and_no_note(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    text = bench_table(sample_results()["models"][0])
    assert "not shown" not in text
    assert all(name in text.splitlines()[0] for name in ("peak MB", "cold ms", "p99 us", "top-1 agree"))


def test_columns_go_in_their_order_and_a_narrow_one_comes_back_when_room_is_left():
    headers = ["name", "a", "b", "c"]
    rows = [["x" * 10, "1" * 10, "2" * 3, "3" * 10]]  # 10 + 2 + 10 + 2 + 3 + 2 + 10 = 39
    assert list(terminal.fit(headers, rows, {1, 2, 3}, ("b", "a", "c"), 39)) == [0, 1, 2, 3]
    assert list(terminal.fit(headers, rows, {1, 2, 3}, ("c", "a", "b"), 38)) == [0, 1, 2]
    # "b" goes first but freeing it is not enough; once "a" has gone, "b" fits again
    assert list(terminal.fit(headers, rows, {1, 2, 3}, ("b", "a", "c"), 30)) == [0, 2, 3]


def test_long_names_fold_and_figures_stay_whole():
    long_name = "a_quantized_model_with_a_very_long_descriptive_file_name_int8.tflite"
    text = terminal.table(["file", "p50 us", "size"], [[long_name, "123.4", "20.5 KB"]], right={1, 2}, at=40,
                          style=False)
    lines = text.splitlines()
    assert max(map(len, lines)) <= 40 and "not shown" not in text
    body = lines[[line.startswith("---") for line in lines].index(True) + 1:]
    assert "123.4" in body[0] and "20.5 KB" in body[0]
    assert "".join(line.split()[0] for line in body) == long_name


def test_a_terminal_gets_bold_headers_and_a_drawn_rule_within_the_width():
    model = sample_results()["models"][0]
    text = terminal.table(["artifact", "p50 us"], [[r["artifact"], "1.0"] for r in model["records"]], right={1},
                          at=30, style=True)
    plain = ANSI.sub("", text)
    assert "\x1b[" in text and "─" in plain and max(map(len, plain.splitlines())) <= 30


def test_width_comes_from_columns_else_a_fixed_plain_width_off_a_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "97")
    assert terminal.width() == 97
    monkeypatch.delenv("COLUMNS")
    assert terminal.width() == terminal.PLAIN_WIDTH  # pytest's stdout is not a terminal
    assert not terminal.styled()


def test_notes_wrap_at_words_with_the_continuation_indented():
    lines = terminal.wrap(["  " + "word " * 30], 40)
    assert len(lines) > 1 and all(len(line) <= 40 for line in lines)
    assert lines[0].startswith("  word") and all(line.startswith("    word") for line in lines[1:])


def test_every_column_named_to_go_is_a_column_of_the_bench_table(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    header = bench_table(sample_results()["models"][0]).splitlines()[0]
    assert all(name in header for name in BENCH_DROP)


def test_the_conversion_table_says_what_was_quantized_and_what_stayed_float():
    from edgekit.render.table import dynamic_lines  # the dynamic ONNX recipe of issue 31

    recipe = {"quantizer": "onnxruntime quantize_dynamic", "op_types": {"MatMul": 1}, "left_float": {"Conv": 9}}
    assert dynamic_lines([{"path": "m_int8-dynamic.onnx", "recipe": recipe}, {"path": "m.tflite", "recipe": {}}]) == [
        "m_int8-dynamic.onnx: int8 1 MatMul; 9 Conv left in float (dynamic quantization is slower than float on them)"]
