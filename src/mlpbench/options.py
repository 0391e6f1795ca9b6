"""The command line's options: one per Config field, generated, and those every command shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from mlpbench import __version__
from mlpbench.config.core import DASK_WAIT_S, DTYPE_NAMES
from mlpbench.config.fields import DATA_FIELDS, FIELDS, KINDS, SECTIONS, Field
from mlpbench.engines.registry import ENGINES


def _parser(f: Field) -> Callable[[str], object]:
    """The field's reader: int, float or str as argparse knows them, or one whose ValueError
    becomes argparse's one line naming the option."""
    parse = KINDS[f.kind].parse
    if parse in (int, float, str):
        return parse

    def read(text: str) -> object:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return read


def _help(f: Field) -> str:
    """A field's help line with its allowed names and its default; % escaped for argparse."""
    text = f.text
    default = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
    if f.default not in (None, "") and "default:" not in text:
        text += f" (default: {default})"
    return text.replace("%", "%%")


def add_config_options(p: argparse.ArgumentParser, only: tuple[str, ...] | None = None,
                       skip: tuple[str, ...] = ()) -> None:  # fmt: skip
    """One option per configuration field (those named in only, less skip), grouped by the
    study file's sections, each default, range and help read from FIELDS."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in FIELDS:
        if not f.flag or f.name in skip or (only is not None and f.name not in only):
            continue
        if f.section not in groups:
            groups[f.section] = p.add_argument_group(f"{f.section} options", SECTIONS[f.section])
        if f.kind == "switch":  # --nesterov and --no-nesterov
            groups[f.section].add_argument(f.flag_name, action=argparse.BooleanOptionalAction,
                                           default=f.default, help=_help(f))  # fmt: skip
            continue
        groups[f.section].add_argument(f.flag_name, type=_parser(f), default=f.default,
                                       help=_help(f))  # fmt: skip


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
                       help="also log the runs to MLflow (default: sqlite:///mlruns.db beside "
                       "--out, or an mlruns/ folder already there)")  # fmt: skip
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

    tune = command("tune", "tune the learning rate (or any numeric training field) on a "
                   "validation split")  # fmt: skip
    add_config_options(tune, skip=("lr",))
    tune.add_argument("--tune", default="lr", help="axes to tune, comma-separated: lr, "
                      "batch_size, epochs, or any other numeric training field "
                      "(momentum, weight_decay, decay_rate, l2, ...)")  # fmt: skip
    tune.add_argument("--lr-grid", default="1e-4:1e2:4", help="low:high:per_decade or a,b,c")
    tune.add_argument("--batch-grid", help="batch sizes to try, e.g. 1,32,128,1000")
    tune.add_argument("--epochs-grid", help="epoch counts to try, e.g. 100,1000")
    tune.add_argument("--grid", action="append", default=[], metavar="NAME=VALUES",
                      help="another axis' grid, e.g. momentum=0,0.5,0.9 or l2=1e-5:1e-1:1 "
                      "(repeat for each axis)")  # fmt: skip
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
                        help="one row per run and epoch, with its train loss and weight "
                        "penalty")  # fmt: skip
    export.set_defaults(func=commands["export"])

    data = command("data", "write the train and test sets of one seed as CSV")
    add_config_options(data, only=DATA_FIELDS)
    data.add_argument("--list", action="store_true", help="list the data sets and stop")
    data.add_argument("--dataset", dest="data", help=argparse.SUPPRESS)  # the old spelling
    data.add_argument("--seed", type=int, default=0, help="the run's seed")
    data.set_defaults(func=commands["data"])
    return parser
