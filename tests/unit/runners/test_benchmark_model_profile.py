"""A phone's per-op profile: LiteRT's benchmark_model op-profiling tables read from real outputs
its users posted (tests/data/benchmark_model, sources in SOURCES.md), its model-runtime-info
proto read into the placement of each node, and what a profiled run on the phone leaves (a tool
too old for the flags) turned into a profile or into the reason there is none."""

import re
import types
from pathlib import Path

import pytest

from edgekit.core.errors import BackendUnavailable, EdgekitError
from edgekit.runners import adb, benchmark_model, op_profile
from edgekit.runtimes.base import check_profile

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "benchmark_model"
MOBILENET = (SAMPLES / "op_profile_mobilenet_v1_riscv.txt").read_text()  # builtin kernels, 31 nodes
DEEPLAB = (SAMPLES / "op_profile_nnapi_deeplab.txt").read_text()  # NNAPI took 3 partitions, 5 ops stayed


def test_the_text_table_gives_every_node_in_run_order_with_its_time_per_run():
    ops = op_profile.parse_op_profile(MOBILENET)
    assert [op["index"] for op in ops] == list(range(31))  # the regular runs' table, not initialization's
    assert [op["type"] for op in ops].count("CONV_2D") == 15 and ops[-1]["type"] == "SOFTMAX"
    assert ops[0] == {"index": 0, "name": "MobilenetV1/MobilenetV1/Conv2d_0/Relu6", "type": "CONV_2D",
                      "executor": "builtin", "us": 60957.0}
    # the per-op sum is the tool's own total of the profiled runs ("Timings ... avg=2.9499e+06")
    assert sum(op["us"] for op in ops) == pytest.approx(2.9499e6, rel=1e-4)
    found = op_profile.place(ops, None, None, 50)
    check_profile(found)
    assert (found["partitions"], found["fully_delegated"], found["left_on_cpu"]) == (0, None, [])


def test_a_delegate_s_kernels_are_its_partitions_and_the_rest_stays_on_the_cpu():
    ops = op_profile.parse_op_profile(DEEPLAB)
    total = sum(op["us"] for op in ops)
    assert round(100 * ops[0]["us"] / total, 3) == 21.939  # the tool's own [%] column
    assert ops[0]["name"] == "MobilenetV2/expanded_conv_16/project/add_fold, aspp0/Relu"
    found = op_profile.place(ops, None, "NNAPI", 50)
    check_profile(found)
    assert [op["executor"] for op in found["ops"]] == [
        "NNAPI partition 0", "builtin", "NNAPI partition 1", "builtin", "NNAPI partition 2", "builtin", "builtin",
        "builtin"]
    assert found["partitions"] == 3 and found["fully_delegated"] is False
    assert [(op["index"], op["type"]) for op in found["left_on_cpu"]] == [
        (61, "AVERAGE_POOL_2D"), (63, "RESIZE_BILINEAR"), (68, "RESIZE_BILINEAR"), (69, "RESIZE_BILINEAR"),
        (70, "ARG_MAX")]
    assert found["left_on_cpu"][0]["reason"] == "NNAPI did not take it"


def as_csv(text: str) -> str:
    """The real table's rows in the tool's CSV layout (StatsCalculator::ColumnString with
    format_as_csv: ", " between fields, a name's commas turned into tabs), with no other change."""
    lines = []
    for line in text.splitlines():
        if line.startswith("\t"):
            fields = [field.strip() for field in line.split("\t")[1:]]
            if fields[0].startswith("["):  # the header
                line = ", ".join(field.strip("[]").replace(" ms", "_ms") for field in fields).replace("Name", "name")
            else:
                line = ", ".join(fields[:-1] + [fields[-1].replace(", ", "\t")])
        lines.append(line)
    return "\n".join(lines)


def test_the_csv_file_reads_as_its_text_table():
    csv = as_csv(DEEPLAB)
    assert "node type, start, first, avg_ms, %, cdf%, mem KB, times called, name" in csv
    assert "[MobilenetV2/expanded_conv_16/project/add_fold\taspp0/Relu]:71" in csv
    assert op_profile.parse_op_profile(csv) == op_profile.parse_op_profile(DEEPLAB)
    assert op_profile.parse_op_profile(as_csv(MOBILENET)) == op_profile.parse_op_profile(MOBILENET)


