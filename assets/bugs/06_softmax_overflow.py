# stage: softmax
# verdict: wrong
# cause: subtract each row's maximum first
"""Softmax without subtracting the row maximum: p = exp(z_o) / Σ exp(z_o).

Mathematically the same as the stable version (softmax does not change when a
constant is added to a row), and on this network's small logits it gives the
same numbers. But exp overflows to infinity for a logit above about 709 (in
float64; about 88 in float32) and inf/inf is NaN: a network whose logits grow
during training suddenly produces NaN. The checker also runs softmax on the
minibatch's logits plus 1000, which have the same probabilities.

Breaks: softmax (p), whenever some logit exceeds about 709.
Downstream: loss, dz_o and every gradient become NaN, and so do the weights
after the update.
Fix: shifted = z_o - z_o.max(axis=1, keepdims=True), then exp(shifted).
"""

import numpy as np


def softmax(z_o):
    p = np.exp(z_o)  # BUG: overflows for logits above ~709
    return p / p.sum(axis=1, keepdims=True)
