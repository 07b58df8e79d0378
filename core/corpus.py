"""Corpora: the real Hinton 4-gram data set, any plain-text file, and the built-in demo.

A :class:`Corpus` holds a vocabulary and three int32 arrays of rows
``(w₁, w₂, w₃, target)`` of 0-based vocabulary indices: ``train``, ``valid``
and ``test``. It always knows its name, where it came from and its sizes.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CorpusError

HINTON_FILES = ("raw_sentences.txt", "vocab.txt", "valid_data.csv", "test_data.csv")
HINTON_SIZES = (372_550, 46_568, 46_568)
DEFAULT_VOCAB_SIZE = 250
MAX_VOCAB_SIZE = 100_000
_SPLIT_SEED = 20131  # fixes the sentence split of text corpora


@dataclass
class Corpus:
    name: str  # what the window and the command line call it
    kind: str  # "hinton", "text", "demo" or "mat"
    source: str  # the folder or file it was read from
    vocab: list[str]
    train: np.ndarray  # (M, 4) int32: three context words, then the target
    valid: np.ndarray
    test: np.ndarray
    notes: list[str] = field(default_factory=list)  # what was skipped, and why

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def sizes(self) -> tuple[int, int, int]:
        return len(self.train), len(self.valid), len(self.test)

    def describe(self) -> str:
        a, b, c = self.sizes()
        return f"{self.name}: {len(self.vocab)} words, {a:,} training / {b:,} validation / {c:,} test 4-grams"

    def continuations(self, context) -> Counter:
        """How often each next word followed the three word indices ``context`` in the training set."""
        c = np.asarray(context).reshape(1, 3)
        rows = self.train[(self.train[:, :3] == c).all(axis=1)]
        return Counter(rows[:, 3].tolist())


# ---- the Hinton folder -------------------------------------------------------------------


def is_hinton_folder(path) -> bool:
    p = Path(path)
    return p.is_dir() and all((p / f).is_file() for f in HINTON_FILES)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CorpusError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CorpusError(f"{path} is not UTF-8 text") from None


def _read_index_csv(path: Path, vocab_size: int) -> np.ndarray:
    """Rows of 4 comma-separated 1-based word numbers, as 0-based indices (M, 4)."""
    text = _read_text(path)
    lines = text.split()
    try:
        values = np.array(text.replace(",", " ").split(), dtype=np.int64)
        ok = values.size == 4 * len(lines) and all(line.count(",") == 3 for line in lines)
    except ValueError:
        ok = False
    if ok and values.size and values.min() >= 1 and values.max() <= vocab_size:
        return values.astype(np.int32).reshape(-1, 4) - 1
    for lineno, line in enumerate(text.splitlines(), 1):  # find the first bad line, for the message
        parts = line.strip().split(",")
        if line.strip() and not (
            len(parts) == 4 and all(p.strip().isdigit() and 1 <= int(p) <= vocab_size for p in parts)
        ):
            break
    else:
        lineno = 0
    raise CorpusError(f"{path.name} line {lineno}: expected 4 comma-separated word numbers between 1 and {vocab_size}")


def load_hinton_folder(folder) -> Corpus:
    """The original split of the exercise: 372,550 / 46,568 / 46,568 4-grams, original vocabulary order.

    Training = every 4-gram of raw_sentences.txt minus the validation and test
    rows, as a multiset (the first occurrences of each removed row go).
    """
    folder = Path(folder)
    missing = [f for f in HINTON_FILES if not (folder / f).is_file()]
    if missing:
        raise CorpusError(f"{folder} is missing {', '.join(missing)} (see the README for the corpus layout)")
    vocab = [w.strip() for w in _read_text(folder / "vocab.txt").splitlines() if w.strip()]
    if len(set(vocab)) != len(vocab) or not vocab:
        raise CorpusError(f"{folder / 'vocab.txt'} must list distinct words, one per line")
    index = {w: i for i, w in enumerate(vocab)}
    V = len(vocab)
    lines = _read_text(folder / "raw_sentences.txt").lower().splitlines()
    tokenized = [line.split() for line in lines]
    flat = [w for tokens in tokenized for w in tokens]
    try:
        ids = np.array(list(map(index.__getitem__, flat)), dtype=np.int32)
    except KeyError as err:
        lineno = next(i for i, t in enumerate(tokenized, 1) if err.args[0] in t)
        raise CorpusError(f"raw_sentences.txt line {lineno}: {err.args[0]!r} is not in vocab.txt") from None
    all_grams = _sentence_grams(ids, np.fromiter(map(len, tokenized), dtype=np.int64, count=len(tokenized)))
    if not len(all_grams):
        raise CorpusError(f"{folder / 'raw_sentences.txt'} has no sentence of 4 or more words")
    valid = _read_index_csv(folder / "valid_data.csv", V)
    test = _read_index_csv(folder / "test_data.csv", V)
    train = _multiset_difference(all_grams, np.concatenate([valid, test]), V)
    if train is None:
        raise CorpusError(f"{folder}: the validation and test rows are not all 4-grams of raw_sentences.txt")
    notes = []
    if (len(train), len(valid), len(test)) != HINTON_SIZES:
        notes.append(
            "split sizes differ from the original exercise's "
            + " / ".join(f"{s:,}" for s in HINTON_SIZES)
        )
    return Corpus(
        name="Hinton 4-gram corpus",
        kind="hinton",
        source=str(folder),
        vocab=vocab,
        train=train,
        valid=valid,
        test=test,
        notes=notes,
    )


def _sentence_grams(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """All 4-grams (M, 4) of consecutive tokens within one sentence; ``ids`` is every sentence's tokens in turn."""
    if len(ids) < 4:
        return np.empty((0, 4), dtype=np.int32)
    sentence = np.repeat(np.arange(len(lengths)), lengths)  # sentence of each token
    starts = np.arange(len(ids) - 3)
    inside = sentence[starts] == sentence[starts + 3]
    s = starts[inside]
    return np.stack([ids[s], ids[s + 1], ids[s + 2], ids[s + 3]], axis=1).astype(np.int32)


