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

__all__ = ["power_of_two_scale", "unscale_solution"]


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
