#!/usr/bin/env bash
# One short prepared run for a lent GPU machine (JAX with CUDA and numba there, no TensorFlow):
# the conformance suite's JAX cases on the GPU, Table 3, and the sweep benchmark.
#   bash benchmarks/gpu_check.sh [OUT_DIR]
set -u
out=${1:-${OUT:-/tmp/mlpbench-gpu}}
mkdir -p "$out"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import jax, numba, numpy; print('jax', jax.__version__, jax.devices(), 'numba', numba.__version__, 'numpy', numpy.__version__)"
echo "== conformance suite, JAX on the GPU"
python3 -m pytest -q -p no:cacheprovider tests/test_conformance.py -k "jax-gpu" 2>&1 | tail -4
echo "== sweep benchmark"
python3 benchmarks/sweep.py --device gpu 2>&1
echo "== Table 3 (20 runs)"
python3 -m mlpbench.cli run --tables 3 --runs 20 --out "$out/results" >"$out/table3.md" 2>"$out/table3.err"
echo "exit $?"; tail -3 "$out/table3.err"
sed -n '/claims, checked/,/^#### Paired/p' "$out/table3.md"
