"""How text becomes words: the one tokenizer of the corpora and of everything a user types.

The Hinton corpus was written with its punctuation and clitics as words of
their own ("no , he says now .", "the money 's there"), as are the built-in
corpus ("do n't") and the classic treebank convention. ``tokenize`` cuts any
text the same way, so that a text file becomes a corpus like those and a
prompt like "a nice day, isn't it?" asks about the words the vocabulary has:
``a nice day , is n't it ?``.

* lower case; white space separates words;
* ``, . ? ! ; : ( ) " $ …`` stand alone, except the full stop of a few
  abbreviations (``mr.``, ``dr.``) and inside numbers (``3.5``, ``1,000``);
* ``n't 's 're 'll 've 'd 'm`` are cut off the word before them
  (``don't`` → ``do n't``, ``can't`` → ``ca n't``);
* hyphens and apostrophes inside a word stay (``well-known``, ``o'clock``),
  and ``--`` is one word.

Text already cut this way comes out unchanged, so the corpora's own text reads
as it always did.

One clitic has two spellings among the corpora: the Hinton vocabulary writes
``nt`` ("i do nt know") where the treebank and the built-in corpus write
``n't``. ``in_vocabulary`` takes a typed word to the spelling a vocabulary
has, so that "i don't" asks the Hinton model about ``i do nt``.
"""

from __future__ import annotations

import re

__all__ = ["tokenize", "split_lowered", "in_vocabulary", "plural", "decimals", "ABBREVIATIONS", "CLITICS", "SPELLINGS"]

#: Words whose full stop is theirs (the Hinton vocabulary has mr. ms. dr.).
ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "st.", "jr.", "sr.", "prof.", "vs.", "etc."})
#: Endings cut off as words of their own.
CLITICS = ("n't", "'s", "'re", "'ll", "'ve", "'d", "'m")
#: Other spellings of a word among the corpora (the Hinton vocabulary has ``nt``, not ``n't``).
SPELLINGS = {"n't": ("nt",), "nt": ("n't",)}

_CLITIC = "|".join(re.escape(c) for c in CLITICS)
_APOSTROPHE_CLITIC = "|".join(re.escape(c) for c in CLITICS if c.startswith("'"))
# The pieces of one white-space-separated chunk that is not simply letters and digits.
_PIECE = re.compile(
    rf"""(?:{_CLITIC})(?![\w'])                               # a clitic: n't 's 're ...
    | \d+(?:[.,]\d+)+                                          # 3.5, 1,000
    | \w+?(?=n't(?![\w']))                                     # do (of don't)
    | \w+(?:[-']\w+)*?(?=(?:{_APOSTROPHE_CLITIC})(?![\w']))    # smith (of smith's)
    | \w+(?:[-']\w+)*                                          # words, o'clock, well-known
    | -{{2,}} | \.{{3}}                                        # a dash, an ellipsis
    | \S                                                       # any other character alone
    """,
    re.X,
)


def split_lowered(text: str, keep: frozenset[str] = frozenset()) -> list[str]:
    """``tokenize`` for text already in lower case; the chunks in ``keep`` stay whole (e.g. a marker)."""
    words: list[str] = []
    add, extend, findall = words.append, words.extend, _PIECE.findall
    for chunk in text.split():
        if chunk.isalnum() or chunk in ABBREVIATIONS or chunk in keep:
            add(chunk)  # most words: no pattern to run
        else:
            extend(findall(chunk))
    return words


def tokenize(text: str) -> list[str]:
    """The words of ``text``, lower-cased, punctuation and clitics apart (see the module docstring)."""
    return split_lowered(text.lower())


def in_vocabulary(word: str, vocabulary) -> str:
    """``word`` as ``vocabulary`` (any container of words) spells it: itself, or another spelling it has.

    A word the vocabulary has in neither spelling comes back unchanged, for the caller to refuse.
    """
    if word in vocabulary:
        return word
    return next((other for other in SPELLINGS.get(word, ()) if other in vocabulary), word)


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """``n`` and the noun, singular for one: "1 minibatch", "2,000 minibatches", "3 entries".

    The plural is ``plural_form``, else the English rule for the noun's ending
    (-s, -es after s, x, ch, sh; -ies after a consonant and y).
    """
    if n == 1:
        return f"1 {noun}"
    if plural_form is None:
        if noun.endswith(("s", "x", "ch", "sh")):
            plural_form = noun + "es"
        elif noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
            plural_form = noun[:-1] + "ies"
        else:
            plural_form = noun + "s"
    return f"{n:,} {plural_form}"


def decimals(value: float, places: int = 3) -> str:
    """``value`` with ``places`` decimals ("4.198"), as losses and distances are shown; from a million on (and
    for NaN or infinity) in short scientific form ("1e+308"), never as hundreds of digits."""
    v = float(value)
    if abs(v) < 1e6:  # False for NaN
        return f"{v:.{places}f}"
    return f"{v:.{places + 1}g}"
