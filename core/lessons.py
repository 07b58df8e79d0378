"""Lesson mode's core: lesson files, the learner-sized minibatch, what its tables show, questions, the 5×3 sketch.

Lessons are data. Each chapter is one Markdown file under ``assets/lessons/``
(read in file-name order), written as::

    ---
    title: The forward pass
    panel: matrix_view
    ---

    ## Three words become one vector
    stage: embed
    show: x, W_emb, e
    question: shape

    Any Markdown text: what happens, why, what to notice in these numbers.

The front matter (between the two ``---`` lines) holds ``title`` (required)
and ``panel``, the Explorer panel the chapter's last step offers to open
(one of ``PANELS``). Every ``## heading`` starts a step. Its first lines,
up to the first blank line, are ``key: value`` settings:

* ``stage``: the stage of the minibatch the step shows (the stage names of
  core/stages.py: ``embed``, ``hidden_input``, ... ``update``);
* ``show``: the arrays, operands first and the result last (names of the
  network's arrays: ``x``, ``W_emb``, ``e``, ``W_h``, ``b_h``, ``z_h``, ...;
  default: what the stage produces);
* ``question``: a predict-then-reveal question asked before the result is
  shown, one of ``QUESTION_KINDS`` (generated from the actual minibatch);
* ``widget``: instead of tables, one of ``WIDGETS``: ``sketch`` (the 5×3
  embedding sketch), ``gradcheck`` (a finite-difference check), ``train``
  (the full-size network trains).

Everything after the settings is the step's text. A malformed file raises
``LessonError`` naming the file and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import LessonError
from .gradcheck import check_entry, gradient_name
from .layers import Activation, Linear
from .model import Config, FourGramModel
from .repeats import next_repeat
from .specs import context_column, format_value, operand, subscript
from .stages import run_stages
from .trainer import Trainer

QUESTION_KINDS = ("shape", "nonzero_rows", "repeat_sum", "sign", "bigger")
WIDGETS = ("tables", "sketch", "gradcheck", "train")
PANELS = ("network_view", "matrix_view", "embedding_grad_view", "loss_view", "predictions_view",
          "hyperparams_view", "gradcheck_view", "health_view", "embedding_map_view")
FRONT_KEYS = ("title", "panel")
STEP_KEYS = ("stage", "show", "question", "widget")

# The learner-sized network: every matrix but the V-wide ones is a table a person can read.
# (Weights drawn larger than the exercise's 0.01, so that the numbers of one minibatch differ visibly.)
LESSON_CONFIG = Config(embed_dim=4, hidden_dims=(6,), batch_size=2, init_std=0.3, seed=1)
DIGITS = 4  # significant digits of a number in a lesson's tables
FD_STEP = 1e-4  # the nudge h of the lesson's finite-difference check


def lessons_dir() -> Path:
    """The folder of the built-in lessons (``assets/lessons``, shipped as ``core/assets/lessons``)."""
    from .corpus import assets_dir

    return assets_dir() / "lessons"


# ---- the files -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    path: str  # the file it comes from
    line: int  # the line of its heading
    stage: str | None = None
    show: tuple[str, ...] = ()
    question: str | None = None
    widget: str = "tables"

    @property
    def where(self) -> str:
        """'02_loss.md, line 14': where a teacher edits this step."""
        return f"{Path(self.path).name}, line {self.line}"


@dataclass(frozen=True)
class Chapter:
    title: str
    path: str
    steps: tuple[Step, ...]
    panel: str | None = None


_SETTING = re.compile(r"^([A-Za-z_]+)\s*:\s*(.*)$")


def parse_lesson(text: str, path, stages=None, arrays=None) -> Chapter:
    """One lesson file's text → a Chapter. ``stages`` and ``arrays``: the names a step may use (None: any)."""
    lines = text.splitlines()

    def fail(line: int, what: str):
        raise LessonError(path, line, what)

    if not lines or lines[0].strip() != "---":
        fail(1, "a lesson file starts with a front matter: a line '---', 'title: ...', then '---'")
    front: dict[str, str] = {}
    i = 1
    while i < len(lines) and lines[i].strip() != "---":
        raw = lines[i].strip()
        if raw.startswith("#"):
            fail(i + 1, "the front matter is not closed by a line '---' before this heading")
        if raw:
            m = _SETTING.match(raw)
            if not m:
                fail(i + 1, f"expected 'key: value' in the front matter, found {raw!r}")
            key, value = m.group(1).lower(), m.group(2).strip()
            if key not in FRONT_KEYS:
                fail(i + 1, f"unknown front-matter key {key!r} (known: {', '.join(FRONT_KEYS)})")
            front[key] = value
        i += 1
    if i >= len(lines):
        fail(len(lines), "the front matter is not closed by a line '---'")
    if not front.get("title"):
        fail(i + 1, "the front matter has no 'title: ...'")
    panel = front.get("panel") or None
    if panel is not None and panel not in PANELS:
        fail(_line_of(lines, "panel:") or 1, f"unknown panel {panel!r} (known: {', '.join(PANELS)})")

    steps: list[Step] = []
    i += 1
    while i < len(lines) and not lines[i].startswith("## "):
        if lines[i].strip() and not lines[i].startswith("# "):
            fail(i + 1, "text before the first step: every step starts with a line '## title'")
        i += 1
    while i < len(lines):
        head = i
        title = lines[i][3:].strip()
        if not title:
            fail(i + 1, "a step heading '## ' has no title")
        i += 1
        settings: dict[str, tuple[str, int]] = {}
        while i < len(lines) and lines[i].strip():
            m = _SETTING.match(lines[i].strip())
            if not m or m.group(1).lower() not in STEP_KEYS:
                if not settings and not m:
                    break  # no settings: the text starts right away
                if m:
                    fail(i + 1, f"unknown step key {m.group(1)!r} (known: {', '.join(STEP_KEYS)})")
                break
            settings[m.group(1).lower()] = (m.group(2).strip(), i + 1)
            i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("## "):
            body.append(lines[i])
            i += 1
        steps.append(_step(title, "\n".join(body).strip(), str(path), head + 1, settings, stages, arrays, fail))
    if not steps:
        fail(len(lines), "the lesson has no steps (a step starts with a line '## title')")
    return Chapter(front["title"], str(path), tuple(steps), panel)


