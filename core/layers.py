"""The layers of the network, each with everything about itself.

Every layer has ``params`` and ``grads``: two dicts of NumPy arrays with the
same keys (empty for layers without parameters). ``forward`` keeps what
``backward`` needs; ``backward(dout)`` fills ``grads`` and returns the gradient
with respect to the layer's input. Shapes are written as comments: N examples,
V words, d embedding size, H hidden units.

A layer of the model (``core.model.FourGramModel.layers``) also owns, next to
its mathematics:

* the in-place variant the fast path runs (``*_into``, ``*_inplace``: static,
  on the fast path's own buffers; see core/fast.py);
* its stages of a stepped minibatch: ``forward_stages()`` /
  ``backward_stages()`` describe them (name, title, formula, shapes) and
  ``run_forward`` / ``run_backward`` compute them, one ``yield`` per stage;
* ``tensor_specs()``: what each array it produces is (the axes, the colour
  kind, a description, the diagram box); ``box_lines()``: its box's text;
* ``entry_formula(ctx)``: one entry of an array it produces written out with
  the real operands (the window's tooltips);
* for the gradient check: ``change(x, dx)``, how its output moves when its
  input moves by ``dx``, and ``param_change``, when one parameter entry moves.

Activations are registered in one place, ``ACTIVATIONS``, through
``register_activation`` (a class decorator); everything else looks them up
with ``activation_class(name)``, which raises ConfigError for a name nobody
registered. A new activation is one subclass of ``Activation`` with
``@register_activation``: its function, its derivative (in terms of its
output ``h`` or its input ``z``), their in-place versions, and the text.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError
from .specs import (
    CONTEXT,
    FormulaContext,
    TensorSpec,
    Words,
    column_text,
    format_value,
    operand,
    shape_line,
    subscript,
    sum_text,
)

__all__ = [
    "Layer",
    "Embedding",
    "ContextEmbedding",
    "Linear",
    "Activation",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "SoftmaxCrossEntropy",
    "MomentumUpdate",
    "PairScatter",
    "StageDecl",
    "make_rng",
    "ACTIVATIONS",
    "register_activation",
    "unregister_activation",
    "registered_activation",
    "activation_class",
]


def make_rng(seed=None) -> np.random.Generator:
    """A NumPy generator from a seed, a generator (returned as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


@dataclass(frozen=True)
class StageDecl:
    """A stage as a layer declares it; the model numbers it and turns ``arrow`` into diagram coordinates.

    ``arrow``: "in" (the forward arrow into ``box``), "back_out" (the backward
    arrow leaving ``box`` for the box before it), "back_in" (the backward
    arrow reaching ``box`` from the box after it), or None.
    """

    name: str
    title: str
    formula: str
    shapes: str
    box: str
    arrow: str | None
    arrays: tuple[str, ...]
    # What the stage reads, as the formulas name it: arrays and parameters of the network ("x", "de",
    # "W_h") and size symbols ("N", "V", "d"); a learner's function for the stage takes these.
    inputs: tuple[str, ...] = ()


class Layer:
    """Base class: a layer with no parameters."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.param_names: dict[str, str] = {}  # the model's name of each parameter → its key in params

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v.shape}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"

    # What a layer of the model adds (none by default).
    def forward_stages(self) -> list[StageDecl]:
        return []

    def backward_stages(self) -> list[StageDecl]:
        return []

    def tensor_specs(self) -> list[TensorSpec]:
        return []

    def box_lines(self, sizes) -> dict[str, tuple[str | None, list[str]]]:
        """{box: (title or None, lines)} for the network diagram."""
        return {}

    def entry_formula(self, ctx: FormulaContext):
        return None

    def entry_meaning(self, name: str, index, words: Words) -> str | None:
        return None


# ---- embedding ---------------------------------------------------------------------------------


class Embedding(Layer):
    """A lookup table: row ``x`` of ``W`` for every index ``x``.

    ``forward(x)`` takes an integer array of any shape and returns that shape
    plus ``dim``. Its backward is a scatter-add: a row looked up several times
    receives the sum of all its contributions.
    """

    def __init__(self, vocab_size: int, dim: int, *, init_std: float = 0.01, rng=None, dtype=np.float64):
        super().__init__()
        rng = make_rng(rng)
        self.vocab_size, self.dim = int(vocab_size), int(dim)
        self.params["W"] = (init_std * rng.standard_normal((self.vocab_size, self.dim))).astype(dtype)
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.x: np.ndarray | None = None

    def forward(self, x) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"embedding indices must be integers, got {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= self.vocab_size):
            raise IndexError(f"embedding index out of range 0..{self.vocab_size - 1}")
        self.x = x
        return self.params["W"][x]  # x.shape + (d,)

    def backward(self, dout) -> None:
        """Scatter-add ``dout`` (shape ``x.shape + (d,)``) into ``grads['W']``: dW[x[t]] += dout[t] for every t."""
        dW = self.grads["W"]
        dW.fill(0)
        np.add.at(dW, self.x.reshape(-1), np.asarray(dout).reshape(-1, self.dim))  # (V, d)
        return None

    def contributions(self) -> dict[int, list[tuple[int, ...]]]:
        """For every row touched by the last forward: where in ``x`` it was looked up.

        Returns ``{row: [index tuple into x, ...]}`` in row-major order of ``x``;
        for a batch of shape (N, 3) the tuples are ``(example, position)`` pairs.
        The gradient of a row is the sum of ``dout[t]`` over its tuples ``t``.
        """
        x = self.x
        flat = x.reshape(-1)
        order = np.argsort(flat, kind="stable")
        rows, starts = np.unique(flat[order], return_index=True)
        ends = list(starts[1:]) + [flat.size]
        out = {}
        for row, a, b in zip(rows.tolist(), starts.tolist(), ends):
            out[row] = [tuple(int(i) for i in np.unravel_index(k, x.shape)) for k in order[a:b].tolist()]
        return out

    def naive_grad(self, dout) -> np.ndarray:
        """The gradient the overwrite bug produces (``dW[x] = dout``), without touching ``grads``.

        Fancy-index assignment writes each repeated row several times and keeps
        only one of its contributions; ``dW[x] += dout`` behaves the same way.
        """
        dW = np.zeros_like(self.params["W"])
        dW[self.x.reshape(-1)] = np.asarray(dout).reshape(-1, self.dim)
        return dW

    # ---- the fast path ----
    @staticmethod
    def lookup_into(W, x, out3) -> None:
        """out3 (N, 3, d) = W[x] for indices already checked against the table."""
        np.take(W, x, axis=0, out=out3, mode="clip")


class ContextEmbedding(Embedding):
    """The model's first layer: the three context words' rows of one table, side by side.

    ``forward(x)`` maps contexts x (N, 3) to e = [W[x₁] | W[x₂] | W[x₃]] (N, 3d);
    ``backward(de)`` takes de (N, 3d) and scatter-adds each block into its word's row.
    The model calls its table ``W_emb`` and its boxes "input" (x, t) and "embedding".
    """

    box = "embedding"
    input_box = "input"

    def __init__(self, vocab_size: int, dim: int, **kw):
        super().__init__(vocab_size, dim, **kw)
        self.param_names = {"W_emb": "W"}

    def forward(self, x) -> np.ndarray:
        x = np.asarray(x)
        return super().forward(x).reshape(x.shape[0], -1)  # (N, 3d)

    def backward(self, de) -> None:
        de = np.asarray(de)
        super().backward(de.reshape(de.shape[0], CONTEXT, self.dim))  # (N, 3, d) into dW_emb (V, d)

    def apply(self, x) -> np.ndarray:
        """e for contexts x without keeping anything."""
        x = np.asarray(x)
        return self.params["W"][x].reshape(x.shape[0], -1)

    # ---- stages ----
    def forward_stages(self):
        return [StageDecl("embed", "Embed", "e = [W_emb[x₁] | W_emb[x₂] | W_emb[x₃]]", "e: N×3d", self.box, "in",
                          ("e", "x", "t"), ("x", "W_emb"))]

    def backward_stages(self):
        return [StageDecl("embedding_gradient", "Embedding gradient",
                          "dW_emb[v] = Σ over every (n, k) with x[n,k] = v of de[n, block k]", "dW_emb: V×d",
                          self.box, None, ("dW_emb", "de"), ("x", "de", "V", "d"))]

    def run_forward(self, x, t):
        e = self.forward(x)  # (N, 3d)
        yield "embed", {"x": x, "t": t, "e": e}, {}
        return e

    def run_backward(self, de):
        self.backward(de)
        de3 = np.asarray(de).reshape(de.shape[0], CONTEXT, self.dim)
        yield "embedding_gradient", {"dW_emb": self.grads["W"], "de": de}, {
            "contributions": self.contributions(), "naive": self.naive_grad(de3)}
        return None

    def tensor_specs(self):
        return [
            TensorSpec("x", "input", ("example", "position"), ("N", str(CONTEXT)), "index",
                       "the three context words of every example", self.input_box, owner=self),
            TensorSpec("t", "input", ("example",), ("N",), "index", "the target (next) word of every example",
                       self.input_box, also=("loss",), owner=self),
            TensorSpec("W_emb", "parameter", ("word", "embed"), ("V", "d"), "signed",
                       "embedding table: one row per word", self.box, owner=self),
            TensorSpec("e", "forward", ("example", "concat"), ("N", "3d"), "signed",
                       "the embedded context: three rows of W_emb side by side", self.box, owner=self),
            TensorSpec("dW_emb", "gradient", ("word", "embed"), ("V", "d"), "signed",
                       "gradient of L with respect to W_emb (a scatter-add of de)", self.box, of="W_emb", owner=self),
        ]

    def box_lines(self, sizes):
        return {
            self.input_box: ("Input", [shape_line("x", ("N", str(CONTEXT)), sizes), "word indices",
                                       f"targets t: {sizes['N']}"]),
            self.box: ("Embedding", [shape_line("W_emb", ("V", "d"), sizes), shape_line("e", ("N", "3d"), sizes)]),
        }

    def entry_formula(self, ctx: FormulaContext):
        T, name = ctx.tensors, ctx.name
        if name == "e" and "x" in T:
            n, c = ctx.index
            W_emb = ctx.before_update("W_emb")
            if W_emb is None:
                return ctx.missing("needs W_emb as it was before this minibatch's update")
            k, i = divmod(c, self.dim)
            w = int(T["x"][n, k])
            total = float(W_emb[w, i])
            text = (f"e[n={n}, {ctx.col(c)}] = W_emb[x[{n},{k}], {i}] = W_emb[{ctx.word(w)}, {i}]\n"
                    f"= {format_value(total)}")
            return ctx.done(text, total, [(total,)])
        if name == "dW_emb" and {"de", "x"} <= T.keys():
            v, i = ctx.index
            x, de = T["x"], T["de"]
            places = [tuple(p) for p in np.argwhere(x == v).tolist()]  # (example, position), row-major like backward
            head = f"dW_emb[v={ctx.word(v)}, i={i}]"
            if not places:
                return ctx.done(f"{head} = 0\n{ctx.word(v)} is not among this minibatch's context words, "
                                "so no gradient reaches its row.", 0.0, [])
            terms = [(float(de[n, k * self.dim + i]),) for n, k in places]
            where = " + ".join(f"de[{n}, x{subscript(k + 1)}·{i}]" for n, k in places[:3])
            if len(places) > 3:
                where += " + …"
            total = 0.0
            for (term,) in terms:  # in the order backward adds them
                total += term
            text = (f"{head} = Σ over the {len(places)} place{'s' if len(places) > 1 else ''} "
                    f"(example n, position k) where {ctx.word(v)} occurs of de[n, block k, {i}]\n"
                    f"= {where}\n= {sum_text(terms)}\n= {format_value(total)}")
            return ctx.done(text, total, terms)
        return None

    def entry_meaning(self, name: str, index, words: Words) -> str | None:
        """What an entry of W_emb or e is, in words."""
        if name == "W_emb":
            return f"component {index[1]} of the word vector of {words.word(index[0])}"
        if name == "e":
            n, c = index
            which = f" (the word {words.word(words.x[n, c // self.dim])})" if words.x is not None else ""
            return f"{column_text(c, self.dim)}{which} of the input vector e of {words.example(n)}"
        return None

    # ---- the gradient check ----
    def param_change(self, local: str, index, delta: float, x) -> np.ndarray:
        """How e moves when W_emb[v, i] moves by delta: every place word v occurs, component i."""
        v, i = index
        de = np.zeros((x.shape[0], CONTEXT * self.dim))
        for k in range(CONTEXT):
            de[x[:, k] == v, k * self.dim + i] = delta
        return de


# A pair of floats viewed as one complex number: adding complex numbers adds
# both floats, so a scatter-add over pairs moves half as many elements.
_PAIR = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}
_LANE_TABLE_MAX = 1 << 22  # lane-index table entries (32 MB); bigger tables compute the indices instead


class PairScatter:
    """The fast path's embedding scatter-add: ``target[x[n, k]] += de[n, block k]``, two floats at a time.

    ``np.add.at`` on a flat index is about five times faster on pairs of
    floats (viewed as complex numbers, whose addition adds both halves) than
    on whole rows; with an odd d it adds single floats. ``target`` is a (V, d)
    array (the fast path passes the embedding's velocity, so −η·dW_emb is
    never formed). Row v of ``table`` lists the flat lanes of row v, so the
    batch's indices are one gather; embeddings too big for a table compute them.
    """

    @dataclass
    class Buffers:
        lane_index3: np.ndarray  # (N, 3, lanes) the flat lane of every (n, k, lane)
        lane_start: np.ndarray  # (N, 3, 1) first lane of each word's row (without a table)
        lane_index: np.ndarray  # lane_index3 flattened
        de_lanes: np.ndarray  # de (N, 3d) seen as lanes

    def __init__(self, target: np.ndarray):
        vocab, dim = target.shape
        self.lane_dtype = _PAIR[target.dtype] if dim % 2 == 0 else target.dtype
        self.target_lanes = target.reshape(-1).view(self.lane_dtype)  # (V·d/2,)
        self.lanes = self.target_lanes.size // vocab
        self.lane_offset = np.arange(self.lanes, dtype=np.intp)
        self.table = None
        if self.target_lanes.size <= _LANE_TABLE_MAX:
            self.table = np.arange(self.target_lanes.size, dtype=np.intp).reshape(vocab, self.lanes)

    def buffers(self, n: int, de: np.ndarray) -> "PairScatter.Buffers":
        index3 = np.empty((n, CONTEXT, self.lanes), np.intp)
        return PairScatter.Buffers(index3, np.empty((n, CONTEXT, 1), np.intp), index3.reshape(-1),
                                   de.reshape(-1).view(self.lane_dtype))

    def indices(self, x, b: "PairScatter.Buffers") -> None:
        """The flat lanes every block of this batch adds to."""
        if self.table is not None:
            np.take(self.table, x, axis=0, out=b.lane_index3, mode="clip")
        else:  # x·lanes + 0, 1, 2, ...: slower (a broadcast), but no table as big as the embedding
            np.multiply(x[:, :, None], self.lanes, out=b.lane_start)
            np.add(b.lane_start, self.lane_offset, out=b.lane_index3)

    def add(self, b: "PairScatter.Buffers") -> None:
        np.add.at(self.target_lanes, b.lane_index, b.de_lanes)  # the scatter-add, two floats at a time


# ---- linear ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearNames:
    """How the model names a linear layer's arrays and stages (see core/model.py for the rule)."""

    x: str = "x"
    z: str = "z"
    W: str = "W"
    b: str = "b"
    dx: str = "dx"
    dz: str = "dz"
    x_axis: str = "unit"
    z_axis: str = "unit"
    x_dim: str = "n_in"  # size symbols
    z_dim: str = "n_out"
    x_box: str = ""
    box: str = ""
    forward: tuple[str, str] = ("forward", "Forward")  # (stage name, title)
    weights: tuple[str, str] = ("weights", "Weights")
    back: tuple[str, str] = ("back", "Back")
    what: tuple[str, str, str] = ("pre-activation", "weights", "biases")  # descriptions of z, W and b
    x_unit: str = "unit {i}"  # an entry of x and of z in words (``Words.unit`` templates)
    z_unit: str = "unit {i}"


class Linear(Layer):
    """``y = x·W + b`` with ``W`` of shape (n_in, n_out) and ``b`` of shape (n_out,)."""

    def __init__(self, n_in: int, n_out: int, *, init_std: float = 0.01, rng=None, dtype=np.float64,
                 names: LinearNames | None = None):
        super().__init__()
        rng = make_rng(rng)
        self.params["W"] = (init_std * rng.standard_normal((int(n_in), int(n_out)))).astype(dtype)
        self.params["b"] = np.zeros(int(n_out), dtype=dtype)
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.grads["b"] = np.zeros_like(self.params["b"])
        self.x: np.ndarray | None = None
        self.names = names or LinearNames()
        self.box = self.names.box
        self.param_names = {self.names.W: "W", self.names.b: "b"}

    def forward(self, x) -> np.ndarray:
        self.x = x  # (N, n_in)
        return x @ self.params["W"] + self.params["b"]  # (N, n_out)

    def backward_params(self, dout) -> None:
        """dW = xᵀ·dout (n_in, n_out); db = Σₙ dout (n_out,)."""
        np.matmul(self.x.T, dout, out=self.grads["W"])
        np.sum(dout, axis=0, out=self.grads["b"])

    def backward_input(self, dout) -> np.ndarray:
        """dx = dout·Wᵀ (N, n_in)."""
        return dout @ self.params["W"].T

    def backward(self, dout) -> np.ndarray:
        self.backward_params(dout)
        return self.backward_input(dout)

    def apply(self, x) -> np.ndarray:
        return x @ self.params["W"] + self.params["b"]

    # ---- the fast path ----
    @staticmethod
    def forward_into(x, W, b, out) -> None:
        """out (N, n_out) = x·W + b."""
        np.matmul(x, W, out=out)
        np.add(out, b, out=out)

    @staticmethod
    def backward_into(x_T, dout, W_T, ones, dW, db, dx) -> None:
        """dW = xᵀ·dout, db = 1ᵀ·dout (Σₙ as a product), dx = dout·Wᵀ: each into its buffer."""
        np.matmul(x_T, dout, out=dW)
        np.matmul(ones, dout, out=db)
        np.matmul(dout, W_T, out=dx)

    # ---- stages ----
    def forward_stages(self):
        n = self.names
        i, o = n.x_dim, n.z_dim
        return [StageDecl(n.forward[0], n.forward[1], f"{n.z} = {n.x}·{n.W} + {n.b}",
                          f"{n.z}: N×{o} = (N×{i})·({i}×{o}) + {o}", n.box, "in", (n.z,),
                          (n.x, n.W, n.b))]

    def backward_stages(self):
        n = self.names
        i, o = n.x_dim, n.z_dim
        return [
            StageDecl(n.weights[0], n.weights[1], f"d{n.W} = {n.x}ᵀ·{n.dz},  d{n.b} = Σₙ {n.dz}",
                      f"d{n.W}: {i}×{o} = ({i}×N)·(N×{o}); d{n.b}: {o}", n.box, None, (f"d{n.W}", f"d{n.b}"), (n.x, n.dz)),
            StageDecl(n.back[0], n.back[1], f"{n.dx} = {n.dz}·{n.W}ᵀ", f"{n.dx}: N×{i} = (N×{o})·({o}×{i})",
                      n.box, "back_out", (n.dx,), (n.dz, n.W)),
        ]

    def run_forward(self, x):
        z = self.forward(x)  # (N, n_out)
        yield self.names.forward[0], {self.names.z: z}, {}
        return z

    def run_backward(self, dz):
        n = self.names
        self.backward_params(dz)  # dW (n_in, n_out), db (n_out,)
        yield n.weights[0], {f"d{n.W}": self.grads["W"], f"d{n.b}": self.grads["b"]}, {}
        dx = self.backward_input(dz)  # (N, n_in)
        yield n.back[0], {n.dx: dx}, {}
        return dx

    def tensor_specs(self):
        n = self.names
        wz, wW, wb = n.what
        grad = "gradient of L with respect to "
        return [
            TensorSpec(n.W, "parameter", (n.x_axis, n.z_axis), (n.x_dim, n.z_dim), "signed", wW, n.box, owner=self),
            TensorSpec(n.b, "parameter", (n.z_axis,), (n.z_dim,), "signed", wb, n.box, owner=self),
            TensorSpec(n.z, "forward", ("example", n.z_axis), ("N", n.z_dim), "signed", wz, n.box, owner=self),
            TensorSpec(f"d{n.W}", "gradient", (n.x_axis, n.z_axis), (n.x_dim, n.z_dim), "signed", grad + n.W,
                       n.box, of=n.W, owner=self),
            TensorSpec(f"d{n.b}", "gradient", (n.z_axis,), (n.z_dim,), "signed", grad + n.b, n.box, of=n.b,
                       owner=self),
            TensorSpec(n.dx, "gradient", ("example", n.x_axis), ("N", n.x_dim), "signed", grad + n.x, n.x_box,
                       of=n.x, owner=self),
        ]

    def box_lines(self, sizes):
        n = self.names
        return {n.box: (None, [shape_line(n.W, (n.x_dim, n.z_dim), sizes), shape_line(n.b, (n.z_dim,), sizes)])}

    def entry_formula(self, ctx: FormulaContext):
        n, T, name = self.names, ctx.tensors, ctx.name
        xa, za = n.x_axis, n.z_axis
        if name == n.z and n.x in T:
            e, j = ctx.index
            W, b = ctx.before_update(n.W), ctx.before_update(n.b)
            if W is None or b is None:
                return ctx.missing(f"needs {n.W} and {n.b} as they were before this minibatch's update")
            li, si = ctx.letter(xa)
            return ctx.product_sum(ctx.head(("example", za)), f"{si} {n.x}[{e},{li}]·{n.W}[{li},{ctx.ref(za, j)}]",
                                   T[n.x][e, :], W[:, j], bias=b[j], bias_text=f" + {n.b}[{ctx.ref(za, j)}]")
        if name == f"d{n.W}" and {n.x, n.dz} <= T.keys():
            i, j = ctx.index
            return ctx.product_sum(ctx.head((xa, za)), f"Σₙ {n.x}[n,{ctx.ref(xa, i)}]·{n.dz}[n,{ctx.ref(za, j)}]",
                                   T[n.x][:, i], T[n.dz][:, j])
        if name == f"d{n.b}" and n.dz in T:
            (j,) = ctx.index
            return ctx.column_sum(ctx.head((za,)), f"Σₙ {n.dz}[n,{ctx.ref(za, j)}]", T[n.dz][:, j])
        if name == n.dx and n.dz in T:
            e, i = ctx.index
            W = ctx.before_update(n.W)
            if W is None:
                return ctx.missing(f"needs {n.W} as it was before this minibatch's update, which has already "
                                   "changed it; step through a minibatch from its first stage to see the numbers")
            lz, sz = ctx.letter(za)
            return ctx.product_sum(ctx.head(("example", xa)),
                                   f"{sz} {n.dz}[{e},{lz}]·{n.W}[{ctx.ref(xa, i)},{lz}]   ({n.W} before the update)",
                                   T[n.dz][e, :], W[i, :])
        return None

    def entry_meaning(self, name: str, index, words: Words) -> str | None:
        """What an entry of W, b or z is, in words: "the weight from hidden unit 17 to the logit of 'day'"."""
        n = self.names
        if name == n.W:
            return f"the weight from {words.unit(n.x_unit, index[0])} to {words.unit(n.z_unit, index[1])}"
        if name == n.b:
            return f"the bias of {words.unit(n.z_unit, index[0])}"
        if name == n.z:
            unit = words.unit(n.z_unit, index[1])
            return f"{unit if n.z_axis == 'word' else 'the input of ' + unit} in {words.example(index[0])}"
        return None

    # ---- the gradient check ----
    def change(self, x, dx) -> np.ndarray:
        """How y moves when x moves by dx: dx·W (exact: y is linear in x)."""
        return dx @ self.params["W"]

    def param_change(self, local: str, index, delta: float, x) -> np.ndarray:
        """How y moves when W[i, j] (or b[j]) moves by delta: column j, by delta·x[:, i] (or delta)."""
        dy = np.zeros((x.shape[0], self.params["W"].shape[1]))
        if local == "W":
            i, j = index
            dy[:, j] = delta * x[:, i]
        else:
            dy[:, index[0]] = delta
        return dy


# ---- activations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivationNames:
    """How the model names an activation's arrays and stages (see core/model.py for the rule)."""

    z: str = "z"
    h: str = "h"
    dz: str = "dz"
    dh: str = "dh"
    dim: str = "n"  # size symbol
    box: str = ""
    tag: str = ""  # "" for the only hidden layer, else " 2" and so on (titles)
    forward: str = "activation"  # stage names
    backward: str = "through_activation"
    what: str = "activation"  # description of h
    unit: str = "unit {i}"  # a unit in words (a ``Words.unit`` template)


class Activation(Layer):
    """An element-wise non-linearity h = f(z), registered by ``name`` (see the module docstring).

    A subclass gives:

    * ``name`` (the registry key), ``symbol`` (f in formulas: "σ"),
      ``definition`` (f written out with ``{z}``, or "" when ``symbol`` says it all),
      ``derivative`` (f′ with ``{h}`` for the output and ``{z}`` for the input,
      ⊙ between factors: "{h} ⊙ (1−{h})");
    * ``apply(z)``: f, without keeping anything;
    * ``derivative_factors(z, h)``: the factors of ``derivative``, as arrays
      (their product is f′(z); the tooltips show them);
    * ``forward_inplace(a)``: a ← f(a), and ``backward_inplace(h, g, tmp)``:
      g ← g ⊙ f′(z) from the output h alone (``tmp`` is scratch of g's shape):
      what the fast path runs, which keeps only h;
    * optionally ``kind`` and ``levels`` (how h is coloured), ``kinks`` (inputs
      where f′ jumps: the gradient check steps around them), ``change(z,
      dz)``, f(z + dz) − f(z) computed without cancellation, and
      ``saturation(h)`` with ``saturation_text``: the fraction of a
      minibatch's units that pass (almost) no gradient back, and what that
      fraction counts (the gradient health view plots it; None: not measured).
    """

    name = ""
    symbol = ""
    definition = ""
    derivative = ""
    kind = "activation"
    levels: tuple[float, float] | None = None
    kinks: tuple[float, ...] = ()
    saturation_text = ""

    @staticmethod
    def saturation(h) -> float | None:
        """The fraction of units of h (N, H) that pass (almost) no gradient back; None when not defined."""
        return None

    def __init__(self, names: ActivationNames | None = None):
        super().__init__()
        self.names = names or ActivationNames()
        self.box = self.names.box
        self.z: np.ndarray | None = None
        self.out: np.ndarray | None = None

    @staticmethod
    def apply(z) -> np.ndarray:
        raise NotImplementedError

    def derivative_factors(self, z, h) -> tuple:
        raise NotImplementedError

    @staticmethod
    def forward_inplace(a) -> None:
        raise NotImplementedError

    @staticmethod
    def backward_inplace(h, g, tmp) -> None:
        raise NotImplementedError

    def forward(self, z) -> np.ndarray:
        self.z = np.asarray(z)
        self.out = self.apply(self.z)
        return self.out

    def backward(self, dout) -> np.ndarray:
        """dz = dout ⊙ f′(z)."""
        out = np.asarray(dout)
        for f in self.derivative_factors(self.z, self.out):
            out = out * f
        return out

    def change(self, z, dz) -> np.ndarray:
        """f(z + dz) − f(z) (subclasses compute it without cancellation where they can)."""
        return self.apply(z + dz) - self.apply(z)

    # ---- stages ----
    def derivative_inputs(self) -> tuple[str, ...]:
        """What the backward stage reads: dh, and h and/or z as ``derivative`` uses them."""
        n = self.names
        return (n.dh,) + tuple(k for k, tag in ((n.h, "{h}"), (n.z, "{z}")) if tag in self.derivative)

    def derivative_text(self, h: str, z: str) -> str:
        return self.derivative.format(h=h, z=z)

    def forward_stages(self):
        n = self.names
        return [StageDecl(n.forward, f"Hidden{n.tag}", f"{n.h} = {self.symbol}({n.z})", f"{n.h}: N×{n.dim}",
                          n.box, None, (n.h,), (n.z,))]

    def backward_stages(self):
        n = self.names
        return [StageDecl(n.backward, f"Through {self.symbol}{n.tag}",
                          f"{n.dz} = {n.dh} ⊙ {self.derivative_text(n.h, n.z)}", f"{n.dz}: N×{n.dim}", n.box, None,
                          (n.dz,), self.derivative_inputs())]

    def run_forward(self, z):
        h = self.forward(z)  # (N, H)
        yield self.names.forward, {self.names.h: h}, {}
        return h

    def run_backward(self, dh):
        dz = self.backward(dh)  # (N, H)
        yield self.names.backward, {self.names.dz: dz}, {}
        return dz

    def tensor_specs(self):
        n = self.names
        return [
            TensorSpec(n.h, "forward", ("example", "unit"), ("N", n.dim), self.kind, n.what, n.box,
                       levels=self.levels, owner=self),
            TensorSpec(n.dz, "gradient", ("example", "unit"), ("N", n.dim), "signed",
                       f"gradient of L with respect to {n.z}", n.box, of=n.z, owner=self),
        ]

    def box_lines(self, sizes):
        n = self.names
        return {n.box: (f"Hidden{n.tag} ({self.symbol})", [shape_line((n.z, n.h), ("N", n.dim), sizes)])}

    def entry_formula(self, ctx: FormulaContext):
        n, T, name = self.names, ctx.tensors, ctx.name
        if name == n.h and n.z in T:
            e, j = ctx.index
            zv = float(T[n.z][e, j])
            total = float(self.apply(np.array([zv]))[0])
            head = f"{ctx.head(('example', 'unit'))} = {self.symbol}({n.z}[{e},{j}])"
            if self.definition:
                head += f" = {self.definition.format(z=n.z)}"
                numbers = self.definition.format(z=operand(zv))
            else:
                numbers = f"{self.symbol}({operand(zv)})"
            return ctx.done(f"{head}\n= {numbers}\n= {format_value(total)}", total, [(zv,)])
        if name == n.dz and n.dh in T:
            e, j = ctx.index
            needs = [k for k, used in ((n.h, "{h}" in self.derivative), (n.z, "{z}" in self.derivative)) if used]
            if any(k not in T for k in needs):
                return ctx.missing(f"needs {', '.join(needs)}")
            g = float(T[n.dh][e, j])
            hv = float(T[n.h][e, j]) if n.h in T else float("nan")
            zv = float(T[n.z][e, j]) if n.z in T else float("nan")
            factors = tuple(float(np.asarray(f).reshape(-1)[0]) for f in
                            self.derivative_factors(np.array([zv]), np.array([hv])))
            total = g
            for f in factors:
                total *= f
            symbolic = self.derivative_text(f"{n.h}[{e},{j}]", f"{n.z}[{e},{j}]").replace(" ⊙ ", "·")
            numbers = self.derivative_text(operand(hv), operand(zv)).replace(" ⊙ ", "·")
            text = (f"{ctx.head(('example', 'unit'))} = {n.dh}[{e},{j}]·{symbolic}\n= {operand(g)}·{numbers}\n"
                    f"= {format_value(total)}")
            return ctx.done(text, total, [(g, *factors)])
        return None


    def entry_meaning(self, name: str, index, words: Words) -> str | None:
        if name == self.names.h:
            return f"the output of {words.unit(self.names.unit, index[1])} in {words.example(index[0])}"
        return None


ACTIVATIONS: dict[str, type[Activation]] = {}


def register_activation(cls: type[Activation]) -> type[Activation]:
    """Add an activation class to ``ACTIVATIONS`` under ``cls.name`` (a class decorator)."""
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name or not issubclass(cls, Activation):
        raise ValueError(f"{cls!r} is not an Activation with a name")
    if ACTIVATIONS.get(name, cls) is not cls:
        raise ValueError(f"an activation called {name!r} is already registered")
    ACTIVATIONS[name] = cls
    return cls


def unregister_activation(name: str) -> None:
    activation_class(name)  # raises for a name nobody registered
    del ACTIVATIONS[name]


@contextmanager
def registered_activation(cls: type[Activation]):
    """``with registered_activation(Softplus): ...``: registered inside the block only."""
    register_activation(cls)
    try:
        yield cls
    finally:
        ACTIVATIONS.pop(cls.name, None)


def activation_class(name) -> type[Activation]:
    """The registered activation called ``name``; ConfigError for any other name."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {name!r}") from None


def _tanh_change(a, d) -> np.ndarray:
    """tanh(a + d) − tanh(a) = sinh d / (cosh(a + d)·cosh a): full relative precision even for a tiny d."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.sinh(d) / (np.cosh(a + d) * np.cosh(a))
    bad = ~np.isfinite(out)
    if bad.any():  # cosh overflowed far out on the flat tails: subtract directly
        out[bad] = np.tanh(a + d)[bad] - np.tanh(a)[bad]
    return out


@register_activation
class Sigmoid(Activation):
    """The logistic function σ(z) = 1/(1+e⁻ᶻ); σ' = σ(1−σ)."""

    name = "sigmoid"
    symbol = "σ"
    definition = "1/(1 + exp(−{z}))"
    derivative = "{h} ⊙ (1−{h})"
    levels = (0.0, 1.0)
    saturation_text = "outputs beyond 0.99 of σ's range (below 0.005 or above 0.995), where σ′ < 0.005"

    @staticmethod
    def saturation(h) -> float:
        h = np.asarray(h)
        return float(np.count_nonzero(np.abs(h - 0.5) > 0.495)) / h.size

    @staticmethod
    def apply(z) -> np.ndarray:
        """σ(z) without keeping anything for backward.

        With u = e^(−|z|) ≤ 1 nothing overflows: σ(z) = 1/(1+u) for z ≥ 0 and
        u/(1+u) for z < 0. Both keep full relative precision, also far out on
        the negative side where 1 − σ(−z) would cancel to 0.
        """
        z = np.asarray(z)
        u = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0, u) / (1.0 + u)

    def backward(self, dout) -> np.ndarray:
        h = self.out
        return dout * h * (1.0 - h)

    def derivative_factors(self, z, h):
        return h, 1.0 - h

    @staticmethod
    def forward_inplace(a) -> None:
        """σ(z) = ½·(1 + tanh(z/2)), which never overflows."""
        np.multiply(a, 0.5, out=a)
        np.tanh(a, out=a)
        np.multiply(a, 0.5, out=a)
        np.add(a, 0.5, out=a)

    @staticmethod
    def backward_inplace(h, g, tmp) -> None:
        """g ← g ⊙ h ⊙ (1 − h)."""
        np.subtract(1, h, out=tmp)
        np.multiply(tmp, h, out=tmp)
        np.multiply(g, tmp, out=g)

    def change(self, z, dz) -> np.ndarray:
        """σ(z + dz) − σ(z), through σ(z) = (1 + tanh(z/2))/2 and the tanh identity (no cancellation)."""
        return 0.5 * _tanh_change(0.5 * z, 0.5 * dz)


