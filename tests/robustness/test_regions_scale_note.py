"""Regions data far from unit scale (issue #17): points whose coordinates reach ~10⁴ beside
the bias column make the exact convex program stop uncertified at its 40 s budget. The user
is told up front — in the convex phase's progress messages from its first report, in the
uncertified result's note, and (tests/app) when such a CSV is loaded — never silently."""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from engine.regions.convex import fit_convex_iter
from engine.regions.datasets import make_dataset
from engine.regions.scaling import FAR_SCALE, scale_note, scale_noted
from engine.regions.solution import ConvexSolution


def _spiral(scale: float):
    X, y = make_dataset("spiral", 40, 0.05, 0)
    return X * scale, y


def test_the_note_names_the_scale_and_the_remedy_only_when_far():
    X, _ = _spiral(1.0)
    assert scale_note(X) == "" and scale_note(X * 1e-3) == ""
    assert scale_note(X * 1e4, bias=False) == ""           # no bias column: equivariant
    note = scale_note(X * 1e4)
    assert "standardise" in note and f"{np.abs(X * 1e4).max():.3g}" in note
    assert scale_note(np.array([[FAR_SCALE, 0.0]])) != ""
    assert scale_note(np.array([[0.99 * FAR_SCALE, 0.0]])) == ""


def test_the_solve_of_far_data_says_so_from_its_first_report():
    X, y = _spiral(1e4)
    gen = fit_convex_iter(X, y, 1e-3)
    messages = [p.message for p in itertools.islice(gen, 12)]
    gen.close()
    solving = [m for m in messages if m not in ("patterns",) and "patterns" not in m]
    assert solving and all(m.startswith("badly scaled (standardise) · ") for m in solving)
    X, y = _spiral(1.0)
    gen = fit_convex_iter(X, y, 1e-3)
    assert not any("badly scaled" in p.message for p in itertools.islice(gen, 12))
    gen.close()


def _solution(note: str) -> ConvexSolution:
    fields = {f.name: None for f in dataclasses.fields(ConvexSolution)}
    return ConvexSolution(**{**fields, "note": note})


def test_an_uncertified_result_of_far_data_carries_the_remedy():
    X, _ = _spiral(1e4)
    stopped = scale_noted(_solution("time budget of 40 s used up"), X)
    assert stopped.note.startswith("time budget of 40 s used up; coordinates reach")
    assert "standardise" in stopped.note
    assert scale_noted(_solution(""), X).note == ""             # certified: nothing to add
    near, _ = _spiral(1.0)
    assert scale_noted(_solution("time budget of 40 s used up"), near).note == \
        "time budget of 40 s used up"


def test_the_regions_summary_says_why_an_exact_solve_stopped():
    from types import SimpleNamespace
    from app.labs.regions_views import certificate_text
    X, _ = _spiral(1e4)
    sol = scale_noted(_solution("time budget of 40 s used up"), X)
    shown = SimpleNamespace(exact_patterns=True, certified=False, max_dual_constraint=2.0,
                            lam=1.0, dual_gap=0.1, note=sol.note)
    text = certificate_text(shown)
    assert text.startswith("NOT certified") and "time budget" in text and "standardise" in text
