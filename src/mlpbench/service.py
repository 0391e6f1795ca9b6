"""The experiment service: what each command does, as functions the CLI (and Python) call.

It turns a study into jobs, has the tuning protocol choose the tuned settings,
trains what the store lacks and renders reports and summaries from the store.
Each function takes plain values, raises UsageError on bad input before any
work, and holds the store in a `with` block so it is always closed.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from mlpbench import engines
from mlpbench.analysis.agree import Difference, difference
from mlpbench.analysis.compare import ColumnRuns
from mlpbench.config.core import (
    DASK_WAIT_S,
    Config,
    Job,
    check_runs,
    check_seeds,
    check_size,
)
from mlpbench.config.tuning import TuneSpec
from mlpbench.data.dataset import DATASETS
from mlpbench.engines.results import StoredRun
from mlpbench.errors import UsageError
from mlpbench.experiment.env import usable_memory
from mlpbench.experiment.runner import (
    Executor,
    check_jobs,
    open_executor,
    pending,
    run_jobs,
    runnable_jobs,
    start_engines,
)
from mlpbench.experiment.store import Store
from mlpbench.experiment.study import Column, Study, Table, load_study, parse_study
from mlpbench.experiment.tune import (
    TuneResult,
    choose,
    grid_jobs,
    grid_summary,
)
from mlpbench.exports import tracking
from mlpbench.exports.tidy import placed_rows, places, write_dataset
from mlpbench.files import output_folder, write_text
from mlpbench.report import latex
from mlpbench.report.build import PLOT_DIR, write_report
from mlpbench.report.formatting import jsonable, summary
from mlpbench.report.plots import FORMATS, save, sensitivity

BUNDLED = ("seed", "seed-tuned", "beyond-seed", "penalties")
LAST_STUDY = "last_study"
Tuned = dict[tuple[int, str], TuneResult | None]


def bundled_study(name: str) -> Study:
    """A study shipped inside the package, by name."""
    text = resources.files("mlpbench").joinpath("studies", f"{name}.toml").read_text()
    return parse_study(text, f"{name}.toml")


def resolve_study(spec: str) -> Study:
    """A study from a bundled name ('seed') or a TOML file path."""
    if spec in BUNDLED and not Path(spec).exists():
        return bundled_study(spec)
    return load_study(spec)


def pick_engine(name: str | None) -> str:
    """The named engine, checked, or the fastest one installed."""
    return engines.check_engine(name) if name is not None else engines.default_engine()


def seeds(runs: int | None, first: int | None, default_runs: int) -> list[int]:
    """Seeds of R runs: run i uses first + i, every seed in [0, 2^63)."""
    count = check_runs(runs if runs is not None else default_runs)
    start = check_seeds(first if first is not None else 0, count)
    return [start + i for i in range(count)]


def column_job(col: Column, default_engine: str, dtype: str | None = None) -> Job:
    """The job that fills one column; without a dtype, the engine's own float width."""
    engine = col.engine or default_engine
    return Job(col.config, engine, col.dtype or dtype or engines.default_dtype(engine), col.device)


def jobs(study: Study, default_engine: str, dtype: str | None = None) -> list[Job]:
    """Distinct jobs of a study, in table order; a column's own engine and dtype win."""
    seen = {column_job(c, default_engine, dtype): None for t in study.tables for c in t.columns}
    return list(seen)


def tune(
    config: Config,
    spec: TuneSpec,
    engine: str,
    dtype: str,
    store: Store,
    train: bool = True,
    executor: Executor | None = None,
) -> TuneResult | None:
    """Score every grid point (training what the store lacks, if train) and pick the best.

    Returns None when train is False and some grid point has no stored runs.
    """
    grid = grid_jobs(config, spec, engine, dtype)
    trained = run_jobs(grid, spec.seeds, store, executor=executor) if train else 0
    result = choose(config, spec, [store.runs(job, spec.seeds) for job in grid])
    return None if result is None else result._replace(trained=trained)


