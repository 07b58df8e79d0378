"""What the network's arrays, stages and diagram boxes are, as data, and the text helpers of their formulas.

The layers (core/layers.py) describe everything they produce with these
records; the model collects them into its registries:

* ``TensorSpec``: one named array (a parameter, an array of the forward
  pass, a gradient, an update): the meaning of its axes, its size symbols,
  how to colour it, a description, and the diagram box it belongs to.
* ``StageSpec``: one stage of a stepped minibatch: its name, title, formula,
  shape template, box and the arrow of the diagram it sends its result along.
* ``BoxSpec``: one box of the network diagram: its title, its text lines, its
  arrays, and the arrays on the arrows that leave it forward and reach it back.
* ``EntryFormula``: one entry of an array written out as its formula with the
  real operands (the tooltips); ``FormulaContext`` holds what such a formula
  may read.

Axis names: "example" (n of N), "position" (k = 1..3 of the context),
"word" (a vocabulary index), "embed" (i of d), "concat" (a column of e:
position k, component i), "unit" (a unit j of a hidden layer). Colour kinds:
"index" (word indices), "activation" (sequential), "probability"
(sequential, 0..1), "signed" (diverging around 0). Size symbols: "N" (the
batch size), "d", "3d", "V", and "H" (one hidden layer) or "H₁", "H₂", ...
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

CONTEXT = 3  # words in, one word out

ROLES = ("input", "parameter", "forward", "gradient", "update")
# Colour kind → how an array of that kind is coloured, in words.
KINDS = {
    "signed": "diverging colours: white = 0, red > 0, blue < 0",
    "activation": "sequential colours from 0",
    "probability": "sequential colours, 0 to 1",
    "index": "word indices, shown as words",
}
# Axis name → (its title on a heatmap's axis, its short label next to an index picker).
AXES = {
    "example": ("example n", "example n"),
    "position": ("context position k", "position k"),
    "word": ("word v", "word v"),
    "embed": ("embedding component i", "component i"),
    "concat": ("column of e: position k · component i", "column c"),
    "unit": ("hidden unit j", "unit j"),
}


def axis_title(axis: str, *, short: bool = False) -> str:
    """How an axis is named on screen (``AXES``); KeyError for a name that is not an axis."""
    try:
        return AXES[axis][1 if short else 0]
    except KeyError:
        raise KeyError(f"no axis called {axis!r}: one of {', '.join(AXES)}") from None


@dataclass(frozen=True)
class TensorSpec:
    """One named array of the network (see the module docstring for the vocabularies)."""

    name: str
    role: str  # one of ROLES
    axes: tuple[str, ...]
    dims: tuple[str, ...]  # size symbols, e.g. ("N", "3d"); () for a scalar
    kind: str  # one of KINDS
    description: str
    box: str  # the diagram box that lists it
    of: str | None = None  # a gradient or an update: the array it is the gradient or the change of
    levels: tuple[float, float] | None = None  # a natural colour range (σ: 0..1), or None
    also: tuple[str, ...] = ()  # other boxes that list it too
    owner: object = field(default=None, compare=False, repr=False)  # the layer that computes it

    def __post_init__(self):
        for what, value, known in (("role", self.role, ROLES), ("colour kind", self.kind, KINDS)):
            if value not in known:
                raise ValueError(f"{self.name}: no {what} called {value!r}: one of {', '.join(known)}")
        for axis in self.axes:
            if axis not in AXES:
                raise ValueError(f"{self.name}: no axis called {axis!r}: one of {', '.join(AXES)}")
        if len(self.axes) != len(self.dims):
            raise ValueError(f"{self.name}: {len(self.axes)} axes for {len(self.dims)} sizes")

    @property
    def shape_text(self) -> str:
        """'N×3d', 'H', or 'scalar'."""
        return "×".join(self.dims) or "scalar"

    def shape(self, sizes: dict[str, int]) -> tuple[int, ...]:
        """The shape for the sizes given (``sizes["N"]`` is the batch size)."""
        return tuple(int(sizes[s]) if s in sizes else int(s) for s in self.dims)


@dataclass(frozen=True)
class StageSpec:
    """One stage of a minibatch, as the model's layer list generates it."""

    index: int
    name: str
    title: str
    formula: str
    shapes: str  # template: 'z_h: N×H = (N×3d)·(3d×H) + H' (``fill_shapes`` writes the numbers in)
    box: str  # the diagram box it belongs to
    arrow: tuple[str, int] | None  # ("fwd", i): from box i to box i+1; ("bwd", i): from box i+1 back to box i
    backward: bool
    arrays: tuple[str, ...] = ()  # what it produces, the main array first
    inputs: tuple[str, ...] = ()  # what it reads: arrays, parameters and size symbols (``StageDecl.inputs``)


