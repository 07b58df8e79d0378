"""Every file dialog of the application, in one place: each opens in the last folder used.

The folder a dialog was left in (the one of the file chosen, or the folder
chosen) is remembered in the settings file (``explorer.settings``), so the
next dialog -- of any kind, in this run or the next -- opens there instead of
the home folder. The home folder is used until something was chosen, or when
the remembered folder no longer exists.

Each function returns the path chosen, or ``''`` when the dialog was cancelled.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog

from .settings import settings_path

KEY = "files/last_folder"

__all__ = ["last_folder", "remember_folder", "ask_open_file", "ask_save_file", "ask_folder"]


def _settings() -> QSettings:
    return QSettings(str(settings_path()), QSettings.Format.IniFormat)


def last_folder() -> Path:
    """The folder the last file dialog was left in, else the home folder."""
    value = _settings().value(KEY)
    if isinstance(value, str) and value:
        folder = Path(value)
        try:
            if folder.is_dir():
                return folder
        except OSError:
            pass
    return Path.home()


def remember_folder(path) -> None:
    """Remember the folder of ``path`` (or ``path`` itself if it is a folder) for the next dialog."""
    if not path:
        return
    p = Path(path).expanduser().absolute()
    folder = p if p.is_dir() else p.parent
    try:
        settings_path().parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # nothing remembered: the next dialog opens in the home folder
    settings = _settings()
    settings.setValue(KEY, str(folder))
    settings.sync()


def ask_open_file(parent, title: str, filters: str) -> str:
    """An existing file to open."""
    path, _ = QFileDialog.getOpenFileName(parent, title, str(last_folder()), filters)
    remember_folder(path)
    return path


def ask_save_file(parent, title: str, suggested: str, filters: str) -> str:
    """A file name to write, offering ``suggested`` (a bare name) in the last folder."""
    path, _ = QFileDialog.getSaveFileName(parent, title, str(last_folder() / Path(suggested).name), filters)
    remember_folder(path)
    return path


def ask_folder(parent, title: str) -> str:
    """An existing folder."""
    path = QFileDialog.getExistingDirectory(parent, title, str(last_folder()))
    remember_folder(path)
    return path
