"""Per-neuron pictures: each unit's heat map is its activation over the plane, a panel per
unit (the first 12 of a wider layer), in the report where a table asks and from the API."""

from __future__ import annotations

import numpy as np
import pytest

import mlpbench as mb
from mlpbench import cli
from mlpbench.errors import UsageError
from mlpbench.nn.model import forward
from mlpbench.report.neurons import GRID, MAX_UNITS, hidden_units, units_of


def _images(fig):
    return [ax for ax in fig.axes if ax.images]


def test_each_panel_is_the_units_activation_over_the_grid():
    result = mb.train(runs=2, epochs=20, engine="numpy", hidden=(4, 3), activation="tanh", lr=1)
    units = units_of(result._columns()[0], seed=1)
    assert units.run.seed == 1 and [a.shape for a in units.layers] == [(GRID, GRID, 4),
                                                                       (GRID, GRID, 3)]
    x0, x1, y0, y1 = units.limits
    assert (x0, x1, y0, y1) == (-2.0, 2.0, -2.0, 2.0)  # the seed set's own range
    corner = np.array([[[x1, y0]]])  # grid column GRID - 1, row 0
    params = [np.asarray(p)[None] for p in units.run.params]
    _, acts, _ = forward(params, corner, result.job.config.hidden_activation)
    np.testing.assert_allclose(units.layers[0][0, GRID - 1], acts[1][0, 0], rtol=1e-12)
    np.testing.assert_allclose(units.layers[1][0, GRID - 1], acts[2][0, 0], rtol=1e-12)


def test_one_panel_per_unit_and_at_most_twelve_a_layer():
    result = mb.train(runs=1, epochs=5, engine="numpy", hidden=(30, 2), activation="relu",
                      lr=0.1)  # fmt: skip
    fig = hidden_units("t", result._columns())
    assert len(_images(fig)) == MAX_UNITS + 2
    labels = [" ".join(ax.get_ylabel().split()) for ax in fig.axes if ax.get_ylabel()]
    assert any(f"first {MAX_UNITS} of 30" in label for label in labels)
    titles = [ax.get_title() for ax in _images(fig)]
    assert titles[0].startswith("1: [") and titles[-1].startswith("2: [")


def test_more_than_two_inputs_are_drawn_on_the_principal_plane():
    pytest.importorskip("sklearn")  # it ships iris
    result = mb.train(runs=1, epochs=5, engine="numpy", data="iris", hidden=(3,), lr=1)
    units = units_of(result._columns()[0])
    assert units.names == ("principal component 1", "principal component 2")
    title = " ".join(hidden_units("t", result._columns())._suptitle.get_text().split())
    assert "principal component 1 across" in title


def test_a_seed_that_is_not_a_finite_run_is_one_line():
    result = mb.train(runs=2, epochs=5, engine="numpy", hidden=(3,))
    with pytest.raises(UsageError, match="seed 7 is not a finite run here; the finite runs' "
                                         "seeds: 0, 1"):  # fmt: skip
        result.plot_units(seed=7)
    assert "seed 1" in " ".join(ax.get_ylabel() for ax in result.plot_units(seed=1).axes)


def test_the_report_draws_units_where_a_table_asks(tmp_path):
    study = tmp_path / "s.toml"
    table = "[[tables]]\nnumber = {}\n{}[[tables.columns]]\nlabel = 'a'\nhidden = [3]\n"
    study.write_text("name = 's'\nruns = 2\n[defaults]\nm = 40\nn = 10\nepochs = 5\n"
                     + table.format(1, "units = true\n") + table.format(2, ""))  # fmt: skip
    out = tmp_path / "out"
    assert cli.main(["run", str(study), "--out", str(out), "--engine", "numpy"]) == 0
    drawn = sorted(p.name for p in (out / "plots").glob("*units*.png"))
    assert drawn == ["table-1-units.png"]
    assert "table-1-units.png" in (out / "report.md").read_text()
