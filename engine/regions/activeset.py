"""Proximal-gradient identification + Newton on the identified faces (restricted programs).

The restricted program of a working set (SCIENCE.md §2.3 ReLU with cone constraints, §2.5
gated) is ``min_U F(U) = f(U) + λ Σ_g ‖u_g‖ (+ I_{K_g}(u_g))``. Each iteration takes

1. one proximal-gradient step ``U⁺ = shrink_{ηλ}(Π_K(U − η∇f(U)))`` with backtracking
   (:func:`engine.regions.fista._backtrack`): it adds every group whose dual constraint is
   violated (``‖Π_K(−∇_g f)‖ > λ``), drops groups at 0 and releases cone faces — the KKT check
   of an active-set method;
2. a Newton polish of ``U⁺`` on its faces (:func:`engine.regions.polish.polish`), kept when it
   lowers ``F``.

This is the "Newton acceleration on manifolds identified by proximal gradient" scheme
(Bareilles–Iutzeler–Malick 2020; Lewis–Wright partial smoothness): once the support and faces
are identified the polish solves the restricted program to machine precision, so the number
of iterations is about the number of support changes, not the ``O(√κ log 1/ε)`` of R-FISTA.
The loop stops when the restricted duality gap (:class:`engine.regions.dual.Certificate`) is
below ``tol``; the caller's working-set loop then certifies the full program.

Degenerate programs (exact 2-D patterns: thousands of near-duplicate groups whose columns
differ in one point, issue #4) need three safeguards: the polish and the polish-vs-PG choice
compare objectives through *differences* (:func:`_dF`, :meth:`polish._Reduced.deltas`) —
trading mass between near-duplicates changes ``F`` far below its round-off, and a decision
by round-off made the iteration cycle between supports forever; when the restricted gap has
not improved for ``PATIENCE`` iterations the limit on entering groups is relaxed (×4); out of
iterations, the iterate with the best restricted gap is returned (its gap is reported).
"""
from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np

from engine.core import Progress
from engine.regions.fista import Clock, _backtrack, group_soft_threshold
from engine.regions.faces import Geometry
from engine.regions.polish import polish
from engine.regions.programs import GroupData

__all__ = ["solve_active_set"]

PATIENCE = 20       # iterations without a 0.1 % better restricted gap before ``grow`` × 4


def _rn(M: np.ndarray) -> np.ndarray:
    """Row norms (cheaper than ``np.linalg.norm(M, axis=1)`` on tiny arrays)."""
    return np.sqrt(np.einsum("gp,gp->g", M, M))



def _dF(gd: GroupData, U: np.ndarray, V: np.ndarray, lam: float) -> float:
    """``F(V) − F(U)`` evaluated as a difference (the fit change through the residual
    change ``δ = ŷ(V) − ŷ(U)``, the norms through ``(‖v‖² − ‖u‖²)/(‖v‖ + ‖u‖)``): accurate
    relative to the change, where ``F(V) < F(U)`` on the two values is decided by round-off
    (degenerate programs: near-duplicate groups trading mass)."""
    E = V - U
    _, r = gd.fit(U)
    delta = np.einsum("gn,gn->n", gd.DS, E @ gd.A.T)
    df = (float(r @ delta) + 0.5 * float(delta @ delta)) / gd.n
    n0, n1 = _rn(U), _rn(V)
    num = 2.0 * np.einsum("gp,gp->g", U, E) + np.einsum("gp,gp->g", E, E)
    with np.errstate(divide="ignore", invalid="ignore"):
        pen = np.where(n0 + n1 > 0, num / (n0 + n1), 0.0)
    return df + lam * float(pen.sum())


#: Cap of the entering-group factor (beyond it nothing is limited; never ∞ → OverflowError).
MAX_GROW = 1e9


