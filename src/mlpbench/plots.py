"""Pictures of a table: decision boundaries, learning curves, time, and spread.

Each function draws one matplotlib Figure from stored runs alone (final
weights, loss curves, metrics); `save` writes it, whole or not at all, as PNG
and any of SVG and PDF.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from mlpbench.data import BOUNDARIES, make_dataset
from mlpbench.files import temporary
from mlpbench.model import logits, sigmoid
from mlpbench.stats import median_interval, summarize

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


def _literal_text(draw: Callable[..., Figure]) -> Callable[..., Figure]:
    """Draw with matplotlib's mathtext off, so every text of the figure (a column's label
    with a $ in it, say) is shown as typed."""

    @functools.wraps(draw)
    def literal(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return literal


def _finite(col: ColumnRuns) -> list[StoredRun]:
    return [r for r in col.runs if not r.diverged]


def _probability(params: list[np.ndarray], activation: str, x: np.ndarray) -> np.ndarray:
    """P(y = 1) of one run's network (params with a run axis of 1) at points x (count, 2)."""
    return sigmoid(logits(params, x[None], activation))[0, :, 0]


@_literal_text
def decision_boundaries(title: str, columns: list[ColumnRuns]) -> Figure:
    """One panel per column: the first finite run's probability surface (grey scale), its
    p = 0.5 contour, the true boundary on top, train points as small dots, test points by
    class (triangles: y = 1, circles: y = 0), misclassified test points crossed in red."""
    shown = [c for c in columns if _finite(c)]
    panels = max(1, len(shown))
    fig = Figure(figsize=(PANEL * panels + 1.6, PANEL + 0.9), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)
    for ax, col in zip(axes[0], shown):
        run = _finite(col)[0]
        config = col.job.config
        (lo, hi), boundary = BOUNDARIES[config.data]
        grid = np.linspace(lo, hi, 160)
        gx, gy = np.meshgrid(grid, grid)
        params = [np.asarray(p, dtype=np.float64)[None] for p in run.params]

        grid_points = np.stack([gx.ravel(), gy.ravel()], axis=1)
        surface = _probability(params, config.activation, grid_points).reshape(gx.shape)
        shade = ax.contourf(gx, gy, surface, levels=np.linspace(0, 1, 11), cmap="Greys",
                            alpha=0.45)  # fmt: skip
        ax.contour(gx, gy, surface, levels=[0.5], colors="black", linewidths=1.2)
        data = make_dataset(config.data, config.m, config.n, run.seed)
        ax.scatter(*data.x_train.T, s=3, c="0.55", alpha=0.5, label="train", zorder=2)
        truth = data.y_test[:, 0] > 0.5
        wrong = (_probability(params, config.activation, data.x_test) >= 0.5) != truth
        for side, marker, size, color, label in (
            (truth, "^", 22, "tab:orange", "test, y = 1"),
            (~truth, "o", 18, "tab:blue", "test, y = 0"),
        ):
            ax.scatter(*data.x_test[side].T, s=size, marker=marker, c=color,
                       edgecolors="black", linewidths=0.4, label=label, zorder=3)  # fmt: skip
        ax.scatter(*data.x_test[wrong].T, s=60, marker="x", c="red", linewidths=1.5,
                   label="misclassified", zorder=4)  # fmt: skip
        ax.plot(grid, boundary(grid), "--", color="tab:green", linewidth=2,
                label="true boundary", zorder=5)  # fmt: skip
        ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="x1", ylabel="x2")
        accuracy = run.metrics["test_accuracy"]
        ax.set_title(f"{col.column.label}\nseed {run.seed}, test {accuracy:.0f}%, "
                     f"{int(wrong.sum())} wrong")  # fmt: skip
    if shown:
        fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center",
                   ncols=5, fontsize=7)  # fmt: skip
        fig.colorbar(shade, ax=axes[0].tolist(), shrink=0.8, label="P(y = 1)")
    fig.suptitle(f"{title}: decision boundaries (black line: p = 0.5)")
    return fig


