"""What an artifact is benchmarked on: a runtime with its options, named as on the command line.

    keras:cpu  keras:gpu
    litert:xnnpack  litert:builtin (alias default-kernels)  litert:reference  litert:delegate
    litert-compiled:cpu  litert-compiled:gpu  litert-compiled:npu
    onnxruntime:cpu  onnxruntime:cuda  onnxruntime:tensorrt  onnxruntime:openvino  (any EP it lists)
    tflm:host  (TFLite Micro's reference kernels on this host; only when asked for, or --mcu)

A bare runtime name means all of its default targets. Thread counts multiply the targets that
take them; TensorFlow's pools are fixed at start-up, so Keras targets run once.
"""

from __future__ import annotations

import dataclasses

from edgekit.core.errors import EdgekitError, did_you_mean, option
from edgekit.runtimes import RUNTIMES

ARTIFACT_FORMATS = ("tflite", "onnx")
KERNEL_ALIASES = {"xnnpack": "xnnpack", "builtin": "builtin", "default-kernels": "builtin",
                  "reference": "reference"}
ORT_DEFAULT_PROVIDERS = ("CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider",
                         "OpenVINOExecutionProvider")

REMOTE_PROVIDERS = ("AzureExecutionProvider",)
# every name --runtime takes, for "did you mean" (onnxruntime's providers are added from the build)
RUNTIME_NAMES = ("keras", "keras:cpu", "keras:gpu", "litert", *(f"litert:{k}" for k in (*KERNEL_ALIASES, "delegate")),
                 "litert-compiled", "litert-compiled:cpu", "litert-compiled:gpu", "litert-compiled:npu",
                 "onnxruntime", "tflm", "tflm:host")


@dataclasses.dataclass(frozen=True)
class Target:
    runtime: str  # a key of runtimes.RUNTIMES
    variant: str  # what follows the colon: kernels, device, accelerator or provider
    options: tuple[tuple[str, object], ...] = ()  # passed to Runtime.open

    @property
    def label(self) -> str:
        threads = dict(self.options).get("threads")
        return f"{self.runtime}:{self.variant}" + (f" x{threads}" if threads else "")

    @property
    def name(self) -> str:
        return f"{self.runtime}:{self.variant}"

    def open_options(self) -> dict:
        return dict(self.options)


@dataclasses.dataclass(frozen=True)
class TargetSettings:
    """Command-line settings that shape targets: threads, delegate, NPU dispatch library."""

    threads: tuple[int, ...] = (1,)
    delegate: str | None = None
    delegate_options: tuple[tuple[str, str], ...] = ()
    dispatch_library: str | None = None
    npu_backend: str = "npu"  # Intel OpenVINO's dispatch: the device it compiles for (npu, gpu, cpu)


