"""edgekit sweep: a small suite run here and on a real local two-node Ray cluster (a head with
one CPU, a second node with one CPU that offers device:host) gives the same rows; a device no
node offers gives skipped rows; --ray without Ray installed says how to install it."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, run_cli

SUITE = {"models": ["digits_mlp", "digits_cnn"], "tflite": ["fp32", "int8"], "onnx": ["none"],
         "runtimes": ["litert:xnnpack"], "threads": [1], "runs": 5, "warmup": 1, "batch": 4, "quick": {}}


def write_suite(folder, **changes):
    path = folder / "suite.json"
    path.write_text(json.dumps({**SUITE, **changes}))
    return path


def rows(out) -> dict:
    results = json.loads((out / "results.json").read_text())
    return {(model["name"], r["format"], r["variant"], r["target"], r["threads"]): r
            for model in results["models"] for r in model["records"]}


@pytest.fixture(scope="module")
def cluster():
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1, resources={"device:host": 1})
        yield cluster
    finally:
        cluster.shutdown()


@pytest.mark.slow
def test_a_sweep_on_ray_gives_the_sequential_rows(tmp_path, cluster):
    suite = write_suite(tmp_path)
    code, _, err = run_cli("sweep", suite, "--out", tmp_path / "here")
    assert code == 0, err
    code, _, err = run_cli("sweep", suite, "--out", tmp_path / "ray", "--ray", cluster.address)
    assert code == 0, err
    assert "measurements on device:host" in err
    here, there = rows(tmp_path / "here"), rows(tmp_path / "ray")
    assert len(here) == 4 and sorted(here) == sorted(there)
    for key, row in here.items():
        assert row["status"] == there[key]["status"] == "ok", key
        for field in ("accuracy", "fidelity", "size_bytes", "gzip_bytes"):
            assert row[field] == there[key][field], (key, field)
        assert there[key]["latency_us"]["p50"] > 0
    assert (tmp_path / "ray" / "report.md").is_file() and (tmp_path / "ray" / "report.html").is_file()


@pytest.mark.slow
def test_a_device_no_node_offers_gives_skipped_rows(tmp_path, cluster):
    suite = write_suite(tmp_path, models=["digits_mlp"], device="pi5")
    code, _, err = run_cli("sweep", suite, "--out", tmp_path / "out", "--ray", cluster.address)
    assert code == 0, err
    skipped = rows(tmp_path / "out")
    assert sorted(skipped) == [("digits_mlp", "tflite", "fp32", "litert:xnnpack", 1),
                               ("digits_mlp", "tflite", "int8", "litert:xnnpack", 1)]
    assert {(r["status"], r["reason"]) for r in skipped.values()} == {("skipped", "no node offers device:pi5")}
    assert "no node offers device:pi5" in (tmp_path / "out" / "report.md").read_text()


def test_ray_missing_is_one_line_exit_2(tmp_path):
    (tmp_path / "ray.py").write_text("raise ImportError('No module named ray (simulated)')\n")
    suite = write_suite(tmp_path)
    code, out, err = run_cli("sweep", suite, "--ray", "--out", tmp_path / "out",
                             env={"PYTHONPATH": f"{tmp_path}:{REPO}"})
    assert code == 2 and out == ""
    assert err.splitlines() == ['edgekit sweep: error: Ray is not installed: pip install -e ".[ray]"']
    assert not (tmp_path / "out").exists()
