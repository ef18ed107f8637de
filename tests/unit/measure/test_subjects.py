"""What bench measures a path against (issue 33: a folder written by `edgekit compile` from a
converted file follows its compile.json to the float model, as a convert folder its manifest)."""

import json
import shutil

import pytest

from edgekit.core.artifacts import sha256_of
from edgekit.core.errors import EdgekitError
from edgekit.measure import subjects
from tests.conftest import REPO
from tests.corpus.cases import TINY_TFLITE

FLOAT = REPO / "models" / "digits_mlp" / "model.keras"


def compiled_folder(tmp_path, **record):
    folder = tmp_path / "tiny-npu"
    folder.mkdir()
    shutil.copyfile(TINY_TFLITE, folder / "tiny_intel_openvino_LNL.tflite")
    targets = [{"target": "intel_openvino:LNL", "status": "ok", "file": "tiny_intel_openvino_LNL.tflite"},
               {"target": "qualcomm:ALL", "status": "skipped", "reason": "the qualcomm plugin did not load"}]
    (folder / "compile.json").write_text(json.dumps({"kind": "edgekit compile", "name": "tiny", "targets": targets,
                                                     **record}))
    return folder


def test_a_compiled_file_follows_its_compile_record_to_the_float_model(tmp_path):
    folder = compiled_folder(tmp_path, source={"path": str(FLOAT), "sha256": sha256_of(FLOAT)},
                             config={"input_shape": []})
    for path in (folder, folder / "tiny_intel_openvino_LNL.tflite"):
        subject = subjects.find(path, None)
        assert subject.reference == FLOAT and subject.note is None
        assert [a.name for a in subject.artifacts] == ["tiny_intel_openvino_LNL.tflite"] and subject.name == "tiny"


def test_a_compile_record_without_a_conversion_has_no_float_model_and_a_damaged_one_is_refused(tmp_path):
    folder = compiled_folder(tmp_path)  # compiled from a file no manifest listed
    subject = subjects.find(folder / "tiny_intel_openvino_LNL.tflite", None)
    assert subject.reference is None and "give --reference MODEL" in subject.note
    (folder / "compile.json").write_text(json.dumps({"name": "tiny", "source": {"path": str(FLOAT)}, "targets": []}))
    with pytest.raises(EdgekitError, match=r"compile.json is not a readable edgekit compile record .*: compile again"):
        subjects.find(folder, None)


def test_conversion_of_is_what_a_convert_manifest_records_of_the_files_it_lists(tmp_path):
    (tmp_path / "m_int8.tflite").write_bytes(TINY_TFLITE.read_bytes())
    source = {"path": str(FLOAT), "sha256": sha256_of(FLOAT)}
    (tmp_path / "manifest.json").write_text(json.dumps({
        "name": "m", "source": source, "calibration": None, "config": {"input_shape": []},
        "artifacts": [{"path": "m_int8.tflite", "format": "tflite", "variant": "int8"}]}))
    assert subjects.conversion_of(tmp_path / "m_int8.tflite") == {"source": source, "config": {"input_shape": []}}
    assert subjects.conversion_of(TINY_TFLITE) == {}
