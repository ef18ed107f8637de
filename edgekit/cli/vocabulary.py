"""Options every command spells the same way: `--output FILE` for one file written, `--json` for
JSON on stdout instead of the table, `--max-accuracy-drop POINTS`; and the old spellings, which
keep working for one release after a one-line note on stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgekit.core.config import DEFAULT_MAX_ACCURACY_DROP
from edgekit.core.errors import EdgekitError


def note_renamed(prog: str, old: str, new: str) -> None:
    print(f"{prog}: note: {old} is now {new}; the old spelling goes in the next release", file=sys.stderr)


class Renamed(argparse.Action):
    """A hidden old spelling of an option: its value goes to the new option, after a note."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        metavar = f" {self.metavar}" if self.metavar else ""
        note_renamed(parser.prog, f"{option_string}{metavar}", f"{self.new}{metavar}")
        setattr(namespace, self.dest, values)


def add_renamed(parser, old: str, new: str, **kwargs) -> None:
    """`old` as a hidden alias of the option `new` (same dest, same type)."""
    parser.add_argument(old, action=Renamed, new=new, dest=new.lstrip("-").replace("-", "_"),
                        help=argparse.SUPPRESS, **kwargs)


def add_output(parser, what: str, old: str | None = None) -> None:
    """--output FILE: the one file a command writes (`old`: its former spelling, kept hidden)."""
    parser.add_argument("--output", metavar="FILE", help=what)
    if old:
        add_renamed(parser, old, "--output", metavar="FILE")


class JsonFlag(argparse.Action):
    """--json, a flag; `--json FILE.json` is the former `--json PATH` (now --output), kept for a release."""

    def __call__(self, parser, namespace, values, option_string=None):
        if values is None:
            setattr(namespace, self.dest, True)
        elif Path(values).suffix.lower() == ".json":
            note_renamed(parser.prog, "--json PATH", "--output PATH (--json alone prints the JSON on stdout)")
            setattr(namespace, "output", values)
        else:  # most likely the command's own path after --json: argparse cannot give it back
            parser.error(f"--json takes no value now: put it after {values}, and write a file with --output PATH")


def add_json(parser, what: str, path_alias: bool = False) -> None:
    """--json: print `what` as JSON on stdout instead of the table (messages stay on stderr)."""
    text = f"print {what} as JSON on stdout instead of the table"
    if path_alias:  # the command took --json PATH before --output existed
        parser.add_argument("--json", action=JsonFlag, nargs="?", default=False, metavar="", help=text)
    else:
        parser.add_argument("--json", action="store_true", help=text)


def add_input_shape(parser) -> None:
    """--input-shape NAME:D0,D1,...: the size of each free dimension (edgekit/data/shapes.py)."""
    parser.add_argument("--input-shape", action="append", metavar="NAME:D0,D1,...",
                        help="the shape to feed an input at, for a model whose inputs have free dimensions "
                             "(e.g. images:1,3,320,320; NAME may be left out for a model with one input); "
                             "repeat it for each input (default: from the data, else the model's own; a free "
                             "dimension nothing gives is refused, never set to 1)")


def add_max_accuracy_drop(parser, what: str, old: str | None = None) -> None:
    parser.add_argument("--max-accuracy-drop", type=float, default=DEFAULT_MAX_ACCURACY_DROP, metavar="POINTS",
                        help=f"{what}, in points of the task metric (accuracy: percent) "
                             f"(default: {DEFAULT_MAX_ACCURACY_DROP:g})")
    if old:
        add_renamed(parser, old, "--max-accuracy-drop", type=float, metavar="POINTS")


def check_max_accuracy_drop(args) -> float:
    if not args.max_accuracy_drop >= 0:  # also NaN
        raise EdgekitError(f"--max-accuracy-drop {args.max_accuracy_drop:g} must be 0 or more (points)")
    return args.max_accuracy_drop
