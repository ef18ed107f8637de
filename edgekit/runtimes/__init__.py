"""Runtimes by name. Each module imports its backend only when a session is opened."""

from edgekit.runtimes.base import Runtime, Session
from edgekit.runtimes.keras import KerasRuntime
from edgekit.runtimes.litert import LiteRTRuntime
from edgekit.runtimes.litert_compiled import LiteRTCompiledRuntime
from edgekit.runtimes.onnxruntime import OnnxRuntime
from edgekit.runtimes.tflm import TFLMRuntime

RUNTIMES: dict[str, Runtime] = {r.name: r for r in (KerasRuntime(), LiteRTRuntime(), LiteRTCompiledRuntime(),
                                                     OnnxRuntime(), TFLMRuntime())}


def for_format(fmt: str) -> Runtime:
    """The runtime that validates artifacts of format `fmt`."""
    return next(r for r in RUNTIMES.values() if fmt in r.formats)


__all__ = ["RUNTIMES", "Runtime", "Session", "for_format"]
