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
