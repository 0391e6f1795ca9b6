"""Runs turned into numbers a person can trust: statistics, comparisons, verdicts.

stats.py holds summaries, confidence intervals, paired tests and Holm's
correction; compare.py compares a table's columns run by run and judges its
claims; agree.py measures how far apart two engines' runs of one
configuration end.

May import: mlpbench.errors, mlpbench.config, mlpbench.engines (the records
and the registry), mlpbench.experiment (the study's types), numpy, scipy.
"""
