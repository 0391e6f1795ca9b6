"""The `mlpbench` command: a thin layer over study, runner, store and report."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from importlib import resources
from pathlib import Path

from mlpbench import engines
from mlpbench.agree import compare, format_differences
from mlpbench.config import (
    ACTIVATION_NAMES,
    DATASET_NAMES,
    DTYPE_NAMES,
    LOSS_NAMES,
    OPTIMIZER_NAMES,
    Config,
    Job,
    check_runs,
)
from mlpbench.errors import UsageError
from mlpbench.export import TIDY_FIELDS, tidy, write_dataset
from mlpbench.report import HTML_NAME, REPORT_NAME, write_report
from mlpbench.runner import run_jobs
from mlpbench.stats import summarize
from mlpbench.store import DB_NAME, Store
from mlpbench.study import Study, jobs, load_study, parse_study

BUNDLED = ("seed",)
LAST_STUDY = "last_study"


def bundled_study(name: str) -> Study:
    """A study shipped inside the package, by name."""
    text = resources.files("mlpbench").joinpath("studies", f"{name}.toml").read_text()
    return parse_study(text, f"{name}.toml")


def resolve_study(spec: str) -> Study:
    """A study from a bundled name ('seed') or a TOML file path."""
    if spec in BUNDLED and not Path(spec).exists():
        return bundled_study(spec)
    return load_study(spec)


def _engine(name: str | None) -> str:
    return engines.check_engine(name) if name else engines.default_engine()


def _hidden(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"hidden sizes must be integers separated by commas, got {text!r}"
        ) from None


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="results", help="output folder (default: results)")
    p.add_argument("--engine", help=f"engine: {', '.join(engines.ENGINES)} (default: fastest)")
    p.add_argument(
        "--dtype", choices=DTYPE_NAMES, help="float width (default: the engine's own, see README)"
    )
    p.add_argument("--runs", type=int, help="runs per configuration")
    p.add_argument("--seed", type=int, help="seed of run 0; run i uses seed + i")
    p.add_argument("--fresh", action="store_true", help="recompute runs already stored")


def cmd_run(args: argparse.Namespace) -> int:
    """Run a study's tables, reusing stored runs, and print and write the report."""
    study = resolve_study(args.study).select(args.tables).with_runs(args.runs)
    study = study.with_seed(args.seed)
    engine, dtype = _engine(args.engine), args.dtype
    todo = jobs(study, engine, dtype)
    for job in todo:
        engines.check_engine(job.engine)
    store = Store(args.out)
    store.set_meta(
        LAST_STUDY,
        {
            "source": study.source,
            "tables": args.tables,
            "runs": study.runs,
            "seed": study.seed,
            "engine": engine,
            "dtype": dtype,
        },
    )
    run_jobs(todo, study.seeds, store, fresh=args.fresh)
    return _report(study, store, engine, dtype, Path(args.out))


