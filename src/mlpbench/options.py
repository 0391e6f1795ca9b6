"""The command line's options: one per Config field, generated, and those every command shares."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import NoReturn

from mlpbench import __version__
from mlpbench.config.core import (
    CONFIG_FIELDS,
    DASK_WAIT_S,
    DATA_FIELDS,
    DTYPE_NAMES,
    REGISTRIES,
    Config,
)
from mlpbench.data.dataset import DATASETS, SCALES
from mlpbench.engines.registry import ENGINES


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"hidden sizes must be integers separated by commas, got {text!r}"
        ) from None


def _range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"range must be two numbers separated by a comma, e.g. -2,2, got {text!r}"
        ) from None
    return low, high


CONFIG_HELP = {
    "data": f"data set: {', '.join(DATASETS)}, or a CSV file (header row; features, then the "
    "target column)",
    "target": "a CSV file's target column (default: its last)",
    "test": "a CSV test file with the same columns (default: a seeded split of --data's rows)",
    "scale": f"input scaling: {', '.join(SCALES)} (default: standard for tables, none for "
    "generated sets)",
    "noise": "noise level in [0, 1] of circle, xor, gauss, spiral and moons",
    "rule": "the formula data set's rule, e.g. 'x1**2 > x2'",
    "range": "the formula data set's input range",
    "m": "train set size (default: 1000, or 80%% of a table's rows, or all of a train file's)",
    "n": "test set size (default: 100, or the rest of a table's rows, or all of a test file's)",
    "hidden": "hidden layer sizes, e.g. 3 or 8,8",
    "lr": "learning rate",
    "batch_size": "mini-batch size (default: m, full batch)",
    "epochs": "passes over the train set",
}
PARSERS = {"int": int, "float": float, "int | None": int, "tuple[int, ...]": _hidden,
           "tuple[float, float]": _range}  # fmt: skip


def add_config_options(p: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One option per Config field, its default and choices read from Config and the registries."""
    for f in dataclasses.fields(Config):
        if f.name in (*skip, "validation"):
            continue
        default = f.default
        if f.name in REGISTRIES:
            what, registry = REGISTRIES[f.name]
            text = f"{what}: {', '.join(registry)}"
        else:
            text = CONFIG_HELP[f.name]
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        if default not in (None, "") and "default:" not in text:
            text += f" (default: {shown})"
        flag = "--" + f.name.replace("_", "-")
        p.add_argument(flag, type=PARSERS.get(str(f.type), str), default=default, help=text)


EXAMPLES = {
    "run": "mlpbench run --tables loss,batch --runs 5 --out results",
    "train": "mlpbench train --loss mse --optimizer adam --lr 0.05 --batch-size 32 --json",
    "tune": "mlpbench tune --optimizer adam --lr-grid 1e-3:1e0:4 --runs 5",
    "agree": "mlpbench agree --engines numpy,numba,keras --optimizer rmsprop --lr 0.01",
    "report": "mlpbench report --out results --format latex",
    "export": "mlpbench export --out results --format json --curves",
    "data": "mlpbench data --data breast-cancer --seed 3 --out data  (--list: every data set)",
}
OUT_HELP = {
    "run": "folder of the store, report and plots; runs stored there are reused",
    "train": "folder of the store; runs stored there are reused",
    "tune": "folder of the store and the sensitivity plot",
    "report": "folder of an earlier `run`: its store is read, its report rewritten",
    "export": "folder of the store to export (read only)",
    "data": "folder to write the CSV files into",
}


def add_out(p: argparse.ArgumentParser, command: str) -> None:
    """--out, described as what it is for this command."""
    p.add_argument("--out", default="results", help=f"{OUT_HELP[command]} (default: results)")


