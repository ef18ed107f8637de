"""The float source model itself (Keras file or SavedModel), run by TensorFlow on CPU or GPU.

It gives the reference outputs every converted artifact is compared with, and the float
baseline every artifact is measured against. TensorFlow's thread pools are fixed when it
starts, so a session reports the threads it has rather than taking a count.
"""

from __future__ import annotations

from pathlib import Path

from edgekit.core.errors import BackendUnavailable
from edgekit.core.lazy_imports import tensorflow
from edgekit.models.loading import is_keras_file, load_model
from edgekit.runtimes.base import Runtime, Session

DEVICES = ("cpu", "gpu")


class KerasRuntime(Runtime):
    name = "keras"
    formats = ("keras", "h5", "hdf5", "")  # "" is a SavedModel folder

    def takes(self, path: Path) -> bool:
        """A Keras file is known by its content whatever its name (a zip with config.json, HDF5), a
        SavedModel by being a folder (the loader checks it)."""
        return super().takes(path) or path.is_dir() or is_keras_file(path)

    def _available_impl(self) -> str:
        try:
            from importlib.metadata import PackageNotFoundError, version

            return f"tensorflow {version('tensorflow')}"
        except PackageNotFoundError:
            raise BackendUnavailable("tensorflow is not installed") from None

    def _open_impl(self, path: Path, trust_model_code: bool = False, device: str = "cpu") -> Session:
        gpus = tensorflow().config.list_physical_devices("GPU")
        if device == "gpu" and not gpus:
            raise BackendUnavailable("TensorFlow sees no GPU (a CUDA build and a visible device are needed)")
        return KerasSession(load_model(path, trust_model_code), f"/{device.upper()}:0")


class KerasSession(Session):
    def __init__(self, model, device: str):
        self.model, self.device = model, device
        self.inputs, self.outputs = model.inputs, model.outputs
        self._args, self._raw = None, None

    def _prepare_impl(self, feeds):
        tf = tensorflow()
        with tf.device(self.device):
            return [tf.constant(feeds[t.name]) for t in self.inputs]

    def _bind_impl(self, prepared):
        self._args = prepared

    def _invoke_impl(self):
        with tensorflow().device(self.device):
            # .numpy() waits for the device, so a GPU's asynchronous launch is not timed alone
            self._raw = {k: v.numpy() for k, v in self.model.serve(*self._args).items()}

    def _fetch_impl(self):
        return self._raw

    def details(self) -> dict:
        threading = tensorflow().config.threading
        return {"device": self.device, "threads": threading.get_intra_op_parallelism_threads() or None}

    def close(self):
        self.model.close()
