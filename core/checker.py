"""Check a learner's own code for the stages of a minibatch against the network's.

The format: a Python file with functions named after stages (the names of
``model.stage_specs``: ``embed, hidden_input, hidden, logits, softmax, loss,
output_error, output_weights, back_to_hidden, through_activation,
hidden_weights, back_to_embeddings, embedding_gradient, update`` for the
default network; ``hidden_weights_2`` and so on for deeper ones). A
function's parameters name what it wants, as the formulas name it: the arrays
of the tensor registry computed before its stage (``x, t, e, z_h, h, z_o, p,
dz_o, dh, dz_h, de``, ...), the parameters (``W_emb, W_h, b_h, W_o, b_o``)
and the sizes (``N, V, d, H``, or ``H1, H2, ...``). The checker passes them by
name, as read-only copies of the real minibatch's arrays, so each stage is
checked on correct inputs. A function returns the stage's result: the
left-hand side of its formula (a tuple ``(dW_o, db_o)`` where there are two;
the mean loss ``L`` for ``loss``). ``update`` is called once per parameter
with ``name, theta, grad, v, learning_rate, momentum`` and returns the change
Δθ (the new velocity v). ``stage_functions()`` lists every function with its
suggested signature and a docstring naming the inputs and their shapes.

``check_source`` runs the functions in a child process (core/sandbox.py) on
real minibatches (by default ones where a word repeats, across examples and
within one context) and returns one :class:`Verdict` per stage function:
``exact``, ``close``, ``wrong`` (how many entries differ, the largest
difference, the likely cause, and what a central-difference gradient check
says), ``shape``, ``raised``, ``timed out`` or ``crashed``.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import InputError
from .gradcheck import check_entry, checkable
from .layers import SoftmaxCrossEntropy
from .model import Config, FourGramModel
from .repeats import batches_with_repeats, repeated_rows
from .sandbox import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, CallResult, NotAnArray, Sandbox
from .specs import format_value
from .stages import UPDATE, run_minibatch, run_stages
from .text import plural

KINDS = ("exact", "close", "wrong", "shape", "raised", "timed out", "crashed")
PASSING = ("exact", "close")
# An entry is "close" when |got − expected| ≤ RTOL·|expected| + ATOL·max|expected| (rounding of a different
# order of the same sums lands near 1e-16 relative); anything beyond is a different number.
RTOL, ATOL = 1e-7, 1e-9
REFEREE_ENTRIES = 3  # entries of a wrong gradient the central-difference check looks at
OVERFLOW_SHIFT = 1000.0  # the softmax is also checked on the logits plus this (exp overflows beyond ~709)
UPDATE_PARAMS = ("name", "theta", "grad", "v", "learning_rate", "momentum")  # what ``update`` may ask for
UPDATE_SUGGESTED = ("grad", "v", "learning_rate", "momentum")
DEFAULT_BATCHES = 2  # two minibatches: the second shows gradients that were not zeroed


class CheckFileError(InputError):
    """A learner file that cannot be checked at all: unreadable, a syntax error, no stage function.

    ``line`` is the line of the file at fault, or None.
    """

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(message)


# ---- the format -------------------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SUB_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_SIZE_MEANING = {"N": "examples in the minibatch", "V": "words in the vocabulary", "d": "size of a word vector",
                 "H": "hidden units"}


def size_parameter(symbol: str) -> str | None:
    """The parameter name of a size symbol: 'N' → 'N', 'H₂' → 'H2'; None for a derived one ('3d')."""
    name = symbol.translate(_SUB_DIGITS)
    return name if name.isidentifier() else None


def _sizes(model: FourGramModel, batch_size: int | None) -> dict[str, int]:
    out = {}
    for symbol, value in model.sizes(batch_size).items():
        name = size_parameter(symbol)
        if name is not None:
            out[name] = int(value)
    return out


def _size_meaning(name: str) -> str:
    if name in _SIZE_MEANING:
        return _SIZE_MEANING[name]
    return f"units of hidden layer {name[1:]}" if name[:1] == "H" and name[1:].isdigit() else "a size"


def _results(formula: str) -> tuple[str, ...]:
    """The left-hand sides of a formula: 'dW_o = hᵀ·dz_o,  db_o = Σₙ dz_o' → ('dW_o', 'db_o')."""
    out = []
    for piece in re.split(r",\s+(?=[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\s*=)", formula):
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\s*=", piece)
        if m:
            out.append(m.group(1))
    return tuple(out)


@dataclass(frozen=True)
class StageFunction:
    """One function a learner's file may define: a stage of the network's minibatch.

    ``params``: the suggested parameters (what the stage declares it reads,
    ``StageSpec.inputs``); ``available``: every name the checker can pass it;
    ``results``: what it returns, in order; ``signature``: ``def name(...):``;
    ``docstring``: the inputs and results with their shapes and meanings;
    ``template``: signature, docstring and a body to replace (the editor's pre-fill).
    """

    name: str
    title: str
    formula: str
    params: tuple[str, ...]
    available: tuple[str, ...]
    results: tuple[str, ...]
    backward: bool
    signature: str
    docstring: str

    @property
    def template(self) -> str:
        doc = "\n".join(("    " + line).rstrip() for line in self.docstring.splitlines())
        return f'{self.signature}\n    """\n{doc}\n    """\n    raise NotImplementedError\n'


def _describe(name: str, model: FourGramModel, sizes: dict[str, int], batch_size: int) -> str:
    """'dz_h: N×H = 100×200, gradient of L with respect to z_h'."""
    if name in sizes:
        return f"{name} = {sizes[name]}: {_size_meaning(name)}"
    if name == "L":
        return "L: a number, the mean cross-entropy of the minibatch"
    spec = model.specs[name]
    shape = spec.shape(model.sizes(batch_size))
    numbers = "×".join(str(s) for s in shape) or "a number"
    dtype = " integers" if spec.kind == "index" else ""
    return f"{name}: {spec.shape_text} = {numbers}{dtype}, {spec.description}"


_UPDATE_TEXT = {
    "name": "name: which parameter ('W_emb', 'W_h', ...)",
    "theta": "theta: the parameter before this step (same shape as grad)",
    "grad": "grad: its gradient for this minibatch",
    "v": "v: its velocity before this step (the change of the step before)",
    "learning_rate": "learning_rate: η, a number",
    "momentum": "momentum: μ, a number",
}


def stage_functions(model: FourGramModel | None = None, batch_size: int | None = None) -> list[StageFunction]:
    """Every stage function of ``model``'s network (default: the default network on 250 words), in stage order."""
    if model is None:
        model = FourGramModel([f"w{i}" for i in range(250)], Config())
    n = model.config.batch_size if batch_size is None else int(batch_size)
    sizes = _sizes(model, n)
    known = [s.name for s in model.specs.values() if s.role in ("input", "parameter")] + list(sizes)
    out = []
    for spec in model.stage_specs:
        if spec.name == UPDATE:
            params, available, results = UPDATE_SUGGESTED, UPDATE_PARAMS, ("Δθ",)
            lines = ["Called once per parameter (" + ", ".join(model.params) + ").", "",
                     *(_UPDATE_TEXT[p] for p in UPDATE_PARAMS), "",
                     "Returns Δθ: the change added to theta, which is also the new velocity v."]
        else:
            results = _results(spec.formula)
            # What the stage declares it reads (arrays, parameters, size symbols), as parameter names.
            wanted = [n for n in (size_parameter(i) or i for i in spec.inputs) if n in known]
            params, available = tuple(wanted), tuple(known)
            lines = [f"{spec.title}: {spec.formula}", "", "Inputs:", *("  " + _describe(p, model, sizes, n)
                                                                          for p in params),
                     "", "Returns a tuple (" + ", ".join(results) + "):" if len(results) > 1 else "Returns:",
                     *("  " + _describe(r, model, sizes, n) for r in results)]
        out.append(StageFunction(spec.name, spec.title, spec.formula, tuple(params), tuple(available), results,
                                 spec.backward, f"def {spec.name}({', '.join(params)}):", "\n".join(lines)))
        if spec.name != UPDATE:
            known = list(dict.fromkeys([*known, *(a for a in (*spec.arrays, *results) if a in model.specs or a == "L")]))
    return out


# ---- verdicts -----------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    """The checker's answer for one stage function.

    ``kind`` is one of KINDS; ``text`` the one-line verdict ("exact", "close
    (max |diff| 3e-17)", "wrong: ..."); ``result`` the array it is about
    (dW_o or db_o for output_weights); ``expected``, ``got`` and
    ``diff_mask`` (True where they differ) are the arrays of the minibatch it
    failed on (or the last one checked), for a difference map; ``batch`` the
    checked minibatch (0-based) and ``minibatch`` its number in training order;
    ``line`` the line of the file (a raised exception); ``output`` what the
    function printed; ``inputs`` the names it was passed.

    ``downstream`` (a ``wrong`` verdict only): the arrays computed after the
    stage that go wrong on the same minibatch when the learner's result is
    swapped in and the network's own code computes the rest, in stage order,
    each with its largest relative difference (max |diff| / max |true|; inf
    where NaN or infinite); ``update`` changes are named ``ΔW_emb``, ... An
    ``update`` verdict lists the parameters whose change goes wrong (it is the
    last stage). ``swapped`` holds what was swapped in, by name.
    """

    stage: str
    kind: str
    text: str
    result: str = ""
    expected: np.ndarray | None = None
    got: np.ndarray | None = None
    diff_mask: np.ndarray | None = None
    batch: int = 0
    minibatch: int = 0
    line: int | None = None
    output: str = ""
    inputs: tuple[str, ...] = ()
    max_diff: float | None = None
    seconds: float = 0.0  # how long the call took (a timed-out one: until it was stopped)
    referee: list = field(default_factory=list)  # core.gradcheck.GradCheck of the entries refereed
    downstream: tuple[tuple[str, float], ...] = ()
    swapped: dict = field(default_factory=dict)

    @property
    def main_text(self) -> str:
        """The verdict without its downstream clause (shown on a line of its own in the window)."""
        clause = self.downstream_clause
        return self.text.removesuffix("; " + clause) if clause else self.text

    @property
    def downstream_detail(self) -> str:
        """'dW_h 3.1, db_h 2.9, ΔW_h 3.1': each array that goes wrong downstream with its largest relative difference."""
        return ", ".join(f"{name} {_num(rel) if math.isfinite(rel) else 'NaN or ∞'}" for name, rel in self.downstream)

    @property
    def downstream_clause(self) -> str:
        """'downstream: dW_h, db_h and the update of W_h, b_h go wrong', the verdict's last clause ("" if none)."""
        return downstream_clause(self.downstream, last=self.stage == UPDATE) if self.kind == "wrong" and self.swapped else ""

    @property
    def ok(self) -> bool:
        return self.kind in PASSING

    def line_text(self) -> str:
        """'embedding_gradient: wrong: ...', the command's line."""
        return f"{self.stage}: {self.text}"


def _shape(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def _count(n: int) -> str:
    return f"{n:,}"


@dataclass
class _Batch:
    """One minibatch of the reference run: every array, and what the update started from."""

    number: int
    x: np.ndarray
    t: np.ndarray
    state: dict  # parameters and velocities before it (model.state())
    arrays: dict  # every array of the minibatch, by name (and "L")
    updates: dict  # parameter name → Δθ
    contributions: dict
    naive: np.ndarray | None
    learning_rate: float
    momentum: float


class Reference:
    """The network's own answer for every stage on the checked minibatches (float64)."""

    def __init__(self, corpus, config: Config, batches: int = DEFAULT_BATCHES):
        from .trainer import Trainer

        trainer = Trainer(corpus, config)
        self.corpus = corpus
        self.model = trainer.model
        self.vocab = list(corpus.vocab)
        self.numbers = batches_with_repeats(trainer, int(batches))
        self.batches: list[_Batch] = []
        for number in self.numbers:
            x, t = (np.array(a) for a in trainer.batch_at(number))
            state = self.model.state()
            arrays = dict(state)  # the parameters as the minibatch uses them (and v_*: unused names)
            arrays.update(_sizes(self.model, x.shape[0]))
            contributions, naive, extras = {}, None, {}
            for stage in run_stages(self.model, x, t, batch=number):
                if stage.name == UPDATE:
                    extras = stage.extras
                    updates = {k[1:]: np.array(v) for k, v in stage.arrays.items()}
                    continue
                arrays.update({k: np.array(v) for k, v in stage.arrays.items()})
                if stage.name == "loss":
                    arrays["L"] = np.array(stage.extras["L"])
                if stage.contributions is not None:
                    contributions, naive = stage.contributions, np.array(stage.naive)
            self.batches.append(_Batch(number, x, t, state, arrays, updates, contributions, naive,
                                       float(extras["learning_rate"]), float(extras["momentum"])))
        self.functions = {f.name: f for f in stage_functions(self.model, config.batch_size)}

    def model_at(self, batch: _Batch) -> FourGramModel:
        """A copy of the network as it was when ``batch`` started (for the gradient check)."""
        copy = FourGramModel(self.model.vocab, self.model.config)
        copy.load_state(batch.state)
        return copy

    def word(self, v: int) -> str:
        return f"'{self.vocab[v]}'" if 0 <= v < len(self.vocab) else str(v)


def _differs(expected: np.ndarray, got: np.ndarray) -> np.ndarray:
    e = np.asarray(expected, dtype=np.float64)
    g = np.asarray(got, dtype=np.float64)
    scale = float(np.abs(e).max()) if e.size else 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.abs(g - e) <= RTOL * np.abs(e) + ATOL * scale
    return ~ok  # NaN in got: differs


def _max_diff(expected, got) -> tuple[float, tuple[int, ...]]:
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(np.asarray(got, np.float64) - np.asarray(expected, np.float64))
    if not d.size:
        return 0.0, ()
    d = np.where(np.isnan(d), np.inf, d)
    k = int(np.argmax(d))
    return float(d.reshape(-1)[k]), tuple(int(i) for i in np.unravel_index(k, d.shape))


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and not _differs(a, b).any()


def _same_to(a, b, rtol: float) -> bool:
    """Equal to a relative ``rtol`` of the array's largest entry."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = float(np.abs(b).max()) if b.size else 0.0
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rtol * scale))


def _num(v: float) -> str:
    return format_value(v, 2).replace("−", "-") if math.isfinite(v) else format_value(v)


# ---- downstream ------------------------------------------------------------------------------------------


def downstream_clause(downstream, last: bool = False) -> str:
    """'downstream: dW_h, de and the update of W_h, W_emb go wrong' ('…: nothing else goes wrong' for none).

    ``last``: the stage is the update, whose own changes are the list.
    """
    arrays = [n for n, _ in downstream if not n.startswith("Δ")]
    updated = [n[1:] for n, _ in downstream if n.startswith("Δ")]
    if last:
        return ("downstream: nothing but the update itself (of " + ", ".join(updated) + ")" if updated else
                "downstream: nothing else goes wrong")
    parts = [", ".join(arrays)] if arrays else []
    if updated:
        parts.append("the update of " + ", ".join(updated))
    if not parts:
        return "downstream: nothing else goes wrong"
    many = len(arrays) > 1 or (arrays and updated)
    return f"downstream: {' and '.join(parts)} go{'' if many else 'es'} wrong"


def _relative(true, got) -> float:
    """max |got − true| / max |true| (inf when got holds NaN or infinity, or true is all zero)."""
    t, g = np.asarray(true, np.float64), np.asarray(got, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.abs(g - t)
    if not d.size:
        return 0.0
    if not np.isfinite(d).all():
        return math.inf
    scale = float(np.abs(t).max())
    big = float(d.max())
    return big / scale if scale > 0 else (math.inf if big > 0 else 0.0)


def _downstream(ref: Reference, k: int, stage: str, results: tuple[str, ...], swapped: dict):
    """What goes wrong after ``stage`` on minibatch ``k`` with ``swapped`` {result: array} in place of its results.

    The network's own code recomputes everything after the stage (core.stages.run_minibatch) on a copy of
    the network as it was before the minibatch; each array is compared with the reference run's. For
    ``update``, ``swapped`` holds the changes {ΔW_emb: ...} and its own arrays are the ones compared.
    """
    b = ref.batches[k]
    model = ref.model_at(b)
    record: dict = {}
    if stage == UPDATE:
        replace = {UPDATE: (("Δθ",), lambda args: swapped["Δ" + args["name"]])}
    else:
        out = tuple(swapped[r] for r in results)
        replace = {stage: (results, lambda values: out if len(out) > 1 else out[0])}
    with np.errstate(all="ignore"):
        run_minibatch(model, b.x, b.t, replace, record=record)
    truth = dict(b.arrays)
    truth.update({"Δ" + p: v for p, v in b.updates.items()})
    names = _stage_names(ref.model)
    seen = set(b.state) | set(_sizes(ref.model, b.x.shape[0]))
    wrong, after = [], False
    for name in names:
        arrays = record.get(name, {})
        if after or stage == UPDATE == name:
            for a, value in arrays.items():
                if a in seen or a not in truth:
                    continue
                expected = np.asarray(truth[a])
                value = np.asarray(value)
                if value.shape != expected.shape or _differs(expected, value).any():
                    wrong.append((a, _relative(expected, value) if value.shape == expected.shape else math.inf))
        seen |= set(arrays)
        after = after or name == stage
    return tuple(wrong)


# ---- diagnosis ---------------------------------------------------------------------------------------------


def _cause(ref: Reference, fn: StageFunction, result: str, k: int, expected, got, kwargs, history) -> str:
    """The likely cause of a wrong result, in words ("" when none is recognised)."""
    b = ref.batches[k]
    e = np.asarray(expected, np.float64)
    g = np.asarray(got, np.float64)
    if not np.isfinite(g).all():
        bad = int(np.count_nonzero(~np.isfinite(g)))
        return f"{plural(bad, 'entry', 'entries')} {'is' if bad == 1 else 'are'} NaN or infinite"
    if np.asarray(got).dtype == np.float32 and _same_to(g, e, 1e-4):
        return "it was computed in float32 (about 7 significant digits): compute in float64"
    if k > 0 and len(history) == k and _same(g, sum(history) + e):
        return ("it equals the sum of this and the earlier minibatches' results: gradients not zeroed between "
                "minibatches (an array kept from one call to the next keeps adding)")
    if result == "dW_emb" and b.naive is not None:
        rows = np.flatnonzero(np.any(_differs(e, g), axis=1))
        repeated = repeated_rows(b.contributions)
        if rows.size and set(rows.tolist()) <= repeated:
            words = ", ".join(ref.word(int(r)) for r in rows[:5]) + (f" and {rows.size - 5} more" if rows.size > 5 else "")
            if _same(g, b.naive) or all(_keeps_one(g[r], b, int(r), ref) for r in rows.tolist()):
                why = ("rows fed more than once keep only one contribution (dW[x] = de, or dW[x] += de: "
                       "a fancy-index write handles each repeated row once; use np.add.at)")
            else:
                why = "only rows fed more than once differ: their contributions are not all summed"
            return f"{plural(rows.size, 'row')} differ{'s' if rows.size == 1 else ''} ({words}): {why}"
    if fn.name == UPDATE:
        mu, lr = b.momentum, b.learning_rate
        grad, v = kwargs.get("grad"), kwargs.get("v")
        if grad is not None and v is not None and _same(g, mu * v + lr * grad):
            return ("it is μ·v + η·∇: the momentum update has the wrong sign and climbs the loss "
                    "(v ← μ·v − η·∇)")
    dot = float(np.vdot(e, e))
    if dot > 0:
        c = float(np.vdot(g, e)) / dot
        if c != 0 and _same(g, c * e):
            n = b.x.shape[0]
            if abs(c + 1) < 1e-6:
                return "every entry has the opposite sign"
            if n > 1 and abs(c - n) < 1e-6 * n:
                return f"it is N = {n} times the reference: the 1/N of the mean is missing"
            if n > 1 and abs(c * n - 1) < 1e-6:
                return f"it is the reference divided by N = {n}: the 1/N is applied twice"
            return f"it is {format_value(c, 4)} times the reference"
    for name, value in kwargs.items():
        if isinstance(value, np.ndarray) and value.shape == g.shape and _same(g, value):
            if fn.name.startswith("through_activation"):
                factor = fn.formula.split("⊙", 1)[1].strip() if "⊙" in fn.formula else "f′(z)"
                return (f"it returns {name} unchanged: the activation's derivative is missing "
                        f"({fn.formula}: the factor {factor})")
            return f"it returns {name} unchanged"
    return ""


def _keeps_one(row, b: _Batch, v: int, ref: Reference) -> bool:
    """True when ``row`` of a learner's dW_emb equals one single slice of de that row ``v`` received."""
    d = ref.model.config.embed_dim
    de = b.arrays["de"]
    return any(_same(row, de[n, k * d:(k + 1) * d]) for n, k in b.contributions.get(v, []))


def _referee(ref: Reference, result: str, k: int, expected, got, mask) -> tuple[str, list]:
    """Central differences at a few differing entries of a gradient: whose side they take."""
    model = ref.model
    if result not in model.specs or model.specs[result].role != "gradient":
        return "", []
    base = model.specs[result].of
    name = base if base in model.params else result
    if name not in checkable(model):
        return "", []
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.where(mask, np.abs(np.asarray(got, np.float64) - expected), -1.0)
    d = np.where(np.isnan(d), np.inf, d)
    picks = [tuple(int(i) for i in np.unravel_index(j, d.shape))
             for j in np.argsort(-d, axis=None, kind="stable")[:REFEREE_ENTRIES] if d.reshape(-1)[j] >= 0]
    b = ref.batches[k]
    copy = ref.model_at(b)
    checks = [check_entry(copy, b.x, b.t, name, index) for index in picks]
    if not checks:
        return "", []
    g = np.asarray(got, np.float64)
    agree_ref = sum(1 for c in checks if _close_number(c.numeric, c.analytic))
    agree_mine = sum(1 for c in checks if _close_number(c.numeric, float(g[c.index])))
    first = checks[0]
    mine = float(g[first.index])
    where = "[" + ", ".join(map(str, first.index)) + "]"
    entries = plural(len(checks), "entry", "entries")
    if agree_ref == len(checks) and agree_mine == 0:
        side = f"sides with the reference at {'all ' if len(checks) > 1 else ''}{entries}"
    elif agree_mine == len(checks) and agree_ref == len(checks):
        side = f"cannot tell yours from the reference at {entries} (they differ by less than its precision)"
    else:
        side = f"agrees with the reference at {agree_ref} of {entries}, with yours at {agree_mine}"
    theirs, yours = _two_numbers(first.numeric, mine)
    return f"the gradient check (central differences) {side}: at {result}{where} it gives {theirs}, yours {yours}", checks


def _two_numbers(a: float, b: float) -> tuple[str, str]:
    """Two numbers with as few digits as tell them apart (at most 10)."""
    for digits in range(2, 11):
        sa, sb = format_value(a, digits).replace("−", "-"), format_value(b, digits).replace("−", "-")
        if sa != sb:
            break
    return sa, sb


def _close_number(a: float, b: float) -> bool:
    scale = max(abs(a), abs(b))
    return scale == 0 or abs(a - b) / scale < 1e-4 or abs(a - b) < 1e-10


_PRODUCT_ERROR = re.compile(r"mismatch|not aligned|could not be broadcast|operands could not|shapes? .* (and|not)")


def _shape_hint(fn: StageFunction, expected_shape, got_shape, kwargs, ref: Reference) -> str:
    """What a shape suggests: the transpose, another array's shape, an extra axis, the products that fit."""
    exp, got = tuple(expected_shape), tuple(got_shape)
    hints = []
    if got is not None and len(exp) == 2 and got == exp[::-1] and exp[0] != exp[1]:
        hints.append("that is the transpose: a product with its operands swapped, or W where Wᵀ belongs")
    elif got is not None and len(got) == len(exp) + 1 and 1 in got and tuple(s for s in got if s != 1) == exp:
        hints.append("an extra axis of length 1 (keepdims=True?)")
    elif got is not None:
        sizes = ref.model.sizes(ref.batches[0].x.shape[0])
        same = [s for s in ref.model.specs.values()
                if s.role not in ("update", "input") and s.shape(sizes) == got and s.name not in fn.results]
        if same:
            hints.append(f"the shape of {same[0].name} ({same[0].description})")
        else:
            read = _read_shape(got, sizes)
            if read:
                hints.append(f"{_shape(got)} reads as {read} where {_read_shape(exp, sizes) or _shape(exp)} is expected")
    fits = _fitting_products(exp, kwargs)
    if fits:
        hints.append(f"{fits[0]} has the expected shape {_shape(exp)}")
    return "; ".join(hints)


def _read_shape(shape, sizes: dict[str, int]) -> str:
    """A shape in size symbols, 'N·3×d' for (300, 50); "" when some axis is none of them."""
    names: dict[int, str] = {}
    for symbol, value in sizes.items():
        names.setdefault(int(value), symbol)
    names.setdefault(int(sizes["N"]) * 3, "N·3")  # one row per (example, position) of the context
    if not shape or any(int(s) not in names for s in shape):
        return ""
    return "×".join(names[int(s)] for s in shape)


def _fitting_products(exp, kwargs, names=None) -> list[str]:
    """Products of two of the inputs (with a transpose where needed) that have the shape ``exp``."""
    arrays = {k: v for k, v in kwargs.items() if isinstance(v, np.ndarray) and v.ndim == 2
              and (names is None or k in names)}
    out = []
    for a, A in arrays.items():
        for b, B in arrays.items():
            if a == b:
                continue
            for text, shape, ok in ((f"{a}·{b}", (A.shape[0], B.shape[1]), A.shape[1] == B.shape[0]),
                                    (f"{a}·{b}ᵀ", (A.shape[0], B.shape[0]), A.shape[1] == B.shape[1]),
                                    (f"{a}ᵀ·{b}", (A.shape[1], B.shape[1]), A.shape[0] == B.shape[0])):
                if ok and shape == tuple(exp):
                    out.append(text)
    return out


# ---- running one stage ------------------------------------------------------------------------------------


def _kwargs(fn: StageFunction, info: dict, values: dict) -> tuple[dict | None, str]:
    """The arguments a learner's function asks for, or (None, why it cannot be called)."""
    wanted = list(info["params"])
    if info["var_keyword"]:
        wanted += [n for n in fn.available if n not in wanted]
    out = {}
    for name in wanted:
        if name in values and name in fn.available:
            out[name] = values[name]
        elif name in info["required"]:
            later = name in values or name in ("L",)
            why = "is computed by a later stage" if later else "is not a name the checker knows"
            return None, (f"it asks for '{name}', which {why}; {fn.name} can ask for: {', '.join(fn.available)}")
    return out, ""


def _raised(fn, res: CallResult, path: str, kwargs, expected_shape) -> tuple[str, str]:
    """(kind, text) for an exception: 'shape' when it is a product of arrays that do not fit."""
    err = res.error
    where = f" (line {err['line']} of {path}: {err['text']})" if err.get("line") else ""
    message = err.get("message", "")
    head = f"{err.get('type', 'Exception')}: {message}" if message else err.get("type", "Exception")
    if err.get("type") == "ValueError" and _PRODUCT_ERROR.search(message) and expected_shape is not None:
        used = set(_IDENT.findall(err.get("text", "")))
        shapes = ", ".join(f"{k} is {_shape(v.shape)}" for k, v in kwargs.items()
                           if k in used and isinstance(v, np.ndarray))
        fits = _fitting_products(expected_shape, kwargs, used or None)
        tail = f"; {shapes}" if shapes else ""
        if fits:
            tail += f": {fits[0]} gives the expected {_shape(expected_shape)} (W where Wᵀ belongs?)"
        message = re.sub(r",? with gufunc signature \S+", "", message)
        return "shape", f"shape: the arrays do not fit{where}: {message}{tail}"
    hint = ""
    if "read-only" in message:
        hint = "; the inputs are read-only copies: compute into a new array (or .copy() one first)"
    elif err.get("type") == "MemoryError":
        hint = "; over the memory limit of the checked code"
    return "raised", f"raised {head}{where}{hint}"


class _Cancelled(Exception):
    """The cancel event was set while a learner's function ran."""


class _Run:
    """Checks one learner file: its sandbox, the reference and the verdicts."""

    def __init__(self, ref: Reference, sandbox: Sandbox, path: str, timeout: float, cancel):
        self.ref, self.sandbox, self.path, self.timeout, self.cancel = ref, sandbox, path, timeout, cancel

    def call(self, fn: StageFunction, values: dict, info: dict):
        kwargs, why = _kwargs(fn, info, values)
        if kwargs is None:
            return None, why, {}
        return self.sandbox.call(fn.name, kwargs), "", kwargs

    def stage(self, fn: StageFunction, info: dict) -> Verdict:
        if fn.name == UPDATE:
            return self._update(fn, info)
        history: list[list[np.ndarray]] = []
        passed: list[Verdict] = []
        for k, b in enumerate(self.ref.batches):
            if self.cancel is not None and self.cancel.is_set():
                break
            expected = [np.asarray(b.arrays[r]) for r in fn.results]
            verdict = self._one(fn, info, k, b.arrays, expected, history)
            if not verdict.ok:
                return verdict
            passed.append(verdict)
            history.append(expected)
        if not passed:
            return Verdict(fn.name, "raised", "not checked: cancelled")
        probe = self._overflow_probe(fn, info)
        return probe or _summary(passed)

    def _one(self, fn, info, k, values, expected, history, result_names=None) -> Verdict:
        b = self.ref.batches[k]
        names = result_names or fn.results
        common = dict(stage=fn.name, batch=k, minibatch=b.number)
        first = dict(result=names[0], expected=expected[0])  # the reference answer, whatever happened to the call
        res, why, kwargs = self.call(fn, values, info)
        if res is not None and res.kind == "cancelled":
            raise _Cancelled
        if res is None:
            return Verdict(kind="raised", text=f"cannot be called: {why}", line=info.get("line"), **first, **common)
        common.update(output=res.output, inputs=tuple(kwargs), seconds=res.seconds)
        when = f" (minibatch {k + 1} of {len(self.ref.batches)})" if k else ""
        if res.kind == "timed out":
            return Verdict(kind="timed out", text=f"timed out: no answer within {self.timeout:g} s (an endless loop?)",
                           **first, **common)
        if res.kind == "crashed":
            return Verdict(kind="crashed", text=f"crashed: {res.error['message']}", **first, **common)
        if res.kind != "returned":
            kind, text = _raised(fn, res, self.path, kwargs, expected[0].shape)
            return Verdict(kind=kind, text=text + when, line=res.error.get("line"), **first, **common)
        got = res.value if isinstance(res.value, tuple) else (res.value,)
        if len(names) > 1 and len(got) != len(names):
            return Verdict(kind="shape", text=f"shape: returned {plural(len(got), 'value')}, the stage has "
                           f"{len(names)} ({', '.join(names)}); return them as a tuple", **first, **common)
        if len(names) == 1 and len(got) != 1:
            return Verdict(kind="shape", text=f"shape: returned a tuple of {len(got)}, the stage has one result "
                           f"({names[0]})", **first, **common)
        worst = None
        for name, e, g in zip(names, expected, got):
            verdict = self._compare(fn, name, k, e, g, kwargs, [h[names.index(name)] for h in history], common, when)
            if not verdict.ok:
                if verdict.kind == "wrong" and verdict.diff_mask is not None and fn.name != UPDATE:
                    self._add_downstream(verdict, k, fn.results, {r: _usable(e, g) for r, e, g in
                                                                  zip(fn.results, expected, got)})
                return verdict
            if worst is None or (verdict.max_diff or 0) > (worst.max_diff or 0):
                worst = verdict
        return worst

    def _compare(self, fn, name, k, e, g, kwargs, history, common, when) -> Verdict:
        if g is None:
            return Verdict(kind="wrong", text=f"wrong: returned None instead of {name} (a missing return?){when}",
                           result=name, expected=e, **common)
        if isinstance(g, NotAnArray):
            return Verdict(kind="wrong", text=f"wrong: returned a {g.type_name}, not an array, for {name}{when}",
                           result=name, expected=e, **common)
        g = np.asarray(g)
        if e.shape == () and g.size == 1:
            g = g.reshape(())
        if g.shape != e.shape:
            hint = _shape_hint(fn, e.shape, g.shape, kwargs, self.ref)
            text = f"shape: {name} {_shape(e.shape)} expected, {_shape(g.shape)} returned" + (f": {hint}" if hint else "")
            return Verdict(kind="shape", text=text + when, result=name, expected=e, got=g, **common)
        if g.dtype.kind not in "biuf":
            return Verdict(kind="wrong", text=f"wrong: {name} has {g.dtype} entries, not numbers{when}", result=name,
                           expected=e, got=g, **common)
        mask = _differs(e, g)
        big, at = _max_diff(e, g)
        if not mask.any():
            exact = np.array_equal(e, g)
            text = "exact" if exact else f"close (max |diff| {_num(big)})"
            return Verdict(kind="exact" if exact else "close", text=text, result=name, expected=e, got=g,
                           diff_mask=mask, max_diff=big, **common)
        count = int(np.count_nonzero(mask))
        where = "[" + ", ".join(map(str, at)) + "]" if at else ""
        text = (f"wrong: {_count(count)} of {_count(mask.size)} entries of {name} differ, largest |diff| {_num(big)}"
                f"{' at ' + name + where if where else ''}")
        cause = _cause(self.ref, fn, name, k, e, g, kwargs, history)
        if cause:
            text += f"; {cause}"
        referee, checks = _referee(self.ref, name, k, e, g, mask)
        if referee:
            text += f"; {referee}"
        return Verdict(kind="wrong", text=text + when, result=name, expected=e, got=g, diff_mask=mask, max_diff=big,
                       referee=checks, **common)

    def _add_downstream(self, verdict: Verdict, k: int, results: tuple[str, ...], swapped: dict) -> None:
        """Swap the learner's results into minibatch ``k``: which later arrays go wrong (the verdict's last clause)."""
        verdict.swapped = swapped
        verdict.downstream = _downstream(self.ref, k, verdict.stage, results, swapped)
        verdict.text += "; " + verdict.downstream_clause

    def _overflow_probe(self, fn: StageFunction, info: dict) -> Verdict | None:
        """The softmax also on logits shifted up by 1000 (same probabilities): an unshifted exp overflows."""
        model = self.ref.model
        if len(fn.results) != 1 or fn.results[0] not in model.specs:
            return None
        spec = model.specs[fn.results[0]]
        if not isinstance(spec.owner, SoftmaxCrossEntropy) or spec.role != "forward" or spec.kind != "probability":
            return None
        b = self.ref.batches[0]
        values = dict(b.arrays)
        inputs = [n for n in fn.available if n in values and model.specs.get(n) is not None
                  and model.specs[n].role == "forward" and model.specs[n].box == spec.box]
        if not inputs:
            return None
        z = inputs[-1]
        values[z] = np.asarray(values[z]) + OVERFLOW_SHIFT
        verdict = self._one(fn, info, 0, values, [np.asarray(b.arrays[fn.results[0]])], [])
        if verdict.ok:
            return None
        if verdict.kind == "wrong" and verdict.got is not None and not np.isfinite(verdict.got).all():
            rows = int(np.count_nonzero(~np.isfinite(verdict.got).all(axis=1))) if verdict.got.ndim == 2 else 0
            verdict.text = (f"wrong: overflows: right on the minibatch's logits, but on the same logits plus "
                            f"{OVERFLOW_SHIFT:g} (the same probabilities) {plural(rows, 'row')} of {fn.results[0]} "
                            f"are NaN: exp of a logit above about 709 is infinite; subtract each row's maximum "
                            f"first")
            if verdict.downstream_clause:
                verdict.text += "; " + verdict.downstream_clause
        else:
            verdict.text = f"{verdict.text} (on the logits plus {OVERFLOW_SHIFT:g}, which give the same {fn.results[0]})"
        return verdict

    def _update(self, fn: StageFunction, info: dict) -> Verdict:
        """``update`` once per parameter and minibatch; the first parameter that fails gives the verdict."""
        passed = []
        for k, b in enumerate(self.ref.batches):
            changes = {}  # this minibatch's Δθ as the learner's function gave them
            for pname in self.ref.model.params:
                if self.cancel is not None and self.cancel.is_set():
                    break
                verdict = self._one_update(fn, info, k, pname)
                changes["Δ" + pname] = _usable(b.updates[pname], verdict.got)
                if not verdict.ok:
                    if verdict.kind == "wrong" and verdict.diff_mask is not None:
                        for other in self.ref.model.params:  # the rest of the parameters, for the downstream list
                            if "Δ" + other not in changes:
                                changes["Δ" + other] = _usable(b.updates[other], self._one_update(fn, info, k, other).got)
                        self._add_downstream(verdict, k, ("Δθ",), changes)
                    return verdict
                passed.append(verdict)
        if not passed:
            return Verdict(fn.name, "raised", "not checked: cancelled")
        return _summary(passed)


    def _one_update(self, fn: StageFunction, info: dict, k: int, pname: str) -> Verdict:
        b = self.ref.batches[k]
        values = {"name": pname, "theta": b.state[pname], "grad": b.arrays["d" + pname],
                  "v": b.state["v_" + pname], "learning_rate": b.learning_rate, "momentum": b.momentum}
        return self._one(fn, info, k, values, [b.updates[pname]], [], result_names=("Δ" + pname,))


def _usable(expected, got) -> np.ndarray:
    """The learner's result as an array to swap in, or the reference where it cannot be (not numbers, other shape)."""
    e = np.asarray(expected)
    if isinstance(got, np.ndarray) and got.dtype.kind in "biuf":
        g = got.reshape(()) if e.shape == () and got.size == 1 else got
        if g.shape == e.shape:
            return np.asarray(g, np.float64)
    return np.array(e, np.float64)


def _summary(passed: list[Verdict]) -> Verdict:
    """The verdict of a stage whose every result was exact or close: the largest difference seen."""
    worst = max(passed, key=lambda v: v.max_diff or 0.0)
    if all(v.kind == "exact" for v in passed):
        worst.text = "exact"
        worst.kind = "exact"
    return worst


# ---- the entry point ---------------------------------------------------------------------------------------


def _stage_names(model: FourGramModel) -> list[str]:
    return [s.name for s in model.stage_specs]


def check_source(source: str, path: str = "<learner>", corpus=None, *, batch_size: int = 100, seed: int = 1,
                 batches: int = DEFAULT_BATCHES, stage: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 memory_mb: int = DEFAULT_MEMORY_MB, config: Config | None = None,
                 cancel: threading.Event | None = None,
                 on_verdict: Callable[[Verdict], None] | None = None) -> list[Verdict]:
    """Check every stage function of ``source`` (or only ``stage``); one Verdict per function, in stage order.

    ``corpus`` defaults to the built-in demo corpus; ``config`` to the default
    network with ``batch_size`` and ``seed``. Each call of a learner's function
    may take ``timeout`` seconds and add ``memory_mb`` of memory. Raises
    CheckFileError for a syntax error, a file whose top-level code fails, no
    stage function, or a ``stage`` the file does not define. ``cancel`` (an
    Event) stops the check within a tenth of a second, even in the middle of a
    call, and the verdicts so far are returned; ``on_verdict`` gets each
    verdict as it is made.
    Safe to call from a worker thread.
    """
    if corpus is None:
        from .corpus import load_demo

        corpus = load_demo()
    if config is None:
        config = Config(batch_size=int(batch_size), seed=int(seed))
    config = config.validate()
    if stage is not None:
        model_names = _stage_names(FourGramModel(["a", "b"], config))
        if stage not in model_names:
            raise CheckFileError(f"no stage called {stage!r}; the stages are: {', '.join(model_names)}")
    with Sandbox(source, path, timeout=timeout, memory_mb=memory_mb, cancel=cancel) as sandbox:
        loaded = sandbox.load()
        if loaded.kind == "cancelled":
            return []
        _raise_for_load(loaded, path, sandbox.load_timeout)
        ref = Reference(corpus, config, batches)
        defined = loaded.functions
        wanted = [f for f in ref.functions.values() if f.name in defined and (stage is None or f.name == stage)]
        if not wanted:
            if stage is not None:
                raise CheckFileError(f"{path} has no function {stage}")
            deeper = [n for n in defined if n in _other_depths(config)]
            hint = (f"; {deeper[0]} is a stage of a network with {_other_depths(config)[deeper[0]]} hidden layers "
                    "(--hidden-dims)" if deeper else "")
            raise CheckFileError(f"{path} defines no stage function of this network{hint} (its stages: "
                                 f"{', '.join(ref.functions)})")
        run = _Run(ref, sandbox, path, timeout, cancel)
        out = []
        for fn in wanted:
            if cancel is not None and cancel.is_set():
                break
            info = (sandbox.loaded.functions if sandbox.loaded is not None else defined).get(fn.name, defined[fn.name])
            try:
                verdict = run.stage(fn, info)
            except _Cancelled:  # the call under way was stopped: no verdict for its stage
                break
            out.append(verdict)
            if on_verdict is not None:
                on_verdict(verdict)
        return out


def _other_depths(config: Config) -> dict[str, int]:
    """Stage names of networks of other depths than ``config``'s: {name: the fewest hidden layers that have it}."""
    from .model import MAX_HIDDEN_LAYERS

    mine = set(_stage_names(FourGramModel(["a", "b"], config)))
    out: dict[str, int] = {}
    for depth in range(MAX_HIDDEN_LAYERS + 1):
        other = Config(hidden_dims=(1,) * depth, activations=config.activations[:1] or ("sigmoid",))
        for name in _stage_names(FourGramModel(["a", "b"], other)):
            if name not in mine:
                out.setdefault(name, depth)
    return out


def _raise_for_load(loaded: CallResult, path: str, timeout: float) -> None:
    if loaded.kind == "loaded":
        return
    err = loaded.error or {}
    line = err.get("line")
    at = f" line {line}" if line else ""
    if loaded.kind == "syntax":
        text = f": {err['text']}" if err.get("text") else ""
        raise CheckFileError(f"{path}{at}: {err.get('type', 'SyntaxError')}: {err.get('message', '')}{text}"
                             .replace("\n", " "), line)
    if loaded.kind == "raised":
        message = f"{err.get('type')}: {err.get('message')}" if err.get("message") else err.get("type", "")
        raise CheckFileError(f"{path}{at}: running the file raised {message}".replace("\n", " "), line)
    if loaded.kind == "timed out":
        raise CheckFileError(f"{path}: running the file's top-level code took more than {timeout:g} s")
    raise CheckFileError(f"{path}: {err.get('message', 'the file could not be run')}")


def read_source(path) -> str:
    """The text of a learner's file; CheckFileError (one line) when it cannot be read."""
    from pathlib import Path

    p = Path(path).expanduser()
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise CheckFileError(f"{path} is a folder, not a Python file") from None
    except FileNotFoundError:
        raise CheckFileError(f"no such file: {path}") from None
    except OSError as err:
        raise CheckFileError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CheckFileError(f"{path} is not UTF-8 text (byte {err.start}): not a Python file?") from None


def check_file(path, corpus=None, **kw) -> list[Verdict]:
    """``check_source`` on the file at ``path``."""
    return check_source(read_source(path), str(path), corpus, **kw)


# ---- the gallery of classic bugs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryBug:
    """One file of assets/bugs: the stage it breaks, the verdict it gets and words of the cause it names.

    ``title`` is the first line of its docstring; ``text`` the whole file.
    """

    path: object
    title: str
    stage: str
    verdict: str
    cause: str
    text: str


def gallery() -> list[GalleryBug]:
    """The gallery of classic bugs (assets/bugs), in file order; ``correct.py`` is the reference answer, not listed.

    Every file starts with ``# stage:``, ``# verdict:`` and ``# cause:`` lines.
    """
    from .corpus import assets_dir

    out = []
    for path in sorted((assets_dir() / "bugs").glob("*.py")):
        if path.name == "correct.py":
            continue
        text = path.read_text(encoding="utf-8")
        meta = dict(re.findall(r"^# (stage|verdict|cause): (.+)$", text, flags=re.M))
        if set(meta) != {"stage", "verdict", "cause"}:
            raise CheckFileError(f"{path.name}: a gallery file starts with # stage:, # verdict: and # cause: lines")
        doc = re.search(r'"""(.+?)$', text, flags=re.M)
        out.append(GalleryBug(path, doc.group(1).strip() if doc else path.stem, meta["stage"].strip(),
                              meta["verdict"].strip(), meta["cause"].strip(), text))
    return out
