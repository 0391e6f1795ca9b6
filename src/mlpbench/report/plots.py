"""Pictures of a table: decision boundaries, learning curves, time, and spread.

Each function draws one matplotlib Figure from stored runs alone (final
weights, loss curves, metrics); `save` writes it, whole or not at all, as PNG
and any of SVG and PDF.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import matplotlib
import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from mlpbench.analysis.stats import median_interval, summarize
from mlpbench.data.dataset import Dataset, drawn_points, extent, labels_of
from mlpbench.data.dataset import truth as data_truth
from mlpbench.engines.results import padded
from mlpbench.files import replacing
from mlpbench.nn.activations import probabilities
from mlpbench.nn.model import logits

if TYPE_CHECKING:
    from mlpbench.analysis.compare import ColumnRuns
    from mlpbench.config.core import Config
    from mlpbench.engines.results import StoredRun


DPI = 100
PANEL = 3.6  # inches per panel
LAYOUT = "constrained"  # matplotlib lays out titles, labels and colorbars


FORMATS = ("png", "svg", "pdf")


def save(fig: Figure, path: Path, formats: tuple[str, ...] = ("png",)) -> Path:
    """Write the figure to path (its .png) and beside it in the other formats asked for; a
    fault is one line naming the plot."""
    for fmt in formats:
        with replacing(path.with_suffix(f".{fmt}")) as tmp:
            fig.savefig(tmp, dpi=DPI, format=fmt)
    return path


def fitted(text: str, width_in: float, points: float = 12.0) -> str:
    """Text broken into lines that fit width_in inches at a font size, so no title is clipped."""
    chars = max(16, int(width_in * 72 / (0.6 * points)))
    return "\n".join(textwrap.fill(line, chars) or line for line in text.split("\n"))


def _log_scale(ax: Any, which: str) -> None:
    """A log scale on the x or y axis whose tick labels are plain text (0.2, 1e-05), as
    mathtext is off here."""
    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_formatter(ticker.LogFormatter())
    axis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False))


def literal_text(draw: Callable[..., Figure]) -> Callable[..., Figure]:
    """Draw with matplotlib's mathtext off, so every text of the figure (a column's label
    with a $ in it, say) is shown as typed."""

    @functools.wraps(draw)
    def literal(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return literal


def _finite(col: ColumnRuns) -> list[StoredRun]:
    return [r for r in col.runs if not r.diverged]


class Plane(NamedTuple):
    """Where a panel's two axes lie in input space: x = origin + a axes[0] + b axes[1]."""

    origin: np.ndarray
    axes: np.ndarray  # (2, inputs)
    names: tuple[str, str]

    def coords(self, x: np.ndarray) -> np.ndarray:
        """Points (count, inputs) in the plane's coordinates (count, 2)."""
        return (x - self.origin) @ self.axes.T

    def points(self, coords: np.ndarray) -> np.ndarray:
        """Plane coordinates (count, 2) back in input space."""
        return self.origin + coords @ self.axes


def plane_of(x_train: np.ndarray) -> Plane:
    """The inputs themselves for one or two inputs; for more, the plane of the train inputs'
    first two principal components through their mean."""
    inputs = x_train.shape[1]
    if inputs == 1:  # the one input across, nothing up: the boundary is a vertical line
        return Plane(np.zeros(1), np.array([[1.0], [0.0]]), ("x1", ""))
    if inputs == 2:
        return Plane(np.zeros(2), np.eye(2), ("x1", "x2"))
    mean = x_train.mean(axis=0)
    _, _, vt = np.linalg.svd(x_train - mean, full_matrices=False)
    axes = np.zeros((2, inputs))
    axes[: len(vt[:2])] = vt[:2]  # a single train point has one component: the other is 0
    return Plane(mean, axes, ("principal component 1", "principal component 2"))


