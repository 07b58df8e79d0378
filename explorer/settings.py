"""Where the window keeps what it remembers between runs: one INI file in the user's settings folder.

The folder is the user's configuration folder for ``backprop-explorer``
(platformdirs), or the one named by the environment variable
``BACKPROP_EXPLORER_SETTINGS`` (tests and scripts use it). The window's size
and dock layout are kept there, the mode last used (Lesson or Explorer; a
fresh folder opens Lesson mode), and the last folder a file dialog was in.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

SETTINGS_ENV = "BACKPROP_EXPLORER_SETTINGS"  # a folder for the window's settings instead of the user's


def settings_path() -> Path:
    """The INI file (it may not exist yet)."""
    root = os.environ.get(SETTINGS_ENV)
    folder = Path(root) if root else Path(platformdirs.user_config_dir("backprop-explorer", appauthor=False))
    return folder / "window.ini"


__all__ = ["SETTINGS_ENV", "settings_path"]