def resolve_tuned(
    study: Study,
    engine: str,
    dtype: str | None,
    store: Store,
    train: bool,
    executor: Executor | None = None,
) -> tuple[Study, Tuned]:
    """Tune every column with a field given as "tuned" (reusing stored grid runs) and put in
    its choice.

    Returns the study with the chosen values, and each tuned column's result by
    (table number, label); a result is None when train is False and the grid
    is not complete in the store (the column is then left as it was).
    """
    results: Tuned = {}
    tables = []
    for table in study.tables:
        columns = []
        for col in table.columns:
            if col.tuned:
                job = column_job(col, engine, dtype)
                spec = study.tuning_for(col)
                result = tune(col.config, spec, job.engine, job.dtype, store, train, executor)
                results[(table.number, col.label)] = result
                if result is not None:
                    col = replace(col, config=result.config, chosen=result.best.values)
            columns.append(col)
        tables.append(replace(table, columns=tuple(columns)))
    return study._with(tables=tuple(tables)), results


def tuning_runs(tuned: Tuned) -> int:
    """Runs trained to tune (on their grids' validation splits)."""
    return sum(result.trained for result in tuned.values() if result is not None)


def load_columns(
    table: Table, study: Study, store: Store, engine: str, dtype: str | None
) -> list[ColumnRuns]:
    """Every column of a table with its stored runs."""
    out = []
    for col in table.columns:
        job = column_job(col, engine, dtype)
        out.append(ColumnRuns(col, job, [] if col.untuned else store.runs(job, study.seeds)))
    return out


class StudyOutcome(NamedTuple):
    """A study and its stored runs, ready to report: what `run` and `report` both build."""

    study: Study  # with the tuned learning rates put in
    tables: list[tuple[Table, list[ColumnRuns]]]
    tuned: Tuned
    environment: list[StoredRun]  # every run in the store, for the machine and versions
    out: Path
    trained: int  # runs this call trained, tuning grids' included (0 when only read)
    name: str = "report"  # report-tables-1-runs-5 for a part of the study: its own files


def _chosen(study: Study, tables: str | None, runs: int | None, seed: int | None):
    """The part of a study asked for, and the name of its report: "report" for the whole
    study, else one that says which part (report-tables-1-4-runs-5), so a partial run never
    overwrites the whole study's report."""
    part = study.select(tables).with_runs(runs).with_seed(seed)
    numbers = [t.number for t in part.tables]
    names = [] if numbers == [t.number for t in study.tables] else [
        "tables-" + "-".join(map(str, numbers))]  # fmt: skip
    names += [f"runs-{part.runs}"] if part.runs != study.runs else []
    names += [f"seed-{part.seed}"] if part.seed != study.seed else []
    return part, "-".join(["report", *names])


def _outcome(
    study: Study, store: Store, engine: str, dtype: str | None, out: Path, tuned: Tuned,
    trained: int, name: str,
) -> StudyOutcome:  # fmt: skip
    tables = [(t, load_columns(t, study, store, engine, dtype)) for t in study.tables]
    if not any(col.runs for _, columns in tables for col in columns):
        raise UsageError(
            f"no runs of study {study.name!r} are stored in {str(out)!r}; nothing to report "
            "(the report there, if any, is left as it was)"
        )
    return StudyOutcome(study, tables, tuned, store.all_runs(), out, trained, name)


def run_study(
    spec: str | Study = "seed",
    tables: str | None = None,
    runs: int | None = None,
    seed: int | None = None,
    engine: str | None = None,
    dtype: str | None = None,
    out: str | Path = "results",
    fresh: bool = False,
    executor: str = "local",
    wait_s: float = DASK_WAIT_S,
) -> StudyOutcome:
    """Run a study's tables, reusing stored runs; `report` then writes what it found."""
    study, name = _chosen(resolve_study(spec) if isinstance(spec, str) else spec, tables, runs,
                          seed)  # fmt: skip
    check_seeds(study.seed, study.runs)
    engine = pick_engine(engine)
    runnable = runnable_jobs(jobs(study, engine, dtype), study.runs)  # fail before any writing
    if not runnable:
        raise UsageError("no column of this study can run on this machine (each needs an "
                         "engine or a GPU it lacks); nothing was run")  # fmt: skip
    with Store(out, readonly=True) as store:  # start only the engines with runs to train
        start_engines([job for job in runnable if pending(job, study.seeds, store, fresh)])
    last = {"source": study.source, "folder": study.folder, "engine": engine, "dtype": dtype}
    with Store(out) as store, open_executor(executor, wait_s) as ex:
        store.set_meta(LAST_STUDY, last)
        study, tuned = resolve_tuned(study, engine, dtype, store, True, ex)
        trained = run_jobs(jobs(study, engine, dtype), study.seeds, store, fresh, ex)
        trained += tuning_runs(tuned)
        return _outcome(study, store, engine, dtype, Path(out), tuned, trained, name)


