"""Corpora: the real Hinton 4-gram data set, any plain-text file, a course ``data.mat``, and the built-in demo.

A :class:`Corpus` holds a vocabulary and three int32 arrays of rows
``(w₁, w₂, w₃, target)`` of 0-based vocabulary indices: ``train``, ``valid``
and ``test``. It always knows its name, where it came from and its sizes.

Whatever file a user points at, loading either succeeds, with a plain note in
``corpus.notes`` for everything that was skipped or guessed, or raises
:class:`~core.errors.CorpusError` with one line saying why. Files are read as
a stream of blocks of a quarter mebibyte, so a file of any size (or one huge
line) never has to fit in memory as text; only the 4-grams are kept.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
import threading
from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import CorpusError, RUN
from .specs import CONTEXT
from .text import split_lowered
from .text import plural

HINTON_FILES = ("raw_sentences.txt", "vocab.txt", "valid_data.csv", "test_data.csv")
HINTON_SIZES = (372_550, 46_568, 46_568)
DEFAULT_VOCAB_SIZE = 250
MAX_VOCAB_SIZE = 100_000
_SPLIT_SEED = 20131  # fixes the sentence split of text corpora

READ_BYTES = 1 << 18  # files are read this many bytes at a time
PIECE_CHARS = 1 << 20  # a longer word is cut; a longer line of a vocabulary or CSV file is refused
SPLIT_BLOCK_WORDS = 1000  # for the split, a longer line is cut into blocks of this many words
MAX_DISTINCT_WORDS = 1_000_000  # beyond this many, the rarest words are dropped while counting
_HEAD_BYTES = 65536  # how much of a file is looked at to decide whether it is text


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
        """How often each next word followed the three word indices ``context`` in the training set.

        The first call sorts the training rows (``ContinuationIndex``); the next ones are binary searches.
        """
        index = self.__dict__.get("_continuations")
        if index is None or index.train is not self.train:
            index = self.__dict__["_continuations"] = ContinuationIndex(self.train, self.vocab_size)
        return index(context)


class ContinuationIndex:
    """Which words followed each three-word context in the training set, ready for fast look-ups.

    ``Corpus.continuations`` uses one: it sorts the training rows once, so
    that a look-up (one per keystroke of the predictions' prompt) is a binary
    search instead of a pass over every row. Each row becomes one integer key
    ``((a·V + b)·V + c)·V + next`` (while V⁴ fits in 63 bits): sorting those
    (no argsort) puts the continuations of a context side by side, in a
    fraction of the time an argsort takes.
    """

    def __init__(self, train: np.ndarray, vocab_size: int):
        self.train = train  # the rows it was built from
        rows = np.asarray(train).reshape(-1, CONTEXT + 1)
        self._v = int(vocab_size)
        r = rows.astype(np.int64)
        if self._v ** (CONTEXT + 1) < 2**63:
            keys = self._key(r[:, :CONTEXT]) * self._v + r[:, CONTEXT]  # (M,) context and next word
            keys.sort()
            self._keys = keys  # (M,) sorted
            self._next = None  # the next word is keys % V
        else:  # a huge vocabulary: sort the context keys and carry the next words along
            keys = self._key(r[:, :CONTEXT])  # (M,)
            order = np.argsort(keys)
            self._keys = keys[order]  # (M,) sorted context keys
            self._next = rows[order, CONTEXT]  # (M,) the word that followed

    def _key(self, ctx: np.ndarray):
        v = self._v
        return (ctx[..., 0] * v + ctx[..., 1]) * v + ctx[..., 2]

    def __call__(self, context) -> Counter:
        key = int(self._key(np.asarray(context, dtype=np.int64).reshape(CONTEXT)))
        if self._next is None:
            a, b = np.searchsorted(self._keys, [key * self._v, (key + 1) * self._v])
            return Counter((self._keys[a:b] % self._v).tolist())
        a, b = np.searchsorted(self._keys, [key, key + 1])
        return Counter(self._next[a:b].tolist())


# ---- reading any file as a stream of text ---------------------------------------------------
#
# Bytes that are not UTF-8 are read as Windows-1252 (a superset of Latin-1 for
# printable characters), which is what such files almost always are, and
# counted, so the corpus can say so in a note.

_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 32), 127])  # not \t \n \v \f \r


def _cp1252_table() -> list[str]:
    table = []
    for b in range(256):
        try:
            table.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            table.append(chr(b))  # the five bytes cp1252 leaves undefined: read as Latin-1
    return table


_CP1252 = _cp1252_table()
_fallback_count = threading.local()
_FALLBACK = "backprop-explorer-cp1252"


def _cp1252_fallback(err: UnicodeDecodeError):
    bad = err.object[err.start : err.end]
    _fallback_count.n = getattr(_fallback_count, "n", 0) + len(bad)
    return "".join(_CP1252[b] for b in bad), err.end


codecs.register_error(_FALLBACK, _cp1252_fallback)


def _looks_utf16_without_bom(head: bytes) -> bool:
    """Plain text stored as UTF-16: every other byte is zero."""
    even, odd = head[0::2], head[1::2]
    if len(odd) < 8:
        return False
    zeros_even, zeros_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    return max(zeros_even, zeros_odd) > 0.4 and min(zeros_even, zeros_odd) < 0.05


def _looks_binary(head: bytes) -> bool:
    """A NUL byte, or more than 5% of control characters that text never holds."""
    if b"\0" in head:
        return True
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return control > 0.05 * max(1, len(head))


def _file_kind(path: Path) -> str:
    """'file', 'folder', 'missing', 'broken link' or 'special' (a device, a pipe...)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "broken link" if os.path.lexists(path) else "missing"
    except NotADirectoryError:
        return "missing"
    except OSError as err:
        raise CorpusError(f"cannot read {path}: {err.strerror or err}") from None
    except ValueError:  # a NUL character in the name
        raise CorpusError(f"{str(path)!r} is not a valid file name") from None
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    return "file" if stat.S_ISREG(st.st_mode) else "special"


def _require_file(path: Path) -> None:
    """CorpusError, saying what ``path`` is instead, unless it is a regular file."""
    kind = _file_kind(path)
    if kind == "missing":
        raise CorpusError(f"no such file: {path}")
    if kind == "broken link":
        raise CorpusError(f"{path} is a link to a file that does not exist")
    if kind == "folder":
        raise CorpusError(f"{path} is a folder, not a file")
    if kind == "special":
        raise CorpusError(f"{path} is not a regular file")


def _encoding(path: Path) -> str:
    """How to decode ``path``: from its byte-order mark, else UTF-8; CorpusError for binary files."""
    _require_file(path)
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError as err:
        raise CorpusError(f"cannot read {path}: {err.strerror or err}") from None
    if not head:
        raise CorpusError(f"{path} is empty")
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif _looks_utf16_without_bom(head):
        raise CorpusError(f"{path} looks like UTF-16 text without a byte-order mark; save it as UTF-8")
    elif _looks_binary(head):
        raise CorpusError(f"{path} does not look like a text file")
    else:
        return "utf-8"
    text = head.decode(encoding, errors="replace")
    junk = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\v\f\r"))
    if junk > 0.05 * max(1, len(text)):
        raise CorpusError(f"{path} does not look like a text file")
    return encoding


def _lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a file of short lines (a vocabulary, a CSV); refuses an overlong line.

    A line ends at \\n, \\r\\n or a lone \\r.
    """
    errors = _FALLBACK if encoding.startswith("utf-8") else "replace"
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    carry, lineno = "", 0
    with open(path, "rb") as f:
        while True:
            block = f.read(READ_BYTES)
            text = carry + decoder.decode(block, final=not block)
            carry = ""
            if block and text.endswith("\r"):  # the \n of a \r\n may start the next block
                text, carry = text[:-1], "\r"
            lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            carry = lines.pop() + carry
            for line in lines:
                lineno += 1
                yield lineno, line
            if len(carry) > PIECE_CHARS:
                raise CorpusError(f"{path.name} line {lineno + 1} is too long (more than {PIECE_CHARS:,} characters)")
            if not block:
                break
    if carry:
        yield lineno + 1, carry


def _shown(text: str, width: int = 40) -> str:
    text = text.strip()
    return repr(text if len(text) <= width else text[:width] + "…")


def _fallback_note(path: Path) -> list[str]:
    n = getattr(_fallback_count, "n", 0)
    if not n:
        return []
    were = "was" if n == 1 else "were"
    return [f"{path.name} is not all UTF-8: {plural(n, 'byte')} {were} read as Windows-1252/Latin-1 characters"]


# ---- words and 4-grams --------------------------------------------------------------------

LINE_MARK = "\0"  # stands for a line break among the words of a block (NUL bytes in the text become spaces)
_KEEP = frozenset({LINE_MARK})
_SPACES = " \t\n\r\v\f\x85\xa0\u2028\u2029\u3000"  # where a block may be cut without cutting a word


def _word_blocks(path: Path, encoding: str) -> Iterator[list[str]]:
    """The file's lower-cased words, about READ_BYTES of text at a time, with LINE_MARK at each line break.

    A line break is \\n, \\r\\n or a lone \\r. A block ends at white space, so
    no word is cut, unless a single "word" is longer than PIECE_CHARS.
    """
    errors = _FALLBACK if encoding.startswith("utf-8") else "replace"
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    carry = ""
    with open(path, "rb") as f:
        while True:
            block = f.read(READ_BYTES)
            text = carry + decoder.decode(block, final=not block)
            carry = ""
            if block:  # hold back the end that the next block may continue: a word, or \r before \n
                cut = max(text.rfind(ch) for ch in _SPACES)
                if cut > 0 and text[cut - 1 : cut + 1] == "\r\n":  # keep \r\n together: one line break
                    cut -= 1
                if cut > 0 or len(text) <= PIECE_CHARS:
                    text, carry = text[: max(cut, 0)], text[max(cut, 0) :]
            if text:
                text = text.replace(LINE_MARK, " ").replace("\r\n", "\n").replace("\r", "\n")
                yield split_lowered(text.lower().replace("\n", f" {LINE_MARK} "), _KEEP)
            if not block:
                break


class _Lines:
    """Turns blocks of words (with LINE_MARK) into vocabulary indices and positions within their lines.

    ``ids(words)`` returns ``(ids, pos, marks)``: the index of each word (-1 if
    it is not in the vocabulary), its position in its line, and the number of
    line breaks before it in the block; it also counts line lengths.
    """

    def __init__(self, index: dict[str, int], block_words: int | None = None):
        self.get = {**index, LINE_MARK: -2}.get
        self.block_words = block_words
        self.position = 0  # words of the current line seen so far
        self.lines_done = 0  # line breaks seen so far
        self.short = self.long = self.nonempty = 0

    def _count(self, lengths: np.ndarray) -> None:
        self.short += int(((lengths > 0) & (lengths < 4)).sum())
        self.nonempty += int((lengths > 0).sum())
        if self.block_words:
            self.long += int((lengths > self.block_words).sum())

    def ids(self, words: list[str]):
        if not words:
            empty = np.empty(0, np.int64)
            return empty.astype(np.int32), empty, empty
        every = np.fromiter(map(self.get, words, repeat(-1)), dtype=np.int32, count=len(words))  # (n,)
        mark = every == -2
        i = np.arange(len(every))
        latest = np.maximum.accumulate(np.where(mark, i, -1))  # the last line break at or before i
        before = np.concatenate([[-1], latest[:-1]])  # ... strictly before i
        pos = np.where(before >= 0, i - before - 1, self.position + i)  # at a line break: the line's length
        self._count(pos[mark])
        self.position = int(pos[-1]) + 1 if not mark[-1] else 0
        marks_before = np.cumsum(mark) - mark
        self.lines_done += int(mark.sum())
        keep = ~mark
        return every[keep], pos[keep], marks_before[keep]

    def finish(self) -> None:
        """Count the last line, which no line break ends."""
        self._count(np.array([self.position]))


class _Grams:
    """Collects the 4-grams of consecutive words of each line, and the split block each belongs to.

    Words arrive a block at a time (``add``) as vocabulary indices, -1 for a
    word outside the vocabulary, with their positions in their lines; 4-grams
    holding such a word are counted in ``skipped`` and dropped. A split block
    is a line, or with ``block_words``, each run of that many words of a
    longer line; a 4-gram belongs to the block of its first word.
    """

    def __init__(self, block_words: int | None = None):
        self.block_words = block_words
        self.skipped = 0
        self.n_blocks = 0
        # The last three words of the previous block: 4-grams may start there.
        self._tail = (np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.int64))
        self._grams: list[np.ndarray] = []
        self._blocks: list[np.ndarray] = []

    def add(self, new_ids: np.ndarray, new_pos: np.ndarray) -> None:
        if not len(new_ids):
            return
        starts_block = new_pos == 0 if self.block_words is None else new_pos % self.block_words == 0
        new_block = self.n_blocks - 1 + np.cumsum(starts_block)
        self.n_blocks += int(starts_block.sum())
        tail_ids, tail_pos, tail_block = self._tail
        ids = np.concatenate([tail_ids, new_ids])
        pos = np.concatenate([tail_pos, new_pos])
        block = np.concatenate([tail_block, new_block])
        s = np.arange(max(0, len(ids) - 3))
        same_line = pos[s + 3] == pos[s] + 3  # positions restart at 0 on a new line
        grams = np.stack([ids[s], ids[s + 1], ids[s + 2], ids[s + 3]], axis=1)  # (n-3, 4)
        known = (grams >= 0).all(axis=1)
        self.skipped += int((same_line & ~known).sum())
        keep = same_line & known
        self._grams.append(grams[keep])
        self._blocks.append(block[s[keep]])
        self._tail = (ids[-3:], pos[-3:], block[-3:])

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """All 4-grams in file order (M, 4) int32 and the split block of each (M,)."""
        grams = np.concatenate(self._grams) if self._grams else np.empty((0, 4), np.int32)
        blocks = np.concatenate(self._blocks) if self._blocks else np.empty(0, np.int64)
        return np.ascontiguousarray(grams, dtype=np.int32), blocks


# ---- the Hinton folder -------------------------------------------------------------------


def _read_vocab(path: Path) -> list[str]:
    """The words of vocab.txt, one per line, distinct; lower-cased, as the sentences are."""
    vocab: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in _lines(path, _encoding(path)):
        word = line.strip().lower()
        if not word:
            continue
        if len(word.split()) != 1 or "\0" in word:
            raise CorpusError(f"vocab.txt line {lineno}: {_shown(word)} is not one word")
        if word in seen:
            raise CorpusError(f"vocab.txt line {lineno}: {_shown(word)} is listed twice (also on line {seen[word]})")
        seen[word] = lineno
        vocab.append(word)
        if len(vocab) > MAX_VOCAB_SIZE:
            raise CorpusError(f"vocab.txt lists more than {MAX_VOCAB_SIZE:,} words")
    if len(vocab) < 2:
        raise CorpusError(f"{path} must list at least 2 distinct words, one per line")
    return vocab


_CSV_FAST_LIMIT = 64 * 1024 * 1024  # bytes: larger files go line by line
_CSV_CHARS = re.compile(rb"[0-9,\n]*")
_LONG_NUMBER = re.compile(rb"[0-9]{10}")


def _parse_index_csv(raw: bytes, vocab_size: int) -> np.ndarray | None:
    """The rows of a well-formed index CSV, parsed in one go; None if anything is off.

    This is the fast path for a CSV that is fine (the original split's files
    have 46,568 rows); any doubt falls back to the line-by-line reader, which
    names the first bad line.
    """
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    lines = text.split()  # no field holds white space; blank lines and \r go
    if not lines:
        return None
    joined = "\n".join(lines).encode("ascii")
    b = np.frombuffer(joined, dtype=np.uint8)
    commas = np.cumsum(b == ord(","))
    commas_at_ends = np.append(commas[b == ord("\n")], commas[-1])
    if (np.diff(commas_at_ends, prepend=0) != 3).any():  # exactly 3 commas on every line
        return None
    if not _CSV_CHARS.fullmatch(joined) or _LONG_NUMBER.search(joined):  # digits and commas only, no absurd number
        return None
    fields = joined.decode("ascii").replace(",", " ").split()
    if len(fields) != 4 * len(lines):  # an empty field
        return None
    values = np.array(fields, dtype=np.int64)
    if values.min() < 1 or values.max() > vocab_size:
        return None
    return values.astype(np.int32).reshape(-1, 4) - 1


def _read_index_csv(path: Path, vocab_size: int) -> np.ndarray:
    """Rows of 4 comma-separated 1-based word numbers, as 0-based indices (M, 4)."""
    if _encoding(path) == "utf-8" and path.stat().st_size <= _CSV_FAST_LIMIT:
        rows = _parse_index_csv(path.read_bytes(), vocab_size)
        if rows is not None:
            return rows
    values: list[int] = []
    for lineno, line in _lines(path, _encoding(path)):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            row = [int(p) for p in parts] if len(parts) == 4 else None
        except ValueError:
            row = None
        if row is None or not all(1 <= v <= vocab_size for v in row):
            raise CorpusError(
                f"{path.name} line {lineno}: expected 4 comma-separated word numbers between 1 and "
                f"{vocab_size}, got {_shown(line)}"
            )
        values.extend(row)
    if not values:
        raise CorpusError(f"{path.name} has no rows")
    return np.array(values, dtype=np.int32).reshape(-1, 4) - 1


def load_hinton_folder(folder) -> Corpus:
    """The original split of the exercise: 372,550 / 46,568 / 46,568 4-grams, original vocabulary order.

    Training = every 4-gram of raw_sentences.txt minus the validation and test
    rows, as a multiset (the first occurrences of each removed row go).
    """
    folder = Path(folder)
    if _file_kind(folder) != "folder":
        raise CorpusError(f"{folder} is not a folder")
    missing = [f for f in HINTON_FILES if not (folder / f).is_file()]
    if missing:
        raise CorpusError(f"{folder} is missing {', '.join(missing)} (see the README for the corpus layout)")
    key = _parsed_key(folder)
    corpus = _read_parsed(key, folder) if key else None
    if corpus is not None:
        return corpus
    try:
        corpus = _load_hinton(folder)
    except OSError as err:
        raise CorpusError(f"cannot read {err.filename or folder}: {err.strerror or err}") from None
    except MemoryError:
        raise CorpusError(f"the corpus in {folder} is too large to load into memory") from None
    if key:
        _write_parsed(key, corpus)
    return corpus


# ---- a parsed copy of the Hinton split, so that the window starts fast ----------------------------
#
# Parsing the four files takes about half a second; the split they give is kept
# in the cache folder as a .npz named after the files' paths, sizes and times,
# so any change to them parses again. The copy is only a shortcut: one that is
# missing, unreadable or does not look right is ignored (and replaced).

_PARSED_VERSION = 1
_PARSED_KEEP = 4  # parsed copies kept


def _parsed_dir() -> Path:
    from .download import cache_dir

    return cache_dir().parent / "parsed"


def _parsed_key(folder: Path) -> str | None:
    import hashlib

    try:
        parts = [str(folder.resolve()), str(_PARSED_VERSION)]
        for name in HINTON_FILES:
            st = (folder / name).stat()
            parts += [name, str(st.st_size), str(st.st_mtime_ns)]
    except OSError:
        return None
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _read_parsed(key: str, folder: Path) -> Corpus | None:
    path = _parsed_dir() / f"hinton-{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            vocab = [str(w) for w in z["vocab"]]
            train, valid, test = (np.ascontiguousarray(z[k], dtype=np.int32) for k in ("train", "valid", "test"))
            notes = [str(n) for n in z["notes"]]
    except Exception:  # noqa: BLE001 - any problem means: parse the files instead
        return None
    V = len(vocab)
    for rows in (train, valid, test):
        if rows.ndim != 2 or rows.shape[1] != 4 or not len(rows) or rows.min() < 0 or rows.max() >= V:
            return None
    return Corpus("Hinton 4-gram corpus", "hinton", str(folder), vocab, train, valid, test, notes)


def _write_parsed(key: str, corpus: Corpus) -> None:
    import tempfile

    from .files import new_file_mode

    folder = _parsed_dir()
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        older = sorted(folder.glob("hinton-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in older[_PARSED_KEEP - 1 :]:  # the most recent few folders of files are plenty
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".hinton-", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                vocab=np.array(corpus.vocab, dtype=str),
                train=corpus.train,
                valid=corpus.valid,
                test=corpus.test,
                notes=np.array(corpus.notes, dtype=str).reshape(-1),
            )
        os.chmod(tmp, new_file_mode(folder / f"hinton-{key}.npz"))
        os.replace(tmp, folder / f"hinton-{key}.npz")
        tmp = None
    except (OSError, ValueError):
        pass  # no cache: the next start parses again
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _load_hinton(folder: Path) -> Corpus:
    vocab = _read_vocab(folder / "vocab.txt")
    _fallback_count.n = 0  # count the bytes that are not UTF-8 in raw_sentences.txt only
    index = {w: i for i, w in enumerate(vocab)}
    V = len(vocab)
    raw = folder / "raw_sentences.txt"
    grams = _Grams()
    lines = _Lines(index)
    for words in _word_blocks(raw, _encoding(raw)):
        lines_before = lines.lines_done
        ids, pos, marks = lines.ids(words)
        unknown = np.flatnonzero(ids < 0)
        if len(unknown):
            word = [w for w in words if w != LINE_MARK][unknown[0]]
            lineno = lines_before + int(marks[unknown[0]]) + 1
            raise CorpusError(f"raw_sentences.txt line {lineno}: {_shown(word)} is not in vocab.txt")
        grams.add(ids, pos)
    all_grams, _ = grams.result()
    if not len(all_grams):
        raise CorpusError(f"{raw} has no sentence of 4 or more words")
    notes = _fallback_note(raw)
    valid = _read_index_csv(folder / "valid_data.csv", V)
    test = _read_index_csv(folder / "test_data.csv", V)
    train = _multiset_difference(all_grams, np.concatenate([valid, test]), V)
    if train is None:
        raise CorpusError(f"{folder}: the validation and test rows are not all 4-grams of raw_sentences.txt")
    if not len(train):
        raise CorpusError(f"{folder}: no training 4-grams are left after removing the validation and test rows")
    if (len(train), len(valid), len(test)) != HINTON_SIZES:
        notes.append("split sizes differ from the original exercise's " + " / ".join(f"{s:,}" for s in HINTON_SIZES))
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


def _keys(rows: np.ndarray, V: int) -> np.ndarray:
    """One sortable key per row (M,): an int64 while V⁴ fits, else the row's 16 bytes."""
    if V**4 < 2**63:
        r = rows.astype(np.int64)
        return ((r[:, 0] * V + r[:, 1]) * V + r[:, 2]) * V + r[:, 3]
    return np.ascontiguousarray(rows.astype(">i4")).view("V16").ravel()


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
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")  # rows grouped by value, in corpus order
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    occurrence = np.empty(len(rows), dtype=np.int64)
    occurrence[order] = np.arange(len(rows)) - starts[inverse[order]]
    return np.ascontiguousarray(rows[occurrence >= need[inverse]])


# ---- plain text -------------------------------------------------------------------------


def _check_vocab_size(vocab_size) -> int:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)):
        raise CorpusError(f"vocabulary size must be a whole number, got {vocab_size!r}")
    if not 2 <= vocab_size <= MAX_VOCAB_SIZE:
        raise CorpusError(f"vocabulary size must be between 2 and {MAX_VOCAB_SIZE:,}, got {vocab_size:,}")
    return int(vocab_size)