def test_a_row_called_several_times_a_run_counts_all_its_calls():
    # XNNPACK's own operators (TF >= 2.9) share a row per kind and position (times called 13 at avg
    # 0.051 ms); the row as LiteRT's profile_summarizer.cc names it ("Delegate/<operator>:<n>", the
    # operator as its type), in the newer table without [start]
    text = (OPERATOR_WISE_HEAD + "\t                 Convolution (NHWC, QC8) DWConv\t    0.428\t    0.051\t  4.317%\t"
            "  8.304%\t     0.000\t       13\tDelegate/Convolution (NHWC, QC8) DWConv:1\n")
    [op] = op_profile.parse_op_profile(text)
    assert op == {"index": 1, "name": "Delegate/Convolution (NHWC, QC8) DWConv:1",
                  "type": "Convolution (NHWC, QC8) DWConv", "executor": "delegate", "us": 663.0, "calls": 13}
    found = op_profile.place([op], None, "XNNPACK", 20)
    assert found["ops"][0]["executor"] == "XNNPACK" and found["partitions"] is None  # its partitions are not said
    assert found["fully_delegated"] is True


OPERATOR_WISE_HEAD = ("INFO: Operator-wise Profiling Info for Regular Benchmark Runs:\n"
                      "============================== Run Order ==============================\n"
                      "\t             [node type]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t"
                      "[times called]\t[Name]\n")


@pytest.mark.parametrize("text, problem", [
    ("count=50 curr=3\nInference timings in us: Init: 1, First inference: 2, Warmup (avg): 3, Inference (avg): 3\n",
     "has no \"Run Order\" table: run it with --enable_op_profiling=true"),
    (OPERATOR_WISE_HEAD.replace("[avg ms]", "[median]"), "has a header it is not known to write"),
    (OPERATOR_WISE_HEAD + "\tCONV_2D\t0.1\tfast\t1%\t1%\t0\t1\t[x]:0\n", "has a row it cannot read: 'CONV_2D"),
])
def test_a_table_that_cannot_be_read_says_why_in_one_line(text, problem):
    with pytest.raises(EdgekitError, match="^benchmark_model's op profile") as caught:
        op_profile.parse_op_profile(text)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def runtime_info_messages() -> types.SimpleNamespace:
    """The runtime-info proto's messages by name, as edgekit reads them (from TensorFlow's copy when
    TensorFlow is loaded: LiteRT's cannot load beside it)."""
    from google.protobuf import message_factory

    found = op_profile.runtime_details_message().DESCRIPTOR.file.message_types_by_name
    return types.SimpleNamespace(**{name: message_factory.GetMessageClass(d) for name, d in found.items()})


def deeplab_runtime_info() -> bytes:
    """The runtime info the tool writes (model_runtime_info.cc) for the NNAPI run above: the
    original nodes 0-70, the three NNAPI nodes 71-73 that replaced all but the five left on the
    CPU, and the execution plan of the eight nodes that ran. Built with the LiteRT wheel's
    model_runtime_info_pb2: no real one was found posted."""
    pb = runtime_info_messages()

    left = {61: ("AVERAGE_POOL_2D", "AvgPool2D/AvgPool"), 63: ("RESIZE_BILINEAR", "ResizeBilinear"),
            68: ("RESIZE_BILINEAR", "ResizeBilinear_1"), 69: ("RESIZE_BILINEAR", "ResizeBilinear_2"),
            70: ("ARG_MAX", "ArgMax")}
    replaced = {71: list(range(61)), 72: [62], 73: [64, 65, 66, 67]}
    outputs = {71: ["MobilenetV2/expanded_conv_16/project/add_fold", "aspp0/Relu"], 72: ["image_pooling/Relu"],
               73: ["logits/semantic/BiasAdd"]}
    graph = pb.RuntimeSubgraph(subgraph_id=0, subgraph_type=pb.RuntimeSubgraph.TFLITE_SUBGRAPH, name="main",
                               execution_plan=[71, 61, 72, 63, 73, 68, 69, 70])
    names = [name for _, name in left.values()] + [name for names in outputs.values() for name in names]
    graph.edges.extend(pb.Edge(id=i, name=name) for i, name in enumerate(names))
    edge = {name: i for i, name in enumerate(names)}
    for node_id in range(74):
        node = graph.nodes.add(id=node_id)
        if node_id in left:
            node.name, node.type = left[node_id][0], "0"
            node.outputs.append(edge[left[node_id][1]])
        elif node_id in replaced:
            node.name = node.type = "TfLiteNnapiDelegate"
            node.delegate_node_details.delegate_name = "TfLiteNnapiDelegate"
            node.delegate_node_details.tflite_node_ids_replaced.extend(replaced[node_id])
            node.outputs.extend(edge[name] for name in outputs[node_id])
        else:
            node.name, node.type = "CONV_2D", "3"
            node.delegated_to_node_id = next(k for k, nodes in replaced.items() if node_id in nodes)
    return pb.ModelRuntimeDetails(model_name="deeplab", subgraphs=[graph]).SerializeToString()