def plane_limits(config: Config, plane: Plane, shown: list[np.ndarray]) -> tuple[float, ...]:
    """A generated set's own range, else the points' extent with a margin."""
    fixed = extent(config) if plane.names == ("x1", "x2") else None
    if fixed is not None:
        return (*fixed, *fixed)
    coords = np.concatenate(shown)
    low, high = coords.min(axis=0), coords.max(axis=0)
    margin = 0.08 * np.where(high > low, high - low, 1.0)
    return low[0] - margin[0], high[0] + margin[0], low[1] - margin[1], high[1] + margin[1]


class Grid(NamedTuple):
    """A square grid over the plane a run's points are drawn on: its axes' meshes and the
    grid's points in the data's own input space."""

    plane: Plane
    limits: tuple[float, ...]  # x0, x1, y0, y1
    gx: np.ndarray
    gy: np.ndarray
    points: np.ndarray


def grid_over(config: Config, data: Dataset, size: int) -> Grid:
    """size x size points over the plane of data's inputs, within plane_limits."""
    plane = plane_of(data.x_train)
    limits = plane_limits(config, plane, [plane.coords(data.x_train), plane.coords(data.x_test)])
    gx, gy = np.meshgrid(np.linspace(*limits[:2], size), np.linspace(*limits[2:], size))
    return Grid(plane, limits, gx, gy, plane.points(np.stack([gx.ravel(), gy.ravel()], axis=1)))


class Drawn(NamedTuple):
    """A run to draw, its points as drawn (the data's own inputs), and the map from such
    points to the network's inputs (its features, scaled; else the identity)."""

    run: StoredRun
    data: Dataset
    to_inputs: Callable[[np.ndarray], np.ndarray]


def drawn_run(col: ColumnRuns, seed: int | None = None) -> Drawn | None:
    """A column's run of this seed (by default its first finite run) and its points, or None:
    no such finite run, or inputs (an unscaled table's) too large for a plot's grid to
    hold."""
    runs = [r for r in _finite(col) if seed is None or r.seed == seed]
    if not runs:
        return None
    data, to_inputs = drawn_points(col.job.config, runs[0].seed)
    top = max(np.abs(x).max(initial=0.0) for x in (data.x_train, data.x_test))
    return Drawn(runs[0], data, to_inputs) if top < DRAWN_MAX else None


def _panel(ax, col: ColumnRuns, run: StoredRun, data: Dataset, to_inputs: Callable):
    """One column's panel; returns the surface's contour set (None for k classes)."""
    config = col.job.config
    plane, (x0, x1, y0, y1), gx, gy, grid = grid_over(config, data, 160)
    train, test = plane.coords(data.x_train), plane.coords(data.x_test)
    params = [np.asarray(p, dtype=np.float64)[None] for p in run.params]
    with np.errstate(invalid="ignore"):  # a feature not finite on the grid: no colour there
        p_grid = probabilities(logits(params, to_inputs(grid)[None], config.hidden_activation))[0]
    p_test = probabilities(logits(params, to_inputs(data.x_test)[None],
                                  config.hidden_activation))[0]  # fmt: skip
    classes = config.info.classes
    truth, predicted = labels_of(data.y_test), labels_of(p_test)
    shade = None
    if len(classes) == 2:
        surface = p_grid[:, 0].reshape(gx.shape)
        shade = ax.contourf(gx, gy, surface, levels=np.linspace(0, 1, 11), cmap="Greys",
                            alpha=0.45)  # fmt: skip
        ax.contour(gx, gy, surface, levels=[0.5], colors="black", linewidths=1.2)
    else:
        regions = p_grid.argmax(axis=1).reshape(gx.shape)
        ax.contourf(gx, gy, regions, levels=np.arange(len(classes) + 1) - 0.5, cmap="tab10",
                    vmin=-0.5, vmax=9.5, alpha=0.25)  # fmt: skip
        ax.contour(gx, gy, regions, levels=np.arange(len(classes)) + 0.5, colors="black",
                   linewidths=0.6)  # fmt: skip
    ax.scatter(*train.T, s=3, c="0.55", alpha=0.5, label="train", zorder=2)
    colors = ["tab:blue", "tab:orange"] if len(classes) == 2 else [
        matplotlib.colormaps["tab10"](i % 10) for i in range(len(classes))]  # fmt: skip
    for i, name in enumerate(classes):
        side = truth == i
        ax.scatter(*test[side].T, s=20, marker=MARKERS[i % len(MARKERS)], color=colors[i],
                   edgecolors="black", linewidths=0.4, label=f"test, y = {name}",
                   zorder=3)  # fmt: skip
    wrong = truth != predicted
    ax.scatter(*test[wrong].T, s=60, marker="x", c="red", linewidths=1.5,
               label="misclassified", zorder=4)  # fmt: skip
    rule = data_truth(config)
    if rule is not None and plane.names == ("x1", "x2"):
        ax.contour(gx, gy, rule(grid).reshape(gx.shape).astype(float), levels=[0.5],
                   colors="tab:green", linestyles="--", linewidths=2, zorder=5)  # fmt: skip
        ax.plot([], [], "--", color="tab:green", linewidth=2, label="true boundary")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel=plane.names[0], ylabel=plane.names[1])
    if not plane.names[1]:  # one input: the vertical axis means nothing
        ax.set_yticks([])
    ax.set_title(fitted(f"{col.column.label}\nseed {run.seed}, test "
                        f"{run.metrics['test_accuracy']:.0f}%, {int(wrong.sum())} wrong",
                        PANEL - 0.4, 9), fontsize=9)  # fmt: skip
    return shade


