"""Work a model file's header can ask of edgekit's own process, bounded before it is done: the ops
counted without parsing one (--max-ops), random inputs sized before they are allocated
(--max-data-size), and inspect's arena plan, which is quadratic in the tensors alive at once."""

import random

import numpy as np
import pytest

from edgekit.core import limits
from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import EdgekitError, naming_cli_options
from edgekit.measure.subjects import random_inputs
from edgekit.models import graph_costs
from edgekit.models.inspection import op_count
from tests.corpus.make_corpus import chain_onnx, chain_tflite


@pytest.fixture(autouse=True)
def default_limits():
    limits._current = None
    yield
    limits._current = None


def test_ops_are_counted_from_the_file_without_parsing_one(tmp_path):
    (tmp_path / "chain.tflite").write_bytes(chain_tflite(1234))
    (tmp_path / "chain.onnx").write_bytes(chain_onnx(321))
    assert op_count(tmp_path / "chain.tflite") == (1234, True, 1235)  # ops, all counted, tensors
    assert op_count(tmp_path / "chain.onnx") == (321, True, 0)
    (tmp_path / "nested.onnx").write_bytes(_nested_onnx())
    assert op_count(tmp_path / "nested.onnx") == (1 + 1 + 3 + 4 + 5, True, 0)  # the If nodes and their branches
    for name in ("chain.tflite", "chain.onnx"):  # too damaged to tell: the parser says what is wrong
        (tmp_path / f"cut-{name}").write_bytes((tmp_path / name).read_bytes()[:60])
        assert op_count(tmp_path / f"cut-{name}") is None


def test_past_the_op_limit_a_file_is_refused_naming_its_count_and_the_option(tmp_path, monkeypatch):
    (tmp_path / "chain.onnx").write_bytes(chain_onnx(3000))
    monkeypatch.setenv("EDGEKIT_MAX_OPS", "100")
    counted = op_count(tmp_path / "chain.onnx")
    assert counted == (1001, False, 0)  # counting stops at ten times the limit
    with naming_cli_options(), pytest.raises(EdgekitError, match=r"chain.onnx holds 1,001 or more ops, over the "
                                                                 r"100 limit: raise it with --max-ops \(or EDGEKIT_MAX_OPS\)"):
        limits.check_ops(tmp_path / "chain.onnx", *counted)
    # from Python (and in a sweep's jobs) there is no flag to raise it with: the variable is named
    with pytest.raises(EdgekitError, match=r"over the 100 limit: raise it with EDGEKIT_MAX_OPS if that is expected"):
        limits.check_ops(tmp_path / "chain.onnx", *counted)
    with pytest.raises(EdgekitError, match="holds 5,000 tensors, over the 1,000 limit"):
        limits.check_ops(tmp_path / "x.tflite", 10, True, 5000)
    assert limits.parse("count", "300_000", "--max-ops") == 300000
    for bad in ("many", "0", "-5", "1.5"):
        with pytest.raises(EdgekitError, match="--max-ops .* is not a positive whole number"):
            limits.parse("count", bad, "--max-ops")


def test_random_inputs_are_sized_and_checked_before_they_are_allocated(tmp_path):
    huge = [TensorSpec("t0", "float32", (None, 1 << 40))]
    with pytest.raises(EdgekitError, match=r"model m.onnx: 64 random samples for its input 't0' \(each "
                                           r"\[1099511627776\] float32\) would take .* over the 4.0 GB data limit: "
                                           r"give real samples with --data, or raise EDGEKIT_MAX_DATA_SIZE"):
        random_inputs(huge, 64, "m.onnx")
    made = random_inputs([TensorSpec("x", "float32", (None, 8, 5))], 3, "m.tflite")
    assert made["x"].shape == (3, 8, 5) and made["x"].dtype == np.float32  # a free batch is the samples' axis
    with pytest.raises(EdgekitError, match=r"free dimensions \(x axis 2\).* input_shape=x:1,8,\?"):
        random_inputs([TensorSpec("x", "float32", (None, 8, None))], 3, "m.tflite")  # never 1 silently


def plan_every_pair(tensors, last_step):
    """LiteRT's greedy placement, as edgekit planned it before: every placed tensor looked at for
    each new one (the reference for the indexed plan)."""
    whole = [t for t in tensors if t[2] == 0 and t[3] >= last_step]
    rest = sorted((t for t in tensors if not (t[2] == 0 and t[3] >= last_step)), key=lambda t: (-t[1], t[2]))
    placed = []
    for _, size, begin, end in sorted(whole) + rest:
        offset, best, best_gap = 0, None, None
        for p_offset, p_end, p_first, p_last in placed:
            if p_last < begin or p_first > end:
                continue
            gap = p_offset - offset
            if gap >= size and (best_gap is None or gap < best_gap):
                best, best_gap = offset, gap
            offset = max(offset, graph_costs._align(p_end))
        placed.append((offset if best is None else best, (offset if best is None else best) + size, begin, end))
        placed.sort()
    return graph_costs._align(max((p[1] for p in placed), default=0))


def test_the_arena_plan_is_litert_s_greedy_one_and_bounded():
    rng = random.Random(0)
    for _ in range(1500):
        steps = rng.randint(0, 30)
        tensors = []
        for index in range(rng.randint(0, 40)):
            begin = rng.randint(0, steps)
            end = rng.randint(begin, steps)
            if rng.random() < 0.2:  # alive for the whole run, as the graph's inputs and outputs
                begin, end = 0, steps
            tensors.append((index, rng.choice([1, 8, 64, 100, 4096, rng.randint(1, 5000)]), begin, end))
        assert graph_costs.plan_arena(tensors, steps) == plan_every_pair(tensors, steps), tensors
    # a hostile graph whose 5,000 tensors are all alive at once: 12.5M looks at placed tensors
    alive_together = [(i, 64, i, 5000) for i in range(5000)]
    assert graph_costs.plan_arena(alive_together, 5000) is None


def _nested_onnx() -> bytes:
    """An If whose then-branch holds another If (3 and 4 nodes in its branches), else-branch 5 nodes."""
    from onnx import TensorProto, helper

    def branch(name, count):
        nodes = [helper.make_node("Identity", ["x" if i == 0 else f"{name}{i}"], [f"{name}{i + 1}"])
                 for i in range(count)]
        return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(f"{name}{count}", TensorProto.FLOAT,
                                                                                [1])])

    inner = helper.make_node("If", ["c"], ["z"], then_branch=branch("a", 3), else_branch=branch("b", 4))
    then = helper.make_graph([inner], "t", [], [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1])])
    outer = helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=branch("e", 5))
    graph = helper.make_graph([outer], "nested", [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                                                  helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
