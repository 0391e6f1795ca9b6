"""The engine contract: what an engine declares, and the one way it is called.

An engine is a module in this package holding a subclass of `Engine`, plus
one `EngineSpec` line in `engines.ENGINES`. The spec says, without importing
the engine's framework, what the engine can train (`Capabilities`); the
class does the work in two timed steps that the harness (harness.py) calls:

    trainer = engine.compile(config, problem, lrs, dtype, device)   # compile_time_s
    fit = trainer.fit(on_epoch)                                     # train_time_s
    z = trainer.logits(x)                                           # test_time_s on the test set

The harness owns everything else: the shared problem (data, initial weights,
batch order), timing, metrics from the logits, divergence detection and the
per-run records, so every engine is measured and judged the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from mlpbench.config.core import Config
    from mlpbench.data.dataset import Dataset
    from mlpbench.nn.model import Params

EpochCallback = Callable[[int], None]


@dataclass(frozen=True)
class Capabilities:
    """What an engine can train; None (the default) means every name in that registry.

    A name added to a registry (a new optimizer, say) is then claimed by
    every engine, and the conformance suite fails for each one that lacks
    it until it is implemented or the engine lists what it does support.
    """

    activations: frozenset[str] | None = None
    losses: frozenset[str] | None = None
    optimizers: frozenset[str] | None = None
    outputs: frozenset[str] | None = None
    dtypes: tuple[str, ...] = ("float64", "float32")
    per_run_lr: bool = False  # one call trains runs with different learning rates
    plateau: bool = False  # computes each run's rate from its losses as it trains (plateau)
    stopping: bool = False  # stops each run on its own losses (early_stopping)
    dropout: bool = False  # drops hidden units by nn/dropout.py's masks
    stop_rules: frozenset[str] | None = None  # early stopping's rules (None: every one)
    gpu: bool = False  # uses a GPU where its library sees one


@dataclass(frozen=True)
class EngineSpec:
    """Where an engine lives, what it needs installed, its float width and abilities."""

    module: str
    needs: str
    install: str
    dtype: str
    capabilities: Capabilities = field(default_factory=Capabilities)


class Problem(NamedTuple):
    """Everything an engine needs for R runs, identical across engines.

    x (R, count, inputs), y (R, count, k): k = 1 for a sigmoid output in {0, 1},
    else one-hot over k softmax outputs; params [W1, b1, ...] with a run axis;
    orders (R, epochs, m) int32 sample order per epoch, None at full batch;
    factors (updates,) float64, the schedule's factor of each update s = 0, 1, ...
    (update s of run r uses rate lrs[r] * factors[s]), None for a constant rate and for an
    adaptive schedule (plateau), whose rates the engine computes as it trains.
    """

    data: Dataset
    params: Params
    orders: np.ndarray | None
    factors: np.ndarray | None = None
    held: tuple[np.ndarray, np.ndarray] | None = None  # val_loss's hold-out (x, y), run axis
    dropout_keys: np.ndarray | None = None  # (R,) uint64, each run's (nn/dropout.py)


class Fit(NamedTuple):
    """What training returned: loss curve (R, epochs), final parameters, own times, penalty.

    curve is the data loss alone; with a weight penalty (config.penalty),
    penalty (R, epochs) is its per-epoch mean likewise (Keras' History shows
    their sum), else None. seconds, if given, is each run's own training time
    (R,); the harness turns it into shares of the measured wall time. None:
    runs trained as one, each gets 1/R of the wall time. With early stopping,
    trained (R,) is the epochs each run trained (its curves' entries past them
    are unused) and, monitoring val_loss, validation (R, epochs) the hold-out's
    data loss at each epoch's end.
    """

    curve: np.ndarray
    params: Params
    seconds: np.ndarray | None = None
    penalty: np.ndarray | None = None
    trained: np.ndarray | None = None
    validation: np.ndarray | None = None


class Trainer(ABC):
    """A configuration compiled for R runs, ready to train once and then predict."""

    # None: compile_time_s is the harness's measurement of Engine.compile. An
    # engine whose compiled code outlives the call (kernels cached for the
    # process) sets the one-off cost it paid instead.
    compile_time_s: float | None = None

    @abstractmethod
    def fit(self, on_epoch: EpochCallback | None) -> Fit:
        """Train every run for config.epochs epochs; call on_epoch(run-epochs done)."""

    @abstractmethod
    def logits(self, x: np.ndarray) -> np.ndarray:
        """Output logits (R, count, k) of the trained runs for inputs x (R, count, inputs)."""


class Engine(ABC):
    """One implementation of training; its framework is imported with its module."""

    @abstractmethod
    def compile(
        self, config: Config, problem: Problem, lrs: np.ndarray, dtype: str, device: str
    ) -> Trainer:
        """Build (trace, compile, warm up) training for these runs; lrs is one rate per run."""

    def devices(self) -> tuple[str, ...]:
        """Where the engine can run on this machine."""
        return ("cpu",)

    def versions(self) -> dict[str, str]:
        """Libraries and thread counts the engine's numbers depend on."""
        return {"numpy": np.__version__}

    def single_threaded(self) -> None:  # noqa: B027 (optional hook, most engines need nothing)
        """Use one thread: parallelism comes from outside (Dask workers)."""
