"""What a run is: each configuration field defined once, and what is built from them.

fields.py is the one definition of every field (name, type, default, allowed
values, help, study-file section) that Config, the command line's options,
the Python API's keyword arguments, the study schema and the documentation
are generated from, each of one kind of kinds.py (how a value is typed, read
from the command line, checked and documented); core.py holds Config (what
is trained), Job (how: engine, float width, device) and the limits checked
before any work starts; tuning.py holds TuneSpec, how the tuning protocol is
set.

May import: mlpbench.errors, mlpbench.data, mlpbench.nn.
"""
