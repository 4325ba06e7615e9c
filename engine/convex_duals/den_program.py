"""The exact ReLU convex program of the convolutional denoiser (SCIENCE.md §7.5, §7.5.1;
DEN Thm 1 eq 4), solved by a log-barrier interior-point method with a duality-gap certificate.

Over ``P`` sampled patterns ``D_i`` of the patch matrix ``F = Y'`` (§2.2 sampling)::

    min  ½‖Σ_i D_i F (w_i − z_i) − x‖² + β Σ_i (‖w_i‖ + ‖z_i‖)
    s.t. (2D_i − I) F w_i ≥ 0,  (2D_i − I) F z_i ≥ 0.

The ``2P`` groups are stacked as ``U`` (2P, d): rows ``0..P−1`` are the ``w_i`` (sign +1),
rows ``P..2P−1`` the ``z_i`` (sign −1), both with pattern ``i``.

Solver (Boyd & Vandenberghe 2004 §11.3, the barrier method): epigraph variables
``t_g ≥ ‖u_g‖`` with the second-order-cone barrier ``−log(t_g² − ‖u_g‖²)``; the ``n``
half-spaces of each cone get the log barrier with weight ``1/n`` (so the central path does not
drift far into the thin cones while ``τ`` is small); Newton steps with a backtracking line
search that keeps every iterate strictly inside the cones. The start ``u_i = 0.1 g_i/‖g_i‖``
uses the gate ``g_i`` that drew pattern ``i``: it lies strictly inside cone ``i``.

Certificate (Lagrange dual, derived in the docstring of :func:`duality_gap`): for any
``v``, ``dual(v) = vᵀx − ½‖v‖²`` is a lower bound when ``‖Π_{C_g}(A_gᵀ v)‖ ≤ β`` for every
group (``C_g`` the group's cone, ``A_g = ±D_i F``); the projection is a non-negative least
squares problem. With ``v`` the scaled residual of the primal iterate the gap
``(primal − dual)/|primal|`` is an exact bound on the iterate's relative suboptimality.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Generator

import numpy as np
import scipy.linalg as sla
from scipy.optimize import nnls

from engine.core import Progress

CENTERED = 1e-2   # Newton decrement λ²/2 below which a barrier centring stops (the gap is
                  # certified by the dual, not by the centring)

__all__ = ["sample_gates", "ReluProgram", "solve_relu", "duality_gap",
           "cone_projection_norms", "interior_gates", "recover_network",
           "network_objective"]


def sample_gates(F: np.ndarray, count: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` gates ``g ~ N(0, I_d)``; their distinct non-zero patterns ``1[F g ≥ 0]``
    (n, P), in the order of :func:`engine.convex_duals.patterns.sample_patterns` (same draws,
    same columns), and one gate per pattern (d, P) (§2.2 sampling)."""
    gates = rng.standard_normal((F.shape[1], int(count)))
    pats, first = np.unique((F @ gates >= 0).T, axis=0, return_index=True)
    keep = pats.any(axis=1)
    return pats[keep].T, gates[:, first[keep]]


def interior_gates(F: np.ndarray, D: np.ndarray) -> np.ndarray:
    """A gate strictly inside each pattern's cone (d, P): the Chebyshev centre of
    ``{g : (2D_i − I) F g ≥ r‖F_j‖, ‖g‖_∞ ≤ 1}`` (one small LP per pattern), for patterns
    that were enumerated rather than sampled (§2.2). Refuses a pattern whose cone has no
    interior."""
    from scipy.optimize import linprog
    n, d = F.shape
    rows = np.linalg.norm(F, axis=1)
    out = np.empty((d, D.shape[1]))
    for i in range(D.shape[1]):
        K = (2 * np.asarray(D[:, i], dtype=float) - 1)[:, None] * F
        res = linprog(np.r_[np.zeros(d), -1.0], A_ub=np.c_[-K, rows], b_ub=np.zeros(n),
                      bounds=[(-1, 1)] * d + [(0, None)], method="highs")
        if res.status != 0 or res.x[-1] <= 1e-12:
            raise ValueError(f"pattern {i} has an empty cone interior")
        out[:, i] = res.x[:d]
    return out


