"""Projections onto the pattern cones ``K_i = {u : (2D_i − I) X̃ u ≥ 0}`` and dual values.

The dual constraint of pattern ``i`` (SCIENCE.md §2.3; PE eq. (8)) is
``max_{u ∈ K_i, ‖u‖ ≤ 1} ρᵀ D_i X̃ u = ‖Π_{K_i}(c_i)‖`` with ``c_i = X̃ᵀ D_i ρ`` (Moreau:
``c = Π_K(c) + Π_{K°}(c)`` and ``max_{u∈K,‖u‖≤1} cᵀu = ‖Π_K(c)‖``). With ``K = {u : Au ≥ 0}``,
``K° = {−Aᵀμ : μ ≥ 0}``, so ``Π_K(c) = c + Aᵀμ*`` with ``μ* = argmin_{μ≥0} ‖c + Aᵀμ‖``: a
non-negative least-squares problem with ``d + 1`` rows (Lawson–Hanson). Every ``μ ≥ 0`` gives
an upper bound ``‖c + Aᵀμ‖ ≥ ‖Π_K(c)‖``; the bounds below are rigorous (used for certificates).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import lsq_linear, nnls as _scipy_nnls

__all__ = ["nnls", "project_cone", "project_rows", "cone_values", "cone_violation"]

_CHUNK = 4096
BOUND_STEPS = 20    # accelerated steps of :func:`polar_bound` (screens out most NNLS solves)
SCREEN_P = 5        # ... in p ≥ this dimensions (below, NNLS is cheaper than the screen:
                    # measured at d = 3 vs 6 and 10, issue #18)


def nnls(B: np.ndarray, t: np.ndarray):
    """Lawson–Hanson ``min_{μ ≥ 0} ‖Bμ − t‖`` for a short, wide ``B`` (p, n): SciPy's
    compiled solver; returns ``(μ, r)`` with ``r = t − Bμ``.

    ``μ = 0`` is optimal when no column correlates with ``t`` (``Bᵀt ≤ 0`` up to round-off:
    SciPy can return a wrong point there). A result that fails the KKT test ``Bᵀr ≤ 0`` (or
    is worse than ``μ = 0``) or SciPy's cycling cap (``RuntimeError``, degenerate ties) falls
    back to the bounded-variable least squares of :func:`scipy.optimize.lsq_linear`.
    """
    scale = max(1.0, np.abs(B).max(initial=0.0)) * max(1.0, np.abs(t).max(initial=0.0))
    if not (B.T @ t).max(initial=0.0) > 1e-13 * scale:
        return np.zeros(B.shape[1]), t.astype(np.float64).copy()
    try:
        mu = _scipy_nnls(B, t)[0]
        r = t - B @ mu
        if float(r @ r) <= float(t @ t) and (B.T @ r).max() <= 1e-9 * scale:     # KKT
            return mu, r
    except RuntimeError:
        pass
    mu = lsq_linear(B, t, bounds=(0.0, np.inf), method="bvls", tol=1e-14).x
    return mu, t - B @ mu


def project_cone(A: np.ndarray, d: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``Π_K(c)`` for ``K = {u : (2d − 1) ∘ (A u) ≥ 0}`` (one pattern ``d``)."""
    Ak = np.where(d, 1.0, -1.0)[:, None] * A
    if (Ak @ c >= 0).all():
        return c.copy()
    _, r = nnls(Ak.T, -c)
    return -r


def project_rows(A: np.ndarray, D: np.ndarray, Z: np.ndarray, threshold: float = 0.0,
                 faces: dict | None = None, keys=None) -> np.ndarray:
    """``Π_{K_k}(Z_k)`` row-wise for patterns ``D`` (g, n): rows already inside are kept
    (one vectorised test), the others projected by NNLS (:func:`nnls`).

    ``threshold > 0`` (a prox that shrinks by it next): rows whose projection certainly has a
    norm ``≤ threshold`` — ``‖z‖``, the one-constraint bound of :func:`_single_constraint` or
    :func:`polar_bound` is — are returned as 0 without an NNLS (they shrink to 0 either way).
    ``faces`` (key → active constraints of its last projection, updated here; ``keys[k]`` the
    key of row ``k``, default ``k``): the last active set is tried first (:func:`_on_faces`;
    iterates move little between calls).
    """
    out = Z.copy()
    if len(Z) == 0:
        return out
    sign = np.where(D, 1.0, -1.0)
    M = sign * (Z @ A.T)
    todo = np.flatnonzero(~(M >= 0).all(axis=1))
    if threshold > 0 and len(todo):
        norms2 = np.maximum(np.einsum("ip,ip->i", A, A), 1e-300)
        bound = _single_constraint(M[todo], norms2, np.einsum("gp,gp->g", Z[todo], Z[todo]))[0]
        small = bound <= threshold
        out[todo[small]] = 0.0
        todo = todo[~small]
    _project_many(A, sign, Z, todo, faces, keys, out, threshold)
    return out


