"""How closely an artifact's outputs follow the float model's on the same inputs.

`FIDELITY_FLOORS` are sanity bounds, not quality targets: they catch a conversion that is
broken (wrong scale, wrong layout, swapped outputs), while leaving room for the honest error
that each precision brings. Values measured on the reference models sit far inside them: on
digits_cnn, int8 TFLite gives about 49 dB SQNR and 100% top-1 agreement, fp16 about 96 dB.
"""

from __future__ import annotations

import numpy as np

from edgekit.errors import ConversionFailed, EdgekitError

# precision class -> (minimum SQNR in dB, minimum top-1 agreement for classifiers)
FIDELITY_FLOORS = {
    "float32": (60.0, 0.99),  # only op re-ordering and fusion: errors near float epsilon
    "float16": (35.0, 0.98),  # 11-bit mantissa weights
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
        if is_classifier_output(ref) if classifier is None else classifier:
            flipped = np.flatnonzero(ref.argmax(axis=1) != out.argmax(axis=1))
            entry["top1_agreement"] = 1.0 - len(flipped) / len(ref)
            entry["flipped_samples"] = flipped.tolist()
        per_output[name] = entry
    worst = {
        "samples": int(len(next(iter(reference.values())))),
        "max_abs": max(e["max_abs"] for e in per_output.values()),
        "mean_abs": max(e["mean_abs"] for e in per_output.values()),
        "sqnr_db": min(e["sqnr_db"] for e in per_output.values()),
        "top1_agreement": min(
            (e["top1_agreement"] for e in per_output.values() if "top1_agreement" in e), default=None
        ),
    }
    return {**worst, "outputs": per_output}


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
    (written so that a NaN, which compares false with everything, is outside too)."""
    min_sqnr, min_top1 = FIDELITY_FLOORS[precision_class]
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
