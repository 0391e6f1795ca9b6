"""Hostile input, generated: the CLI exits 0, or 2 with exactly one line on stderr and
nothing written; never a traceback. Examples are bounded so CI stays fast; the counts
of probes and outcomes are printed (pytest -s) for the record."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlpbench import cli

OUTCOMES: Counter = Counter()
# bounded for CI; MLPBENCH_FUZZ_EXAMPLES=2000 for a deeper search
FUZZ_EXAMPLES = int(os.environ.get("MLPBENCH_FUZZ_EXAMPLES", "120"))
HUGE = str(10**400)  # past float64: an OverflowError wherever a check calls float() on it
SIZES = ["1", "2", "3", "0", "-1", "2.5", "abc", "", "1000000000", "1000000000000", HUGE]
VALUES = {
    "--data": ["quadratic", "linear", "spiral", "iris", "formula", "", "../etc", "x.csv",
               "/dev/null.csv", "/"],
    "--rule": ["x1**2 > x2", "x1 +", "__import__('os')", "x1 > 0 and x2 < 1", "", "x9 > 0",
               "x1 ** 1e300 > 1", "exp(x1) == x2", "abs > x1", "sin(abs) > x1",
               "-(x1 > 0) < 1", "(x1 > 0) - (x2 > 0) > 0", "+(x1 > 0) > 0", f"x1 > {HUGE}"],
    "--range": ["-2,2", "2,-2", "a,b", "0,0", "-1e308,1e308", "-inf,0", "1", f"0,{HUGE}"],
    "--noise": ["0.1", "0", "1", "2", "-0.1", "nan", HUGE],
    "--scale": ["standard", "none", "minmax", ""],
    "--target": ["y", "z", ""],
    "--test": ["t.csv", "", "x"],
    "--m": [*SIZES, "20", "40"],
    "--n": [*SIZES, "5"],
    "--hidden": ["3", "2,2", "0", "3,x", "", "1000000000", "-1"],
    "--activation": ["sigmoid", "relu", "tanh", "swish", ""],
    "--loss": ["bce", "mse", "hinge", ""],
    "--optimizer": ["sgd", "adam", "rmsprop", "lbfgs"],
    "--lr": ["10", "0.5", "0", "-1", "nan", "inf", "1e200", "1e300", "abc", HUGE],
    "--batch-size": ["1", "4", "0", "-3", "1000000", "x"],
    "--epochs": SIZES,
    "--runs": SIZES,
    "--seed": ["0", "7", "-1", "9223372036854775807", "9223372036854775806", "1e3", "x", HUGE],
    "--engine": ["numpy", "numba", "", "cuda", "NUMPY"],
    "--dtype": ["float64", "float32", "float16", ""],
    "--executor": ["local", "dask://", "dask://host:notaport", "dask://tls://h:1", "ray"],
    "--tables": ["1", "loss", ",", "", "9", "1,1"],
    "--format": ["csv", "json", "xml"],
    "--tune": ["lr", "batch_size", "momentum", ""],
    "--lr-grid": ["0.1,1", "1e-2:1e0:2", "1:0.1:2", "a:b:c", "1e-300:1e300:1000", "",
                  f"1:{HUGE}:2", f"1e-2:1:{HUGE}"],
    "--batch-grid": ["2,4", "0", "x"],
    "--validation": ["0.2", "0", "1", "-0.5", "nan"],
    "--engines": ["numpy,numba", "numpy", "numpy,cuda", ","],
}
COMMANDS = {
    "train": ["--data", "--m", "--n", "--hidden", "--activation", "--loss", "--optimizer",
              "--lr", "--batch-size", "--epochs", "--runs", "--seed", "--engine", "--dtype",
              "--executor", "--rule", "--range", "--noise", "--scale", "--target", "--test"],
    "run": ["--tables", "--runs", "--seed", "--engine", "--dtype", "--executor"],
    "tune": ["--m", "--n", "--epochs", "--tune", "--lr-grid", "--batch-grid", "--validation",
             "--runs", "--seed", "--engine", "--loss", "--optimizer"],
    "agree": ["--m", "--n", "--epochs", "--lr", "--engines", "--runs", "--seed", "--dtype"],
    "data": ["--data", "--m", "--n", "--seed", "--rule", "--range", "--noise", "--scale"],
    "report": ["--tables"],
    "export": ["--format"],
}  # fmt: skip
# small, valid sizes first, so what parses also trains in a blink
SAFE = ["--m", "20", "--n", "5", "--epochs", "2", "--runs", "1", "--engine", "numpy"]


@st.composite
def command_lines(draw) -> tuple[str, list[str]]:
    command = draw(st.sampled_from(sorted(COMMANDS)))
    options = draw(st.lists(st.sampled_from(COMMANDS[command]), max_size=5))
    argv = [command]
    if command in ("train", "tune", "agree", "data"):
        argv += [a for a in SAFE if command != "data" or a in ("--m", "20", "--n", "5")]
    if command == "run":
        argv += ["TINY", "--runs", "1", "--engine", "numpy"]
    for option in options:
        argv += [option, draw(st.sampled_from(VALUES[option]))]
    if draw(st.booleans()):
        argv.append(draw(st.sampled_from(["--bogus", "extra", "--json", "--fresh", "-h"])))
    return command, argv


def invoke(argv: list[str]) -> tuple[int, str, str]:
    """main() in this process: its exit status (SystemExit included), stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def check_outcome(code: int, err: str, out_dir: Path) -> None:
    """The promise: 0, or 2 with one line and nothing written."""
    OUTCOMES[code] += 1
    assert code in (0, 2), (code, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("mlpbench"), err
        assert "Traceback" not in err
        assert not out_dir.exists() or not any(out_dir.iterdir()), list(out_dir.iterdir())


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(command_lines())
def test_cli_arguments_never_crash(tiny_text, command_line):
    command, argv = command_line
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "tiny.toml"
        study.write_text(tiny_text)
        out = Path(tmp) / "out"
        argv = [str(study) if a == "TINY" else a for a in argv]
        if "-h" not in argv:
            argv += ["--out", str(out)]
        code, stdout, err = invoke(argv)
        check_outcome(code, err, out)
        if code == 0 and "--json" in argv and command == "train":
            json.loads(stdout, parse_constant=pytest.fail)  # strict JSON: no NaN, no Infinity


@pytest.fixture(scope="module", autouse=True)
def _print_probe_counts():
    """The record of what this module tried (pytest -s shows it)."""
    yield
    print(f"\nfuzz probes by exit status: {dict(OUTCOMES)}")


@pytest.fixture(scope="module")
def tiny_text():
    from conftest import TINY_STUDY

    return TINY_STUDY.replace("epochs = 15", "epochs = 2")


# Study files: random keys, types and values, written as TOML by a tiny writer
SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True), st.booleans(),
    st.sampled_from([10**400, -(10**400), 10**25]),
    st.text(max_size=12), st.sampled_from(["sgd", "bce", "tuned", "quadratic", "accuracy",
                                           "greater", "ratio", "a", "b", "gpu", "numba"]),
)  # fmt: skip
KEYS = st.sampled_from([
    "name", "title", "runs", "seed", "defaults", "tables", "tuning", "number", "note", "rows",
    "columns", "claims", "label", "engine", "dtype", "device", "reported", "lr", "loss",
    "optimizer", "m", "n", "epochs", "hidden", "batch_size", "text", "checks", "kind", "metric",
    "a", "b", "low", "high", "validation", "lr_grid", "score", "baseline", "test_accuracy",
    "colour", "group", "summary", "data", "rule", "noise", "target", "range",
])  # fmt: skip
VALUES_TREE = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def toml_value(value: object) -> str:
    """A value in TOML's inline syntax."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") \
            if math.isinf(value) else repr(value)  # fmt: skip
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"


COLUMN = st.fixed_dictionaries(
    {"label": st.sampled_from(["a", "b", "![x](/etc/hostname)", "$x$", "a|b"])},
    optional={k: st.sampled_from(v) for k, v in {
        "lr": [0.5, 10, -1, "tuned", "fast", 10**400],
        "loss": ["bce", "mse", "cce", "hinge", 3],
        "data": ["circle", "iris", "formula", "no.csv", 7],
        "rule": ["x1 > x2", "x1 >", 1, "(x1 > 0) - (x2 > 0) > 0", "abs > x1"],
        "noise": [0.1, 5, "x"],
        "optimizer": ["sgd", "adam"],
        "batch_size": [4, 0, 100], "engine": ["numpy", "cuda", 5], "device": ["cpu", "tpu"],
        "reported": [{"test_accuracy": 99.0}, {"test_accuracy": "high"}, "x",
                     {"test_accuracy": 10**400}],
        "hidden": [[2], 3, [], [0], [10**400]],
    }.items()},
)  # fmt: skip
STUDIES = st.fixed_dictionaries(
    {"runs": st.sampled_from([2, 0, -1, "x"]),
     "defaults": st.fixed_dictionaries({"m": st.sampled_from([20, 0]), "n": st.just(5),
                                        "epochs": st.sampled_from([2, -1])}),
     "tables": st.lists(st.fixed_dictionaries(
         {"number": st.sampled_from([1, 2, "1"]), "columns": st.lists(COLUMN, max_size=3)},
         optional={"claims": st.lists(VALUES_TREE, max_size=2), "rows": VALUES_TREE,
                   "name": SCALARS, "note": SCALARS, "baseline": SCALARS, "group": SCALARS}),
         max_size=2)},
    optional={"seed": st.sampled_from([0, -5, 2**63 - 1]), "tuning": VALUES_TREE,
              "title": SCALARS, "colour": SCALARS, "summary": SCALARS},
)  # fmt: skip


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(STUDIES, st.dictionaries(KEYS, VALUES_TREE, max_size=4)))
def test_study_files_never_crash(study):
    text = "\n".join(f"{k} = {toml_value(v)}" for k, v in study.items())
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "study.toml", Path(tmp) / "out"
        path.write_text(text)
        code, _, err = invoke(["run", str(path), "--out", str(out), "--engine", "numpy"])
        check_outcome(code, err, out)


@pytest.mark.parametrize("text", [
    "runs = " + "[" * 10_000 + "]" * 10_000,  # deeper than the parser's recursion
    "runs = " + "{a = " * 5_000 + "1" + "}" * 5_000,
    "runs = 1" + "0" * 5_000,  # past Python's 4300-digit limit for reading an integer
    "runs = 1" + "0" * 400,
    '[defaults]\nlr = 1' + "0" * 400,
], ids=["deep-arrays", "deep-tables", "5000-digits", "400-digits", "400-digit-lr"])  # fmt: skip
def test_deep_and_huge_study_files_are_one_line(tmp_path, text):
    path, out = tmp_path / "study.toml", tmp_path / "out"
    path.write_text(text + '\n[[tables]]\nnumber = 1\n[[tables.columns]]\nlabel = "a"\n')
    code, _, err = invoke(["run", str(path), "--out", str(out), "--engine", "numpy"])
    assert code == 2 and len(err) < 300, err
    check_outcome(code, err, out)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=64))
def test_study_files_of_random_bytes(data):
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "study.toml", Path(tmp) / "out"
        path.write_bytes(data)
        code, _, err = invoke(["run", str(path), "--out", str(out), "--engine", "numpy"])
        check_outcome(code, err, out)


# CSV files: cells drawn from numbers, words, non-finite values and CSV's own punctuation
CELLS = st.sampled_from(["1", "0", "-2.5", "1e308", "1e309", "nan", "inf", "", "a", "b",
                         '"x,y"', '"', "3", " 4 ", "\ufeff1"])  # fmt: skip


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(header=st.lists(st.sampled_from(["a", "b", "y", "", "a"]), min_size=0, max_size=4),
       rows=st.lists(st.lists(CELLS, min_size=0, max_size=4), max_size=8),
       extra=st.lists(st.sampled_from(["--target", "y", "--loss", "mse", "--m", "3", "--n",
                                       "2", "--scale", "none"]), max_size=4))  # fmt: skip
def test_csv_files_never_crash(header, rows, extra):
    text = "\n".join(",".join(r) for r in [header, *rows])
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "data.csv", Path(tmp) / "out"
        path.write_text(text)
        code, _, err = invoke(["train", "--data", str(path), "--epochs", "2", "--engine",
                               "numpy", "--out", str(out), *extra])  # fmt: skip
        check_outcome(code, err, out)


# The Python API: what a Python user might pass for each keyword, of every type
API_VALUES = st.one_of(
    SCALARS, st.none(), st.sampled_from([np.int64(3), np.float32(0.5), np.bool_(True),
                                         Path("x.csv"), (2,), [2, 2], {"a": 1}, b"x", 1j]),
)  # fmt: skip
API_KEYS = st.sampled_from(["m", "n", "epochs", "lr", "hidden", "batch_size", "data", "rule",
                            "range", "noise", "loss", "optimizer", "momentum", "nesterov",
                            "runs", "seed", "engine", "dtype", "out", "scale", "bogus"])


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(API_KEYS, API_VALUES, max_size=3))
def test_api_arguments_are_a_result_or_a_usage_error(kwargs):
    import mlpbench as mb

    base = {"m": 20, "n": 5, "epochs": 2, "runs": 1, "engine": "numpy"}
    if kwargs.get("engine") in ("numba", "keras", "jax", "tf-function", "tf-xla"):
        kwargs["engine"] = "numpy"  # a compiling engine would make each example take seconds
    with tempfile.TemporaryDirectory() as tmp:
        kwargs = {k: (str(Path(tmp) / "o") if k == "out" and isinstance(v, (str, Path)) else v)
                  for k, v in kwargs.items()}  # fmt: skip
        try:
            result = mb.train(**(base | kwargs))
        except mb.UsageError as e:
            OUTCOMES["api usage error"] += 1
            assert "\n" not in str(e) and len(str(e)) < 400, str(e)
        else:
            OUTCOMES["api result"] += 1
            assert len(result.runs) == result_runs(base | kwargs)


def result_runs(kwargs: dict) -> int:
    runs = kwargs["runs"]
    return int(runs.item() if isinstance(runs, np.generic) else runs)
