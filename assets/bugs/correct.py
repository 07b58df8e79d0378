"""A correct answer for every stage of the default network (one hidden layer of logistic units).

Check it with:  backprop-explorer check assets/bugs/correct.py
Every stage should be "exact" or "close". Each other file of this folder is
this one with one classic bug put in; its comment says what the bug does.
"""

import numpy as np


# ---- forward -------------------------------------------------------------------------------------


def embed(x, W_emb):
    # e = [W_emb[x₁] | W_emb[x₂] | W_emb[x₃]]: the three context words' rows side by side.
    return W_emb[x].reshape(x.shape[0], -1)  # (N, 3, d) → (N, 3d)


def hidden_input(e, W_h, b_h):
    return e @ W_h + b_h  # (N, 3d)·(3d, H) + (H,)


def hidden(z_h):
    return 1.0 / (1.0 + np.exp(-z_h))  # the logistic function σ


def logits(h, W_o, b_o):
    return h @ W_o + b_o  # (N, H)·(H, V) + (V,)


def softmax(z_o):
    shifted = z_o - z_o.max(axis=1, keepdims=True)  # every row's largest logit becomes 0: exp never overflows
    p = np.exp(shifted)
    return p / p.sum(axis=1, keepdims=True)


def loss(p, t, N):
    return -np.log(p[np.arange(N), t]).mean()  # the mean cross-entropy L


# ---- backward ------------------------------------------------------------------------------------


def output_error(p, t, N):
    dz_o = p.copy()  # the inputs are read-only: work on a copy
    dz_o[np.arange(N), t] -= 1.0  # p − Y, Y the one-hot targets
    return dz_o / N  # L is a mean over the N examples


def output_weights(h, dz_o):
    return h.T @ dz_o, dz_o.sum(axis=0)  # dW_o (H, V), db_o (V,)


def back_to_hidden(dz_o, W_o):
    return dz_o @ W_o.T  # (N, V)·(V, H)


def through_activation(dh, h):
    return dh * h * (1.0 - h)  # σ′(z) = σ(z)(1 − σ(z)) = h(1 − h)


def hidden_weights(e, dz_h):
    return e.T @ dz_h, dz_h.sum(axis=0)  # dW_h (3d, H), db_h (H,)


def back_to_embeddings(dz_h, W_h):
    return dz_h @ W_h.T  # (N, H)·(H, 3d)


def embedding_gradient(x, de, V, d):
    dW_emb = np.zeros((V, d))
    # A word can occur several times in a minibatch (in several examples, or twice in one context):
    # its row receives the sum of all its slices of de. np.add.at adds every one of them.
    np.add.at(dW_emb, x.reshape(-1), de.reshape(-1, d))
    return dW_emb


# ---- the update ----------------------------------------------------------------------------------


def update(grad, v, learning_rate, momentum):
    # v ← μ·v − η·∇, and θ ← θ + v: the change of θ is the new velocity.
    return momentum * v - learning_rate * grad
