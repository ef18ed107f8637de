"""The input-shape rule: at which concrete shape each model input is fed, and how samples are laid out.

A free dimension (ONNX `dim_param`, TFLite `shape_signature` -1, Keras `None`) is filled from, in
order: `--input-shape NAME:D0,D1,...`, the data given (`--data`/`--calib`), the model's own default
(a TFLite file's stored shape where its signature leaves the dimension free and the stored size
is not 1); otherwise the command refuses, naming each free dimension and the fix. The batch
dimension may stay free (it is 1 for latency); any other free dimension is never set to 1 silently
(docs/DESIGN.md, pitfall 20).

Batch-first inputs and inputs fed whole. An input whose first axis is free or 1 (images, audio
frames, token ids: nearly every model) is batch-first: its samples are rows of that axis, given as
(S, *shape[1:]). Any other input (a scalar, a recurrent state (2, N, 128) whose first axis is
fixed) is fed whole, the same tensor for one sample: given once (the input's own rank) it is fed to
every sample; given per sample it has one more leading axis. A model with inputs fed whole runs
one sample per call.

Samples are held as one array per input with a leading sample axis: a batch-first input's sample
i is `array[i:i+1]`, a whole input's is `array[i]` (an input given once is broadcast, not copied).
`feed` makes a runtime's feed from them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from edgekit.core.artifacts import TensorSpec
from edgekit.core.config import parse_input_shapes
from edgekit.core.errors import EdgekitError, option

# random integer inputs (token ids, indices, flags) are drawn from [0, RANDOM_INT_HIGH): valid
# for any vocabulary or table of at least that many entries
RANDOM_INT_HIGH = 10


def fed_whole(specs: list[TensorSpec]) -> set[str]:
    """The names of the inputs fed whole (not batch-first). When no input has a free or 1 first
    axis and every input shares one fixed first axis (a model exported at batch 8), that axis is
    the batch, as it always was."""
    whole = {s.name for s in specs if not _batch_like(s)}
    firsts = {s.shape[0] for s in specs if s.shape}
    if len(whole) == len(specs) and len(firsts) == 1 and all(s.shape for s in specs):
        return set()
    return whole


def _batch_like(spec: TensorSpec) -> bool:
    return bool(spec.shape) and spec.shape[0] in (None, 1)


def feed(samples: dict[str, np.ndarray], whole: set[str], start: int, stop: int) -> dict[str, np.ndarray]:
    """The runtime feed for samples [start, stop): rows of the batch-first inputs, and the whole
    tensor of each input fed whole (one sample only: `stop` is `start + 1` then)."""
    if whole and stop - start != 1:
        raise ValueError(f"inputs {', '.join(sorted(whole))} are fed whole: one sample per call, not {stop - start}")
    return {k: v[start] if k in whole else v[start:stop] for k, v in samples.items()}


def sample_count(samples: dict[str, np.ndarray]) -> int:
    return len(next(iter(samples.values())))


def declared(specs: list[TensorSpec], texts, name: str = "input_shape") -> list[TensorSpec]:
    """The specs with the sizes that --input-shape (`texts`, raw) gives; a name that is no input,
    a rank or a fixed size it contradicts is refused. The batch dimension of a batch-first input
    stays as declared (latency is timed at batch 1)."""
    parsed = parse_input_shapes(texts, name)
    if not parsed:
        return list(specs)
    names = [s.name for s in specs]
    if parsed[0][1] is None and len(specs) != 1:
        raise EdgekitError(f"{option(name, parsed[0][0])} gives no input name and the model has {len(specs)} inputs "
                           f"({', '.join(names)}): give NAME:D0,D1,... for each")
    given = {(n if n is not None else names[0]): (text, dims) for text, n, dims in parsed}
    unknown = [text for n, (text, _) in given.items() if n not in names]
    if unknown:
        raise EdgekitError(f"{option(name, unknown[0])} names no input of the model: its inputs are "
                           f"{', '.join(names)}")
    whole = fed_whole(specs)
    out = []
    for spec in specs:
        if spec.name not in given:
            out.append(spec)
            continue
        text, dims = given[spec.name]
        skip = 0 if spec.name in whole else 1  # a batch-first input's batch may be any size
        if len(dims) != len(spec.shape) or any(d is not None and d != g
                                                for d, g in zip(spec.shape[skip:], dims[skip:])):
            raise EdgekitError(f"{option(name, text)} does not fit input {spec.name} {shown(spec.shape)}: give "
                               f"{len(spec.shape)} sizes, the fixed ones as they are")
        batch = spec.shape[:1] if spec.name not in whole else dims[:1]
        out.append(dataclasses.replace(spec, shape=(*batch, *dims[1:])))
    return out


def from_samples(specs: list[TensorSpec], samples: dict[str, np.ndarray]) -> list[TensorSpec]:
    """The specs with the shapes the samples (checked ones, in the layout above) have."""
    whole = fed_whole(specs)
    return [dataclasses.replace(s, shape=samples[s.name].shape[1:] if s.name in whole
                                else (s.shape[0], *samples[s.name].shape[1:])) for s in specs]


def concrete(specs: list[TensorSpec], defaults: dict[str, tuple] | None, model, fix: str) -> list[TensorSpec]:
    """The specs with every free dimension but a batch filled from `defaults` (the model's own, by
    input name), else one line naming each free dimension and the fix (`fix`: how to give data)."""
    whole, defaults = fed_whole(specs), defaults or {}
    out, free = [], []
    for spec in specs:
        default = defaults.get(spec.name)
        shape = list(spec.shape)
        for axis, size in enumerate(shape):
            if size is not None or (axis == 0 and spec.name not in whole):
                continue
            if default is not None and len(default) == len(shape) and default[axis] not in (None, 1):
                shape[axis] = int(default[axis])
            else:
                free.append((spec, axis))
        out.append(dataclasses.replace(spec, shape=tuple(shape)))
    if free:
        dims = ", ".join(f"{s.name} axis {a}" for s, a in free)
        example = " ".join(f"{option('input_shape', example_text(s, whole))}" for s in dict.fromkeys(
            s for s, _ in free))
        raise EdgekitError(f"model {model} has free dimensions ({dims}) and nothing gives their sizes: give them, "
                           f"e.g. {example} (each ? a size), or {fix}")
    return out


def example_text(spec: TensorSpec, whole: set[str]) -> str:
    dims = ["1" if axis == 0 and size is None and spec.name not in whole else "?" if size is None else str(size)
            for axis, size in enumerate(spec.shape)]
    return f"{spec.name}:{','.join(dims)}"


def used_shapes(specs: list[TensorSpec]) -> dict[str, list[int]]:
    """Each input's shape as one sample is fed: a free batch is 1."""
    return {s.name: [1 if d is None else int(d) for d in s.shape] for s in specs}


def shown(shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def random_samples(specs: list[TensorSpec], count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """`count` random samples of each input, in its dtype: floats in [0, 1), integers in
    [0, RANDOM_INT_HIGH), random bools. `specs` are concrete but for a batch."""
    whole = fed_whole(specs)
    out = {}
    for spec in specs:
        shape = sample_shape(spec, count, whole)
        dtype = np.dtype(spec.dtype)
        if dtype.kind == "b":
            out[spec.name] = rng.random(shape) < 0.5
        elif dtype.kind in "iu":
            out[spec.name] = rng.integers(0, RANDOM_INT_HIGH, shape).astype(dtype)
        else:
            out[spec.name] = rng.random(shape, dtype=np.float32).astype(dtype, copy=False)
    return out


def sample_shape(spec: TensorSpec, count: int, whole: set[str]) -> tuple[int, ...]:
    """The shape of `count` samples of a concrete input, in the layout above."""
    rest = spec.shape if spec.name in whole else spec.shape[1:]
    return (count, *[1 if d is None else d for d in rest])
