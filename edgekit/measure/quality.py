"""Whether a file's outputs follow the float model's closely enough to be called fine.

`fidelity.FIDELITY_FLOORS` reject a broken conversion; a file between a floor and the thresholds
here is kept and benchmarked but marked "degraded", output by output, so that nobody takes a 10 dB
int8 file (it clears the int8 floor) for a good one. A classifier's output is judged by top-1
agreement (its logits may be noisy while its decisions hold), any other output by SQNR; --min-sqnr
sets the SQNR every output must reach instead of the precision's, classifiers' too.
"""

from __future__ import annotations

import dataclasses

from edgekit.core.errors import option
from edgekit.measure.fidelity import FIDELITY_FLOORS


@dataclasses.dataclass(frozen=True)
class Threshold:
    sqnr_db: float  # for outputs that are not class scores
    top1_agreement: float  # for classifier outputs
    why: str


# precision class -> the quality a file of that precision is expected to reach on held-out samples
QUALITY_THRESHOLDS = {
    "float32": Threshold(*FIDELITY_FLOORS["float32"], "a float file matches the model to rounding or is broken: "
                                                      "its sanity floor is its quality bar"),
    "float16": Threshold(40.0, 0.99, "11-bit mantissa weights give 60-100 dB on working models; under 40 dB "
                                     "something overflows or underflows"),
    "bfloat16": Threshold(30.0, 0.98, "8-bit mantissa activations cost about 10 dB more than fp16"),
    "dynamic": Threshold(25.0, 0.98, "only the weights are int8 (per channel): activations stay float"),
    "int16x8": Threshold(30.0, 0.98, "16-bit activations take 48 dB more range than int8 ones"),
    "int8": Threshold(20.0, 0.98, "at 20 dB the error is a tenth of the signal (an audio model's note F1 fell to "
                                  "0.67 at 10 dB and held 0.98 from 27 dB); a classifier that changes more than 2 "
                                  "decisions in 100 (digits_outlier's planted outlier: 97.5%, 2.5 points lost) can "
                                  "lose more than the 1-point tolerance report, tune and compare share"),
}


def verdict(fidelity: dict, precision_class: str, min_sqnr: float | None = None) -> dict:
    """{"degraded": bool, "outputs": {name: why} for the outputs below their threshold, "min_sqnr_db",
    "min_top1_agreement", "by": where the thresholds come from}. Near-constant outputs carry no
    signal to judge (the floor's max-abs check covers them)."""
    threshold = QUALITY_THRESHOLDS[precision_class]
    sqnr = threshold.sqnr_db if min_sqnr is None else min_sqnr
    below = {}
    for name, entry in fidelity.get("outputs", {}).items():
        if "constant" in entry:
            continue
        top1 = entry.get("top1_agreement")
        if top1 is not None and not top1 >= threshold.top1_agreement:
            below[name] = f"top-1 agreement {top1:.1%} is below {threshold.top1_agreement:.0%}"
        elif (top1 is None or min_sqnr is not None) and not entry["sqnr_db"] >= sqnr:  # NaN is below too
            below[name] = f"SQNR {entry['sqnr_db']:.1f} dB is below {sqnr:g} dB"
    return {"degraded": bool(below), "outputs": below, "min_sqnr_db": sqnr,
            "min_top1_agreement": threshold.top1_agreement,
            "by": f"the {precision_class} threshold" if min_sqnr is None else option("min_sqnr", f"{min_sqnr:g}")}


def reason(found: dict) -> str:
    """One line: 'output onset: SQNR 9.5 dB is below 20 dB; ... (the int8 threshold)'."""
    return "; ".join(f"output {name}: {why}" for name, why in found["outputs"].items()) + f" ({found['by']})"


def is_degraded(entry: dict) -> bool:
    """Whether a manifest artifact or a results record was judged degraded (older files were not judged)."""
    return bool((entry.get("quality") or {}).get("degraded"))