def _report(study: Study, store: Store, engine: str, dtype: str | None, out: Path) -> int:
    text = write_report(study, store, engine, dtype, out)
    print(text)
    print(f"report written to {out / REPORT_NAME} and {out / HTML_NAME}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Print every stored run, one row per run, as CSV or JSON."""
    runs = Store(args.out).all_runs()
    if not runs and not (Path(args.out) / DB_NAME).exists():
        raise UsageError(f"no results in {args.out!r}; run `mlpbench run` or `train` first")
    rows = [tidy(r) for r in runs]
    if args.format == "json":
        print(json.dumps(rows, indent=1))
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=TIDY_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """Write the exact train and test sets a run with this seed used, as CSV files."""
    config = Config(data=args.dataset, m=args.m, n=args.n)
    paths = write_dataset(config, args.seed, Path(args.out))
    for path in paths:
        print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Re-render the report from the store, without training."""
    store = Store(args.out)
    last = store.get_meta(LAST_STUDY)
    if last is None:
        raise UsageError(f"no study has been run in {args.out!r}; run `mlpbench run` first")
    assert isinstance(last, dict)
    study = resolve_study(args.study) if args.study else parse_study(last["source"])
    study = study.select(args.tables or last["tables"]).with_runs(last["runs"])
    study = study.with_seed(last["seed"])
    return _report(study, store, last["engine"], last["dtype"], Path(args.out))


def _config(args: argparse.Namespace) -> Config:
    fields = ("data", "m", "n", "hidden", "activation", "loss", "optimizer", "lr", "batch_size")
    return Config(epochs=args.epochs, **{f: getattr(args, f) for f in fields})


def _seeds(args: argparse.Namespace, default_runs: int) -> list[int]:
    runs = check_runs(args.runs if args.runs is not None else default_runs)
    first = args.seed if args.seed is not None else 0
    return [first + i for i in range(runs)]


def cmd_agree(args: argparse.Namespace) -> int:
    """Train one configuration on several engines from the same start; print how far apart."""
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    if len(names) < 2:
        raise UsageError(f"--engines needs at least two engines, got {args.engines!r}")
    config, seeds = _config(args), _seeds(args, 2)
    rows = compare(config, names, seeds, args.dtype)
    reference = f"{names[0]}, {args.dtype or engines.default_dtype(names[0])}"
    print(f"{len(seeds)} runs of {json.dumps(config.as_dict())}")
    print(format_differences(reference, rows))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train one configuration for R runs and print its summary."""
    config, seeds = _config(args), _seeds(args, 1)
    engine = _engine(args.engine)
    job = Job(config, engine, args.dtype or engines.default_dtype(engine))
    store = Store(args.out)
    run_jobs([job], seeds, store, fresh=args.fresh)
    stored = store.runs(job, seeds)
    flags = [r["diverged"] for r in stored]
    summary = {}
    for metric in engines.METRICS:
        s = summarize([r[metric] for r in stored], flags)
        summary[metric] = {"mean": _json_number(s.mean), "std": _json_number(s.std)}
    result = {
        "config": config.as_dict(),
        "engine": job.engine,
        "dtype": job.dtype,
        "runs": len(stored),
        "diverged": sum(flags),
        "seeds": seeds,
        "metrics": summary,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for metric, s in summary.items():
            print(f"{metric:>15}: {s['mean']} ± {s['std']}")
        print(f"{'runs':>15}: {len(stored)} ({sum(flags)} diverged), engine {job.engine}")
    return 0


def _json_number(x: float) -> float | None:
    return None if math.isnan(x) else x


def _add_config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="quadratic", help=f"one of {', '.join(DATASET_NAMES)}")
    p.add_argument("--m", type=int, default=1000, help="train set size")
    p.add_argument("--n", type=int, default=100, help="test set size")
    p.add_argument("--hidden", type=_hidden, default=(3,), help="hidden sizes, e.g. 3 or 8,8")
    p.add_argument("--activation", default="sigmoid", help=f"{', '.join(ACTIVATION_NAMES)}")
    p.add_argument("--loss", default="bce", help=f"one of {', '.join(LOSS_NAMES)}")
    p.add_argument("--optimizer", default="sgd", help=f"one of {', '.join(OPTIMIZER_NAMES)}")
    p.add_argument("--lr", type=float, default=10.0, help="learning rate")
    p.add_argument("--batch-size", type=int, help="mini-batch size (default: m, full batch)")
    p.add_argument("--epochs", type=int, default=1000, help="passes over the train set")


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options."""
    parser = argparse.ArgumentParser(
        prog="mlpbench", description="Controlled, repeatable comparisons of MLP training choices."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a study (default: the seed report's tables)")
    run.add_argument("study", nargs="?", default="seed", help="study TOML file, or 'seed'")
    run.add_argument("--tables", help="tables to run, by number or name: 1,4 or loss,batch")
    _add_common(run)
    run.set_defaults(func=cmd_run)

    train = sub.add_parser("train", help="train one configuration for several runs")
    _add_config_options(train)
    train.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(train)
    train.set_defaults(func=cmd_train)

    agree = sub.add_parser("agree", help="train one configuration on several engines and compare")
    _add_config_options(agree)
    agree.add_argument(
        "--engines", default="numpy,numba", help="engines to compare, the first is the reference"
    )
    agree.add_argument("--runs", type=int, help="runs per engine (default 2)")
    agree.add_argument("--seed", type=int, help="seed of run 0")
    agree.add_argument("--dtype", choices=DTYPE_NAMES, help="float width (default: each engine's)")
    agree.set_defaults(func=cmd_agree)

    report = sub.add_parser("report", help="re-render the report from the store")
    report.add_argument("study", nargs="?", help="study file (default: the last one run)")
    report.add_argument("--tables", help="tables to show")
    report.add_argument("--out", default="results", help="output folder (default: results)")
    report.set_defaults(func=cmd_report)

    export = sub.add_parser("export", help="print every stored run as CSV or JSON")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--out", default="results", help="output folder (default: results)")
    export.set_defaults(func=cmd_export)

    data = sub.add_parser("data", help="write the train and test sets of one seed as CSV")
    data.add_argument("--dataset", default="quadratic", help=f"one of {', '.join(DATASET_NAMES)}")
    data.add_argument("--seed", type=int, default=0, help="the run's seed")
    data.add_argument("--m", type=int, default=1000, help="train set size")
    data.add_argument("--n", type=int, default=100, help="test set size")
    data.add_argument("--out", default="results", help="output folder (default: results)")
    data.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: bad input becomes one line on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        print(f"mlpbench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mlpbench: interrupted; finished runs are kept in the store", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
