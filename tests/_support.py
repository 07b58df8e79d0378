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
