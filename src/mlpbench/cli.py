"""The `mlpbench` command: a thin layer over study, runner, store and report."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
from importlib import resources
from pathlib import Path

from mlpbench import engines
from mlpbench.agree import compare, format_differences
from mlpbench.config import CONFIG_FIELDS, DTYPE_NAMES, REGISTRIES, Config, Job, check_runs
from mlpbench.errors import UsageError
from mlpbench.export import TIDY_FIELDS, tidy, write_dataset
from mlpbench.plots import sensitivity
from mlpbench.report import HTML_NAME, PLOT_DIR, REPORT_NAME, write_report
from mlpbench.runner import open_executor, run_jobs, runnable_jobs
from mlpbench.stats import summarize
from mlpbench.store import DB_NAME, Store
from mlpbench.study import Study, jobs, load_study, parse_study, resolve_tuned
from mlpbench.tune import (
    TUNING_SEED_OFFSET,
    TuneSpec,
    grid_summary,
    parse_values,
    tune,
    tuning_config,
)

BUNDLED = ("seed", "seed-tuned")
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
    p.add_argument(
        "--executor",
        default="local",
        help="where to train: local (default), dask (a LocalCluster here), dask://HOST:PORT",
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Run a study's tables, reusing stored runs, and print and write the report."""
    study = resolve_study(args.study).select(args.tables).with_runs(args.runs)
    study = study.with_seed(args.seed)
    engine, dtype = _engine(args.engine), args.dtype
    runnable_jobs(jobs(study, engine, dtype))  # fail before anything is written
    store = Store(args.out)
    with open_executor(args.executor) as executor:
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
        study, tuned = resolve_tuned(study, engine, dtype, store, True, executor)
        run_jobs(jobs(study, engine, dtype), study.seeds, store, args.fresh, executor)
    return _report(study, store, engine, dtype, Path(args.out), tuned)


def _report(
    study: Study, store: Store, engine: str, dtype: str | None, out: Path, tuned: dict
) -> int:
    text = write_report(study, store, engine, dtype, out, tuned)
    print(text.replace("<br>", " "))  # the terminal shows a cell's CI on the same line
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
    config = Config(data=args.data, m=args.m, n=args.n)
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
    study, tuned = resolve_tuned(study, last["engine"], last["dtype"], store, train=False)
    return _report(study, store, last["engine"], last["dtype"], Path(args.out), tuned)


def _config(args: argparse.Namespace, **overrides: object) -> Config:
    """The configuration the options describe (tune's --validation is its own, not Config's)."""
    fields = [f for f in CONFIG_FIELDS if f != "validation" and hasattr(args, f)]
    return Config(**{f: getattr(args, f) for f in fields}, **overrides)


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
    with open_executor(args.executor) as executor:
        rows = compare(config, names, seeds, args.dtype, executor)
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
    with open_executor(args.executor) as executor:
        run_jobs([job], seeds, store, args.fresh, executor)
    result = _summary(job, seeds, store)
    if args.json:
        print(json.dumps(result))
    else:
        _print_summary(result)
    return 0


def _summary(job: Job, seeds: list[int], store: Store) -> dict:
    """The runs of one job as `train --json` prints them."""
    stored = store.runs(job, seeds)
    flags = [r["diverged"] for r in stored]
    summary = {}
    for metric in engines.METRICS:
        s = summarize([r[metric] for r in stored], flags)
        summary[metric] = {"mean": _json_number(s.mean), "std": _json_number(s.std)}
    return {
        "config": job.config.as_dict(),
        "engine": job.engine,
        "dtype": job.dtype,
        "runs": len(stored),
        "diverged": sum(flags),
        "seeds": seeds,
        "metrics": summary,
    }


def _print_summary(result: dict) -> None:
    for metric, s in result["metrics"].items():
        print(f"{metric:>15}: {s['mean']} ± {s['std']}")
    print(f"{'runs':>15}: {result['runs']} ({result['diverged']} diverged), {result['engine']}")


