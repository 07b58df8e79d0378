"""What the application says: commands a README user can run, and counts with the right plural."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from core.errors import RUN, CorpusError
from core.text import plural

ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ("train", "predict", "nearest", "distance", "download")


def string_pieces(path: Path):
    """Every string literal of a module (the pieces of f-strings too), with its line."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_every_command_a_message_suggests_is_run_as_the_readme_runs_it():
    assert RUN == "uv run backprop-explorer"
    assert f"{RUN} download" in (ROOT / "README.md").read_text(encoding="utf-8")
    bare = re.compile(rf"(?<!uv run )\bbackprop-explorer (?:{'|'.join(SUBCOMMANDS)}|--)")
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for folder in ("core", "explorer")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, text in string_pieces(path)
        if bare.search(text)
    ]
    assert found == []


def test_the_hinton_corpus_not_yet_downloaded_names_the_command(tmp_path, monkeypatch):
    from core.corpus import load_source

    monkeypatch.setenv("BACKPROP_EXPLORER_CACHE", str(tmp_path))
    with pytest.raises(CorpusError) as info:
        load_source("hinton")
    assert f"run `{RUN} download`" in str(info.value)


@pytest.mark.parametrize(
    "n, noun, text",
    [
        (1, "minibatch", "1 minibatch"),
        (2, "minibatch", "2 minibatches"),
        (0, "word", "0 words"),
        (12_345, "example", "12,345 examples"),
        (1, "entry", "1 entry"),
        (3, "entry", "3 entries"),
        (2, "day", "2 days"),
        (2, "4-gram", "2 4-grams"),
        (5, "index", "5 indexes"),
        (4, "person", "4 people"),
    ],
)
def test_plural(n, noun, text):
    assert plural(n, noun, "people" if noun == "person" else None) == text


def plain(html_text: str) -> str:
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(html_text)
    return doc.toPlainText()


def test_one_minibatch_and_one_example_are_said_in_the_singular(qtbot, demo_corpus):
    from core.model import Config
    from explorer.app import create_window

    w = create_window(corpus=demo_corpus, config=Config(batch_size=1))
    w.confirm_on_close = False
    qtbot.addWidget(w)
    while w.session.stage is None or w.session.stage.name != "loss":
        w.action_step_stage.trigger()
    header = plain(w.matrix_view.header.text())
    assert "over the 1 example;" in header, header
    w.action_step_batch.trigger()
    assert w.session.trainer.step == 1
    w.embedding_map_view.refresh()
    texts = {
        "loss readout": w.loss_view.readout.text(),
        "status tooltip": w.status_batch.toolTip(),
        "map status": w.embedding_map_view.status_label.text(),
    }
    for where, text in texts.items():
        assert "1 minibatch" in text and "1 minibatches" not in text, (where, text)
    w.shutdown()
