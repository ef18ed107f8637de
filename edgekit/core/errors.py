"""The errors a user sees. Each carries one line that names the problem and the fix.

A message names an option as its caller wrote it: `--opset` under the `edgekit` command (which
calls `naming_cli_options()`), `opset=` from Python (`option`, `switch`), and a suite's field
(`"runs": 1 in the suite`) within a sweep's jobs, which run with no command-line options at all
(`naming_suite_fields()`).
"""

import contextlib

# how messages name options: "python", "cli" (the command line's run) or "suite" (a sweep's jobs);
# a global, not a contextvar: worker threads read it
_naming = "python"
# edgekit's option -> the suite field that sets it (edgekit/workflows/suite.py); others have no field
SUITE_FIELDS = {"tflite": "tflite", "onnx": "onnx", "runtime": "runtimes", "threads": "threads", "runs": "runs",
                "warmup": "warmup", "batch": "batch", "trust_model_code": "trust_model_code"}


class EdgekitError(Exception):
    """Bad input or an unusable result: printed as one line, exit code 2."""

    exit_code = 2

    def __init__(self, *args, detail: str | None = None):
        super().__init__(*args)
        self.detail = detail  # a runtime's own words, where the message translates them (a record's `detail`)


class BackendUnavailable(EdgekitError):
    """A runtime, delegate or converter that cannot run on this machine; the message says why."""


class ConversionFailed(EdgekitError):
    """One variant could not be built; the run reports it and goes on with the others."""


class Unavailable(ConversionFailed):
    """A variant the converter or runtime cannot build or run for this model's ops (not a fault of
    the file or a fidelity verdict): listed with its reason; a failure only when the user named it."""


class GateFailed(EdgekitError):
    """A quality gate (fidelity bound, regression limit) was not met: exit code 1."""

    exit_code = 1


def unreadable(path, exc: OSError, what: str = "") -> EdgekitError:
    """One line for an OSError met reading a path the user gave (permissions, a link loop, a name
    too long): the user's to fix, not a bug."""
    return EdgekitError(f"{what + ' ' if what else ''}{path} cannot be read ({exc.strerror or first_line(exc)}): "
                        "check the path and its permissions")


def last_line(text: str, limit: int = 300) -> str:
    """The last non-empty line a native tool printed: where its reason usually is."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "no message")[:limit]


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first non-empty line of an exception's message (backends raise pages of text)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:limit]


def option(name: str, value=None) -> str:
    """An option as the caller wrote it: "--opset" or, with its value, "--opset 99" on the command
    line; "opset" or "opset=99" from Python; the suite's "runs" or "runs": 1 in a sweep's jobs.
    `name` is the Python name (max_calib_samples)."""
    if _naming == "suite" and name in SUITE_FIELDS:
        return f'"{SUITE_FIELDS[name]}"' + ("" if value is None else f": {value}") + " in the suite"
    if _naming == "cli":
        return f"--{name.replace('_', '-')}" + ("" if value is None else f" {value}")
    return name if value is None else f"{name}={value}"


def switch(name: str) -> str:
    """A flag that takes no value: "--trust-model-code" on the command line, "trust_model_code=True"
    from Python, "trust_model_code": true in a sweep's jobs."""
    if _naming == "suite" and name in SUITE_FIELDS:
        return option(name, "true")
    return option(name) if _naming == "cli" else f"{name}=True"


@contextlib.contextmanager
def _naming_as(how: str):
    global _naming
    before, _naming = _naming, how
    try:
        yield
    finally:
        _naming = before


def naming_cli() -> bool:
    """Whether messages name command-line flags now (the `edgekit` command's run)."""
    return _naming == "cli"


def naming_cli_options():
    """Within it, messages name options as command-line flags (the `edgekit` command's run)."""
    return _naming_as("cli")


def naming_suite_fields():
    """Within it, messages name options as the suite fields that set them (a sweep's jobs: `edgekit
    sweep` takes none of convert's or bench's flags)."""
    return _naming_as("suite")


def did_you_mean(word: str, choices) -> str:
    """' (did you mean int8?)' for a name close to one of `choices`, else ''."""
    from difflib import get_close_matches

    close = get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]}?)" if close else ""
