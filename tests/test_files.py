"""Every file the application writes gets the permissions a plain open() would give, and is written whole.

The temporary files of the atomic writes are private (0600); what ends up under
the final name must not be: a CSV, a PNG, a checkpoint or the downloaded corpus
is as readable as any file the user makes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from core import checkpoint
from core.export import save_array
from core.files import atomic_path, current_umask, new_file_mode
from core.model import Config, FourGramModel

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")

HINTON = Path(__file__).resolve().parents[2] / "shared" / "data" / "hinton"
UMASKS = [0o022, 0o077, 0o002]


@pytest.fixture(params=UMASKS, ids=[f"umask{m:03o}" for m in UMASKS])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def open_mode(folder: Path) -> int:
    """What open() gives a new file in this process, now."""
    probe = folder / "made-with-open"
    probe.write_text("x")
    try:
        return mode(probe)
    finally:
        probe.unlink()


def test_the_umask_is_read_without_changing_it(umask):
    assert current_umask() == umask
    assert current_umask() == umask


def test_arrays_and_checkpoints_get_the_permissions_of_open(tmp_path, umask):
    expected = open_mode(tmp_path)
    assert expected == 0o666 & ~umask
    for name in ("a.csv", "a.npy"):
        assert mode(save_array(tmp_path / name, np.eye(3))) == expected, name
    model = FourGramModel(["a", "b", "c"], Config(embed_dim=2, hidden_dim=3))
    assert mode(checkpoint.save(tmp_path / "m.npz", model)) == expected


def test_a_replaced_file_keeps_its_permissions_as_with_open(tmp_path, umask):
    target = tmp_path / "kept.csv"
    target.write_text("old")
    target.chmod(0o640)
    save_array(target, np.zeros(2))
    assert mode(target) == 0o640 and target.read_text().startswith("0,1")
    assert new_file_mode(target) == 0o640


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "kept.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]


@pytest.mark.hinton
def test_the_downloaded_corpus_and_its_cache_get_the_permissions_of_open(tmp_path, umask, monkeypatch):
    from core.download import HINTON_FILES, download_hinton

    if not all((HINTON / n).is_file() for n in HINTON_FILES):
        pytest.skip(f"the Hinton corpus is not in {HINTON}")
    from core.corpus import load_hinton_folder

    folder = download_hinton(tmp_path / "dl", HINTON.as_uri() + "/")
    expected = open_mode(tmp_path)
    assert {n: mode(folder / n) for n in HINTON_FILES} == {n: expected for n in HINTON_FILES}
    monkeypatch.setenv("BACKPROP_EXPLORER_CACHE", str(tmp_path / "cache"))
    load_hinton_folder(folder)  # keeps the parsed corpus in the cache folder, for a quicker next start
    (parsed,) = (tmp_path / "cache" / "parsed").glob("hinton-*.npz")
    assert mode(parsed) == expected


def test_the_window_writes_exports_pictures_and_checkpoints_with_the_permissions_of_open(
    qtbot, demo_corpus, tmp_path, umask
):
    from explorer.app import create_window

    w = create_window(corpus=demo_corpus)
    w.confirm_on_close = False
    qtbot.addWidget(w)
    w.session.run_batches(5)
    for view, name in ((w.matrix_view, "matrix.csv"), (w.loss_view, "loss.png"), (w.embedding_map_view, "map.png")):
        view.ask_save_path = lambda *args, name=name: str(tmp_path / name)
        view.export_actions()[0].trigger()
    assert w.save_picture_to(tmp_path / "window.png")
    assert w.save_checkpoint_to(tmp_path / "model.npz")
    w.shutdown()
    expected = open_mode(tmp_path)
    written = {p.name: mode(p) for p in tmp_path.iterdir()}
    assert written == {n: expected for n in ("matrix.csv", "loss.png", "map.png", "window.png", "model.npz")}
