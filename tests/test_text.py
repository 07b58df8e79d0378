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


def test_a_typed_clitic_takes_the_spelling_the_vocabulary_has():
    from core.model import FourGramModel
    from core.text import in_vocabulary

    hinton_like = ["i", "do", "nt", "know", "it", "is", "'s"]  # the Hinton vocabulary writes "nt", not "n't"
    treebank_like = ["i", "do", "n't", "know"]
    assert tokenize("i don't") == ["i", "do", "n't"]
    assert in_vocabulary("n't", set(hinton_like)) == "nt"
    assert in_vocabulary("nt", set(treebank_like)) == "n't"
    assert in_vocabulary("n't", set(treebank_like)) == "n't"
    assert in_vocabulary("xyz", set(hinton_like)) == "xyz"  # unknown in both spellings: unchanged, for the caller to refuse
    model = FourGramModel(hinton_like)
    assert model.word_index("n't") == model.word_index("nt") == 2
    assert model.predict("i don't", 2) == model.predict(["i", "do", "nt"], 2)


def test_the_real_vocabulary_reads_a_typed_contraction():
    if not (HINTON / "vocab.txt").is_file():
        pytest.skip(f"the real corpus is not at {HINTON}")
    from core.corpus import load_hinton_folder
    from core.model import FourGramModel

    model = FourGramModel(load_hinton_folder(HINTON).vocab)
    assert model.vocab[model.word_index("n't")] == "nt"
    model.context_indices("i don't")  # raises UnknownWordError before the spelling is taken
