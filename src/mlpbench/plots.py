"""Pictures of a table: decision boundaries, learning curves, time, and spread.

Each function draws one matplotlib Figure from stored runs alone (final
weights, loss curves, metrics); `save` writes it, whole or not at all, as PNG
and any of SVG and PDF.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from mlpbench.data import BOUNDARIES, make_dataset
from mlpbench.files import temporary
from mlpbench.model import logits, sigmoid
from mlpbench.stats import summarize

if TYPE_CHECKING:
    from mlpbench.analysis import ColumnRuns
    from mlpbench.config import Config
    from mlpbench.results import StoredRun


DPI = 100
PANEL = 3.6  # inches per panel


FORMATS = ("png", "svg", "pdf")


def save(fig: Figure, path: Path, formats: tuple[str, ...] = ("png",)) -> Path:
    """Write the figure to path (its .png) and beside it in the other formats asked for."""
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        tmp = temporary(target)
        try:
            fig.savefig(tmp, dpi=DPI, format=fmt)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return path


def _plain(text: str) -> str:
    """User text shown as typed: a $ would otherwise start matplotlib's mathtext."""
    return text.replace("$", r"\$")


def _finite(col: ColumnRuns) -> list[StoredRun]:
    return [r for r in col.runs if not r.diverged]


def decision_boundaries(title: str, columns: list[ColumnRuns]) -> Figure:
    """One panel per column: the first run's probability surface, true boundary, test points."""
    shown = [c for c in columns if _finite(c)]
    panels = max(1, len(shown))
    fig = Figure(figsize=(PANEL * panels + 1.0, PANEL + 0.6), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)
    for ax, col in zip(axes[0], shown):
        run = _finite(col)[0]
        config = col.job.config
        (lo, hi), boundary = BOUNDARIES[config.data]
        grid = np.linspace(lo, hi, 160)
        gx, gy = np.meshgrid(grid, grid)
        points = np.stack([gx.ravel(), gy.ravel()], axis=1)[None]
        params = [np.asarray(p, dtype=np.float64)[None] for p in run.params]
        prob = sigmoid(logits(params, points, config.activation))[0, :, 0].reshape(gx.shape)
        surface = ax.contourf(gx, gy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
        ax.contour(gx, gy, prob, levels=[0.5], colors="black", linewidths=1.5)
        ax.plot(grid, boundary(grid), "--", color="limegreen", linewidth=2, label="true boundary")
        test = make_dataset(config.data, config.m, config.n, run.seed)
        label = test.y_test[:, 0] > 0.5
        dots = {"s": 20, "edgecolors": "white", "linewidths": 0.5}
        ax.scatter(*test.x_test[label].T, c="darkred", label="y = 1", **dots)
        ax.scatter(*test.x_test[~label].T, c="navy", label="y = 0", **dots)
        ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="x1", ylabel="x2")
        ax.set_title(
            f"{_plain(col.column.label)}\nseed {run.seed}, test {run.metrics['test_accuracy']:.0f}%"
        )
    if shown:
        axes[0][0].legend(loc="lower right", fontsize=7)
        fig.colorbar(surface, ax=axes[0].tolist(), shrink=0.8, label="P(y = 1)")
    fig.suptitle(f"{title}: decision boundaries (black: p = 0.5)")
    return fig


