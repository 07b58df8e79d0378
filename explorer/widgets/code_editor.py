"""A small Python editor: a plain-text field with a monospace font, Pygments highlighting and 4-space tabs.

``PythonHighlighter`` is a ``QSyntaxHighlighter`` fed by Pygments' Python
lexer and coloured by one of its styles (``default``): a well-kept lexer
knows strings, f-strings, decorators and the newest keywords. The document is
lexed whole (a learner's function is a few dozen lines) whenever it changed,
and each block takes its own spans from that; a block's state is a hash of
its spans, so that Qt goes on to highlight the following blocks exactly when
a change (an opening triple quote) reaches past the edited line.

``CodeEditor`` is a ``QPlainTextEdit`` that inserts four spaces for Tab,
keeps the indentation of the line above on Return, and never wraps lines.
"""

from __future__ import annotations

from pygments.lexers import PythonLexer
from pygments.styles import get_style_by_name
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QSyntaxHighlighter, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

from ..guard import qt_override

__all__ = ["PythonHighlighter", "CodeEditor", "INDENT"]

INDENT = "    "
STYLE = "default"


def _char_format(style: dict) -> QTextCharFormat | None:
    """A Pygments style entry (color, bold, italic, ...) as a text format; None when it changes nothing."""
    fmt = QTextCharFormat()
    plain = True
    if style.get("color"):
        fmt.setForeground(QColor(f"#{style['color']}"))
        plain = False
    if style.get("bold"):
        fmt.setFontWeight(QFont.Weight.Bold)
        plain = False
    if style.get("italic"):
        fmt.setFontItalic(True)
        plain = False
    return None if plain else fmt


class PythonHighlighter(QSyntaxHighlighter):
    """Python highlighting from Pygments (see the module docstring)."""

    def __init__(self, document):
        super().__init__(document)
        self._lexer = PythonLexer(stripnl=False, ensurenl=False)
        self._style = get_style_by_name(STYLE)
        self._formats: dict = {}  # token type → QTextCharFormat or None
        self._revision = -1
        self._spans: dict[int, list[tuple[int, int, object]]] = {}  # block number → (start, length, token type)

    def format_for(self, token) -> QTextCharFormat | None:
        if token not in self._formats:
            self._formats[token] = _char_format(self._style.style_for_token(token))
        return self._formats[token]

    def spans(self, block_number: int) -> list[tuple[int, int, object]]:
        """The (start, length, Pygments token type) of block ``block_number``, for the document as it is."""
        self._lex()
        return self._spans.get(block_number, [])

    def _lex(self) -> None:
        doc = self.document()
        if doc is None or doc.revision() == self._revision:
            return
        self._revision = doc.revision()
        text = doc.toPlainText()
        spans: dict[int, list] = {}
        line, line_start = 0, 0
        for index, token, value in self._lexer.get_tokens_unprocessed(text):
            start = index
            for piece in value.split("\n"):  # a token may run over several lines (a docstring)
                if piece and self.format_for(token) is not None:
                    spans.setdefault(line, []).append((start - line_start, len(piece), token))
                start += len(piece)
                if start < index + len(value):  # a newline follows this piece
                    start += 1
                    line += 1
                    line_start = start
        self._spans = spans

    @qt_override(fallback=None)
    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt name)
        number = self.currentBlock().blockNumber()
        spans = self.spans(number)
        for start, length, token in spans:
            self.setFormat(start, length, self.format_for(token))
        self.setCurrentBlockState(hash(tuple((s, n, str(t)) for s, n, t in spans)) & 0x3FFFFFFF)


class CodeEditor(QPlainTextEdit):
    """A Python code field; see the module docstring. ``highlighter`` is its ``PythonHighlighter``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * len(INDENT))
        self.setPlaceholderText("def stage_name(inputs):\n    return result")
        self.highlighter = PythonHighlighter(self.document())

    @qt_override
    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        key = event.key()
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if key == Qt.Key.Key_Tab and mods == Qt.KeyboardModifier.NoModifier:
            self.insertPlainText(INDENT)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and mods == Qt.KeyboardModifier.NoModifier:
            cursor = self.textCursor()
            line = cursor.block().text()[: cursor.positionInBlock()]
            indent = line[: len(line) - len(line.lstrip(" "))]
            if line.rstrip().endswith(":"):
                indent += INDENT
            cursor.insertText("\n" + indent)
            self.setTextCursor(cursor)
            return
        if key == Qt.Key.Key_Backspace and mods == Qt.KeyboardModifier.NoModifier:
            cursor = self.textCursor()
            before = cursor.block().text()[: cursor.positionInBlock()]
            if before and not before.strip(" ") and not cursor.hasSelection():  # only spaces: back one indent
                n = (len(before) - 1) % len(INDENT) + 1
                cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, n)
                cursor.removeSelectedText()
                return
        super().keyPressEvent(event)

    def set_code(self, text: str) -> None:
        """Replace the whole text (one undo step), the cursor at the start."""
        cursor = self.textCursor()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.movePosition(QTextCursor.MoveOperation.Start)
        self.setTextCursor(cursor)

    def code(self) -> str:
        return self.toPlainText()