def _limit_new(U, U1, G, grow: float) -> np.ndarray:
    """Keep at most ``max(4, grow·#active)`` of the groups the PG step switched on (those
    with the largest gradient norm); the others stay at 0 (Roth–Fischer: few at a time, so
    the polish does not have to drop them one by one)."""
    active = _rn(U) > 0
    new = np.flatnonzero(~active & (_rn(U1) > 0))
    k = max(4, int(min(grow * active.sum(), len(U1))))       # never int(∞)
    if len(new) <= k:
        return U1
    order = np.argsort(-_rn(G[new]), kind="stable")
    U1 = U1.copy()
    U1[new[order[k:]]] = 0.0
    return U1


def _chunks(k: int, first: int = 8):
    """``(lo, hi)`` slices of ``range(k)`` doubling in size from ``first``."""
    lo, size = 0, first
    while lo < k:
        yield lo, min(k, lo + size)
        lo, size = lo + size, 2 * size


def _entering(gd: GroupData, lam: float, project: Callable | None,
              margin: float = 1e-3, chunked: bool = False) -> Callable:
    """``V ↦`` whether a zero group of ``V`` violates its dual constraint
    ``‖Π_K(−∇_g f(V))‖ ≤ λ`` (SCIENCE.md §2.3; ``‖∇_g f‖`` gated) by more than ``margin``;
    a True answer is remembered in ``entering.hit`` (the restricted certificate of that
    point cannot pass, so the caller skips it)."""
    def entering(V: np.ndarray) -> bool:
        zero = ~(V != 0).any(axis=1)
        if not zero.any():
            return False
        Z = -gd.fit_smooth(V)[1]
        bound = (lam * (1.0 + margin)) ** 2
        norms2 = np.einsum("gp,gp->g", Z, Z)
        cand = np.flatnonzero(zero & (norms2 > bound))               # ‖Π_K(z)‖ ≤ ‖z‖
        if not len(cand):
            return False
        if project is not None:       # largest first, a few at a time: stop at a violator
            cand = cand[np.argsort(-norms2[cand], kind="stable")]
            for lo, hi in _chunks(len(cand)) if chunked else [(0, len(cand))]:
                rows = np.zeros(len(Z), dtype=bool)
                rows[cand[lo:hi]] = True
                P = project(np.where(rows[:, None], Z, 0.0), lam * (1.0 + margin))[rows]
                if np.einsum("gp,gp->g", P, P).max() > bound:
                    entering.hit = True
                    return True
            return False
        entering.hit = len(cand) > 0
        return entering.hit
    entering.hit = False
    return entering


def _limit(zero: np.ndarray, grow: float) -> int:
    """How many groups may enter at one PG step (:func:`_limit_new`)."""
    return max(4, int(min(grow * (~zero).sum(), len(zero))))


def _entering_groups(project: Callable, zero: np.ndarray, C: np.ndarray, lam: float,
                     k: int) -> np.ndarray:
    """``shrink_λ(Π_K(c_g))`` of the first ``k`` zero groups (largest ``‖c_g‖`` first) where
    it is nonzero, 0 elsewhere — :func:`_limit_new`'s choice, found without projecting
    the groups it would discard (chunks doubling in size; ``‖Π_K(c)‖ ≤ ‖c‖`` screens)."""
    norms = _rn(C)
    cand = np.flatnonzero(zero & (norms > lam))
    cand = cand[np.argsort(-norms[cand], kind="stable")]
    out = np.zeros_like(C)
    for lo, hi in _chunks(len(cand), first=max(k, 8)):
        rows = np.zeros(len(C), dtype=bool)
        rows[cand[lo:hi]] = True
        S = group_soft_threshold(project(np.where(rows[:, None], C, 0.0), lam), lam)
        on = cand[lo:hi][(S[cand[lo:hi]] != 0).any(axis=1)][:k]
        out[on] = S[on]
        k -= len(on)
        if k <= 0:
            break
    return out