def add_common(p: argparse.ArgumentParser, store: bool = True) -> None:
    """Options of every command that trains: where, on what, how many runs, which seeds."""
    if store:
        p.add_argument("--fresh", action="store_true", help="recompute runs already stored")
        p.add_argument("--engine", help=f"engine: {', '.join(ENGINES)} (default: fastest)")
    p.add_argument("--dtype", choices=DTYPE_NAMES, help="float width (default: the engine's own)")
    p.add_argument("--runs", type=int, help="runs per configuration (default: the study's, "
                   "or 1 for train, 5 for tune, 2 for agree)")  # fmt: skip
    p.add_argument("--seed", type=int, help="seed of run 0; run i uses seed + i (default: 0, "
                   "or the study's)")  # fmt: skip
    p.add_argument("--executor", default="local",
                   help="where to train: local (default), dask (a LocalCluster here), "
                   "dask://HOST:PORT")  # fmt: skip
    if store:
        p.add_argument("--mlflow", nargs="?", const="", metavar="URI",
                       help="also log the runs to MLflow (default: a mlruns/ folder beside "
                       "--out)")  # fmt: skip
    p.add_argument(
        "--dask-timeout",
        type=float,
        default=DASK_WAIT_S,
        metavar="SECONDS",
        help=f"how long to wait for a Dask worker (default: {DASK_WAIT_S:g} s)",
    )


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line, like every other error of mlpbench."""

    def error(self, message: str) -> NoReturn:
        """Print `mlpbench CMD: error: ...` without the usage block, and exit 2."""
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def build_parser(commands: dict[str, Callable]) -> argparse.ArgumentParser:
    """All subcommands and their options; commands maps each name to its function."""
    parser = Parser(
        prog="mlpbench", description="Controlled, repeatable comparisons of MLP training choices."
    )
    parser.add_argument("--version", action="version", version=f"mlpbench {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text, epilog=f"example: {EXAMPLES[name]}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        if name in OUT_HELP:
            add_out(p, name)
        return p

    run = command("run", "run a study (default: the seed report's tables)")
    run.add_argument("study", nargs="?", default="seed", help="study TOML file, or 'seed'")
    run.add_argument("--tables", help="tables to run, by number or name: 1,4 or loss,batch "
                     "(default: all)")  # fmt: skip
    run.add_argument("--figures", default="png", help="plot formats: png, svg, pdf (default png)")
    run.add_argument(
        "--format",
        choices=("summary", "markdown"),
        default="summary",
        help="what to print: a summary per table (default) or the full Markdown",
    )
    add_common(run)
    run.set_defaults(func=commands["run"])

    train = command("train", "train one configuration for several runs")
    add_config_options(train)
    train.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_common(train)
    train.set_defaults(func=commands["train"])

    tune = command("tune", "tune the learning rate on a validation split")
    add_config_options(tune, skip=("lr",))
    tune.add_argument("--tune", default="lr", help="axes to tune: lr, batch_size, epochs")
    tune.add_argument("--lr-grid", default="1e-4:1e2:4", help="low:high:per_decade or a,b,c")
    tune.add_argument("--batch-grid", help="batch sizes to try, e.g. 1,32,128,1000")
    tune.add_argument("--epochs-grid", help="epoch counts to try, e.g. 100,1000")
    tune.add_argument("--score", choices=("loss", "accuracy"), default="loss",
                      help="validation score to optimise (default: loss)")  # fmt: skip
    tune.add_argument("--validation", type=float, default=0.2,
                      help="fraction of the train set held out (default 0.2)")  # fmt: skip
    tune.add_argument("--tune-runs", type=int, help="seeds per grid point (default: --runs)")
    tune.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_common(tune)
    tune.set_defaults(func=commands["tune"])

    agree = command("agree", "train one configuration on several engines and compare")
    add_config_options(agree)
    agree.add_argument(
        "--engines",
        default="numpy,numba",
        help="engines to compare, the first is the reference (default: numpy,numba)",
    )
    add_common(agree, store=False)
    agree.set_defaults(func=commands["agree"])

    report = command(
        "report",
        "re-render a study's report from the store, without training "
        "(the whole study unless --tables, --runs or --seed pick a part)",
    )
    report.add_argument("study", nargs="?", help="study file (default: the last one run)")
    report.add_argument("--tables", help="tables to show (default: all)")
    report.add_argument("--runs", type=int, help="runs per column (default: the study's)")
    report.add_argument("--seed", type=int, help="seed of run 0 (default: the study's)")
    report.add_argument("--figures", default="png", help="plot formats: png, svg, pdf "
                        "(default: png)")  # fmt: skip
    report.add_argument("--format", choices=("summary", "markdown", "latex"), default="summary",
                        help="what to print: a summary (default) or the full Markdown, both "
                        "writing report.md and report.html; or latex: write report.tex, "
                        "booktabs tables")  # fmt: skip
    report.set_defaults(func=commands["report"])

    export = command("export", "print every stored run as CSV or JSON")
    export.add_argument(
        "--format",
        choices=("csv", "json", "parquet"),
        default="csv",
        help="csv (default), json (NaN as null) or parquet (needs pyarrow)",
    )
    export.add_argument("--curves", action="store_true",
                        help="one row per run and epoch, with its train loss")  # fmt: skip
    export.set_defaults(func=commands["export"])

    data = command("data", "write the train and test sets of one seed as CSV")
    add_config_options(data, skip=tuple(f for f in CONFIG_FIELDS if f not in DATA_FIELDS))
    data.add_argument("--list", action="store_true", help="list the data sets and stop")
    data.add_argument("--dataset", dest="data", help=argparse.SUPPRESS)  # the old spelling
    data.add_argument("--seed", type=int, default=0, help="the run's seed")
    data.set_defaults(func=commands["data"])
    return parser