@register_activation
class Tanh(Activation):
    """tanh(z); tanh' = 1 − tanh²."""

    name = "tanh"
    symbol = "tanh"
    derivative = "(1 − {h}²)"
    kind = "signed"
    levels = (-1.0, 1.0)
    saturation_text = "outputs beyond 0.99 of tanh's range (|h| > 0.99), where tanh′ < 0.02"

    @staticmethod
    def saturation(h) -> float:
        h = np.asarray(h)
        return float(np.count_nonzero(np.abs(h) > 0.99)) / h.size

    @staticmethod
    def apply(z) -> np.ndarray:
        """tanh(z) without keeping anything for backward."""
        return np.tanh(z)

    def backward(self, dout) -> np.ndarray:
        return dout * (1.0 - self.out * self.out)

    def derivative_factors(self, z, h):
        return (1.0 - h * h,)

    @staticmethod
    def forward_inplace(a) -> None:
        np.tanh(a, out=a)

    @staticmethod
    def backward_inplace(h, g, tmp) -> None:
        """g ← g ⊙ (1 − h²)."""
        np.multiply(h, h, out=tmp)
        np.subtract(1, tmp, out=tmp)
        np.multiply(g, tmp, out=g)

    def change(self, z, dz) -> np.ndarray:
        return _tanh_change(z, dz)


