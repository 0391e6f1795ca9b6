"""What a run trains and is tested on: data sets by name, formula or CSV file.

streams.py derives a run's independent random streams from its seed;
generated.py holds the generated sets (the seed's, TensorFlow Playground's,
moons); formula.py is the whitelisted evaluator of formula rules; tables.py
reads CSV files and scikit-learn's shipped tables; dataset.py turns a
configuration and a seed into the run's train and test points and batch order.

May import: mlpbench.errors and the standard library, numpy (and
scikit-learn, lazily, for its tables). Nothing else of mlpbench.
"""
