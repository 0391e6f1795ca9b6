"""The `mlpbench` command: parse options, call the experiment service, print what it returns."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from mlpbench import __version__, service
from mlpbench.agree import format_differences
from mlpbench.config import CONFIG_FIELDS, Config
from mlpbench.errors import UsageError
from mlpbench.export import CURVE_FIELDS, TIDY_FIELDS, to_parquet
from mlpbench.options import Parser, add_common, add_config_options
from mlpbench.report import HTML_NAME, REPORT_NAME


def cmd_run(args: argparse.Namespace) -> int:
    """Run a study's tables, reusing stored runs, and print and write the report."""
    tracker = service.tracker(args.mlflow, args.out)
    outcome = service.run_study(args.study, args.tables, args.runs, args.seed, args.engine,
                                args.dtype, args.out, args.fresh, args.executor,
                                args.dask_timeout)  # fmt: skip
    print(f"{outcome.trained} runs trained; the rest were in the store", file=sys.stderr)
    code = _print_report(service.report(outcome, _figures(args)), Path(args.out))
    if tracker is not None:
        logged = service.track_study(tracker, outcome)
        print(f"{logged} runs logged to MLflow", file=sys.stderr)
    return code


def cmd_report(args: argparse.Namespace) -> int:
    """Re-render the report from the store, without training."""
    outcome = service.stored_study(args.out, args.study, args.tables)
    if args.format == "latex":
        print(service.latex_report(outcome))
        return 0
    return _print_report(service.report(outcome, _figures(args)), Path(args.out))


