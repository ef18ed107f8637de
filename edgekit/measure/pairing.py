"""Which tensor of a converted file is which tensor of its float model (pitfall 24).

Exporters name a file's tensors after the graph, not after the model's signature. Converted
from a SavedModel, TFLite and tf2onnx (through TensorFlow 1's loader, as files in the wild are)
name an input `serving_default_<name>:0` and the N-th output `StatefulPartitionedCall:N` (in a
TFLite file without signatures, `StatefulPartitionedCall_1:N` too); tf2onnx `--use-graph-names`
gives `<name>:0` and `Identity:0`, `Identity_1:0`, ... N counts the signature's outputs as it
flattens its dict of them: sorted by name (tf2onnx's loader says so), which is the order edgekit
lists a SavedModel's outputs in; a Keras 3 export names them `output_0`, `output_1`, ... in the
model's own order.

A file's tensors pair with the float model's, each by the first rule that pairs it:
1. the same name;
2. the same name without exporter decorations (`serving_default_` prefix, `:N` suffix);
3. an output named by its index (`StatefulPartitionedCall:N`, `Identity_N:0`): the N-th of the
   float model's outputs as listed, else in name order, when rank and dtype agree;
4. position, among those left: when they are as many on both sides and each pair agrees in rank,
   dtype (a quantized tensor counts as float: it is fed and read as floats) and fixed dimensions.
A tensor left unpaired is bad input: one line naming it and the fix.
"""

from __future__ import annotations

import dataclasses
import re

from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import EdgekitError

EXACT, UNDECORATED, INDEX, POSITION = ("name", "name without exporter decorations",
                                       "the exporter's output index", "position")

_PREFIX = "serving_default_"  # the signature's key, which a SavedModel's graph puts before each input
_SUFFIX = re.compile(r":\d+$")  # a graph tensor's output index
# the N-th output of the signature's call (TFLite, tf2onnx through TF1's loader) or of its frozen graph
_INDEXED = re.compile(r"^(?:(?:Stateful)?PartitionedCall(?:_\d+)?:(\d+)|Identity(?:_(\d+))?:0)$")


def undecorated(name: str) -> str:
    """`name` without what exporters add to it: `serving_default_input_2:0` -> `input_2`."""
    name = _SUFFIX.sub("", name)
    return name[len(_PREFIX):] if name.startswith(_PREFIX) and len(name) > len(_PREFIX) else name


def output_index(name: str) -> int | None:
    """N for an output an exporter named by its index (`StatefulPartitionedCall:N`, `Identity_N:0`)."""
    found = _INDEXED.match(name)
    if not found:
        return None
    return int(found.group(1) if found.group(1) is not None else found.group(2) or 0)


@dataclasses.dataclass(frozen=True)
class Pairing:
    """A file's tensors paired with its float model's: the file's name -> the float model's name,
    inputs in the file's order and outputs in the float model's, with the rule that paired each."""
    inputs: dict[str, str]
    outputs: dict[str, str]
    rules: dict[tuple[str, str], str]  # (input or output, the file's name) -> the rule

    @property
    def exact(self) -> bool:
        return all(rule == EXACT for rule in self.rules.values())

    def file_feeds(self, feeds: dict) -> dict:
        """Feeds keyed by the float model's input names, keyed by the file's."""
        return {mine: feeds[theirs] for mine, theirs in self.inputs.items()}

    def file_input(self, name: str) -> str:
        """The file's name of the float model's input `name`."""
        return next(mine for mine, theirs in self.inputs.items() if theirs == name)

    def float_outputs(self, outputs: dict) -> dict:
        """The file's outputs keyed by the float model's output names, in its order."""
        return {theirs: outputs[mine] for mine, theirs in self.outputs.items()}

    def describe(self) -> str:
        """The mapping, rule by rule, for a log line: 'by name without exporter decorations:
        serving_default_input_2:0 -> input_2; ...'."""
        groups: dict[str, list[str]] = {}
        for (kind, mine), rule in self.rules.items():
            if rule != EXACT:
                theirs = (self.inputs if kind == "input" else self.outputs)[mine]
                groups.setdefault(rule, []).append(f"{mine} -> {theirs}")
        return "; ".join(f"by {rule}: {', '.join(pairs)}" for rule, pairs in groups.items())

    def to_dict(self) -> dict:
        """What a record or a manifest keeps: the mapping and the rules that made it."""
        return {"inputs": dict(self.inputs), "outputs": dict(self.outputs),
                "rules": sorted({rule for rule in self.rules.values() if rule != EXACT})}


