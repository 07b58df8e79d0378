"""The project's own errors.

Every error a user can cause is an ``ExplorerError`` whose message is one
clear line. ``InputError`` means "what you gave me cannot work" (the command
line exits 2); any other ``ExplorerError`` means "this failed" (exit 1).
"""


#: How the README runs the command: what a message suggesting a command spells out (``f"{RUN} download"``).
RUN = "uv run backprop-explorer"


class ExplorerError(Exception):
    """A failure the user should read about in one line."""

    exit_status = 1


class InputError(ExplorerError):
    """Bad input: a file, a word, an option value."""

    exit_status = 2


class ConfigError(InputError):
    """A hyperparameter that cannot work."""


class CorpusError(InputError):
    """A corpus that cannot be read or used."""


class CheckpointError(InputError):
    """A checkpoint that cannot be loaded."""


class UnknownWordError(InputError):
    """A word that is not in the vocabulary."""

    def __init__(self, word: str, suggestions: list[str] | None = None):
        self.word = word
        self.suggestions = list(suggestions or [])
        hint = f" (nearest vocabulary words: {', '.join(self.suggestions)})" if self.suggestions else ""
        super().__init__(f"'{word}' is not in the vocabulary{hint}")


class DownloadError(ExplorerError):
    """A download that failed, timed out, was cancelled or did not match its checksum."""


class DivergenceError(ExplorerError):
    """Training produced a non-finite value (or a loss far above a uniform guess's).

    ``summary`` is a short form of the message (a status bar's); ``learning_rate``
    the one in force when it happened and ``suggested_learning_rate`` one to go
    on with (None when the learning rate is not the cause).
    """

    def __init__(
        self,
        message: str,
        where: str = "",
        batch: int | None = None,
        *,
        summary: str = "",
        learning_rate: float | None = None,
        suggested_learning_rate: float | None = None,
    ):
        self.where = where
        self.batch = batch
        self.summary = summary or message
        self.learning_rate = learning_rate
        self.suggested_learning_rate = suggested_learning_rate
        super().__init__(message)


class LessonError(InputError):
    """A lesson file that cannot be read: the message names the file and the line."""

    def __init__(self, path, line: int, what: str):
        self.path, self.line, self.what = str(path), int(line), what
        from pathlib import Path

        super().__init__(f"{Path(path).name}, line {line}: {what}")