def _figures(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(f.strip() for f in args.figures.split(",") if f.strip())


def _print_report(text: str, out: Path) -> int:
    print(text.replace("<br>", " "))  # the terminal shows a cell's CI on the same line
    print(f"report written to {out / REPORT_NAME} and {out / HTML_NAME}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Print every stored run (or, with --curves, every run's every epoch) as CSV, JSON or
    Parquet."""
    rows = service.export_rows(args.out, args.curves)
    fields = CURVE_FIELDS if args.curves else TIDY_FIELDS
    if args.format == "json":
        print(json.dumps(service.jsonable(rows), indent=1, allow_nan=False))
    elif args.format == "parquet":
        sys.stdout.buffer.write(to_parquet(rows, fields))
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """Write the exact train and test sets a run with this seed used, as CSV files."""
    config = Config(data=args.data, m=args.m, n=args.n)
    for path in service.export_data(config, args.seed, args.out):
        print(path)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train one configuration for R runs and print its summary."""
    seeds = service.seeds(args.runs, args.seed, 1)
    tracker = service.tracker(args.mlflow, args.out)
    job, runs = service.train(_config(args), seeds, args.engine, args.dtype, args.out,
                              args.fresh, args.executor, args.dask_timeout)  # fmt: skip
    result = service.summary(job, seeds, runs)
    if tracker is not None:
        service.track_runs(tracker, "mlpbench train", runs)
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        _print_summary(result)
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    """Tune learning rate (and batch size or epochs) on a validation split, then confirm."""
    config, seeds = _config(args, lr=1.0), service.seeds(args.runs, args.seed, 5)
    names = [n.strip() for n in args.tune.split(",") if n.strip()]
    grids = {"lr": args.lr_grid, "batch_size": args.batch_grid, "epochs": args.epochs_grid}
    runs = args.tune_runs if args.tune_runs is not None else len(seeds)
    spec = service.tune_spec(config, grids, names, runs, seeds[0], args.score, args.validation)
    tracker = service.tracker(args.mlflow, args.out)
    result, stored = service.tune_and_confirm(
        config, spec, seeds, args.engine, args.dtype, args.out, args.executor, args.dask_timeout
    )
    if tracker is not None:
        service.track_runs(tracker, "mlpbench tune", stored)
    if args.json:
        print(json.dumps(result, allow_nan=False))
        return 0
    for point in result["grid"]:
        mark = "  <- chosen" if all(point[n] == result[n] for n in names) else ""
        values = ", ".join(f"{n} {point[n]:g}" for n in names)
        print(f"{values}: validation {spec.score} {point['mean']:.6g} ± {point['std']:.3g}{mark}")
    print(f"confirmation on {len(seeds)} fresh seeds (test set):")
    _print_summary(result)
    print(f"sensitivity plot: {result['plot']}")
    return 0


def cmd_agree(args: argparse.Namespace) -> int:
    """Train one configuration on several engines from the same start; print how far apart."""
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    config, seeds = _config(args), service.seeds(args.runs, args.seed, 2)
    reference, rows = service.agree(
        config, names, seeds, args.dtype, args.executor, args.dask_timeout
    )
    print(f"{len(seeds)} runs of {json.dumps(config.as_dict())}")
    print(format_differences(reference, rows))
    return 0


def _config(args: argparse.Namespace, **overrides: object) -> Config:
    """The configuration the options describe (tune's --validation is its own, not Config's)."""
    fields = [f for f in CONFIG_FIELDS if f != "validation" and hasattr(args, f)]
    return Config(**{f: getattr(args, f) for f in fields}, **overrides)


def _print_summary(result: dict) -> None:
    for metric, s in result["metrics"].items():
        print(f"{metric:>15}: {s['mean']} ± {s['std']}")
    print(f"{'runs':>15}: {result['runs']} ({result['diverged']} diverged), {result['engine']}")


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options."""
    parser = Parser(
        prog="mlpbench", description="Controlled, repeatable comparisons of MLP training choices."
    )
    parser.add_argument("--version", action="version", version=f"mlpbench {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)

    run = sub.add_parser("run", help="run a study (default: the seed report's tables)")
    run.add_argument("study", nargs="?", default="seed", help="study TOML file, or 'seed'")
    run.add_argument("--tables", help="tables to run, by number or name: 1,4 or loss,batch")
    run.add_argument("--figures", default="png", help="plot formats: png, svg, pdf (default png)")
    add_common(run)
    run.set_defaults(func=cmd_run)

    train = sub.add_parser("train", help="train one configuration for several runs")
    add_config_options(train)
    train.add_argument("--json", action="store_true", help="print one JSON object")
    add_common(train)
    train.set_defaults(func=cmd_train)

    tune = sub.add_parser("tune", help="tune the learning rate on a validation split")
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
    tune.add_argument("--json", action="store_true", help="print one JSON object")
    add_common(tune)
    tune.set_defaults(func=cmd_tune)

    agree = sub.add_parser("agree", help="train one configuration on several engines and compare")
    add_config_options(agree)
    agree.add_argument(
        "--engines", default="numpy,numba", help="engines to compare, the first is the reference"
    )
    add_common(agree, store=False)
    agree.set_defaults(func=cmd_agree)

    report = sub.add_parser("report", help="re-render the report from the store")
    report.add_argument("study", nargs="?", help="study file (default: the last one run)")
    report.add_argument("--tables", help="tables to show")
    report.add_argument("--figures", default="png", help="plot formats: png, svg, pdf")
    report.add_argument("--format", choices=("markdown", "latex"), default="markdown",
                        help="markdown (report.md and report.html, default) or latex "
                        "(report.tex, booktabs tables)")  # fmt: skip
    report.add_argument("--out", default="results", help="output folder (default: results)")
    report.set_defaults(func=cmd_report)

    export = sub.add_parser("export", help="print every stored run as CSV or JSON")
    export.add_argument(
        "--format",
        choices=("csv", "json", "parquet"),
        default="csv",
        help="csv (default), json (NaN as null) or parquet (needs pyarrow)",
    )
    export.add_argument("--curves", action="store_true",
                        help="one row per run and epoch, with its train loss")  # fmt: skip
    export.add_argument("--out", default="results", help="output folder (default: results)")
    export.set_defaults(func=cmd_export)

    data = sub.add_parser("data", help="write the train and test sets of one seed as CSV")
    add_config_options(data, skip=CONFIG_FIELDS[3:])  # data, m, n
    data.add_argument("--dataset", dest="data", help=argparse.SUPPRESS)  # the old spelling
    data.add_argument("--seed", type=int, default=0, help="the run's seed")
    data.add_argument("--out", default="results", help="output folder (default: results)")
    data.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: bad input becomes one line on stderr and exit status 2; a fault of the
    machine (a full disk, a folder that vanished) one line and exit status 1."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except UsageError as e:
        print(f"mlpbench: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `mlpbench export | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        print(f"mlpbench: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mlpbench: interrupted; finished runs are kept in the store", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
