"""Every configuration field, defined once: Config, the CLI, the API, the study schema and the
docs are generated from this table.

A field has one flat name, used everywhere: the `Config` attribute, the
keyword of `mlpbench.train`, the study-file key (`lr = 0.01`) and the
command-line flag (`--lr`, `--batch-size`). Fields are grouped in sections,
which the study file may also use (`[defaults.optimizer]` with `name = "adam"`
and `lr = 0.01`), and which order `--help` and the docs' reference. A new
field is one `Field(...)` line in `FIELDS`: it then has its option, its
keyword, its study key and its line in the docs, and while it is at its
default no stored run's key changes (only the seed's original fields, marked
`keyed`, are part of every key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlpbench.config.kinds import FORMULA_RANGE, KINDS, MAX_EPOCHS, MAX_POINTS, MAX_STEPS
from mlpbench.data.dataset import DATASETS, SCALES
from mlpbench.errors import UsageError
from mlpbench.nn.activations import ACTIVATIONS, NEGATIVE_SLOPE
from mlpbench.nn.initializers import INITIALIZERS
from mlpbench.nn.losses import LOSSES
from mlpbench.nn.optimizers import DEFAULTS, OPTIMIZERS, default
from mlpbench.nn.schedules import SCHEDULES
from mlpbench.nn.stopping import MONITORS
from mlpbench.nn.stopping import RULES as STOP_RULES


@dataclass(frozen=True)
class Field:
    """One configuration field: its name, section, kind, default, allowed values and help."""

    name: str  # Config attribute, API keyword, flat study key; the flag is --name-with-dashes
    section: str  # the study file's section that groups it, a key of SECTIONS
    kind: str  # a key of KINDS
    default: Any
    help: str  # one line, for --help and the docs
    key: str = ""  # its key inside its section (default: its name)
    what: str = ""  # how an error names it (default: its name)
    choices: Callable[[], tuple[str, ...]] | None = None  # the allowed names, from a registry
    high: int | None = None  # the largest allowed value
    high_note: str = ""  # said after the largest value in its error
    keyed: bool = False  # in every configuration key, even at its default (the seed's fields)
    flag: bool = True  # an option of `train`, `tune` and `agree`

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", self.key or self.name)
        object.__setattr__(self, "what", self.what or self.name)

    @property
    def flag_name(self) -> str:
        """The command-line option: --batch-size for batch_size."""
        return "--" + self.name.replace("_", "-")

    @property
    def annotation(self) -> str:
        """The Config attribute's type, as a string."""
        return KINDS[self.kind].annotation

    @property
    def text(self) -> str:
        """Its help with the names it allows, as --help and the API's docstring say it."""
        return f"{self.help}: {', '.join(self.allowed())}" if self.kind == "choice" else self.help

    def allowed(self) -> tuple[str, ...]:
        """The names a choice field allows (read from its registry when asked)."""
        return self.choices() if self.choices is not None else ()

    def check(self, value: Any) -> None:
        """Raise UsageError naming the value and what is allowed, unless the value is."""
        problem = KINDS[self.kind].check(self, value)
        if problem is not None:
            raise UsageError(problem, self.name)

    def parse(self, text: str) -> Any:
        """A command-line argument's text as a value of this field."""
        return KINDS[self.kind].parse(text)


def _names(registry: dict) -> Callable[[], tuple[str, ...]]:
    return lambda: tuple(registry)


# The study file's sections, in the order of --help and the docs, with what each holds.
SECTIONS: dict[str, str] = {
    "data": "what the network learns: a data set by name, formula or CSV file, and its sizes",
    "network": "the hidden layers, their activation and how the weights start (the input "
    "and output layers follow from the data)",
    "training": "the loss, the mini-batch size, the epochs and the tuning hold-out",
    "optimizer": "the update rule and its settings (each setting left out is the "
    "optimizer's own Keras 3 default; one the optimizer does not read is refused)",
    "schedule": "the learning rate's schedule over the updates, as Keras 3 computes it: the "
    "rate of update s is lr times the schedule's factor at s (a setting the schedule does "
    "not read is refused)",
    "regularization": "penalties on the weights that training adds to the loss, as a Keras "
    "kernel regularizer adds them (the stored and plotted loss is the data loss, the "
    "penalty apart)",
    "stopping": "early stopping, as Keras' EarlyStopping decides it: on the training loss "
    "or on a hold-out of the train set (a setting the monitor does not read is refused)",
}

