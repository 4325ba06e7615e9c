"""Exact oracles of the ReLU-discriminator WGAN game on 2-D data (SCIENCE.md §7.4.1, §7.4.4).

Two piecewise-linear maximisations, both solved exactly by enumerating the cells of a
hyperplane arrangement around its vertices [derived here]:

* :func:`critic_max` — the critic of §7.4.1, ``max_{||u|| ≤ 1} |Σ_i w_i relu(p̃_i·u)|`` for
  weighted points ``p̃_i = [p_i, 1]`` (real samples with ``+1/n``, generated ones with minus
  their mass). On each cell of the arrangement of the planes ``{p̃_i·u = 0}`` the function is
  ``a·u`` with ``a = Σ_{i active} w_i p̃_i``; its maximum over the cell and the ball is
  ``‖Π_K(a)‖`` (§7.4.1), attained at ``a/‖a‖`` inside the cell, at ``a`` projected on a face
  plane, or on an edge ray ``±p̃_i × p̃_j``. Every cell of the sphere's arrangement touches a
  vertex (two planes meet in a ray), so the cells around every ray — its four sign
  quadrants for the two planes through it — give every cell's ``a``; the candidates are
  evaluated with the true function, so the answer is a lower bound that is exact for points
  in general position (no three samples on a line).
* :func:`penalised_min` — ``min_{y ∈ R²} ½‖y‖² − D(y)`` for a ReLU discriminator
  ``D(y) = Σ_j v_j relu(a_j·y + b_j)``: on a cell of the lines ``{a_j·y + b_j = 0}`` the
  function is ``½‖y − g‖² + const`` with ``g = Σ_{j active} v_j a_j``, minimised at ``g`` if
  inside, else on an edge line or at a vertex. This is the dual function of the game over
  *every* generated distribution (:mod:`engine.convex_duals.wgan_relu_game`).

Both return the best few candidates too (cuts and columns for the solver).
"""
from __future__ import annotations

import numpy as np

__all__ = ["lift", "critic_values", "critic_max", "discriminator", "penalised_min"]

CHUNK = 8192          # candidates per block: the block stays in cache (10× faster than 40k)


def lift(points: np.ndarray) -> np.ndarray:
    """``[p, 1]`` rows (the bias of the discriminator's neurons, §7.4.1)."""
    return np.c_[points, np.ones(len(points))]


