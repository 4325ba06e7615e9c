"""The result of :func:`engine.regions.fit_convex` and input checks (SCIENCE.md §2.3-2.5)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from engine.regions.objective import gated_predict, relu_predict

__all__ = ["ConvexSolution", "check_data", "check_lam", "stop_note"]

GAP_FLOOR_ULPS = 1000.0     # the relative gap reached in double precision, in units of
                            # eps·‖y‖/‖y − ŷ‖ (measured 50-600 at λ = 2e-6 … 1e-5, n = 13)


def stop_note(y, fitted, tol: float, relative_gap: float, timed_out: bool,
              time_limit: float) -> str:
    """Why a solve stopped uncertified, for :attr:`ConvexSolution.summary` ("" if certified).

    The residual ``y − ŷ`` is computed with an absolute error ``~eps‖y‖``, so the dual point
    ``ρ = (y − ŷ)/n`` and the gap carry a relative error ``~eps‖y‖/‖y − ŷ‖``: a tiny λ (a
    near-interpolating fit) with a tight ``tol`` may ask for less than double precision gives
    (SCIENCE.md §2.3)."""
    if relative_gap <= tol:
        return ""
    floor = GAP_FLOOR_ULPS * np.finfo(float).eps * float(np.linalg.norm(y)) / max(
        float(np.linalg.norm(y - fitted)), 1e-300)
    parts = [f"time budget of {time_limit:g} s used up"] if timed_out else []
    if floor > tol:
        parts.append(f"λ too small for the tolerance {tol:g}: in double precision the "
                     f"relative gap cannot reliably go below ~{floor:.0e}")
    return "; ".join(parts)


def check_data(X, y):
    """``(X, y)`` as float64 arrays (n, d), (n,) or a ``ValueError`` saying what is wrong."""
    X = X.detach().cpu().numpy() if torch.is_tensor(X) else X
    y = y.detach().cpu().numpy() if torch.is_tensor(y) else y
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2:
        raise ValueError(f"X must be (n, d), got shape {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} values")
    if len(X) < 1:
        raise ValueError("no data points")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("X or y contains NaN or infinite values")
    return X, y


def check_lam(lam, formulation) -> float:
    """``λ`` as a float (> 0 for ``"relu"``, ≥ 0 for ``"gated"``) or a ``ValueError``."""
    if formulation not in ("relu", "gated"):
        raise ValueError(f"formulation must be 'relu' or 'gated', got {formulation!r}")
    lam = float(lam)
    if not np.isfinite(lam) or lam < 0 or (formulation == "relu" and lam == 0):
        need = "> 0" if formulation == "relu" else "≥ 0"
        raise ValueError(f"λ (lam) must be {need} for the {formulation} program, got {lam}")
    return lam


@dataclass
class ConvexSolution:
    """Solution of the convex program with its recovered network and dual certificate.

    Attributes
    ----------
    formulation : ``"relu"`` or ``"gated"``. lam : λ.
    objective : float
        ``(1/(2n))‖ŷ − y‖² + λΣ‖u_g‖`` at the returned (exactly cone-feasible) point; for
        ``relu`` equal to ``two_layer_objective(W1, w2, X, y, lam)`` (§2.4).
    W1 : (m, d+1), w2 : (m,)
        Recovered neurons ``(u/√‖u‖, ±√‖u‖)``, bias in the last column of ``W1``; ``m = m*``.
    gates : (m, d+1) or None
        Gated formulation: each neuron's fixed gate (the net is ``gated_predict``).
    neuron_pattern, neuron_sign : (m,)
        Index into :attr:`patterns` and the sign ``±1`` (``v``/``w`` group) of each neuron.
    group_vectors : (m, d+1)
        The convex variables ``v_i`` / ``w_i`` (or ``u_i``) of the neurons.
    patterns : bool (P, n); pattern_gates : (P, d+1) or None; exact_patterns : bool
        The patterns of the program; exhaustive (2-D enumeration ⇒ global optimum) or not.
    fitted : (n,) ``ŷ``; dual : (n,) ``q* = y − ŷ``.
    max_dual_constraint : float
        ``max_g max_{u∈K_g,‖u‖≤1} |(1/n) q*ᵀ D_g X̃ u|``; ``≤ λ(1 + ε)`` certifies
        "global optimum within ε" (exact values where ``≥ 0.999λ``, else upper bounds).
    dual_value, dual_gap : float
        Lower bound ``D(sρ)`` (a rigorous bound for the whole program) and
        ``objective − dual_value ≥ 0``.
    certified : bool  ``dual_gap ≤ tol · objective``.
    cone_violation : float  ``max relu(−(2D − I)X̃u)`` over the groups (0 for gated).
    history : (k,) objective after each outer iteration (AL multiplier update / round).
    n_iter, rounds, converged, wall_time, solver : solver bookkeeping.
    """
    formulation: str
    lam: float
    objective: float
    W1: np.ndarray
    w2: np.ndarray
    gates: Optional[np.ndarray]
    neuron_pattern: np.ndarray
    neuron_sign: np.ndarray
    group_vectors: np.ndarray
    patterns: np.ndarray
    pattern_gates: Optional[np.ndarray]
    exact_patterns: bool
    fitted: np.ndarray
    dual: np.ndarray
    max_dual_constraint: float
    dual_value: float
    dual_gap: float
    certified: bool
    cone_violation: float
    history: np.ndarray
    n_iter: int
    rounds: int
    converged: bool
    wall_time: float
    solver: str = ""
    note: str = ""          # why an uncertified solve stopped (time budget, precision floor)

    @property
    def m_star(self) -> int:
        """Number of neurons of the recovered network (nonzero groups)."""
        return len(self.w2)

    @property
    def relative_gap(self) -> float:
        return self.dual_gap / max(abs(self.objective), 1e-300)

    @property
    def summary(self) -> str:
        """One line for the app: certified or ``NOT certified`` (with the gap), and whether the
        program's patterns are all of them (global optimum, PE Theorem 1) or sampled (the
        optimum of a restriction: an upper bound on the global one, SCIENCE.md §2.3)."""
        gap = f"relative duality gap {self.relative_gap:.1e}"
        scope = ("all patterns: the global optimum" if self.exact_patterns
                 else "sampled patterns: an upper bound on the global optimum")
        if self.certified:
            return f"certified optimum over {scope} ({gap})"
        return (f"NOT certified: the {self.solver or 'convex'} solver stopped after "
                f"{self.n_iter} iterations short of the optimum over {scope} ({gap})"
                + (f"; {self.note}" if self.note else ""))

    def predict(self, X) -> np.ndarray:
        """Network output on new points ``X`` (n, d)."""
        X = np.asarray(X, dtype=np.float64)
        if len(self.w2) == 0:
            return np.zeros(len(X))
        if self.formulation == "gated":
            if self.gates is None:
                raise ValueError("no gates known for these patterns: cannot evaluate off the data")
            return gated_predict(self.W1, self.w2, self.gates, X)
        return relu_predict(self.W1, self.w2, X)