def cmd_tune(args: argparse.Namespace) -> int:
    """Tune learning rate (and batch size or epochs) on a validation split, then confirm."""
    config, confirm_seeds = _config(args, lr=1.0), _seeds(args, 5)
    names = [n.strip() for n in args.tune.split(",") if n.strip()]
    grids = {"lr": args.lr_grid, "batch_size": args.batch_grid, "epochs": args.epochs_grid}
    for name in names:
        if name not in grids:
            raise UsageError(f"cannot tune {name!r}; tunable: {', '.join(grids)}")
        if grids[name] is None:
            raise UsageError(f"tuning {name} needs --{name.replace('_', '-')}-grid")
    axes = {name: parse_values(name, grids[name]) for name in names}
    spec = TuneSpec(
        axes=axes,
        runs=check_runs(args.tune_runs if args.tune_runs is not None else len(confirm_seeds)),
        seed=confirm_seeds[0] + TUNING_SEED_OFFSET,
        score=args.score,
        validation=args.validation,
    )
    for name, values in axes.items():  # every grid point must be a valid configuration
        for value in values:
            tuning_config(config.replace(**{name: value}), spec.validation)
    engine = _engine(args.engine)
    dtype = args.dtype or engines.default_dtype(engine)
    store = Store(args.out)
    with open_executor(args.executor) as executor:
        result = tune(config, spec, engine, dtype, store, executor=executor)
        assert result is not None
        job = Job(result.config, engine, dtype)
        run_jobs([job], confirm_seeds, store, executor=executor)
    out = Path(args.out)
    (out / PLOT_DIR).mkdir(parents=True, exist_ok=True)
    path = out / PLOT_DIR / f"tune-{config.key()}.png"
    plot = sensitivity("Tuning", [(_describe(config), result)], spec.score, path)
    summary = {
        **{name: result.best.values[name] for name in names},
        "score": spec.score,
        "validation": spec.validation,
        "tuning_seeds": spec.seeds,
        "grid": grid_summary(result, names),
        **_summary(job, confirm_seeds, store),
        "plot": str(plot),
    }
    if args.json:
        print(json.dumps(_jsonable(summary)))
    else:
        for point in summary["grid"]:
            mark = "  <- chosen" if all(point[n] == summary[n] for n in names) else ""
            values = ", ".join(f"{n} {point[n]:g}" for n in names)
            score = f"{point['mean']:.6g} ± {point['std']:.3g}"
            print(f"{values}: validation {spec.score} {score}{mark}")
        print(f"confirmation on {len(confirm_seeds)} fresh seeds (test set):")
        _print_summary(summary)
        print(f"sensitivity plot: {plot}")
    return 0


def _describe(config: Config) -> str:
    batch = "full batch" if config.batch == config.train_size else f"B={config.batch}"
    return f"{config.loss}/{config.optimizer}, {batch}"


def _json_number(x: float) -> float | None:
    return None if math.isnan(x) else x


def _jsonable(value: object) -> object:
    """NaN becomes null, so the output is strict JSON."""
    if isinstance(value, float):
        return _json_number(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


CONFIG_HELP = {
    "m": "train set size",
    "n": "test set size",
    "hidden": "hidden layer sizes, e.g. 3 or 8,8",
    "lr": "learning rate",
    "batch_size": "mini-batch size (default: m, full batch)",
    "epochs": "passes over the train set",
}
PARSERS = {"int": int, "float": float, "int | None": int, "tuple[int, ...]": _hidden}


def _add_config_options(p: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
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

    tune_cmd = sub.add_parser("tune", help="tune the learning rate on a validation split")
    _add_config_options(tune_cmd, skip=("lr",))
    tune_cmd.add_argument("--tune", default="lr", help="axes to tune: lr, batch_size, epochs")
    tune_cmd.add_argument("--lr-grid", default="1e-4:1e2:4", help="low:high:per_decade or a,b,c")
    tune_cmd.add_argument("--batch-grid", help="batch sizes to try, e.g. 1,32,128,1000")
    tune_cmd.add_argument("--epochs-grid", help="epoch counts to try, e.g. 100,1000")
    tune_cmd.add_argument("--score", choices=("loss", "accuracy"), default="loss",
                          help="validation score to optimise (default: loss)")  # fmt: skip
    tune_cmd.add_argument("--validation", type=float, default=0.2,
                          help="fraction of the train set held out (default 0.2)")  # fmt: skip
    tune_cmd.add_argument("--tune-runs", type=int, help="seeds per grid point (default: --runs)")
    tune_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(tune_cmd)
    tune_cmd.set_defaults(func=cmd_tune)

    agree = sub.add_parser("agree", help="train one configuration on several engines and compare")
    _add_config_options(agree)
    agree.add_argument(
        "--engines", default="numpy,numba", help="engines to compare, the first is the reference"
    )
    agree.add_argument("--runs", type=int, help="runs per engine (default 2)")
    agree.add_argument("--seed", type=int, help="seed of run 0")
    agree.add_argument("--dtype", choices=DTYPE_NAMES, help="float width (default: each engine's)")
    agree.add_argument("--executor", default="local", help="local, dask or dask://HOST:PORT")
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
    _add_config_options(data, skip=CONFIG_FIELDS[3:])  # data, m, n
    data.add_argument("--dataset", dest="data", help=argparse.SUPPRESS)  # the old spelling
    data.add_argument("--seed", type=int, default=0, help="the run's seed")
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