# fmt: off
FIELDS: tuple[Field, ...] = (
    Field("data", "data", "text", "quadratic", f"data set: {', '.join(DATASETS)}, or a CSV "
          "file (header row; features, then the target column)", key="name",
          what="data set", keyed=True),
    Field("target", "data", "text", "", "a CSV file's target column (default: its last)"),
    Field("test", "data", "text", "", "a CSV test file with the same columns (default: a "
          "seeded split of the data file's rows)"),
    Field("scale", "data", "scale", None, f"input scaling: {', '.join(SCALES)} (default: "
          "standard for tables, none for generated sets; minmax maps the train part's range to "
          "[0, 1], as scikit-learn's MinMaxScaler)", choices=lambda: SCALES),
    Field("noise", "data", "fraction", 0.0, "noise level in [0, 1] of circle, xor, gauss, "
          "spiral and moons"),
    Field("rule", "data", "text", "", "the formula data set's rule, e.g. 'x1**2 > x2'"),
    Field("range", "data", "interval", FORMULA_RANGE, "the formula data set's input range"),
    Field("features", "data", "features", (), "the network's inputs as expressions of the "
          "data's x1..xk, computed from each run's points before scaling, e.g. "
          "x1,x2,x1^2,x2^2,x1*x2,sin(x1),sin(x2) (Playground's; default: the inputs "
          "themselves)"),
    Field("m", "data", "optional count", None, "train set size (default: 1000, or 80% of a "
          "table's rows, or all of a train file's)", keyed=True, high=MAX_POINTS),
    Field("n", "data", "optional count", None, "test set size (default: 100, or the rest of a "
          "table's rows, or all of a test file's)", keyed=True, high=MAX_POINTS),
    Field("hidden", "network", "sizes", (3,), "hidden layer sizes, e.g. 3 or 8,8",
          keyed=True),
    Field("activation", "network", "choice", "sigmoid", "hidden activation",
          choices=_names(ACTIVATIONS), keyed=True),
    Field("negative_slope", "network", "nonnegative", None, "leaky_relu's slope below zero "
          f"(default: {NEGATIVE_SLOPE:g}, Keras')"),
    Field("init", "network", "choice", "glorot_uniform", "how weights and biases start "
          "(sklearn: MLPClassifier's own)", choices=_names(INITIALIZERS)),
    Field("loss", "training", "choice", None, "loss (default: bce for two classes, cce for "
          "three or more)", choices=_names(LOSSES), keyed=True),
    Field("batch_size", "training", "optional count", None, "mini-batch size (default: m, "
          "full batch)", what="batch size", keyed=True, high=MAX_POINTS),
    Field("shuffle", "training", "switch", None, "mini-batches from a fresh permutation each "
          "epoch (default: true; false walks the data in its order every epoch, as "
          "scikit-learn's shuffle=False)"),
    Field("epochs", "training", "count", 1000, "passes over the train set", high=MAX_EPOCHS,
          high_note=" per run", keyed=True),
    Field("validation", "training", "holdout", 0.0, "fraction of the train set held out for "
          "tuning (the last points drawn); set by the tuning protocol", keyed=True,
          flag=False),
    Field("optimizer", "optimizer", "choice", "sgd", "optimizer", key="name",
          choices=_names(OPTIMIZERS), keyed=True),
    Field("lr", "optimizer", "rate", 10.0, "learning rate", what="learning rate", keyed=True),
    Field("momentum", "optimizer", "coefficient", None, "momentum of sgd and rmsprop "
          f"(default: {DEFAULTS.momentum:g}; scikit-learn: momentum, the same rule)"),
    Field("nesterov", "optimizer", "switch", None, "Nesterov's look-ahead for sgd with "
          "momentum (scikit-learn: nesterovs_momentum)"),
    Field("rho", "optimizer", "coefficient", None, "rmsprop's decay of the squared-gradient "
          f"mean (default: {DEFAULTS.rho:g})"),
    Field("centered", "optimizer", "switch", None, "rmsprop divides by the gradient's "
          "variance, not its second moment"),
    Field("beta_1", "optimizer", "coefficient", None, "decay of the first moment of adam, "
          f"adamw, adamax, nadam and lion (default: {DEFAULTS.beta_1:g})"),
    Field("beta_2", "optimizer", "coefficient", None, "decay of the second moment of adam, "
          f"adamw, adamax, nadam; lion's momentum decay (default: {DEFAULTS.beta_2:g}, "
          f"lion {default('lion', 'beta_2'):g})"),
    Field("amsgrad", "optimizer", "switch", None, "adam and adamw divide by the largest "
          "second moment so far"),
    Field("epsilon", "optimizer", "positive", None, "added to the denominator of every "
          f"adaptive optimizer (default: {DEFAULTS.epsilon:g}, Keras'; scikit-learn's adam "
          "uses 1e-8)"),
    Field("initial_accumulator", "optimizer", "nonnegative", None, "adagrad's starting sum of "
          f"squared gradients (default: {DEFAULTS.initial_accumulator:g})"),
    Field("weight_decay", "optimizer", "nonnegative", None, "decoupled weight decay of every "
          "optimizer: p <- p - p * weight_decay * lr before each update (default: "
          f"{DEFAULTS.weight_decay:g}, adamw {default('adamw', 'weight_decay'):g})"),
    Field("schedule", "schedule", "choice", "constant", "learning-rate schedule", key="name",
          choices=_names(SCHEDULES)),
    Field("decay_rate", "schedule", "positive", None, "exponential: the factor per decay_steps;"
          " inverse_time: the rate of the denominator's growth (required by both)"),
    Field("decay_steps", "schedule", "optional count", None, "updates per decay period "
          "(default: one epoch's updates; cosine: every update after the warmup)",
          high=MAX_STEPS),
    Field("staircase", "schedule", "switch", None, "exponential and inverse_time decay at "
          "whole periods only"),
    Field("power_t", "schedule", "nonnegative", None, "inverse_time's exponent (default: 1, "
          "Keras' InverseTimeDecay; scikit-learn's invscaling uses 0.5)"),
    Field("alpha", "schedule", "coefficient", None, "cosine's final factor, a fraction of the "
          "peak rate (default: 0)"),
    Field("warmup_steps", "schedule", "steps", None, "cosine's updates of linear warmup "
          "(default: 0, none)"),
    Field("warmup_target", "schedule", "positive", None, "cosine's factor reached after the "
          "warmup, a multiple of lr (Keras' warmup_target / initial_learning_rate)"),
    Field("boundaries", "schedule", "boundaries", None, "piecewise: the update counts where "
          "the factor changes, increasing"),
    Field("values", "schedule", "multiples", None, "piecewise: one factor more than "
          "boundaries, multiples of lr (Keras' values / lr)"),
    Field("plateau_factor", "schedule", "coefficient", None, "plateau: the rate's factor at "
          "each reduction (default: 0.1, Keras' factor)", key="factor"),
    Field("plateau_patience", "schedule", "steps", None, "plateau: epochs without improvement "
          "before a reduction (default: 10)", key="patience"),
    Field("plateau_min_delta", "schedule", "nonnegative", None, "plateau: how far below the "
          "best loss an epoch's must be to improve (default: 0.0001)", key="min_delta"),
    Field("plateau_cooldown", "schedule", "steps", None, "plateau: epochs of rest after a "
          "reduction before waiting resumes (default: 0)", key="cooldown"),
    Field("min_lr", "schedule", "nonnegative", None, "plateau: the lowest rate a reduction "
          "reaches (default: 0)"),
    Field("l1", "regularization", "penalty", 0.0, "l1 * sum |w| over every layer's weights "
          "(not biases) added to each batch's loss (Keras' L1, Playground's L1)"),
    Field("l2", "regularization", "penalty", 0.0, "l2 * sum w^2 over every layer's weights "
          "(not biases) added to each batch's loss (Keras' L2; scikit-learn's alpha is "
          "l2 = alpha / (2 * batch size))"),
    Field("dropout", "regularization", "holdout", 0.0, "the fraction of each hidden layer's "
          "units dropped at each update in training, the rest scaled by 1 / (1 - dropout) "
          "(Keras' Dropout after each hidden layer)"),
    Field("early_stopping", "stopping", "choice", "none", "what stops a run early",
          key="monitor", choices=_names(MONITORS)),
    Field("stop_patience", "stopping", "steps", None, "epochs without improvement before a run "
          "stops (default: 0, Keras' patience; scikit-learn's n_iter_no_change + 1, with "
          "stop_rule sklearn)",
          key="patience"),
    Field("stop_min_delta", "stopping", "nonnegative", None, "how far below the best loss an "
          "epoch's must be to improve (default: 0; scikit-learn's tol)", key="min_delta"),
    Field("stop_rule", "stopping", "choice", None, "how the best loss moves (default: keras, "
          "on an improvement past stop_min_delta; sklearn, on any decrease, as scikit-learn's "
          "MLP stops)", key="rule", choices=_names(STOP_RULES)),
    Field("restore_best", "stopping", "switch", None, "end with the best epoch's weights "
          "(default: false, Keras' restore_best_weights)"),
    Field("validation_fraction", "stopping", "coefficient", None, "val_loss: the fraction of "
          "the train set held out to monitor (default: 0.1, scikit-learn's)"),
)
# fmt: on

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
# what tuning may search over: every numeric field of how the network is trained (not the data,
# the network's shape or the protocol's own hold-out): the learning rate, batch size, epochs,
# each optimizer and schedule setting, the weight penalties
TUNABLE = tuple(f.name for f in FIELDS
                if f.section in ("training", "optimizer", "schedule", "regularization")
                and KINDS[f.kind].parse in (int, float) and f.name != "validation")  # fmt: skip
CONFIG_FIELDS = tuple(BY_NAME)
DATA_FIELDS = tuple(f.name for f in FIELDS if f.section == "data")
# each section's fields by their key inside it: SECTION_KEYS["optimizer"]["name"] is optimizer
SECTION_KEYS: dict[str, dict[str, Field]] = {
    s: {f.key: f for f in FIELDS if f.section == s} for s in SECTIONS
}
# the fields a configuration leaves out of its canonical form while at their default, as they
# were added after stores had keys without them
DEFAULTS_LEFT_OUT: dict[str, Any] = {
    f.name: list(f.default) if isinstance(f.default, tuple) else f.default
    for f in FIELDS if not f.keyed
}  # fmt: skip

