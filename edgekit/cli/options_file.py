"""--config FILE and --dump-config for every command that takes options, from its argparse parser.

`--dump-config` prints every option's resolved value as JSON under the command's name
({"convert": {...}}), so that `--config` reproduces the run: the file's values become the
parser's defaults, and options given on the command line still win. A key the command does not
take, or a value of the wrong type, is one line (exit 2). A file without a command's section
holds that command's options directly (convert's configs before sections).

A command module may refine this: CONFIG_TYPES (key -> FIELD_TYPES words), check_config(values,
source) to validate the file's values, resolved_config(args) for the values to dump.
"""

from __future__ import annotations

import argparse
import importlib
import json

from edgekit.core.config import check_type, read_config_file
from edgekit.core.errors import EdgekitError, did_you_mean

# how a run is shown, not what it does: not part of a config
NOT_CONFIG = {"help", "version", "config", "dump_config", "dump_suite", "debug", "quiet", "verbose", "json"}


def add_arguments(parser) -> None:
    group = parser.add_argument_group("config file")
    group.add_argument("--config", metavar="FILE",
                       help="read options from a JSON file written by --dump-config (the command line wins)")
    group.add_argument("--dump-config", action="store_true",
                       help="print every option's resolved value as JSON and exit")


def options(parser) -> dict[str, argparse.Action]:
    """The options a config file may hold, by dest: not the old spellings (hidden), nor the path a
    command requires (what it runs on), nor how the run is shown."""
    found: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if action.dest in NOT_CONFIG or action.dest == argparse.SUPPRESS or action.help == argparse.SUPPRESS:
            continue
        if not action.option_strings and action.nargs not in ("?", "*"):
            continue
        found.setdefault(action.dest, action)
    return found


def command_module(command: str):
    return importlib.import_module(f"edgekit.cli.{command.replace('-', '_')}")


def dump(parser, command: str, args) -> str:
    """The JSON --dump-config prints."""
    hook = getattr(command_module(command), "resolved_config", None)
    resolved = hook(args) if hook else {}
    values = {dest: resolved.get(dest, getattr(args, dest, None)) for dest in options(parser)}
    return json.dumps({command: values}, indent=2, default=str)


def load(parser, command: str, path: str, commands) -> dict:
    """The options a config file gives `command`, each checked; any problem is one line."""
    data, source = read_config_file(path)
    if any(key in commands for key in data):
        section = data.get(command)
        if not isinstance(section, dict):
            held = ", ".join(sorted(k for k in data if k in commands))
            raise EdgekitError(f"{source} has no \"{command}\" section (it has {held}): write one with "
                               f"edgekit {command} --dump-config")
        unknown = sorted(k for k in data if k not in commands)
        if unknown:
            raise EdgekitError(f"{source}: unknown section \"{str(unknown[0])[:40]}\""
                               f"{did_you_mean(unknown[0], commands)}: sections are command names")
        data = section
    known = options(parser)
    module = command_module(command)
    typed = getattr(module, "CONFIG_TYPES", {})
    values = {}
    for key, value in data.items():
        dest = str(key).replace("-", "_")
        action = known.get(dest)
        if action is None:
            raise EdgekitError(f"{source}: edgekit {command} has no option \"{str(key)[:40]}\""
                               f"{did_you_mean(dest, known)}: write the file with edgekit {command} --dump-config")
        check_type(dest, value, source, typed.get(dest) or kinds(action))
        if action.choices is not None and value is not None and value not in action.choices:
            raise EdgekitError(f"{source}: \"{dest}\" is {json.dumps(value)[:40]}, not one of "
                               f"{', '.join(map(str, action.choices))}{did_you_mean(value, action.choices)}")
        values[dest] = value
    check = getattr(module, "check_config", None)
    if check:
        try:
            check(values, source)
        except EdgekitError as exc:  # a value out of range: say which file it came from
            raise exc if str(exc).startswith(source) else EdgekitError(f"{source}: {exc}") from None
    return values


def kinds(action: argparse.Action) -> tuple[str, ...]:
    """The JSON types (config.FIELD_TYPES' words) an option's value may have in a file."""
    optional = ("null",) if action.default is None else ()
    if action.nargs == 0:
        kind = "bool"
    elif isinstance(action, argparse._AppendAction):
        kind = "strs"
    elif action.type is int:
        kind = "int"
    elif action.type is float:
        kind = "number"
    else:
        kind = "str"
    flag = ("bool",) if action.nargs == "?" and isinstance(action.const, bool) else ()  # `--c-array` alone
    return (kind, *flag, *optional)


def apply(parser, values: dict) -> None:
    """The file's values as the parser's defaults: the command line still overrides them."""
    parser.set_defaults(**values, config_values=values)
    for action in parser._actions:
        if action.dest in values:
            action.required = False  # given by the file


def parse(parser, argv: list[str]) -> argparse.Namespace:
    """parse_args, with the command's --config file read first (its values as defaults), and an
    unknown option answered with the closest one."""
    commands = parser.commands
    command, path = _config_of(argv, commands)
    if path:
        apply(commands[command], load(commands[command], command, path, commands))
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "config", None) and not path:  # an abbreviation (--conf) named the file
        apply(commands[args.command], load(commands[args.command], args.command, args.config, commands))
        args, extra = parser.parse_known_args(argv)
    if extra:
        where = commands.get(args.command, parser)
        options_here = [o for o in where._option_string_actions if o.startswith("--")]
        hint = next((did_you_mean(e.split("=")[0], options_here) for e in extra if e.startswith("-")), "")
        where.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    return args


def _config_of(argv: list[str], commands) -> tuple[str | None, str | None]:
    """The command and its --config FILE, read off the command line before argparse sees it (a
    file may give an option the parser requires)."""
    command = next((a for a in argv if a in commands), None)
    if command is None or "--config" not in commands[command]._option_string_actions:
        return None, None
    rest = argv[argv.index(command) + 1:]
    for i, arg in enumerate(rest):
        if arg == "--":
            break
        if arg == "--config" and i + 1 < len(rest):
            return command, rest[i + 1]
        if arg.startswith("--config="):
            return command, arg.split("=", 1)[1]
    return command, None
