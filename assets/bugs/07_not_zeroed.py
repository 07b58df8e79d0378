# stage: output_weights
# verdict: wrong
# cause: gradients not zeroed between minibatches
"""Gradients not zeroed between minibatches.

A gradient buffer kept from one minibatch to the next (here a module-level
array, in a library the layer's ``grad`` attribute) must be set to zero (or
overwritten) before each backward pass. Adding into it instead makes each
minibatch's gradient the sum of all the gradients so far: the first
minibatch is right, the second has twice the history, and so on.

Breaks: output_weights (dW_o), from the second minibatch on (the checker runs
two by default, in one process, so the buffer survives between them).
Downstream: the update of W_o grows with every minibatch; training soon
diverges.
Fix: dW_o = h.T @ dz_o (a new array each time), or dW_o.fill(0) first.
"""

import numpy as np

dW_o = None  # kept between calls


def output_weights(h, dz_o):
    global dW_o
    if dW_o is None:
        dW_o = np.zeros((h.shape[1], dz_o.shape[1]))
    dW_o += h.T @ dz_o  # BUG: never zeroed, so it adds up over minibatches
    return dW_o, dz_o.sum(axis=0)
