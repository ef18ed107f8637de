"""What this machine is and what it can run: versions, CPU, threads, GPUs, backends.

Versions come from package metadata, so reading them imports nothing heavy.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version

from edgekit.core.lazy_imports import tensorflow
from edgekit.core.version import __version__
from edgekit.runtimes import RUNTIMES

PACKAGES = ("tensorflow", "keras", "tf-keras", "tensorflow-model-optimization", "tf2onnx", "onnx",
            "onnxruntime", "onnxruntime-gpu", "ai-edge-litert", "tflite-micro", "numpy")
CPU_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "avx512_fp16", "neon", "asimd",
             "asimdhp", "fphp")
ORT_PROVIDERS = ("CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider",
                 "OpenVINOExecutionProvider")


def package_versions() -> dict[str, str | None]:
    found = {"edgekit": __version__}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def cpu_info() -> dict:
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model") and name in ("", platform.machine(), platform.processor()):
                    name = value.strip()
                elif key in ("flags", "Features"):
                    flags.update(value.split())
    except OSError:  # not Linux: name from platform, flags unknown
        pass
    return {
        "name": name,
        "machine": platform.machine(),
        "flags": {flag: flag in flags for flag in CPU_FLAGS if flags},
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
    }


def usable_cores() -> int:
    """The cores this process may run on (a container or `taskset` can allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def gpus() -> dict:
    """GPUs as the driver and as TensorFlow see them (imports TensorFlow)."""
    driver = []
    if shutil.which("nvidia-smi"):
        try:
            result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
            driver = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.TimeoutExpired):
            pass
    visible = [d.name for d in tensorflow().config.list_physical_devices("GPU")]
    return {"nvidia_smi": driver, "tensorflow": visible}


def backends(gpu_info: dict) -> dict[str, dict]:
    """Every backend edgekit knows, with whether it can run here and why not."""
    table = {}
    for name, runtime in RUNTIMES.items():
        ok, detail = runtime.available()
        table[name] = {"available": ok, "detail" if ok else "reason": detail}
    table["keras:gpu"] = (
        {"available": True, "detail": ", ".join(gpu_info["tensorflow"])} if gpu_info["tensorflow"]
        else {"available": False, "reason": "TensorFlow sees no GPU"
              + (" (a driver lists one: is TF's CUDA build installed?)" if gpu_info["nvidia_smi"] else "")}
    )
    providers = RUNTIMES["onnxruntime"].providers() if RUNTIMES["onnxruntime"].available()[0] else []
    for provider in ORT_PROVIDERS:
        key = f"onnxruntime:{provider.removesuffix('ExecutionProvider')}"
        table[key] = ({"available": True, "detail": provider} if provider in providers else
                      {"available": False, "reason": f"this onnxruntime build has no {provider}"})
    return table


def fingerprint() -> dict:
    """What a benchmark figure depends on besides the model: recorded with every result.
    Imports nothing heavy; each record adds the runtime options it ran with."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_info(),
        "versions": package_versions(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "CUDA_VISIBLE_DEVICES")
                if k in os.environ},
    }


def describe() -> dict:
    gpu_info = gpus()

    ort_ok = RUNTIMES["onnxruntime"].available()[0]
    return {
        "edgekit": __version__,
        **fingerprint(),
        "gpus": gpu_info,
        "onnxruntime_providers": RUNTIMES["onnxruntime"].providers() if ort_ok else [],
        "backends": backends(gpu_info),
    }