@register_activation
class ReLU(Activation):
    """max(0, z); its derivative is 1 where z > 0, else 0."""

    name = "relu"
    symbol = "ReLU"
    definition = "max(0, {z})"
    derivative = "[{z} > 0]"
    kinks = (0.0,)
    saturation_text = "dead units: 0 for every example of the minibatch, so no gradient passes them"

    @staticmethod
    def saturation(h) -> float:
        h = np.asarray(h)
        return 1.0 - float(np.count_nonzero(h.any(axis=0))) / h.shape[1]

    @staticmethod
    def apply(z) -> np.ndarray:
        """max(0, z) without keeping anything for backward."""
        z = np.asarray(z)
        return np.where(z > 0, z, 0).astype(z.dtype, copy=False)

    def backward(self, dout) -> np.ndarray:
        return dout * (self.z > 0)

    def derivative_factors(self, z, h):
        return ((np.asarray(z) > 0).astype(np.float64),)

    @staticmethod
    def forward_inplace(a) -> None:
        np.maximum(a, 0, out=a)

    @staticmethod
    def backward_inplace(h, g, tmp) -> None:
        """g ← g ⊙ [z > 0], and z > 0 exactly where h > 0."""
        np.greater(h, 0, out=tmp)
        np.multiply(g, tmp, out=g)

    def change(self, z, dz) -> np.ndarray:
        return np.maximum(z + dz, 0.0) - np.maximum(z, 0.0)