def _line_of(lines, prefix: str) -> int | None:
    for n, line in enumerate(lines, 1):
        if line.strip().startswith(prefix):
            return n
    return None


def _step(title, text, path, line, settings, stages, arrays, fail) -> Step:
    stage = question = None
    show: tuple[str, ...] = ()
    widget = "tables"
    if "stage" in settings:
        stage, n = settings["stage"]
        if stages is not None and stage not in stages:
            fail(n, f"unknown stage {stage!r} (known: {', '.join(stages)})")
    if "show" in settings:
        value, n = settings["show"]
        show = tuple(s.strip() for s in value.split(",") if s.strip())
        for name in show:
            if arrays is not None and name not in arrays:
                fail(n, f"unknown array {name!r} in 'show'")
    if "question" in settings:
        question, n = settings["question"]
        if question not in QUESTION_KINDS:
            fail(n, f"unknown question {question!r} (known: {', '.join(QUESTION_KINDS)})")
        if stage is None:
            fail(n, "a question needs the step's 'stage: ...'")
    if "widget" in settings:
        widget, n = settings["widget"]
        if widget not in WIDGETS:
            fail(n, f"unknown widget {widget!r} (known: {', '.join(WIDGETS)})")
    if widget == "tables" and stage is None and not text:
        fail(line, "a step needs a 'stage: ...', a 'widget: ...' or some text")
    return Step(title, text, path, line, stage, show, question, widget)


def load_lessons(folder=None, stages=None, arrays=None) -> list[Chapter]:
    """Every ``*.md`` file of ``folder`` (default: the built-in lessons), in file-name order."""
    folder = Path(folder) if folder is not None else lessons_dir()
    files = sorted(p for p in folder.glob("*.md") if p.name.lower() != "readme.md")
    if not files:
        raise LessonError(folder / "*.md", 1, "no lesson files in this folder")
    chapters = []
    for p in files:
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise LessonError(p, 1, f"cannot be read ({err.__class__.__name__})") from None
        chapters.append(parse_lesson(text, p, stages, arrays))
    return chapters


# ---- the learner-sized minibatch ------------------------------------------------------------------------------