MARKERS = ("o", "^", "s", "D", "v", "P", "*", "h", "<", ">")
DRAWN_MAX = 1e100  # |input| past which a plot's grid and margins overflow float64


@literal_text
def decision_boundaries(title: str, columns: list[ColumnRuns]) -> Figure:
    """One panel per column: the first finite run's output over the inputs' plane (for more
    than two inputs, their first two principal components), its decision boundary, the
    true boundary where the data set has one, train points as small dots, test points by
    class, misclassified test points crossed in red."""
    drawn = {id(c): drawn_run(c) for c in columns}
    shown = [c for c in columns if drawn[id(c)] is not None]
    panels = max(1, len(shown))
    fig = Figure(figsize=(PANEL * panels + 1.6, PANEL + 0.9), layout=LAYOUT)
    axes = fig.subplots(1, panels, squeeze=False)
    shades = [_panel(ax, col, *drawn[id(col)]) for ax, col in zip(axes[0], shown)]
    if not shown:
        axes[0][0].axis("off")
    if shown:
        handles = dict(zip(*reversed(axes[0][0].get_legend_handles_labels())))
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncols=6, fontsize=7)  # fmt: skip
    if shown and shades[0] is not None:
        positive = shown[0].job.config.info.classes[1]
        fig.colorbar(shades[0], ax=axes[0].tolist(), shrink=0.8, label=f"P(y = {positive})")
    where = ""
    if shown and shown[0].job.config.info.inputs > 2:
        where = ", on the plane of the train inputs' first two principal components"
    missing = [c.column.label for c in columns if drawn[id(c)] is None]
    note = (f"\nnot drawn: {', '.join(missing)} (every run diverged, or inputs beyond "
            f"{DRAWN_MAX:g})" if missing else "")  # fmt: skip
    fig.suptitle(fitted(f"{title}: decision boundaries (black: predicted boundary{where}){note}",
                        fig.get_figwidth()))
    return fig


