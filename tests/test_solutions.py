"""Where a learner's stage code is kept: a file per stage in the data folder; any .py file; the reference answer."""

import pytest

from core.checker import read_source, stage_functions
from core.errors import InputError
from core.solutions import (
    DATA_ENV,
    defined_stages,
    function_source,
    load_solution,
    reference_code,
    save_solution,
    solution_path,
    write_code,
)

NAMES = [f.name for f in stage_functions()]


def test_defined_stages_reads_without_running():
    code = "import os\nos._exit(3)\ndef helper():\n    pass\ndef output_error(p, t, N):\n    return p\n" \
           "def embedding_gradient(x, de, V, d):\n    return 0\n"
    assert defined_stages(code, NAMES) == ["output_error", "embedding_gradient"]
    with pytest.raises(InputError, match=r"^line 2: "):
        defined_stages("def f():\n  return (\n", NAMES)


def test_solutions_are_kept_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    assert load_solution("embedding_gradient") is None
    path = save_solution("embedding_gradient", "def embedding_gradient(x, de, V, d):\n    return 1")
    assert path == tmp_path / "data" / "solutions" / "embedding_gradient.py" == solution_path("embedding_gradient")
    assert load_solution("embedding_gradient").endswith("return 1\n")
    assert [p.name for p in path.parent.iterdir()] == ["embedding_gradient.py"]  # no temporary file left
    with pytest.raises(ValueError):
        solution_path("../x")


def test_code_files_are_written_whole_with_a_py_suffix(tmp_path):
    out = write_code(tmp_path / "mine", "x = 1\n")
    assert out == tmp_path / "mine.py" and read_source(out) == "x = 1\n"
    with pytest.raises(InputError, match="cannot write") as err:
        write_code(tmp_path / "no" / "such" / "folder.py", "x")
    assert "\n" not in str(err.value)


def test_the_reference_answer_of_every_stage_is_its_function_in_correct_py():
    for name in NAMES:
        code = reference_code(name)
        assert code is not None and code.startswith(f"def {name}("), name
    assert "np.add.at" in reference_code("embedding_gradient")
    assert reference_code("no_such_stage") is None
    text = "import numpy as np\n\n@staticmethod\ndef f(a):\n    # a comment\n    return a\n\ndef g():\n    pass\n"
    assert function_source(text, "f") == "@staticmethod\ndef f(a):\n    # a comment\n    return a\n"
    assert function_source("def f(:", "f") is None