def stored_study(
    out: str | Path = "results",
    spec: str | None = None,
    tables: str | None = None,
    runs: int | None = None,
    seed: int | None = None,
) -> StudyOutcome:
    """The study last run into out (or another study file) with its stored runs, no training:
    the whole study unless tables, runs or seed pick a part of it."""
    with Store(out, readonly=True) as store:
        last = store.get_meta(LAST_STUDY)
        if not isinstance(last, dict):
            raise UsageError(f"no study has been run in {str(out)!r}; run `mlpbench run` first")
        lacking = [k for k in ("source", "engine") if not isinstance(last.get(k), str)]
        lacking += [] if isinstance(last.get("dtype"), str | None) else ["dtype"]  # None: default
        if lacking:
            raise UsageError(f"store {str(out)!r}: its record of the last study is corrupted "
                             f"(no {', '.join(lacking)}); run the study again with "
                             "`mlpbench run`")  # fmt: skip
        whole = resolve_study(spec) if spec else parse_study(
            last["source"], folder=last.get("folder"))  # fmt: skip
        study, name = _chosen(whole, tables, runs, seed)
        engine, dtype = last["engine"], last.get("dtype")
        study, tuned = resolve_tuned(study, engine, dtype, store, train=False)
        return _outcome(study, store, engine, dtype, Path(out), tuned, 0, name)


def report(outcome: StudyOutcome, figures: tuple[str, ...] = ("png",)) -> str:
    """Write report.md, report.html and the plots (in each figure format); return the Markdown."""
    for fmt in figures:
        if fmt not in FORMATS:
            raise UsageError(f"unknown figure format {fmt!r}; allowed: {', '.join(FORMATS)}")
    formats = tuple(dict.fromkeys(("png", *figures)))
    o = outcome
    return write_report(o.study, o.tables, o.environment, o.out, o.tuned, formats, o.name)


def latex_report(outcome: StudyOutcome) -> Path:
    """Write report.tex: the study's tables as booktabs tables in one compilable document."""
    path = outcome.out / "report.tex"
    write_text(path, latex.render(outcome.study, outcome.tables))
    return path


def tracker(spec: str | None, out: str | Path) -> Any:
    """An MLflow client for --mlflow [URI], connected before any training; None if not asked."""
    if spec is None:
        return None
    return tracking.connect(tracking.tracking_uri(spec, output_folder(out)))


def track_runs(client: Any, experiment: str, runs: list[StoredRun]) -> int:
    """Log runs of one configuration (train, tune) to MLflow; how many were new."""
    return tracking.log_runs(client, experiment, runs)


def track_study(client: Any, outcome: StudyOutcome) -> int:
    """Log the study's runs (each once) and its report to MLflow; how many runs were new."""
    return tracking.log_study(client, outcome.study.name, outcome.tables, outcome.out,
                              outcome.name)  # fmt: skip


def train(
    config: Config,
    run_seeds: list[int],
    engine: str | None = None,
    dtype: str | None = None,
    out: str | Path = "results",
    fresh: bool = False,
    executor: str = "local",
    wait_s: float = DASK_WAIT_S,
) -> tuple[Job, list[StoredRun]]:
    """Train one configuration's missing runs; the job and its stored runs in seed order."""
    name = pick_engine(engine)
    job = Job(config, name, dtype or engines.default_dtype(name))
    start_engines(runnable_jobs([job], len(run_seeds)))  # fail before anything is written
    with Store(out) as store, open_executor(executor, wait_s) as ex:
        run_jobs([job], run_seeds, store, fresh, ex)
        return job, store.runs(job, run_seeds)


def tune_and_confirm(
    config: Config,
    spec: TuneSpec,
    confirm_seeds: list[int],
    engine: str | None = None,
    dtype: str | None = None,
    out: str | Path = "results",
    executor: str = "local",
    wait_s: float = DASK_WAIT_S,
) -> tuple[dict, list[StoredRun]]:
    """Tune on the validation split, rerun the choice on fresh seeds, draw the sensitivity
    plot; the summary as `tune --json` prints it, and the confirmation's stored runs."""
    name = pick_engine(engine)
    dtype = dtype or engines.default_dtype(name)
    names = list(spec.axes)
    check_jobs(grid_jobs(config, spec, name, dtype), spec.runs)  # fail before any work
    check_jobs([Job(config, name, dtype)], len(confirm_seeds))
    start_engines([Job(config, name, dtype)])
    with Store(out) as store, open_executor(executor, wait_s) as ex:
        result = tune(config, spec, name, dtype, store, executor=ex)
        assert result is not None  # every grid point was just trained
        job = Job(result.config, name, dtype)
        run_jobs([job], confirm_seeds, store, executor=ex)
        stored = store.runs(job, confirm_seeds)
        confirmed = summary(job, confirm_seeds, stored)
    plot_dir = Path(out) / PLOT_DIR
    plot_dir.mkdir(parents=True, exist_ok=True)
    batch = "full batch" if config.batch == config.train_size else f"B={config.batch}"
    entry = (f"{config.loss}/{config.optimizer}, {batch}", result)
    plot = save(sensitivity("Tuning", [entry], spec.score), plot_dir / f"tune-{config.key()}.png")
    return jsonable({
        **{n: result.best.values[n] for n in names},
        "score": spec.score,
        "validation": spec.validation,
        "tuning_seeds": spec.seeds,
        "grid": grid_summary(result, names),
        **confirmed,
        "plot": str(plot),
    }), stored  # fmt: skip


def agree(
    config: Config,
    names: list[str],
    run_seeds: list[int],
    dtype: str | None = None,
    executor: str = "local",
    wait_s: float = DASK_WAIT_S,
) -> tuple[str, list[Difference]]:
    """Train on each engine from the same start; the reference's name and each one's distance."""
    if len(names) < 2:
        raise UsageError(f"agree needs at least two engines, got {','.join(names)!r}")
    jobs = [Job(config, name, dtype or engines.default_dtype(name)) for name in names]
    check_jobs(jobs, len(run_seeds))
    start_engines(jobs)
    with open_executor(executor, wait_s) as ex:
        runs = ex.results([(job, list(run_seeds)) for job in jobs])
    rows = [difference(r, runs[0], job.engine, job.dtype) for job, r in zip(jobs[1:], runs[1:])]
    return f"{jobs[0].engine}, {jobs[0].dtype}", rows


def export_rows(out: str | Path = "results", curves: bool = False) -> list[dict]:
    """Every stored run as one flat row, once per column of the last study it fills (or once,
    unplaced); with curves, one row per run and epoch instead."""
    with Store(out, readonly=True) as store:
        runs = store.all_runs()
    if not runs:
        raise UsageError(f"no results in {str(out)!r}; run `mlpbench run` or `train` first")
    try:
        study = stored_study(out)
        where = places(study.study.name, study.tables)
    except UsageError:  # no study run here, or none of its runs stored
        where = {}
    return placed_rows(runs, where, curves)


def export_data(config: Config, seed: int, out: str | Path = "results") -> list[Path]:
    """CSV files of the exact train and test sets a run with this seed uses."""
    check_seeds(seed, 1)
    check_size(config.replace(epochs=1), 1, usable_memory())
    return write_dataset(config, seed, output_folder(out))


def datasets() -> dict[str, str]:
    """Every data set by name, with what it is."""
    return dict(DATASETS)
