"""Tests of core.download against a real local HTTP server (no internet needed).

The server serves the corpus from ``../shared/data/hinton`` and can misbehave
on demand, one file at a time: a wrong byte, a 404, a connection closed in the
middle of the body, a stall, a wrong size.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import re
import shutil
import socket
import threading
import urllib.parse
from pathlib import Path

import platformdirs
import pytest

from core.download import (
    DEFAULT_PREFIX,
    HINTON_FILES,
    HINTON_SIZES,
    DownloadCancelled,
    cache_dir,
    download_hinton,
    file_urls,
    find_cached,
)
from core.errors import DownloadError, InputError
from explorer.cli import DownloadProgress

HINTON = Path(__file__).resolve().parents[2] / "shared/data/hinton"
if not all((HINTON / name).is_file() for name in HINTON_FILES):
    pytest.skip(f"the Hinton corpus is not in {HINTON}", allow_module_level=True)

pytestmark = pytest.mark.hinton

NAMES = list(HINTON_FILES)
SMALL_TIMEOUT = 0.5  # client timeout in the stall tests, seconds
STALL_MAX = 10.0  # a stalled handler never waits longer than this, even if never released


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class MisbehavingHandler(http.server.BaseHTTPRequestHandler):
    """Serves the corpus files flat at ``/<name>``; ``server.modes[name]`` picks a misbehaviour.

    Modes: ``corrupt`` (one byte changed), ``404``, ``close`` (full
    Content-Length, half the body, then close), ``short_no_length`` (half the
    body without Content-Length), ``stall`` (headers and 1000 bytes, then
    nothing), ``stall_headers`` (no answer at all), ``bigger`` (extra bytes).
    """

    protocol_version = "HTTP/1.0"  # the connection closes after every answer

    def log_message(self, format, *args):  # keep the test output clean
        pass

    def do_GET(self):
        server = self.server
        name = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        with server.lock:
            server.requests.append(name)
        mode = server.modes.get(name, "ok")
        release = server.release
        try:
            if mode == "404" or name not in HINTON_FILES:
                self.send_error(404)
                return
            if mode == "stall_headers":
                release.wait(STALL_MAX)
                return
            data = (HINTON / name).read_bytes()
            if mode == "corrupt":
                middle = len(data) // 2
                data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
            elif mode == "bigger":
                data += b"one more line\n"
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if mode != "short_no_length":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if mode in ("close", "short_no_length"):
                self.wfile.write(data[: len(data) // 2])
            elif mode == "stall":
                self.wfile.write(data[:1000])
                self.wfile.flush()
                release.wait(STALL_MAX)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (cancel, timeout): fine


@pytest.fixture(scope="module")
def _httpd():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MisbehavingHandler)
    httpd.daemon_threads = True  # a stalled handler never blocks the teardown
    httpd.lock = threading.Lock()
    httpd.modes = {}
    httpd.requests = []
    httpd.release = threading.Event()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def server(_httpd):
    """The running server, well-behaved and with an empty request log."""
    _httpd.modes = {}
    _httpd.requests = []
    _httpd.release = threading.Event()
    yield _httpd
    _httpd.release.set()  # let stalled handlers finish


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Never touch the real cache, whatever a test does."""
    monkeypatch.setenv("BACKPROP_EXPLORER_CACHE", str(tmp_path / "cache"))


def temp_files(folder: Path) -> list[str]:
    if not folder.exists():  # removed: the download created it and left it empty
        return []
    return sorted(p.name for p in folder.iterdir() if p.name not in HINTON_FILES)


def copy_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in HINTON_FILES:
        shutil.copyfile(HINTON / name, folder / name)
    return folder


# --- constants and addresses -------------------------------------------------


def test_pinned_urls_and_checksums_match_the_readme():
    readme = (HINTON / "README.md").read_text()
    urls = re.findall(r"^(https://\S+)$", readme, flags=re.M)
    shas = dict((n, s) for s, n in re.findall(r"^([0-9a-f]{64})\s+(\S+)$", readme, flags=re.M))
    assert sorted(urls) == sorted(url for url, _ in HINTON_FILES.values())
    assert shas == {name: sha for name, (_, sha) in HINTON_FILES.items()}
    assert all(url.startswith(DEFAULT_PREFIX) for url, _ in HINTON_FILES.values())
    assert HINTON_SIZES == {name: (HINTON / name).stat().st_size for name in HINTON_FILES}


