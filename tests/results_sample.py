"""A small, known results file (this schema version) for the report and compare tests: one model,
its float Keras row, two TFLite files on LiteRT and one skipped GPU row."""

from __future__ import annotations

import copy

from edgekit.results.schema import KIND, SCHEMA_VERSION


def record(artifact, fmt, variant, target, threads, size, p50, accuracy, robust_cv=0.02, status="ok"):
    runtime = target.split(":")[0]
    base = {"artifact": artifact, "format": fmt, "variant": variant, "runtime": runtime, "target": target,
            "threads": threads, "size_bytes": size, "gzip_bytes": size // 2, "status": status}
    if status != "ok":
        return {**base, "reason": "no GPU here"}
    return {**base, "details": {"threads": threads},
            "cold": {"load_us": 100.0, "first_inference_us": 50.0, "cold_start_us": 150.0},
            "latency_us": {"p50": p50, "p90": p50 * 1.1, "p99": p50 * 1.5, "mean": p50, "std": p50 * robust_cv,
                           "min": p50 * 0.9, "max": p50 * 2, "cv": robust_cv, "robust_cv": robust_cv, "runs": 200,
                           "high_spread": robust_cv > 0.1},
            "memory": {"peak_rss_bytes": 1 << 20, "scope": "this run", "peak_over_start_bytes": 4096},
            "throughput": {"batch": 32, "samples_per_s": 1e6 / p50, "batch_p50_us": p50 * 20},
            "evaluation_seconds": 0.01,
            "accuracy": {"metric": "accuracy", "value": accuracy, "float": 0.98,
                         "drop_points": round((0.98 - accuracy) * 100, 4)},
            "fidelity": None if fmt == "keras" else {
                "samples": 100, "max_abs": 0.01, "mean_abs": 0.001, "sqnr_db": 40.0, "top1_agreement": 0.99,
                "outputs": {"probs": {"max_abs": 0.01, "mean_abs": 0.001, "sqnr_db": 40.0, "top1_agreement": 0.99,
                                      "flipped_samples": [7]}}}}


def artifact(name, fmt, variant, size, dtype="float32", scale=None):
    spec = {"name": "pixels", "dtype": dtype, "shape": [None, 8, 8, 1]}
    if scale:
        spec.update(scale=[scale], zero_point=[-128])
    return {"name": name, "format": fmt, "variant": variant, "size_bytes": size, "gzip_bytes": size // 2,
            "sha256": "0" * 64, "inputs": [spec], "outputs": [{"name": "probs", "dtype": dtype, "shape": [None, 10]}]}


def sample_results(name: str = "digits_cnn") -> dict:
    return copy.deepcopy({
        "schema_version": SCHEMA_VERSION, "kind": KIND, "edgekit_version": "0.1.0",
        "created": "2026-11-22T10:00:00+0000",
        "environment": {"cpu": {"name": "Test CPU", "cores": 2}, "versions": {"edgekit": "0.1.0"}},
        "settings": {"runs": 200, "warmup": 20, "batch": 32, "target_settings": {"threads": [1]}},
        "models": [{
            "name": name,
            "reference": {"artifact": "model.keras", "path": "models/m/model.keras", "sha256": "0" * 64,
                          "size_bytes": 80000, "gzip_bytes": 40000},
            "reference_note": None,
            "artifacts": [artifact("model.keras", "keras", "float", 80000),
                          artifact(f"{name}_fp32.tflite", "tflite", "fp32", 60000),
                          artifact(f"{name}_int8.tflite", "tflite", "int8", 20000, "int8", 0.0039)],
            "data": {"source": "held-out digits", "samples": 360, "labelled": True, "metric": "accuracy",
                     "random": False, "float_score": 0.98},
            "records": [
                record("model.keras", "keras", "float", "keras:cpu", None, 80000, 800.0, 0.98),
                record("model.keras", "keras", "float", "keras:gpu", None, 80000, 0, 0, status="skipped"),
                record(f"{name}_fp32.tflite", "tflite", "fp32", "litert:xnnpack", 1, 60000, 5.0, 0.98),
                record(f"{name}_int8.tflite", "tflite", "int8", "litert:xnnpack", 1, 20000, 4.0, 0.975),
            ],
        }],
    })