def pair(file_inputs: list[TensorSpec], float_inputs: list[TensorSpec], file_outputs: list[TensorSpec] | None = None,
         float_outputs: list[TensorSpec] | None = None, *, file: str = "the file",
         float_model: str = "the float model", fix: str = "give the float model the file was converted from") -> Pairing:
    """Pair `file`'s inputs (and outputs, when both sides' are given) with `float_model`'s; an
    EdgekitError naming the tensors left unpaired and `fix` when some are."""
    rules: dict[tuple[str, str], str] = {}
    inputs = _pair_side(file_inputs, float_inputs, "input", rules, file, float_model, fix)
    outputs = {}
    if file_outputs is not None and float_outputs is not None:
        found = _pair_side(file_outputs, float_outputs, "output", rules, file, float_model, fix)
        by_float = {theirs: mine for mine, theirs in found.items()}
        outputs = {by_float[t.name]: t.name for t in float_outputs}
    return Pairing(inputs, outputs, rules)


def pair_names(given: list[str], wanted: list[str]) -> dict[str, str] | None:
    """`given` names (a data file's keys) -> `wanted` names (a model's inputs), by exact name, then
    without exporter decorations; None when some are left unpaired."""
    found = _by_name(given, wanted, lambda n: n) or {}
    left_given = [n for n in given if n not in found]
    left_wanted = [n for n in wanted if n not in found.values()]
    found.update(_by_name(left_given, left_wanted, undecorated) or {})
    return found if len(found) == len(given) == len(wanted) else None


def _pair_side(mine: list[TensorSpec], theirs: list[TensorSpec], kind: str, rules: dict, file: str,
               float_model: str, fix: str) -> dict[str, str]:
    found: dict[str, str] = {}

    def left():
        return ([t for t in mine if t.name not in found],
                [t for t in theirs if t.name not in found.values()])

    for rule, key in ((EXACT, lambda n: n), (UNDECORATED, undecorated)):
        a, b = left()
        for m, t in (_by_name([s.name for s in a], [s.name for s in b], key) or {}).items():
            found[m], rules[(kind, m)] = t, rule
    if kind == "output":
        a, b = left()
        for m, t in _by_index(a, b, theirs).items():
            found[m], rules[(kind, m)] = t, INDEX
    a, b = left()
    if len(a) == len(b) and all(map(_compatible, a, b)):
        for m, t in zip(a, b):
            found[m.name], rules[(kind, m.name)] = t.name, POSITION
    a, b = left()
    if a or b:
        raise EdgekitError(
            f"cannot pair the {kind}s of {file} with those of {float_model}: "
            + (f"{_listed(a)} of the file" if a else "") + (" and " if a and b else "")
            + (f"{_listed(b)} of the float model" if b else "")
            + " match by neither name (even without exporter decorations such as serving_default_ and :0) nor "
            f"position (count, rank, dtype and fixed dimensions): {fix}")
    return found


def _by_name(mine: list[str], theirs: list[str], key) -> dict[str, str] | None:
    """Pairs whose keys are equal and unique on both sides (a key two tensors share pairs neither)."""
    keys_mine, keys_theirs = [key(n) for n in mine], [key(n) for n in theirs]
    return {m: theirs[keys_theirs.index(k)] for m, k in zip(mine, keys_mine)
            if keys_mine.count(k) == 1 and keys_theirs.count(k) == 1}


def _by_index(mine: list[TensorSpec], theirs: list[TensorSpec], every: list[TensorSpec]) -> dict[str, str]:
    """Outputs named by the exporter's index, all of them or none: N is the float model's N-th
    output as listed (a Keras 3 export), else in name order (a SavedModel signature's dict)."""
    indices = [output_index(t.name) for t in mine]
    if not mine or None in indices or len(set(indices)) != len(indices) or max(indices) >= len(every):
        return {}
    left = {t.name for t in theirs}
    for order in (every, sorted(every, key=lambda t: t.name)):
        chosen = [order[i] for i in indices]
        if all(t.name in left for t in chosen) and all(map(_compatible, mine, chosen)):
            return {m.name: t.name for m, t in zip(mine, chosen)}
    return {}


def _compatible(mine: TensorSpec, theirs: TensorSpec) -> bool:
    """The same rank and kind of values, and the same size wherever both fix one."""
    return (len(mine.shape) == len(theirs.shape) and _values(mine) == _values(theirs)
            and all(a is None or b is None or a == b for a, b in zip(mine.shape, theirs.shape)))


def _values(spec: TensorSpec) -> str:
    """float, int, bool, ...: a quantized tensor is fed and read as floats."""
    if spec.quantized or "float" in spec.dtype:
        return "float"
    return {"int": "int", "uin": "int", "boo": "bool"}.get(spec.dtype[:3], spec.dtype)


def _listed(specs: list[TensorSpec]) -> str:
    return ", ".join(s.name for s in specs)
