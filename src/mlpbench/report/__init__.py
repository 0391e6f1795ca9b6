"""The report: one document model, written as Markdown, HTML, LaTeX and a terminal summary.

document.py is the report as data (sections, tables of typed cells,
verdicts, figures) and its Markdown renderer; build.py builds that document
and its plots from a study's runs; html.py writes the self-contained
report.html; latex.py the booktabs report.tex; terminal.py the summary
`mlpbench run` prints; plots.py draws every figure with matplotlib, and
neurons.py the hidden units' pictures; formatting.py says how each figure
reads (units, intervals, medians).

May import: mlpbench.errors, mlpbench.files, mlpbench.data, mlpbench.nn,
mlpbench.config, mlpbench.engines, mlpbench.experiment, mlpbench.analysis;
numpy, matplotlib.
"""
