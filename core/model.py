"""The 4-gram neural language model: three words in, a probability for every next word out.

    x   : N×3 word indices
    e   = [W_emb[x₁] | W_emb[x₂] | W_emb[x₃]]    (N, 3d)
    z_h = e·W_h + b_h                           (N, H)
    h   = σ(z_h)                                (N, H)
    z_o = h·W_o + b_o                           (N, V)
    p   = softmax(z_o)                          (N, V)
    L   = −(1/N) Σₙ log p[n, tₙ]

The parameters are ``model.params`` (``W_emb``, ``W_h``, ``b_h``, ``W_o``,
``b_o``); after ``backward()`` their gradients are in ``model.grads`` under the
same names, and the momentum velocities in ``model.velocity``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from .errors import ConfigError, InputError, UnknownWordError
from .layers import ACTIVATIONS, Embedding, Linear, SoftmaxCrossEntropy, make_rng
from .text import tokenize  # noqa: F401  (a string of words is cut as the corpora are)
from .ranking import bottom_k, top_k
from .spelling import Speller

CONTEXT = 3  # words in, one word out
PARAM_NAMES = ("W_emb", "W_h", "b_h", "W_o", "b_o")


@dataclass(frozen=True)
class Config:
    """Hyperparameters. Defaults are the classic exercise's."""

    embed_dim: int = 50
    hidden_dim: int = 200
    activation: str = "sigmoid"
    init_std: float = 0.01
    seed: int = 1
    learning_rate: float = 0.1
    momentum: float = 0.9
    batch_size: int = 100

    # Limits a user can reach from the window or the command line. They keep a
    # typo (a hidden size of a million) from exhausting memory.
    LIMITS = {
        "embed_dim": (1, 1000),
        "hidden_dim": (1, 5000),
        "batch_size": (1, 100_000),
        "seed": (0, 2**32 - 1),
    }

    def validate(self) -> "Config":
        """Return self, or raise ConfigError naming the first value that cannot work."""
        for name, (lo, hi) in self.LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"{name.replace('_', ' ')} must be a whole number, got {value!r}")
            if not lo <= value <= hi:
                raise ConfigError(f"{name.replace('_', ' ')} must be between {lo:,} and {hi:,}, got {value:,}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        reals = (("learning rate", self.learning_rate), ("momentum", self.momentum), ("init std", self.init_std))
        for label, value in reals:
            if not isinstance(value, (int, float, np.floating)) or isinstance(value, bool) or not math.isfinite(value):
                raise ConfigError(f"{label} must be a finite number, got {value!r}")
        if not 0.0 < self.learning_rate <= 1e4:
            raise ConfigError(f"learning rate must be above 0 and at most 10000, got {self.learning_rate:g}")
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"momentum must be at least 0 and below 1, got {self.momentum:g}")
        if not 0.0 < self.init_std <= 100.0:
            raise ConfigError(f"init std must be above 0 and at most 100, got {self.init_std:g}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown hyperparameter{'s' if len(unknown) > 1 else ''}: {', '.join(sorted(unknown))}")
        return cls(**d).validate()

    def replace(self, **changes) -> "Config":
        return replace(self, **changes).validate()

    def needs_new_network(self, other: "Config") -> bool:
        """True when switching from self to other changes the network's shape or initial weights."""
        live = {"learning_rate", "momentum"}
        return any(getattr(self, f.name) != getattr(other, f.name) for f in fields(self) if f.name not in live)


