"""Files shipped with Flowscope: lab presets (``presets/*.json``) and the trained slice
priors (``priors/*.pt`` with ``priors/MODEL_CARD.md``).

They are package data, so they are found the same way from a checkout, an editable install
or an installed wheel: ``resources.path("presets", "recon.json")``.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["path"]


def path(*parts: str) -> Path:
    """File system path of a shipped resource, e.g. ``path("priors", "MODEL_CARD.md")``.

    Looked up through :func:`importlib.resources.files`, so a checkout, an editable
    install and an installed wheel (a plain directory in site-packages) all work. The path
    may not exist (e.g. the presets of a lab that has none); callers check.
    """
    return Path(str(files(__name__).joinpath(*parts)))