def test_file_urls_default_and_mirror():
    assert file_urls() == {name: url for name, (url, _) in HINTON_FILES.items()}
    assert file_urls()["vocab.txt"] == DEFAULT_PREFIX + "src/data/vocab.txt"
    for prefix in ("https://mirror.example/corpus", "https://mirror.example/corpus/"):
        urls = file_urls(prefix)
        assert list(urls) == NAMES
        assert urls["raw_sentences.txt"] == "https://mirror.example/corpus/raw_sentences.txt"


@pytest.mark.parametrize("prefix", ["ftp://host/hinton/", "not a url", "/tmp/hinton", "http:///no-host", ""])
def test_bad_prefix_is_an_input_error(tmp_path, prefix):
    with pytest.raises(InputError, match="http://, https:// or file://"):
        download_hinton(tmp_path / "dest", prefix, timeout=1)
    assert not (tmp_path / "dest").exists()


# --- downloads that work -------------------------------------------------------


def test_good_download_then_everything_is_skipped(server, tmp_path):
    dest = tmp_path / "deep" / "folder"  # created with its parents
    calls = []
    result = download_hinton(dest, server.url, progress=lambda *a: calls.append(a), timeout=5)

    assert result == dest
    assert server.requests == NAMES
    assert sorted(os.listdir(dest)) == sorted(NAMES)  # no temp file left
    for name, (_, sha) in HINTON_FILES.items():
        assert sha256(dest / name) == sha
    assert find_cached(dest) == dest
    for index, name in enumerate(NAMES):
        mine = [c for c in calls if c[0] == name]
        assert all(c[1] == index and c[2] == 4 and c[4] == HINTON_SIZES[name] for c in mine)
        done = [c[3] for c in mine]
        assert done[0] == 0 and done[-1] == HINTON_SIZES[name] and done == sorted(done)

    # Second call: every file is already there and right, so no request at all.
    server.requests = []
    mtimes = {name: (dest / name).stat().st_mtime_ns for name in NAMES}
    calls.clear()
    assert download_hinton(dest, server.url, progress=lambda *a: calls.append(a), timeout=5) == dest
    assert server.requests == []
    assert calls == [(name, i, 4, HINTON_SIZES[name], HINTON_SIZES[name]) for i, name in enumerate(NAMES)]
    assert {name: (dest / name).stat().st_mtime_ns for name in NAMES} == mtimes


def test_file_url_mirror_without_trailing_slash(tmp_path):
    stream = io.StringIO()
    dest = download_hinton(tmp_path / "d", HINTON.as_uri(), progress=DownloadProgress(stream))
    assert find_cached(dest) == dest
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4  # not a TTY: one line per completed file
    for line, name in zip(lines, NAMES):
        assert line.startswith(name) and line.endswith(" done")


def test_default_destination_is_the_cache_dir(server, tmp_path, monkeypatch):
    monkeypatch.setenv("BACKPROP_EXPLORER_CACHE", str(tmp_path / "env-cache"))
    assert find_cached() is None
    folder = download_hinton(prefix=server.url, timeout=5)
    assert folder == tmp_path / "env-cache" / "hinton"
    assert find_cached() == folder


# --- downloads that fail --------------------------------------------------------


@pytest.mark.parametrize(
    "mode, name, expected",
    [
        ("corrupt", "vocab.txt", "does not match its sha256 checksum"),
        ("404", "vocab.txt", "failed: HTTP 404 Not Found from http://"),
        ("close", "raw_sentences.txt", f"connection closed after {2_955_731 // 2:,} of 2,955,731 bytes"),
        ("short_no_length", "valid_data.csv", f"connection closed after {660_700 // 2:,} of 660,700 bytes"),
        ("stall", "raw_sentences.txt", f"timed out after {SMALL_TIMEOUT:g} s without data"),
        ("stall_headers", "valid_data.csv", f"timed out after {SMALL_TIMEOUT:g} s without data"),
        ("bigger", "test_data.csv", "bytes instead of 661,376"),
    ],
)
def test_a_failing_file_leaves_nothing_behind(server, tmp_path, mode, name, expected):
    server.modes = {name: mode}
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError) as info:
        download_hinton(dest, server.url, timeout=SMALL_TIMEOUT)

    message = str(info.value)
    assert not isinstance(info.value, DownloadCancelled)
    assert "\n" not in message
    assert expected in message
    assert name in message and server.url in message
    failed_at = NAMES.index(name)
    assert server.requests == NAMES[: failed_at + 1]  # stopped at the failing file
    assert temp_files(dest) == []
    assert not (dest / name).exists()
    for earlier in NAMES[:failed_at]:  # verified files stay
        assert sha256(dest / earlier) == HINTON_FILES[earlier][1]
    assert dest.exists() == (failed_at > 0)  # a folder left empty is removed
    assert (sorted(os.listdir(dest)) if dest.exists() else []) == sorted(NAMES[:failed_at])


