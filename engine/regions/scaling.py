"""Exact rescaling of the convex programs to unit-sized data (SCIENCE.md §2.3, §2.5).

Both programs (scnn scaling, ``A = X̃`` with the bias column if any)

``min (1/(2n))‖Σ_g σ_g D_g A u_g − y‖² + λ Σ_g ‖u_g‖``   (ReLU: ``(2D_g − I) A u_g ≥ 0``)

are equivariant under positive scalings of the *whole* matrix ``A`` and of ``y``: with
``A = s Ã``, ``y = t ỹ`` and ``u = (t/s) ũ`` the objective is ``t²`` times the program on
``(Ã, ỹ)`` with ``λ̃ = λ/(s t)``; the cones ``{u : (2D − I) A u ≥ 0}`` and the patterns are
unchanged. The solver therefore works on ``(A/s, y/t)`` with ``s, t`` powers of two near the
largest entries (so the division is exact in floating point) and the solution is mapped back.

Only the whole of ``A`` is scaled: the bias column becomes ``1/s`` rather than 1. Scaling the
coordinates alone would change the program (the penalty ``‖(w, b)‖`` weighs weights and bias
alike), so points at coordinates ``~10⁴`` with a bias remain a program whose bias direction is
``10⁴`` times shorter than the others — the exact program, not a renormalised one.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from engine.regions.objective import recover_network

__all__ = ["power_of_two_scale", "unscale_solution", "FAR_SCALE", "scale_note",
           "noting_scale", "scale_noted"]

#: Largest ``|x|`` of the coordinates from which the bias column (1) is so much shorter than
#: the others that the exact program may not certify within the solve budget (measured on the
#: 40-point spiral, λ = 10⁻³, on a loaded 2-core machine: scaled by 10⁻³, 1, 10, 20 it
#: certifies in 0.2–9 s; by 30, 10², 10³, 10⁴ it stops uncertified at 40 s).
FAR_SCALE = 25.0


def power_of_two_scale(values: np.ndarray) -> float:
    """``2^k`` nearest (in log) to the largest ``|value|``; 1 for all-zero input."""
    top = float(np.abs(values).max(initial=0.0))
    if not np.isfinite(top) or top == 0.0:
        return 1.0
    return math.ldexp(1.0, int(round(math.log2(top))))


def unscale_solution(sol, s: float, t: float, lam: float):
    """The solution of the program on ``(s A_scaled, t y_scaled)`` with ``λ`` from the one
    ``sol`` of ``(A_scaled, y_scaled)`` with ``λ/(s t)`` (module docstring): ``u = (t/s)ũ``,
    objective, dual value, gap and history times ``t²``, fit, dual and cone violation times
    ``t``, the dual constraint (measured against λ) times ``s t``; relative gap unchanged."""
    if s == 1.0 and t == 1.0:
        return sol
    U = sol.group_vectors * (t / s)
    W1, w2, _ = recover_network(U, sol.neuron_sign)
    t2, st = t * t, s * t
    return dataclasses.replace(
        sol, lam=lam, objective=sol.objective * t2, W1=W1, w2=w2, group_vectors=U,
        fitted=sol.fitted * t, dual=sol.dual * t,
        max_dual_constraint=sol.max_dual_constraint * st, dual_value=sol.dual_value * t2,
        dual_gap=sol.dual_gap * t2, cone_violation=sol.cone_violation * t,
        history=sol.history * t2)


def scale_note(X, bias: bool = True) -> str:
    """A note for data whose coordinates reach ``FAR_SCALE`` or more beside a bias column
    ("" otherwise): the user is told before the solve, not after its budget (issue #17).
    Only the whole matrix rescales exactly (module docstring, SCIENCE.md §2.3), so the
    remedy — standardising the points — is the user's choice, never done silently.

    Parameters
    ----------
    X : array (n, d)
        The coordinates (without the bias column).
    bias : bool
        Whether the program has the bias column (module docstring: it is not rescaled apart).
    """
    top = float(np.abs(np.asarray(X, dtype=np.float64)).max(initial=0.0))
    if not bias or not np.isfinite(top) or top < FAR_SCALE:
        return ""
    return (f"coordinates reach {top:.3g} beside the bias 1: the exact program may stop "
            "uncertified at its time budget; standardise the points (mean 0, sd 1 per "
            "column) to certify it in seconds")


def noting_scale(gen, X, bias: bool = True):
    """``yield from gen`` with its progress messages led by a short scale warning when
    :func:`scale_note` has one (so it is on screen for the whole solve); returns its result."""
    if not scale_note(X, bias):
        return (yield from gen)
    try:
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                return stop.value
            yield dataclasses.replace(p, message="badly scaled (standardise) · " + p.message)
    finally:
        gen.close()                     # a cancel closes the solve at once, as yield from does


def scale_noted(sol, X, bias: bool = True):
    """``sol`` with :func:`scale_note` appended to its note when it stopped uncertified."""
    extra = scale_note(X, bias) if sol.note else ""
    return dataclasses.replace(sol, note=f"{sol.note}; {extra}") if extra else sol