class LessonBatch:
    """One minibatch of the learner-sized network, every stage computed, and everything the tables read.

    The batch is the teaching batch: the first minibatch from the start in
    which a word occurs twice (at two different positions when there is one),
    found as the Explorer's Teaching batch finds it (``core.repeats.next_repeat``).
    """

    def __init__(self, corpus, config: Config = LESSON_CONFIG):
        trainer = Trainer(corpus, config)
        skip, _kind = next_repeat(trainer)
        self.batch_number = trainer.step + (skip or 0)
        x, t = trainer.batch_at(self.batch_number)
        self.x, self.t = np.array(x), np.array(t)
        self.vocab = list(corpus.vocab)
        self.model = trainer.model
        self.weights = {k: v.copy() for k, v in self.model.params.items()}  # before the update
        self.stages = {}
        for stage in run_stages(self.model, self.x, self.t):
            self.stages[stage.name] = stage
        self.stage_names = tuple(s.name for s in self.model.stage_specs)
        self.tensors: dict[str, np.ndarray] = dict(self.weights)
        for stage in self.stages.values():
            self.tensors.update(stage.arrays)
        self.tensors["L"] = np.array(self.stages["loss"].extras["L"])

    # ---- arrays ----
    def array(self, name: str) -> np.ndarray:
        if name not in self.tensors:
            raise KeyError(f"no array {name!r} in the lesson's minibatch")
        return self.tensors[name]

    def axes(self, name: str) -> tuple[str, ...]:
        spec = self.model.specs.get(name)
        return spec.axes if spec is not None else ()

    def shows(self, step: Step) -> tuple[str, ...]:
        """The arrays the step shows, operands first, the result last."""
        if step.show:
            return step.show
        if step.stage is None:
            return ()
        return tuple(self.model.stage_spec(step.stage).arrays)

    def results(self, step: Step) -> tuple[str, ...]:
        """Of the arrays the step shows, those its stage computes (the others are its operands)."""
        names = self.shows(step)
        made = set(self.model.stage_spec(step.stage).arrays) if step.stage else set()
        for spec in self.model.stage_specs:  # what an earlier stage made is an operand here (de, t)
            if spec.name == step.stage:
                break
            made -= set(spec.arrays)
        made.discard("x"), made.discard("t")
        if step.stage == "loss":
            made.add("L")
        return tuple(n for n in names if n in made) or names[-1:]

    def result_of(self, step: Step) -> str | None:
        """What a question asks about: the step's first result."""
        results = self.results(step)
        return results[0] if results else None

    def words_that_matter(self) -> list[int]:
        """The batch's context words and targets (rows of V×d arrays shown), in vocabulary order."""
        return sorted(set(self.x.ravel().tolist()) | set(self.t.tolist()))

    def columns_that_matter(self, top: int = 2) -> list[int]:
        """Of a V-wide array: the targets and each example's most probable words, in vocabulary order."""
        p = self.tensors["p"]
        cols = set(self.t.tolist())
        for row in p:
            cols.update(np.argsort(-row, kind="stable")[:top].tolist())
        return sorted(cols)

    def part(self, name: str) -> "TablePart":
        """What a lesson table shows of array ``name``: all of it, but V-long axes cut to the words that matter."""
        a = np.asarray(self.array(name))
        axes = self.axes(name)
        if a.ndim == 0:
            return TablePart(name, a.reshape(1, 1), [0], [0], ["L"], [""], False)
        if a.ndim == 1:
            a2 = a.reshape(1, -1)
            axes2 = ("", axes[0] if axes else "")
        else:
            a2, axes2 = a, (axes + ("", ""))[:2]
        rows = list(range(a2.shape[0]))
        cols = list(range(a2.shape[1]))
        cut = False
        if axes2[0] == "word":
            rows, cut = self.words_that_matter(), True
        if axes2[1] == "word":
            cols, cut = self.columns_that_matter(), True
        return TablePart(name, a2[np.ix_(rows, cols)], rows, cols,
                         [self.label(axes2[0], r) for r in rows], [self.label(axes2[1], c) for c in cols], cut,
                         one_d=a.ndim == 1)

    def label(self, axis: str, i: int) -> str:
        if axis == "word":
            return self.vocab[i]
        if axis == "example":
            return f"n={i}"
        if axis == "concat":
            k, c = context_column(i, self.model.config.embed_dim)
            return f"x{subscript(k)}·{c}"
        if axis == "unit":
            return f"j={i}"
        if axis == "embed":
            return f"i={i}"
        if axis == "position":
            return f"x{subscript(i + 1)}"
        return ""

    def entry_formula(self, name: str, index):
        """The formula of one entry with its real operands (core/specs.py ``EntryFormula``), or None."""
        extras = self.stages["update"].extras
        return self.model.entry_formula(name, index, self.tensors, weights=self.weights,
                                        velocity={k: np.zeros_like(v) for k, v in self.weights.items()},
                                        extras=extras, vocab=self.vocab)

    def entry_text(self, name: str, index) -> str:
        """What pointing at an entry writes: its arithmetic with the real numbers, or for an operand its value
        and what it is."""
        f = self.entry_formula(name, index)
        if f is not None and f.text:
            return f.text
        index = tuple(int(i) for i in index)
        value = number_text(np.asarray(self.array(name))[index]) if index or np.ndim(self.array(name)) == 0 else ""
        meaning = self.model.entry_meaning(name, index, self.x, self.t) if index else ""
        where = f"[{', '.join(str(i) for i in index)}]" if index else ""
        return f"{name}{where} = {value}" + (f": {meaning}" if meaning else "")

    def entry_sources(self, name: str, index) -> dict[str, list[tuple[int, ...]]]:
        """The entries of other arrays that entry ``name[index]`` is computed from: what pointing at it marks.

        ``{"e": [(n, 0), … (n, 11)], "W_h": [(0, j), … (11, j)], "b_h": [(j,)]}`` for ``z_h[n, j]``; the layers'
        own names (``LinearNames``, ``ActivationNames``), so a deeper network's arrays are found too. An entry
        made from nothing shown (a parameter, an input) gives ``{}``.
        """
        index = tuple(int(i) for i in index)
        T, d = self.tensors, self.model.config.embed_dim
        for layer in self.model.layers:
            if isinstance(layer, Linear):
                found = _linear_sources(layer.names, name, index, T)
            elif isinstance(layer, Activation):
                n = layer.names
                found = ({n.z: [index]} if name == n.h else
                         {n.dh: [index], n.h: [index]} if name == n.dz else None)
            else:  # the embedding
                found = _embedding_sources(name, index, T, d)
            if found is not None:
                return found
        z_o = self.model.output.names.z
        if name == "p":
            return {z_o: [(index[0], v) for v in range(T[z_o].shape[1])]}
        if name == "loss_n":
            (n,) = index
            return {"p": [(n, int(T["t"][n]))], "t": [(n,)]}
        if name == "L":
            return {"loss_n": [(n,) for n in range(T["loss_n"].shape[0])]}
        if name == "dz_o":
            return {"p": [index], "t": [(index[0],)]}
        if name.startswith("Δ") and name[1:] in self.weights:
            return {"d" + name[1:]: [index]}
        return {}

    def shapes_text(self, step: Step, hide_results: bool = False) -> str:
        """The step's shape line (``Stage.shapes``: 'e: N×3d = 2×12'); with ``hide_results`` each result's shape is
        '?' ('e: ?'), for a shape question not answered yet."""
        shapes = self.stages[step.stage].shapes
        if not hide_results:
            return shapes
        results = set(self.results(step))
        parts = []
        for piece in shapes.split(";"):
            label, sep, _shape = piece.strip().partition(":")
            hidden = sep and {n.strip() for n in label.split(",")} & results
            parts.append(f"{label}: ?" if hidden else piece.strip())
        return ";  ".join(parts)

    def context_text(self, n: int) -> str:
        words = " ".join(self.vocab[w] for w in self.x[n])
        return f"'{words}' → '{self.vocab[self.t[n]]}'"

    def gradient_check(self, name: str = "W_h", index=(0, 0)):
        """A central finite difference of one entry on this minibatch (``core.gradcheck.check_entry``)."""
        fresh = FourGramModel(self.vocab, self.model.config)
        for k, v in self.weights.items():
            fresh.params[k][...] = v
        return check_entry(fresh, self.x, self.t, name, index)


    def known_names(self) -> tuple[tuple[str, ...], set[str]]:
        """The stage names and array names a lesson file may use with this minibatch."""
        return self.stage_names, set(self.tensors) | set(self.model.specs)

    # ---- checking a gradient by finite differences ----
    def checkable(self) -> tuple[str, ...]:
        """The parameters a lesson's finite-difference check can nudge."""
        return tuple(self.weights)

    def finite_difference(self, name: str = "W_h", index=(0, 0), h: float = FD_STEP) -> "FiniteDifference":
        """Nudge ``name[index]`` by ±h on this minibatch (the weights before its update), measure both losses.

        The losses are the mean cross-entropy of the minibatch, computed in
        float64 by a fresh copy of the network: the lesson's model is left alone.
        """
        if name not in self.weights:
            raise KeyError(f"no parameter {name!r} in the lesson's network (known: {', '.join(self.weights)})")
        index = tuple(int(i) for i in np.atleast_1d(index))
        fresh = FourGramModel(self.vocab, self.model.config, dtype=np.float64)
        for k, v in self.weights.items():
            fresh.params[k][...] = v
        theta = float(self.weights[name][index])
        losses = []
        for sign in (1, -1):
            fresh.params[name][index] = theta + sign * h
            losses.append(float(fresh.forward(self.x, self.t)))
        fresh.params[name][index] = theta
        grad = gradient_name(self.model, name)
        return FiniteDifference(name, grad, index, theta, h, losses[0], losses[1], float(self.tensors[grad][index]),
                                self.model.entry_meaning(name, index, self.x, self.t))

    def pick_entry(self, name: str, rng: np.random.Generator, avoid=None) -> tuple[int, ...]:
        """A random entry of parameter ``name`` among the larger half of its gradient on this minibatch (not ``avoid``).

        Along an axis of words only the words the minibatch is about: its
        context words and targets, and the words it finds most probable.
        """
        grad = np.asarray(self.tensors[gradient_name(self.model, name)])
        words = sorted(set(self.words_that_matter()) | set(self.columns_that_matter()))
        ranges = [words if axis == "word" else range(n) for axis, n in zip(self.axes(name), grad.shape)]
        if len(ranges) < grad.ndim:
            ranges = [range(n) for n in grad.shape]
        cells = [tuple(int(i) for i in c) for c in np.ndindex(*(len(r) for r in ranges))]
        cells = [tuple(r[i] for r, i in zip(ranges, c)) for c in cells]
        usable = [c for c in cells if grad[c] != 0 and c != avoid] or [c for c in cells if c != avoid] or cells
        # Of those, the larger half: a tiny entry's two losses differ by little more than their rounding.
        size = np.abs([grad[c] for c in usable])
        usable = [c for c, g in zip(usable, size) if g >= np.median(size)]
        return usable[int(rng.integers(len(usable)))]