def learning_curves(title: str, columns: list[ColumnRuns]) -> Figure:
    """Train loss per epoch: mean over runs, band from min to max, log scale."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for col in columns:
        runs = _finite(col)
        if not runs:
            continue
        curves = np.array([r.loss_curve for r in runs])
        epochs = np.arange(1, curves.shape[1] + 1)
        line = ax.plot(
            epochs, curves.mean(axis=0), label=f"{_plain(col.column.label)} ({len(runs)} runs)"
        )
        ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), alpha=0.2,
                        color=line[0].get_color())  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="epoch", ylabel="train loss (mean, min-max band)")
    ax.set_title(f"{title}: learning curves")
    ax.legend(fontsize=8)
    return fig


def _only_batch_differs(configs: list[Config]) -> bool:
    first = configs[0].as_dict()
    differs = {k for c in configs for k, v in c.as_dict().items() if v != first[k]}
    return len(configs) > 1 and differs == {"batch_size"}


def training_time(title: str, columns: list[ColumnRuns]) -> Figure:
    """Train time per run: against batch size (log-log) when only that varies, else per column."""
    shown = [c for c in columns if c.runs]
    summaries = [summarize([r.metrics["train_time_s"] for r in c.runs], [False] * len(c.runs))
                 for c in shown]  # fmt: skip
    means = np.array([s.mean for s in summaries])
    errors = np.array([s.std for s in summaries])
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    if shown and _only_batch_differs([c.job.config for c in shown]):
        sizes = [c.job.config.batch for c in shown]
        ax.errorbar(sizes, means, yerr=errors, marker="o", capsize=4)
        ax.set(xscale="log", yscale="log", xlabel="mini-batch size")
    else:
        labels = [f"{_plain(c.column.label)}\n{c.job.describe()}" for c in shown]
        ax.bar(range(len(shown)), means, yerr=errors, capsize=4, color="steelblue")
        ax.set_xticks(range(len(shown)), labels, fontsize=7)
        ax.set_yscale("log")
    ax.set_ylabel("training time per run (s)")
    ax.set_title(f"{title}: training time")
    return fig


def spread(title: str, columns: list[ColumnRuns]) -> Figure:
    """Every run's test accuracy per column, with the mean and its 95% CI."""
    fig = Figure(figsize=(max(5.0, 1.6 * len(columns)), 4.5), layout="constrained")
    ax = fig.subplots()
    rng = np.random.default_rng(0)  # jitter only
    for i, col in enumerate(columns):
        values = [r.metrics["test_accuracy"] for r in _finite(col)]
        if not values:
            continue
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=16, alpha=0.7)
        s = summarize(values, [False] * len(values))
        ax.errorbar(i + 0.3, s.mean, yerr=[[s.mean - s.ci_low], [s.ci_high - s.mean]],
                    fmt="D", color="black", capsize=4)  # fmt: skip
    ax.set_xticks(range(len(columns)), [_plain(c.column.label) for c in columns], fontsize=8)
    ax.set_ylabel("test accuracy per run (%)")
    ax.set_title(f"{title}: spread over runs (black: mean, 95% CI)")
    return fig


def sensitivity(title: str, entries: list[tuple], score: str) -> Figure:
    """Validation score against learning rate per tuned column: mean, min-max band, choice marked.

    entries are (label, TuneResult); grid points whose other tuned
    axes differ from the chosen point's are left out, so each line varies lr only.
    """
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for label, result in entries:
        others = {k: v for k, v in result.best.values.items() if k != "lr"}
        points = [p for p in result.grid
                  if all(p.values[k] == v for k, v in others.items())]  # fmt: skip
        lrs = np.array([p.values["lr"] for p in points])
        means = np.array([p.mean for p in points])
        lows = np.array([min(p.scores, default=np.nan) for p in points])
        highs = np.array([max(p.scores, default=np.nan) for p in points])
        line = ax.plot(lrs, means, marker=".", label=_plain(label))[0]
        ax.fill_between(lrs, lows, highs, alpha=0.15, color=line.get_color())
        ax.plot([result.best.values["lr"]], [result.best.mean], marker="*", markersize=14,
                color=line.get_color(), markeredgecolor="black")  # fmt: skip
    ax.set_xscale("log")
    if score == "loss":
        ax.set_yscale("log")
    ax.set(xlabel="learning rate", ylabel=f"validation {score} (mean, min-max over seeds)")
    ax.set_title(f"{title}: learning-rate sensitivity (star: chosen)")
    ax.legend(fontsize=8)
    return fig


PLOTS = {
    "boundary": decision_boundaries,
    "curves": learning_curves,
    "time": training_time,
    "spread": spread,
}
