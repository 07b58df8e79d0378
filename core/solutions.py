"""Where a learner's own code for the stages is kept, and writing it to files.

A learner's code is a Python file with functions named after stages, the
format ``backprop-explorer check`` reads (core/checker.py, which also gives
each stage's template and reads such files: ``read_source``).

* ``defined_stages(text, names)``: the stage functions a piece of code
  defines (read with ``ast``: nothing is run);
* ``load_solution`` / ``save_solution``: one file per stage,
  ``<stage>.py``, in the ``solutions`` folder of the user's data folder
  (``$BACKPROP_EXPLORER_DATA`` when set, else
  ``platformdirs.user_data_dir("backprop-explorer")``);
* ``write_code``: any ``.py`` file the user chooses, written whole or not
  at all, with a one-line error (``InputError``);
* ``reference_code(stage)``: the reference answer's function, from
  assets/bugs/correct.py.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from .errors import InputError
from .files import atomic_path

DATA_ENV = "BACKPROP_EXPLORER_DATA"  # a folder for the user's data instead of the platform's

__all__ = [
    "DATA_ENV",
    "data_dir",
    "solutions_dir",
    "defined_stages",
    "solution_path",
    "load_solution",
    "save_solution",
    "write_code",
    "function_source",
    "reference_code",
]


def data_dir() -> Path:
    """The user's data folder for the application (it may not exist yet)."""
    root = os.environ.get(DATA_ENV)
    if root:
        return Path(root).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("backprop-explorer", appauthor=False))


def solutions_dir() -> Path:
    return data_dir() / "solutions"


def defined_stages(text: str, names) -> list[str]:
    """The functions of ``names`` (stage names) that ``text`` defines at its top level, in the file's order.

    Nothing is run: the code is only parsed. Raises ``InputError`` (one line, with the line number) for code
    that is not valid Python.
    """
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        raise InputError(f"line {err.lineno}: {err.msg}") from None
    except ValueError as err:  # a NUL byte
        raise InputError(str(err)) from None
    names = set(names)
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name in names]


# ---- files ------------------------------------------------------------------------------------------------


def solution_path(name: str) -> Path:
    if not name.isidentifier():
        raise ValueError(f"{name!r} is not a stage name")
    return solutions_dir() / f"{name}.py"


def load_solution(name: str) -> str | None:
    """The code kept for stage ``name``, or None when there is none (or it cannot be read)."""
    from .checker import read_source

    try:
        return read_source(solution_path(name))
    except InputError:
        return None


def save_solution(name: str, text: str) -> Path:
    """Keep ``text`` as the code of stage ``name``; OSError when the folder cannot be written."""
    path = solution_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, text)
    return path


def write_code(path, text: str) -> Path:
    """Write ``text`` to ``path`` (a ``.py`` suffix added when it has none); ``InputError`` when it cannot."""
    path = Path(path)
    if path.suffix.lower() != ".py":
        path = path.with_name(path.name + ".py")
    try:
        _write(path, text)
    except OSError as err:
        raise InputError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def _write(path: Path, text: str) -> None:
    with atomic_path(path, suffix=".py") as tmp:
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


# ---- the reference answer -------------------------------------------------------------------------------


def function_source(text: str, name: str) -> str | None:
    """The source of the top-level function ``name`` of ``text`` (decorators and comments too), or None."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    lines = text.splitlines()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            return "\n".join(lines[start:node.end_lineno]) + "\n"
    return None


def reference_code(stage: str) -> str | None:
    """The reference answer for ``stage``: its function in assets/bugs/correct.py (None when it has none)."""
    from .corpus import assets_dir

    try:
        return function_source((assets_dir() / "bugs" / "correct.py").read_text(encoding="utf-8"), stage)
    except OSError:
        return None