@dataclass(frozen=True)
class FiniteDifference:
    """One entry checked by a central difference: the two nudged losses, their quotient, the backprop value."""

    name: str  # the parameter, W_h
    gradient: str  # its gradient, dW_h
    index: tuple[int, ...]
    value: float  # θ, the entry before the nudge
    h: float
    loss_plus: float  # L(θ + h)
    loss_minus: float  # L(θ − h)
    analytic: float  # backprop's dW entry
    meaning: str = ""  # what the entry is, in words

    @property
    def numeric(self) -> float:
        """(L(θ + h) − L(θ − h)) / 2h."""
        return (self.loss_plus - self.loss_minus) / (2 * self.h)

    @property
    def rel_error(self) -> float:
        """|a − n| / max(|a|, |n|); 0 when both are 0."""
        scale = max(abs(self.analytic), abs(self.numeric))
        return 0.0 if scale == 0 else abs(self.analytic - self.numeric) / scale

    @property
    def digits(self) -> int:
        """How many significant digits the two agree to (16: exactly)."""
        r = self.rel_error
        return 16 if r == 0 else max(0, min(16, int(np.floor(-np.log10(r)))))

    def label(self, name: str | None = None) -> str:
        return f"{name or self.name}[{', '.join(map(str, self.index))}]"

    @property
    def verdict(self) -> str:
        if self.rel_error < 1e-6:
            return (f"They agree to {self.digits} significant digits: backprop computed this entry right "
                    "(the rest of the difference is the rounding of the two losses and h's own error, about h²).")
        if self.rel_error < 1e-3:
            return "They agree only roughly: suspicious. A correct backward pass agrees to about 7 digits or more."
        return "They disagree: the backward pass has a bug for this entry."

