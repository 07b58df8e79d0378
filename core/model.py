"""The 4-gram neural language model: three words in, a probability for every next word out.

The network is a list of layers (core/layers.py), from 0 to 4 hidden blocks
of any width and activation between the embedding and the output:

    x     : N×3 word indices
    e     = [W_emb[x₁] | W_emb[x₂] | W_emb[x₃]]   (N, 3d)    ContextEmbedding
    z_h   = e·W_h + b_h                          (N, H)     Linear       } one hidden block
    h     = f(z_h)                               (N, H)     Activation   } (the default)
    z_o   = h·W_o + b_o                          (N, V)     Linear
    p     = softmax(z_o)                         (N, V)     SoftmaxCrossEntropy
    L     = −(1/N) Σₙ log p[n, tₙ]

``Config.hidden_dims`` gives the widths of the hidden layers (default
``(200,)``), ``Config.activations`` their activations (one name for all, or
one per layer; the names are those of ``core.layers.ACTIVATIONS``).

Naming rule. With exactly one hidden layer its arrays have no number:
``W_h, b_h, z_h, h`` (and ``dW_h, db_h, dz_h, dh``), its size is H and its
diagram box "hidden". With two or more, layer i (counted from 1, the one
after the embedding first) has the suffix i: ``W_h1, b_h1, z_h1, h1``, then
``W_h2, ...``, sizes H₁, H₂, ..., boxes "hidden_1", "hidden_2". With none,
the output reads e directly. The other names never change: ``x, t, e, W_emb,
W_o, b_o, z_o, p, loss_n``, gradients ``d`` + name, updates ``Δ`` + name.

The parameters are ``model.params`` in layer order (``W_emb``, then each
hidden layer's W and b, then ``W_o``, ``b_o``); after ``backward()`` their
gradients are in ``model.grads`` under the same names, the momentum
velocities in ``model.velocity``. ``model.specs`` describes every array
(core/specs.py), ``model.stage_specs`` every stage of a minibatch (see
core/stages.py) and ``model.boxes`` the boxes of the network diagram. The
initial weights are drawn in layer order, so the default network starts from
the same numbers as the original exercise's.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields, replace

import numpy as np

from .errors import ConfigError, InputError, UnknownWordError
from .layers import (
    ACTIVATIONS,
    Activation,
    ActivationNames,
    ContextEmbedding,
    Linear,
    LinearNames,
    MomentumUpdate,
    SoftmaxCrossEntropy,
    activation_class,
    make_rng,
)
from .text import in_vocabulary, tokenize  # (a string of words is cut as the corpora are)
from .ranking import bottom_k, top_k
from .specs import CONTEXT, BoxSpec, FormulaContext, StageSpec, TensorSpec, Words, subscript
from .spelling import Speller

MAX_HIDDEN_LAYERS = 4
HIDDEN_WIDTH_LIMITS = (1, 5000)
# The smallest init std that can train: run mode computes in float32, whose smallest numbers are about 1e-38
# (1e-45 with subnormals). Weights drawn with a smaller std round to 0 there, and a network whose weights are
# all 0 stays symmetric: every word vector stays 0 and every hidden unit learns the same thing.
MIN_INIT_STD = 1e-30
MAX_INIT_STD = 100.0


# ---- the naming rule (see the module docstring) --------------------------------------------------------


def hidden_tag(i: int, count: int) -> str:
    """The suffix of hidden layer ``i`` (1-based) of ``count``: "" when it is the only one, else "i"."""
    return "" if count == 1 else str(i)


def hidden_symbol(i: int, count: int) -> str:
    """Its size symbol: "H", or "H₁", "H₂", ..."""
    return "H" if count == 1 else "H" + subscript(i)


def _hidden_parts(i: int, count: int) -> tuple[str, str, str]:
    """(name suffix, stage/box suffix, title suffix): ("", "", "") or ("2", "_2", " 2")."""
    tag = hidden_tag(i, count)
    return tag, f"_{tag}" if tag else "", f" {tag}" if tag else ""


def param_shapes(config: "Config", vocab_size: int) -> dict[str, tuple[int, ...]]:
    """The shape of every parameter of the network ``config`` describes, in layer order, without building it."""
    d, dims = config.embed_dim, config.hidden_dims
    out = {"W_emb": (vocab_size, d)}
    widths = [CONTEXT * d, *dims]
    for i, width in enumerate(dims, 1):
        tag = hidden_tag(i, len(dims))
        out[f"W_h{tag}"], out[f"b_h{tag}"] = (widths[i - 1], width), (width,)
    out["W_o"], out["b_o"] = (widths[-1], vocab_size), (vocab_size,)
    return out


def estimated_bytes(config: "Config", vocab_size: int) -> int:
    """A rough upper bound of the memory one stepped (float64, recorded) minibatch of this network needs."""
    n, d, v = config.batch_size, config.embed_dim, vocab_size
    # e and de; z, h, dh, dz per hidden layer; z_o, p, dz_o; each once computed and once recorded.
    per_example = (2 * CONTEXT * d + sum(4 * w for w in config.hidden_dims) + 3 * v) * 2
    params = sum(math.prod(s) for s in param_shapes(config, vocab_size).values())
    return 8 * (n * per_example + 5 * params)  # parameters, gradients, velocities, snapshots


# ---- hyperparameters -------------------------------------------------------------------------------------


def _as_tuple(value, what: str) -> tuple:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    raise ConfigError(f"{what} must be a list, got {value!r}")


@dataclass(frozen=True, init=False)
class Config:
    """Hyperparameters. Defaults are the classic exercise's.

    ``hidden_dims``: the widths of the hidden layers (0 to 4 of them);
    ``activations``: one activation name for every hidden layer, or one per
    layer (stored one per layer). ``hidden_dim=`` and ``activation=``, the
    names of the one-hidden-layer versions, are still accepted.
    """

    embed_dim: int
    hidden_dims: tuple[int, ...]
    activations: tuple[str, ...]
    init_std: float
    seed: int
    learning_rate: float
    momentum: float
    batch_size: int

    # Limits a user can reach from the window or the command line. They keep a
    # typo (a hidden size of a million) from exhausting memory.
    LIMITS = {
        "embed_dim": (1, 1000),
        "batch_size": (1, 100_000),
        "seed": (0, 2**32 - 1),
    }

    def __init__(self, embed_dim=50, hidden_dims=(200,), activations="sigmoid", init_std=0.01, seed=1,
                 learning_rate=0.1, momentum=0.9, batch_size=100, *, hidden_dim=None, activation=None):
        if hidden_dim is not None:
            hidden_dims = (hidden_dim,)
        if activation is not None:
            activations = activation
        dims = (hidden_dims,) if isinstance(hidden_dims, (int, np.integer)) else _as_tuple(hidden_dims, "hidden dims")
        acts = (activations,) if isinstance(activations, str) else _as_tuple(activations, "activations")
        if len(acts) == 1:  # one name for every hidden layer
            acts = acts * len(dims)
        values = dict(embed_dim=embed_dim, hidden_dims=dims, activations=acts, init_std=init_std, seed=seed,
                      learning_rate=learning_rate, momentum=momentum, batch_size=batch_size)
        for k, v in values.items():
            object.__setattr__(self, k, v)

    # The one-hidden-layer names, for reading (the window and scripts of the single-layer network).
    @property
    def hidden_dim(self) -> int:
        if len(self.hidden_dims) != 1:
            raise AttributeError(f"this network has {len(self.hidden_dims)} hidden layers: read hidden_dims")
        return self.hidden_dims[0]

    @property
    def activation(self) -> str:
        if len(set(self.activations)) != 1:
            raise AttributeError("the hidden layers have different activations (or none): read activations")
        return self.activations[0]

    def validate(self) -> "Config":
        """Return self, or raise ConfigError naming the first value that cannot work."""
        for name, (lo, hi) in self.LIMITS.items():
            _check_whole(name.replace("_", " "), getattr(self, name), lo, hi)
        dims = self.hidden_dims
        if len(dims) > MAX_HIDDEN_LAYERS:
            raise ConfigError(f"at most {MAX_HIDDEN_LAYERS} hidden layers, got {len(dims)}")
        for i, w in enumerate(dims, 1):
            _check_whole("hidden dim" if len(dims) == 1 else f"hidden dim of layer {i}", w, *HIDDEN_WIDTH_LIMITS)
        acts = self.activations
        if len(acts) != len(dims):
            wanted = "one activation" if len(dims) == 1 else f"one activation for all or one for each ({len(dims)})"
            raise ConfigError(
                f"{len(dims)} hidden layer{'s need' if len(dims) != 1 else ' needs'} {wanted}, got {len(acts)}"
            )
        for a in acts:
            if not isinstance(a, str):
                raise ConfigError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {a!r}")
            activation_class(a)  # raises for a name nobody registered
        reals = (("learning rate", self.learning_rate), ("momentum", self.momentum), ("init std", self.init_std))
        for label, value in reals:
            if not isinstance(value, (int, float, np.floating)) or isinstance(value, bool) or not math.isfinite(value):
                raise ConfigError(f"{label} must be a finite number, got {value!r}")
        if not 0.0 < self.learning_rate <= 1e4:
            raise ConfigError(f"learning rate must be above 0 and at most 10000, got {self.learning_rate:g}")
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"momentum must be at least 0 and below 1, got {self.momentum:g}")
        if not 0.0 < self.init_std <= MAX_INIT_STD:
            raise ConfigError(f"init std must be above 0 and at most {MAX_INIT_STD:g}, got {self.init_std:g}")
        if self.init_std < MIN_INIT_STD:
            raise ConfigError(
                f"init std must be at least {MIN_INIT_STD:g}, got {self.init_std:g}: smaller weights round to 0 in "
                "training's 32-bit arithmetic, and a network of zeros never learns word vectors"
            )
        return self

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["hidden_dims"], out["activations"] = list(self.hidden_dims), list(self.activations)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        """From ``to_dict``'s output, or the one-hidden-layer form (``hidden_dim``, ``activation``)."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names - {"hidden_dim", "activation"}
        if unknown:
            names = ", ".join(repr(k) if not str(k).isidentifier() else str(k) for k in sorted(unknown, key=str))
            raise ConfigError(f"unknown hyperparameter{'s' if len(unknown) > 1 else ''}: {names}")
        for old, new in (("hidden_dim", "hidden_dims"), ("activation", "activations")):
            if old in d and new in d:
                raise ConfigError(f"give {new} or {old}, not both")
        return cls(**d).validate()

    def replace(self, **changes) -> "Config":
        """A copy with ``changes`` (``hidden_dim=`` and ``activation=`` are accepted too), validated."""
        if "hidden_dim" in changes:
            changes["hidden_dims"] = (changes.pop("hidden_dim"),)
        if "activation" in changes:
            changes["activations"] = changes.pop("activation")
        if "hidden_dims" in changes and "activations" not in changes and len(set(self.activations)) == 1:
            changes["activations"] = self.activations[:1]  # the one activation, for however many layers
        return replace(self, **changes).validate()

    def describe_hidden(self) -> str:
        """'H=200, sigmoid', 'hidden 128 relu, 64 tanh' or 'no hidden layer'."""
        dims, acts = self.hidden_dims, self.activations
        if not dims:
            return "no hidden layer"
        if len(dims) == 1:
            return f"H={dims[0]}, {acts[0]}"
        return "hidden " + ", ".join(f"{w} {a}" for w, a in zip(dims, acts))