def load_text(path, vocab_size: int | None = None, *, name: str | None = None, kind: str = "text") -> Corpus:
    """Any plain-text file: one sentence per line.

    Lower-case, cut into words as the Hinton corpus is (``core.text.tokenize``:
    punctuation and clitics apart, "day," -> "day ,"); the ``vocab_size`` most frequent words
    (default ``DEFAULT_VOCAB_SIZE``; a note says when the file has fewer words
    than a size that was asked for)
    (ties: first seen first) are the vocabulary; 4-grams of one line that
    contain another word are skipped and counted; sentences are split
    80/10/10 into train/valid/test by a fixed permutation (a line longer than
    SPLIT_BLOCK_WORDS words counts as several sentences for the split).
    Raises CorpusError, with one line, for anything that cannot make a corpus.
    """
    path = Path(path)
    asked = vocab_size is not None
    vocab_size = _check_vocab_size(vocab_size if asked else DEFAULT_VOCAB_SIZE)
    if _file_kind(path) == "folder":
        raise CorpusError(f"{path} is a folder without the Hinton corpus files ({', '.join(HINTON_FILES)})")
    try:
        return _load_text(path, vocab_size, name, kind, asked)
    except OSError as err:
        raise CorpusError(f"cannot read {path}: {err.strerror or err}") from None
    except MemoryError:
        raise CorpusError(f"{path} is too large to load into memory") from None


