"""`tinyvision models`: the registered models with their parameter counts."""

from __future__ import annotations

import argparse

NAME = "models"


def add(sub: argparse._SubParsersAction) -> None:
    sub.add_parser(NAME, help="list the registered models with parameter counts")


def run(args: argparse.Namespace) -> int:  # noqa: ARG001
    from tinyvision.models import DESCRIPTIONS, MODELS, count_parameters, create_model

    print(f"{'model':<14} {'params (MNIST)':>14}  description")
    for name in MODELS:
        params = count_parameters(create_model(name, (1, 28, 28), 10))
        print(f"{name:<14} {params:>14,}  {DESCRIPTIONS[name]}")
    return 0
