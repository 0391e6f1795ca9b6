"""Shared fixtures: a tiny study file and an isolated output folder."""

from __future__ import annotations

import pytest

TINY_STUDY = """
name = "tiny"
runs = 3
seed = 5

[defaults]
m = 60
n = 20
epochs = 15

[[tables]]
number = 1
name = "loss"
title = "Loss functions"
  [[tables.columns]]
  label = "BCE"
  loss = "bce"
  lr = 2.0
  [[tables.columns]]
  label = "MSE"
  loss = "mse"
  lr = 5.0

[[tables]]
number = 2
name = "batch"
title = "Batch sizes"
rows = ["accuracy"]
  [[tables.columns]]
  label = "B=7"
  optimizer = "adam"
  lr = 0.05
  batch_size = 7
"""


@pytest.fixture
def tiny_study(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_STUDY)
    return path
