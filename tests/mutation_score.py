"""The mutation score per module after `mutmut run` (`make mutate` runs both).

Reads `mutmut results --all true` and prints, for each mutated module, how
many mutants its tests killed, and each function's surviving mutants. With
`--markdown FILE` it also writes every survivor, its change and the kind of
survivor it is (docs/mutation-survivors.md is that file from the last run).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

LINE = re.compile(r"^\s*(?P<name>(?P<module>[\w.]+)\.x[_ǁ](?P<function>.+?)__mutmut_\d+): "
                  r"(?P<status>.+)$")  # fmt: skip
# the kinds of survivor, first match wins: (kind, pattern over the mutant's changed lines)
KINDS = (
    ("equivalent here: this SQLite build reads a file: URI with or without uri=True",
     re.compile(r"connect\(uri, (uri=(None|False), )?timeout")),
    ("a lock wait: held by test_faults.py's two-writer tests, which make mutate leaves out",
     re.compile(r"connect\([^)]*, \)")),
    ("equivalent: create=None is as false as create=False", re.compile(r"create=None")),
    ("equivalent: the key order of JSON that is read back into a dict",
     re.compile(r"sort_keys=(None|False)|json\.dumps\([\w.()]+, \)")),
    ("runs once at import; mutmut switches mutants at call time", re.compile(r"from_fields")),
    ("equivalent: a float64 dtype dropped where the values are float64 already",
     re.compile(r"dtype=None|astype\(None\)|asarray\([^)]*, \)|array\([^)]*, \)|finfo\(None\)"
                r"|frombuffer\([^)]*, \)")),
    ("equivalent: float('NAN') is float('nan')", re.compile(r'"NAN"')),
    ("an error message's wording", re.compile(r"raise \w+\(None|XX|[A-Z]{4,}|upper\(\)|lower\(\)")),
)  # fmt: skip
OTHER = "other: see the list"


def _results() -> list[re.Match]:
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [m for m in map(LINE.match, out.splitlines()) if m]


def _change(name: str) -> str:
    """The mutant's changed lines, '-' then '+', as one line each."""
    diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], capture_output=True,
                          text=True).stdout  # fmt: skip
    lines = [line for line in diff.splitlines() if line[:2] in ("- ", "+ ")]
    return " / ".join(" ".join(line.split()) for line in lines[:4])


CASE = "equivalent or cosmetic: only letter case changed (SQL and sqlite3.Row keys ignore it)"


def _kind(name: str, change: str) -> str:
    removed, _, added = change.partition(" / + ")
    if removed.removeprefix("- ").lower() == added.lower():
        return CASE
    for kind, pattern in KINDS:
        if pattern.search(name) or pattern.search(change.split(" / +", 1)[-1]):
            return kind
    return OTHER


def main(argv: list[str] | None = None) -> int:
    """Print killed / total per module and the survivors per function; write them all."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="write every survivor to this file")
    args = parser.parse_args(argv)
    totals: dict[str, Counter] = defaultdict(Counter)
    survivors: list[re.Match] = []
    for match in _results():
        status = match["status"].strip()
        totals[match["module"]][status] += 1
        if status == "survived":
            survivors.append(match)
    rows = []
    for module, counts in sorted(totals.items()):
        total, killed = sum(counts.values()), counts["killed"] + counts["timeout"]
        rows.append((module, killed, total))
    rows.append(("all", sum(r[1] for r in rows), sum(r[2] for r in rows)))
    print(f"{'module':<32} {'killed':>7} {'total':>6} {'score':>6}")
    for module, killed, total in rows:
        print(f"{module:<32} {killed:>7} {total:>6} {100 * killed / max(total, 1):>5.1f}%")
    if args.markdown:
        _write(args.markdown, rows, survivors)
    return 0


def _write(path: Path, rows: list[tuple], survivors: list[re.Match]) -> None:
    changes = {m["name"]: _change(m["name"]) for m in survivors}
    kinds = {name: _kind(name, change) for name, change in changes.items()}
    lines = ["# Surviving mutants", "", "Written by `python tests/mutation_score.py --markdown "
             "docs/mutation-survivors.md` after `make mutate`; the score is on the "
             "[testing page](testing.md).", "", "| module | killed | total | score |",
             "|---|---|---|---|"]  # fmt: skip
    lines += [f"| `{m}` | {k} | {t} | {100 * k / max(t, 1):.1f}% |" for m, k, t in rows]
    lines += ["", "| kind | survivors |", "|---|---|"]
    lines += [f"| {kind} | {n} |" for kind, n in Counter(kinds.values()).most_common()]
    lines += ["", "| mutant | kind | change |", "|---|---|---|"]
    for name, change in changes.items():
        cell = change.replace("|", "\\|").replace("`", "'")
        lines.append(f"| `{name.removeprefix('mlpbench.')}` | {kinds[name]} | `{cell}` |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
