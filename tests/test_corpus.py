"""Corpora: whatever a user points at either loads, with notes on what was skipped, or is refused in one line.

Every refusal is a ``CorpusError`` whose message is one line and names the
problem; nothing else (UnicodeDecodeError, IndexError, MemoryError...) may
come out of the loaders.
"""

import io
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from collections import Counter
import shutil
from pathlib import Path

import numpy as np
import pytest

from core import corpus as corpus_mod
from core.corpus import (
    HINTON_FILES,
    HINTON_SIZES,
    Corpus,
    load_hinton_folder,
    load_source,
    load_text,
)
from core.errors import CorpusError

WORDS = "the a cat dog sat ran on in house garden big small red green quickly slowly and then saw heard".split()


from _support import PERMISSIONS_APPLY  # noqa: E402


def sentences(n: int, seed: int = 0, lo: int = 4, hi: int = 12, words=WORDS) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=int(rng.integers(lo, hi)))) for _ in range(n)]


def write(path: Path, data) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def refused(fn, *args, **kwargs) -> str:
    """The one-line message of the CorpusError ``fn`` raises."""
    with pytest.raises(CorpusError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message, message
    return message


def grams_of(lines, index=None) -> list[tuple]:
    """Every 4-gram of consecutive words of each line, computed the plain way."""
    out = []
    for line in lines:
        t = line.lower().split()
        for i in range(len(t) - 3):
            g = tuple(t[i : i + 4])
            out.append(g if index is None else tuple(index[w] for w in g))
    return out


def rows_as_words(c: Corpus, rows) -> list[tuple]:
    return [tuple(c.vocab[i] for i in r) for r in np.asarray(rows)]


@pytest.fixture
def text_file(tmp_path):
    return write(tmp_path / "story.txt", "\n".join(sentences(200)) + "\n")


# ---- plain text: what loads, and what the split looks like --------------------------------------


def test_a_text_file_makes_a_corpus_that_knows_its_name_and_sizes(text_file):
    c = load_source(text_file, 250)
    lines = text_file.read_text().splitlines()
    assert c.name == "text file story.txt" and c.kind == "text" and c.source == str(text_file)
    assert sorted(c.vocab) == sorted(set(WORDS))
    assert c.sizes() == (len(c.train), len(c.valid), len(c.test))
    assert sum(c.sizes()) == len(grams_of(lines))
    assert all(a.dtype == np.int32 and a.shape[1] == 4 for a in (c.train, c.valid, c.test))
    assert f"{len(c.train):,} training" in c.describe() and c.describe().startswith("text file story.txt")
    # Every 4-gram of the file is in exactly one split, in file order within each.
    all_rows = rows_as_words(c, c.train) + rows_as_words(c, c.valid) + rows_as_words(c, c.test)
    assert Counter(all_rows) == Counter(grams_of(lines))
    # Roughly 80 / 10 / 10, by sentence.
    assert 0.7 < len(c.train) / sum(c.sizes()) < 0.9


def test_the_split_is_deterministic(tmp_path, text_file):
    a = load_text(text_file)
    b = load_text(text_file)
    copy = write(tmp_path / "other name.txt", text_file.read_bytes())
    c = load_text(copy)
    for x in (b, c):
        assert x.vocab == a.vocab
        for split in ("train", "valid", "test"):
            np.testing.assert_array_equal(getattr(x, split), getattr(a, split))


def test_a_whole_sentence_goes_to_one_split(tmp_path):
    # Each line uses its own words, so a 4-gram tells which line it came from.
    lines = [" ".join(f"s{i}w{j}" for j in range(6)) for i in range(40)]
    c = load_text(write(tmp_path / "t.txt", "\n".join(lines)), vocab_size=1000)
    owner = {}
    for split in ("train", "valid", "test"):
        for row in rows_as_words(c, getattr(c, split)):
            line = row[0].split("w")[0]
            assert owner.setdefault(line, split) == split
    assert Counter(owner.values()) == {"train": 32, "valid": 4, "test": 4}


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_windows_and_old_mac_line_endings_read_like_unix_ones(tmp_path, text_file, ending):
    unix = load_text(text_file)
    other = load_text(write(tmp_path / "story.txt", text_file.read_text().replace("\n", ending)))
    assert other.vocab == unix.vocab and other.notes == unix.notes
    np.testing.assert_array_equal(other.train, unix.train)
    np.testing.assert_array_equal(other.test, unix.test)


def test_reading_in_small_blocks_gives_the_same_corpus(tmp_path, monkeypatch):
    """Block boundaries fall inside words, inside UTF-8 characters and between \\r and \\n."""
    lines = sentences(150, seed=3, words=WORDS + ["café", "naïve", "über", "日本語"])
    path = write(tmp_path / "u.txt", "\r\n".join(lines))
    whole = load_text(path)
    monkeypatch.setattr(corpus_mod, "READ_BYTES", 7)
    bits = load_text(path)
    assert bits.vocab == whole.vocab and bits.notes == whole.notes
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(bits, split), getattr(whole, split))


