"""edgekit train: train a reference model from scratch, deterministically."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from edgekit import zoo
from edgekit.cli.vocabulary import add_json
from edgekit.core.errors import EdgekitError


def register(sub, common):
    p = sub.add_parser("train", parents=[common], help="train a reference model of the zoo",
                       description=__doc__.strip())
    p.add_argument("name", nargs="?", default=zoo.DEFAULT_MODEL,
                   help=f"reference model: {', '.join(zoo.names())} (default: {zoo.DEFAULT_MODEL})")
    p.add_argument("--epochs", type=int, help="override the recipe's epoch count (shorter runs for tests)")
    p.add_argument("--seed", type=int, help="override the recipe's seed")
    p.add_argument("--data", help="real data for models that can use it (resnet8: a CIFAR-10 "
                                  "cifar-10-batches-py folder or cifar-10-python.tar.gz)")
    p.add_argument("--root", help="write models/ and calibration_data/ under this folder "
                                  "(default: the repository)")
    p.add_argument("--no-onednn", action="store_true",
                   help="train without TensorFlow's oneDNN CPU kernels (TF_ENABLE_ONEDNN_OPTS=0): slower; edgekit "
                        "retries so by itself when they crash")
    add_json(p, "the model card")
    p.set_defaults(run=run)


def run(args) -> int:
    recipe = zoo.recipe_module(args.name).RECIPE
    if args.data and "real_data" not in recipe:
        takers = [n for n in zoo.names() if "real_data" in zoo.recipe_module(n).RECIPE]
        raise EdgekitError(f"{args.name} trains on its own data set; --data is for {', '.join(takers)}")
    if args.epochs is not None and args.epochs < 1:
        raise EdgekitError(f"--epochs {args.epochs} must be at least 1")
    from edgekit.workflows.train import train_in_child  # lazy: --help imports all commands; pulls numpy

    root = Path(args.root) if args.root else zoo.REPO_ROOT
    card = train_in_child(args.name, root=root, epochs=args.epochs, seed=args.seed, verbose=not args.quiet,
                          data_path=args.data, log=logging.getLogger("edgekit").info, onednn=not args.no_onednn)
    if args.json:
        print(json.dumps(card, indent=2, default=str))
        return 0
    metric = card["metric"]
    print(f"{args.name}: test {metric['name']} {metric['value']:.4f} (target {metric['target']}) after "
          f"{card['epochs']} epochs in {card['training_time_s']} s; wrote {zoo.model_path(args.name, root)}")
    if card.get("onednn_retry"):
        print(f"  note: {card['onednn_retry']}")
    return 0