def _project_many(A, sign, Z, rows, faces, keys, out, threshold: float = 0.0) -> None:
    """``out[k] = Π_{K_k}(Z_k)`` for ``k`` in ``rows``: remembered active sets first, batched
    (:func:`_on_faces`), then — ``threshold > 0`` — 0 where :func:`polar_bound` is below it,
    then NNLS for the rest (their active sets are remembered)."""
    keys = np.arange(len(Z)) if keys is None else np.asarray(keys)
    if faces:               # rows whose remembered face fails go on to the bound / NNLS
        done = _on_faces(A, sign, Z, rows, [faces.get(key) for key in keys[rows]], out)
        rows = rows[~done]
    if threshold > 0 and len(rows) and A.shape[1] >= SCREEN_P:
        small = polar_bound(A, sign[rows], Z[rows]) <= threshold
        out[rows[small]] = 0.0
        rows = rows[~small]
    for k in rows:
        mu, r = nnls((sign[k][:, None] * A).T, -Z[k])
        out[k] = -r
        if faces is not None:
            faces[keys[k]] = np.flatnonzero(mu > 0)


def _on_faces(A, sign, Z, rows, faces, out) -> np.ndarray:
    """Projections assuming each row's remembered active set ``W``, one batched solve per
    size ``|W|``: ``π = c + M_Wᵀμ`` with ``M_WM_Wᵀμ = −M_Wc`` is exact when it passes the KKT
    test (``μ ≥ 0``, ``Mπ ≥ 0`` up to round-off). Writes the rows that pass into ``out`` and
    returns which did."""
    done = np.zeros(len(rows), dtype=bool)
    sizes = np.array([-1 if W is None else len(W) for W in faces])
    for m in np.unique(sizes[sizes > 0]):
        at = np.flatnonzero(sizes == m)
        r, W = rows[at], np.stack([faces[i] for i in at])                     # (k,), (k, m)
        MW = np.take_along_axis(sign[r], W, axis=1)[:, :, None] * A[W]        # (k, m, p)
        c = Z[r]
        try:
            mu = np.linalg.solve(MW @ MW.transpose(0, 2, 1), -(MW @ c[:, :, None]))[..., 0]
        except np.linalg.LinAlgError:
            continue                                      # a singular face: NNLS for all
        pi = c + np.einsum("kmp,km->kp", MW, mu)
        scale = 1e-12 * max(1.0, float(np.abs(A).max())) * np.abs(c).max(axis=1)
        ok = (mu >= 0).all(axis=1) & ((sign[r] * (pi @ A.T)).min(axis=1) >= -scale)
        out[r[ok]] = pi[ok]
        done[at[ok]] = True
    return done


def _single_constraint(M, norms2, c_norm2):
    """Upper bound of ``‖Π_K c‖`` using the most violated constraint only, and its point.

    ``M`` (k, n) are ``(2d − 1)∘(A c)``; returns ``(bound, j, coef)`` where the candidate
    point is ``c − coef a_j``.
    """
    gain = np.where(M < 0, M * M / norms2[None, :], 0.0)
    j = np.argmax(gain, axis=1)
    best = gain[np.arange(len(M)), j]
    bound = np.sqrt(np.maximum(c_norm2 - best, 0.0))
    coef = M[np.arange(len(M)), j] / norms2[j]
    return bound, j, coef


