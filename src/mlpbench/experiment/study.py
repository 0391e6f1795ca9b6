"""Studies: TOML files of named tables whose columns are training configurations.

A study file looks like

    name = "seed"
    runs = 20           # runs per column
    seed = 0            # run i of every column uses seed + i

    [defaults]          # any Config field, shared by every column
    data = "quadratic"

    [[tables]]
    number = 1
    name = "loss"
    title = "Comparison between loss functions"
    rows = ["accuracy", "loss", "time"]

    [[tables.columns]]
    label = "Binary Crossentropy (10.0)"
    loss = "bce"
    lr = 10.0
    reported = { train_accuracy = 99.30, test_accuracy = 99.45 }

A column may also name its `engine`, `dtype` and `device` ("cpu" or "gpu");
`reported` holds the seed report's figures, shown beside ours.

Configuration fields may be grouped in their sections (config/fields.py), in
`[defaults]` and in a column alike: `[defaults.optimizer]` with `name =
"adam"` and `lr = 0.01` says what `optimizer = "adam"` and `lr = 0.01` say.
A field is given once, flat or in its section.

A table may name a `group` (a data set, say): the report then opens with one
table of claims x groups, each cell the verdict on the claims of that text
in the tables of that group, with its effect size; `summary` titles it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlpbench.config.core import (
    Config,
    check_device,
    check_dtype,
    check_runs,
    check_seeds,
)
from mlpbench.config.fields import BY_NAME, CONFIG_FIELDS, SECTION_KEYS, SECTIONS, TUNABLE
from mlpbench.config.tuning import (
    MAX_GRID,
    TUNING_SEED_OFFSET,
    TuneSpec,
    log_grid,
    tuning_config,
)
from mlpbench.data.dataset import is_file
from mlpbench.engines.registry import spec
from mlpbench.engines.results import METRICS
from mlpbench.errors import UsageError
from mlpbench.experiment.claims import Claim, read_claim
from mlpbench.experiment.schema import (
    COLUMN,
    ROWS,
    STUDY,
    TABLE,
    TUNING,
    Where,
    get,
    number,
    prose,
    table_of,
    typed,
)

# a configuration field by its name, or a section's fields in a table (`[defaults.optimizer]`)
FIELD_KEYS = tuple(dict.fromkeys((*CONFIG_FIELDS, *SECTIONS)))
COLUMN_KEYS = (*COLUMN, *FIELD_KEYS)
TUNED = "tuned"  # a tunable field's value in a column: the study's [tuning] chooses it
STAND_IN = {"lr": 1.0}  # a tuned rate until chosen, as before other fields could be tuned

@dataclass(frozen=True)
class Column:
    """One training configuration, run on one engine in one float width."""

    label: str
    config: Config
    engine: str | None
    dtype: str | None
    device: str
    reported: dict[str, float]
    tuned: tuple[str, ...] = ()  # the fields given as "tuned": the tuning protocol chooses
    chosen: dict[str, Any] | None = None  # their values, once tuning has chosen

    @property
    def untuned(self) -> bool:
        """A tuned column not chosen yet (its tuned fields hold stand-ins)."""
        return bool(self.tuned) and self.chosen is None


@dataclass(frozen=True)
class Table:
    """A numbered, named comparison: columns side by side on the chosen metric rows."""

    number: int
    name: str
    title: str
    note: str
    rows: tuple[str, ...]
    columns: tuple[Column, ...]
    claims: tuple[Claim, ...] = ()
    baseline: str | None = None  # compare every column with this one instead of all pairs
    group: str = ""  # its column in the study's summary of claims (a data set, say)
    units: bool = False  # its report also draws each column's hidden units

    def column(self, label: str) -> Column:
        """The column with this label."""
        return next(c for c in self.columns if c.label == label)


@dataclass(frozen=True)
class Study:
    """A set of tables sharing run count and seeds, so columns pair run by run."""

    name: str
    title: str
    runs: int
    seed: int
    tables: tuple[Table, ...]
    source: str
    tuning: TuneSpec = field(default_factory=TuneSpec)
    summary: str = ""  # the title of the claims x groups table the report opens with
    folder: str = "."  # where the study file lies: its CSV paths are relative to it

    @property
    def seeds(self) -> list[int]:
        """Seed of each run index; the same in every column."""
        return [self.seed + i for i in range(self.runs)]

    def tuning_for(self, column: Column) -> TuneSpec:
        """The tuning protocol of one tuned column: the study's, on that column's axes."""
        return replace(self.tuning, axes={n: self.tuning.axes[n] for n in column.tuned})

    def select(self, spec: str | None) -> Study:
        """Keep the tables named in '1,4' or 'loss,batch' (numbers or names)."""
        if spec is None:
            return self
        wanted = [s.strip() for s in spec.split(",") if s.strip()]
        known = {str(t.number): t for t in self.tables} | {t.name: t for t in self.tables}
        allowed = ", ".join(f"{t.number} ({t.name})" for t in self.tables)
        if not wanted:
            raise UsageError(f"--tables names no table, got {spec!r}; this study has: {allowed}")
        for w in wanted:
            if w not in known:
                raise UsageError(f"unknown table {w!r}; this study has: {allowed}")
        keep = {known[w].number for w in wanted}
        return self._with(tables=tuple(t for t in self.tables if t.number in keep))

    def with_runs(self, runs: int | None) -> Study:
        """Override the number of runs per column."""
        return self if runs is None else self._with(runs=check_runs(runs))

    def with_seed(self, seed: int | None) -> Study:
        """Override the first seed."""
        return self if seed is None else self._with(seed=check_seeds(seed, self.runs))

    def _with(self, **changes: Any) -> Study:
        return Study(**{**self.__dict__, **changes})


def _fields(where: Where, raw: dict) -> dict[str, tuple[Any, str]]:
    """A table's configuration fields by name, each with the key path it was given at: flat
    (`lr = 0.01`) or in its section (`optimizer = { name = "adam", lr = 0.01 }`)."""
    found: dict[str, tuple[Any, str]] = {}

    def put(name: str, value: Any, spelled: str) -> None:
        if name in found:
            raise (where / spelled).error(f"{name} is given twice, as {found[name][1]} and as "
                                          f"{spelled}")  # fmt: skip
        found[name] = (value, spelled)

    for key, value in raw.items():
        if key in SECTIONS and (key not in BY_NAME or isinstance(value, dict)):
            keys = SECTION_KEYS[key]
            for inner, v in table_of(where / key, value, tuple(keys)).items():
                put(keys[inner].name, v, f"{key}.{inner}")
        elif key in BY_NAME:
            put(key, value, key)
    return found


def _config(where: Where, fields: dict[str, tuple[Any, str]]) -> Config:
    try:
        return Config(**{name: value for name, (value, _) in fields.items()})
    except UsageError as e:
        spelled = fields[e.field][1] if e.field in fields else e.field
        raise (where / spelled if spelled else where).error(str(e)) from None


def _column(where: Where, raw: Any, defaults: dict, base: Path) -> Column:
    raw = table_of(where, raw, COLUMN_KEYS)
    label = prose(where / "label", raw.get("label"), "label")
    fields = {**defaults, **_fields(where, raw)}
    for key in ("data", "test"):  # a CSV file's path is relative to the study file
        value, spelled = fields.get(key, (None, key))
        if is_file(value) and not Path(value).is_absolute():
            fields[key] = (str(base / value), spelled)
    tuned = tuple(name for name in CONFIG_FIELDS if fields.get(name, (None,))[0] == TUNED)
    for name in tuned:
        if name not in TUNABLE:
            raise (where / fields[name][1]).error(f"{name} cannot be tuned; tunable: "
                                                  f"{', '.join(TUNABLE)}")  # fmt: skip
        if name in STAND_IN:
            fields[name] = (STAND_IN[name], fields[name][1])
        else:
            del fields[name]  # at its default until the tuning protocol chooses
    checks = {"engine": spec, "dtype": check_dtype, "device": check_device}
    for key, check in checks.items():
        if key in raw:
            try:
                check(typed(where / key, raw[key], str, "a name"))
            except UsageError as e:
                raise (where / key).error(str(e)) from None
    reported = table_of(where / "reported", raw.get("reported", {}), METRICS)
    figures = {k: number(where / "reported" / k, v) for k, v in reported.items()}
    return Column(label, _config(where, fields), raw.get("engine"), raw.get("dtype"),
                  get(raw, COLUMN, "device"), figures, tuned)  # fmt: skip


def _table(where: Where, raw: Any, defaults: dict, base: Path) -> Table:
    raw = table_of(where, raw, tuple(TABLE))
    number = typed(where / "number", raw.get("number"), int, "an integer table number")
    rows = tuple(typed(where / "rows", get(raw, TABLE, "rows"), list, "a list of rows"))
    for i, row in enumerate(rows):
        if row not in ROWS:
            raise (where / "rows" / i).error(f"unknown row {row!r}; allowed: {', '.join(ROWS)}")
    columns = typed(where / "columns", raw.get("columns"), list, "a list of columns")
    if not columns:
        raise (where / "columns").error("a table needs at least one column")
    parsed = tuple(_column(where / "columns" / i, c, defaults, base)
                   for i, c in enumerate(columns))  # fmt: skip
    labels = [c.label for c in parsed]
    if len(set(labels)) != len(labels):
        raise (where / "columns").error(f"column labels must be unique, got {labels}")
    claims = typed(where / "claims", get(raw, TABLE, "claims"), list, "a list of claims")
    baseline = raw.get("baseline")
    if baseline is not None and baseline not in labels:
        raise (where / "baseline").error(f"{baseline!r} is not a column; columns: {labels}")
    return Table(
        number=number,
        name=prose(where / "name", raw.get("name", str(number)), "name"),
        title=prose(where / "title", get(raw, TABLE, "title"), "title"),
        note=prose(where / "note", get(raw, TABLE, "note"), "note"),
        rows=rows,
        columns=parsed,
        claims=tuple(read_claim(where / "claims" / i, c, labels) for i, c in enumerate(claims)),
        baseline=baseline,
        group=prose(where / "group", get(raw, TABLE, "group"), "group"),
        units=typed(where / "units", get(raw, TABLE, "units"), bool, "true or false"),
    )


def parse_study(text: str, origin: str = "<study>", folder: str | None = None) -> Study:
    """Parse and validate a study, or raise UsageError naming the file and the key path;
    CSV paths are relative to folder (by default, origin's)."""
    where = Where(origin)
    try:
        raw = tomllib.loads(text.removeprefix("\ufeff"))  # a byte-order mark is not TOML
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{origin} is not valid TOML: {e}") from None
    except RecursionError:
        raise UsageError(f"{origin}: arrays or tables nested too deeply to read") from None
    except ValueError as e:  # an integer past Python's 4300-digit limit for reading one
        raise UsageError(f"{origin}: a number cannot be read ({str(e).split(':')[0]})") from None
    table_of(where, raw, tuple(STUDY))
    defaults = _fields(where / "defaults",
                       table_of(where / "defaults", raw.get("defaults", {}), FIELD_KEYS))
    tables = typed(where / "tables", raw.get("tables"), list, "a list of [[tables]]")
    if not tables:
        raise (where / "tables").error("a study needs at least one [[tables]] entry")
    base = Path(origin).parent if folder is None else Path(folder)
    parsed = tuple(_table(where / "tables" / i, t, defaults, base) for i, t in enumerate(tables))
    for key in ("number", "name"):
        values = [getattr(t, key) for t in parsed]
        if len(set(values)) != len(values):
            raise (where / "tables").error(f"table {key}s must be unique, got {values}")
    runs = typed(where / "runs", get(raw, STUDY, "runs"), int,
                  "an integer number of runs")
    seed = typed(where / "seed", get(raw, STUDY, "seed"), int, "an integer seed")
    try:
        check_runs(runs)
        check_seeds(seed, runs)
    except UsageError as e:
        raise where.error(str(e)) from None
    tuning = _tuning(where / "tuning", raw.get("tuning", {}), seed)
    _check_tuned(where / "tuning", tuning, parsed, raw.get("tuning", {}))
    return Study(
        name=prose(where / "name", raw.get("name", Path(origin).stem), "name"),
        title=prose(where / "title", get(raw, STUDY, "title"), "title"),
        runs=runs,
        seed=seed,
        tables=parsed,
        source=text,
        tuning=tuning,
        summary=prose(where / "summary", get(raw, STUDY, "summary"), "summary"),
        folder=str(base.resolve()),
    )


def _check_tuned(where: Where, tuning: TuneSpec, tables: tuple[Table, ...], raw: dict) -> None:
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


def _tuning(where: Where, raw: Any, seed: int) -> TuneSpec:
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


def load_study(path: Path | str) -> Study:
    """Read a study file."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise UsageError(f"cannot read study file {str(path)!r}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"study file {str(path)!r} is not UTF-8 text: {e.reason} "
                         f"at byte {e.start}") from None  # fmt: skip
    return parse_study(text, str(path))