def _zero_groups_once(prox: Callable, project: Callable | None, U: np.ndarray,
                      G: np.ndarray, lam: float, grow: float) -> Callable:
    """The PG step's prox with its zero groups done once for every trial step ``η``.

    From ``U`` a zero group's prox input is ``−η∇_g f``, and cone projection and group
    shrinkage commute with positive scaling: ``shrink_{ηλ}(Π_K(−η∇_g f)) =
    η·shrink_λ(Π_K(−∇_g f))`` (SCIENCE.md §2.3). So the zero groups — most of a working
    set — are projected once per PG step, not once per backtracking trial, and only the
    ``grow``-limited entering groups (:func:`_entering_groups`); the nonzero groups go
    through ``prox`` as before. Without cones (``project`` None) ``prox`` is cheap and
    returned unchanged."""
    zero = ~(U != 0).any(axis=1)
    if project is None or not zero.any():
        return prox
    fixed = _entering_groups(project, zero, -G, lam, _limit(zero, grow))

    def split(Z: np.ndarray, t: float) -> np.ndarray:
        out = prox(np.where(zero[:, None], 0.0, Z), t)
        out[zero] = (t / lam) * fixed[zero]
        return out
    return split


def solve_active_set(gd: GroupData, U: np.ndarray, lam: float, *, step: float, tol: float,
                     max_iter: int, clock: Clock, gap: Callable, prox: Callable | None = None,
                     project: Callable | None = None, grow: float = 0.5,
                     costly_projection: bool = False) -> Generator:
    """PG + Newton iterations on the working set ``gd`` (module docstring).

    Parameters
    ----------
    gd : working-set data. U : (g, p) feasible start. lam : λ > 0.
    step : first PG step. tol : stop when ``gap(U) ≤ tol`` (restricted relative gap).
    prox : ``(Z, t) ↦ prox`` of ``t Σ‖u‖ + I_K`` (default group soft-threshold, gated).
    project : exact projection of the polished iterate on the cones (ReLU) or None.
    costly_projection : projections are NNLS solves (d > 2), not vectorised corner-ray
        projections: the zero groups' prox is computed once per PG step for the entering
        groups only (:func:`_zero_groups_once`) and the entering check stops at the first
        violator (chunks); cheap projections stay one vectorised call.

    Returns
    -------
    ``(U, step, iterations, converged)``
    """
    prox = prox or group_soft_threshold
    entering = _entering(gd, lam, project, chunked=costly_projection)
    geo = Geometry(gd.A)                    # face bases cached across the polishes
    f, G = gd.fit_smooth(U)
    eta, k, best, stale = step, 0, (np.inf, U), 0
    for k in range(1, max_iter + 1):
        step_prox = (_zero_groups_once(prox, project, U, G, lam, grow) if costly_projection
                     else prox)
        U0, _, _, eta_used, curv = _backtrack(gd.fit_smooth, step_prox, lam, U, f, G, eta)
        eta = eta_used * (1.25 if curv * eta_used * 5.0 < 1.0 else 1.0)
        U1 = _limit_new(U, U0, G, grow)
        entering.hit = False
        Up = polish(gd.A, gd.y, gd.DS, gd.S, U1, lam, entering=entering, geo=geo)
        if project is not None:
            Up = project(Up)
        better = _dF(gd, U1, Up, lam) < 0
        U = Up if better else U1
        if not (better and entering.hit):                       # a clear violator: go on
            g = gap(U)
            if g <= tol:
                return U, eta, k, True
            stale = 0 if g < best[0] * (1.0 - 1e-3) else stale + 1
            if g < best[0]:
                best = (g, U)
            if stale >= PATIENCE:           # no progress: stop limiting the entering groups
                grow, stale = min(grow * 4.0, MAX_GROW), 0
        f, G = gd.fit_smooth(U)
        if clock.due():
            yield Progress(0.0, f"active set: iteration {k}, {int((U != 0).any(1).sum())} "
                                "groups")
        if clock.expired():                 # the time budget: the best iterate, uncertified
            break
    return best[1] if np.isfinite(best[0]) else U, eta, k, False   # best certified iterate
