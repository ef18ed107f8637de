"""What a runtime's own error means, in a mobile developer's words.

Native runtimes raise with their internals: a Python wrapper's `ValueError: Unsupported dtype:
int16`, a bare C++ source location (`[./litert/cc/litert_compiled_model.h:1135]`), a status
prefix. `explain` turns a known message into what happened and what to do, and an unknown one
into a sentence that names the runtime; the original text goes to the record's `detail` (and is
shown under --debug), never into a row's reason alone.
"""

from __future__ import annotations

import os
import re

from edgekit.core.errors import EdgekitError
from edgekit.core.lazy_imports import VERBOSE_ENV

# how a row names each runtime (the keys are edgekit's runtime names)
RUNTIME_NAMES = {"litert": "LiteRT", "litert-compiled": "LiteRT's CompiledModel", "onnxruntime": "onnxruntime",
                 "tflm": "TFLite Micro", "keras": "Keras"}

# a C++ source location as native runtimes print it: `[./litert/cc/x.h:1135]`, `tensorflow/lite/kernels/reshape.cc:92`
_LOCATION = re.compile(r"\[?(\.?/?[\w./-]*\.(?:h|hpp|cc|cpp|c)):\d+\]?")
_EXCEPTION_NAME = re.compile(r"^\w+(Error|Exception|Fail(ure|ed)?)\b:?\s*")
_CODE = re.compile(r"code=(\d+)")
_NODE_FAILED = re.compile(r"Node number (\d+) \((\w+)\) failed to (prepare|invoke)")

# (pattern on the message, what it means; {0}, {1}... are the pattern's groups, {runtime} the runtime)
KNOWN = (
    (re.compile(r"Unsupported dtype: \W*(class 'numpy\.)?int16"),
     "{runtime} has no int16 tensor buffers in Python (an int16x8 file takes and gives int16 tensors): "
     "run this file on litert:xnnpack or litert:builtin"),
    (re.compile(r"Unsupported dtype: (\w+)"),
     "{runtime} has no {0} tensor buffers in Python: run this file on litert:xnnpack or litert:builtin"),
    (re.compile(r"No adapters found.*libvulkan\S* cannot open shared object file", re.S),
     "no GPU that LiteRT can use here: its GPU accelerator needs a Vulkan driver (libvulkan.so.1 is not installed)"),
    (re.compile(r"No adapters found"),
     "no GPU that LiteRT can use here: its GPU accelerator (WebGPU) found no adapter"),
    (re.compile(r"XNNPack delegate failed to reshape"),
     "{runtime} could not give its XNNPACK kernels the new input shape (an op in the model keeps a fixed shape, "
     "e.g. a reshape to batch 1)"),
    (_NODE_FAILED, "{runtime}'s {1} kernel refused node {0} of the model{said}"),
)


def explain(runtime: str, error: BaseException | str, doing: str = "") -> tuple[str, str]:
    """(the reason a row shows, the original text for its `detail`): a known message translated,
    an unknown one as a sentence naming the runtime and what it was `doing` ("to compile x.tflite
    for the GPU"), never a bare source location."""
    raw = (error if isinstance(error, str) else f"{type(error).__name__}: {error}").strip()
    name = RUNTIME_NAMES.get(runtime, runtime)
    for pattern, meaning in KNOWN:
        found = pattern.search(raw)
        if found:
            said = plain(raw[:found.start()]) if pattern is _NODE_FAILED else ""
            return meaning.format(*found.groups(), runtime=name, said=f" ({said})" if said else ""), raw
    failed = f"{name} failed{' ' + doing if doing else ''}"
    # a chained native error says the cause last ("└ Failed to allocate tensors")
    text = ": ".join(dict.fromkeys(filter(None, (plain(line) for line in raw.splitlines()))))[:300]
    if text:
        return f"{failed}: {text}", raw
    code = _CODE.search(raw)
    return (f"{failed} without giving a reason{f' (error code {code.group(1)})' if code else ''}"
            + ("" if debugging() else ": --debug shows its log")), raw


def plain(text: str) -> str:
    """A native message without its exception name, source locations and wrapper prefixes
    (`CompiledModel error: code=1, message=ERROR:`): what is left says something, or is empty."""
    text = re.sub(r"^[IWEF]\d{4} [\d:.]+\s+\d+\s+", "", text.strip(" └"))  # a glog line's prefix
    text = _EXCEPTION_NAME.sub("", text)
    text = _LOCATION.sub("", text)
    text = re.sub(r"\w+ error: code=\d+,?\s*(message=)?", "", text)
    text = re.sub(r"^(ERROR|INTERNAL|INVALID_ARGUMENT)\s*:?\s*", "", text.strip())
    text = re.sub(r"\s+", " ", text).strip(" :,.-└")
    return text if re.search(r"[A-Za-z]{3}", text) else ""


def with_detail(reason: str, detail: str | None) -> str:
    """A reason, and under --debug the runtime's own words after it (for notes, which have no
    `detail` field of their own)."""
    return f"{reason} (it said: {detail})" if detail and debugging() else reason


def debugging() -> bool:
    return bool(os.environ.get(VERBOSE_ENV))


def failure(runtime: str, exc: BaseException) -> dict:
    """A record's reason for `exc`, and `detail` with the runtime's own words where they were
    translated: edgekit's errors say their reason already, anything else is explained."""
    reason, said = (str(exc), exc.detail) if isinstance(exc, EdgekitError) else explain(runtime, exc)
    return {"reason": reason, **({"detail": said} if said else {})}
