"""A study whose tables name groups opens with one table: claims x groups, verdicts and
effect sizes, in report.md, report.html and the terminal summary alike."""

from __future__ import annotations

import pytest

from mlpbench import cli
from mlpbench.analysis.compare import CONTRADICTED, SUPPORTED, claim_grid
from mlpbench.experiment.study import parse_study
from mlpbench.service import stored_study

TABLE = """
[[tables]]
number = {number}
name = "t-{group}"
group = "{group}"
  [[tables.claims]]
  text = "good beats bad"
  checks = [{{ kind = "greater", metric = "train_accuracy", a = "good", b = "bad" }}]
  [[tables.claims]]
  text = "bad takes [10x] longer"
  checks = [{{ kind = "ratio", metric = "train_time_s", a = "bad", b = "good", low = 10 }}]
  [[tables.columns]]
  label = "good"
  data = "{data}"
  lr = 5.0
  [[tables.columns]]
  label = "bad"
  data = "{data}"
  lr = 0.001
"""
STUDY = """
name = "groups"
summary = "Across data sets"
runs = 5
[defaults]
engine = "numpy"
m = 80
n = 40
epochs = 60
""".replace('engine = "numpy"\n', "") + "".join(
    TABLE.format(number=i + 1, group=g, data=d)
    for i, (g, d) in enumerate([("seed", "quadratic"), ("circle", "circle")])
) + """
[[tables]]
number = 3
name = "alone"
  [[tables.columns]]
  label = "x"
"""


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("summary")
    path = out / "groups.toml"
    path.write_text(STUDY)
    assert cli.main(["run", str(path), "--out", str(out), "--engine", "numpy"]) == 0
    return out


def test_groups_and_summary_are_parsed():
    study = parse_study(STUDY)
    assert [t.group for t in study.tables] == ["seed", "circle", ""]
    assert study.summary == "Across data sets"
    with pytest.raises(Exception, match=r"tables\[0\]\.group: expected a string group"):
        parse_study(STUDY.replace('group = "seed"', "group = 3"))


def test_the_grid_has_claims_as_rows_and_groups_as_columns(finished):
    outcome = stored_study(finished)
    groups, rows = claim_grid(outcome.tables)
    assert groups == ["seed", "circle"]  # the ungrouped table is left out
    assert [text for text, _ in rows] == ["good beats bad", "bad takes [10x] longer"]
    good = rows[0][1]
    assert {g: v.verdict for g, v in good.items()} == {"seed": SUPPORTED, "circle": SUPPORTED}
    assert good["seed"].effects[0].endswith(" pts") and good["seed"].effects[0].startswith("+")
    slow = rows[1][1]["seed"]
    assert slow.verdict == CONTRADICTED and slow.effects[0].endswith("x")


def test_the_report_opens_with_the_summary(finished, capsys):
    markdown = (finished / "report.md").read_text()
    first = markdown.index("## ")
    assert markdown[first:].startswith("## Across data sets")
    assert "| Claim | seed | circle |" in markdown
    assert "good beats bad | supported<br>+" in markdown
    html = (finished / "report.html").read_text()
    assert '<td class="supported">supported<span class="sub" style="display: block">+' in html
    assert '<td class="contradicted">contradicted' in html
    assert cli.main(["report", "--out", str(finished)]) == 0
    printed = capsys.readouterr().out
    assert printed.index("Claims across groups") < printed.index("Table 1")
    assert "bad takes [10x] longer" in printed  # brackets shown as typed, not rich markup