# ---- encodings --------------------------------------------------------------------------------


def test_latin1_text_is_read_with_a_note(tmp_path):
    lines = [f"le café est très bon ce matin {i}" for i in range(30)]
    c = load_source(write(tmp_path / "fr.txt", "\n".join(lines).encode("latin-1")))
    assert "café" in c.vocab and "très" in c.vocab
    assert any("not all UTF-8" in n and "60 bytes were" in n and "Latin-1" in n for n in c.notes), c.notes


def test_windows_1252_quotes_are_decoded(tmp_path):
    text = "\n".join(f"she said \u201chello\u201d to him {i}" for i in range(10)).encode("cp1252")
    c = load_text(write(tmp_path / "q.txt", text))
    assert {"\u201c", "hello", "\u201d"} <= set(c.vocab)  # the quotes decoded, and apart as punctuation is


def test_mixed_utf8_and_latin1_keeps_the_utf8_words(tmp_path):
    good = "\n".join(f"a naïve café owner {i}" for i in range(10)).encode("utf-8")
    bad = "\n".join(f"a naïve café owner {i}" for i in range(10, 20)).encode("latin-1")
    c = load_text(write(tmp_path / "m.txt", good + b"\n" + bad))
    assert "naïve" in c.vocab and "café" in c.vocab
    assert any("20 bytes" in n for n in c.notes), c.notes


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be-bom", "utf-32", "utf-8-sig"])
def test_text_with_a_byte_order_mark_is_decoded(tmp_path, text_file, encoding):
    text = text_file.read_text() + "voilà café\n"
    data = b"\xfe\xff" + text.encode("utf-16-be") if encoding == "utf-16-be-bom" else text.encode(encoding)
    plain = load_text(write(tmp_path / "plain.txt", text.encode("utf-8")))
    c = load_text(write(tmp_path / "bom.txt", data))
    assert c.vocab == plain.vocab and not any("UTF-8" in n for n in c.notes)
    np.testing.assert_array_equal(c.train, plain.train)


def test_utf16_without_a_byte_order_mark_is_refused_with_advice(tmp_path, text_file):
    path = write(tmp_path / "w.txt", text_file.read_text().encode("utf-16-le"))
    assert "UTF-16" in refused(load_source, path)


# ---- files that cannot make a corpus -------------------------------------------------------------


def test_an_empty_file_is_refused(tmp_path):
    assert refused(load_source, write(tmp_path / "e.txt", b"")).endswith("is empty")


def test_white_space_only_is_refused(tmp_path):
    assert "contains no words" in refused(load_source, write(tmp_path / "w.txt", " \n\n\t\r\n  \f"))


def test_one_distinct_word_is_refused(tmp_path):
    assert "one distinct word" in refused(load_text, write(tmp_path / "o.txt", "la la la la la\n" * 5))


def test_lines_shorter_than_four_words_are_skipped_with_a_note(tmp_path):
    lines = sentences(50) + ["just three words", "two words", "one"] * 4
    c = load_text(write(tmp_path / "s.txt", "\n".join(lines)))
    assert "12 of 62 lines have fewer than 4 words and were skipped" in c.notes
    assert sum(c.sizes()) == len(grams_of(sentences(50)))


def test_only_short_lines_is_refused(tmp_path):
    msg = refused(load_text, write(tmp_path / "s.txt", "a b c\nd e f\ng h\n" * 20))
    assert "no line has 4 or more words" in msg


def test_too_few_sentences_for_three_splits_is_refused(tmp_path):
    msg = refused(load_text, write(tmp_path / "two.txt", "the cat sat down\nthe dog ran off\n"))
    assert "at least 3" in msg


def test_a_vocabulary_smaller_than_asked_for_is_noted(text_file):
    c = load_text(text_file, vocab_size=5000)
    assert c.vocab_size == len(set(WORDS))
    assert f"only {len(set(WORDS))} distinct words, fewer than the 5,000 asked for" in c.notes