@literal_text
def learning_curves(title: str, columns: list[ColumnRuns]) -> Figure:
    """Train loss per epoch, one panel per loss function (their values differ in kind):
    mean over runs, band from min to max, log scales; a weight penalty's mean dashed in the
    same colour (the loss drawn is the data loss, the penalty apart), and early stopping's
    hold-out loss dotted. Where runs stopped early, each epoch's mean and band are over the
    runs still training. A column whose mean curve is another's to 1e-6 (engines that
    agree) is dashed and says so, so the line hidden under it is not lost."""
    losses = list(dict.fromkeys(c.job.config.loss for c in columns if _finite(c))) or ["bce"]
    fig = Figure(figsize=(6 * len(losses), 4.5), layout=LAYOUT)
    axes = fig.subplots(1, len(losses), squeeze=False)[0]
    for ax, loss in zip(axes, losses):
        penalized, drawn = False, []
        for col in columns:
            runs = _finite(col)
            if not runs or col.job.config.loss != loss:
                continue
            curves = padded([r.loss_curve for r in runs])
            epochs = np.arange(1, curves.shape[1] + 1)
            mean = np.nanmean(curves, axis=0)
            under = next((name for name, other in drawn if other.shape == mean.shape
                          and np.allclose(mean, other, rtol=1e-6, atol=0)), None)  # fmt: skip
            label = f"{col.column.label} ({len(runs)} runs)"
            drawn.append((col.column.label, mean))
            if under is not None:
                label += f", on {under}'s line"
            line = ax.plot(epochs, mean, label=label, linestyle="-" if under is None else "--")
            ax.fill_between(epochs, np.nanmin(curves, axis=0), np.nanmax(curves, axis=0),
                            alpha=0.2, color=line[0].get_color())  # fmt: skip
            for name, style, what in (("penalty", "--", "weight penalty"),
                                      ("val_loss", ":", "hold-out loss")):  # fmt: skip
                if all(name in r.curves for r in runs):
                    penalized |= name == "penalty"
                    other = np.nanmean(padded([r.curves[name] for r in runs]), axis=0)
                    ax.plot(epochs, other, linestyle=style, color=line[0].get_color(),
                            label=f"{col.column.label}: {what}")  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="epoch",
               ylabel=f"train {loss} loss (mean, min-max band)")  # fmt: skip
        ax.set_title(f"{loss.upper()} loss" + (" (dashed: weight penalty, mean)" if penalized
                                               else ""))  # fmt: skip
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(fitted(f"{title}: learning curves", fig.get_figwidth()))
    return fig


def _only_batch_differs(configs: list[Config]) -> bool:
    first = configs[0].as_dict()
    differs = {k for d in (c.as_dict() for c in configs) for k in {*first, *d}
               if d.get(k) != first.get(k)}  # fmt: skip
    return len(configs) > 1 and differs == {"batch_size"}


TIME_SPAN_LOG = 10.0  # medians further apart than this are drawn on a log axis


@literal_text
def training_time(title: str, columns: list[ColumnRuns]) -> Figure:
    """Train time per run: the median with its 95% bootstrap interval, against batch size
    when only that varies, else per column; on a log axis where the medians span more than
    TIME_SPAN_LOG times (Keras' seconds beside numba's milliseconds), else linear from 0."""
    shown = [c for c in columns if c.runs]
    medians = [median_interval([r.metrics["train_time_s"] for r in c.runs]) for c in shown]
    centre = np.array([m.median for m in medians])
    errors = np.array([[m.median - m.low for m in medians], [m.high - m.median for m in medians]])
    fig = Figure(figsize=(7, 4.5), layout=LAYOUT)
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
    positive = centre[np.isfinite(centre) & (centre > 0)]
    logged = len(positive) > 1 and positive.max() > TIME_SPAN_LOG * positive.min()
    if logged:
        _log_scale(ax, "y")
    else:
        ax.set_ylim(bottom=0)
    scale = ", log scale" if logged else ""
    ax.set_ylabel(f"training time per run, s (median, 95% interval{scale})")
    ax.set_title(fitted(f"{title}: training time", fig.get_figwidth() - 1))
    return fig


@literal_text
def spread(title: str, columns: list[ColumnRuns]) -> Figure:
    """Every run's test accuracy per column with runs that finished (no empty slot for a
    column without: a GPU column on a machine without one), with the mean and its 95% CI."""
    columns = [c for c in columns if _finite(c)]
    fig = Figure(figsize=(max(5.0, 1.6 * len(columns)), 4.5), layout=LAYOUT)
    ax = fig.subplots()
    rng = np.random.default_rng(0)  # jitter only
    for i, col in enumerate(columns):
        values = [r.metrics["test_accuracy"] for r in _finite(col)]
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=16, alpha=0.7)
        s = summarize(values, [False] * len(values), "test_accuracy")
        ax.errorbar(i + 0.3, s.mean, yerr=[[s.mean - s.ci_low], [s.ci_high - s.mean]],
                    fmt="D", color="black", capsize=4)  # fmt: skip
    ax.set_xticks(range(len(columns)), [c.column.label for c in columns], fontsize=8)
    ax.set_ylabel("test accuracy per run (%)")
    text = f"{title}: spread over runs (black: mean, 95% CI)"
    ax.set_title(fitted(text, fig.get_figwidth() - 1))
    return fig


