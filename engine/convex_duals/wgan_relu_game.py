"""The ReLU-discriminator WGAN game as a convex program in the generated distribution,
solved with a certified duality gap (SCIENCE.md §7.4.1, §7.4.4) [derived here].

Eliminating a two-layer ReLU discriminator with bias and weight decay ``(β/2)Σ(‖u‖² + v²)``
leaves the constraint "critic ≤ β" of §7.4.1 (piecewise mean matching). With the generator
cost ``R_g = ½ E_ν‖g‖²`` (equal to ``½‖W‖²_F`` for a linear generator ``g = W^T z`` of a
whitened latent, the cost of §7.4.2) the generator's problem over *distributions* ν of
generated samples,

    p* = min_ν ½ E_ν‖g‖²  s.t.  |E_x relu(x̃·u) − E_ν relu(g̃·u)| ≤ β  for all ‖u‖ ≤ 1,

is a linear program in ν (infinitely many constraints and unknowns): the game
``min_ν max_D ½E_ν‖g‖² + E_x D − E_ν D − β‖v‖₁`` is bilinear, i.e. convex–concave, in ν and
the discriminator's output weights over its neurons. A particular generator network (e.g.
linear) only restricts ν, so p* is a lower bound of its game value; the linear-generator
problem itself is *not* convex in W (its constraint ``E relu(g̃·u) ≥ E relu(x̃·u) − β`` is
reverse-convex).

Solver: column-and-constraint generation. A restricted LP (``scipy.optimize.linprog``,
HiGHS) over finitely many support points (columns) and critic directions (cuts); the exact
oracles of :mod:`.wgan_relu_oracle` add the most violated direction and the most negative
reduced-cost point. Certificate, exact whatever the LP's accuracy:

* upper bound: the LP's ν mixed with the data distribution (critic 0; §7.4.3 KAT 3) just
  enough to be feasible, ``ν_t = (1 − t)ν + t·data``, ``t = (1 − β/κ)_+`` with κ its exact
  critic;
* lower bound: the LP duals are a ReLU discriminator ``D = Σ_j v_j relu(x̃·u_j)``; weak duality
  gives ``p* ≥ E_x D − β‖v‖₁ + min_{y∈R²}(½‖y‖² − D(y))``, minimised exactly.

The gap ``upper − lower`` is the duality gap the lab reports.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Generator

import numpy as np
from scipy.optimize import linprog

from engine.convex_duals.wgan_relu import sphere_directions
from engine.convex_duals.wgan_relu_oracle import critic_max, lift, penalised_min

INITIAL_CUTS = 16        # critic directions of the first LP (Fibonacci points of S²)
LP_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}

__all__ = ["GameSolution", "solve_relu_game", "solve_relu_game_iter", "dual_bound", "penalty_objective"]


@dataclass
class GameSolution:
    """The certified optimum: support points ``support`` (K, 2) with masses ``mass`` (K,)
    (the feasible ν of the upper bound), the discriminator ``U`` (m, 3), ``v`` (m,),
    ``upper`` (= p* reported), ``lower``, ``gap``, ``critic`` (exact critic of ν, ≤ β), the
    bounds per iteration ``history_upper``/``history_lower``, and ``iterations``."""
    support: np.ndarray
    mass: np.ndarray
    U: np.ndarray
    v: np.ndarray
    upper: float
    lower: float
    critic: float
    iterations: int
    history_upper: list = field(default_factory=list)
    history_lower: list = field(default_factory=list)

    @property
    def gap(self) -> float:
        """Certified duality gap ``upper − lower`` (≥ 0)."""
        return self.upper - self.lower

    @property
    def weight(self) -> float:
        """``‖v‖₁``: the smallest exact-penalty weight of :func:`penalty_objective`."""
        return float(np.sum(np.abs(self.v)))


def dual_bound(X: np.ndarray, U: np.ndarray, v: np.ndarray, beta: float,
               support: np.ndarray | None = None) -> float:
    """``E_x D − β‖v‖₁ + min_y (½‖y‖² − D(y))``: a lower bound of p* for any ReLU
    discriminator ``(U, v)`` (weak duality). The minimum is over ``support`` when given (the
    program restricted to those points), else over all of R² (exact, module docstring)."""
    active = np.abs(v) > 1e-13
    U, v = U[active], v[active]
    mean_x = np.maximum(lift(X) @ U.T, 0.0).mean(axis=0) @ v
    if support is None:
        inner = penalised_min(U, v)[0]
    else:
        inner = float(np.min(0.5 * np.sum(support ** 2, axis=1)
                             - np.maximum(lift(support) @ U.T, 0.0) @ v))
    return float(mean_x - beta * np.sum(np.abs(v)) + inner)


def penalty_objective(G: np.ndarray, X: np.ndarray, beta: float, weight: float,
                      mass: np.ndarray | None = None) -> tuple[float, float]:
    """``(f, κ)``: ``f = ½E‖g‖² + weight·(κ − β)_+`` with κ the exact critic of the generated
    samples ``G`` (uniform, or ``mass``). For ``weight ≥ ‖v‖₁`` of a discriminator, ``f`` is
    at least that discriminator's :func:`dual_bound` (so ≥ the certified lower bound)."""
    mass = np.full(len(G), 1.0 / len(G)) if mass is None else mass
    P = lift(np.r_[X, G])
    w = np.r_[np.full(len(X), 1.0 / len(X)), -mass]
    kappa = critic_max(P, w)[0]
    return 0.5 * float(mass @ np.sum(G * G, axis=1)) + weight * max(kappa - beta, 0.0), kappa