def test_words_outside_a_small_vocabulary_are_skipped_and_counted(text_file):
    c = load_text(text_file, vocab_size=6)
    lines = text_file.read_text().splitlines()
    counts = Counter(w for line in lines for w in line.split())
    first = {}
    for w in (w for line in lines for w in line.split()):
        first.setdefault(w, len(first))
    expected_vocab = sorted(counts, key=lambda w: (-counts[w], first[w]))[:6]
    assert c.vocab == expected_vocab
    kept = [g for g in grams_of(lines) if all(w in expected_vocab for w in g)]
    skipped = len(grams_of(lines)) - len(kept)
    assert f"{skipped:,} 4-grams containing a word outside the vocabulary were skipped" in c.notes
    assert Counter(rows_as_words(c, np.concatenate([c.train, c.valid, c.test]))) == Counter(kept)


@pytest.mark.parametrize("size", [1, 0, -3, 100_001, 10**12, True, 2.5, "250"])
def test_a_vocabulary_size_that_cannot_work_is_refused(text_file, size):
    for fn in (load_source, load_text):
        assert "vocabulary size" in refused(fn, text_file, size)


def test_without_a_vocabulary_size_the_default_is_used_and_no_shortfall_is_noted(text_file, demo_corpus):
    c = load_text(text_file)
    assert c.vocab_size == min(len(set(WORDS)), 250)
    assert not any("asked for" in n for n in c.notes) and not any("asked for" in n for n in demo_corpus.notes)
    assert load_source(text_file).vocab == c.vocab


def test_a_vocabulary_size_is_checked_for_the_demo_too():
    assert "vocabulary size" in refused(load_source, "demo", 1)


# ---- binary junk ------------------------------------------------------------------------------


def _png() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + bytes(range(16)) * 3 for _ in range(16))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("story.txt", "\n".join(sentences(100)))
    return buf.getvalue()


@pytest.mark.parametrize(
    "name,data",
    [
        ("random.bin", np.random.default_rng(0).bytes(20_000)),
        ("small random.txt", np.random.default_rng(1).bytes(50)),
        ("picture.png", _png()),
        ("archive.zip", _zip()),
        ("program", b"\x7fELF\x02\x01\x01" + bytes(200)),
        ("controls.txt", bytes(range(1, 9)) * 100),
    ],
)
def test_binary_files_are_refused(tmp_path, name, data):
    assert "does not look like a text file" in refused(load_source, write(tmp_path / name, data))


def test_mostly_text_with_a_few_stray_bytes_still_loads(tmp_path, text_file):
    data = text_file.read_bytes().replace(b"cat", b"c\x01t", 3)
    c = load_text(write(tmp_path / "s.txt", data))
    assert sum(c.sizes()) > 0


# ---- size -------------------------------------------------------------------------------------


def test_a_huge_single_line_loads_and_is_cut_for_the_split(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "READ_BYTES", 4096)  # many blocks without a line break
    words = " ".join(np.random.default_rng(2).choice(WORDS, size=30_000))
    c = load_text(write(tmp_path / "one line.txt", words))
    assert sum(c.sizes()) == 30_000 - 3  # no 4-gram lost at a block boundary
    assert sorted(c.vocab) == sorted(set(WORDS))  # no word cut in two
    assert (
        "1 line longer than 1,000 words was cut into blocks of 1,000 words for the "
        "training/validation/test split" in c.notes
    )
    assert len(c.valid) > 0 and len(c.test) > 0


def test_a_word_longer_than_a_piece_does_not_exhaust_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "READ_BYTES", 1000)
    monkeypatch.setattr(corpus_mod, "PIECE_CHARS", 5000)
    text = "\n".join(sentences(40)) + "\n" + "x" * 50_000 + "\n" + "\n".join(sentences(40, seed=1))
    c = load_text(write(tmp_path / "long word.txt", text))
    assert all(len(w) <= 6000 for w in c.vocab)  # the giant "word" came in pieces
    rows = rows_as_words(c, np.concatenate([c.train, c.valid, c.test]))
    ordinary = [r for r in rows if not any(w.startswith("x") for w in r)]
    assert Counter(ordinary) == Counter(grams_of(sentences(40) + sentences(40, seed=1)))


