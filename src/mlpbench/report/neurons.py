"""Playground's per-neuron pictures: each hidden unit's activation over the input plane.

For one run of each column, every hidden layer's units (the first MAX_UNITS
of a wider layer) are drawn as small heat maps over the plane its decision
boundary is drawn on (the inputs themselves for one or two, the train
inputs' first two principal components for more), each on its own scale
around zero (as Playground shades each neuron), its range in its title.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from matplotlib.figure import Figure

from mlpbench.nn.model import forward
from mlpbench.report.plots import LAYOUT, drawn_run, fitted, grid_over, literal_text

if TYPE_CHECKING:
    from mlpbench.analysis.compare import ColumnRuns
    from mlpbench.engines.results import StoredRun

MAX_UNITS = 12  # units drawn per layer; a wider layer's first ones
SIDE = 1.3  # inches per unit's panel
GRID = 60  # points per side of a panel's grid


class Units(NamedTuple):
    """One run's hidden activations over a grid of the plane: layers[l] is (GRID, GRID, units)."""

    run: StoredRun
    limits: tuple[float, ...]  # x0, x1, y0, y1
    names: tuple[str, str]  # the plane's axes
    layers: list[np.ndarray]


def units_of(col: ColumnRuns, seed: int | None = None) -> Units | None:
    """The column's run of this seed (its first finite run by default) over the plane, or
    None where it has no such run to draw."""
    drawn = drawn_run(col, seed)
    if drawn is None:
        return None
    run, data, to_inputs = drawn
    grid = grid_over(col.job.config, data, GRID)
    params = [np.asarray(p, dtype=np.float64)[None] for p in run.params]
    with np.errstate(invalid="ignore"):  # a feature not finite on the grid: no colour there
        _, acts, _ = forward(params, to_inputs(grid.points)[None],
                             col.job.config.hidden_activation)  # fmt: skip
    return Units(run, grid.limits, grid.plane.names,
                 [a[0].reshape(GRID, GRID, -1) for a in acts[1:]])  # fmt: skip


def _panel(ax, values: np.ndarray, limits: tuple[float, ...], unit: int) -> None:
    top = float(np.abs(values).max()) or 1.0
    ax.imshow(values, origin="lower", extent=limits, cmap="PuOr", vmin=-top, vmax=top,
              aspect="auto", interpolation="nearest")  # fmt: skip
    ax.set(xticks=[], yticks=[])
    ax.set_title(f"{unit}: [{values.min():.2g}, {values.max():.2g}]", fontsize=6)


@literal_text
def hidden_units(title: str, columns: list[ColumnRuns], seed: int | None = None) -> Figure:
    """One row of panels per column and hidden layer: each unit's activation over the input
    plane for one run (seed, or each column's first finite run), purple above zero and
    orange below, each unit on its own symmetric scale."""
    shown = [(c, u) for c in columns if (u := units_of(c, seed)) is not None]
    rows = [(c, u, i) for c, u in shown for i in range(len(u.layers))]
    width = max([min(u.layers[i].shape[2], MAX_UNITS) for _, u, i in rows], default=1)
    fig = Figure(figsize=(SIDE * width + 1.6, SIDE * max(1, len(rows)) + 1.0), layout=LAYOUT)
    axes = fig.subplots(max(1, len(rows)), width, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for row, (col, u, i) in zip(axes, rows):
        units = u.layers[i].shape[2]
        for j in range(min(units, MAX_UNITS)):
            row[j].axis("on")
            _panel(row[j], u.layers[i][:, :, j], u.limits, j + 1)
        more = f", first {MAX_UNITS} of {units}" if units > MAX_UNITS else ""
        row[0].set_ylabel(fitted(f"{col.column.label}\nseed {u.run.seed}, layer {i + 1}{more}",
                                 1.6, 7), fontsize=7)  # fmt: skip
    if not rows:
        axes[0][0].text(0.5, 0.5, "no run to draw", ha="center", transform=axes[0][0].transAxes)
    missing = [c.column.label for c in columns if all(c is not s for s, _ in shown)]
    plane = f" ({shown[0][1].names[0]} across, {shown[0][1].names[1] or 'nothing'} up)" if (
        shown) else ""  # fmt: skip
    note = f"; not drawn: {', '.join(missing)} (no such finite run)" if missing else ""
    fig.suptitle(fitted(f"{title}: hidden units over the inputs{plane}, purple above 0, orange "
                        f"below, each unit's range in its title{note}", fig.get_figwidth()),
                 fontsize=9)  # fmt: skip
    return fig
