"""Writing files as a user expects: all at once, and with the permissions a plain ``open()`` gives.

Every file the application writes (checkpoints, exported arrays and pictures,
the downloaded corpus, caches) is first written to a temporary file in the
same folder and then renamed over its final name, so that a failure never
leaves a half-written file under that name. ``tempfile.mkstemp`` makes its
file private (mode 0600); left so, every file written this way would be
unreadable to the user's group and others, unlike one written with
``open()``. ``new_file_mode`` is the mode ``open()`` would give: that of the
file being replaced, else 0666 without the bits of the user's umask;
``atomic_path`` applies it before the rename.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["current_umask", "new_file_mode", "atomic_path"]

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux ``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # elsewhere: set and put back at once (the only way to read it)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_file_mode(path) -> int:
    """The permission bits ``open(path, "w")`` would leave: those of the file it replaces, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


@contextmanager
def atomic_path(path, *, prefix: str | None = None, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file's path next to ``path``: write it in the ``with`` block; it then replaces ``path``.

    On leaving the block normally, the temporary file gets ``new_file_mode(path)``
    and is renamed to ``path``; if the block raises, it is removed and ``path``
    is left as it was. ``OSError`` from creating, renaming or removing it goes
    to the caller. The temporary name is hidden (it starts with a dot).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name[:100]}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, new_file_mode(path))
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass
