"""Structure rules of the source (issue #12, "Must hold"): no module in engine/, app/ or
widgets/ over 400 lines, and no mixin classes (compose objects with explicit arguments)."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "app", "widgets")
MAX_LINES = 400


def _modules():
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _line_count(path: pathlib.Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _mixin_classes(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.name for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and node.name.endswith("Mixin")]


def test_the_rules_see_every_package():
    """The scan covers the three packages (a moved tree must not pass vacuously)."""
    found = {p.relative_to(ROOT).parts[0] for p in _modules()}
    assert found == set(PACKAGES)


def test_no_module_over_the_line_limit():
    long = {str(p.relative_to(ROOT)): n for p in _modules() if (n := _line_count(p)) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by responsibility): {long}"


def test_no_mixin_classes():
    found = {str(p.relative_to(ROOT)): names for p in _modules() if (names := _mixin_classes(p))}
    assert not found, f"mixin classes (compose an object instead): {found}"


@pytest.mark.parametrize("source, long, mixins", [
    ("x = 1\n" * (MAX_LINES + 1), True, []),
    ("x = 1\n" * MAX_LINES, False, []),
    ("class KeyMixin:\n    pass\nclass Key:\n    pass\n", False, ["KeyMixin"]),
])
def test_the_rules_catch_what_they_forbid(tmp_path, source, long, mixins):
    path = tmp_path / "module.py"
    path.write_text(source, encoding="utf-8")
    assert (_line_count(path) > MAX_LINES) == long
    assert _mixin_classes(path) == mixins
