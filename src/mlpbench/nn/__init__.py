"""The network's maths, defined once: the NumPy reference every engine is held to.

model.py holds the parameters, the hidden activations, the forward pass and
the Glorot initialisation; losses.py the losses on the output logits with
their gradients; optimizers.py each optimizer as Keras 3 computes it, an
(init, update) pair of pure functions.

May import: mlpbench.errors, mlpbench.data (the per-run weight stream), numpy.
"""