def open_course(corpus, folder=None) -> tuple["LessonBatch", list[Chapter], str | None]:
    """The lesson minibatch of ``corpus`` and the chapters of ``folder`` (default: the built-in lessons).

    Returns ``(batch, chapters, problem)``: ``problem`` is the one line of a
    ``LessonError`` (naming the file and the line) with no chapters, else None.
    """
    batch = LessonBatch(corpus)
    try:
        return batch, load_lessons(folder, *batch.known_names()), None
    except LessonError as err:
        return batch, [], str(err)


def _linear_sources(n, name: str, index, T):
    """A linear layer's entries: z = x·W + b, dW = xᵀ·dz, db = Σₙ dz, dx = dz·Wᵀ."""
    if name == n.z:
        e, j = index
        return {n.x: [(e, i) for i in range(T[n.x].shape[1])], n.W: [(i, j) for i in range(T[n.x].shape[1])],
                n.b: [(j,)]}
    if name == "d" + n.W:
        i, j = index
        return {n.x: [(e, i) for e in range(T[n.dz].shape[0])], n.dz: [(e, j) for e in range(T[n.dz].shape[0])]}
    if name == "d" + n.b:
        (j,) = index
        return {n.dz: [(e, j) for e in range(T[n.dz].shape[0])]}
    if name == n.dx:
        e, i = index
        return {n.dz: [(e, j) for j in range(T[n.dz].shape[1])], n.W: [(i, j) for j in range(T[n.dz].shape[1])]}
    return None


def _embedding_sources(name: str, index, T, d: int):
    """e[n, c] is W_emb[x[n, k], i]; dW_emb[v, i] adds de[n, block k, i] over the places (n, k) where x is v."""
    if name == "e":
        n, c = index
        k, i = divmod(c, d)
        return {"x": [(n, k)], "W_emb": [(int(T["x"][n, k]), i)]}
    if name == "dW_emb":
        v, i = index
        places = [(int(n), int(k)) for n, k in np.argwhere(T["x"] == v)]
        return {"x": places, "de": [(n, k * d + i) for n, k in places]}
    return None


@dataclass
class TablePart:
    """The part of an array a lesson table shows: ``values[r, c]`` is ``array[rows[r], cols[c]]``."""

    name: str
    values: np.ndarray
    rows: list[int]
    cols: list[int]
    row_labels: list[str]
    col_labels: list[str]
    cut: bool  # some rows or columns are left out (the full heatmap is one click away)
    one_d: bool = False

    def index_of(self, r: int, c: int) -> tuple[int, ...]:
        """The array index of table cell (r, c)."""
        if self.one_d:
            return (self.cols[c],)
        if self.values.shape == (1, 1) and self.row_labels == ["L"]:
            return ()
        return (self.rows[r], self.cols[c])


def number_text(v: float) -> str:
    """A number as a lesson table writes it."""
    return format_value(v, DIGITS)


# ---- predict, then reveal -------------------------------------------------------------------------------------


