# stage: update
# verdict: wrong
# cause: the momentum update has the wrong sign
"""The momentum update with the wrong sign: v ← μ·v + η·∇.

Gradient descent moves against the gradient: v ← μ·v − η·∇, θ ← θ + v.
With + the step goes uphill, and momentum keeps it going: the loss rises
instead of falling.

Breaks: update (Δθ of every parameter).
Downstream: the next minibatch starts from weights that are worse than
before; the loss curve climbs.
Fix: return momentum * v - learning_rate * grad.
"""


def update(grad, v, learning_rate, momentum):
    return momentum * v + learning_rate * grad  # BUG: + where − belongs