def test_the_runtime_info_says_which_partition_took_each_node():
    placement = op_profile.parse_runtime_info(deeplab_runtime_info())
    assert placement["delegates"] == {71: "NNAPI partition 0", 72: "NNAPI partition 1", 73: "NNAPI partition 2"}
    assert placement["nodes"][5]["executor"] == "NNAPI partition 0"  # a node the first partition replaced
    assert placement["nodes"][62]["executor"] == "NNAPI partition 1"
    assert placement["nodes"][70] == {"name": "ArgMax", "type": "ARG_MAX", "executor": "builtin"}
    reasons = op_profile.refusals((SAMPLES / "gpu_refusals_tensorflow_57907.txt").read_text())
    found = op_profile.place(op_profile.parse_op_profile(DEEPLAB), placement, "NNAPI", 50, reasons)
    check_profile(found)
    assert [op["executor"] for op in found["ops"]][:3] == ["NNAPI partition 0", "builtin", "NNAPI partition 1"]
    assert found["partitions"] == 3 and found["fully_delegated"] is False
    assert [(op["index"], op["name"]) for op in found["left_on_cpu"]] == [
        (61, "AvgPool2D/AvgPool"), (63, "ResizeBilinear"), (68, "ResizeBilinear_1"), (69, "ResizeBilinear_2"),
        (70, "ArgMax")]
    assert found["left_on_cpu"][-1]["reason"] == "Operation is not supported."  # the delegate's own words
    assert found["left_on_cpu"][0]["reason"] == "NNAPI did not take it"


def test_runtime_info_that_is_not_one_is_one_line():
    with pytest.raises(EdgekitError, match="^benchmark_model's model runtime info cannot be read"):
        op_profile.parse_runtime_info(b"\xff\xff\xff not a proto")


def test_the_gpu_delegate_s_refusals_are_read_with_their_reasons():
    reasons = op_profile.refusals((SAMPLES / "gpu_refusals_tensorflow_57907.txt").read_text())
    assert len(reasons) == 11 and reasons["CAST"] == "Not supported cast case"
    assert reasons["DEQUANTIZE"] == "the delegate gave no reason"  # "DEQUANTIZE: " and nothing after it
    assert "97" not in " ".join(reasons)  # the summary line ends the list


def test_the_profiled_run_s_flags():
    assert benchmark_model.profile_flags("/d/p.csv", "/d/i.pb") == [
        "--enable_op_profiling=true", "--op_profiling_output_mode=csv", "--op_profiling_output_file=/d/p.csv",
        "--export_model_runtime_info=true", "--model_runtime_info_output_file=/d/i.pb"]
    assert benchmark_model.asked_delegate(benchmark_model.target_flags("litert", {"kernels": "xnnpack"})) == "XNNPACK"
    assert benchmark_model.asked_delegate(benchmark_model.target_flags("litert", {"kernels": "builtin"})) is None
    assert benchmark_model.asked_delegate(["--use_gpu=true"]) == "GPU"


