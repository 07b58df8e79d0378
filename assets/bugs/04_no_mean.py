# stage: output_error
# verdict: wrong
# cause: the 1/N of the mean is missing
"""No 1/N: dz_o = p − Y.

The loss is the *mean* cross-entropy over the N examples of the minibatch,
L = −(1/N) Σₙ log p[n, tₙ], so its gradient carries the 1/N too:
dz_o = (p − Y)/N. Without it every gradient is N times too large, as if the
learning rate were N times larger (100 times with minibatches of 100).

Breaks: output_error (dz_o): every entry is N times the right one.
Downstream: dW_o, db_o, dh, dz_h, dW_h, db_h, de, dW_emb all N times too large;
training diverges at the usual learning rate.
Fix: return dz_o / N.
"""

import numpy as np


def output_error(p, t, N):
    dz_o = p.copy()
    dz_o[np.arange(N), t] -= 1.0
    return dz_o  # BUG: the 1/N of the mean is missing
