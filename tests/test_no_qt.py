"""core/ is NumPy only: importing it never pulls in Qt or pyqtgraph, and no file there imports them."""

import ast
import json
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "core"
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6")


def core_modules() -> list[str]:
    return sorted("core" if p.stem == "__init__" else f"core.{p.stem}" for p in CORE.glob("*.py"))


def test_there_is_a_core_to_check():
    mods = core_modules()
    for name in ("core.layers", "core.model", "core.stages", "core.trainer", "core.fast", "core.gradcheck"):
        assert name in mods


def test_importing_core_loads_no_qt():
    """Every module under core/, imported in a fresh interpreter."""
    mods = core_modules()
    code = (
        "import importlib, json, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=CORE.parent, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == []


def qt_imports(source: str, filename: str = "<source>") -> list[str]:
    """Every import of a forbidden package in ``source``: statements anywhere, and import_module/__import__ calls."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        else:
            continue
        found += [f"{filename}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    return found


def test_no_core_file_imports_qt():
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        offenders += qt_imports(path.read_text(encoding="utf-8"), path.name)
    assert offenders == []


def test_the_scan_would_notice_a_qt_import():
    source = (
        "import numpy\n"
        "def f():\n    from PySide6.QtCore import QObject\n"
        "import pyqtgraph as pg\n"
        "mod = importlib.import_module('shiboken6')\n"
        "from pyqtgraphs import x\n"  # a different package
    )
    assert sorted(s.split(" ")[1] for s in qt_imports(source)) == ["PySide6.QtCore", "pyqtgraph", "shiboken6"]