def _check_whole(label: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{label} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{label} must be between {lo:,} and {hi:,}, got {value:,}")


def parse_hidden_dims(text: str) -> tuple[int, ...]:
    """'200' → (200,); '128,64,32' → (128, 64, 32); '' or 'none' → () (no hidden layer)."""
    t = str(text).strip()
    if t.lower() in ("", "none", "0"):
        return ()
    out = []
    for piece in t.split(","):
        piece = piece.strip().replace("_", "")
        if not piece.isdigit():
            raise ConfigError(f"hidden sizes must be whole numbers separated by commas (128,64), got {text!r}")
        out.append(int(piece))
    return tuple(out)


def parse_activations(text: str) -> tuple[str, ...]:
    """'relu' → ('relu',) (for every layer); 'sigmoid,relu,tanh' → one per layer; names checked against the registry."""
    if not str(text).strip():
        return ()
    names = tuple(p.strip().lower() for p in str(text).split(","))
    for name in names:
        activation_class(name)
    return names


# ---- the network -----------------------------------------------------------------------------------------


def _unit(i: int, count: int) -> str:
    """A unit of hidden layer i in words (a ``Words.unit`` template)."""
    return "hidden unit {i}" if count == 1 else f"unit {{i}} of hidden layer {i}"


def _hidden_linear_names(i: int, count: int) -> LinearNames:
    tag, us, tt = _hidden_parts(i, count)
    first = i == 1
    prev_tag, prev_us, _ = _hidden_parts(i - 1, count) if not first else ("", "", "")
    one = count == 1
    return LinearNames(
        x="e" if first else f"h{prev_tag}", z=f"z_h{tag}", W=f"W_h{tag}", b=f"b_h{tag}",
        dx="de" if first else f"dh{prev_tag}", dz=f"dz_h{tag}",
        x_axis="concat" if first else "unit", z_axis="unit",
        x_dim="3d" if first else hidden_symbol(i - 1, count), z_dim=hidden_symbol(i, count),
        x_box="embedding" if first else f"hidden{prev_us}", box=f"hidden{us}",
        forward=(f"hidden_input{us}", f"Hidden input{tt}"),
        weights=(f"hidden_weights{us}", f"Hidden weights{tt}"),
        back=("back_to_embeddings", "Back to embeddings") if first else (f"back_to_hidden_{i - 1}",
                                                                          f"Back to hidden {i - 1}"),
        what=("hidden pre-activation", "hidden weights", "hidden biases") if one else (
            f"pre-activation of hidden layer {i}", f"weights of hidden layer {i}", f"biases of hidden layer {i}"),
        x_unit="input column {i} ({col})" if first else _unit(i - 1, count), z_unit=_unit(i, count),
    )


def _output_linear_names(count: int) -> LinearNames:
    if count == 0:
        x, dx, x_axis, x_dim, x_box = "e", "de", "concat", "3d", "embedding"
        back = ("back_to_embeddings", "Back to embeddings")
    else:
        tag, us, tt = _hidden_parts(count, count)
        x, dx, x_axis, x_dim, x_box = f"h{tag}", f"dh{tag}", "unit", hidden_symbol(count, count), f"hidden{us}"
        back = (f"back_to_hidden{us}", f"Back to hidden{tt}")
    return LinearNames(
        x=x, z="z_o", W="W_o", b="b_o", dx=dx, dz="dz_o", x_axis=x_axis, z_axis="word", x_dim=x_dim, z_dim="V",
        x_box=x_box, box="output", forward=("logits", "Logits"), weights=("output_weights", "Output weights"),
        back=back, what=("logits (output pre-activation)", "output weights", "output biases"),
        x_unit="input column {i} ({col})" if count == 0 else _unit(count, count), z_unit="the logit of {w}",
    )


def _activation_names(i: int, count: int) -> ActivationNames:
    tag, us, tt = _hidden_parts(i, count)
    return ActivationNames(
        z=f"z_h{tag}", h=f"h{tag}", dz=f"dz_h{tag}", dh=f"dh{tag}", dim=hidden_symbol(i, count), box=f"hidden{us}",
        tag=tt, forward=f"hidden{us}", backward=f"through_activation{us}",
        what="hidden activation" if count == 1 else f"activation of hidden layer {i}", unit=_unit(i, count),
    )


_ARROW = {"in": ("fwd", -1), "back_out": ("bwd", -1), "back_in": ("bwd", 0)}  # relative to the stage's box


class FourGramModel:
    """The network: an embedding table shared by the three positions, 0 to 4 hidden layers, a softmax."""

    def __init__(self, vocab, config: Config | None = None, *, dtype=np.float64):
        self.config = (config or Config()).validate()
        self.vocab = list(vocab)
        if len(self.vocab) < 2:
            raise ConfigError("the vocabulary needs at least 2 words")
        if len(set(self.vocab)) != len(self.vocab):
            raise ConfigError("the vocabulary has repeated words")
        self.index = {w: i for i, w in enumerate(self.vocab)}
        c, V = self.config, len(self.vocab)
        count = len(c.hidden_dims)
        rng = make_rng(c.seed)
        # Drawn in layer order (the original exercise's: embedding, hidden, output).
        self.embedding = ContextEmbedding(V, c.embed_dim, init_std=c.init_std, rng=rng, dtype=dtype)
        self.layers = [self.embedding]
        width = CONTEXT * c.embed_dim
        for i, (w, act) in enumerate(zip(c.hidden_dims, c.activations), 1):
            self.layers.append(Linear(width, w, init_std=c.init_std, rng=rng, dtype=dtype,
                                      names=_hidden_linear_names(i, count)))
            self.layers.append(activation_class(act)(names=_activation_names(i, count)))
            width = w
        self.output = Linear(width, V, init_std=c.init_std, rng=rng, dtype=dtype, names=_output_linear_names(count))
        self.layers.append(self.output)
        self.loss_layer = SoftmaxCrossEntropy()
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        for layer in self.layers:
            for name, key in layer.param_names.items():
                self.params[name] = layer.params[key]
                self.grads[name] = layer.grads[key]
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}
        # Bumped whenever the parameters change, so that copies (the fast path,
        # the views) know when to refresh.
        self.version = 0
        self._build_registries()

    def _build_registries(self) -> None:
        """``specs``, ``update``, ``stage_specs`` and ``boxes``, from the layer list."""
        forward = [s for layer in self.layers for s in layer.tensor_specs()] + self.loss_layer.tensor_specs()
        backward = self.loss_layer.tensor_specs() + [s for layer in reversed(self.layers) for s in layer.tensor_specs()]
        params = [s for s in forward if s.role == "parameter"]
        self.update = MomentumUpdate(params)
        ordered = (
            [s for s in forward if s.role == "input"] + params + [s for s in forward if s.role == "forward"]
            + [s for s in backward if s.role == "gradient"] + self.update.tensor_specs()
        )
        self.specs: dict[str, TensorSpec] = {s.name: s for s in ordered}

        sizes = self.sizes()
        merged: dict[str, tuple[str | None, list[str]]] = {}
        for layer in [*self.layers, self.loss_layer]:
            for key, (title, lines) in layer.box_lines(sizes).items():
                old_title, old_lines = merged.get(key, (None, []))
                merged[key] = (old_title or title, old_lines + lines)
        sends = {"input": "x", "embedding": "e", "output": "p"}
        receives = {"embedding": "de", "output": "dz_o"}
        for layer in self.layers:
            if not isinstance(layer, Activation):
                continue
            sends[layer.box], receives[layer.box] = layer.names.h, layer.names.dh
        self.boxes: tuple[BoxSpec, ...] = tuple(
            BoxSpec(key, title or key, tuple(lines),
                    tuple(s.name for s in ordered if s.box == key or key in s.also),
                    sends.get(key, ""), receives.get(key, ""))
            for key, (title, lines) in merged.items()
        )
        position = {b.key: i for i, b in enumerate(self.boxes)}

        decls = [d for layer in self.layers for d in layer.forward_stages()]
        decls += self.loss_layer.forward_stages()
        first_backward = len(decls)
        decls += self.loss_layer.backward_stages()
        decls += [d for layer in reversed(self.layers) for d in layer.backward_stages()]
        decls.append(self.update.stage())
        stages = []
        for i, d in enumerate(decls):
            arrow = None
            if d.arrow is not None:
                kind, offset = _ARROW[d.arrow]
                arrow = (kind, position[d.box] + offset)
            stages.append(StageSpec(i, d.name, d.title, d.formula, d.shapes, d.box, arrow, i >= first_backward,
                                    d.arrays, d.inputs))
        self.stage_specs: tuple[StageSpec, ...] = tuple(stages)

    # ---- sizes ---------------------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def dtype(self):
        return self.params["W_emb"].dtype

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: v.shape for k, v in self.params.items()}

    def sizes(self, batch_size: int | None = None) -> dict[str, int]:
        """The size symbols of the specs and formulas → numbers ("N" is ``batch_size``, default the config's)."""
        c = self.config
        out = {"N": c.batch_size if batch_size is None else int(batch_size), "d": c.embed_dim,
               "3d": CONTEXT * c.embed_dim, "V": self.vocab_size}
        for i, w in enumerate(c.hidden_dims, 1):
            out[hidden_symbol(i, len(c.hidden_dims))] = w
        return out

    def shape_of(self, name: str, batch_size: int | None = None) -> tuple[int, ...]:
        """The shape of the array ``name`` (KeyError for a name this network does not have)."""
        return self.specs[name].shape(self.sizes(batch_size))

    def box_of(self, key: str) -> BoxSpec:
        for box in self.boxes:
            if box.key == key:
                return box
        raise KeyError(f"no box called {key!r} in this network")

    def stage_spec(self, name: str) -> StageSpec:
        for spec in self.stage_specs:
            if spec.name == name:
                return spec
        raise KeyError(f"no stage called {name!r} in this network")

    # ---- forward and backward ------------------------------------------------------------------------------
    def forward(self, x, targets=None):
        """Probabilities p (N, V) for contexts x (N, 3); with targets, returns the mean cross-entropy."""
        a = np.asarray(x)
        for layer in self.layers:
            a = layer.forward(a)  # e (N, 3d), then z and h of each hidden layer, then z_o (N, V)
        if targets is None:
            return _softmax(a)
        return self.loss_layer.forward(a, np.asarray(targets))

    def backward(self) -> None:
        """Fill ``grads`` for the last ``forward(x, targets)``."""
        g = self.loss_layer.backward()  # dz_o (N, V)
        for layer in reversed(self.layers):
            g = layer.backward(g)  # dh, dz_h, ... de (N, 3d); the embedding scatter-adds and returns None

    def logits(self, x) -> np.ndarray:
        """z_o (N, V) for contexts x (N, 3), leaving alone everything ``backward`` needs.

        Predictions and evaluations use this, so that asking for them in the
        middle of a minibatch (a viewer paused between two stages) cannot
        change that minibatch's gradients.
        """
        a = np.asarray(x)
        for layer in self.layers:
            a = layer.apply(a)
        return a

    def apply_update(self, learning_rate: float | None = None, momentum: float | None = None) -> None:
        """Momentum step on every parameter: v ← μ·v − η·∇;  θ ← θ + v (η and μ default to the config's)."""
        lr = self.config.learning_rate if learning_rate is None else learning_rate
        mu = self.config.momentum if momentum is None else momentum
        self.update.apply(self.params, self.grads, self.velocity, lr, mu)
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

    # ---- formulas with numbers -----------------------------------------------------------------------------
    def entry_formula(self, name: str, index, tensors: dict, *, weights=None, velocity=None, extras=None,
                      vocab=None):
        """The formula of ``name[index]`` with its operands from ``tensors`` (a minibatch's arrays), or None.

        ``weights`` and ``velocity`` are the parameters and velocities the
        minibatch computed with (before its update), ``extras`` the update
        stage's learning rate and momentum. None for arrays no formula
        computes (parameters, the inputs) and for names not in ``tensors``.
        The layer that computes the array writes the text (core/layers.py).
        """
        spec = self.specs.get(name)
        if spec is None or spec.role in ("input", "parameter") or name not in tensors:
            return None
        ctx = FormulaContext(name, index, tensors, weights=weights, velocity=velocity, extras=extras,
                             vocab=self.vocab if vocab is None else vocab, embed_dim=self.config.embed_dim)
        return spec.owner.entry_formula(ctx)

    def entry_meaning(self, name: str, index, x=None, t=None) -> str:
        """What entry ``index`` of ``name`` is, in words; for a gradient or an update, the entry it is about.

        ``x`` and ``t``, the minibatch, let it name an example's words.
        """
        spec = self.specs[name]
        base = self.specs[spec.of] if spec.role in ("gradient", "update") else spec
        index = tuple(int(i) for i in np.atleast_1d(index))
        words = Words(self.vocab, self.config.embed_dim, x, t)
        text = base.owner.entry_meaning(base.name, index, words) if base.owner is not None else None
        return text or f"entry [{', '.join(map(str, index))}] of {base.name}"

    # ---- words -----------------------------------------------------------------------------------------------
    def suggest(self, word: str, k: int = 3) -> list[str]:
        """Vocabulary words spelt most like ``word``: difflib's close matches (cutoff 0.5, else the best k)."""
        return self.speller.suggest(word.lower(), k)

    @functools.cached_property
    def speller(self) -> Speller:
        """Finds the close matches without scoring every word of a large vocabulary (core/spelling.py)."""
        return Speller(self.vocab)

    def word_index(self, word: str) -> int:
        """The row of ``word``, in any case and in either spelling of a clitic (``n't`` or ``nt``)."""
        w = in_vocabulary(word.lower(), self.index)
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

    # ---- state -------------------------------------------------------------------------------------------------
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
            if k not in state:
                raise ConfigError(f"{k} is missing: the network needs {', '.join(self.params)}")
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
