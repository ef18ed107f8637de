"""How closely an artifact's outputs follow the float model's on the same inputs.

`FIDELITY_FLOORS` are sanity bounds, not quality targets: they catch a conversion that is
broken (wrong scale, wrong layout, swapped outputs), while leaving room for the honest error
that each precision brings. Values measured on the reference models sit far inside them: on
digits_cnn's held-out split, int8 TFLite gives about 44 dB SQNR and 100% top-1 agreement, fp16
about 76 dB. A file between its floor and its precision's quality threshold is kept but marked
degraded (measure/quality.py).
"""

from __future__ import annotations

import numpy as np

from edgekit.core.errors import ConversionFailed, EdgekitError

# precision class -> (minimum SQNR in dB, minimum top-1 agreement for classifiers)
FIDELITY_FLOORS = {
    "float32": (60.0, 0.99),  # only op re-ordering and fusion: errors near float epsilon
    "float16": (35.0, 0.98),  # 11-bit mantissa weights
    "bfloat16": (25.0, 0.95),  # 8-bit mantissa activations too (OpenVINO's CPU plugin on AVX512_BF16)
    "dynamic": (15.0, 0.90),  # int8 weights, float activations
    "int16x8": (20.0, 0.90),  # int16 activations, int8 weights
    "int8": (10.0, 0.80),     # int8 weights and activations
}


def is_classifier_output(reference: np.ndarray) -> bool:
    """A (N, classes) output with several classes is scored by top-1 agreement."""
    return reference.ndim == 2 and reference.shape[1] > 1


def compare(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray],
            classifier: bool | None = None) -> dict:
    """Fidelity of `candidate` against `reference`, output by output and overall (the worst).
    `classifier`: whether top-1 agreement means anything (None: judge from the output's shape;
    a known task says better, e.g. an autoencoder's 640 outputs are not class scores).

    Every figure is finite: outputs holding NaN or inf are no measurement but a broken model,
    refused here (ConversionFailed for the candidate: its variant or record fails with the
    reason; EdgekitError for the float model, which nothing can be compared with)."""
    bad = non_finite_samples(reference)
    if bad:
        raise EdgekitError(f"the float model outputs NaN or inf on {bad} of {_count(reference)} samples: "
                           "nothing can be compared with it; check the model and its input data")
    bad = non_finite_samples(candidate)
    if bad:
        raise ConversionFailed(f"outputs NaN or inf on {bad} of {_count(candidate)} samples")
    per_output = {}
    for name, ref in reference.items():
        out = candidate[name].reshape(ref.shape).astype(np.float64)
        ref = ref.astype(np.float64)
        err = out - ref
        noise = float(np.sum(err**2))
        signal = float(np.sum(ref**2))
        entry = {
            "max_abs": float(np.max(np.abs(err))),
            "mean_abs": float(np.mean(np.abs(err))),
            "sqnr_db": _sqnr_db(signal, noise),
        }
        constant = _near_constant(ref)
        if constant is not None:  # no signal to measure the noise against: judged by max-abs
            entry["constant"] = {**constant, "relative_max_abs": entry["max_abs"] / constant["range"]}
        elif is_classifier_output(ref) if classifier is None else classifier:
            flipped = np.flatnonzero(ref.argmax(axis=1) != out.argmax(axis=1))
            entry["top1_agreement"] = 1.0 - len(flipped) / len(ref)
            entry["flipped_samples"] = flipped.tolist()
        per_output[name] = entry
    judged = [e for e in per_output.values() if "constant" not in e] or list(per_output.values())
    worst = {
        "samples": int(len(next(iter(reference.values())))),
        "max_abs": max(e["max_abs"] for e in per_output.values()),
        "mean_abs": max(e["mean_abs"] for e in per_output.values()),
        "sqnr_db": min(e["sqnr_db"] for e in judged),
        "top1_agreement": min(
            (e["top1_agreement"] for e in per_output.values() if "top1_agreement" in e), default=None
        ),
    }
    constant = [name for name, e in per_output.items() if "constant" in e]
    return {**worst, **({"constant_outputs": constant} if constant else {}), "outputs": per_output}