_MEMORY_SCRIPT = """
import resource, sys
from core.corpus import load_text
load_text(sys.argv[1], 20)  # warm up: lazy imports, first allocations
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
c = load_text(sys.argv[2], 50)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) // 1024, sum(c.sizes()))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB is Linux's")
def test_a_20_mb_file_loads_with_bounded_memory(tmp_path):
    """The text is streamed: memory grows with the 4-grams kept, not with the file's size."""
    rng = np.random.default_rng(0)
    p = 1.0 / np.arange(1, 5001)
    ids = np.searchsorted(np.cumsum(p / p.sum()), rng.random(200_000)).clip(max=4999)  # Zipf-like words
    lines = np.split(ids, np.cumsum(rng.integers(4, 20, size=20_000)).clip(max=len(ids)))
    chunk = ("\n".join(" ".join(f"w{i}" for i in line) for line in lines if len(line)) + "\n").encode()
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        while f.tell() < 20_000_000:
            f.write(chunk)
    small = write(tmp_path / "small.txt", "\n".join(sentences(50)))
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(small), str(big)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert out.returncode == 0, out.stderr
    grew_mb, n_grams = map(int, out.stdout.split())
    assert n_grams > 100_000
    # Holding the file's words as Python strings would take several hundred MB.
    assert grew_mb < 80, f"loading a 20 MB file grew memory by {grew_mb} MB"


def test_a_file_of_very_many_distinct_words_is_counted_within_bounds(tmp_path, monkeypatch):
    """Past MAX_DISTINCT_WORDS, words seen once so far are dropped from the count, with a note."""
    monkeypatch.setattr(corpus_mod, "MAX_DISTINCT_WORDS", 100)
    rare = [f"rare{i} once{i} only{i} here{i}" for i in range(300)]
    lines = sentences(100) + rare + sentences(100, seed=1)
    c = load_text(write(tmp_path / "many.txt", "\n".join(lines)), vocab_size=len(set(WORDS)))
    assert sorted(c.vocab) == sorted(set(WORDS))
    assert any(n.startswith("more than 100 distinct words: words seen once or less") for n in c.notes), c.notes
    assert Counter(rows_as_words(c, np.concatenate([c.train, c.valid, c.test]))) == Counter(
        grams_of(sentences(100) + sentences(100, seed=1))
    )


def test_a_file_name_with_a_nul_character_is_refused():
    assert "is not a valid file name" in refused(load_source, "story\0.txt")


def test_running_out_of_memory_is_a_clear_refusal(text_file, monkeypatch):
    def no_memory(self):
        raise MemoryError

    monkeypatch.setattr(corpus_mod._Grams, "result", no_memory)
    assert "too large to load into memory" in refused(load_text, text_file)


# ---- paths that are not text files ------------------------------------------------------------


def test_a_missing_file_is_refused(tmp_path):
    assert "no such file" in refused(load_source, tmp_path / "nope.txt")
    assert "no such file" in refused(load_text, tmp_path / "nope.txt")


def test_an_empty_source_is_refused():
    assert "no corpus given" in refused(load_source, "")


def test_a_dangling_symlink_is_refused(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "gone.txt")
    for fn in (load_source, load_text):
        assert "link to a file that does not exist" in refused(fn, link)


def test_a_symlink_to_a_text_file_loads(tmp_path, text_file):
    link = tmp_path / "link.txt"
    link.symlink_to(text_file)
    assert load_source(link).sizes() == load_source(text_file).sizes()


def test_a_folder_where_a_file_is_expected_and_the_reverse(tmp_path, text_file):
    folder = tmp_path / "just a folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    assert "is a folder; give a text file" in refused(load_source, folder)
    assert "is a folder" in refused(load_text, folder)
    assert "is not a folder" in refused(load_hinton_folder, text_file)
    assert "no such file" in refused(load_source, text_file / "inside")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_devices_and_pipes_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert "not a regular file" in refused(load_source, fifo)
    if Path("/dev/null").exists():
        assert "not a regular file" in refused(load_source, "/dev/null")


@pytest.mark.skipif(not PERMISSIONS_APPLY, reason="this user reads files whatever their permissions (root)")
def test_an_unreadable_file_is_refused(text_file):
    text_file.chmod(0)
    try:
        assert "Permission denied" in refused(load_source, text_file)
    finally:
        text_file.chmod(0o644)


def test_a_read_error_is_refused(text_file, monkeypatch):
    """Simulates what chmod 000 does for a non-root user (tests may run as root)."""
    real_open = open

    def denied(path, *args, **kwargs):
        if str(path) == str(text_file):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", denied)
    assert "Permission denied" in refused(load_source, text_file)


# ---- the Hinton folder layout ------------------------------------------------------------------


