"""edgekit: a Keras model to TFLite and ONNX files, each checked against the float model and
measured on the runtimes that run it (LiteRT, onnxruntime, TFLite Micro, OpenVINO).

    import edgekit
    converted = edgekit.convert("model.keras", calib="calib.npz", out="out")  # ConversionResult
    converted.artifacts, converted.rejected, converted.failed   # ConvertedFile / FailedVariant each
    results = edgekit.bench(converted.folder, runtime="litert:xnnpack")       # BenchResults
    results.records[0].p50_us                                  # a Record: latency, accuracy, fidelity
    edgekit.profile(converted.folder).records[0].profile       # where the time goes, op by op
    print(edgekit.report(results))                             # Markdown, with the recommendation
    edgekit.compare("baseline.json", results).passed           # Comparison: the CI gates

Each result has `to_dict()`; bad input raises EdgekitError, one line naming the fix. Messages
go to the `edgekit` logger: nothing shows unless the caller configures logging. Importing this
package is cheap: TensorFlow, onnxruntime and LiteRT load when first needed (the API too).
"""

import logging as _logging
from typing import TYPE_CHECKING as _TYPE_CHECKING

from edgekit.core.version import __version__

if _TYPE_CHECKING:  # type checkers see the API's signatures; at run time it loads on first use (below)
    from edgekit.api import (BenchResults, Comparison, ConversionResult, ConvertedFile, EdgekitError, FailedVariant,
                             GateFailed, ModelResults, Profiled, Record, bench, compare, convert, profile,
                             report)

_logging.getLogger("edgekit").addHandler(_logging.NullHandler())  # a library's messages: the caller decides

_API = ("convert", "bench", "profile", "report", "compare", "ConversionResult", "ConvertedFile", "FailedVariant",
        "BenchResults", "ModelResults", "Record", "Profiled", "Comparison", "EdgekitError", "GateFailed")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    """`edgekit.convert` and the rest, imported from edgekit.api when first used."""
    if name in _API:
        from edgekit import api  # lazy: `import edgekit` stays light; edgekit.api pulls numpy

        globals()[name] = getattr(api, name)
        return globals()[name]
    raise AttributeError(f"module 'edgekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The API (what `help` and completion show), not the modules this file uses."""
    return sorted(__all__)
