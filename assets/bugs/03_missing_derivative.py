# stage: through_activation
# verdict: wrong
# cause: the activation's derivative is missing
"""The missing activation derivative: dz_h = dh.

Going back through h = σ(z_h) the gradient must be multiplied by σ′(z_h),
which for the logistic function is h ⊙ (1 − h) (at most 1/4). Passing dh on
unchanged treats the activation as if it were the identity.

Breaks: through_activation (dz_h): every entry, too large by 1/(h(1−h)) ≥ 4.
Downstream: dW_h, db_h, de and dW_emb are computed from dz_h, so all of them
are wrong too (the checker feeds each stage correct inputs, so only this one
is flagged); training still lowers the loss a little, much more slowly.
Fix: return dh * h * (1.0 - h).
"""


def through_activation(dh, h):
    return dh  # BUG: the factor h ⊙ (1 − h) is missing
