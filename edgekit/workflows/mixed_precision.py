"""Mixed precision found automatically: the fewest layers of a full-int8 model kept in float so that
it clears the quality bar.

The quantization debugger ranks the layers by their own int8 error (converters/quant_debugger.py);
the search keeps them in float in that order, one step at a time, and stops at the first set that
clears. A step is one Keras layer, however many TFLite ops it maps to; a layer in the model's
front end (an in-graph spectrogram and its normalised log: basic-pitch's LOG ranks first, and its
input's int8 range, set upstream, is what breaks it) is tried alone, then with the layers upstream
of it as one block. Each set is judged by `judge` (tune's: the file's fidelity on held-out samples,
or its task metric), which the caller owns. `max_steps` caps the ranked layers tried.
"""

from __future__ import annotations

import dataclasses

from edgekit.converters import selective
from edgekit.converters.quant_debugger import blamed_steps


@dataclasses.dataclass(frozen=True)
class Found:
    keep: selective.KeepFloat | None  # the first set that cleared, else the last tried (None: nothing to try)
    cleared: bool
    trials: list[dict]  # every set tried, in order: {"layers", "cleared", **what the judge said}
    io: str = "int"  # the inputs' and outputs' type it was found at (tune tries float ones when int8 ones cap it)

    def to_dict(self) -> dict:
        return {"layers": list(self.keep.layers) if self.keep else [], "cleared": self.cleared, "io": self.io,
                "trials": self.trials}


def search(calibrated: selective.Calibrated, ranking: list[dict], judge, max_steps: int, log,
           stop=lambda: False) -> Found:
    """`judge(keep) -> (cleared, summary dict)` for full int8 with `keep` in float; `stop()` true
    (the caller's budget spent) ends the search with what it has."""
    io = calibrated.io
    kept: list[str] = []
    trials: list[dict] = []
    last = None
    for number, step in enumerate(blamed_steps(ranking, calibrated)[:max_steps], 1):
        if step.layer in kept:  # already float inside an earlier block
            continue
        for tried in _growths(kept, step):
            if stop():
                return Found(last, False, trials, io)
            keep = selective.resolve(calibrated, tried)
            log(f"int8 with {', '.join(tried)} in float (step {number})")
            cleared, summary = judge(keep)
            trials.append({"layers": tried, "io": io, "cleared": cleared, **summary})
            last = keep
            if cleared:
                return Found(keep, True, trials, io)
        kept = tried  # the block stays float: the next ranked layer is tried on top of it
    return Found(last, False, trials, io)


def _growths(kept: list[str], step) -> list[list[str]]:
    """The sets a step tries: the ranked layer added alone, then its front-end block when it has one."""
    alone = [*kept, step.layer]
    block = [*kept, *(name for name in step.block if name not in kept)]
    return [alone] if set(block) == set(alone) else [alone, block]
