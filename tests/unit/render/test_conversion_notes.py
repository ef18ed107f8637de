import numpy as np

from edgekit.measure.fidelity import compare
from edgekit.measure.quality import verdict
from edgekit.render.table import per_output_lines


def test_a_file_with_several_outputs_gets_each_output_s_figures_and_verdict():
    rng = np.random.default_rng(0)
    onset, note = rng.standard_normal((20, 30, 1)), rng.standard_normal((20, 30, 1))
    probs = np.eye(4)[np.arange(20) % 4]
    fid = compare({"onset": onset, "note": note, "probs": probs},
                  {"onset": onset * 1.3, "note": note * 1.001, "probs": probs})
    several = {"path": "m_int8.tflite", "fidelity": fid, "quality": verdict(fid, "int8")}
    one = {"path": "m_fp32.tflite", "fidelity": compare({"y": note}, {"y": note})}
    assert per_output_lines([several, one]) == [
        "  m_int8.tflite: onset 10.5 dB (degraded), note 60.0 dB, probs 200.0 dB top-1 100.0%"]
