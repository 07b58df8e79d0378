"""Helpers shared by several test modules."""

from pathlib import Path


def _permissions_are_enforced() -> bool:
    """False when this process reads files whatever their mode (root, or CAP_DAC_OVERRIDE)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        probe = Path(d) / "probe"
        probe.write_text("x")
        probe.chmod(0)
        try:
            probe.read_text()
        except PermissionError:
            return True
        finally:
            probe.chmod(0o600)
    return False


PERMISSIONS_APPLY = _permissions_are_enforced()


def interrupt_on_call(monkeypatch, obj, name: str, n: int) -> None:
    """Make ``obj.name`` raise KeyboardInterrupt on its n-th call (the calls before it go through)."""
    real, calls = getattr(obj, name), []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(obj, name, interrupted)


class FolderServer:
    """Serve a folder over HTTP on 127.0.0.1 (a local mirror for download tests): ``url`` ends in ``/``."""

    def __init__(self, folder):
        import functools
        import http.server
        import threading

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

        handler = functools.partial(Quiet, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


# The default network's parameters, in layer order (test_model checks the model has exactly these).
PARAM_NAMES = ("W_emb", "W_h", "b_h", "W_o", "b_o")
