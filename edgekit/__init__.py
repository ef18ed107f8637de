"""edgekit: Keras model -> validated, benchmarked TFLite and ONNX artifacts.

From Python: `edgekit.convert(...)`, `edgekit.bench(...)`, `edgekit.report(...)` and
`edgekit.compare(...)` (edgekit/api.py), returning typed results with `to_dict()`. Messages go to
the `edgekit` logger: nothing shows unless the caller configures logging.

Importing this package is cheap: TensorFlow, onnxruntime and LiteRT are imported only by the
modules that use them, when they are first needed (the API below too, on first use).
"""

import logging
import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # type checkers see the API's signatures; at run time it loads on first use (below)
    from edgekit.api import (BenchResults, Comparison, ConversionResult, ConvertedFile, EdgekitError, FailedVariant,
                             GateFailed, ModelResults, Record, bench, compare, convert, report)

__version__ = "0.1.0"

logging.getLogger("edgekit").addHandler(logging.NullHandler())  # a library's messages: the caller decides

_API = ("convert", "bench", "report", "compare", "ConversionResult", "ConvertedFile", "FailedVariant",
        "BenchResults", "ModelResults", "Record", "Comparison", "EdgekitError", "GateFailed")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    """`edgekit.convert` and the rest, imported from edgekit.api when first used."""
    if name in _API:
        from edgekit import api

        globals()[name] = getattr(api, name)
        return globals()[name]
    raise AttributeError(f"module 'edgekit' has no attribute {name!r}")


class _Package(types.ModuleType):
    """`edgekit.convert`, `.bench` and `.report` are the API's functions, although subpackages of
    those names exist: importing one (edgekit.report.schema) must not replace the function with the
    module, which stays in sys.modules (so `from edgekit.report import schema` works as before)."""

    def __setattr__(self, name, value):
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
