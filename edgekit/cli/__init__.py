"""The `edgekit` command: one module per subcommand, no heavy import at start-up.

Errors meant for the user (`EdgekitError`) print one line and exit 2 (1 for a failed gate);
an unexpected error prints one line and exits 70; `--debug` shows the traceback instead.
Ctrl-C or SIGTERM, at any point, prints one line and exits 130 (edgekit/core/interrupts.py); outputs
are staged and renamed into place, so an interrupted run leaves the previous ones as they were.
An OSError that is the user's environment (a full disk, a name too long, a symlink loop, no
permission) is bad input too: one line, exit 2.

Messages go through `logging` (the `edgekit` logger); the command installs the one handler, on
stderr: -q shows only warnings and errors (the result still prints on stdout), -v adds detail.
Errors name options as flags here (`--opset`), as parameters from Python (edgekit.core.errors.option).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys

from edgekit.cli import options_file
from edgekit.core import interrupts, limits
from edgekit.core.errors import EdgekitError, did_you_mean, first_line, naming_cli_options
from edgekit.core.version import __version__

COMMANDS = ("convert", "bench", "profile", "report", "compare", "optimize", "debug-quant", "tune", "train", "zoo",
            "inspect", "export", "compile", "env", "sweep")  # each is edgekit/cli/<name>.py, with _ for -
COMMON_FLAGS = ("debug", "verbose", "quiet")  # every command takes them, before or after its name
INTERNAL_ERROR = 70  # sysexits' EX_SOFTWARE: kept apart from 1 (a gate failed) and 2 (bad input)


class _Formatter(argparse.HelpFormatter):
    def _format_usage(self, *args) -> str:  # a flag whose value is optional (`--json`) shows bare
        return super()._format_usage(*args).replace(" ]", "]")

    def _format_action_invocation(self, action) -> str:
        if action.option_strings and action.metavar == "":
            return ", ".join(action.option_strings)
        return super()._format_action_invocation(action)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that points at --help (with the closest choice)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        choice = re.search(r"invalid choice: '(.*?)' \(choose from (.*)\)", message)
        if choice:  # a mistyped command or value: the closest one
            message += did_you_mean(choice.group(1), re.findall(r"'(.*?)'", choice.group(2)))
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    # before or after the command alike: no default, or the command's would undo `edgekit -q convert` (_main sets it)
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--debug", action="store_true", help="show tracebacks and backend logs")
    loudness = common.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", help="more detail, e.g. where the time went")
    loudness.add_argument("-q", "--quiet", action="store_true", help="print only the result and errors")
    parser = OneLineParser(
        prog="edgekit",
        description="Convert a Keras model to validated TFLite and ONNX artifacts, and measure them.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"edgekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in COMMANDS:
        importlib.import_module(f"edgekit.cli.{name.replace('-', '_')}").register(sub, common)
    parser.commands = sub.choices
    for command in sub.choices.values():
        if options_file.options(command):  # every command that takes options takes a config file
            options_file.add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. Called without `argv` it is the program itself (the console script,
    `python -m edgekit`): then a signal after it returns is only recorded, never a traceback."""
    interrupts.install("edgekit")  # first: a signal from here on ends in the one interrupt line
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return interrupts.report()
    finally:
        interrupts.uninstall(keep_recording=argv is None)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    try:
        with naming_cli_options():  # a config file's values are checked as the options they stand for
            args = options_file.parse(parser, argv)
    except EdgekitError as exc:  # a config file that does not fit the command
        command = next((a for a in argv if a in parser.commands), "")
        print(f"edgekit {command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    for name in COMMON_FLAGS:
        setattr(args, name, getattr(args, name, False))
    if args.quiet and args.verbose:
        parser.error("argument -q/--quiet: not allowed with argument -v/--verbose")
    if args.command is None:
        parser.print_help()
        return 0
    interrupts.set_label(f"edgekit {args.command}")
    if args.debug:
        os.environ["EDGEKIT_DEBUG"] = "1"
    with messages_on_stderr(logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO), \
            naming_cli_options():
        return _run(parser, args)


def _run(parser, args) -> int:
    try:
        limits.from_arguments(args)
        if getattr(args, "dump_config", False):
            print(options_file.dump(parser.commands[args.command], args.command, args))
            return 0
        code = args.run(args) or 0
    except EdgekitError as exc:
        if interrupts.requested():  # the interrupt surfaced as another error (e.g. a failed import)
            return interrupts.report()
        if args.debug:
            raise
        print(f"edgekit {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return interrupts.report()
    except Exception as exc:  # a bug, not bad input: still one line, with the way to see more
        if interrupts.requested():
            return interrupts.report()
        if args.debug:
            raise
        message = _environment_error(exc)
        if message:  # a full disk, a name too long, a symlink loop: the user's to fix, not a bug
            print(f"edgekit {args.command}: error: {message}", file=sys.stderr)
            return EdgekitError.exit_code
        print(f"edgekit {args.command}: internal error: {type(exc).__name__}: {first_line(exc)} "
              "(rerun with --debug for the traceback, and please report it)", file=sys.stderr)
        return INTERNAL_ERROR
    # an interrupt that a library swallowed (see edgekit.core.interrupts) still ends the run as one
    return interrupts.report() if interrupts.requested() else code


class _Stderr(logging.StreamHandler):
    """Plain lines on whatever sys.stderr is when a message comes (a test may swap it)."""

    stream = property(lambda self: sys.stderr, lambda self, value: None)


class messages_on_stderr:
    """The `edgekit` logger's messages at `level` and above, one plain line each on stderr, for
    the command's run (a Python caller's own logging set-up is left as it was afterwards)."""

    def __init__(self, level: int):
        self.level, self.handler = level, _Stderr()
        self.handler.setFormatter(logging.Formatter("%(message)s"))

    def __enter__(self):
        logger = logging.getLogger("edgekit")
        self.before = logger.level, logger.propagate
        logger.addHandler(self.handler)
        logger.setLevel(self.level)
        logger.propagate = False  # the command's messages once, not again through the root logger's handlers
        return self

    def __exit__(self, *exc):
        logger = logging.getLogger("edgekit")
        logger.removeHandler(self.handler)
        logger.setLevel(self.before[0])
        logger.propagate = self.before[1]


def _environment_error(exc: Exception) -> str | None:
    """The last resort for an OSError of the user's environment that no earlier check caught:
    one line naming the path and the fix; None for any other error."""
    from edgekit.core.outputs import USER_ERRNOS, user_path_error  # lazy: keeps `import edgekit.cli` light (hashlib)

    if not isinstance(exc, OSError) or exc.errno not in USER_ERRNOS:
        return None
    return str(user_path_error(exc, exc.filename or "(unnamed)", what="path"))