@dataclass(frozen=True)
class BoxSpec:
    """One box of the network diagram, in the order the boxes are drawn."""

    key: str  # "input", "embedding", "hidden" (or "hidden_1", ...), "output", "loss"
    title: str
    lines: tuple[str, ...]  # its parameters and arrays with their shapes, for the current sizes
    tensors: tuple[str, ...]  # the arrays it lists, in the registry's order
    sends: str = ""  # the array on the forward arrow to the next box
    receives: str = ""  # the gradient on the backward arrow from the next box


# ---- shapes --------------------------------------------------------------------------------------

_SYMBOL = re.compile(r"3d|H[₀-₉]+|[NVHd]")


def fill_shapes(template: str, sizes: dict[str, int]) -> str:
    """Write the numbers into a shape template: 'e: N×3d' → 'e: N×3d = 100×150'."""
    parts = []
    for piece in template.split(";"):
        piece = piece.strip()
        label, sep, shape = piece.partition(":")
        shape = shape.strip()
        if sep and _SYMBOL.search(shape):
            numbers = _SYMBOL.sub(lambda m: str(sizes[m.group(0)]), shape)
            parts.append(f"{label}: {shape} = {numbers}")
        else:
            parts.append(piece)
    return ";  ".join(parts)


def shape_line(names, dims: tuple[str, ...], sizes: dict[str, int]) -> str:
    """'z_h, h: N×H = 100×200' (a 1-D array: 'b_h: 200')."""
    head = ", ".join(names) if not isinstance(names, str) else names
    numbers = "×".join(str(sizes.get(s, s)) for s in dims)
    if len(dims) == 1:
        return f"{head}: {numbers}"
    return f"{head}: {'×'.join(dims)} = {numbers}"


