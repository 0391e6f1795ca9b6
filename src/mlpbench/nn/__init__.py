"""The network's maths, defined once: the NumPy reference every engine is held to.

activations.py holds the hidden and output activations with their
derivatives; initializers.py how a run's weights and biases start (Keras'
initializers and scikit-learn's); model.py the parameters and the forward
pass; losses.py the losses on the output logits with their
gradients; optimizers.py each optimizer as Keras 3 computes it, an (init,
update) pair of pure functions; schedules.py each learning-rate schedule as a
function of the update count, the factor every engine multiplies into lr;
regularizers.py the weight penalties (L1, L2) added to the loss, with their
gradients; dropout.py the masks every engine computes alike from a hash;
stopping.py early stopping's rule, as Keras' EarlyStopping decides.

May import: mlpbench.errors, mlpbench.data (the per-run weight stream), numpy, scipy.
"""
