"""A study file's [tuning] table: the protocol, the rates and every other field's grid, and
the check, once the tables are read, that every tuned column can be tuned on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlpbench.config.core import check_runs, check_seeds
from mlpbench.config.fields import BY_NAME, TUNABLE
from mlpbench.config.tuning import (
    MAX_GRID,
    TUNING_SEED_OFFSET,
    TuneSpec,
    log_grid,
    tuning_config,
)
from mlpbench.errors import UsageError
from mlpbench.experiment.schema import TUNING, Where, get, number, table_of, typed

if TYPE_CHECKING:
    from mlpbench.experiment.study import Table


def check_tuned(where: Where, tuning: TuneSpec, tables: tuple[Table, ...], raw: dict) -> None:
    """Every tuned field has a grid, and every grid value trains with each tuned column's
    configuration, hold-out set aside: known once the study is read, so no store is made
    for a study that cannot tune."""
    given = raw.get("grids", {})
    for table in tables:
        for column in table.columns:
            at = f" (table {table.number}, column {column.label!r})"
            if column.tuned:
                try:
                    tuning_config(column.config, tuning.validation)
                except UsageError as e:
                    raise (where / "validation").error(f"{e}{at}") from None
            for name in column.tuned:
                own = name == "lr" and name not in given  # the rates of lr_grid
                grid = where / "lr_grid" if own else where / "grids" / name
                if name not in tuning.axes:
                    raise grid.error(f"tuning {name} needs a grid, such as grids = {{ {name} = "
                                     f"[...] }}{at}")  # fmt: skip
                try:
                    for value in tuning.axes[name]:
                        tuning_config(column.config.replace(**{name: value}), tuning.validation)
                except UsageError as e:
                    raise grid.error(f"{e}{at}") from None


def read_tuning(where: Where, raw: Any, seed: int) -> TuneSpec:
    """The [tuning] table as a protocol: rates, grids, seeds, score and hold-out."""
    raw = table_of(where, raw, tuple(TUNING))
    grid = typed(where / "lr_grid", get(raw, TUNING, "lr_grid"), list,
                  "[low, high, per_decade]")  # fmt: skip
    if len(grid) != 3:
        raise (where / "lr_grid").error(f"expected [low, high, per_decade], got {grid!r}")
    low, high = (number(where / "lr_grid" / i, v) for i, v in enumerate(grid[:2]))
    per_decade = typed(where / "lr_grid" / 2, grid[2], int, "an integer count per decade")
    grids = _grids(where / "grids", get(raw, TUNING, "grids"))
    if "lr" in grids and "lr_grid" in raw:
        raise (where / "grids" / "lr").error("the lr grid is given twice, here and as lr_grid")
    validation = number(where / "validation", get(raw, TUNING, "validation"))
    if not 0 < validation < 1:
        raise (where / "validation").error(f"must be a fraction in (0, 1), got {validation!r}")
    score = typed(where / "score", get(raw, TUNING, "score"), str, "'loss' or 'accuracy'")
    runs = typed(where / "runs", get(raw, TUNING, "runs"), int, "an integer number of runs")
    try:
        first = check_seeds(seed + TUNING_SEED_OFFSET, check_runs(runs))
        axes = {"lr": log_grid(low, high, per_decade), **grids}
        return TuneSpec(axes=axes, runs=runs, seed=first, score=score, validation=validation)
    except UsageError as e:
        raise where.error(str(e)) from None


def _grids(where: Where, raw: Any) -> dict[str, tuple]:
    """[tuning] grids = { momentum = [0, 0.5, 0.9] }: each a tunable field's values, each
    value checked as the field checks it."""
    grids = {}
    for name, values in table_of(where, raw, TUNABLE).items():
        values = typed(where / name, values, list, f"a list of {name} values")
        if not values or len(values) > MAX_GRID:
            raise (where / name).error(f"a grid has 1 to {MAX_GRID} values, got {len(values)}")
        if len(set(values)) != len(values):
            raise (where / name).error(f"a grid's values must differ, got {values!r}")
        for i, value in enumerate(values):
            try:
                BY_NAME[name].check(value)
            except UsageError as e:
                raise (where / name / i).error(str(e)) from None
        grids[name] = tuple(values)
    return grids