class FourGramModel:
    """The network: an embedding table shared by the three positions, one hidden layer, a softmax."""

    def __init__(self, vocab, config: Config | None = None, *, dtype=np.float64):
        self.config = (config or Config()).validate()
        self.vocab = list(vocab)
        if len(self.vocab) < 2:
            raise ConfigError("the vocabulary needs at least 2 words")
        if len(set(self.vocab)) != len(self.vocab):
            raise ConfigError("the vocabulary has repeated words")
        self.index = {w: i for i, w in enumerate(self.vocab)}
        c, V = self.config, len(self.vocab)
        rng = make_rng(c.seed)
        # Drawn in the order of the original exercise: embedding, hidden, output.
        self.embedding = Embedding(V, c.embed_dim, init_std=c.init_std, rng=rng, dtype=dtype)
        self.hidden = Linear(CONTEXT * c.embed_dim, c.hidden_dim, init_std=c.init_std, rng=rng, dtype=dtype)
        self.activation = ACTIVATIONS[c.activation]()
        self.output = Linear(c.hidden_dim, V, init_std=c.init_std, rng=rng, dtype=dtype)
        self.loss_layer = SoftmaxCrossEntropy()
        self.params = {
            "W_emb": self.embedding.params["W"],  # (V, d)
            "W_h": self.hidden.params["W"],  # (3d, H)
            "b_h": self.hidden.params["b"],  # (H,)
            "W_o": self.output.params["W"],  # (H, V)
            "b_o": self.output.params["b"],  # (V,)
        }
        self.grads = {
            "W_emb": self.embedding.grads["W"],
            "W_h": self.hidden.grads["W"],
            "b_h": self.hidden.grads["b"],
            "W_o": self.output.grads["W"],
            "b_o": self.output.grads["b"],
        }
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}
        # Bumped whenever the parameters change, so that copies (the fast path,
        # the views) know when to refresh.
        self.version = 0

    # ---- sizes ---------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def dtype(self):
        return self.params["W_emb"].dtype

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: v.shape for k, v in self.params.items()}

    # ---- forward and backward ---------------------------------------------------
    def forward(self, x, targets=None):
        """Probabilities p (N, V) for contexts x (N, 3); with targets, returns the mean cross-entropy."""
        x = np.asarray(x)
        n = x.shape[0]
        e = self.embedding.forward(x).reshape(n, -1)  # (N, 3d)
        z_h = self.hidden.forward(e)  # (N, H)
        h = self.activation.forward(z_h)  # (N, H)
        z_o = self.output.forward(h)  # (N, V)
        if targets is None:
            return _softmax(z_o)
        return self.loss_layer.forward(z_o, np.asarray(targets))

    def backward(self) -> None:
        """Fill ``grads`` for the last ``forward(x, targets)``."""
        dz_o = self.loss_layer.backward()  # (N, V)
        dh = self.output.backward(dz_o)  # (N, H)
        dz_h = self.activation.backward(dh)  # (N, H)
        de = self.hidden.backward(dz_h)  # (N, 3d)
        self.embedding.backward(de.reshape(de.shape[0], CONTEXT, -1))  # (N, 3, d)

    def loss(self, x, targets) -> float:
        return self.forward(x, targets)

    def logits(self, x) -> np.ndarray:
        """z_o (N, V) for contexts x (N, 3), leaving alone everything ``backward`` needs.

        Predictions and evaluations use this, so that asking for them in the
        middle of a minibatch (a viewer paused between two stages) cannot
        change that minibatch's gradients.
        """
        x = np.asarray(x)
        P = self.params
        e = P["W_emb"][x].reshape(x.shape[0], -1)  # (N, 3d)
        h = self.activation.apply(e @ P["W_h"] + P["b_h"])  # (N, H)
        return h @ P["W_o"] + P["b_o"]  # (N, V)

    def apply_update(self, learning_rate: float | None = None, momentum: float | None = None) -> None:
        """Momentum step on every parameter: v ← μ·v − η·∇;  θ ← θ + v."""
        lr = self.config.learning_rate if learning_rate is None else learning_rate
        mu = self.config.momentum if momentum is None else momentum
        for name, theta in self.params.items():
            v = self.velocity[name]
            v *= mu
            v -= lr * self.grads[name]
            theta += v
        self.version += 1

    def evaluate(self, data, batch: int = 8192) -> float:
        """Mean cross-entropy over rows of ``data`` (M, 4): three context words, then the target."""
        data = np.asarray(data)
        if len(data) == 0:
            return float("nan")
        total = 0.0
        for a in range(0, len(data), batch):
            chunk = data[a : a + batch]
            z = self.logits(chunk[:, :CONTEXT])  # (M, V)
            z -= z.max(axis=1, keepdims=True)
            lse = np.log(np.exp(z).sum(axis=1))  # (M,)
            total += float(np.sum(lse - z[np.arange(len(chunk)), chunk[:, CONTEXT]]))
        return total / len(data)

    # ---- words -----------------------------------------------------------------
    def suggest(self, word: str, k: int = 3) -> list[str]:
        """Vocabulary words spelt most like ``word``: difflib's close matches (cutoff 0.5, else the best k)."""
        return self.speller.suggest(word.lower(), k)

    @functools.cached_property
    def speller(self) -> Speller:
        """Finds the close matches without scoring every word of a large vocabulary (core/spelling.py)."""
        return Speller(self.vocab)

    def word_index(self, word: str) -> int:
        w = word.lower()
        if w not in self.index:
            raise UnknownWordError(word, self.suggest(word))
        return self.index[w]

    def context_indices(self, words) -> np.ndarray:
        """Indices of exactly three words (a string or a sequence of words)."""
        if isinstance(words, str):
            words = tokenize(words)
        words = list(words)
        if len(words) != CONTEXT:
            raise InputError(f"give exactly {CONTEXT} words, got {len(words)}")
        return np.array([self.word_index(w) for w in words], dtype=np.int64)

    def probabilities(self, words) -> np.ndarray:
        """p(next word | three words): a vector of V probabilities."""
        idx = self.context_indices(words)
        return _softmax(self.logits(idx[None, :]))[0]

    def predict(self, words, k: int = 10) -> list[tuple[str, float]]:
        """The k most probable next words with their probabilities, most probable first."""
        p = self.probabilities(words)
        k = max(1, min(int(k), len(p)))
        top = top_k(p, k)  # as a stable argsort of -p, without sorting all V
        return [(self.vocab[i], float(p[i])) for i in top]

    def nearest(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The k words whose embeddings are closest (Euclidean) to ``word``'s, excluding itself."""
        i = self.word_index(word)
        W = self.params["W_emb"]
        dist = np.sqrt(((W - W[i]) ** 2).sum(axis=1))
        dist[i] = np.inf
        k = max(1, min(int(k), len(dist) - 1))
        order = bottom_k(dist, k)  # as a stable argsort, without sorting all V
        return [(self.vocab[j], float(dist[j])) for j in order]

    def distance(self, word1: str, word2: str) -> float:
        """Euclidean distance between two words' embeddings."""
        W = self.params["W_emb"]
        return float(np.linalg.norm(W[self.word_index(word1)] - W[self.word_index(word2)]))

    # ---- state -------------------------------------------------------------------
    def state(self, out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Copies of the parameters and velocities, for snapshots and checkpoints.

        ``out``: a state returned before, whose arrays are reused when they still fit (same names, shapes and
        dtypes): copying into memory already touched is several times faster than into new arrays.
        """
        live = dict(self.params)
        live.update({"v_" + k: v for k, v in self.velocity.items()})
        if out is not None and out.keys() == live.keys() and all(
            out[k].shape == v.shape and out[k].dtype == v.dtype for k, v in live.items()
        ):
            for k, v in live.items():
                np.copyto(out[k], v)
            return out
        return {k: v.copy() for k, v in live.items()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Copy parameters (and velocities, when present) into place; shapes must match."""
        for k, theta in self.params.items():
            if state[k].shape != theta.shape:
                raise ConfigError(f"{k} has shape {state[k].shape}, the network needs {theta.shape}")
        for k, theta in self.params.items():
            theta[...] = state[k]
            if "v_" + k in state:
                self.velocity[k][...] = state["v_" + k]
            else:
                self.velocity[k].fill(0)
        self.version += 1

    def all_finite(self) -> bool:
        return all(np.isfinite(v).all() for v in self.params.values())


def _softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax with the row maximum subtracted first."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
