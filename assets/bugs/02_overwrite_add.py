# stage: embedding_gradient
# verdict: wrong
# cause: rows fed more than once keep only one contribution
"""The overwrite in disguise: dW[x] += de.

It looks like a sum, but NumPy evaluates ``dW[x] += de`` as
``dW[x] = dW[x] + de``: it reads every indexed row once (all zeros here), adds,
and writes the rows back. A row indexed twice is written twice with one slice
each, so, exactly as with ``dW[x] = de``, it keeps only one contribution.
(NumPy's documentation calls this buffering: fancy-index assignment is not
accumulated for repeated indices.)

Breaks: embedding_gradient (dW_emb), in the rows of words that repeat.
Downstream: the update of W_emb, for those words only.
Fix: np.add.at(dW, x.reshape(-1), de.reshape(-1, d)), the unbuffered add.
"""

import numpy as np


def embedding_gradient(x, de, V, d):
    dW = np.zeros((V, d))
    dW[x.reshape(-1)] += de.reshape(-1, d)  # BUG: buffered: each repeated row gets one slice
    return dW