def subscript(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def context_column(c: int, embed_dim: int) -> tuple[int, int]:
    """Column ``c`` of e (or row of the first weight matrix): (position k = 1..3, component i)."""
    k, i = divmod(int(c), int(embed_dim))
    return k + 1, i


def column_text(c: int, embed_dim: int) -> str:
    """'position 2, component 10': how every view names column ``c`` of e."""
    k, i = context_column(c, embed_dim)
    return f"position {k}, component {i}"


# ---- numbers in formulas -------------------------------------------------------------------------


def format_value(v: float, digits: int = 6) -> str:
    """A number to ``digits`` significant digits with a true minus sign; names NaN and ±inf."""
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+inf" if v > 0 else "−inf"
    return f"{v:.{digits}g}".replace("-", "−")


def operand(v: float, digits: int = 4) -> str:
    """A term's operand: 4 significant digits, negative numbers in parentheses."""
    s = format_value(v, digits)
    return f"({s})" if s.startswith("−") else s


def sum_text(terms, shown: int = 3) -> str:
    """'a·b + c·d + e·f + … (100 terms)'."""
    text = " + ".join("·".join(operand(x) for x in ops) for ops in terms[:shown])
    if len(terms) > shown:
        text += f" + … ({len(terms)} terms)"
    return text


@dataclass
class EntryFormula:
    """One entry of an array written out as its formula with the real operands.

    ``terms`` holds every term's operands in order (all of them, not only the
    ones written out); ``total`` is the formula's result computed from them,
    which equals ``value``, the entry itself, to rounding. ``total`` is None
    when an operand is no longer available (``text`` then says why).
    """

    name: str
    index: tuple[int, ...]
    text: str
    total: float | None
    value: float | None
    terms: list[tuple[float, ...]] = field(default_factory=list)


class Words:
    """How the text of an entry names things: words, examples (with their contexts), columns of e, units."""

    def __init__(self, vocab, embed_dim: int, x=None, t=None):
        self.vocab, self.embed_dim, self.x, self.t = vocab, embed_dim, x, t

    def word(self, v: int) -> str:
        return f"'{self.vocab[v]}'"

    def example(self, n: int) -> str:
        """'example 3' or, with the minibatch, "example 3 ('a b c' → 'd')"."""
        if self.x is None or self.t is None:
            return f"example {n}"
        ctx = " ".join(self.vocab[w] for w in self.x[n])
        return f"example {n} ('{ctx}' → '{self.vocab[self.t[n]]}')"

    def unit(self, template: str, i: int) -> str:
        """A unit template ('hidden unit {i}', 'the logit of {w}', 'input column {i} ({col})') for index i."""
        word = self.word(i) if "{w}" in template else ""
        col = column_text(i, self.embed_dim) if "{col}" in template else ""
        return template.format(i=i, w=word, col=col)


# The letter an axis's index goes by in a formula, and the sum over it.
_INDEX_LETTER = {"example": ("n", "Σₙ"), "unit": ("j", "Σⱼ"), "word": ("v", "Σ_v"), "concat": ("i", "Σᵢ"),
                 "embed": ("i", "Σᵢ"), "position": ("k", "Σₖ")}


class FormulaContext:
    """What an entry's formula may read: the minibatch's arrays and what it computed with.

    ``tensors`` are the minibatch's arrays so far; ``weights`` and
    ``velocity`` the parameters and velocities before its update (None when
    they are gone: the update changes them in place); ``extras`` the update
    stage's learning rate and momentum; ``vocab`` names word indices.
    """

    def __init__(self, name, index, tensors, *, weights=None, velocity=None, extras=None, vocab=None, embed_dim=None):
        self.name = name
        self.index = tuple(int(i) for i in np.atleast_1d(index))
        self.tensors = tensors
        self.weights = weights
        self.velocity = velocity
        self.extras = extras
        self.vocab = vocab
        self.embed_dim = embed_dim
        self.value = float(tensors[name][self.index]) if name in tensors else None

    # ---- naming indices ----
    def word(self, v: int) -> str:
        vocab = self.vocab
        return f"'{vocab[v]}'" if vocab is not None and 0 <= v < len(vocab) else str(v)

    def col(self, c: int) -> str:
        """'60 (x₂·10)' for a column of e."""
        if self.embed_dim:
            k, i = context_column(c, self.embed_dim)
            return f"{c} (x{subscript(k)}·{i})"
        return str(c)

    def ref(self, axis: str, i: int) -> str:
        """An index as an operand's subscript: a word in quotes, else the number."""
        return self.word(i) if axis == "word" else str(i)

    def label(self, axis: str, i: int) -> str:
        """An index in a formula's head: 'n=3', "v='the'", 'i=60 (x₂·10)'."""
        letter = _INDEX_LETTER.get(axis, ("i", ""))[0]
        if axis == "word":
            return f"v={self.word(i)}"
        if axis == "concat":
            return f"i={self.col(i)}"
        return f"{letter}={i}"

    @staticmethod
    def letter(axis: str) -> tuple[str, str]:
        """(index letter, sum symbol) of an axis: ('j', 'Σⱼ')."""
        return _INDEX_LETTER.get(axis, ("i", "Σ"))

    def head(self, axes) -> str:
        """'dW_o[j=12, v='the']' for the entry this context is about."""
        return f"{self.name}[{', '.join(self.label(a, i) for a, i in zip(axes, self.index))}]"

    # ---- results ----
    def done(self, text: str, total, terms) -> EntryFormula:
        return EntryFormula(self.name, self.index, text, None if total is None else float(total), self.value, terms)

    def missing(self, what: str) -> EntryFormula:
        return self.done(f"{self.name}{list(self.index)}: {what}", None, [])

    def before_update(self, key: str):
        """Parameter ``key`` as the minibatch used it, or None when it is no longer known."""
        if self.weights is None or key not in self.weights:
            return None
        return self.weights[key]

    def product_sum(self, head: str, symbolic: str, a, b, bias=None, bias_text: str = "") -> EntryFormula:
        """'head = symbolic + bias_text', the first terms with numbers, and the total."""
        terms = list(zip(np.asarray(a).tolist(), np.asarray(b).tolist()))
        total = float(np.dot(a, b)) + (0.0 if bias is None else float(bias))
        numbers = sum_text(terms)
        if bias is not None:
            numbers += f" + {operand(bias)}"
        text = f"{head} = {symbolic}{bias_text}\n= {numbers}\n= {format_value(total)}"
        return self.done(text, total, terms + ([(float(bias),)] if bias is not None else []))

    def column_sum(self, head: str, symbolic: str, column) -> EntryFormula:
        """'head = Σₙ ...' over the entries of one column."""
        terms = [(x,) for x in np.asarray(column).tolist()]
        total = float(np.sum(column))
        return self.done(f"{head} = {symbolic}\n= {sum_text(terms)}\n= {format_value(total)}", total, terms)
