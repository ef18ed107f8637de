"""The `edgekit` command: one module per subcommand, no heavy import at start-up.

Errors meant for the user (`EdgekitError`) print one line and exit 2 (1 for a failed gate);
an unexpected error prints one line and exits 70; `--debug` shows the traceback instead.
Ctrl-C or SIGTERM, at any point, prints one line and exits 130 (edgekit/interrupts.py); outputs
are staged and renamed into place, so an interrupted run leaves the previous ones as they were.
An OSError that is the user's environment (a full disk, a name too long, a symlink loop, no
permission) is bad input too: one line, exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from edgekit import __version__, interrupts, limits
from edgekit.cli import options_file
from edgekit.errors import EdgekitError, first_line

COMMANDS = ("convert", "bench", "report", "compare", "optimize", "debug-quant", "tune", "train", "zoo", "inspect",
            "export", "compile", "env")  # each is edgekit/cli/<name>.py, with _ for -
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
            from edgekit.config import did_you_mean

            message += did_you_mean(choice.group(1), re.findall(r"'(.*?)'", choice.group(2)))
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks and backend logs")
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
        args = options_file.parse(parser, argv)
    except EdgekitError as exc:  # a config file that does not fit the command
        command = next((a for a in argv if a in parser.commands), "")
        print(f"edgekit {command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.command is None:
        parser.print_help()
        return 0
    interrupts.set_label(f"edgekit {args.command}")
    if args.debug:
        os.environ["EDGEKIT_DEBUG"] = "1"
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
    # an interrupt that a library swallowed (see edgekit.interrupts) still ends the run as one
    return interrupts.report() if interrupts.requested() else code


def _environment_error(exc: Exception) -> str | None:
    """The last resort for an OSError of the user's environment that no earlier check caught:
    one line naming the path and the fix; None for any other error."""
    from edgekit.outputs import USER_ERRNOS, user_path_error

    if not isinstance(exc, OSError) or exc.errno not in USER_ERRNOS:
        return None
    return str(user_path_error(exc, exc.filename or "(unnamed)", what="path"))