@dataclass
class ReluProgram:
    """Data of the exact program: patches ``F`` (n, d), patterns ``D`` (n, P), clean ``x``
    (n,), weight decay ``beta``."""
    F: np.ndarray
    D: np.ndarray
    x: np.ndarray
    beta: float

    @property
    def groups(self) -> int:
        return 2 * self.D.shape[1]

    @cached_property
    def sign(self) -> np.ndarray:
        """+1 for the w-groups, −1 for the z-groups, shape (2P,)."""
        P = self.D.shape[1]
        return np.concatenate([np.ones(P), -np.ones(P)])

    @cached_property
    def mask(self) -> np.ndarray:
        """Pattern of every group, (n, 2P) float."""
        D = np.asarray(self.D, dtype=float)
        return np.concatenate([D, D], axis=1)

    @cached_property
    def cone_rows(self) -> np.ndarray:
        """Patches that constrain a cone: the non-zero rows of ``F`` (a zero patch, e.g. of
        noiseless background, gives ``0 ≥ 0`` for every gate)."""
        return np.linalg.norm(self.F, axis=1) > 0

    @cached_property
    def cone_F(self) -> np.ndarray:
        return self.F[self.cone_rows]

    @cached_property
    def cone_sign(self) -> np.ndarray:
        """``2D − 1`` of every group on the cone rows, (n', 2P): cone ``g`` is
        ``cone_sign[:, g] cone_F u ≥ 0``."""
        return (2 * self.mask - 1)[self.cone_rows]

    @cached_property
    def design(self) -> np.ndarray:
        """``[sign_g D_g F]_g``, (n, 2P·d): the prediction is ``design @ U.ravel()``."""
        n, d = self.F.shape
        blocks = (self.mask * self.sign).T[:, :, None] * self.F[None]
        return blocks.transpose(1, 0, 2).reshape(n, self.groups * d)

    def slack(self, U: np.ndarray) -> np.ndarray:
        """Cone slacks ``(2D_g − I) F u_g`` on the cone rows, (n', 2P); all ≥ 0 for a
        feasible ``U``."""
        return self.cone_sign * (self.cone_F @ U.T)

    def residual(self, U: np.ndarray) -> np.ndarray:
        return self.design @ U.ravel() - self.x

    def objective(self, U: np.ndarray) -> float:
        """The convex objective ``½‖Σ_g sign_g D_g F u_g − x‖² + β Σ‖u_g‖``."""
        r = self.residual(U)
        return float(0.5 * r @ r + self.beta * np.linalg.norm(U, axis=1).sum())


