"""Interior-point warm start of small convex programs: a barrier method on the n-dimensional dual.

The gated group lasso (SCIENCE.md §2.5; scnn scaling) has the dual (§2.3)

``max_ρ ρᵀy − (n/2)‖ρ‖²  s.t.  ‖c_g‖ ≤ λ,  c_g = F_gᵀρ,  F_g = D_g X̃``

— only ``n`` variables, however many groups. Its log barrier (Boyd–Vandenberghe §11.2-11.3;
``−log(λ² − ‖c‖²)`` is the second-order-cone barrier, parameter 2)

``ψ_t(ρ) = t((n/2)‖ρ‖² − ρᵀy) − Σ_g log s_g,  s_g = λ² − ‖c_g‖²``

has gradient ``t(nρ − y) + Σ_g w_g F_g c_g`` (``w_g = 2/s_g``) and Hessian
``tnI + (X̃X̃ᵀ) ∘ (Dᵀ diag(w) D) + Vᵀ diag(w²) V`` with rows ``V_g = F_g c_g``: an ``n × n``
system per Newton step. On the central path ``y − nρ = Σ_g F_g u_g`` with ``u_g = w_g c_g / t``,
a primal point with duality gap ``2P/t``.

Path following: Newton steps with a backtracking line search (strictly feasible) centre the
point; a predictor along the tangent of the path, ``Δ = H⁻¹ t(y − nρ)`` (``ρ(μ)``, ``μ = 1/t``,
is nearly linear in ``μ`` near the optimum; ``Δ`` contains the centring step too), moves by the
fraction ``a`` of the way to the boundary and sets ``t ← t/(1 − a)`` — about two solves per
decade of the gap instead of the ~7 of the textbook barrier method. Steps are chosen on a
quadratic model of the slacks (exact here; the faces' model for the ReLU barrier of
:mod:`engine.regions.ipm_cones`, which shares :func:`follow_path`) and checked at the next
point: strictly feasible, Armijo decrease (centring) or no slack below ``KEEP(1 − a)`` of its
value (predictor), else the step is halved.

The result only *warm-starts* the exact solver (:mod:`engine.regions.activeset`):
:func:`basic_primal` turns it into a sparse primal point, the proximal step and the Newton
polish finish, and the duality-gap certificate is evaluated on that final point as always.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotrs
from scipy.optimize import nnls

__all__ = ["basic_primal", "follow_path", "gated_barrier"]

REL_GAP = 1e-5          # barrier gap (relative) at which the gated warm start is handed over
CAP = 0.9               # largest predictor fraction (μ decreases at most 10× per predictor)
FRACTION = 0.9          # of the step to the boundary taken by the predictor
KEEP = 0.1              # least fraction of its path value a slack keeps in a predictor
SHRINK = 0.1            # least factor of its value a slack keeps in a centring step
CENTRED = 1.0           # Newton decrement² below which the point counts as centred


def _factor(H: np.ndarray):
    """Cholesky factor of ``H`` after symmetric diagonal (Jacobi) scaling, with the scaling;
    None if not positive definite. Near the boundary one group's ``w² V_gV_gᵀ`` can exceed
    the rest by ``10¹⁰``: the scaling keeps the solve accurate in the other directions."""
    scale = 1.0 / np.sqrt(np.maximum(np.diagonal(H), 1e-300))
    L, info = dpotrf(H * scale[:, None] * scale[None, :], lower=1)
    return (L, scale) if info == 0 else None


def _solve(fac, b: np.ndarray) -> np.ndarray:
    """``H⁻¹ b`` from :func:`_factor`."""
    L, scale = fac
    return scale * dpotrs(L, scale * b, lower=1)[0]


def _ray_step(C: np.ndarray, dC: np.ndarray, s: np.ndarray):
    """Largest ``α`` with every ``‖c_g + α dc_g‖² ≤ λ²`` and the coefficients
    ``(‖dc‖², c·dc)`` of the slacks along the ray, ``s − 2α c·dc − α²‖dc‖²``."""
    aa = np.einsum("gp,gp->g", dC, dC)
    bb = np.einsum("gp,gp->g", C, dC)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.where(aa > 0, (-bb + np.sqrt(bb * bb + aa * s)) / aa, np.inf)
    return float(root.min(initial=np.inf)), aa, bb


class _Barrier:
    """``ψ_t`` of the gated dual at ``(ρ, C = (D∘ρ)X̃)`` (module docstring)."""

    centred = CENTRED
    exact = True        # the slacks' model is exact: no check of the step at the next point

    def __init__(self, A: np.ndarray, y: np.ndarray, D: np.ndarray, lam: float):
        self.A, self.y, self.D, self.lam2, self.n = A, y, D, lam * lam, len(y)
        self.K = A @ A.T
        self.diag = slice(None, None, self.n + 1)          # the diagonal of a flat (n, n)

    def newton(self, rho, C, t):
        """Slacks, the barrier's gradient, the Cholesky factor of the Hessian (None if not
        positive definite) and the gradient of ``ψ_t``."""
        s = self.lam2 - np.einsum("gp,gp->g", C, C)
        self._C, self._s = C, s
        w = 2.0 / s
        V = self.D * (C @ self.A.T)
        gB = w @ V
        H = self.K * (self.D.T @ (w[:, None] * self.D)) + V.T @ ((w * w)[:, None] * V)
        H.reshape(-1)[self.diag] += t * self.n
        return s, gB, _factor(H), t * (self.n * rho - self.y) + gB

    def model(self, dC):
        """The slacks' quadratic model along ``dC``: ``(M, dM, s)`` with
        ``s(α) = s − 2α M·dM − α²‖dM‖²`` (``= λ² − ‖M + α dM‖²``)."""
        return self._C, dC, self._s

    def line_search(self, rho, C, dC, s, d, dec2, t) -> float:
        """Backtracking (Armijo, strictly feasible) step length along the Newton step, on the
        model ``s(α) = λ² − ‖C + α dC‖²`` of the slacks."""
        amax, aa, bb = _ray_step(C, dC, s)
        a = min(1.0, 0.99 * amax)
        rd, dd, yd = float(rho @ d), float(d @ d), float(self.y @ d)
        while a > 1e-12:
            sa = s - 2.0 * a * bb - a * a * aa
            if (sa >= SHRINK * s).all():
                dpsi = (t * (self.n * (a * rd + 0.5 * a * a * dd) - a * yd)
                        - float(np.log(sa / s).sum()))
                if dpsi <= -0.25 * a * dec2:
                    break
            a *= 0.5
        return a

    def predictor(self, C, dC, s) -> float:
        """Predictor fraction: ``FRACTION`` of the way to the (model's) boundary, at most
        ``CAP``, shrunk while a slack would fall below ``KEEP(1 − a)`` of its value (the path
        scales the active slacks by ``1 − a``; faster means moving along a curved boundary,
        where the linear prediction is wrong)."""
        amax, aa, bb = _ray_step(C, dC, s)
        a = min(CAP, FRACTION * amax)
        while a > 1e-12 and not (s - 2.0 * a * bb - a * a * aa >= KEEP * (1.0 - a) * s).all():
            a *= 0.5
        return a

    def primal(self, C, t) -> np.ndarray:
        """The path's primal point ``u_g = w_g c_g / t``."""
        s = self.lam2 - np.einsum("gp,gp->g", C, C)
        return (2.0 / (t * s))[:, None] * C


def gated_barrier(A: np.ndarray, y: np.ndarray, D: np.ndarray, lam: float,
                  rel_gap: float = REL_GAP, max_newton: int = 200):
    """Barrier path following on the gated dual (module docstring).

    Parameters
    ----------
    A : (n, p) X̃. y : (n,). D : (P, n) float patterns (0/1). lam : λ > 0.
    rel_gap : stop when the path's gap ``2P/t`` is below this times the dual value.

    Returns
    -------
    ``(ρ, U, ok)``: the dual point, the primal point ``u_g = w_g c_g / t`` (P, p) and whether
    ``rel_gap`` was reached within ``max_newton`` solves.
    """
    return follow_path(_Barrier(A, y, D, lam), rel_gap, max_newton)


def follow_path(bar: _Barrier, rel_gap: float, max_newton: int):
    """Centring steps and predictors (module docstring) on the barrier ``bar``; returns
    ``(ρ, U, ok)`` as :func:`gated_barrier`."""
    A, y, D, n, P = bar.A, bar.y, bar.D, bar.n, len(bar.D)
    rho, C = np.zeros(n), np.zeros((P, A.shape[1]))
    t = P / max(float(y @ y) / n, 1e-300)
    ok, prev = False, None
    for _ in range(max_newton):
        s, _, L, g = bar.newton(rho, C, t)
        if (prev is not None and not bar.exact
                and not _accepted(prev, s, L, t * (0.5 * n * float(rho @ rho) - float(y @ rho)))):
            rho, C, t, prev = _shorter(prev)          # the model was wrong: halve the step
            if prev is None:
                break
            continue
        if L is None:
            break
        if 2.0 * P / t <= rel_gap * abs(float(rho @ y) - 0.5 * n * float(rho @ rho)):
            ok = True
            break
        d = -_solve(L, g)
        dec2 = -float(g @ d)
        if dec2 >= bar.centred:                                  # centring step
            dC = (D * d) @ A
            a = bar.line_search(rho, *bar.model(dC), d, dec2, t)
            if not bar.exact:
                psi = t * (0.5 * n * float(rho @ rho) - float(y @ rho)) - float(np.log(s).sum())
                prev = (rho, C, d, dC, a, t, (psi, dec2), None)
        else:
            d = _solve(L, t * (y - n * rho))                     # predictor (μ → 0)
            dC = (D * d) @ A
            a = bar.predictor(*bar.model(dC))
            if not bar.exact:
                prev = (rho, C, d, dC, a, t, None, s)
            t /= 1.0 - a
        rho, C = rho + a * d, C + a * dC
    return rho, bar.primal(C, t), ok


def _accepted(prev, s, L, quad) -> bool:
    """Deferred check of the last step at the new point (its slacks ``s``): strictly feasible,
    a positive definite Hessian, and — centring — Armijo decrease of ``ψ_t`` (``quad``: its
    ``t``-part), or — predictor — every slack ``≥ KEEP(1 − a)`` of its old value. Exact for
    the gated barrier (its line search sees the true slacks); for the ReLU barrier the step was
    chosen on the faces' quadratic model."""
    if L is None or not s.min() > 0:
        return False
    a, centring, s0 = prev[4], prev[6], prev[7]
    if centring is not None:
        return quad - float(np.log(s).sum()) - centring[0] <= -0.1 * a * centring[1]
    return bool((s >= KEEP * (1.0 - a) * s0).all())


def _shorter(prev):
    """Back to the last point with half the step (None when the step vanished)."""
    rho, C, d, dC, a, t, centring, s0 = prev
    a *= 0.5
    if a < 1e-12:
        return rho, C, t, None
    new = (rho, C, d, dC, a, t, centring, s0)
    return rho + a * d, C + a * dC, (t if centring is not None else t / (1.0 - a)), new


def basic_primal(A: np.ndarray, y: np.ndarray, D: np.ndarray, rho: np.ndarray, U: np.ndarray,
                 rel: float = 1e-4) -> np.ndarray:
    """A basic (sparse) primal point from the barrier's: NNLS over the candidate groups.

    Exact 2-D patterns are degenerate: more groups are tight at the (unique) dual optimum than
    the ``n`` the fit needs, and the barrier's primal point is the analytic centre of that
    optimal face — every tight group carries mass. With the directions ``û_g`` fixed, any
    ``τ ≥ 0`` with ``Σ_g τ_g F_g û_g = y − nρ`` on tight groups is optimal (the penalty
    ``λΣτ_g = ρᵀ(y − nρ)`` is then fixed), so non-negative least squares (Lawson–Hanson) over
    the candidates (``‖u_g‖ ≥ rel · max‖u‖``) returns a basic solution with at most ``n``
    groups — the Carathéodory reduction of :func:`engine.regions.polish.reduce_support` in one
    solve — whose radial features are independent, so the Newton polish is non-degenerate.
    """
    nu = np.sqrt(np.einsum("gp,gp->g", U, U))
    if not (np.isfinite(nu).all() and np.isfinite(rho).all()):
        return np.zeros_like(U)             # a barrier that failed: start from zero instead
    cand = np.flatnonzero((nu > 0) & (nu >= rel * nu.max(initial=0.0)))
    if len(cand) == 0:
        return np.zeros_like(U)
    Uh = U[cand] / nu[cand, None]
    M = D[cand] * (Uh @ A.T)                                  # (k, n) radial features
    tau, _ = nnls(M.T, y - len(y) * rho)
    out = np.zeros_like(U)
    out[cand] = tau[:, None] * Uh
    return out