def make_hinton(folder: Path, n: int = 300, vocab=None, seed: int = 0):
    """A small corpus in the layout of the real one; returns (vocab, lines, valid rows, test rows) 0-based."""
    folder.mkdir(exist_ok=True)
    vocab = list(vocab or WORDS)
    lines = sentences(n, seed=seed, words=vocab)
    index = {w: i for i, w in enumerate(vocab)}
    grams = grams_of(lines, index)
    valid, test = grams[::10], grams[5::10]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (folder / "raw_sentences.txt").write_text("\n".join(lines) + "\n")
    for name, rows in (("valid_data.csv", valid), ("test_data.csv", test)):
        (folder / name).write_text("".join(",".join(str(i + 1) for i in r) + "\n" for r in rows))
    return vocab, lines, valid, test


def test_a_hinton_folder_loads_with_its_own_split(tmp_path):
    vocab, lines, valid, test = make_hinton(tmp_path / "h")
    c = load_source(tmp_path / "h")
    assert c.kind == "hinton" and c.vocab == vocab and c.name == "Hinton 4-gram corpus"
    assert [tuple(r) for r in c.valid.tolist()] == valid and [tuple(r) for r in c.test.tolist()] == test
    expected_train = Counter(grams_of(lines, {w: i for i, w in enumerate(vocab)})) - Counter(valid) - Counter(test)
    assert Counter(tuple(r) for r in c.train.tolist()) == expected_train
    assert c.notes == ["split sizes differ from the original exercise's 372,550 / 46,568 / 46,568"]


def test_a_hinton_folder_with_a_vocabulary_too_big_for_int64_keys(tmp_path):
    """With V > 55,108 words, V⁴ overflows an int64, so rows must not be compared by an int64 key.

    Rows ``first`` and ``second`` below have int64 keys that differ by exactly
    2⁶⁴: an overflowing key would confuse them and remove the wrong one.
    """
    V = 70_000
    vocab = [f"w{i}" for i in range(V)]
    first = (0, 1, 2, 3)
    key = ((first[0] * V + first[1]) * V + first[2]) * V + first[3] + 2**64
    second = (key // V**3, key // V**2 % V, key // V % V, key % V)
    assert max(second) < V
    other = (9, 8, 7, 6, 5)
    folder = tmp_path / "h"
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(vocab))
    lines = [first, second, other]
    (folder / "raw_sentences.txt").write_text("\n".join(" ".join(vocab[i] for i in line) for line in lines))
    (folder / "valid_data.csv").write_text(",".join(str(i + 1) for i in second))
    (folder / "test_data.csv").write_text(",".join(str(i + 1) for i in other[:4]))
    c = load_hinton_folder(folder)
    assert [tuple(r) for r in c.train.tolist()] == [first, other[1:]]
    assert [tuple(r) for r in c.valid.tolist()] == [second]


@pytest.mark.parametrize("missing", HINTON_FILES)
def test_a_hinton_folder_missing_a_file_is_refused_naming_it(tmp_path, missing):
    make_hinton(tmp_path / "h")
    (tmp_path / "h" / missing).unlink()
    msg = refused(load_source, tmp_path / "h")
    assert f"missing {missing}" in msg


def test_a_hinton_file_that_is_a_folder_counts_as_missing(tmp_path):
    make_hinton(tmp_path / "h")
    (tmp_path / "h" / "vocab.txt").unlink()
    (tmp_path / "h" / "vocab.txt").mkdir()
    assert "missing vocab.txt" in refused(load_source, tmp_path / "h")


@pytest.mark.parametrize(
    "line,why",
    [
        ("1,2,x,4", "non-numeric"),
        ("1,2,3,999", "out of range"),
        ("0,1,2,3", "zero (the file is 1-based)"),
        ("-1,2,3,4", "negative"),
        ("1,2,3", "three columns"),
        ("1,2,3,4,5", "five columns"),
        ("1.5,2,3,4", "not whole"),
        ("1;2;3;4", "wrong separator"),
        ("9" * 5000 + ",1,1,1", "absurdly long number"),
    ],
)
def test_a_corrupted_csv_is_refused_with_its_line_number(tmp_path, line, why):
    make_hinton(tmp_path / "h")
    csv = tmp_path / "h" / "valid_data.csv"
    rows = csv.read_text().splitlines()
    rows.insert(6, line)
    csv.write_text("\n".join(rows))
    msg = refused(load_source, tmp_path / "h")
    assert msg.startswith("valid_data.csv line 7: expected 4 comma-separated word numbers between 1 and 20"), msg
    assert len(msg) < 200