@_literal_text
def learning_curves(title: str, columns: list[ColumnRuns]) -> Figure:
    """Train loss per epoch, one panel per loss function (their values differ in kind):
    mean over runs, band from min to max, log scales."""
    losses = list(dict.fromkeys(c.job.config.loss for c in columns if _finite(c))) or ["bce"]
    fig = Figure(figsize=(6 * len(losses), 4.5), layout="constrained")
    axes = fig.subplots(1, len(losses), squeeze=False)[0]
    for ax, loss in zip(axes, losses):
        for col in columns:
            runs = _finite(col)
            if not runs or col.job.config.loss != loss:
                continue
            curves = np.array([r.loss_curve for r in runs])
            epochs = np.arange(1, curves.shape[1] + 1)
            label = f"{col.column.label} ({len(runs)} runs)"
            line = ax.plot(epochs, curves.mean(axis=0), label=label)
            ax.fill_between(epochs, curves.min(axis=0), curves.max(axis=0), alpha=0.2,
                            color=line[0].get_color())  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="epoch",
               ylabel=f"train {loss} loss (mean, min-max band)")  # fmt: skip
        ax.set_title(f"{loss.upper()} loss")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(f"{title}: learning curves")
    return fig


def _only_batch_differs(configs: list[Config]) -> bool:
    first = configs[0].as_dict()
    differs = {k for c in configs for k, v in c.as_dict().items() if v != first[k]}
    return len(configs) > 1 and differs == {"batch_size"}


@_literal_text
def training_time(title: str, columns: list[ColumnRuns]) -> Figure:
    """Train time per run on a linear axis: the median with its 95% bootstrap interval,
    against batch size when only that varies, else per column."""
    shown = [c for c in columns if c.runs]
    medians = [median_interval([r.metrics["train_time_s"] for r in c.runs]) for c in shown]
    centre = np.array([m.median for m in medians])
    errors = np.array([[m.median - m.low for m in medians], [m.high - m.median for m in medians]])
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    if shown and _only_batch_differs([c.job.config for c in shown]):
        sizes = [c.job.config.batch for c in shown]
        ax.errorbar(sizes, centre, yerr=errors, marker="o", capsize=4)
        ax.set(xscale="log", xlabel="mini-batch size")
    else:
        labels = [f"{c.column.label}\n{c.job.describe()}" for c in shown]
        ax.errorbar(range(len(shown)), centre, yerr=errors.reshape(2, -1), fmt="o", capsize=4)
        ax.set_xticks(range(len(shown)), labels, fontsize=7)
        ax.set_xlim(-0.5, len(shown) - 0.5)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("training time per run, s (median, 95% interval)")
    ax.set_title(f"{title}: training time")
    return fig


@_literal_text
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
    ax.set_xticks(range(len(columns)), [c.column.label for c in columns], fontsize=8)
    ax.set_ylabel("test accuracy per run (%)")
    ax.set_title(f"{title}: spread over runs (black: mean, 95% CI)")
    return fig


AXIS_NAMES = {"lr": "learning rate", "batch_size": "mini-batch size", "epochs": "epochs"}


@_literal_text
def sensitivity(title: str, entries: list[tuple], score: str) -> Figure:
    """Validation score against the tuned axis (the learning rate when it is tuned) per tuned
    column: mean, min-max band, choice marked.

    entries are (label, TuneResult); grid points whose other tuned axes differ from the
    chosen point's are left out, so each line varies that one axis only.
    """
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    axis = "lr"
    for label, result in entries:
        axis = "lr" if "lr" in result.best.values else next(iter(result.best.values))
        others = {k: v for k, v in result.best.values.items() if k != axis}
        points = [p for p in result.grid
                  if all(p.values[k] == v for k, v in others.items())]  # fmt: skip
        xs = np.array([p.values[axis] for p in points])
        means = np.array([p.mean for p in points])
        lows = np.array([min(p.scores, default=np.nan) for p in points])
        highs = np.array([max(p.scores, default=np.nan) for p in points])
        line = ax.plot(xs, means, marker=".", label=label)[0]
        ax.fill_between(xs, lows, highs, alpha=0.15, color=line.get_color())
        ax.plot([result.best.values[axis]], [result.best.mean], marker="*", markersize=14,
                color=line.get_color(), markeredgecolor="black")  # fmt: skip
    ax.set_xscale("log")
    if score == "loss":
        ax.set_yscale("log")
    name = AXIS_NAMES.get(axis, axis)
    ax.set(xlabel=name, ylabel=f"validation {score} (mean, min-max over seeds)")
    ax.set_title(f"{title}: {name} sensitivity (star: chosen)")
    ax.legend(fontsize=8)
    return fig


# each plot and the table row it shows (None: always drawn)
PLOT_ROWS = {"boundary": None, "curves": "loss", "time": "time", "spread": "accuracy"}
PLOTS = {
    "boundary": decision_boundaries,
    "curves": learning_curves,
    "time": training_time,
    "spread": spread,
}