def polar_bound(A: np.ndarray, sign: np.ndarray, C: np.ndarray, steps: int = BOUND_STEPS):
    """Upper bounds of ``‖Π_{K_k}(C_k)‖`` for many cones at once (``sign`` (k, n) ``2D − 1``).

    ``min_{μ ≥ 0} ‖c + Mᵀμ‖ = ‖Π_K(c)‖`` (``M = diag(s)A``; module docstring), so every
    ``μ ≥ 0`` bounds it from above: ``steps`` accelerated projected-gradient steps on all
    rows together (step ``1/‖A‖₂²``, the Lipschitz constant of every row's gradient
    ``M(c + Mᵀμ)``), keeping each row's smallest value — a cheap screen before exact NNLS.
    """
    step = 1.0 / max(float(np.linalg.norm(A, 2)) ** 2, 1e-300)
    mu = np.zeros(sign.shape)
    v, t = mu, 1.0
    best = np.sqrt(np.einsum("kp,kp->k", C, C))
    for _ in range(steps):
        R = C + (sign * v) @ A
        best = np.minimum(best, np.sqrt(np.einsum("kp,kp->k", R, R)))
        mu_next = np.maximum(v - step * sign * (R @ A.T), 0.0)
        t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        v = mu_next + ((t - 1.0) / t_next) * (mu_next - mu)
        mu, t = mu_next, t_next
    R = C + (sign * mu) @ A
    return np.minimum(best, np.sqrt(np.einsum("kp,kp->k", R, R)))


def cone_values(A: np.ndarray, D: np.ndarray, C: np.ndarray, threshold: float,
                feas_tol: float = 1e-12, faces: dict | None = None, keys=None):
    """``‖Π_{K_k}(C_k)‖`` for every pattern ``D_k``: exact above ``threshold``, else a bound.

    Parameters
    ----------
    A : (n, p) data with bias column. D : bool (P, n) patterns. C : (P, p) vectors.
    threshold : float
        Values certainly below it may be returned as upper bounds (never underestimates).

    Returns
    -------
    values : (P,) ``≥ ‖Π_K C_k‖``, exact wherever the result is ``≥ threshold``.
    faces, keys : NNLS warm starts as in :func:`project_rows`.
    """
    values = np.linalg.norm(C, axis=1)
    cand = np.flatnonzero(values >= threshold)
    norms2 = np.maximum(np.einsum("ip,ip->i", A, A), 1e-300)
    gram = A @ A.T
    hard = []
    for s in range(0, len(cand), _CHUNK):
        k = cand[s:s + _CHUNK]
        sign = np.where(D[k], 1.0, -1.0)
        M = sign * (C[k] @ A.T)
        scale = feas_tol * np.maximum(values[k], 1e-300)[:, None] * np.sqrt(norms2)[None, :]
        inside = (M >= -scale).all(axis=1)
        bound, j, coef = _single_constraint(M, norms2, values[k] ** 2)
        M1 = M - coef[:, None] * sign * sign[np.arange(len(k)), j][:, None] * gram[:, j].T
        exact1 = (M1 >= -scale).all(axis=1)
        values[k] = np.where(inside, values[k], bound)
        hard.append(k[~inside & ~exact1 & (bound >= threshold)])
    hard = np.concatenate(hard) if hard else np.zeros(0, dtype=int)
    if len(hard) and A.shape[1] >= SCREEN_P:
        values[hard] = np.minimum(values[hard], polar_bound(A, np.where(D[hard], 1.0, -1.0),
                                                             C[hard]))
    need = hard[values[hard] >= threshold]
    if len(need):
        out = np.empty((len(need), A.shape[1]))
        _project_many(A, np.where(D[need], 1.0, -1.0), C[need], np.arange(len(need)), faces,
                      need if keys is None else np.asarray(keys)[need], out)
        values[need] = np.sqrt(np.einsum("kp,kp->k", out, out))
    return values


def cone_violation(A: np.ndarray, D: np.ndarray, U: np.ndarray) -> float:
    """``max_k max_i relu(−(2D_k − 1)_i (A u_k)_i)``: the largest cone-constraint violation."""
    if len(U) == 0:
        return 0.0
    worst = 0.0
    for s in range(0, len(U), _CHUNK):
        M = np.where(D[s:s + _CHUNK], 1.0, -1.0) * (U[s:s + _CHUNK] @ A.T)
        worst = max(worst, float(np.maximum(-M, 0.0).max()))
    return worst
