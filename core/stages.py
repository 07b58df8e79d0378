"""One minibatch as a fixed sequence of named stages.

``run_stages(model, x, t)`` is a generator: each ``next()`` computes one stage
of DESIGN.md's table and yields a :class:`Stage` carrying its name, its formula
with the shapes written out, and read-only copies of the arrays it produced. A
viewer can stop between any two stages and can never change the network. The
last stage applies the momentum update.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DivergenceError
from .model import CONTEXT, FourGramModel

# name, title, formula (with {act} for the activation), shape template
STAGE_TABLE = (
    ("embed", "Embed", "e = [W_emb[x₁] | W_emb[x₂] | W_emb[x₃]]", "e: N×3d"),
    ("hidden_input", "Hidden input", "z_h = e·W_h + b_h", "z_h: N×H = (N×3d)·(3d×H) + H"),
    ("hidden", "Hidden", "h = {act}(z_h)", "h: N×H"),
    ("logits", "Logits", "z_o = h·W_o + b_o", "z_o: N×V = (N×H)·(H×V) + V"),
    ("softmax", "Softmax", "p = softmax(z_o), row by row (row max subtracted first)", "p: N×V"),
    ("loss", "Loss", "L = −(1/N) Σₙ log p[n, tₙ]", "L: scalar; −log p[n, tₙ]: N"),
    ("output_error", "Output error", "dz_o = (p − Y)/N   (Y: one-hot targets)", "dz_o: N×V"),
    ("output_weights", "Output weights", "dW_o = hᵀ·dz_o,  db_o = Σₙ dz_o", "dW_o: H×V = (H×N)·(N×V); db_o: V"),
    ("back_to_hidden", "Back to hidden", "dh = dz_o·W_oᵀ", "dh: N×H = (N×V)·(V×H)"),
    ("through_activation", "Through {act}", "dz_h = dh ⊙ {deriv}", "dz_h: N×H"),
    ("hidden_weights", "Hidden weights", "dW_h = eᵀ·dz_h,  db_h = Σₙ dz_h", "dW_h: 3d×H = (3d×N)·(N×H); db_h: H"),
    ("back_to_embeddings", "Back to embeddings", "de = dz_h·W_hᵀ", "de: N×3d = (N×H)·(H×3d)"),
    (
        "embedding_gradient",
        "Embedding gradient",
        "dW_emb[v] = Σ over every (n, k) with x[n,k] = v of de[n, block k]",
        "dW_emb: V×d",
    ),
    (
        "update",
        "Update",
        "v ← μ·v − η·∇;  θ ← θ + v   (every parameter)",
        "ΔW_emb: V×d; ΔW_h: 3d×H; Δb_h: H; ΔW_o: H×V; Δb_o: V",
    ),
)
STAGE_NAMES = tuple(row[0] for row in STAGE_TABLE)
N_STAGES = len(STAGE_TABLE)

_ACT_SYMBOL = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU"}
_ACT_DERIV = {"sigmoid": "h ⊙ (1−h)", "tanh": "(1 − h²)", "relu": "[z_h > 0]"}

# What the axes of each array mean, for labels: "example" (n), "position"
# (k = 1..3), "word" (a vocabulary index), "embed" (i of d), "concat" (a column
# of e: position k, component i), "unit" (j of H).
AXES = {
    "x": ("example", "position"),
    "t": ("example",),
    "e": ("example", "concat"),
    "z_h": ("example", "unit"),
    "h": ("example", "unit"),
    "z_o": ("example", "word"),
    "p": ("example", "word"),
    "loss_n": ("example",),
    "dz_o": ("example", "word"),
    "dW_o": ("unit", "word"),
    "db_o": ("word",),
    "dh": ("example", "unit"),
    "dz_h": ("example", "unit"),
    "dW_h": ("concat", "unit"),
    "db_h": ("unit",),
    "de": ("example", "concat"),
    "dW_emb": ("word", "embed"),
    "W_emb": ("word", "embed"),
    "W_h": ("concat", "unit"),
    "b_h": ("unit",),
    "W_o": ("unit", "word"),
    "b_o": ("word",),
    "ΔW_emb": ("word", "embed"),
    "ΔW_h": ("concat", "unit"),
    "Δb_h": ("unit",),
    "ΔW_o": ("unit", "word"),
    "Δb_o": ("word",),
}

# How each array should be coloured: "index" (word indices), "activation"
# (sequential), "probability" (sequential, 0..1), "signed" (diverging around 0:
# pre-activations, gradients, weights, updates).
KINDS = {
    "x": "index",
    "t": "index",
    "e": "signed",
    "z_h": "signed",
    "h": "activation",
    "z_o": "signed",
    "p": "probability",
    "loss_n": "activation",
}


# The boxes of the network diagram and the arrays that belong to each: its
# parameters, what it computes forward, and the gradients that come back through it.
LAYER_TENSORS = {
    "input": ("x", "t"),
    "embedding": ("W_emb", "e", "de", "dW_emb", "ΔW_emb"),
    "hidden": ("W_h", "b_h", "z_h", "h", "dh", "dz_h", "dW_h", "db_h", "ΔW_h", "Δb_h"),
    "output": ("W_o", "b_o", "z_o", "p", "dz_o", "dW_o", "db_o", "ΔW_o", "Δb_o"),
    "loss": ("t", "loss_n"),
}
# Which box each stage belongs to (for highlighting the current stage).
STAGE_LAYER = {
    "embed": "embedding",
    "hidden_input": "hidden",
    "hidden": "hidden",
    "logits": "output",
    "softmax": "output",
    "loss": "loss",
    "output_error": "output",
    "output_weights": "output",
    "back_to_hidden": "output",
    "through_activation": "hidden",
    "hidden_weights": "hidden",
    "back_to_embeddings": "hidden",
    "embedding_gradient": "embedding",
    "update": "embedding",
}


def array_kind(name: str) -> str:
    """"index", "activation", "probability" or "signed" (everything else: gradients, weights, updates)."""
    return KINDS.get(name, "signed")


def is_gradient(name: str) -> bool:
    return name.startswith("d") or name.startswith("Δ")


@dataclass(frozen=True)
class Stage:
    """One computed stage of a minibatch.

    ``arrays`` maps names (``"z_h"``, ``"dW_o"``, ...) to read-only arrays;
    ``axes`` gives the meaning of each array's axes (see ``AXES``);
    ``shapes`` is the shape formula with the numbers filled in.
    """

    index: int  # 0 .. N_STAGES-1
    name: str
    title: str
    formula: str
    shapes: str
    arrays: dict[str, np.ndarray]
    axes: dict[str, tuple[str, ...]]
    loss: float | None = None  # set from the loss stage on
    contributions: dict[int, list[tuple[int, int]]] | None = None  # embedding-gradient stage only
    naive: np.ndarray | None = None  # embedding-gradient stage only: what dW_emb[x] = de would give
    batch: int = 0  # global minibatch number (0-based) this stage belongs to
    extras: dict = field(default_factory=dict)

    @property
    def is_backward(self) -> bool:
        return self.index >= STAGE_NAMES.index("output_error")


def stage_text(index: int, activation: str) -> tuple[str, str, str, str]:
    """(name, title, formula, shape template) of stage ``index`` for this activation."""
    name, title, formula, shapes = STAGE_TABLE[index]
    act = _ACT_SYMBOL[activation]
    return name, title.format(act=act), formula.format(act=act, deriv=_ACT_DERIV[activation]), shapes


def fill_shapes(template: str, n: int, d: int, h: int, v: int) -> str:
    """Write the numbers into a shape template: 'N×3d' → 'N×3d = 100×150'."""
    sizes = {"N": n, "3d": CONTEXT * d, "d": d, "H": h, "V": v}

    def number(tok: str) -> str:
        out = tok
        for sym in ("3d", "N", "H", "V", "d"):
            out = out.replace(sym, f"\0{sizes[sym]}\1")
        return out.replace("\0", "").replace("\1", "")

    parts = []
    for piece in template.split(";"):
        piece = piece.strip()
        if ":" in piece:
            label, shape = piece.split(":", 1)
            shape = shape.strip()
            if any(ch.isupper() or ch == "d" for ch in shape) and shape not in ("scalar",):
                parts.append(f"{label}: {shape} = {number(shape)}")
            else:
                parts.append(piece)
        else:
            parts.append(piece)
    return ";  ".join(parts)


def _frozen(a) -> np.ndarray:
    out = np.array(a, copy=True)
    out.flags.writeable = False
    return out


def run_stages(model: FourGramModel, x, t, *, learning_rate=None, momentum=None, batch: int = 0, check_finite=True):
    """Generator of the 14 stages of one minibatch on ``model`` (float64 in the window).

    ``learning_rate`` and ``momentum`` may be callables, read when the update
    stage runs (so a change made while stepping applies to this batch).
    """
    x = np.asarray(x)
    t = np.asarray(t)
    n = x.shape[0]
    c = model.config
    d, H, V = c.embed_dim, c.hidden_dim, model.vocab_size
    act = c.activation
    loss_value = None

    def make(index, arrays, **kw):
        name, title, formula, shapes = stage_text(index, act)
        frozen = {k: _frozen(v) for k, v in arrays.items()}
        if check_finite:
            for k, v in frozen.items():
                if v.dtype.kind == "f" and not np.isfinite(v).all():
                    raise DivergenceError(
                        f"{k} has non-finite values at stage '{title}'",
                        where=k,
                        batch=batch,
                    )
        return Stage(
            index=index,
            name=name,
            title=title,
            formula=formula,
            shapes=fill_shapes(shapes, n, d, H, V),
            arrays=frozen,
            axes={k: AXES[k] for k in frozen},
            loss=loss_value,
            batch=batch,
            **kw,
        )

    # ---- forward ------------------------------------------------------------------
    e = model.embedding.forward(x).reshape(n, CONTEXT * d)  # (N, 3d)
    yield make(0, {"x": x, "t": t, "e": e})
    z_h = model.hidden.forward(e)  # (N, H)
    yield make(1, {"z_h": z_h})
    h = model.activation.forward(z_h)  # (N, H)
    yield make(2, {"h": h})
    z_o = model.output.forward(h)  # (N, V)
    yield make(3, {"z_o": z_o})
    loss_value = model.loss_layer.forward(z_o, t)
    p = model.loss_layer.p  # (N, V)
    yield make(4, {"p": p, "t": t})
    loss_n = -np.log(np.maximum(p[np.arange(n), t], np.finfo(p.dtype).tiny))  # (N,)
    if check_finite and not np.isfinite(loss_value):
        raise DivergenceError(f"the loss became {loss_value}", "L", batch)
    yield make(5, {"loss_n": loss_n}, extras={"L": loss_value})

    # ---- backward -----------------------------------------------------------------
    dz_o = model.loss_layer.backward()  # (N, V)
    yield make(6, {"dz_o": dz_o})
    model.output.backward_params(dz_o)  # dW_o (H, V), db_o (V,)
    yield make(7, {"dW_o": model.grads["W_o"], "db_o": model.grads["b_o"]})
    dh = model.output.backward_input(dz_o)  # (N, H)
    yield make(8, {"dh": dh})
    dz_h = model.activation.backward(dh)  # (N, H)
    yield make(9, {"dz_h": dz_h})
    model.hidden.backward_params(dz_h)  # dW_h (3d, H), db_h (H,)
    yield make(10, {"dW_h": model.grads["W_h"], "db_h": model.grads["b_h"]})
    de = model.hidden.backward_input(dz_h)  # (N, 3d)
    yield make(11, {"de": de})
    de3 = de.reshape(n, CONTEXT, d)  # (N, 3, d)
    model.embedding.backward(de3)  # scatter-add into dW_emb (V, d)
    yield make(
        12,
        {"dW_emb": model.grads["W_emb"], "de": de},
        contributions=model.embedding.contributions(),
        naive=_frozen(model.embedding.naive_grad(de3)),
    )

    # ---- update -------------------------------------------------------------------
    lr = learning_rate() if callable(learning_rate) else learning_rate
    mu = momentum() if callable(momentum) else momentum
    model.apply_update(lr, mu)
    deltas = {"Δ" + k: v for k, v in model.velocity.items()}
    yield make(13, deltas, extras={"learning_rate": lr if lr is not None else c.learning_rate,
                                   "momentum": mu if mu is not None else c.momentum})