def _keys(rows: np.ndarray, V: int) -> np.ndarray:
    r = rows.astype(np.int64)
    return ((r[:, 0] * V + r[:, 1]) * V + r[:, 2]) * V + r[:, 3]


def _multiset_difference(rows: np.ndarray, remove: np.ndarray, V: int) -> np.ndarray | None:
    """Rows minus ``remove`` as multisets, keeping the order of ``rows``; None if ``remove`` ⊄ ``rows``.

    Of the rows sharing a value, the first ``k`` go when ``remove`` holds it ``k`` times.
    """
    unique, inverse, counts = np.unique(_keys(rows, V), return_inverse=True, return_counts=True)
    rkeys = _keys(remove, V)
    pos = np.minimum(np.searchsorted(unique, rkeys), len(unique) - 1)
    if not (unique[pos] == rkeys).all():
        return None
    need = np.bincount(pos, minlength=len(unique))
    if (need > counts).any():
        return None
    order = np.argsort(inverse, kind="stable")  # rows grouped by value, in corpus order
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    occurrence = np.empty(len(rows), dtype=np.int64)
    occurrence[order] = np.arange(len(rows)) - starts[inverse[order]]
    return np.ascontiguousarray(rows[occurrence >= need[inverse]])


# ---- plain text -------------------------------------------------------------------------


def _looks_binary(sample: bytes) -> bool:
    if b"\0" in sample:
        return True
    try:
        sample.decode("utf-8")
        return False
    except UnicodeDecodeError as err:
        if err.start >= len(sample) - 4:  # a character cut by the sample's end
            return False
    text = sample.decode("utf-8", errors="replace")
    control = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or ch == "\ufffd")
    return control > 0.1 * max(1, len(text))


