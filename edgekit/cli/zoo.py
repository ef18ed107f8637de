"""edgekit zoo: the reference models, what they do, and how well the committed ones score."""

from __future__ import annotations

import json

from edgekit import zoo
from edgekit.cli.vocabulary import add_json


def register(sub, common):
    p = sub.add_parser("zoo", parents=[common], help="list the reference models", description=__doc__.strip())
    add_json(p, "the reference models")
    p.set_defaults(run=run)


def run(args) -> int:
    from edgekit.render.table import render  # lazy: --help imports all commands; pulls numpy

    entries = zoo.catalogue()
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    rows = [[e["name"], e["task"], "x".join(map(str, e["input_shape"])), f"{e['parameters']:,}", e["data"],
             f"{e['metric']} {'>=' if e['metric'] != 'mae' else '<='} {e['target']}",
             "-" if e["trained"] is None else f"{e['trained']['value']:.4f}"] for e in entries]
    print(render(["name", "task", "input", "params", "data", "target", "committed model"], rows, right={3, 6},
                 drop=("input", "params", "data")))  # on a narrow terminal the task reads whole first
    return 0
