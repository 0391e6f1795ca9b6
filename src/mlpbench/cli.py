"""The `mlpbench` command: parse options, call the experiment service, print what it returns."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

from mlpbench.config.core import Config
from mlpbench.config.fields import DATA_FIELDS, FIELDS
from mlpbench.errors import UsageError
from mlpbench.options import build_parser


def _service():
    """The experiment service, imported when a command runs, so `--help` stays fast."""
    from mlpbench import service

    return service


def cmd_run(args: argparse.Namespace) -> int:
    """Run a study's tables, reusing stored runs, and print and write the report."""
    service = _service()
    tracker = service.tracker(args.mlflow, args.out)
    outcome = service.run_study(args.study, args.tables, args.runs, args.seed, args.engine,
                                args.dtype, args.out, args.fresh, args.executor,
                                args.dask_timeout)  # fmt: skip
    tuning = service.tuning_runs(outcome.tuned)
    of_them = f" ({tuning} of them on tuning grids)" if tuning else ""
    shown = len({r.id for _, columns in outcome.tables for c in columns for r in c.runs})
    reused = shown - (outcome.trained - tuning)
    stored = f"; {reused} came from the store" if reused > 0 else ""
    print(f"{outcome.trained} runs trained{of_them}{stored}", file=sys.stderr)
    code = _print_report(outcome, service.report(outcome, _figures(args)), args.format)
    if tracker is not None:
        logged = service.track_study(tracker, outcome)
        print(f"{logged} runs logged to MLflow", file=sys.stderr)
    return code


def cmd_report(args: argparse.Namespace) -> int:
    """Re-render the report from the store, without training."""
    service = _service()
    outcome = service.stored_study(args.out, args.study, args.tables, args.runs, args.seed)
    if args.format == "latex":
        print(service.latex_report(outcome))
        return 0
    return _print_report(outcome, service.report(outcome, _figures(args)), args.format)


def _figures(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(f.strip() for f in args.figures.split(",") if f.strip())


def _print_report(outcome, text: str, fmt: str) -> int:
    """The full Markdown, or (by default) a compact summary and where the report is."""
    files = f"{outcome.out / outcome.name}.md and .html, plots in {outcome.out / 'plots'}"
    if fmt == "markdown":
        print(text.replace("<br>", " "))  # the terminal shows a cell's CI on the same line
    else:
        from mlpbench.report import terminal

        color = True if sys.stdout.isatty() else None
        print(terminal.render(outcome.tables, color), end="")
        print(f"report: {files}")
    if outcome.name != "report":  # a part of the study: its own files
        print(f"this part of the study has its own report; {outcome.out / 'report.md'}, the "
              "whole study's, is left as it was", file=sys.stderr)  # fmt: skip
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Print every stored run (or, with --curves, every run's every epoch) as CSV, JSON or
    Parquet."""
    service = _service()
    from mlpbench.exports.tidy import CURVE_FIELDS, TIDY_FIELDS, spreadsheet_safe, to_parquet
    from mlpbench.report.formatting import jsonable

    if sys.stdout is None:  # `mlpbench export >&-`: Python has no stream to write to
        raise UsageError("export writes to standard output, which is closed; send it to a "
                         "file: mlpbench export --format csv > runs.csv")  # fmt: skip
    rows = service.export_rows(args.out, args.curves)
    fields = CURVE_FIELDS if args.curves else TIDY_FIELDS
    if args.format == "json":
        print(json.dumps(jsonable(rows), indent=1, allow_nan=False))
    elif args.format == "parquet":
        sys.stdout.buffer.write(to_parquet(rows, fields))
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(spreadsheet_safe(row) for row in rows)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """Write the exact train and test sets a run with this seed used, as CSV files (or, with
    --list, name every data set)."""
    service = _service()
    if args.list:
        for name, description in service.datasets().items():
            print(f"{name:>14}  {description}")
        return 0
    # nothing is trained: mse is the loss that takes data of any number of classes
    config = Config(**{f: getattr(args, f) for f in DATA_FIELDS}, loss="mse")
    for path in service.export_data(config, args.seed, args.out):
        print(path)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train one configuration for R runs and print its summary."""
    service = _service()
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
    """Tune learning rate (or any numeric training field) on a validation split, then
    confirm."""
    service = _service()
    from mlpbench.experiment.tune import named_grids, tune_spec

    config, seeds = _config(args, lr=1.0), service.seeds(args.runs, args.seed, 5)
    names = [n.strip() for n in args.tune.split(",") if n.strip()]
    grids = {"lr": args.lr_grid, "batch_size": args.batch_grid, "epochs": args.epochs_grid}
    for name, values in named_grids(args.grid).items():
        if grids.get(name) is not None and name != "lr":
            raise UsageError(f"{name}'s grid is given twice (--grid and its own option)")
        grids[name] = values
    runs = args.tune_runs if args.tune_runs is not None else len(seeds)
    spec = tune_spec(config, grids, names, runs, seeds[0], args.score, args.validation)
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
        score = f"{_g(point['mean'], 6)} ± {_g(point['std'], 3)}"
        print(f"{values}: validation {spec.score} {score}{mark}")
    print(f"confirmation on {len(seeds)} fresh seeds (test set):")
    _print_summary(result)
    print(f"sensitivity plot: {result['plot']}")
    return 0


def cmd_agree(args: argparse.Namespace) -> int:
    """Train one configuration on several engines from the same start; print how far apart."""
    service = _service()
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    config, seeds = _config(args), service.seeds(args.runs, args.seed, 2)
    reference, rows = service.agree(
        config, names, seeds, args.dtype, args.executor, args.dask_timeout
    )
    print(f"{len(seeds)} runs of {json.dumps(config.as_dict())}")
    from mlpbench.analysis.agree import format_differences

    print(format_differences(reference, rows))
    return 0


def _config(args: argparse.Namespace, **overrides: object) -> Config:
    """The configuration the options describe (tune's --validation is its own, not Config's)."""
    fields = [f.name for f in FIELDS if f.flag and hasattr(args, f.name)]
    return Config(**{f: getattr(args, f) for f in fields}, **overrides)


def _g(value: float | None, digits: int) -> str:
    """A number to so many significant digits; None (no finite value: diverged) as n/a."""
    return "n/a" if value is None else f"{value:.{digits}g}"


def _print_summary(result: dict) -> None:
    for metric, s in result["metrics"].items():
        print(f"{metric:>15}: {_g(s['mean'], 6)} ± {_g(s['std'], 3)}")
    print(f"{'runs':>15}: {result['runs']} ({result['diverged']} diverged), {result['engine']}")


def _joined(argv: list[str]) -> list[str]:
    """`--range -2,2` as `--range=-2,2`: argparse reads a value that starts with '-' and is
    not a plain number as another option."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--range" and arg.startswith("-"):
            out[-1] = f"--range={arg}"
        else:
            out.append(arg)
    return out


COMMANDS = {"run": cmd_run, "train": cmd_train, "tune": cmd_tune, "agree": cmd_agree,
            "report": cmd_report, "export": cmd_export, "data": cmd_data}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Entry point: bad input becomes one line on stderr and exit status 2; a fault of the
    machine (a full disk, a folder that vanished) one line and exit status 1."""
    parser = build_parser(COMMANDS)
    args = parser.parse_args(_joined(sys.argv[1:] if argv is None else argv))
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
