"""What a user's ``pip install .`` needs: every shipped resource is package data, found
through ``importlib.resources``; every third-party module the app imports is a declared
run-time dependency; the cache lives in the platform's per-user cache folder."""
from __future__ import annotations

import ast
import fnmatch
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

import resources

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_PACKAGES = ("app", "engine", "widgets", "resources")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _third_party_imports() -> dict[str, str]:
    """Top-level module → one file importing it, over the shipped packages."""
    found = {}
    for package in SHIPPED_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for root in {name.split(".")[0] for name in names}:
                    if root not in sys.stdlib_module_names and root not in SHIPPED_PACKAGES:
                        found.setdefault(root, str(path.relative_to(ROOT)))
    return found


def test_every_resource_file_is_package_data():
    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["resources"]
    base = ROOT / "resources"
    files = [p.relative_to(base).as_posix() for p in base.rglob("*")
             if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert {"presets/recon.json", "priors/slice_prior_64.pt", "priors/MODEL_CARD.md"} <= set(files)
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not missing, f"resources not shipped in the wheel: {missing}"


def test_resources_are_found_through_importlib_resources():
    from app.registry import LABS, PRESET_DIR
    from engine.slice_prior import prior_path
    assert PRESET_DIR == resources.path("presets") and PRESET_DIR.is_dir()
    for spec in LABS.values():
        assert spec.presets(), f"no presets found for {spec.name}"
    assert prior_path(64) == resources.path("priors", "slice_prior_64.pt")
    assert prior_path(64).is_file() and resources.path("priors", "MODEL_CARD.md").is_file()


def test_every_imported_third_party_module_is_a_runtime_dependency():
    declared = {_canonical(re.split(r"[<>=!~ ;\[]", req, maxsplit=1)[0])
                for req in _pyproject()["project"]["dependencies"]}
    owners = packages_distributions()
    undeclared = {module: where for module, where in _third_party_imports().items()
                  if not declared & {_canonical(d) for d in owners.get(module, [module])}}
    assert not undeclared, f"imported at run time but not in [project] dependencies: {undeclared}"


def test_build_backend_supports_the_license_expression():
    """``license = "BSD-3-Clause"`` (PEP 639) needs setuptools >= 77."""
    data = _pyproject()
    assert data["project"]["license"] == "BSD-3-Clause"
    (requirement,) = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.search(r">=\s*(\d+)", requirement)
    assert minimum and int(minimum.group(1)) >= 77, requirement


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG layout is Linux's")
def test_operator_cache_lives_in_the_user_cache_folder(monkeypatch, tmp_path):
    from engine.imaging import operator_cache
    monkeypatch.delenv("FLOWSCOPE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert operator_cache.cache_dir() == tmp_path / "flowscope" / "radon"
    monkeypatch.setenv("FLOWSCOPE_CACHE_DIR", str(tmp_path / "own"))
    assert operator_cache.cache_dir() == tmp_path / "own" / "radon"
    monkeypatch.setenv("FLOWSCOPE_CACHE_DIR", "off")
    assert operator_cache.cache_dir() is None