def load_text(path, vocab_size: int = DEFAULT_VOCAB_SIZE, *, name: str | None = None, kind: str = "text") -> Corpus:
    """Any plain-text file: one sentence per line.

    Lower-case, split on white space; the ``vocab_size`` most frequent words
    (ties: first seen first) are the vocabulary; 4-grams of one line that
    contain another word are skipped and counted; sentences are split
    80/10/10 into train/valid/test by a fixed permutation.
    """
    path = Path(path)
    if not 2 <= vocab_size <= MAX_VOCAB_SIZE:
        raise CorpusError(f"vocabulary size must be between 2 and {MAX_VOCAB_SIZE:,}, got {vocab_size:,}")
    if path.is_dir():
        raise CorpusError(f"{path} is a folder without the Hinton corpus files ({', '.join(HINTON_FILES)})")
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(65536)
    except FileNotFoundError:
        raise CorpusError(f"no such file: {path}") from None
    except OSError as err:
        raise CorpusError(f"cannot read {path}: {err.strerror or err}") from None
    if size == 0:
        raise CorpusError(f"{path} is empty")
    if _looks_binary(head):
        raise CorpusError(f"{path} does not look like a text file")
    notes = []
    sentences: list[list[str]] = []
    counts: Counter = Counter()
    bad_bytes = 0
    try:
        with open(path, "rb") as f:
            for raw in f:
                line = raw.decode("utf-8", errors="replace")
                if "\ufffd" in line:
                    bad_bytes += line.count("\ufffd")
                    line = line.replace("\ufffd", " ")
                tokens = line.lower().split()
                if tokens:
                    sentences.append(tokens)
                    counts.update(tokens)
    except OSError as err:
        raise CorpusError(f"cannot read {path}: {err.strerror or err}") from None
    if bad_bytes:
        notes.append(f"{bad_bytes:,} bytes that are not UTF-8 were treated as spaces")
    if len(counts) < 2:
        raise CorpusError(f"{path} has fewer than 2 distinct words")
    first_seen = {}
    for s in sentences:
        for w in s:
            first_seen.setdefault(w, len(first_seen))
    ranked = sorted(counts, key=lambda w: (-counts[w], first_seen[w]))
    vocab = ranked[:vocab_size]
    if len(ranked) < vocab_size:
        notes.append(f"only {len(ranked):,} distinct words, fewer than the {vocab_size:,} asked for")
    index = {w: i for i, w in enumerate(vocab)}
    per_sentence = []
    skipped = short = 0
    for s in sentences:
        if len(s) < 4:
            short += 1
            per_sentence.append(None)
            continue
        ids = np.array([index.get(w, -1) for w in s], dtype=np.int32)
        g = np.stack([ids[:-3], ids[1:-2], ids[2:-1], ids[3:]], axis=1)
        ok = (g >= 0).all(axis=1)
        skipped += int((~ok).sum())
        per_sentence.append(g[ok])
    if short:
        notes.append(f"{short:,} lines with fewer than 4 words skipped")
    if skipped:
        notes.append(f"{skipped:,} 4-grams containing a word outside the vocabulary skipped")
    usable = [i for i, g in enumerate(per_sentence) if g is not None and len(g)]
    if len(usable) < 3:
        raise CorpusError(
            f"{path} has {len(usable)} line(s) with a 4-gram of vocabulary words; at least 3 are needed "
            "(one sentence per line)"
        )
    perm = np.random.default_rng(_SPLIT_SEED).permutation(len(usable))
    n_valid = max(1, len(usable) // 10)
    n_test = max(1, len(usable) // 10)
    parts = {"valid": perm[:n_valid], "test": perm[n_valid : n_valid + n_test], "train": perm[n_valid + n_test :]}

    def gather(which):
        idx = np.sort(parts[which])
        return np.ascontiguousarray(np.concatenate([per_sentence[usable[i]] for i in idx]).astype(np.int32))

    return Corpus(
        name=name or f"text file {path.name}",
        kind=kind,
        source=str(path),
        vocab=vocab,
        train=gather("train"),
        valid=gather("valid"),
        test=gather("test"),
        notes=notes,
    )


# ---- the built-in demo corpus ----------------------------------------------------------


def assets_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "assets", here.parent / "assets"):
        if (candidate / "demo_corpus.txt").is_file():
            return candidate
    raise CorpusError("the built-in corpus (assets/demo_corpus.txt) is missing from this installation")


def load_demo() -> Corpus:
    """The small corpus written for this project, shipped in ``assets/``."""
    return load_text(assets_dir() / "demo_corpus.txt", name="built-in demo corpus", kind="demo")


# ---- any source ------------------------------------------------------------------------


def load_source(source, vocab_size: int = DEFAULT_VOCAB_SIZE) -> Corpus:
    """``demo``, ``hinton`` (the downloaded copy), a Hinton-layout folder, a ``data.mat`` or a text file."""
    s = str(source)
    if s == "demo":
        return load_demo()
    if s == "hinton":
        from .download import cache_dir, find_cached

        folder = find_cached()
        if folder is None:
            raise CorpusError(
                f"the Hinton corpus has not been downloaded yet (expected in {cache_dir()}); "
                "run `backprop-explorer download` or give its folder"
            )
        return load_hinton_folder(folder)
    p = Path(os.path.expanduser(s))
    if p.is_dir():
        return load_hinton_folder(p)
    if not p.exists():
        raise CorpusError(f"no such file or folder: {s}")
    if p.suffix.lower() == ".mat":
        from .matfile import load_mat

        return load_mat(p)
    return load_text(p, vocab_size)
