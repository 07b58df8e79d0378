"""A learner's own code for a stage: the template it starts from, and where it is kept.

A learner writes a stage of the minibatch as a Python function named after
the stage (``embedding_gradient``, ``output_error``, ...) whose parameters
name what it reads, as the formulas name it: arrays and parameters of the
network (``x``, ``de``, ``W_h``) and size symbols (``N``, ``V``, ``d``). It
returns the stage's result (a tuple where the stage has two, e.g.
``dW_o, db_o``). The same file format is what ``backprop-explorer check``
reads.

* ``template(model, stage)``: the function's signature and a docstring naming
  its inputs with their shapes and meanings and what it returns, all read
  from the model's registries (``model.stage_specs[...].inputs`` and
  ``model.specs``), for the current sizes;
* ``defined_stages(text, model)``: the stage functions a piece of code
  defines (read with ``ast``: nothing is run);
* ``load_solution`` / ``save_solution``: one file per stage,
  ``<stage>.py``, in the ``solutions`` folder of the user's data folder
  (``$BACKPROP_EXPLORER_DATA`` when set, else
  ``platformdirs.user_data_dir("backprop-explorer")``);
* ``read_code`` / ``write_code``: any ``.py`` file the user chooses, with
  one-line errors (``InputError``), written whole or not at all.
"""

from __future__ import annotations

import ast
import os
import unicodedata
from pathlib import Path

from .errors import InputError
from .files import atomic_path
from .specs import StageSpec, fill_shapes

DATA_ENV = "BACKPROP_EXPLORER_DATA"  # a folder for the user's data instead of the platform's
MAX_CODE_BYTES = 1_000_000  # a learner's file larger than this is not a learner's file

# What the size symbols of the specs are (the hidden sizes "H", "H₁", ... share one meaning).
SIZE_MEANINGS = {
    "N": "examples in the minibatch",
    "V": "words in the vocabulary",
    "d": "components of a word vector",
    "3d": "columns of e (three word vectors side by side)",
    "H": "units of the hidden layer",
}

__all__ = [
    "DATA_ENV",
    "data_dir",
    "solutions_dir",
    "python_name",
    "writable_stages",
    "stage_results",
    "template",
    "defined_stages",
    "solution_path",
    "load_solution",
    "save_solution",
    "read_code",
    "write_code",
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


def python_name(symbol: str) -> str:
    """The Python parameter name of an input: itself, or a size symbol's NFKC form ("H₁" → "H1")."""
    name = unicodedata.normalize("NFKC", symbol)
    if not name.isidentifier():
        raise ValueError(f"{symbol!r} cannot be a Python parameter name")
    return name


def writable_stages(model) -> list[StageSpec]:
    """The stages a learner can write: those that declare what they read (every one but the update)."""
    return [s for s in model.stage_specs if s.inputs]


def _stage(model, name: str) -> StageSpec:
    spec = model.stage_spec(name)  # KeyError for a stage this network does not have
    if not spec.inputs:
        raise KeyError(f"the stage {name!r} is not one a learner writes")
    return spec


def stage_results(model, name: str) -> tuple[str, ...]:
    """What the stage's function returns, in order: its arrays, less its inputs and the minibatch's x and t."""
    spec = _stage(model, name)
    return tuple(a for a in spec.arrays if a not in spec.inputs and model.specs[a].role != "input")


def _size_meaning(symbol: str) -> str:
    if symbol in SIZE_MEANINGS:
        return SIZE_MEANINGS[symbol]
    base = symbol.rstrip("₀₁₂₃₄₅₆₇₈₉")
    if base == "H" and base != symbol:
        layer = unicodedata.normalize("NFKC", symbol[1:])
        return f"units of hidden layer {layer}"
    return "a size"


def _describe(model, name: str, sizes: dict[str, int]) -> str:
    """'de: N×3d = 100×150 — gradient of L with respect to e', or 'V = 250 — words in the vocabulary'."""
    if name in model.specs:
        spec = model.specs[name]
        shape = fill_shapes(f"{python_name(name)}: {spec.shape_text}", sizes)
        if len(spec.dims) == 1:  # 'b_h: H = 200' reads better than fill_shapes' 'b_h: H'
            shape = f"{python_name(name)}: {spec.dims[0]} = {spec.shape(sizes)[0]}"
        return f"{shape} — {spec.description}"
    if name in sizes:
        return f"{python_name(name)} = {sizes[name]} — {_size_meaning(name)}"
    raise KeyError(f"{name!r} is neither an array nor a size of this network")


def template(model, name: str, batch_size: int | None = None) -> str:
    """The starting code for stage ``name``: the imports, the signature, a docstring, an unfinished body."""
    spec = _stage(model, name)
    sizes = model.sizes(batch_size)
    params = ", ".join(python_name(i) for i in spec.inputs)
    results = stage_results(model, name)
    lines = [
        "import numpy as np",
        "",
        "",
        f"def {name}({params}):",
        f'    """{spec.title}: {spec.formula}',
        "",
        "    Inputs (read-only copies):",
        *(f"      {_describe(model, i, sizes)}" for i in spec.inputs),
        "",
        "    Returns, in this order (a tuple):" if len(results) > 1 else "    Returns:",
        *(f"      {_describe(model, r, sizes)}" for r in results),
        '    """',
        f"    raise NotImplementedError(\"{name}: write it here\")",
        "",
    ]
    return "\n".join(lines)


def defined_stages(text: str, model) -> list[str]:
    """The stage functions ``text`` defines at its top level, in the file's order (nothing is run).

    Raises ``InputError`` (one line, with the line number) for code that is not valid Python.
    """
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        raise InputError(f"line {err.lineno}: {err.msg}") from None
    except ValueError as err:  # a NUL byte
        raise InputError(str(err)) from None
    names = {s.name for s in writable_stages(model)}
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name in names]


# ---- files ------------------------------------------------------------------------------------------------


def solution_path(name: str) -> Path:
    if not name.isidentifier():
        raise ValueError(f"{name!r} is not a stage name")
    return solutions_dir() / f"{name}.py"


def load_solution(name: str) -> str | None:
    """The code kept for stage ``name``, or None when there is none (or it cannot be read)."""
    try:
        return read_code(solution_path(name))
    except InputError:
        return None


def save_solution(name: str, text: str) -> Path:
    """Keep ``text`` as the code of stage ``name``; OSError when the folder cannot be written."""
    path = solution_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, text)
    return path


def read_code(path) -> str:
    """The text of a learner's ``.py`` file; ``InputError`` (one line) when it cannot be read as one."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputError(f"{path} is not a file")
        if size > MAX_CODE_BYTES:
            raise InputError(f"{path} is {size:,} bytes: too large for a stage's code")
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path} is not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None


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
