"""engine imports no GUI code; widgets import neither engine nor app; labs never import
each other (ARCHITECTURE rule 1 and "Labs never import each other")."""
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


# ---------------------------------------------------------------------- labs never import labs
LABS = ("gradient_flow", "regions", "diffusion", "recon", "learned", "convex_duals")
SHARED = ("core", "imaging", "sampling", "slice_prior", "sweeps")  # any other package is shared
# Known violations, named one by one (ARCHITECTURE: "Labs never import each other"); none
# today. An entry ``(importer, lab): reason`` must go once its import is gone (the
# stale-allowance test below says so).
ALLOWED: dict[tuple[str, str], str] = {}


def _engine_package_imports() -> set[tuple[str, str, str]]:
    """``(file, importing engine package, imported engine package)`` for every import of
    one engine package by another (absolute, ``from engine import x`` and relative)."""
    found = set()
    for path in (ROOT / "engine").rglob("*.py"):
        rel = path.relative_to(ROOT / "engine")
        if len(rel.parts) < 2:
            continue                                       # engine/__init__.py itself
        here = rel.parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _engine_targets(node, rel):
                if target != here:
                    found.add((str(path.relative_to(ROOT)), here, target))
    return found


def _engine_targets(node, rel: pathlib.PurePath) -> list[str]:
    """Engine packages an import node names (empty for anything else)."""
    if isinstance(node, ast.Import):
        modules = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:                                     # relative: resolve against rel
            base = list(rel.parts[:-node.level])
            modules = [".".join(["engine", *base, *([node.module] if node.module else [])])]
        else:
            modules = [node.module or ""]
        if modules[0] == "engine":
            modules = [f"engine.{a.name}" for a in node.names]
    else:
        return []
    return [m.split(".")[1] for m in modules if m.startswith("engine.") and m.count(".") >= 1]


def test_labs_import_no_other_lab_and_shared_packages_import_no_lab():
    bad = sorted((f, a, b) for f, a, b in _engine_package_imports()
                 if b in LABS and (a, b) not in ALLOWED)
    assert not bad, ("a lab package imports another lab, or a shared package imports a lab "
                     f"(move what both need to a shared package): {bad}")


def test_every_allowed_violation_still_exists():
    """An allowance whose import is gone must be removed, so the rule tightens by itself."""
    pairs = {(a, b) for _, a, b in _engine_package_imports()}
    stale = sorted(set(ALLOWED) - pairs)
    assert not stale, f"remove these from ALLOWED in tests/test_layering.py: {stale}"


def test_the_layering_rule_sees_a_lab_to_lab_import():
    """The detector itself: relative and absolute lab imports are both found."""
    node = ast.parse("from ..recon.ct import Radon\nimport engine.diffusion.gmm\n"
                     "from engine import regions\n")
    rel = pathlib.PurePath("gradient_flow", "x.py")
    targets = [t for n in ast.walk(node) for t in _engine_targets(n, rel)]
    assert targets == ["recon", "diffusion", "regions"]