def test_an_empty_csv_is_refused(tmp_path):
    make_hinton(tmp_path / "h")
    (tmp_path / "h" / "test_data.csv").write_text("\n\n")
    assert "test_data.csv has no rows" in refused(load_source, tmp_path / "h")


def test_csv_rows_that_are_not_4_grams_of_the_sentences_are_refused(tmp_path):
    make_hinton(tmp_path / "h")
    with open(tmp_path / "h" / "test_data.csv", "a") as f:
        f.write("20,20,20,20\n")
    assert "not all 4-grams of raw_sentences.txt" in refused(load_source, tmp_path / "h")


def test_a_binary_csv_is_refused(tmp_path):
    make_hinton(tmp_path / "h")
    write(tmp_path / "h" / "valid_data.csv", _png())
    assert "valid_data.csv does not look like a text file" in refused(load_source, tmp_path / "h")


def test_a_vocabulary_with_a_duplicate_is_refused(tmp_path):
    make_hinton(tmp_path / "h")
    with open(tmp_path / "h" / "vocab.txt", "a") as f:
        f.write("cat\n")
    assert refused(load_source, tmp_path / "h") == "vocab.txt line 21: 'cat' is listed twice (also on line 3)"


def test_a_vocabulary_line_with_two_words_is_refused(tmp_path):
    make_hinton(tmp_path / "h")
    (tmp_path / "h" / "vocab.txt").write_text("the\nbig cat\n")
    assert "vocab.txt line 2: 'big cat' is not one word" in refused(load_source, tmp_path / "h")


def test_a_vocabulary_of_one_word_is_refused(tmp_path):
    make_hinton(tmp_path / "h")
    (tmp_path / "h" / "vocab.txt").write_text("the\n")
    assert "at least 2 distinct words" in refused(load_source, tmp_path / "h")


def test_a_sentence_word_missing_from_the_vocabulary_is_refused_with_its_line(tmp_path):
    make_hinton(tmp_path / "h")
    raw = tmp_path / "h" / "raw_sentences.txt"
    lines = raw.read_text().splitlines()
    lines[41] = lines[41] + " zebra"
    raw.write_text("\n".join(lines))
    assert refused(load_source, tmp_path / "h") == "raw_sentences.txt line 42: 'zebra' is not in vocab.txt"


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_a_hinton_folder_in_upper_case_with_other_line_endings_still_loads(tmp_path, monkeypatch, ending):
    make_hinton(tmp_path / "h")
    plain = load_hinton_folder(tmp_path / "h")
    for name in HINTON_FILES:
        p = tmp_path / "h" / name
        p.write_bytes(p.read_text().upper().replace("\n", ending).encode())
    monkeypatch.setattr(corpus_mod, "READ_BYTES", 5)  # \r and \n land in different blocks
    c = load_hinton_folder(tmp_path / "h")
    assert c.vocab == plain.vocab
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(c, split), getattr(plain, split))
    # Line numbers in messages still count lines, not line-ending characters.
    raw = tmp_path / "h" / "raw_sentences.txt"
    raw.write_bytes(raw.read_bytes().replace(b"CAT", b"ZEBRA", 1))
    line = next(i for i, t in enumerate(raw.read_bytes().decode().split(ending), 1) if "ZEBRA" in t)
    assert refused(load_hinton_folder, tmp_path / "h") == f"raw_sentences.txt line {line}: 'zebra' is not in vocab.txt"


@pytest.mark.skipif(not PERMISSIONS_APPLY, reason="this user reads files whatever their permissions (root)")
def test_an_unreadable_hinton_file_is_refused(tmp_path):
    make_hinton(tmp_path / "h")
    (tmp_path / "h" / "test_data.csv").chmod(0)
    try:
        assert "Permission denied" in refused(load_source, tmp_path / "h")
    finally:
        (tmp_path / "h" / "test_data.csv").chmod(0o644)


@pytest.mark.hinton
def test_the_real_corpus_reproduces_the_original_split(hinton_corpus):
    c = hinton_corpus
    assert c.sizes() == HINTON_SIZES and c.vocab_size == 250 and c.notes == []
    assert c.name == "Hinton 4-gram corpus" and c.kind == "hinton"
    assert c.train.min() >= 0 and c.train.max() < 250


# ---- the course's data.mat ----------------------------------------------------------------------


def mat_data(vocab=None, n=(60, 10, 10), seed=0):
    rng = np.random.default_rng(seed)
    vocab = list(vocab or WORDS)
    data = {"vocab": np.array(vocab, dtype=object).reshape(1, -1)}
    for key, m in zip(("trainData", "validData", "testData"), n):
        data[key] = rng.integers(1, len(vocab) + 1, size=(4, m)).astype(np.float64)
    return data


