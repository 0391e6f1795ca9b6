"""The command line's options: one per Config field, generated, and those every command shares."""

from __future__ import annotations

import argparse
import dataclasses
from typing import NoReturn

from mlpbench.config import DTYPE_NAMES, REGISTRIES, Config
from mlpbench.engines.registry import ENGINES
from mlpbench.runner import WAIT_S


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"hidden sizes must be integers separated by commas, got {text!r}"
        ) from None


CONFIG_HELP = {
    "m": "train set size",
    "n": "test set size",
    "hidden": "hidden layer sizes, e.g. 3 or 8,8",
    "lr": "learning rate",
    "batch_size": "mini-batch size (default: m, full batch)",
    "epochs": "passes over the train set",
}
PARSERS = {"int": int, "float": float, "int | None": int, "tuple[int, ...]": _hidden}


def add_config_options(p: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One option per Config field, its default and choices read from Config and the registries."""
    defaults = Config()
    for f in dataclasses.fields(Config):
        if f.name in (*skip, "validation"):
            continue
        default = getattr(defaults, f.name)
        if f.name in REGISTRIES:
            what, registry = REGISTRIES[f.name]
            text = f"{what}: {', '.join(registry)}"
        else:
            text = CONFIG_HELP[f.name]
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        if default is not None:
            text += f" (default: {shown})"
        flag = "--" + f.name.replace("_", "-")
        p.add_argument(flag, type=PARSERS.get(str(f.type), str), default=default, help=text)


def add_common(p: argparse.ArgumentParser, store: bool = True) -> None:
    """Options of every command that trains: where, on what, how many runs, which seeds."""
    if store:
        p.add_argument("--out", default="results", help="output folder (default: results)")
        p.add_argument("--fresh", action="store_true", help="recompute runs already stored")
        p.add_argument("--engine", help=f"engine: {', '.join(ENGINES)} (default: fastest)")
    p.add_argument("--dtype", choices=DTYPE_NAMES, help="float width (default: the engine's own)")
    p.add_argument("--runs", type=int, help="runs per configuration")
    p.add_argument("--seed", type=int, help="seed of run 0; run i uses seed + i")
    p.add_argument("--executor", default="local",
                   help="where to train: local (default), dask (a LocalCluster here), "
                   "dask://HOST:PORT")  # fmt: skip
    if store:
        p.add_argument("--mlflow", nargs="?", const="", metavar="URI",
                       help="also log the runs to MLflow (default: a mlruns/ folder beside "
                       "--out)")  # fmt: skip
    p.add_argument("--dask-timeout", type=float, default=WAIT_S, metavar="SECONDS",
                   help=f"how long to wait for a Dask worker (default: {WAIT_S:g})")  # fmt: skip


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line, like every other error of mlpbench."""

    def error(self, message: str) -> NoReturn:
        """Print `mlpbench CMD: error: ...` without the usage block, and exit 2."""
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")
