"""The components the tests need, in one place. A missing one stops its test: here a skip that
says what is missing and how to install it; where `.ci/run` sets EDGEKIT_REQUIRE_ALL=1 (it installs
every one of them, so missing there means broken) a failure. No test passes because a component
is missing."""

import importlib.util
import os
import shutil

import pytest

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"  # OpenSSH's server, which tests/sshd.py starts
# component -> (is it here?, how to install it)
COMPONENTS = {
    "openvino": (lambda: importable("openvino"), 'pip install -e ".[npu]"'),
    "ray": (lambda: importable("ray"), 'pip install -e ".[ray]"'),
    "hypothesis": (lambda: importable("hypothesis"), 'pip install -e ".[test]"'),
    "tflite-micro": (lambda: importable("tflite_micro"), "pip install tflite-micro"),
    "playwright": (lambda: importable("playwright.sync_api"), 'pip install -e ".[test]"'),
    "chromium": (lambda: shutil.which("chromium") is not None, "apt install chromium"),
    "sshd": (lambda: os.path.exists(SSHD), "apt install openssh-server"),
    "adb": (lambda: shutil.which("adb") is not None, "apt install adb"),
    "cc": (lambda: c_compiler() is not None, "apt install gcc"),
}
# the flags of one component each, from before EDGEKIT_REQUIRE_ALL
OWN_FLAGS = {"chromium": "EDGEKIT_REQUIRE_BROWSER", "playwright": "EDGEKIT_REQUIRE_BROWSER",
             "sshd": "EDGEKIT_REQUIRE_SSHD"}


def importable(module: str) -> bool:
    """Whether `module` imports: a package that is there but broken counts as missing."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def c_compiler() -> str | None:
    return shutil.which("cc") or shutil.which("gcc")


def required(component: str) -> bool:
    """Whether this run must have `component` (CI), rather than skip what needs it."""
    return "1" in (os.environ.get("EDGEKIT_REQUIRE_ALL"), os.environ.get(OWN_FLAGS.get(component, ""), ""))


def require(component: str) -> None:
    """Go on if `component` is here; else skip the test, or fail it where it is required."""
    present, install = COMPONENTS[component]
    if not present():
        unavailable(component, f"{component} is not installed ({install})")


def unavailable(component: str, reason: str) -> None:
    """`component` cannot be used here, for `reason`: a skip, or a failure where it is required."""
    if required(component):
        pytest.fail(f"{reason}; EDGEKIT_REQUIRE_ALL=1 (.ci/run) requires it", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
