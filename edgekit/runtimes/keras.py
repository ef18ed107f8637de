"""The float source model itself (Keras file or SavedModel), run by TensorFlow.

It gives the reference outputs every converted artifact is compared with.
"""

from __future__ import annotations

from pathlib import Path

from edgekit.errors import BackendUnavailable
from edgekit.runtimes.base import Runtime, Session


class KerasRuntime(Runtime):
    name = "keras"
    formats = ("keras", "h5", "")  # "" is a SavedModel folder

    def _available_impl(self) -> str:
        try:
            from importlib.metadata import PackageNotFoundError, version

            return f"tensorflow {version('tensorflow')}"
        except PackageNotFoundError:
            raise BackendUnavailable("tensorflow is not installed") from None

    def _open_impl(self, path: Path, trust_model_code: bool = False) -> Session:
        from edgekit.loading import load_model

        return KerasSession(load_model(path, trust_model_code))


class KerasSession(Session):
    def __init__(self, model):
        self.model = model
        self.inputs, self.outputs = model.inputs, model.outputs

    def _prepare_impl(self, feeds):
        return {t.name: feeds[t.name] for t in self.inputs}

    def _invoke_impl(self, prepared):
        return self.model.predict(prepared)

    def close(self):
        self.model.close()
