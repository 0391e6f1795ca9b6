"""The tf-function engine with the whole loop compiled by XLA (jit_compile=True)."""

from mlpbench.engines.tf_function_engine import TfFunctionEngine

ENGINE = TfFunctionEngine(xla=True)
