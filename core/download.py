"""Download the Hinton 4-gram corpus into a cache folder, checking every byte.

The four files of the corpus (see ``HINTON_FILES``) are fetched from public
addresses pinned to one commit, or from a mirror: a flat folder reachable
through an ``http://``, ``https://`` or ``file://`` URL prefix.

Every file is streamed into a temporary file next to its final name, hashed as
it arrives, and moved under its final name (``os.replace``) only once its
sha256 matches. Whatever goes wrong -- an HTTP error, a refused or dropped
connection, a stalled server, a checksum mismatch, a cancel, a full disk -- the
temporary file is removed, nothing unverified ever appears under a final name,
and a ``DownloadError`` with a one-line message is raised.

Standard library and ``platformdirs`` only: nothing here imports Qt.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import platformdirs

from core.errors import DownloadError, InputError
from core.files import new_file_mode

__all__ = [
    "DEFAULT_PREFIX",
    "HINTON_FILES",
    "HINTON_SIZES",
    "DownloadCancelled",
    "ProgressCallback",
    "cache_dir",
    "file_urls",
    "find_cached",
    "download_hinton",
]

#: The commit of the public repository the default addresses are pinned to.
DEFAULT_PREFIX = (
    "https://raw.githubusercontent.com/gingerbig/wordnet/651cbec774d77a42daebeb066a85f27afd0aa267/"
)

#: File name -> (default URL, sha256), in download order. The files live in
#: different sub-folders of the pinned commit; a mirror is a flat folder.
HINTON_FILES: dict[str, tuple[str, str]] = {
    "raw_sentences.txt": (
        DEFAULT_PREFIX + "raw-data/raw_sentences.txt",
        "68f938bf5e07dd2a93ba94b8fe6e885d0e9c47bdd9288e4240392b01a516252f",
    ),
    "vocab.txt": (
        DEFAULT_PREFIX + "src/data/vocab.txt",
        "963df394e8a2b435da8d25595fdafcf6145095477ca22c7458475cafac5ae077",
    ),
    "valid_data.csv": (
        DEFAULT_PREFIX + "src/data/valid_data.csv",
        "55df54636164cd170ee234463471d3c7e9a0f83342ca6bf19fc7b6f6d7a7482e",
    ),
    "test_data.csv": (
        DEFAULT_PREFIX + "src/data/test_data.csv",
        "842a555d72dac89e14c98d28968a084748c0e26b4a5c7c33d7f1fef040dfbe70",
    ),
}

#: File name -> size in bytes (implied by the sha256; used to reject a wrong
#: file early, to cap a download, and to report progress without a
#: Content-Length).
HINTON_SIZES: dict[str, int] = {
    "raw_sentences.txt": 2_955_731,
    "vocab.txt": 1_314,
    "valid_data.csv": 660_700,
    "test_data.csv": 661_376,
}

#: ``progress(file_name, file_index, n_files, bytes_done, bytes_total_or_None)``;
#: ``file_index`` counts from 0.
ProgressCallback = Callable[[str, int, int, int, int | None], None]

CACHE_ENV = "BACKPROP_EXPLORER_CACHE"
_CHUNK = 64 * 1024


class DownloadCancelled(DownloadError):
    """The download was cancelled by the caller (``cancelled()`` returned True)."""


def cache_dir() -> Path:
    """The folder where the corpus is kept (it may not exist yet).

    ``$BACKPROP_EXPLORER_CACHE/hinton`` when that environment variable is set
    (tests and CI use it), otherwise ``hinton`` in the user's cache folder for
    ``backprop-explorer`` (e.g. ``~/.cache/backprop-explorer/hinton``).
    """
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser() / "hinton"
    return Path(platformdirs.user_cache_dir("backprop-explorer")) / "hinton"


def file_urls(prefix: str | None = None) -> dict[str, str]:
    """File name -> URL: the pinned defaults, or ``prefix`` + file name for a mirror.

    Raises ``InputError`` if ``prefix`` is not an http(s):// or file:// URL.
    """
    if prefix is None:
        return {name: url for name, (url, _) in HINTON_FILES.items()}
    parts = urllib.parse.urlsplit(prefix)
    scheme = parts.scheme.lower()
    if not (scheme in ("http", "https") and parts.netloc) and not (scheme == "file" and parts.path):
        raise InputError(
            f"the mirror must be an http://, https:// or file:// URL prefix, not {prefix!r}"
        )
    if not prefix.endswith("/"):
        prefix += "/"
    return {name: prefix + name for name in HINTON_FILES}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_good(path: Path, name: str) -> bool:
    """True if ``path`` is a regular file with the size and sha256 of ``name``."""
    try:
        return (
            path.is_file()
            and path.stat().st_size == HINTON_SIZES[name]
            and _sha256(path) == HINTON_FILES[name][1]
        )
    except OSError:
        return False


def find_cached(folder: str | os.PathLike[str] | None = None) -> Path | None:
    """``folder`` (default ``cache_dir()``) if it holds all four files, intact; else None.

    Every file's size and sha256 is checked (about 4 MB to hash).
    """
    path = Path(folder) if folder is not None else cache_dir()
    if all(_is_good(path / name, name) for name in HINTON_FILES):
        return path
    return None


def download_hinton(
    dest: str | os.PathLike[str] | None = None,
    prefix: str | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download the four corpus files into ``dest`` and return that folder.

    ``dest`` defaults to ``cache_dir()`` and is created with its parents.
    ``prefix`` is a mirror (a flat folder URL); without it the pinned public
    addresses are used. Files already in ``dest`` with the right sha256 are
    not downloaded again; a file with the wrong content is only ever replaced
    by a verified download, never deleted.

    ``progress(file_name, file_index, n_files, bytes_done, bytes_total)`` is
    called when a file starts, after every chunk, and once (done == total) for
    a file that was already present. ``cancelled()`` is checked before every
    file and every chunk; when it returns True, ``DownloadCancelled`` is
    raised. ``timeout`` (seconds) bounds connecting and every wait for data.

    Raises ``InputError`` for a bad ``prefix`` or ``timeout``, and
    ``DownloadError`` (one line) for anything that failed; files completed
    before the failure stay, they are verified. Folders the download created
    and left empty are removed.
    """
    urls = file_urls(prefix)
    if not timeout > 0:
        raise InputError(f"the download timeout must be a positive number of seconds, not {timeout!r}")
    folder = Path(dest) if dest is not None else cache_dir()
    created = _missing_folders(folder)  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _remove_empty(created)
        raise DownloadError(f"cannot create the folder {folder}: {e.strerror or e}") from None

    n_files = len(HINTON_FILES)
    try:
        for index, name in enumerate(HINTON_FILES):
            if _is_good(folder / name, name):
                if progress is not None:
                    progress(name, index, n_files, HINTON_SIZES[name], HINTON_SIZES[name])
                continue
            if cancelled is not None and cancelled():
                raise DownloadCancelled(f"download of {name} cancelled")
            _download_file(name, urls[name], folder, index, n_files, progress, cancelled, timeout)
    except BaseException:
        _remove_empty(created)  # a failure before any file arrived leaves no empty folder behind
        raise
    return folder


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    out = []
    path = folder.absolute()
    while not path.exists() and path != path.parent:
        out.append(path)
        path = path.parent
    return out


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders this download created (deepest first), as long as they are empty."""
    for path in folders:
        try:
            path.rmdir()
        except OSError:  # not empty (a verified file stayed), or already gone: leave it and its parents
            return


def _download_file(
    name: str,
    url: str,
    folder: Path,
    index: int,
    n_files: int,
    progress: ProgressCallback | None,
    cancelled: Callable[[], bool] | None,
    timeout: float,
) -> None:
    """Stream one file into a temporary file in ``folder``; rename it once verified."""
    size = HINTON_SIZES[name]
    expected_sha = HINTON_FILES[name][1]
    done = 0
    tmp: Path | None = None
    saved = False

    def disk_error(e: OSError) -> DownloadError:
        return DownloadError(f"cannot write {name} in {folder}: {e.strerror or e}")

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = _content_length(response)
            if length is not None and length != size:
                raise DownloadError(
                    f"{name} from {url} has {length:,} bytes instead of {size:,}: "
                    "it is not the expected file, nothing was saved"
                )
            try:
                fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.part-", dir=folder)
            except OSError as e:
                raise disk_error(e) from None
            tmp = Path(tmp_name)
            digest = hashlib.sha256()
            with open(fd, "wb") as out:
                if progress is not None:
                    progress(name, index, n_files, 0, size)
                while True:
                    if cancelled is not None and cancelled():
                        raise DownloadCancelled(f"download of {name} cancelled")
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    done += len(chunk)
                    if done > size:
                        raise DownloadError(
                            f"{name} from {url} is larger than the expected {size:,} bytes: "
                            "nothing was saved"
                        )
                    digest.update(chunk)
                    try:
                        out.write(chunk)
                    except OSError as e:
                        raise disk_error(e) from None
                    if progress is not None:
                        progress(name, index, n_files, done, size)
                try:
                    out.flush()
                    os.fsync(out.fileno())
                except OSError as e:
                    raise disk_error(e) from None
        if done < size:
            raise _closed_error(name, url, done, size)
        got = digest.hexdigest()
        if got != expected_sha:
            raise DownloadError(
                f"{name} from {url} does not match its sha256 checksum "
                f"(got {got[:12]}..., expected {expected_sha[:12]}...): nothing was saved"
            )
        try:
            os.chmod(tmp, new_file_mode(folder / name))  # not the temporary file's private 0600
            os.replace(tmp, folder / name)
        except OSError as e:
            raise disk_error(e) from None
        saved = True
    except DownloadError:
        raise
    except urllib.error.HTTPError as e:
        e.close()
        raise DownloadError(f"download of {name} failed: HTTP {e.code} {e.reason} from {url}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise _timeout_error(name, url, timeout) from None
        raise DownloadError(f"download of {name} failed: {_reason(e.reason)} from {url}") from None
    except TimeoutError:
        raise _timeout_error(name, url, timeout) from None
    except http.client.IncompleteRead:
        raise _closed_error(name, url, done, size) from None
    except (http.client.HTTPException, OSError) as e:
        raise DownloadError(f"download of {name} failed: {_reason(e)} from {url}") from None
    finally:
        if tmp is not None and not saved:
            try:
                tmp.unlink()
            except OSError:
                pass


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reason(reason: object) -> str:
    """A short text for an error reason (``Connection refused`` rather than ``[Errno 111] ...``)."""
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    text = str(reason).strip() or type(reason).__name__
    return " ".join(text.split())


def _timeout_error(name: str, url: str, timeout: float) -> DownloadError:
    return DownloadError(f"download of {name} timed out after {timeout:g} s without data from {url}")


def _closed_error(name: str, url: str, done: int, size: int) -> DownloadError:
    return DownloadError(f"connection closed after {done:,} of {size:,} bytes of {name} from {url}")
