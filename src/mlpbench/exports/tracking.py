"""Stored runs logged to MLflow: one MLflow run per stored run, the study's report as an
artifact. The SQLite store stays the record; MLflow gets a copy, and a run already logged
(same configuration, engine, dtype, device and seed) is not logged twice.

Without a URI the tracking store is a SQLite database `mlruns.db` beside the output folder
(MLflow 3 advises a database over its file store, now in maintenance mode), no server
needed; an `mlruns/` folder already there is used instead, so older stores keep growing.
For a folder store mlpbench sets MLFLOW_ALLOW_FILE_STORE=true, which MLflow 3 asks for.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from mlpbench.config.core import trained_settings
from mlpbench.errors import UsageError
from mlpbench.files import make_folder

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from mlpbench.engines.results import StoredRun

INSTALL = "pip install 'mlpbench[mlflow]'"
# the tracking URIs MLflow's client serves: a server, a folder, a database, Databricks
SCHEMES = ("http", "https", "file", "sqlite", "postgresql", "mysql", "mssql", "databricks",
           "databricks-uc")  # fmt: skip
DATABASES = ("sqlite", "postgresql", "mysql", "mssql")  # MLflow's SQLAlchemy store
BARE_SCHEMES = ("databricks", "databricks-uc")  # a URI of one word: not a folder
KEY_TAG = "mlpbench.run"


def tracking_uri(spec: str, out: Path) -> str:
    """The URI given; else beside the output folder an mlruns/ folder that exists (an older
    file store, still read), or the SQLite database mlruns.db (MLflow's advice)."""
    if spec:
        return spec
    beside = out.resolve().parent
    if (beside / "mlruns").is_dir():
        return (beside / "mlruns").as_uri()
    return f"sqlite:///{beside / 'mlruns.db'}"


def _checked(uri: str) -> str:
    """The URI's scheme, or "" for a local folder; one line for a URI MLflow cannot use."""
    if "://" not in uri:
        return uri if uri in BARE_SCHEMES else ""
    try:
        parts = urllib.parse.urlsplit(uri)
        parts.port  # noqa: B018 - reading it checks the port and an IPv6 host's brackets
    except ValueError as e:
        raise UsageError(f"--mlflow {uri!r} is not a valid URI: {e}") from None
    scheme = parts.scheme.split("+")[0].lower()  # sqlalchemy's mysql+pymysql and the like
    if scheme not in SCHEMES:
        raise UsageError(f"--mlflow {uri!r}: unsupported scheme {parts.scheme!r}; allowed: "
                         f"{', '.join(SCHEMES)}, or a folder's path")  # fmt: skip
    if scheme in DATABASES and not all(map(importlib.util.find_spec, ("sqlalchemy", "alembic"))):
        raise UsageError(f"--mlflow {uri!r} needs SQLAlchemy and Alembic: {INSTALL}")
    return scheme


def connect(uri: str) -> MlflowClient:
    """A client for the tracking store, reached now: one line and UsageError if it cannot be."""
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise UsageError(f"--mlflow needs MLflow: {INSTALL}") from None
    scheme = _checked(uri)
    if scheme in ("", "file"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        make_folder(Path(urllib.parse.unquote(uri.removeprefix("file://"))))
    elif scheme == "sqlite":
        make_folder(Path(uri.removeprefix("sqlite:///")).parent)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail fast when unreachable
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    quiet = logging.getLogger("mlflow")
    level, quiet.level = quiet.level, logging.ERROR  # its warnings would be a second line
    try:
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)
    except Exception as e:  # MLflow raises many kinds; any of them means unreachable here
        reason = " ".join(str(e).split())[:200]
        raise UsageError(f"cannot reach the MLflow tracking store at {uri}: {reason}") from None
    finally:
        quiet.setLevel(level)
    return client


def _experiment(client: MlflowClient, name: str) -> str:
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name)


def _key(run: StoredRun) -> str:
    return "|".join((run.config_key, run.engine, run.dtype, run.device, str(run.seed)))


def log_runs(
    client: MlflowClient,
    experiment: str,
    runs: list[StoredRun],
    artifacts: tuple[Path, ...] = (),
    tags: dict[str, str] | None = None,
) -> int:
    """Log each stored run not yet in the experiment; attach artifacts to a summary run.
    Returns how many runs were logged."""
    from mlflow.entities import Metric, Param, RunTag

    exp = _experiment(client, experiment)
    logged = {r.data.tags.get(KEY_TAG) for r in client.search_runs([exp], max_results=50000)}
    count = 0
    for run in runs:
        if _key(run) in logged:
            continue
        settings = {k: v for k, v in trained_settings(run.config).items() if v is not None}
        params = {**run.config, **settings, "hidden": ",".join(map(str, run.config["hidden"])),
                  "engine": run.engine, "dtype": run.dtype, "device": run.device,
                  "seed": run.seed}  # fmt: skip
        created = client.create_run(exp, run_name=f"{run.engine} seed {run.seed}",
                                    tags={KEY_TAG: _key(run), **(tags or {})})  # fmt: skip
        run_id, stamp = created.info.run_id, int(created.info.start_time)
        metrics = [Metric(k, v, stamp, 0) for k, v in run.metrics.items()
                   if v is not None and math.isfinite(v)]  # fmt: skip
        curves = {"train_loss_curve": run.loss_curve,
                  **{f"train_{k}_curve": v for k, v in run.curves.items()}}  # fmt: skip
        metrics += [Metric(name, float(v), stamp, step) for name, curve in curves.items()
                    for step, v in enumerate(curve, 1) if math.isfinite(v)]  # fmt: skip
        first = {"params": [Param(k, str(v)) for k, v in params.items()],
                 "tags": [RunTag("diverged", str(run.diverged))]}  # fmt: skip
        for start in range(0, max(len(metrics), 1), 1000):  # MLflow's batch limit
            extra = first if start == 0 else {}
            client.log_batch(run_id, metrics=metrics[start : start + 1000], **extra)
        client.set_terminated(run_id)
        count += 1
    if artifacts:
        summary = client.create_run(exp, run_name="report", tags=tags or {})
        for path in artifacts:
            client.log_artifact(summary.info.run_id, str(path))
        client.set_terminated(summary.info.run_id)
    return count


def log_study(client: MlflowClient, name: str, tables: list, out: Path, report: str) -> int:
    """Log a study's runs (table, [ColumnRuns] pairs; each run once) and its report files."""
    runs = {r.id: r for _, columns in tables for col in columns for r in col.runs}
    files = tuple(p for p in (out / f"{report}.md", out / f"{report}.html") if p.exists())
    return log_runs(client, name, list(runs.values()), files, {"study": name})
