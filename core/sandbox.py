"""Run a learner's Python file in a separate process, one function call at a time.

Whatever the file does (an endless loop, ``os._exit``, a segmentation fault
through ctypes, a huge allocation, printing, ``sys.exit``), the caller gets a
:class:`CallResult` back and goes on: the file runs in a child interpreter
with a memory limit (``RLIMIT_AS``), no core dumps, and a time limit per call
enforced by the parent, which kills the child when it is exceeded. The next
call starts a fresh child and loads the file again (its module-level state is
then new). The child dies with its parent (``PR_SET_PDEATHSIG`` on Linux).

A :class:`Sandbox` is used from one thread at a time; any thread will do (the
window calls it from a worker thread, so it stays responsive). Messages are
pickles over two pipes; the child's own stdout and stderr go to /dev/null and
what a function prints (``print``) comes back in ``CallResult.output``.

The child is started as ``python -m core.sandbox READ_FD WRITE_FD MEMORY_MB``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

DEFAULT_TIMEOUT = 5.0  # seconds per call
DEFAULT_MEMORY_MB = 1024  # address space the file may add to the child's
START_TIMEOUT = 60.0  # a child's interpreter and NumPy starting (not counted in the call's limit)
OUTPUT_LIMIT = 10_000  # characters of printed output kept per call
CANCEL_POLL = 0.1  # seconds between looks at the cancel event while a call runs


@dataclass
class CallResult:
    """What one call (or the file's loading) did.

    ``kind``: "returned" (``value``), "raised" (``error``), "timed out", "crashed"
    (``error`` says how the process ended), "cancelled" (the sandbox's cancel
    event was set), or "syntax" (loading only).
    ``error`` holds ``type``, ``message``, ``line`` (in the learner's file, or
    None), ``text`` (that line) and ``traceback`` (the learner's frames only).
    ``functions`` (loading only): every top-level function of the file with
    its parameters, ``{name: {"params": (...), "required": (...), "var_keyword": bool}}``.
    """

    kind: str
    value: object = None
    error: dict = field(default_factory=dict)
    output: str = ""
    seconds: float = 0.0
    functions: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.kind in ("returned", "loaded")


@dataclass(frozen=True)
class NotAnArray:
    """What a function returned that is not an array of numbers (a string, a dict, ...): its type's name."""

    type_name: str


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


_SIGNAL_MEANING = {"SIGSEGV": "a segmentation fault", "SIGBUS": "a bus error", "SIGABRT": "an abort",
                   "SIGFPE": "an arithmetic fault", "SIGILL": "an illegal instruction", "SIGKILL": "killed"}


def exit_text(code: int | None) -> str:
    """How a child process ended, in words: 'exited with status 3', 'killed by SIGSEGV (a segmentation fault)'."""
    if code is None:
        return "stopped answering"
    if code < 0:
        name = _signal_name(-code)
        meaning = _SIGNAL_MEANING.get(name)
        return f"was killed by {name}" + (f" ({meaning})" if meaning else "")
    return f"exited with status {code}"


class Sandbox:
    """A child interpreter holding one learner file; ``call`` runs one of its functions.

    ``source`` is the file's text and ``path`` the name tracebacks give it.
    ``load()`` (called by the first ``call`` when needed) runs the file's
    top-level code and returns its functions. Close it (or use ``with``).
    """

    def __init__(self, source: str, path: str = "<learner>", *, timeout: float = DEFAULT_TIMEOUT,
                 memory_mb: int = DEFAULT_MEMORY_MB, cancel=None):
        self.source = source
        self.path = str(path)
        self.timeout = float(timeout)
        self.load_timeout = max(self.timeout, DEFAULT_TIMEOUT)
        self.memory_mb = int(memory_mb)
        self.cancel = cancel  # a threading.Event: when set, the call under way stops at once ("cancelled")
        self._proc: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self.loaded: CallResult | None = None
        self.starts = 0  # children started: more than one after a timeout or a crash

    # ---- the child ------------------------------------------------------------------------------
    def _spawn(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONFAULTHANDLER"] = ""  # no crash dump on the (discarded) stderr
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "core.sandbox", str(to_child_r), str(from_child_w), str(self.memory_mb)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(to_child_r, from_child_w), env=env, cwd=root, close_fds=True,
                start_new_session=True,  # its own process group: processes it starts are stopped with it
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(from_child_r, writable=False)

    def _kill(self) -> int | None:
        code = None
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)  # the child and whatever it started (its group)
            except (ProcessLookupError, PermissionError, OSError):
                pass
            if self._proc.poll() is None:
                self._proc.kill()
            try:
                code = self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - a child that survives SIGKILL
                code = None
        for conn in (self._send, self._recv):
            if conn is not None:
                try:
                    conn.close()
                except OSError:
                    pass
        self._proc = self._send = self._recv = None
        return code

    def _ended(self, start: float, what: str) -> CallResult:
        """The child is gone (or broke the protocol): a 'crashed' result saying how it ended."""
        code = None
        if self._proc is not None:
            try:
                code = self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        self._kill()
        self.loaded = None
        return CallResult("crashed", error={"type": "", "message": f"the process running the file {exit_text(code)} "
                                            f"{what}", "line": None, "text": "", "traceback": "", "code": code},
                          seconds=time.perf_counter() - start)

    def _exchange(self, message, timeout: float, what: str) -> CallResult:
        start = time.perf_counter()
        try:
            self._send.send(message)
        except (OSError, ValueError):
            return self._ended(start, what)
        deadline = start + timeout
        ready = False
        while not ready:
            if self.cancel is not None and self.cancel.is_set():
                self._kill()
                self.loaded = None
                return CallResult("cancelled", seconds=time.perf_counter() - start)
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            try:  # in slices, so that a cancel is seen within a tenth of a second
                ready = self._recv.poll(min(left, CANCEL_POLL) if self.cancel is not None else left)
            except (OSError, ValueError):
                return self._ended(start, what)
        if not ready:
            self._kill()
            self.loaded = None
            return CallResult("timed out", seconds=time.perf_counter() - start)
        try:
            reply = self._recv.recv()
        except (EOFError, OSError, ValueError, Exception):  # EOF: the child died; anything else: a garbled reply
            return self._ended(start, what)
        reply.seconds = time.perf_counter() - start
        return reply

    def _start(self) -> CallResult:
        self._kill()
        self._spawn()
        start = time.perf_counter()
        try:
            ready = self._recv.poll(START_TIMEOUT)
            hello = self._recv.recv() if ready else None
        except (EOFError, OSError):
            hello = None
        if hello != "ready":
            return self._ended(start, "while starting")
        # The file's top-level code (its imports) gets the default limit at least, however short the calls' is.
        return self._exchange(("load", self.source, self.path), self.load_timeout, "while loading the file")

    def load(self) -> CallResult:
        """Run the file's top-level code in a new child: "loaded" (with ``functions``), "syntax", "raised", ..."""
        if self.loaded is not None and self._proc is not None:
            return self.loaded
        self.starts += 1
        result = self._start()
        self.loaded = result if result.kind == "loaded" else None
        if result.kind != "loaded":
            self._kill()
        return result

    def call(self, name: str, kwargs: dict, timeout: float | None = None) -> CallResult:
        """Call function ``name`` of the file with ``kwargs`` (read-only copies arrive in the child)."""
        if self.loaded is None or self._proc is None:
            loaded = self.load()
            if loaded.kind != "loaded":
                return loaded
        return self._exchange(("call", name, kwargs), self.timeout if timeout is None else timeout, "during the call")

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None and self._send is not None:
            try:
                self._send.send(("quit",))
                self._proc.wait(timeout=1)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        self._kill()
        self.loaded = None

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # a sandbox dropped without close() leaves no child behind
        try:
            self._kill()
        except Exception:
            pass


# ---- in the child ------------------------------------------------------------------------------------


def _limit_child(memory_mb: int) -> None:
    """No core files; the address space capped at what it uses now plus ``memory_mb``; die with the parent."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        used = 512 << 20
    limit = used + (int(memory_mb) << 20)
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _error_info(err: BaseException, path: str) -> dict:
    """The exception's type, message, and the last line of the learner's file it passed through."""
    import traceback

    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == path]
    if isinstance(err, SyntaxError) and err.filename == path:
        line, text = err.lineno, (err.text or "").strip()
    elif frames:
        line, text = frames[-1].lineno, (frames[-1].line or "").strip()
    else:
        line, text = None, ""
    try:
        message = str(err.msg if isinstance(err, SyntaxError) else err)  # a SyntaxError's str() repeats the line
    except Exception:
        message = ""
    tb = "".join(traceback.format_list(frames)) if frames else ""
    return {"type": type(err).__name__, "message": message[:500], "line": line, "text": text[:200],
            "traceback": tb[-4000:]}


def _functions(namespace: dict) -> dict:
    import inspect

    out = {}
    for name, obj in namespace.items():
        if name.startswith("_") or not inspect.isfunction(obj):
            continue
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):
            continue
        params, required, var_kw = [], [], False
        for p in sig.parameters.values():
            if p.kind == p.VAR_KEYWORD:
                var_kw = True
            elif p.kind == p.VAR_POSITIONAL:
                continue
            else:
                params.append(p.name)
                if p.default is p.empty:
                    required.append(p.name)
        out[name] = {"params": tuple(params), "required": tuple(required), "var_keyword": var_kw,
                     "line": obj.__code__.co_firstlineno}
    return out


def _as_result(value):
    """What a function returned, as arrays (a tuple of them for a tuple), for the parent to compare."""
    import numpy as np

    def one(v):
        if v is None:
            return None
        try:
            a = np.array(v, copy=True)
        except Exception:
            return NotAnArray(type(v).__name__)
        if a.dtype.kind not in "biufc":  # objects, strings, dates
            return NotAnArray(type(v).__name__)
        return a

    if isinstance(value, tuple):
        return tuple(one(v) for v in value)
    return one(value)


def _child(read_fd: int, write_fd: int, memory_mb: int) -> None:
    import contextlib
    import io
    import linecache

    import numpy as np

    recv = Connection(read_fd, writable=False)
    send = Connection(write_fd, readable=False)
    _limit_child(memory_mb)
    send.send("ready")
    namespace: dict = {}
    path = "<learner>"
    while True:
        try:
            message = recv.recv()
        except (EOFError, OSError):
            return
        if message[0] == "quit":
            return
        out = io.StringIO()
        if message[0] == "load":
            _, source, path = message
            lines = source.splitlines(keepends=True)
            linecache.cache[path] = (len(source), None, lines, path)  # tracebacks read the lines from here
            try:
                code = compile(source, path, "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as err:  # ValueError: a NUL byte
                send.send(CallResult("syntax", error=_error_info(err, path)))
                continue
            folder = os.path.dirname(os.path.abspath(path))
            if os.path.isfile(path) and folder not in sys.path:
                sys.path.append(folder)  # the file may import its neighbours (last: it never hides NumPy or core)
            namespace = {"__name__": "__learner__", "__file__": path, "__builtins__": __builtins__}
            try:
                with contextlib.redirect_stdout(out):
                    exec(code, namespace)
            except BaseException as err:  # noqa: BLE001 - whatever the file raises, even SystemExit
                send.send(CallResult("raised", error=_error_info(err, path), output=out.getvalue()[:OUTPUT_LIMIT]))
                continue
            send.send(CallResult("loaded", functions=_functions(namespace), output=out.getvalue()[:OUTPUT_LIMIT]))
            continue
        _, name, kwargs = message
        for v in kwargs.values():
            if isinstance(v, np.ndarray):
                v.flags.writeable = False
        try:
            with contextlib.redirect_stdout(out):
                value = namespace[name](**kwargs)
            result = CallResult("returned", value=_as_result(value))
        except BaseException as err:  # noqa: BLE001
            result = CallResult("raised", error=_error_info(err, path))
        result.output = out.getvalue()[:OUTPUT_LIMIT]
        del kwargs
        try:
            send.send(result)
        except MemoryError:
            send.send(CallResult("raised", error={"type": "MemoryError", "message": "the result is too large to send",
                                                  "line": None, "text": "", "traceback": ""}))
        except Exception as err:  # noqa: BLE001 - a result pickle cannot carry
            send.send(CallResult("raised", error={"type": type(err).__name__, "message": str(err)[:500],
                                                  "line": None, "text": "", "traceback": ""}))


if __name__ == "__main__":  # the child: its results must pickle as core.sandbox's classes, not __main__'s
    from core.sandbox import _child as _run_child

    _run_child(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
