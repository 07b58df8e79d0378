# stage: back_to_hidden
# verdict: shape
# cause: W where Wᵀ belongs
"""W instead of Wᵀ: dh = dz_o · W_o.

Forward, z_o = h · W_o with W_o of shape (H, V). Backward, the gradient goes
through the same matrix the other way: dh = dz_o · W_oᵀ, (N×V)·(V×H) = N×H.
Written without the transpose, (N×V)·(H×V) does not fit (unless H = V, when
it silently computes something else): NumPy raises a shape error, which the
checker explains with the shapes of the operands and the product that fits.

Breaks: back_to_hidden (dh).
Downstream: nothing can be computed after it: dz_h, dW_h, db_h, de, dW_emb.
Fix: return dz_o @ W_o.T.
"""


def back_to_hidden(dz_o, W_o):
    return dz_o @ W_o  # BUG: W_o where W_oᵀ belongs