def test_connection_refused(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as info:
        download_hinton(tmp_path / "dest", f"http://127.0.0.1:{port}/", timeout=2)
    message = str(info.value)
    assert message.startswith("download of raw_sentences.txt failed:")
    assert f"127.0.0.1:{port}" in message and "\n" not in message
    assert not (tmp_path / "dest").exists()  # no empty folder left behind


def test_a_failed_download_into_the_cache_leaves_no_empty_folders_but_keeps_ones_that_were_there(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("BACKPROP_EXPLORER_CACHE", str(tmp_path / "cache" / "backprop-explorer"))
    with pytest.raises(DownloadError):
        download_hinton(None, f"http://127.0.0.1:{port}/", timeout=2)
    assert os.listdir(tmp_path) == []  # neither …/hinton nor the folders made for it
    kept = tmp_path / "mine"
    kept.mkdir()
    with pytest.raises(DownloadError):
        download_hinton(kept, f"http://127.0.0.1:{port}/", timeout=2)
    assert kept.is_dir() and os.listdir(kept) == []  # a folder the user had is never removed


@pytest.mark.parametrize("when", ["first progress call", "middle of the first file"])
def test_cancel_leaves_nothing_behind(server, tmp_path, when):
    calls = []
    stop = threading.Event()

    def progress(*call):
        calls.append(call)
        if when == "first progress call" or call[3] > 0:
            stop.set()

    dest = tmp_path / "dest"
    with pytest.raises(DownloadCancelled, match="raw_sentences.txt cancelled") as info:
        download_hinton(dest, server.url, progress=progress, cancelled=stop.is_set, timeout=5)
    assert isinstance(info.value, DownloadError)
    assert not dest.exists()  # no final file, no temp file, no empty folder
    assert server.requests == ["raw_sentences.txt"]
    if when == "first progress call":
        assert len(calls) == 1
    else:
        assert 0 < calls[-1][3] < HINTON_SIZES["raw_sentences.txt"]


def test_cancel_before_anything_makes_no_request(server, tmp_path):
    with pytest.raises(DownloadCancelled):
        download_hinton(tmp_path / "dest", server.url, cancelled=lambda: True, timeout=5)
    assert server.requests == []
    assert not (tmp_path / "dest").exists()


def test_existing_files_survive_a_failing_download(server, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    shutil.copyfile(HINTON / "raw_sentences.txt", dest / "raw_sentences.txt")
    (dest / "vocab.txt").write_bytes(b"an old file the download must not destroy\n")
    good_stat = (dest / "raw_sentences.txt").stat()

    server.modes = {"vocab.txt": "corrupt"}
    with pytest.raises(DownloadError, match="sha256"):
        download_hinton(dest, server.url, timeout=5)
    assert server.requests == ["vocab.txt"]  # the good file was not fetched again
    assert (dest / "raw_sentences.txt").stat().st_mtime_ns == good_stat.st_mtime_ns
    assert sha256(dest / "raw_sentences.txt") == HINTON_FILES["raw_sentences.txt"][1]
    assert (dest / "vocab.txt").read_bytes() == b"an old file the download must not destroy\n"
    assert temp_files(dest) == []

    server.modes = {"vocab.txt": "close"}
    with pytest.raises(DownloadError, match="connection closed"):
        download_hinton(dest, server.url, timeout=5)
    assert (dest / "vocab.txt").read_bytes() == b"an old file the download must not destroy\n"
    assert temp_files(dest) == []

    # A good download replaces the wrong file only once verified.
    server.modes = {}
    assert download_hinton(dest, server.url, timeout=5) == dest
    assert find_cached(dest) == dest


# --- cache folder --------------------------------------------------------------


def test_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKPROP_EXPLORER_CACHE", str(tmp_path / "somewhere"))
    assert cache_dir() == tmp_path / "somewhere" / "hinton"
    monkeypatch.delenv("BACKPROP_EXPLORER_CACHE")
    assert cache_dir() == Path(platformdirs.user_cache_dir("backprop-explorer")) / "hinton"


def test_find_cached(tmp_path):
    assert find_cached(tmp_path / "does-not-exist") is None
    good = copy_corpus(tmp_path / "good")
    assert find_cached(good) == good
    assert find_cached(str(good)) == good

    missing = copy_corpus(tmp_path / "missing")
    (missing / "test_data.csv").unlink()
    assert find_cached(missing) is None

    corrupted = copy_corpus(tmp_path / "corrupted")
    data = bytearray((corrupted / "valid_data.csv").read_bytes())
    data[1000] ^= 0x01  # same size, one bit different
    (corrupted / "valid_data.csv").write_bytes(bytes(data))
    assert find_cached(corrupted) is None

    truncated = copy_corpus(tmp_path / "truncated")
    (truncated / "vocab.txt").write_bytes((HINTON / "vocab.txt").read_bytes()[:-1])
    assert find_cached(truncated) is None


# --- text progress ---------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_download_progress_on_a_log_writes_one_line_per_file():
    stream = io.StringIO()
    bar = DownloadProgress(stream)
    size = HINTON_SIZES["raw_sentences.txt"]
    for done in (0, size // 2, size, size):
        bar("raw_sentences.txt", 0, 4, done, size)
    bar("vocab.txt", 1, 4, 1314, 1314)
    lines = stream.getvalue().split("\n")
    assert lines[-1] == ""  # every line ended
    assert len(lines) == 3 and "\r" not in stream.getvalue()
    assert lines[0] == "raw_sentences.txt (1/4) 2.96MB done"
    assert lines[1] == "vocab.txt (2/4) 1.31kB done"


def test_download_progress_on_a_terminal_is_a_tqdm_bar_with_rate_and_time_left():
    stream = FakeTerminal()
    bar = DownloadProgress(stream)
    size = HINTON_SIZES["raw_sentences.txt"]
    bar("raw_sentences.txt", 0, 4, 0, size)
    bar("raw_sentences.txt", 0, 4, size // 2, size)
    assert "\n" not in stream.getvalue()  # redrawn in place
    bar("raw_sentences.txt", 0, 4, size, size)
    assert stream.getvalue().endswith("\n")  # a finished file's bar stays on its line
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("raw_sentences.txt (1/4): 100%") and "2.96M/2.96M" in last
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d, +[\d.]+[kMG]?B/s\]", last), last  # elapsed<left, rate
    bar("vocab.txt", 1, 4, 700, None)  # unknown total: no percentage, still a rate
    bar.finish()  # (after a failure) ends the half-drawn bar
    assert stream.getvalue().endswith("\n")
    last = stream.getvalue().split("\r")[-1]
    assert last.startswith("vocab.txt (2/4): 700B [") and "%" not in last and "B/s]" in last, last


# --- failures a local server cannot easily produce ---------------------------------


def test_connect_timeout_and_incomplete_read(tmp_path, monkeypatch):
    import http.client
    import urllib.error

    import core.download as download

    def connect_timeout(url, timeout):
        raise urllib.error.URLError(TimeoutError("timed out"))

    monkeypatch.setattr(download.urllib.request, "urlopen", connect_timeout)
    with pytest.raises(DownloadError, match=r"download of raw_sentences.txt timed out after 0.5 s without data"):
        download_hinton(tmp_path / "a", "http://mirror.invalid/", timeout=0.5)

    class Truncated(io.BytesIO):  # what Python >= 3.12 raises for a short body
        headers = {"Content-Length": str(HINTON_SIZES["raw_sentences.txt"])}

        def read(self, n=-1):
            chunk = super().read(n)
            if not chunk:
                raise http.client.IncompleteRead(b"", 10)
            return chunk

    monkeypatch.setattr(download.urllib.request, "urlopen", lambda url, timeout: Truncated(b"x" * 4096))
    with pytest.raises(DownloadError, match=r"connection closed after 4,096 of 2,955,731 bytes of raw_sentences.txt"):
        download_hinton(tmp_path / "b", "http://mirror.invalid/", timeout=0.5)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # no empty folders left


def test_disk_error_leaves_nothing_behind(server, tmp_path, monkeypatch):
    import errno

    import core.download as download

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download.os, "fsync", full_disk)
    with pytest.raises(DownloadError) as info:
        download_hinton(tmp_path / "dest", server.url, timeout=5)
    assert str(info.value) == f"cannot write raw_sentences.txt in {tmp_path / 'dest'}: No space left on device"
    assert not (tmp_path / "dest").exists()
