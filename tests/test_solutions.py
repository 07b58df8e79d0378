"""A learner's stage code: the templates come from the registries, compile, and name every input; files round-trip."""

import inspect
import unicodedata

import numpy as np
import pytest

from core.errors import InputError
from core.model import Config, FourGramModel
from core.solutions import (
    DATA_ENV,
    defined_stages,
    load_solution,
    python_name,
    read_code,
    save_solution,
    solution_path,
    stage_results,
    template,
    writable_stages,
    write_code,
)
from core.stages import run_stages


def _model(hidden=(7,), activations=("sigmoid",)):
    vocab = [f"w{i}" for i in range(11)]
    return FourGramModel(vocab, Config(embed_dim=4, hidden_dims=hidden, activations=activations, batch_size=5))


def _function(code: str, name: str):
    namespace = {}
    exec(compile(code, "<template>", "exec"), namespace)
    return namespace[name]


@pytest.mark.parametrize("hidden,acts", [((), ()), ((7,), ("sigmoid",)), ((6, 5), ("relu", "tanh"))])
def test_every_stage_but_the_update_has_a_template_whose_parameters_the_minibatch_provides(hidden, acts):
    model = _model(hidden, acts)
    rng = np.random.default_rng(0)
    x, t = rng.integers(0, 11, (5, 3)), rng.integers(0, 11, 5)
    pool = dict(model.params)
    pool.update({unicodedata.normalize("NFKC", k): v for k, v in model.sizes(5).items()})
    for stage in run_stages(model, x, t):
        pool.update(stage.arrays)
        if stage.is_update:
            continue
        code = template(model, stage.name, batch_size=5)
        fn = _function(code, stage.name)
        params = list(inspect.signature(fn).parameters)
        assert params == [python_name(i) for i in stage.spec.inputs]
        # Every input is something the minibatch has computed by the time the stage runs (or a size).
        missing = [p for p in stage.spec.inputs if p not in pool and python_name(p) not in pool]
        assert not missing, (stage.name, missing)
        # The docstring names every input and result with its numeric shape.
        doc = inspect.getdoc(fn)
        for name in (*stage.spec.inputs, *stage_results(model, stage.name)):
            assert python_name(name) in doc
        with pytest.raises(NotImplementedError):
            fn(*(pool.get(p, pool.get(python_name(p))) for p in stage.spec.inputs))
    assert [s.name for s in writable_stages(model)] == [s.name for s in model.stage_specs[:-1]]


def test_the_embedding_gradient_template_names_shapes_and_sizes():
    model = _model()
    code = template(model, "embedding_gradient", batch_size=5)
    assert "def embedding_gradient(x, de, V, d):" in code
    assert "x: N×3 = 5×3" in code
    assert "de: N×3d = 5×12" in code
    assert "V = 11" in code and "d = 4" in code
    assert "dW_emb: V×d = 11×4" in code
    assert stage_results(model, "output_weights") == ("dW_o", "db_o")
    assert stage_results(model, "embed") == ("e",)
    assert stage_results(model, "softmax") == ("p",)


def test_the_activation_derivative_reads_what_its_formula_uses():
    model = _model((6, 5), ("relu", "tanh"))
    assert model.stage_spec("through_activation_1").inputs == ("dh1", "z_h1")  # ReLU: [z > 0]
    assert model.stage_spec("through_activation_2").inputs == ("dh2", "h2")  # tanh: 1 − h²
    assert python_name("H₁") == "H1"


def test_unknown_or_unwritable_stages_raise():
    model = _model()
    with pytest.raises(KeyError):
        template(model, "no_such_stage")
    with pytest.raises(KeyError):
        template(model, "update")


def test_defined_stages_reads_without_running():
    model = _model()
    code = "import os\nos._exit(3)\ndef helper():\n    pass\ndef output_error(p, t, N):\n    return p\n" \
           "def embedding_gradient(x, de, V, d):\n    return 0\n"
    assert defined_stages(code, model) == ["output_error", "embedding_gradient"]
    with pytest.raises(InputError, match=r"^line 2: "):
        defined_stages("def f():\n  return (\n", model)


def test_solutions_are_kept_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    assert load_solution("embedding_gradient") is None
    path = save_solution("embedding_gradient", "def embedding_gradient(x, de, V, d):\n    return 1")
    assert path == tmp_path / "data" / "solutions" / "embedding_gradient.py" == solution_path("embedding_gradient")
    assert load_solution("embedding_gradient").endswith("return 1\n")
    assert [p.name for p in path.parent.iterdir()] == ["embedding_gradient.py"]  # no temporary file left
    with pytest.raises(ValueError):
        solution_path("../x")


def test_code_files_round_trip_and_fail_in_one_line(tmp_path):
    out = write_code(tmp_path / "mine", "x = 1\n")
    assert out == tmp_path / "mine.py" and read_code(out) == "x = 1\n"
    (tmp_path / "bad.py").write_bytes(b"x = '\xff'\n")
    for path, pattern in ((tmp_path / "bad.py", "not UTF-8"), (tmp_path / "none.py", "does not exist"),
                          (tmp_path, "not a file")):
        with pytest.raises(InputError, match=pattern) as err:
            read_code(path)
        assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="cannot write"):
        write_code(tmp_path / "no" / "such" / "folder.py", "x")