def test_a_course_data_mat_loads(tmp_path):
    sio = pytest.importorskip("scipy.io")
    data = mat_data()
    sio.savemat(tmp_path / "data.mat", {"data": data})
    c = load_source(tmp_path / "data.mat")
    assert c.kind == "mat" and c.name == "MATLAB file data.mat" and c.vocab == WORDS
    assert c.sizes() == (60, 10, 10)
    np.testing.assert_array_equal(c.train, data["trainData"].T.astype(np.int32) - 1)
    np.testing.assert_array_equal(c.test, data["testData"].T - 1)
    assert c.train.dtype == np.int32


def test_a_mat_file_is_recognised_by_its_header_whatever_its_name(tmp_path):
    sio = pytest.importorskip("scipy.io")
    sio.savemat(tmp_path / "data.mat", {"data": mat_data()})
    (tmp_path / "data.mat").rename(tmp_path / "course data.bin")
    assert load_source(tmp_path / "course data.bin").kind == "mat"


def _malformed(name):
    data = mat_data()
    if name == "missing field":
        del data["validData"]
    elif name == "three rows":
        data["trainData"] = data["trainData"][:3]
    elif name == "a vector":
        data["testData"] = np.arange(1.0, 10.0)
    elif name == "index 0":
        data["trainData"][2, 5] = 0
    elif name == "index above V":
        data["validData"][0, 0] = len(WORDS) + 1
    elif name == "fractional index":
        data["testData"][1, 1] = 2.5
    elif name == "not a number":
        data["trainData"][3, 3] = np.nan
    elif name == "text instead of numbers":
        data["trainData"] = "hello"
    elif name == "vocab of numbers":
        data["vocab"] = np.arange(20.0)
    elif name == "duplicate word":
        data["vocab"] = np.array(WORDS[:-1] + ["cat"], dtype=object).reshape(1, -1)
    elif name == "one word":
        data["vocab"] = np.array(["cat"], dtype=object).reshape(1, -1)
    elif name == "empty split":
        data["testData"] = np.zeros((4, 0))
    return {"data": data}


@pytest.mark.parametrize(
    "name,message",
    [
        ("missing field", "lacks the field validData"),
        ("three rows", "data.trainData has shape 3×60, expected 4 rows"),
        ("a vector", "data.testData has shape 9, expected 4 rows"),
        ("index 0", "data.trainData holds word numbers outside 1..20"),
        ("index above V", "data.validData holds word numbers outside 1..20"),
        ("fractional index", "data.testData holds numbers that are not whole word numbers"),
        ("not a number", "data.trainData holds numbers that are not whole word numbers"),
        ("text instead of numbers", "data.trainData must be a numeric matrix"),
        ("vocab of numbers", "data.vocab must be a cell array of words"),
        ("duplicate word", "data.vocab lists a word twice"),
        ("one word", "data.vocab must hold between 2 and"),
        ("empty split", "data.testData"),
    ],
)
def test_a_malformed_data_mat_is_refused(tmp_path, name, message):
    sio = pytest.importorskip("scipy.io")
    sio.savemat(tmp_path / "data.mat", _malformed(name))
    msg = refused(load_source, tmp_path / "data.mat")
    assert msg.startswith("data.mat") and message in msg, msg


def test_a_mat_file_without_the_data_struct_is_refused(tmp_path):
    sio = pytest.importorskip("scipy.io")
    sio.savemat(tmp_path / "data.mat", {"weights": np.zeros((3, 3))})
    assert "has no struct 'data'" in refused(load_source, tmp_path / "data.mat")


@pytest.mark.parametrize("content", [b"", b"hello, this is text", b"MATLAB 5.0 MAT-file" + bytes(200), "truncated"])
def test_a_corrupt_mat_file_is_refused(tmp_path, content):
    sio = pytest.importorskip("scipy.io")
    if content == "truncated":
        sio.savemat(tmp_path / "good.mat", {"data": mat_data()})
        content = (tmp_path / "good.mat").read_bytes()[:300]
    msg = refused(load_source, write(tmp_path / "data.mat", content))
    assert "data.mat" in msg


def test_reading_a_mat_file_without_scipy_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    msg = refused(load_source, write(tmp_path / "data.mat", b"MATLAB 5.0 MAT-file"))
    assert msg.startswith("reading .mat files needs scipy") and "backprop-explorer[mat]" in msg


