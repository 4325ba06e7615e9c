"""engine imports no GUI code; widgets import neither engine nor app (ARCHITECTURE rule 1)."""
import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
GUI = ("PySide6", "pyqtgraph", "vispy", "app", "widgets", "superqt", "OpenGL")


def _imported_roots(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found |= {(str(path.relative_to(ROOT)), n.split(".")[0]) for n in names}
    return found


def test_engine_source_imports_no_gui():
    bad = {(f, m) for f, m in _imported_roots("engine") if m in GUI}
    assert not bad, f"engine imports GUI/app code: {sorted(bad)}"


def test_widgets_source_imports_no_engine_or_app():
    bad = {(f, m) for f, m in _imported_roots("widgets") if m in ("engine", "app", "torch")}
    assert not bad, f"widgets import engine/app: {sorted(bad)}"


def _modules_after_import(package: str) -> set[str]:
    code = ("import importlib, pkgutil, sys, {p}\n"
            "for m in pkgutil.walk_packages({p}.__path__, '{p}.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "print('\\n'.join(sys.modules))").format(p=package)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return {line.split(".")[0] for line in out.stdout.split()}


def test_importing_engine_loads_no_gui_module():
    loaded = _modules_after_import("engine")
    assert not loaded & set(GUI)


def test_importing_widgets_loads_no_engine():
    loaded = _modules_after_import("widgets")
    assert "engine" not in loaded and "app" not in loaded and "torch" not in loaded