# ---- softmax and cross-entropy ---------------------------------------------------------------------


_SUM_LO, _SUM_HI = 1e-30, 1e30  # Σ exp(z_o) of every row within these: the fast path needs no shift


class SoftmaxCrossEntropy(Layer):
    """Row-wise softmax followed by the mean cross-entropy against integer targets.

    ``forward(logits, targets)`` returns L = −(1/N) Σₙ log p[n, tₙ], computed
    through log-sum-exp (the row maximum is subtracted first, so nothing
    overflows); it keeps ``p``. ``backward()`` returns (p − onehot)/N.
    In the model its arrays are z_o (its input), p, loss_n and dz_o, in the
    boxes "output" and "loss".
    """

    box = "output"
    loss_box = "loss"

    def forward(self, logits, targets) -> float:
        z = np.asarray(logits)  # (N, V)
        t = np.asarray(targets)
        if z.ndim != 2:
            raise ValueError(f"logits must be 2-D (N, V), got shape {z.shape}")
        if t.shape != (z.shape[0],) or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"targets must be {z.shape[0]} integers, got {t.dtype} {t.shape}")
        if t.size and (t.min() < 0 or t.max() >= z.shape[1]):
            raise IndexError(f"target out of range 0..{z.shape[1] - 1}")
        shifted = z - z.max(axis=1, keepdims=True)  # (N, V), every row's max is 0
        log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, 1)
        log_p = shifted - log_norm  # (N, V)
        self.p = np.exp(log_p)  # (N, V)
        self.targets = t
        self.loss = float(-log_p[np.arange(t.size), t].mean())
        return self.loss

    def backward(self, dout: float = 1.0) -> np.ndarray:
        n = self.targets.size
        dz = self.p.copy()  # (N, V)
        dz[np.arange(n), self.targets] -= 1.0
        dz *= dout / n
        return dz

    # ---- the fast path: softmax without the row shift, the learning rate folded into the output error ----
    @staticmethod
    def exp_logits_into(z, z_flat, t_flat, z_t, ones_V, row_sum) -> bool:
        """z ← exp(z), z_t = z[n, tₙ] before that, row_sum = Σ exp; False when a sum is outside [1e-30, 1e30].

        Softmax is the same for any shift of a row, and exp(z) unshifted is
        safe while every row's Σ exp stays in that range (logits within about
        ±69); outside it (or NaN) the caller shifts (``shifted_exp_into``).
        """
        np.take(z_flat, t_flat, out=z_t, mode="clip")  # z_o[n, tₙ]
        np.exp(z, out=z)  # may overflow: then the check fails
        np.matmul(z, ones_V, out=row_sum)  # Σ exp
        return bool(_SUM_LO < np.minimum.reduce(row_sum) and np.maximum.reduce(row_sum) < _SUM_HI)  # also NaN

    @staticmethod
    def shifted_exp_into(z, z_flat, t_flat, z_t, ones_V, row_sum, row_max, row_max_col) -> None:
        """The same from logits z (computed again by the caller), each row shifted by its maximum first."""
        np.fmax.reduce(z, axis=1, out=row_max)  # (fmax skips NaN, which reaches the loss anyway)
        np.subtract(z, row_max_col, out=z)  # every row's max is now 0
        np.take(z_flat, t_flat, out=z_t, mode="clip")
        np.exp(z, out=z)
        np.matmul(z, ones_V, out=row_sum)

    @staticmethod
    def cross_entropy_sum(row_sum, z_t, ce) -> float:
        """Σₙ −log p[n, tₙ] = Σₙ (log Σ exp − z_t), z_t shifted as the exponentials were."""
        np.log(row_sum, out=ce)
        np.subtract(ce, z_t, out=ce)
        return float(np.add.reduce(ce))

    @staticmethod
    def scaled_error_into(z, z_flat, t_flat, row_sum, row_sum_col, scale: float) -> None:
        """z (holding exp) ← −η·dz_o = −η·(p − Y)/N with scale = η/N; Y one-hot, added at the targets."""
        np.divide(-scale, row_sum, out=row_sum)  # −η/(N·Σ exp), per row
        np.multiply(z, row_sum_col, out=z)
        z_flat[t_flat] += scale

    # ---- stages ----
    def forward_stages(self):
        return [
            StageDecl("softmax", "Softmax", "p = softmax(z_o), row by row (row max subtracted first)", "p: N×V",
                      self.box, None, ("p", "t"), ("z_o",)),
            StageDecl("loss", "Loss", "L = −(1/N) Σₙ log p[n, tₙ]", "L: scalar; −log p[n, tₙ]: N", self.loss_box,
                      "in", ("loss_n",), ("p", "t", "N")),
        ]

    def backward_stages(self):
        return [StageDecl("output_error", "Output error", "dz_o = (p − Y)/N   (Y: one-hot targets)", "dz_o: N×V",
                          self.box, "back_in", ("dz_o",), ("p", "t", "N"))]

    def run_forward(self, z, t):
        loss = self.forward(z, t)
        p = self.p  # (N, V)
        yield "softmax", {"p": p, "t": t}, {}
        loss_n = -np.log(np.maximum(p[np.arange(len(t)), t], np.finfo(p.dtype).tiny))  # (N,)
        yield "loss", {"loss_n": loss_n}, {"extras": {"L": loss}}
        return loss

    def run_backward(self):
        dz = self.backward()  # (N, V)
        yield "output_error", {"dz_o": dz}, {}
        return dz

    def tensor_specs(self):
        return [
            TensorSpec("p", "forward", ("example", "word"), ("N", "V"), "probability",
                       "probability of every next word", self.box, levels=(0.0, 1.0), owner=self),
            TensorSpec("loss_n", "forward", ("example",), ("N",), "activation", "loss of each example, −log p[n, tₙ]",
                       self.loss_box, owner=self),
            TensorSpec("dz_o", "gradient", ("example", "word"), ("N", "V"), "signed",
                       "gradient of L with respect to the logits", self.box, of="z_o", owner=self),
        ]

    def box_lines(self, sizes):
        return {self.box: ("Output (softmax)", [shape_line(("z_o", "p"), ("N", "V"), sizes)]),
                self.loss_box: ("Loss", ["L = −mean log p[n, tₙ]"])}

    def entry_formula(self, ctx: FormulaContext):
        T, name = ctx.tensors, ctx.name
        if name == "dz_o" and {"p", "t"} <= T.keys():
            n, v = ctx.index
            N = T["p"].shape[0]
            pv = float(T["p"][n, v])
            y = 1.0 if int(T["t"][n]) == v else 0.0
            total = (pv - y) * (1.0 / N)
            text = (f"dz_o[n={n}, v={ctx.word(v)}] = (p[{n},{ctx.word(v)}] − [v = t[{n}]])/N"
                    f"   (t[{n}] = {ctx.word(int(T['t'][n]))})\n= ({operand(pv)} − {int(y)})/{N}\n"
                    f"= {format_value(total)}")
            return ctx.done(text, total, [(pv, y, float(N))])
        if name == "p" and "z_o" in T:
            n, v = ctx.index
            row = T["z_o"][n, :]
            m = float(row.max())
            denom = float(np.exp(row - m).sum())
            z = float(row[v])
            total = float(np.exp(z - m)) / denom
            text = (f"p[n={n}, v={ctx.word(v)}] = exp(z_o[{n},{ctx.word(v)}] − m) / Σᵤ exp(z_o[{n},u] − m),"
                    f"   m = maxᵤ z_o[{n},u] = {operand(m)} ({ctx.word(int(row.argmax()))})\n"
                    f"= exp({operand(z)} − {operand(m)}) / {operand(denom, 6)}   (the sum has {row.size} terms)\n"
                    f"= {format_value(total)}")
            return ctx.done(text, total, [(z, m, denom)])
        if name == "loss_n" and {"p", "t"} <= T.keys():
            (n,) = ctx.index
            tn = int(T["t"][n])
            pv = float(T["p"][n, tn])
            total = float(-np.log(max(pv, np.finfo(np.float64).tiny)))
            text = (f"loss_n[{n}] = −log p[{n}, t] with t = {ctx.word(tn)}\n= −log {operand(pv, 6)}\n"
                    f"= {format_value(total)}")
            return ctx.done(text, total, [(pv,)])
        return None