# Outputs whose values move by less than this fraction of their size across the samples carry
# no signal (a randomly initialised classifier gives 0.001 for each of 1000 classes on every
# input): SQNR and top-1 agreement are undefined for them.
CONSTANT_SPREAD = 1e-4


def _near_constant(ref: np.ndarray) -> dict | None:
    """{spread, range} when `ref` barely varies over its samples, else None. The range that an
    error is judged against is 1 for probabilities (rows of non-negative values summing to 1),
    else the largest magnitude."""
    if len(ref) < 2:
        return None
    size = float(np.max(np.abs(ref)))
    spread = float(np.max(np.ptp(ref.reshape(len(ref), -1), axis=0)))
    if spread > CONSTANT_SPREAD * size:
        return None
    rows = ref.reshape(len(ref), -1)
    probabilities = ref.ndim == 2 and rows.min() >= 0 and np.allclose(rows.sum(axis=1), 1.0, atol=1e-3)
    return {"spread": spread, "range": 1.0 if probabilities else max(size, np.finfo(np.float32).tiny)}


def judged_by_max_abs(fidelity: dict) -> bool:
    """Whether every output was near-constant, so the figures that judge it are max-abs ones."""
    return len(fidelity.get("constant_outputs", ())) == len(fidelity.get("outputs", {})) > 0


def non_finite_samples(outputs: dict[str, np.ndarray]) -> int:
    """How many samples have a NaN or inf in any output (numeric outputs only)."""
    bad = None
    for array in outputs.values():
        array = np.asarray(array)
        if array.dtype.kind not in "fc" or array.ndim == 0:
            continue
        rows = ~np.isfinite(array).reshape(len(array), -1).all(axis=1)
        bad = rows if bad is None or len(bad) != len(rows) else bad | rows
    return 0 if bad is None else int(bad.sum())


def _count(outputs: dict[str, np.ndarray]) -> int:
    return int(len(next(iter(outputs.values()))))


def outside_floor(fidelity: dict, precision_class: str) -> str | None:
    """A one-line reason when `fidelity` is outside the sane bound for its precision, else None
    (written so that a NaN, which compares false with everything, is outside too). A near-
    constant output is judged by its max-abs error against the output's range, allowed the
    relative error the SQNR floor allows (10^(-floor/20))."""
    min_sqnr, min_top1 = FIDELITY_FLOORS[precision_class]
    allowed = 10 ** (-min_sqnr / 20)
    for name, entry in fidelity.get("outputs", {}).items():
        constant = entry.get("constant")
        if constant and not constant["relative_max_abs"] <= allowed:
            return (f"output {name} is (near-)constant on these samples (spread {constant['spread']:.2g}) and its "
                    f"max-abs error {entry['max_abs']:.3g} is {constant['relative_max_abs']:.1%} of its range "
                    f"{constant['range']:.3g}, over the {allowed:.1%} allowed for {precision_class}")
    if judged_by_max_abs(fidelity):
        return None
    if not fidelity["sqnr_db"] >= min_sqnr:
        return f"SQNR {fidelity['sqnr_db']:.1f} dB is below the {min_sqnr:.0f} dB floor for {precision_class}"
    top1 = fidelity["top1_agreement"]
    if top1 is not None and not top1 >= min_top1:
        return f"top-1 agreement {top1:.1%} is below the {min_top1:.0%} floor for {precision_class}"
    return None


SQNR_LIMIT_DB = 200.0  # reported for identical outputs, so that the JSON stays finite


def _sqnr_db(signal: float, noise: float) -> float:
    if noise == 0.0:
        return SQNR_LIMIT_DB
    if signal == 0.0:
        return -SQNR_LIMIT_DB
    return float(np.clip(10.0 * np.log10(signal / noise), -SQNR_LIMIT_DB, SQNR_LIMIT_DB))