AXIS_NAMES = {"lr": "learning rate", "batch_size": "mini-batch size", "epochs": "epochs"}


@literal_text
def sensitivity(title: str, entries: list[tuple], score: str) -> Figure:
    """Validation score against each tuned axis, a panel an axis (the learning rate first),
    a line per tuned column that tunes it: mean, min-max band, choice marked.

    entries are (label, TuneResult); on each panel, grid points whose other tuned axes differ
    from the chosen point's are left out, so each line varies that one axis only.
    """
    names = list(dict.fromkeys(n for _, result in entries for n in result.best.values))
    names = sorted(names, key=lambda n: n != "lr") or ["lr"]
    fig = Figure(figsize=(7 if len(names) == 1 else 5.5 * len(names), 4.5), layout=LAYOUT)
    for ax, axis in zip(fig.subplots(1, len(names), squeeze=False)[0], names):
        drawn = [(i, label, result) for i, (label, result) in enumerate(entries)
                 if axis in result.best.values]  # fmt: skip
        _sensitivity_panel(ax, axis, drawn, score)
        name = AXIS_NAMES.get(axis, axis)
        ax.set_title(fitted(f"{title}: {name} sensitivity (star: chosen)",
                            fig.get_figwidth() / len(names) - 1.5))  # fmt: skip
    return fig


def _sensitivity_panel(ax: Any, axis: str, entries: list[tuple], score: str) -> None:
    """One axis's panel; entries are (colour index, label, TuneResult)."""
    drawable, tried = False, []
    for i, label, result in entries:
        others = {k: v for k, v in result.best.values.items() if k != axis}
        points = [p for p in result.grid
                  if all(p.values[k] == v for k, v in others.items())]  # fmt: skip
        xs = np.array([p.values[axis] for p in points])
        tried += list(xs)
        means = np.array([p.mean for p in points], dtype=float)
        drawable = drawable or bool(np.any(np.isfinite(means) & (means > 0)))
        lows = np.array([min(p.scores, default=np.nan) for p in points])
        highs = np.array([max(p.scores, default=np.nan) for p in points])
        colour = f"C{i % 10}"  # a column keeps its colour on every panel
        ax.plot(xs, means, marker=".", label=label, color=colour)
        ax.fill_between(xs, lows, highs, alpha=0.15, color=colour)
        ax.plot([result.best.values[axis]], [result.best.mean], marker="*", markersize=14,
                color=colour, markeredgecolor="black")  # fmt: skip
    if tried and min(tried) > 0:  # a grid with 0 on it (momentum, l2) keeps a linear axis
        _log_scale(ax, "x")
    if score == "loss" and drawable:  # a log axis needs one finite positive score
        _log_scale(ax, "y")
    if not drawable:  # nothing finite to place: show the grid's span and say why
        ax.set(xlim=(min(tried), max(tried)) if tried else (1e-3, 1), ylim=(0, 1))
        ax.text(0.5, 0.5, "every grid point diverged", transform=ax.transAxes, ha="center")
    ax.set(xlabel=AXIS_NAMES.get(axis, axis),
           ylabel=f"validation {score} (mean, min-max over seeds)")  # fmt: skip
    ax.legend(fontsize=8)


# each plot and the table row it shows (None: always drawn)
PLOT_ROWS = {"boundary": None, "curves": "loss", "time": "time", "spread": "accuracy"}
PLOTS = {
    "boundary": decision_boundaries,
    "curves": learning_curves,
    "time": training_time,
    "spread": spread,
}
