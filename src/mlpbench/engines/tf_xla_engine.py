"""The tf-function engine with the whole loop compiled by XLA (jit_compile=True)."""

from functools import partial

from mlpbench.engines import tf_function_engine as _base

train = partial(_base.train, xla=True)
devices = _base.devices
versions = _base.versions