def test_a_tool_that_prints_its_table_instead_of_writing_it_still_gives_a_profile():
    """An older benchmark_model ignores the output-file flags (a WARN line says so) and prints
    the table; it writes no runtime info either, so placement comes from the table."""
    report = ("Unconsumed cmdline flags: --op_profiling_output_mode=csv --export_model_runtime_info=true\n"
              + MOBILENET)
    found = adb.read_profile(None, None, report, None, 50)
    assert len(found["ops"]) == 31 and found["runs"] == 50 and found["method"] == "profiler"
    assert found["note"] == ("placement read from the op table: this benchmark_model wrote no runtime info (it "
                             "ignored --op_profiling_output_mode=csv --export_model_runtime_info=true)")


def test_a_tool_that_gives_no_table_makes_the_profile_unavailable_not_the_row_failed():
    report = ("Unconsumed cmdline flags: --enable_op_profiling=true --op_profiling_output_mode=csv\n"
              + (SAMPLES / "cpu_tensorflow_42507.txt").read_text())  # its timings stand; no table
    with pytest.raises(BackendUnavailable) as caught:
        adb.read_profile(None, None, report, "XNNPACK", 20)
    message = str(caught.value)
    assert re.match(r"no per-op profile: benchmark_model's op profile has no \"Run Order\" table", message)
    assert message.endswith("(it ignored --enable_op_profiling=true --op_profiling_output_mode=csv: a newer "
                            "benchmark_model writes one)")
    assert benchmark_model.parse(report)["latency_us"]["mean"] == 33209.4  # the measurement itself reads


def test_the_csv_file_and_runtime_info_pulled_from_the_phone_make_the_profile():
    found = adb.read_profile(as_csv(DEEPLAB), deeplab_runtime_info(), "count=50 curr=52000\n", "NNAPI", 10)
    assert found["runs"] == 50 and "note" not in found  # the count of the profiled runs, from the tool's log
    assert found["partitions"] == 3 and len(found["left_on_cpu"]) == 5


def test_ops_another_delegate_took_are_left_on_the_cpu_for_the_one_asked_for():
    """A GPU run where XNNPACK took what the GPU refused: the GPU did not take those ops."""
    pb = runtime_info_messages()

    graph = pb.RuntimeSubgraph(subgraph_id=0, execution_plan=[3, 1, 4], edges=[pb.Edge(id=i, name=f"t{i}")
                                                                             for i in range(3)])
    for node_id, name in enumerate(["CONV_2D", "CUMSUM", "MEAN"]):
        node = graph.nodes.add(id=node_id, name=name, type=name, outputs=[node_id])
        if node_id != 1:
            node.delegated_to_node_id = 3 if node_id == 0 else 4
    for node_id, delegate, replaced in ((3, "TfLiteGpuDelegateV2", [0]), (4, "TfLiteXNNPackDelegate", [2])):
        node = graph.nodes.add(id=node_id, name=delegate, type=delegate)
        node.delegate_node_details.delegate_name = delegate
        node.delegate_node_details.tflite_node_ids_replaced.extend(replaced)
    placement = op_profile.parse_runtime_info(pb.ModelRuntimeDetails(subgraphs=[graph]).SerializeToString())
    found = op_profile.place([], placement, "GPU", 10, {"CUMSUM": "Operation is not supported."})
    assert found["partitions"] == 1 and found["fully_delegated"] is False
    assert [(op["index"], op["type"], op["reason"]) for op in found["left_on_cpu"]] == [
        (1, "CUMSUM", "Operation is not supported."),
        (2, "MEAN", "GPU did not take it; XNNPACK partition 0 ran it")]
    assert op_profile.place([], placement, "XNNPACK", 10)["partitions"] == 1


@pytest.mark.slow  # imports TensorFlow in a child
def test_reading_runtime_info_leaves_tensorflows_import_working():
    """LiteRT's runtime-info proto in protobuf's default pool would break TensorFlow's import
    after it (the same messages under another file name: "duplicate symbol")."""
    import subprocess
    import sys

    code = ("from edgekit.runners import op_profile; op_profile.runtime_details_message(); "
            "import tensorflow; print('imported')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "imported" in done.stdout, done.stderr[-2000:]
