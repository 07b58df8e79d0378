"""The one tokenizer (core.text): corpora and prompts cut text the same way, as the Hinton corpus is cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.corpus import assets_dir, load_text
from core.text import tokenize

HINTON = Path(__file__).resolve().parents[2] / "shared" / "data" / "hinton"


@pytest.mark.parametrize(
    "text, words",
    [
        ("It was a nice day, wasn't it?", "it was a nice day , was n't it ?"),
        ("Mr. Smith's dog -- don't!", "mr. smith 's dog -- do n't !"),
        ("They're here; I'm not. You'll see (maybe).", "they 're here ; i 'm not . you 'll see ( maybe ) ."),
        ("at 3.5 o'clock, 1,000 well-known people", "at 3.5 o'clock , 1,000 well-known people"),
        ('he said "no." $5 can\'t', 'he said " no . " $ 5 ca n\'t'),
        ("  many   spaces\tand\nlines  ", "many spaces and lines"),
        ("", ""),
    ],
)
def test_punctuation_and_clitics_become_words_of_their_own(text, words):
    assert tokenize(text) == words.split()


def test_text_already_cut_comes_out_unchanged_for_the_demo_corpus():
    text = (assets_dir() / "demo_corpus.txt").read_text(encoding="utf-8")
    assert tokenize(text) == text.lower().split()


@pytest.mark.hinton
def test_text_already_cut_comes_out_unchanged_for_the_hinton_corpus():
    path = HINTON / "raw_sentences.txt"
    if not path.is_file():
        pytest.skip(f"the Hinton corpus is not in {HINTON}")
    text = path.read_text(encoding="utf-8")
    assert tokenize(text) == text.lower().split()
    vocab = (HINTON / "vocab.txt").read_text(encoding="utf-8").split()
    assert all(tokenize(w) == [w] for w in vocab)  # every word of its vocabulary is one word


def test_a_text_corpus_is_cut_the_same_way(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text("".join(f"It was a nice day, wasn't it? Line {i}.\n" for i in range(30)), encoding="utf-8")
    vocab = load_text(path).vocab
    assert {",", "?", ".", "n't", "day", "was"} <= set(vocab)
    assert "day," not in vocab and "wasn't" not in vocab
