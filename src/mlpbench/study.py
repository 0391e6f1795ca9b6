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
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpbench.config import CONFIG_FIELDS, Config, check_device, check_dtype, check_runs
from mlpbench.engines.registry import spec
from mlpbench.errors import UsageError
from mlpbench.results import METRICS
from mlpbench.tune import TUNING_SEED_OFFSET, TuneSpec, log_grid

ROWS = ("accuracy", "loss", "time", "compile")
STUDY_KEYS = ("name", "title", "runs", "seed", "defaults", "tables", "tuning")
TUNING_KEYS = ("runs", "score", "validation", "lr_grid")
TABLE_KEYS = ("number", "name", "title", "note", "rows", "columns", "claims")
COLUMN_KEYS = ("label", "engine", "dtype", "device", "reported", *CONFIG_FIELDS)
CLAIM_KEYS = ("text", "checks")
CHECK_KEYS = ("kind", "metric", "a", "b", "low", "high")
CHECK_KINDS = ("greater", "ratio")


@dataclass(frozen=True)
class Check:
    """One testable statement about two columns of a table.

    kind "greater": column a's metric is higher than column b's (paired test);
    kind "ratio": mean(a) / mean(b) lies within [low, high].
    """

    kind: str
    metric: str
    a: str
    b: str
    low: float = 0.0
    high: float = float("inf")


@dataclass(frozen=True)
class Claim:
    """A sentence from a report and the checks that would make it true."""

    text: str
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Column:
    """One training configuration, run on one engine in one float width."""

    label: str
    config: Config
    engine: str | None
    dtype: str | None
    device: str
    reported: dict[str, float]
    tuned: bool = False  # lr = "tuned": chosen by the study's tuning protocol
    lr_chosen: float | None = None  # set once tuning has chosen

    @property
    def untuned(self) -> bool:
        """A tuned column whose rate is not chosen yet (its config.lr is a stand-in)."""
        return self.tuned and self.lr_chosen is None


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

    @property
    def seeds(self) -> list[int]:
        """Seed of each run index; the same in every column."""
        return [self.seed + i for i in range(self.runs)]

    def select(self, spec: str | None) -> Study:
        """Keep the tables named in '1,4' or 'loss,batch' (numbers or names)."""
        if not spec:
            return self
        wanted = [s.strip() for s in spec.split(",") if s.strip()]
        known = {str(t.number): t for t in self.tables} | {t.name: t for t in self.tables}
        for w in wanted:
            if w not in known:
                allowed = ", ".join(f"{t.number} ({t.name})" for t in self.tables)
                raise UsageError(f"unknown table {w!r}; this study has: {allowed}")
        keep = {known[w].number for w in wanted}
        return self._with(tables=tuple(t for t in self.tables if t.number in keep))

    def with_runs(self, runs: int | None) -> Study:
        """Override the number of runs per column."""
        return self if runs is None else self._with(runs=check_runs(runs))

    def with_seed(self, seed: int | None) -> Study:
        """Override the first seed."""
        return self if seed is None else self._with(seed=seed)

    def _with(self, **changes: Any) -> Study:
        return Study(**{**self.__dict__, **changes})


