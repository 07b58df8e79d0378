"""Saving what a panel shows: a plot to PNG, written atomically; the save dialog, replaceable in tests."""

from __future__ import annotations

import os
from pathlib import Path

from pyqtgraph.exporters import ImageExporter

from core.errors import ExplorerError
from core.files import atomic_path


def ask_save_path(parent, title: str, suggested: str, filters: str) -> str:
    """The file name the user picks in a save dialog ('' when cancelled), in the last folder used."""
    from ..file_dialogs import ask_save_file

    return ask_save_file(parent, title, suggested, filters)


def save_plot_png(plot_item, path, width: int) -> Path:
    """Render a pyqtgraph PlotItem to ``path`` (PNG, ``width`` pixels wide) through a temporary file."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ExplorerError(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        with atomic_path(path, prefix="." + path.stem + ".", suffix=".png") as tmp:
            exporter = ImageExporter(plot_item)
            exporter.parameters()["width"] = int(width)
            ok = exporter.export(str(tmp))
            if ok is False or os.path.getsize(tmp) == 0:
                raise ExplorerError(f"could not write the image to {path}")
    except OSError as err:
        raise ExplorerError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def ask_and_save_png(widget, title: str, suggested: str, save, say) -> None:
    """Ask ``widget.ask_save_path`` for a PNG name, ``save(path)`` there, and ``say`` what happened (one line)."""
    path = widget.ask_save_path(widget, title, suggested, "PNG images (*.png)")
    if not path:
        return
    if not path.lower().endswith(".png"):
        path += ".png"
    try:
        save(path)
    except ExplorerError as err:
        say(f"Could not save: {err}")
    else:
        say(f"Saved to {path}")