@dataclass
class Question:
    kind: str
    prompt: str
    choices: list[str]
    answer: int  # the index of the correct choice
    why: str
    entries: list[tuple[int, ...]] = field(default_factory=list)  # the entries it is about (sign, bigger)

    def check(self, choice: int) -> tuple[bool, str]:
        right = int(choice) == self.answer
        return right, ("Right. " if right else f"Not quite: it is {self.choices[self.answer]}. ") + self.why


def _shape_text(shape) -> str:
    return "×".join(str(s) for s in shape) or "a single number"


# What one index along an axis stands for: why an array has that many rows or columns.
AXIS_COUNTS = {
    "example": "one per example of the minibatch",
    "position": "one per context word",
    "word": "one per vocabulary word",
    "embed": "one per number of a word's vector",
    "concat": "one per number of the three context words' vectors, side by side",
    "unit": "one per hidden unit",
}


def shape_reason(batch: LessonBatch, name: str) -> str:
    """Why array ``name`` has its shape, axis by axis: 'e is 2×12: 2 rows, one per example (N = 2); 12 columns, …'."""
    spec = batch.model.specs[name]
    shape = np.asarray(batch.array(name)).shape
    what = ("rows", "columns") if len(shape) == 2 else ("entries",) * len(shape)
    parts = []
    for axis, symbol, n, kind in zip(spec.axes, spec.dims, shape, what):
        if axis not in AXIS_COUNTS:
            raise KeyError(f"no words for how many entries the axis {axis!r} has (AXIS_COUNTS)")
        parts.append(f"{n} {kind}, {AXIS_COUNTS[axis]} ({symbol} = {n})")
    text = f"{name} is {_shape_text(shape)}: " + "; ".join(parts) + "."
    if spec.of is not None and spec.role == "gradient":
        of = batch.model.specs[spec.of]
        text += (f" A gradient has the shape of what it is the gradient of: {spec.of} is "
                 f"{'×'.join(of.dims)} = {_shape_text(np.asarray(batch.array(spec.of)).shape)}.")
    return text


def make_question(kind: str, step: Step, batch: LessonBatch, rng: np.random.Generator) -> Question:
    """A question about the step's result, generated from the actual minibatch."""
    if kind not in QUESTION_KINDS:
        raise ValueError(f"unknown question kind {kind!r}")
    name = batch.result_of(step)
    if kind == "repeat_sum" and not _repeated(batch):
        kind = "nonzero_rows"
    if kind == "shape":
        shape = batch.array(name).shape
        wrong = {tuple(batch.array(n).shape) for n in batch.tensors if batch.array(n).ndim in (1, 2)}
        wrong |= {s[::-1] for s in wrong}
        wrong.discard(tuple(shape))
        others = sorted(wrong)
        rng.shuffle(others)
        others.sort(key=lambda s: len(s) != len(shape))  # the same number of axes first
        picks = [tuple(shape)] + others[:3]
        return _shuffled(
            "shape", f"What shape will {name} have?", [_shape_text(s) for s in picks], 0,
            f"{shape_reason(batch, name)}\n{batch.stages[step.stage].shapes}.", rng)
    if kind == "nonzero_rows":
        g = batch.tensors["dW_emb"]
        nonzero = [int(v) for v in np.flatnonzero(np.any(g != 0, axis=1))]
        words = lambda rows: ", ".join(f"'{batch.vocab[v]}'" for v in rows)  # noqa: E731
        x0 = sorted(set(batch.x[0].tolist()))
        with_targets = sorted(set(nonzero) | set(batch.t.tolist()))
        options = [nonzero, x0, with_targets, sorted(set(batch.t.tolist()))]
        texts = []
        for o in options:
            if words(o) not in texts:
                texts.append(words(o))
        return _shuffled(
            "nonzero_rows", "Which rows of dW_emb will be non-zero?", texts, 0,
            "Only the words of the contexts get a gradient: the rows of W_emb the forward pass read. "
            "The targets are not inputs; every other row stays 0.", rng)
    if kind == "repeat_sum":
        v, places = _repeated(batch)[0]
        where = " and ".join(f"example {n}, position {k + 1}" for n, k in places)
        d = batch.model.config.embed_dim
        de = batch.tensors["de"]
        parts = [de[n, k * d:(k + 1) * d][0] for n, k in places]
        total = batch.tensors["dW_emb"][v, 0]
        why = (f"Its row of W_emb was read at {len(places)} places, so a change to that row changes the loss through "
               "every one of them, and the derivative of a sum is the sum of the derivatives: the row of dW_emb adds "
               f"the {len(places)} blocks of de.\ndW_emb['{batch.vocab[v]}', 0] = "
               + " + ".join(operand(p) for p in parts) + f" = {number_text(total)}.\n"
               "Writing dW[x] = de would keep only the last one.")
        choices = [f"the sum of its {len(places)} contributions", "the last contribution only (the others overwritten)",
                   "the mean of its contributions"]
        return _shuffled("repeat_sum", f"'{batch.vocab[v]}' occurs at {where}. Its row of dW_emb is…", choices, 0,
                         why, rng)
    part = batch.part(name)
    cells = [(r, c) for r in range(part.values.shape[0]) for c in range(part.values.shape[1])]
    values = part.values
    if kind == "sign":
        usable = [rc for rc in cells if abs(values[rc]) > 1e-12]
        r, c = usable[int(rng.integers(len(usable)))]
        idx = part.index_of(r, c)
        v = float(values[r, c])
        label = _entry_label(part, r, c)
        choices = ["positive", "negative"]
        return Question("sign", f"Will {label} be positive or negative?", choices, 0 if v > 0 else 1,
                        _why(batch, name, idx, v), [idx])
    # bigger
    for _ in range(50):
        a, b = rng.choice(len(cells), size=2, replace=False)
        if values[cells[a]] != values[cells[b]]:
            break
    (ra, ca), (rb, cb) = cells[int(a)], cells[int(b)]
    va, vb = float(values[ra, ca]), float(values[rb, cb])
    la, lb = _entry_label(part, ra, ca), _entry_label(part, rb, cb)
    ia, ib = part.index_of(ra, ca), part.index_of(rb, cb)
    why = "\n" + _why(batch, name, ia, va) + "\n" + _why(batch, name, ib, vb)  # (a line each)
    return Question("bigger", f"Which will be bigger: {la} or {lb}?", [la, lb], 0 if va > vb else 1, why, [ia, ib])


