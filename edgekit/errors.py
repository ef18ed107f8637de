"""The errors a user sees. Each carries one line that names the problem and the fix."""


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