@pytest.mark.parametrize(
    "raw",
    [b"1,2,3,4\n5,6,7\n", b"1,2,3,4,5\n", b"1,2,x,4\n", b"1,2,,4\n", b"-1,2,3,4\n", b"1,2,3,11\n", b"", b"1,2,3,4\xff\n"],
)
def test_the_one_go_csv_parser_declines_anything_doubtful(raw):
    from core.corpus import _parse_index_csv

    assert _parse_index_csv(raw, 10) is None  # the careful reader then names the bad line


def test_the_one_go_csv_parser_reads_what_the_careful_reader_reads(tmp_path):
    from core.corpus import _parse_index_csv, _read_index_csv

    raw = b"1,2,3,4\r\n\r\n5,6,7,8\n10,9,8,7"
    expected = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [9, 8, 7, 6]], dtype=np.int32)
    np.testing.assert_array_equal(_parse_index_csv(raw, 10), expected)
    path = tmp_path / "rows.csv"
    path.write_bytes(raw + b"\n1,2,3,x")  # not well formed: read line by line, and refused at line 5
    with pytest.raises(CorpusError, match="line 5"):
        _read_index_csv(path, 10)


# ---- the parsed copy of the Hinton split ------------------------------------------------------------


def _copy_hinton(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("raw_sentences.txt", "vocab.txt", "valid_data.csv", "test_data.csv"):
        shutil.copyfile(src / name, dst / name)
    return dst


def test_a_hinton_folder_is_parsed_once_then_read_from_the_cache(hinton_dir, tmp_path, monkeypatch):
    import core.corpus as corpus_module

    folder = _copy_hinton(hinton_dir, tmp_path / "hinton")
    parsed = corpus_module.load_hinton_folder(folder)
    cached_files = list(corpus_module._parsed_dir().glob("hinton-*.npz"))
    assert len(cached_files) >= 1

    def no_parsing(_folder):
        raise AssertionError("parsed the files again")

    monkeypatch.setattr(corpus_module, "_load_hinton", no_parsing)
    again = corpus_module.load_hinton_folder(folder)
    assert again.vocab == parsed.vocab and again.notes == parsed.notes and again.source == str(folder)
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(again, split), getattr(parsed, split))
        assert getattr(again, split).dtype == np.int32
    # a changed file is parsed again
    with open(folder / "test_data.csv", "a") as f:
        f.write("1,2,3,4\n")
    with pytest.raises(AssertionError, match="parsed the files again"):
        corpus_module.load_hinton_folder(folder)


def test_a_damaged_parsed_copy_is_ignored_and_replaced(hinton_dir, tmp_path):
    import core.corpus as corpus_module

    folder = _copy_hinton(hinton_dir, tmp_path / "hinton")
    first = corpus_module.load_hinton_folder(folder)
    key = corpus_module._parsed_key(folder)
    copy = corpus_module._parsed_dir() / f"hinton-{key}.npz"
    copy.write_bytes(copy.read_bytes()[:1000])  # cut short
    again = corpus_module.load_hinton_folder(folder)
    np.testing.assert_array_equal(again.train, first.train)
    assert corpus_module._read_parsed(key, folder) is not None  # written afresh


@pytest.mark.parametrize("huge", [False, True], ids=["one-key-per-row", "context-keys"])
def test_continuations_count_what_followed_each_context(demo_corpus, huge, monkeypatch):
    """The sorted index gives the counts a pass over every training row gives (and is built once)."""
    from dataclasses import replace

    from core.corpus import ContinuationIndex

    if huge:  # the layout for vocabularies whose V⁴ does not fit in 63 bits
        demo_corpus = replace(demo_corpus)
        monkeypatch.setattr(Corpus, "vocab_size", property(lambda self: 100_000))
    train = demo_corpus.train
    rng = np.random.default_rng(3)
    contexts = [train[i, :3] for i in rng.integers(0, len(train), 25)] + [np.array([0, 0, 0])]
    for ctx in contexts:
        direct = Counter(train[(train[:, :3] == ctx).all(axis=1), 3].tolist())
        assert demo_corpus.continuations(ctx) == direct
        assert sum(direct.values()) > 0 or ctx.tolist() == [0, 0, 0]
    index = demo_corpus.__dict__["_continuations"]
    assert isinstance(index, ContinuationIndex) and (index._next is not None) == huge
    demo_corpus.continuations(contexts[0])
    assert demo_corpus.__dict__["_continuations"] is index  # built once