def _restricted_lp(X, S, cuts, beta):
    """min ½Σp_k‖s_k‖² s.t. |m_x(u_j) − Σ_k p_k relu(s̃_k·u_j)| ≤ β, p ∈ simplex; returns
    ``p`` and the cut multipliers as output weights ``v`` (v = λ⁻ − λ⁺)."""
    R = np.maximum(cuts @ lift(S).T, 0.0)                     # (J, K)
    m_x = np.maximum(lift(X) @ cuts.T, 0.0).mean(axis=0)      # (J,)
    A = np.r_[R, -R]
    b = np.r_[m_x + beta, beta - m_x]
    res = linprog(0.5 * np.sum(S * S, axis=1), A_ub=A, b_ub=b, A_eq=np.ones((1, len(S))),
                  b_eq=[1.0], bounds=(0, None), method="highs-ds", options=LP_OPTIONS)
    if res.status != 0:
        raise RuntimeError(f"restricted LP failed: {res.message}")
    lam = -res.ineqlin.marginals
    J = len(cuts)
    return np.maximum(res.x, 0.0), lam[J:] - lam[:J]


def _feasible(X, S, p, beta, add):
    """Mix the LP's ν with the data (critic 0) until its exact critic is ≤ β. Returns the
    support, masses, value, critic, and the ``add`` most violated directions (new cuts)."""
    keep = p > 1e-12
    S, p = S[keep], p[keep] / p[keep].sum()
    P = lift(np.r_[X, S])
    kappa, cuts = critic_max(P, np.r_[np.full(len(X), 1.0 / len(X)), -p], top=add)
    t = max(0.0, 1.0 - beta / kappa) if kappa > 0 else 0.0
    support = np.r_[S, X]
    mass = np.r_[(1 - t) * p, np.full(len(X), t / len(X))]
    value = 0.5 * float(mass @ np.sum(support ** 2, axis=1))
    return support, mass, value, min(kappa, beta) if t > 0 else kappa, cuts


def solve_relu_game_iter(X: np.ndarray, beta: float, *, tol: float = 1e-7,
                         max_iter: int = 200, columns: bool = True,
                         support: np.ndarray | None = None, add: int = 6,
                         max_seconds: float | None = None
                         ) -> Generator[tuple, None, GameSolution]:
    """Certified optimum of the game (module docstring); yields ``(LP count, upper, lower)``
    after every LP (stopping iteration cancels) and returns the :class:`GameSolution`.

    The support starts as the data and ``support`` (default: the origin and the data scaled
    by ½); ``columns=False`` keeps it fixed, and that restricted program is then the one
    solved and bounded. Stops at ``gap ≤ tol``, after ``max_iter`` LPs, or once
    ``max_seconds`` have passed (the gap then certifies what was reached).
    """
    start = time.perf_counter()
    extra = np.r_[np.zeros((1, 2)), 0.5 * X] if support is None else np.asarray(support)
    S = np.r_[X, extra]
    fixed = None if columns else S
    cuts = sphere_directions(INITIAL_CUTS)
    best = None
    hist_u, hist_l = [], []
    for it in range(1, max_iter + 1):
        p, v = _restricted_lp(X, S, cuts, beta)
        sup, mass, upper, kappa, new_cuts = _feasible(X, S, p, beta, add)
        lower = dual_bound(X, cuts, v, beta, fixed)
        if best is None or upper < best.upper:
            best = GameSolution(sup, mass, cuts.copy(), v, upper, lower, kappa, it)
        if lower > best.lower:
            best.lower, best.U, best.v = lower, cuts.copy(), v
        best.iterations = it
        hist_u.append(best.upper)
        hist_l.append(best.lower)
        yield it, best.upper, best.lower
        if best.upper - best.lower <= tol or (
                max_seconds is not None and time.perf_counter() - start > max_seconds):
            break
        cuts = np.r_[cuts, new_cuts]
        if columns:
            on = np.abs(v) > 1e-13
            _, new_points = penalised_min(cuts[:len(v)][on], v[on], top=add)
            S = np.r_[S, new_points]
    best.history_upper, best.history_lower = hist_u, hist_l
    active = np.abs(best.v) > 1e-12
    best.U, best.v = best.U[active], best.v[active]
    return best


def solve_relu_game(X: np.ndarray, beta: float, **options) -> GameSolution:
    """:func:`solve_relu_game_iter` run to its end (same keyword options)."""
    gen = solve_relu_game_iter(X, beta, **options)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