def _repeated(batch: LessonBatch):
    contrib = batch.stages["embedding_gradient"].contributions or {}
    return sorted((v, places) for v, places in contrib.items() if len(places) >= 2)


def _entry_label(part: TablePart, r: int, c: int) -> str:
    if part.one_d:
        return f"{part.name}[{part.col_labels[c]}]"
    return f"{part.name}[{part.row_labels[r]}, {part.col_labels[c]}]"


def _why(batch: LessonBatch, name: str, index, value: float) -> str:
    f = batch.entry_formula(name, index)
    text = f.text.replace("\n", " ") if f is not None else ""
    return text or f"{name}{list(index)} = {number_text(value)}."


def _shuffled(kind, prompt, choices, answer, why, rng) -> Question:
    order = rng.permutation(len(choices))
    shuffled = [choices[i] for i in order]
    return Question(kind, prompt, shuffled, int(np.flatnonzero(order == answer)[0]), why)


@dataclass
class Tally:
    """Predictions right and asked so far."""

    right: int = 0
    asked: int = 0

    def add(self, correct: bool) -> None:
        self.asked += 1
        self.right += bool(correct)

    def text(self) -> str:
        return f"{self.right} of {self.asked} predictions right" if self.asked else "no predictions made"


# ---- now train it --------------------------------------------------------------------------------------------


TRAIN_WINDOW = 100  # minibatches averaged for "the loss now" and "the loss at the start"


@dataclass(frozen=True)
class TrainingProgress:
    """What the lesson's training step shows of a run: a short curve and the loss then and now."""

    steps: int  # minibatches trained
    x: np.ndarray  # the curve: the middle minibatch of each block...
    y: np.ndarray  # ... and the block's mean training cross-entropy
    first: float | None  # mean CE of the first TRAIN_WINDOW minibatches (None before any)
    last: float | None  # ... and of the last ones

    def view_range(self, empty_top: float = 1.0) -> tuple[tuple[float, float], tuple[float, float]]:
        """The plot's ((x0, x1), (y0, y1)): from minibatch 0 to the last one trained (at least TRAIN_WINDOW), and
        every point of the curve with a margin above and below; before any, the loss from 0 to ``empty_top``."""
        x1 = float(max(self.steps, TRAIN_WINDOW))
        x0 = -0.02 * x1  # (a little room left of 0: the axis writes its 0)
        if not len(self.y):
            return (x0, x1), (0.0, float(empty_top))
        lo, hi = float(np.min(self.y)), float(np.max(self.y))
        margin = 0.08 * (hi - lo) if hi > lo else max(0.05, 0.05 * abs(hi))
        return (x0, x1), (lo - margin, hi + margin)

    def text(self) -> str:
        if self.first is None:
            return "Not trained yet: press Train."
        if self.steps <= TRAIN_WINDOW:
            return f"{self.steps} minibatches trained; mean loss so far {format_value(self.last, 4)}."
        return (f"{self.steps:,} minibatches trained. Loss of the first {TRAIN_WINDOW}: {format_value(self.first, 4)};"
                f" of the last {TRAIN_WINDOW}: {format_value(self.last, 4)}.")