def _newton_direction(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``−H⁻¹g`` by Cholesky of the diagonally scaled ``H`` (a tiny ridge if it breaks down
    in the last, badly conditioned barrier steps)."""
    sc = 1.0 / np.sqrt(np.diag(H))
    Hs = H * sc[:, None] * sc[None, :]
    ridge = 0.0
    for _ in range(8):
        try:
            c = sla.cho_factor(Hs + ridge * np.eye(len(g)), check_finite=False)
            return -sc * sla.cho_solve(c, sc * g, check_finite=False)
        except np.linalg.LinAlgError:
            ridge = max(ridge * 100, 1e-14)
    raise np.linalg.LinAlgError("the barrier's Newton system is singular")


class _Barrier:
    """``τ(½‖r‖² + βΣt) − (1/n)Σ log s − Σ log(t² − ‖u‖²)``: value changes and Newton
    steps in the variables ``(U, t)``."""

    def __init__(self, prog: ReluProgram):
        self.prog = prog
        n, d = prog.cone_F.shape
        G = prog.groups
        self.weight = 1.0 / n
        self.quad = prog.design.T @ prog.design
        self.outer = (prog.cone_F[:, :, None] * prog.cone_F[:, None, :]).reshape(n, d * d)
        block = np.arange(G)[:, None, None] * d + np.arange(d)[None, :, None]
        self.block_rows = np.broadcast_to(block, (G, d, d)).ravel()
        self.block_cols = np.broadcast_to(block.transpose(0, 2, 1), (G, d, d)).ravel()

    def state(self, U, T):
        return self.prog.slack(U), T ** 2 - np.sum(U ** 2, axis=1), self.prog.residual(U)

    def change(self, tau, old, new, T_old, T_new) -> float:
        """``φ(new) − φ(old)`` from the parts' differences (no cancellation at large τ)."""
        (s0, dl0, r0), (s1, dl1, r1) = old, new
        fit = 0.5 * (r1 - r0) @ (r1 + r0) + self.prog.beta * (T_new - T_old).sum()
        return float(tau * fit - self.weight * np.log(s1 / s0).sum() - np.log(dl1 / dl0).sum())

    def newton(self, tau, U, T, state):
        """The Newton step at ``(U, T)`` with the epigraph variables eliminated: each ``t_g``
        couples only with its ``u_g``, so the system is reduced to ``U`` by one Schur
        complement per group. Returns ``(dU, dT, decrement)``; ``dU`` is ``None`` when float64
        runs out (Hessian not finite)."""
        s, dl, r = state
        prog, (G, d) = self.prog, U.shape
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            gu = (tau * (prog.design.T @ r).reshape(G, d)
                  - self.weight * (prog.cone_F.T @ (prog.cone_sign / s)).T
                  + 2 * U / dl[:, None])                               # (G, d)
            gt = tau * prog.beta - 2 * T / dl
            hut = -4 * U * T[:, None] / dl[:, None] ** 2               # ∂²/∂u_g∂t_g
            htt = -2 / dl + 4 * T ** 2 / dl ** 2
            blocks = self.weight * ((1.0 / s ** 2).T @ self.outer).reshape(G, d, d)
            blocks += ((2 / dl)[:, None, None] * np.eye(d)
                       + (4 / dl ** 2)[:, None, None] * U[:, :, None] * U[:, None, :]
                       - hut[:, :, None] * hut[:, None, :] / htt[:, None, None])
            g_red = gu - hut * (gt / htt)[:, None]
        if not all(np.isfinite(a).all() for a in (blocks, g_red, htt, gt)):
            return None, None, 0.0
        H = tau * self.quad
        H[self.block_rows, self.block_cols] += blocks.ravel()
        with np.errstate(invalid="ignore"):
            dU = _newton_direction(H, g_red.ravel()).reshape(G, d)
        if not np.isfinite(dU).all():
            return None, None, 0.0
        dT = (-gt - (hut * dU).sum(axis=1)) / htt
        return dU, dT, max(-(gu * dU).sum() - gt @ dT, 0.0)


def _center(barrier: _Barrier, tau, U, T, progress: Progress, max_steps=60):
    """Newton's method with backtracking (Armijo 0.25, halving) on the barrier objective at
    ``τ``; every accepted point is strictly feasible. Yields ``progress`` after every step
    (a cancel point); returns ``U, T, steps``."""
    state = barrier.state(U, T)
    for step in range(1, max_steps + 1):
        if step > 1:
            yield progress
        dU, dT, decrement = barrier.newton(tau, U, T, state)
        if dU is None or decrement / 2 < CENTERED:             # centred, or float64 spent
            return U, T, step
        a = 1.0
        while a > 1e-10:
            Un, Tn = U + a * dU, T + a * dT
            new = barrier.state(Un, Tn)
            if ((new[0] > 0).all() and (new[1] > 0).all() and (Tn > 0).all()
                    and barrier.change(tau, state, new, T, Tn) <= -0.25 * a * decrement):
                break
            a *= 0.5
        else:
            return U, T, step                                  # no progress left in float64
        U, T, state = Un, Tn, new
    return U, T, max_steps


def cone_projection_norms(prog: ReluProgram, v: np.ndarray) -> np.ndarray:
    """``‖Π_{C_g}(A_gᵀ v)‖`` for every group (2P,): by Moreau, the distance of ``A_gᵀv`` to
    the polar cone ``{−K_gᵀλ : λ ≥ 0}``, a non-negative least-squares problem."""
    q = (prog.sign[None, :] * (prog.F.T @ (prog.mask * v[:, None]))).T      # (2P, d)
    out = np.empty(prog.groups)
    for g in range(prog.groups):
        K = prog.cone_sign[:, g:g + 1] * prog.cone_F
        out[g] = nnls(K.T, -q[g], maxiter=50 * K.shape[0])[1]
    return out


def duality_gap(prog: ReluProgram, U: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """``(primal, dual, relative gap, projection norms)`` of a feasible ``U`` (§7.5 eq 4).

    The Lagrangian of the program with multipliers ``λ_g ≥ 0`` for the cones, minimised over
    ``u``, gives the dual ``max_v vᵀx − ½‖v‖²`` s.t. ``min_{λ_g ≥ 0} ‖A_gᵀv + K_gᵀλ_g‖ ≤ β``
    for every group, ``A_g = sign_g D_g F``, ``K_g = (2D_g − I)F`` [derived here]; the inner
    minimum is :func:`cone_projection_norms`. With ``v = c (x − A U)`` and the largest feasible
    ``c ≤ vᵀx/‖v‖²`` weak duality gives the lower bound ``dual``; ``gap = (primal −
    dual)/|primal|``. The norms (of the unscaled residual) are returned too: a group whose norm
    is below ``β`` is zero at the optimum.
    """
    if (prog.slack(U) < 0).any():
        raise ValueError("the iterate is outside its cones: no duality certificate")
    r = prog.residual(U)
    primal = 0.5 * r @ r + prog.beta * np.linalg.norm(U, axis=1).sum()
    v = -r
    norms = cone_projection_norms(prog, v)
    worst, vv = norms.max(), float(v @ v)
    c = min(prog.beta / worst if worst > 0 else np.inf, float(v @ prog.x) / vv if vv else 0.0)
    c = max(c, 0.0)
    dual = c * float(v @ prog.x) - 0.5 * c * c * vv
    return float(primal), float(dual), float((primal - dual) / max(abs(primal), 1e-300)), norms


def _pruned(prog: ReluProgram, U: np.ndarray, norms: np.ndarray, gap: float, tol: float):
    """Zero the groups the dual shows inactive (``‖Π_C(A_gᵀv)‖ < (1 − 10⁻³)β``; 0 is in every
    cone, so ``U`` stays feasible) and keep that only if its certified gap is still ≤ ``tol``
    (or no worse)."""
    idle = norms < (1 - 1e-3) * prog.beta
    if not idle.any():
        return U, gap
    sparse = np.where(idle[:, None], 0.0, U)
    sparse_gap = duality_gap(prog, sparse)[2]
    return (sparse, sparse_gap) if sparse_gap <= max(tol, gap) else (U, gap)


def _barrier_path(prog: ReluProgram, gates: np.ndarray, tol: float, mu: float,
                  max_outer: int, label: str):
    """Barrier steps ``τ ← μτ`` from the gates' strict start until the certified gap is
    ``≤ tol``; returns ``U``, the gap and the groups' projection norms."""
    unit = (gates / np.linalg.norm(gates, axis=0)).T
    U = 0.1 * np.concatenate([unit, unit])
    T = np.linalg.norm(U, axis=1) + 1.0
    barrier, tau, bound = _Barrier(prog), 1.0, 3.0 * prog.groups
    for outer in range(max_outer):
        note = Progress(min(outer / 8, 0.95), f"{label}: barrier τ = {tau:.0e}")
        U, T, _ = yield from _center(barrier, tau, U, T, note)
        primal = prog.objective(U)
        if bound / tau <= 10 * tol * abs(primal) or outer == max_outer - 1:
            _, _, gap, norms = duality_gap(prog, U)
            if gap <= tol or outer == max_outer - 1:
                return U, gap, norms
        yield Progress(min(outer / 8, 0.95), f"{label}: barrier τ = {tau:.0e}, "
                                             f"objective {primal:.6f}")
        tau *= mu


def solve_relu(prog: ReluProgram, gates: np.ndarray, *, tol: float = 1e-7, mu: float = 20.0,
               max_outer: int = 30) -> Generator[Progress, None, tuple[np.ndarray, float]]:
    """The barrier method on :class:`ReluProgram` until the certified relative duality gap
    (:func:`duality_gap`) is ``≤ tol``; returns ``U`` (2P, d) — rows ``w_i`` then ``z_i`` —
    and the gap. ``gates`` (d, P) are the gates that drew the patterns (strict start).

    Two phases: the whole program to a coarse gap (10⁻⁴), then only the patterns whose
    groups the dual shows active (``‖Π_C(A_gᵀv)‖ ≥ 0.99β``) to ``tol``, the other groups
    zero — kept if the whole program's certified gap is ``≤ tol`` (the optimum is sparse);
    otherwise the whole program is solved to ``tol``."""
    zero = np.zeros((prog.groups, prog.F.shape[1]))
    if duality_gap(prog, zero)[2] <= tol:          # β above every ‖Π_C(A_gᵀx)‖: U* = 0
        return zero, duality_gap(prog, zero)[2]
    coarse = max(tol, 1e-4)
    U, gap, norms = yield from _barrier_path(prog, gates, coarse, mu, max_outer,
                                             "exact ReLU program")
    if gap <= tol:
        return _pruned(prog, U, norms, gap, tol)
    P = prog.D.shape[1]
    active = np.flatnonzero((norms.reshape(2, P) >= 0.99 * prog.beta).any(axis=0))
    if 0 < len(active) < P:
        small = ReluProgram(prog.F, prog.D[:, active], prog.x, prog.beta)
        Us, _, _ = yield from _barrier_path(small, gates[:, active], 0.5 * tol, mu, max_outer,
                                            f"exact ReLU program on {len(active)} patterns")
        U = np.zeros_like(U)
        U[active], U[P + active] = Us[:len(active)], Us[len(active):]
        _, _, gap, norms = duality_gap(prog, U)
        if gap <= tol:
            return _pruned(prog, U, norms, gap, tol)
    U, gap, norms = yield from _barrier_path(prog, gates, tol, mu, max_outer,
                                             "exact ReLU program")
    return _pruned(prog, U, norms, gap, tol)


def recover_network(U: np.ndarray, sign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """§7.5 Recovery: ``u_g = w_g/√‖w_g‖``, ``v_g = sign_g √‖w_g‖`` (the minus for the
    z-groups is required); zero groups give zero filters. Returns ``(U_net (d, 2P), v (2P,))``."""
    norms = np.linalg.norm(U, axis=1)
    root = np.sqrt(norms)
    filters = np.where(norms[:, None] > 0, U / np.where(root > 0, root, 1.0)[:, None], 0.0)
    return filters.T, sign * root


def network_objective(F: np.ndarray, x: np.ndarray, beta: float, filters: np.ndarray,
                      out: np.ndarray) -> float:
    """The ReLU conv net's objective ``½‖relu(F U) v − x‖² + (β/2)(‖U‖² + ‖v‖²)`` (§7.5)."""
    r = np.maximum(F @ filters, 0.0) @ out - x
    return float(0.5 * r @ r + 0.5 * beta * (np.sum(filters ** 2) + out @ out))