# ---- the update ---------------------------------------------------------------------------------------


class MomentumUpdate:
    """The last stage: v ← μ·v − η·∇;  θ ← θ + v on every parameter; its arrays are the changes Δθ (= v).

    ``params`` are the parameters' specs, in the model's order; ``box`` is the
    diagram box the stage is shown in.
    """

    box = "embedding"

    def __init__(self, params: list[TensorSpec]):
        self.params = list(params)

    def apply(self, params, grads, velocity, learning_rate: float, momentum: float) -> None:
        for name, theta in params.items():
            v = velocity[name]
            v *= momentum
            v -= learning_rate * grads[name]
            theta += v

    def stage(self) -> StageDecl:
        shapes = "; ".join(f"Δ{s.name}: {s.shape_text}" for s in self.params)
        return StageDecl("update", "Update", "v ← μ·v − η·∇;  θ ← θ + v   (every parameter)", shapes, self.box, None,
                         tuple(f"Δ{s.name}" for s in self.params))

    def run(self, model, learning_rate: float, momentum: float):
        model.apply_update(learning_rate, momentum)
        yield "update", {"Δ" + k: v for k, v in model.velocity.items()}, {
            "extras": {"learning_rate": learning_rate, "momentum": momentum}}

    def tensor_specs(self):
        return [TensorSpec(f"Δ{s.name}", "update", s.axes, s.dims, "signed",
                           f"this step's change of {s.name} (the new velocity v)", s.box, of=s.name, owner=self)
                for s in self.params]

    def entry_formula(self, ctx: FormulaContext):
        name = ctx.name
        p = name[1:]
        g = ctx.tensors.get("d" + p)
        if g is None or ctx.velocity is None or p not in ctx.velocity or not ctx.extras:
            return ctx.missing("needs the velocity from before the update (step through the minibatch from its start)")
        mu, lr = float(ctx.extras["momentum"]), float(ctx.extras["learning_rate"])
        index = ctx.index
        vp, gv = float(ctx.velocity[p][index]), float(g[index])
        total = mu * vp - lr * gv
        where = ", ".join(str(i) for i in index)
        text = (f"{name}[{where}] = μ·v[{where}] − η·d{p}[{where}]   (v: the velocity before this step)\n"
                f"= {operand(mu)}·{operand(vp)} − {operand(lr)}·{operand(gv)}\n= {format_value(total)}")
        return ctx.done(text, total, [(mu, vp), (lr, gv)])