def critic_values(P: np.ndarray, w: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``c(u) = Σ_i w_i relu(P_i·u)`` for every row ``u`` of ``U``, shape (len(U),)."""
    out, PT = np.empty(len(U)), np.ascontiguousarray(P.T)
    for s in range(0, len(U), CHUNK):
        block = U[s:s + CHUNK] @ PT
        np.maximum(block, 0.0, out=block)
        out[s:s + CHUNK] = block @ w
    return out


def _pairs(count: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(count, k=1)
    return i, j


def _unit(V: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(V, axis=1, keepdims=True)
    keep = norm[:, 0] > 1e-14
    return V[keep] / norm[keep]


def _sphere_candidates(P: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Edge rays, and per cell around each ray its ``a/‖a‖`` and face projections."""
    i, j = _pairs(len(P))
    rays = _unit(np.cross(P[i], P[j]))
    keep = np.linalg.norm(np.cross(P[i], P[j]), axis=1) > 1e-14
    i, j = i[keep], j[keep]
    rays = np.r_[rays, -rays]
    i, j = np.r_[i, i], np.r_[j, j]
    active = (rays @ P.T > 0).astype(float)
    rows = np.arange(len(rays))
    active[rows, i] = 0.0
    active[rows, j] = 0.0
    base = (active * w) @ P
    wi, wj = (w[i] * P[i].T).T, (w[j] * P[j].T).T
    found = [rays]
    for a in (base, base + wi, base + wj, base + wi + wj):
        for normal in (P[i], P[j]):
            face = a - (np.sum(a * normal, axis=1) / np.sum(normal * normal, axis=1))[:, None] \
                * normal
            found.append(_unit(face))
        found.append(_unit(a))
    cand = np.concatenate(found)
    return np.r_[cand, -cand]


def critic_max(P: np.ndarray, w: np.ndarray, top: int = 1) -> tuple[float, np.ndarray]:
    """``max_{||u||≤1} |Σ w_i relu(P_i·u)|`` and the ``top`` best unit ``u`` (top, 3)
    (module docstring; exact for points in general position)."""
    if len(P) < 2:
        cand = _unit(np.r_[P, -P, np.eye(3), -np.eye(3)])
    else:
        cand = _sphere_candidates(P, w)
    values = np.abs(critic_values(P, w, cand))
    order = _distinct(cand, np.argsort(-values), top)
    return float(values[order[0]]), cand[order]


def _distinct(cand: np.ndarray, order: np.ndarray, top: int) -> list:
    """The first ``top`` indices of ``order`` whose candidates differ (by > 1e-9)."""
    picked = [int(order[0])]
    for k in order[1:8 * top]:
        if len(picked) >= top:
            break
        if np.min(np.abs(cand[picked] - cand[k]).max(axis=1)) > 1e-9:
            picked.append(int(k))
    return picked


def discriminator(Y: np.ndarray, U: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``D(y) = Σ_j v_j relu([y, 1]·u_j)`` at the rows of ``Y``."""
    return np.maximum(lift(Y) @ U.T, 0.0) @ v


def _plane_candidates(U: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vertices of the lines ``u_j·[y, 1] = 0`` and, per cell around each vertex, ``g`` and
    its projections on the two lines through the vertex."""
    A, b = U[:, :2], U[:, 2]
    lines = np.flatnonzero(np.linalg.norm(A, axis=1) > 1e-12)
    found = [np.zeros((1, 2))]
    for k in lines:                         # a single line's two half-planes (m = 1)
        for g in (np.zeros(2), v[k] * A[k]):
            t = (A[k] @ g + b[k]) / (A[k] @ A[k])
            found.append(np.array([g, g - t * A[k]]))
    i, j = _pairs(len(lines))
    i, j = lines[i], lines[j]
    det = A[i, 0] * A[j, 1] - A[i, 1] * A[j, 0]
    ok = np.abs(det) > 1e-12
    i, j, det = i[ok], j[ok], det[ok]
    vert = np.c_[(-b[i] * A[j, 1] + b[j] * A[i, 1]) / det,
                 (-A[i, 0] * b[j] + A[j, 0] * b[i]) / det]
    if len(vert) == 0:
        return np.concatenate(found)
    active = (lift(vert) @ U.T > 0).astype(float)
    rows = np.arange(len(vert))
    active[rows, i] = 0.0
    active[rows, j] = 0.0
    base = (active * v) @ A
    vi, vj = v[i, None] * A[i], v[j, None] * A[j]
    found.append(vert)
    for g in (base, base + vi, base + vj, base + vi + vj):
        found.append(g)
        for k in (i, j):
            n = A[k]
            t = (np.sum(n * g, axis=1) + b[k]) / np.sum(n * n, axis=1)
            found.append(g - t[:, None] * n)
    return np.concatenate(found)


def penalised_min(U: np.ndarray, v: np.ndarray, top: int = 1) -> tuple[float, np.ndarray]:
    """``min_{y∈R²} ½‖y‖² − D(y)`` and the ``top`` best minimisers (top, 2) (module
    docstring: the game's dual function over every generated distribution)."""
    cand = _plane_candidates(U, v)
    values = np.empty(len(cand))
    for s in range(0, len(cand), CHUNK):
        Y = cand[s:s + CHUNK]
        values[s:s + CHUNK] = 0.5 * np.sum(Y * Y, axis=1) - discriminator(Y, U, v)
    order = _distinct(cand, np.argsort(values), top)
    return float(values[order[0]]), cand[order]