def _load_text(path: Path, vocab_size: int, name: str | None, kind: str, asked: bool) -> Corpus:
    encoding = _encoding(path)
    notes = []

    # Pass 1: count the words (a Counter keeps them in order of first appearance).
    _fallback_count.n = 0
    counts: Counter = Counter()
    dropped_below = 0  # words seen this often or less were dropped while counting
    for words in _word_blocks(path, encoding):
        counts.update(words)
        while len(counts) > MAX_DISTINCT_WORDS:
            dropped_below += 1
            counts = Counter({w: c for w, c in counts.items() if c > dropped_below or w == LINE_MARK})
    counts.pop(LINE_MARK, None)
    notes += _fallback_note(path)
    if dropped_below:
        seen = "once" if dropped_below == 1 else f"{dropped_below} times"
        notes.append(
            f"more than {MAX_DISTINCT_WORDS:,} distinct words: words seen {seen} or less in part "
            "of the file were left out of the count"
        )
    if not counts:
        raise CorpusError(f"{path} contains no words")
    if len(counts) < 2:
        raise CorpusError(f"{path} has only one distinct word")
    vocab = [w for w, _ in counts.most_common(vocab_size)]  # ties keep first-seen order
    if asked and len(counts) < vocab_size and not dropped_below:
        notes.append(f"only {len(counts):,} distinct words, fewer than the {vocab_size:,} asked for")
    del counts

    # Pass 2: the 4-grams of each line.
    grams = _Grams(SPLIT_BLOCK_WORDS)
    lines = _Lines({w: i for i, w in enumerate(vocab)}, SPLIT_BLOCK_WORDS)
    for words in _word_blocks(path, encoding):
        ids, pos, _ = lines.ids(words)
        grams.add(ids, pos)
    lines.finish()
    rows, blocks = grams.result()
    if lines.short == lines.nonempty:
        raise CorpusError(f"{path}: no line has 4 or more words (the file needs one sentence per line)")
    if lines.short:
        notes.append(
            f"{lines.short:,} of {plural(lines.nonempty, 'line')} {'has' if lines.short == 1 else 'have'} "
            f"fewer than 4 words and {'was' if lines.short == 1 else 'were'} skipped"
        )
    if grams.skipped:
        notes.append(
            f"{plural(grams.skipped, '4-gram')} containing a word outside the vocabulary "
            f"{'was' if grams.skipped == 1 else 'were'} skipped"
        )
    if lines.long:
        notes.append(
            f"{plural(lines.long, 'line')} longer than {SPLIT_BLOCK_WORDS:,} words "
            f"{'was' if lines.long == 1 else 'were'} cut into blocks of "
            f"{SPLIT_BLOCK_WORDS:,} words for the training/validation/test split"
        )

    usable = np.unique(blocks)  # blocks with at least one 4-gram, in file order
    if len(usable) < 3:
        raise CorpusError(
            f"{path}: only {plural(len(usable), 'sentence')} {'has' if len(usable) == 1 else 'have'} a 4-gram of "
            "vocabulary words; at least 3 are needed "
            "(one each for training, validation and test; one sentence per line)"
        )
    perm = np.random.default_rng(_SPLIT_SEED).permutation(len(usable))
    n_valid = n_test = max(1, len(usable) // 10)
    part = np.zeros(len(usable), dtype=np.int8)  # 0 train, 1 valid, 2 test
    part[perm[:n_valid]] = 1
    part[perm[n_valid : n_valid + n_test]] = 2
    which = part[np.searchsorted(usable, blocks)]
    return Corpus(
        name=name or f"text file {path.name}",
        kind=kind,
        source=str(path),
        vocab=vocab,
        train=np.ascontiguousarray(rows[which == 0]),
        valid=np.ascontiguousarray(rows[which == 1]),
        test=np.ascontiguousarray(rows[which == 2]),
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

_MAT_MAGIC = b"MATLAB "  # MAT-file headers begin "MATLAB 5.0 MAT-file" or "MATLAB 7.3 MAT-file"


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False


def load_source(source, vocab_size: int | None = None) -> Corpus:
    """``demo``, ``hinton`` (the downloaded copy), a Hinton-layout folder, a ``data.mat`` or a text file.

    ``vocab_size`` is for a text file (see ``load_text``; None: the default, without a note).
    """
    if vocab_size is not None:
        vocab_size = _check_vocab_size(vocab_size)
    s = str(source)
    if not s.strip():
        raise CorpusError("no corpus given: use demo, hinton, a folder or a file")
    if s == "demo":
        return load_demo()
    if s == "hinton":
        from .download import cache_dir, find_cached

        folder = find_cached()
        if folder is None:
            raise CorpusError(
                f"the Hinton corpus has not been downloaded yet (expected in {cache_dir()}): "
                f"run `{RUN} download` (or File ▸ Download in the window), or give its folder"
            )
        return load_hinton_folder(folder)
    p = Path(os.path.expanduser(s))
    kind = _file_kind(p)
    if kind == "missing":
        raise CorpusError(f"no such file or folder: {s}")
    if kind == "broken link":
        raise CorpusError(f"{s} is a link to a file that does not exist")
    if kind == "folder":
        if any((p / f).exists() for f in HINTON_FILES):
            return load_hinton_folder(p)
        raise CorpusError(
            f"{s} is a folder; give a text file, a data.mat, or a folder holding {', '.join(HINTON_FILES)}"
        )
    if p.suffix.lower() == ".mat" or (kind == "file" and _starts_with(p, _MAT_MAGIC)):
        from .matfile import load_mat

        return load_mat(p)
    return load_text(p, vocab_size)
