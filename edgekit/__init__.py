"""edgekit: Keras model -> validated, benchmarked TFLite and ONNX artifacts.

From Python: `edgekit.convert(...)`, `edgekit.bench(...)`, `edgekit.report(...)` and
`edgekit.compare(...)` (edgekit/api.py), returning typed results with `to_dict()`. Messages go to
the `edgekit` logger: nothing shows unless the caller configures logging.

Importing this package is cheap: TensorFlow, onnxruntime and LiteRT are imported only by the
modules that use them, when they are first needed (the API below too, on first use).
"""

import logging
from typing import TYPE_CHECKING

from edgekit.core.version import __version__

if TYPE_CHECKING:  # type checkers see the API's signatures; at run time it loads on first use (below)
    from edgekit.api import (BenchResults, Comparison, ConversionResult, ConvertedFile, EdgekitError, FailedVariant,
                             GateFailed, ModelResults, Record, bench, compare, convert, report)

logging.getLogger("edgekit").addHandler(logging.NullHandler())  # a library's messages: the caller decides

_API = ("convert", "bench", "report", "compare", "ConversionResult", "ConvertedFile", "FailedVariant",
        "BenchResults", "ModelResults", "Record", "Comparison", "EdgekitError", "GateFailed")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    """`edgekit.convert` and the rest, imported from edgekit.api when first used."""
    if name in _API:
        from edgekit import api  # lazy: `import edgekit` stays light; edgekit.api pulls numpy

        globals()[name] = getattr(api, name)
        return globals()[name]
    raise AttributeError(f"module 'edgekit' has no attribute {name!r}")
