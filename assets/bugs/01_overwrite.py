# stage: embedding_gradient
# verdict: wrong
# cause: rows fed more than once keep only one contribution
"""The overwrite: dW[x] = de.

A word can occur several times in a minibatch: in several examples, or twice
in one context ("the cat saw the ..."). Its row of dW_emb must receive the sum
of all its slices of de. Fancy-index assignment writes each repeated row
several times, and only the last write stays: the row keeps one contribution
and loses the others. Words seen once are right, which is why the bug hides.

Breaks: embedding_gradient (dW_emb), only in the rows of repeated words.
Downstream: the update of W_emb moves those words' vectors too little (or in a
wrong direction); nothing else in this minibatch changes.
Fix: np.add.at(dW, x.reshape(-1), de.reshape(-1, d)) (see correct.py).
"""

import numpy as np


def embedding_gradient(x, de, V, d):
    dW = np.zeros((V, d))
    dW[x.reshape(-1)] = de.reshape(-1, d)  # BUG: a repeated index is written, not added
    return dW