def _check_keys(where: str, table: dict, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise UsageError(f"{where}: unknown key {key!r}; allowed: {', '.join(allowed)}")


def _typed(where: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise UsageError(f"{where}: expected {what}, got {value!r}")
    return value


def _config(where: str, fields: dict) -> Config:
    try:
        return Config(**fields)
    except TypeError as e:  # a field of the wrong kind, e.g. hidden = 3
        raise UsageError(f"{where}: {e}") from None
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from None


def _column(where: str, raw: dict, defaults: dict) -> Column:
    _check_keys(where, raw, COLUMN_KEYS)
    label = _typed(where, raw.get("label"), str, "a string label")
    fields = {k: v for k, v in {**defaults, **raw}.items() if k in CONFIG_FIELDS}
    tuned = fields.get("lr") == "tuned"
    if tuned:
        fields["lr"] = 1.0  # a stand-in until the tuning protocol chooses
    engine, dtype = raw.get("engine"), raw.get("dtype")
    try:
        if engine is not None:
            spec(engine)
        if dtype is not None:
            check_dtype(dtype)
        device = check_device(raw.get("device", "cpu"))
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from None
    reported = _typed(where, raw.get("reported", {}), dict, "a table of reported figures")
    _check_keys(f"{where}.reported", reported, METRICS)
    return Column(label, _config(where, fields), engine, dtype, device, dict(reported), tuned)


def _table(where: str, raw: dict, defaults: dict) -> Table:
    _check_keys(where, raw, TABLE_KEYS)
    number = _typed(where, raw.get("number"), int, "an integer table number")
    rows = tuple(_typed(where, raw.get("rows", list(ROWS[:3])), list, "a list of rows"))
    for row in rows:
        if row not in ROWS:
            raise UsageError(f"{where}: unknown row {row!r}; allowed: {', '.join(ROWS)}")
    columns = _typed(where, raw.get("columns"), list, "a list of columns")
    if not columns:
        raise UsageError(f"{where}: a table needs at least one column")
    parsed_columns = tuple(
        _column(f"{where} column {i + 1}", c, defaults) for i, c in enumerate(columns)
    )
    labels = [c.label for c in parsed_columns]
    if len(set(labels)) != len(labels):
        raise UsageError(f"{where}: column labels must be unique, got {labels}")
    claims = _typed(where, raw.get("claims", []), list, "a list of claims")
    return Table(
        number=number,
        name=_typed(where, raw.get("name", str(number)), str, "a string name"),
        title=_typed(where, raw.get("title", ""), str, "a string title"),
        note=_typed(where, raw.get("note", ""), str, "a string note"),
        rows=rows,
        columns=parsed_columns,
        claims=tuple(_claim(f"{where} claim {i + 1}", c, labels) for i, c in enumerate(claims)),
    )


def _claim(where: str, raw: dict, labels: list[str]) -> Claim:
    _check_keys(where, raw, CLAIM_KEYS)
    text = _typed(where, raw.get("text"), str, "the claim's text")
    checks = _typed(where, raw.get("checks"), list, "a list of checks")
    parsed = []
    for i, check in enumerate(checks):
        here = f"{where} check {i + 1}"
        _check_keys(here, check, CHECK_KEYS)
        kind = check.get("kind")
        if kind not in CHECK_KINDS:
            raise UsageError(f"{here}: unknown kind {kind!r}; allowed: {', '.join(CHECK_KINDS)}")
        if check.get("metric") not in METRICS:
            raise UsageError(
                f"{here}: unknown metric {check.get('metric')!r}; allowed: {', '.join(METRICS)}"
            )
        for side in ("a", "b"):
            if check.get(side) not in labels:
                raise UsageError(
                    f"{here}: {side} = {check.get(side)!r} is not a column; columns: {labels}"
                )
        bounds = {k: float(check[k]) for k in ("low", "high") if k in check}
        parsed.append(Check(kind, check["metric"], check["a"], check["b"], **bounds))
    return Claim(text, tuple(parsed))


def parse_study(text: str, origin: str = "<study>") -> Study:
    """Parse and validate a study, or raise UsageError naming the bad value."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{origin} is not valid TOML: {e}") from None
    _check_keys(origin, raw, STUDY_KEYS)
    defaults = _typed(origin, raw.get("defaults", {}), dict, "a [defaults] table")
    _check_keys(f"{origin} [defaults]", defaults, CONFIG_FIELDS)
    tables = _typed(origin, raw.get("tables"), list, "a list of [[tables]]")
    parsed = tuple(_table(f"{origin} table {i + 1}", t, defaults) for i, t in enumerate(tables))
    numbers = [t.number for t in parsed]
    if len(set(numbers)) != len(numbers):
        raise UsageError(f"{origin}: table numbers must be unique, got {numbers}")
    runs = check_runs(raw.get("runs", 20))
    seed = _typed(origin, raw.get("seed", 0), int, "an integer seed")
    return Study(
        name=_typed(origin, raw.get("name", Path(origin).stem), str, "a string name"),
        title=_typed(origin, raw.get("title", ""), str, "a string title"),
        runs=runs,
        seed=seed,
        tables=parsed,
        source=text,
        tuning=_tuning(f"{origin} [tuning]", raw.get("tuning", {}), seed),
    )


def _tuning(where: str, raw: dict, seed: int) -> TuneSpec:
    _typed(where, raw, dict, "a [tuning] table")
    _check_keys(where, raw, TUNING_KEYS)
    grid = _typed(where, raw.get("lr_grid", [1e-4, 1e2, 4]), list, "[low, high, per_decade]")
    try:
        low, high, per_decade = grid
        return TuneSpec(
            axes={"lr": log_grid(float(low), float(high), int(per_decade))},
            runs=check_runs(raw.get("runs", 5)),
            seed=seed + TUNING_SEED_OFFSET,
            score=raw.get("score", "loss"),
            validation=float(raw.get("validation", 0.2)),
        )
    except (UsageError, ValueError, TypeError) as e:
        raise UsageError(f"{where}: {e}") from None


def load_study(path: Path | str) -> Study:
    """Read a study file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise UsageError(f"cannot read study file {str(path)!r}: {e.strerror}") from None
    return parse_study(text, str(path))