def training_progress(train_ce, points: int = 300, window: int = TRAIN_WINDOW) -> TrainingProgress:
    """The curve of a run's training loss in at most ``points`` block means (non-finite losses left out)."""
    ce = np.asarray(train_ce, dtype=np.float64)
    steps = len(ce)
    idx = np.flatnonzero(np.isfinite(ce))
    if not len(idx):
        return TrainingProgress(steps, np.empty(0), np.empty(0), None, None)
    good = ce[idx]
    size = max(1, -(-len(good) // points))
    blocks = len(good) // size * size  # (at least one block: size ≤ len(good))
    x = idx[:blocks].reshape(-1, size).mean(axis=1)
    y = good[:blocks].reshape(-1, size).mean(axis=1)
    if blocks < len(good):  # the last, partial block
        x, y = np.append(x, idx[blocks:].mean()), np.append(y, good[blocks:].mean())
    return TrainingProgress(steps, x, y, float(good[:window].mean()), float(good[-window:].mean()))


# ---- the 5×3 sketch -------------------------------------------------------------------------------------------


SKETCH_INDEX = ((0, 3, 1, 2), (2, 1, 0, 4))


class EmbeddingSketch:
    """The classic embedding-layer sketch: a 5×3 table W, a 2×4 index matrix, forward gather, backward sum.

    ``delta`` is the gradient arriving at the gathered 2×4×3 array; the table's
    gradient adds δ[n, k] into row index[n, k] for every (n, k)
    (``gradient``); the overwrite ``dW[x] = δ`` keeps one per row (``naive``).
    """

    V, D = 5, 3

    def __init__(self, index=SKETCH_INDEX, seed: int = 3):
        rng = np.random.default_rng(seed)
        self.W = np.round(rng.uniform(-1, 1, (self.V, self.D)), 1) + 0.0  # (+ 0.0: no −0 on screen)
        self.index = np.array(index, dtype=int)
        self.delta = np.round(rng.uniform(-1, 1, self.index.shape + (self.D,)), 1) + 0.0

    def forward(self) -> np.ndarray:
        return self.W[self.index]  # (2, 4, 3)

    def set_index(self, n: int, k: int, v: int) -> None:
        if not 0 <= v < self.V:
            raise ValueError(f"an index of the sketch is a row 0..{self.V - 1}")
        self.index[n, k] = v

    def cycle_index(self, n: int, k: int) -> int:
        """The next row (after V − 1: row 0) for index[n, k]; returns it."""
        v = (int(self.index[n, k]) + 1) % self.V
        self.set_index(n, k, v)
        return v

    def contributions(self) -> dict[int, list[tuple[int, int]]]:
        out: dict[int, list[tuple[int, int]]] = {v: [] for v in range(self.V)}
        for (n, k), v in np.ndenumerate(self.index):
            out[int(v)].append((n, k))
        return out

    def gradient(self) -> np.ndarray:
        g = np.zeros_like(self.W)
        np.add.at(g, self.index, self.delta)
        return g

    def naive(self) -> np.ndarray:
        g = np.zeros_like(self.W)
        g[self.index] = self.delta
        return g

    def sum_rows(self) -> list[int]:
        """The rows whose gradient is a sum of two or more slices."""
        return [v for v, places in self.contributions().items() if len(places) >= 2]

    @staticmethod
    def symbol(n: int, k: int, i: int) -> str:
        return f"δ{subscript(n)}{subscript(k)}{subscript(i)}"

    def symbols(self, v: int, i: int = 0) -> str:
        """'δ₀₀₀ + δ₁₂₀': entry (v, i) of the gradient in symbols ('0' for an untouched row)."""
        places = self.contributions()[v]
        return " + ".join(self.symbol(n, k, i) for n, k in places) or "0"

    def numbers(self, v: int, i: int = 0) -> str:
        places = self.contributions()[v]
        return " + ".join(format_value(self.delta[n, k, i]) for n, k in places) or "0"

    def equation(self, v: int, i: int = 0) -> str:
        """Entry (v, i) of the gradient written out: 'dW[0, 0] = δ₀₀₀ + δ₁₂₀ = 0.9 + 0.9 = 1.8'."""
        head = f"dW[{v}, {i}]"
        places = self.contributions()[v]
        if not places:
            return f"{head} = 0 (row {v} is never gathered)"
        value = number_text(self.gradient()[v, i])
        if len(places) == 1:
            return f"{head} = {self.symbols(v, i)} = {value}"
        terms = " + ".join(operand(self.delta[n, k, i]) for n, k in places)
        return f"{head} = {self.symbols(v, i)} = {terms} = {value}"

    def overwrite_rows(self) -> list[int]:
        """The rows where the overwrite ``dW[x] = δ`` differs from the true gradient."""
        return [int(v) for v in np.flatnonzero(np.any(self.naive() != self.gradient(), axis=1))]

    def overwrite_kept(self, v: int) -> tuple[int, int] | None:
        """The place (n, k) whose δ the overwrite left in row v (None for a row never gathered)."""
        naive = self.naive()
        for n, k in reversed(self.contributions()[v]):
            if np.array_equal(naive[v], self.delta[n, k]):
                return n, k
        return None