def parse_threads(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise EdgekitError(f"{option('threads', repr(text))} is not a comma-separated list of counts "
                           "(e.g. 1,2,4)") from None
    if not counts or any(c < 1 for c in counts):
        raise EdgekitError(f"{option('threads', repr(text))}: every count must be 1 or more")
    return tuple(dict.fromkeys(counts))


def parse_options(items: list[str] | None, flag: str) -> tuple[tuple[str, str], ...]:
    """`key=value` pairs, as delegates take them."""
    pairs = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise EdgekitError(f"{flag} {item!r} is not key=value")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def parse(spec: str | None, settings: TargetSettings, formats: set[str]) -> list[Target]:
    """The targets a `--runtime` value names (None: every default target for `formats`)."""
    names = [s.strip() for s in spec.split(",") if s.strip()] if spec else _defaults(settings, formats)
    if not names:
        raise EdgekitError(f"{option('runtime')} is empty: name at least one runtime, e.g. litert:xnnpack")
    targets: list[Target] = []
    for name in names:
        for target in _expand(name, settings):
            if target not in targets:
                targets.append(target)
    return targets


def _defaults(settings: TargetSettings, formats: set[str]) -> list[str]:
    names = ["keras:cpu", "keras:gpu"]
    if "tflite" in formats:
        names += ["litert:xnnpack", "litert:builtin", "litert-compiled:cpu", "litert-compiled:gpu",
                  "litert-compiled:npu"]
        if settings.delegate:
            names.append("litert:delegate")
    if "onnx" in formats:
        names += [f"onnxruntime:{_short(p)}" for p in _ort_providers()]
    return names


def _ort_providers() -> list[str]:
    """The providers edgekit always reports on, then any other this onnxruntime build lists
    (except Azure's, which sends the model to a cloud endpoint rather than running it here)."""
    here = RUNTIMES["onnxruntime"].providers() if RUNTIMES["onnxruntime"].available()[0] else []
    return [p for p in dict.fromkeys([*ORT_DEFAULT_PROVIDERS, *here]) if p not in REMOTE_PROVIDERS]


def _threaded(runtime: str, variant: str, settings: TargetSettings, **options) -> list[Target]:
    return [Target(runtime, variant, tuple({**options, "threads": t}.items())) for t in settings.threads]


def _expand(name: str, settings: TargetSettings) -> list[Target]:
    runtime, _, variant = name.partition(":")
    if runtime == "keras":
        devices = [variant] if variant else ["cpu", "gpu"]
        if any(d not in ("cpu", "gpu") for d in devices):
            raise EdgekitError(f"--runtime {name}: keras runs on cpu or gpu{_close(name)}")
        return [Target("keras", d, (("device", d),)) for d in devices]
    if runtime == "litert":
        if variant == "delegate":
            if not settings.delegate:
                raise EdgekitError("--runtime litert:delegate needs --delegate PATH (the delegate's .so)")
            return _threaded("litert", "delegate", settings, delegate=settings.delegate,
                             delegate_options=dict(settings.delegate_options))
        kernels = [KERNEL_ALIASES.get(variant)] if variant else ["xnnpack", "builtin"]
        if None in kernels:
            raise EdgekitError(f"--runtime {name}: litert takes xnnpack, builtin (or default-kernels), "
                               f"reference or delegate{_close(name)}")
        return [t for k in kernels for t in _threaded("litert", k, settings, kernels=k)]
    if runtime == "litert-compiled":
        accelerators = [variant] if variant else ["cpu", "gpu", "npu"]
        if any(a not in ("cpu", "gpu", "npu") for a in accelerators):
            raise EdgekitError(f"--runtime {name}: litert-compiled takes cpu, gpu or npu{_close(name)}")
        return [t for a in accelerators for t in _threaded(
            "litert-compiled", a, settings, accelerator=a,
            **({"dispatch_library": settings.dispatch_library, "npu_backend": settings.npu_backend}
               if a == "npu" else {}))]
    if runtime == "onnxruntime":
        providers = _ort_providers()
        chosen = providers if not variant else [p for p in _all_ort_providers()
                                               if _short(p) == variant.lower()]
        if not chosen:
            raise EdgekitError(f"--runtime {name}: onnxruntime knows no such execution provider "
                               f"(e.g. {', '.join(map(_short, providers))}){_close(name)}")
        return [t for p in chosen for t in _threaded(
            "onnxruntime", _short(p), settings, provider=p)]
    if runtime == "tflm":
        if variant not in ("", "host"):
            raise EdgekitError(f"--runtime {name}: tflm runs TFLite Micro on this host only: write tflm{_close(name)}")
        return [Target("tflm", "host")]
    raise EdgekitError(f"--runtime {name}: unknown runtime {runtime!r}{_close(name)}; use keras, litert, "
                       "litert-compiled, onnxruntime or tflm")


def _close(name: str) -> str:
    """' (did you mean litert:xnnpack?)' for a near miss of a target's name."""
    providers = [f"onnxruntime:{_short(p)}" for p in _all_ort_providers()] if name.startswith("onnx") else []
    return did_you_mean(name, [*RUNTIME_NAMES, *providers])


def _all_ort_providers() -> list[str]:
    """Every provider onnxruntime knows of, built here or not."""
    try:
        import onnxruntime

        return onnxruntime.get_all_providers()
    except ImportError:
        return list(ORT_DEFAULT_PROVIDERS)


def _short(provider: str) -> str:
    """CUDAExecutionProvider -> cuda: the name a target uses."""
    return provider.removesuffix("ExecutionProvider").lower()
