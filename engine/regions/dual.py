"""Dual values and the duality-gap certificate of the convex programs (SCIENCE.md §2.3, §2.9.4).

In scnn scaling the dual of ``min (1/(2n))‖Σ σ_g D_g X̃ u_g − y‖² + λΣ‖u_g‖`` (cones for ReLU)
is ``max_ρ ρᵀy − (n/2)‖ρ‖²`` s.t. ``‖Π_{K_g}(σ_g X̃ᵀD_gρ)‖ ≤ λ`` for every group (ReLU; gated:
``‖X̃ᵀD_gρ‖ ≤ λ``); at the optimum ``ρ = q*/n`` with ``q* = y − ŷ`` (PE eq. (8) with ``β = nλ``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np

from engine.core import relay as core_relay
from engine.regions.cells import project_cells
from engine.regions.cones import cone_values
from engine.regions.programs import predict

__all__ = ["correlations", "dual_values", "Certificate", "relay"]

_CHUNK = 8192


def correlations(A: np.ndarray, D: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """``C_k = X̃ᵀ(D_k ∘ ρ)`` for every pattern (P, p), chunked."""
    B = rho[:, None] * A
    out = np.empty((len(D), A.shape[1]))
    for s in range(0, len(D), _CHUNK):
        out[s:s + _CHUNK] = D[s:s + _CHUNK].astype(np.float64) @ B
    return out


def dual_values(A, D, rho, lam, relu: bool, cones=None, rel: float = 1e-3,
                faces: dict | None = None) -> np.ndarray:
    """Dual constraint values of all groups (``[v-groups, w-groups]`` for ReLU).

    With corner rays (``cones``) every value is exact; otherwise exact wherever
    ``≥ λ(1 − rel)`` and a rigorous upper bound elsewhere (:func:`cone_values`; ``faces``:
    its NNLS warm starts, keyed by group index).
    """
    C = correlations(A, D, rho)
    if not relu:
        return np.linalg.norm(C, axis=1)
    if cones is not None:
        return np.concatenate([_ray_values(cones, C), _ray_values(cones, -C)])
    thr = lam * (1.0 - rel)
    P = len(D)
    return np.concatenate([cone_values(A, D, C, thr, faces=faces, keys=np.arange(P)),
                           cone_values(A, D, -C, thr, faces=faces, keys=P + np.arange(P))])


def _ray_values(cones, C: np.ndarray) -> np.ndarray:
    """``‖Π_{K_k}(C_k)‖`` by exact projection (chunked)."""
    out = np.empty(len(C))
    for s in range(0, len(C), _CHUNK):
        idx = np.arange(s, min(s + _CHUNK, len(C)))
        out[idx] = np.linalg.norm(project_cells(cones.subset(idx), C[idx]), axis=1)
    return out


@dataclass
class Certificate:
    """Primal value, dual lower bound and gap of a feasible point of the full program."""
    primal: float
    dual: float
    gap: float
    relative_gap: float
    max_value: float
    values: np.ndarray
    lam: float
    fitted: np.ndarray | None = None
    full: bool = True       # ``values`` covers every group of the program (not restricted)

    @classmethod
    def of(cls, prob, ws: np.ndarray, U: np.ndarray, restricted: bool = False) -> "Certificate":
        """Certificate of the working-set solution ``U`` for the problem ``prob``.

        ``restricted``: the dual constraints of the working-set groups only (a certificate
        for the restricted program).
        """
        A, y, lam, n = prob.A, prob.y, prob.lam, len(prob.y)
        fitted = predict(A, prob.D[prob.pat[ws]], prob.sigma[ws], U)
        r = y - fitted
        primal = 0.5 * float(r @ r) / n + lam * float(np.sqrt(np.einsum("gp,gp->g", U, U)).sum())
        rho = r / n
        full = not restricted or len(ws) == len(prob.pat)   # every group: the full program
        values = prob.values_ws(rho, ws) if restricted else prob.values(rho)
        vmax = float(values.max(initial=0.0))
        tiny = 1e-12 * max(1.0, float(np.abs(A).max())) * float(np.abs(rho).sum())
        s = 1.0 if vmax <= max(lam, tiny) else lam / vmax
        dual = s * float(rho @ y) - 0.5 * n * s * s * float(rho @ rho)
        gap = max(primal - dual, 0.0)
        return cls(primal, dual, gap, gap / max(abs(primal), 1e-300), vmax, values, lam,
                   fitted, full)

    def violators(self, ws: np.ndarray, tol: float, batch: int) -> np.ndarray:
        """Up to ``batch`` groups outside ``ws`` with value ``> λ(1 + tol)``, largest first."""
        mask = self.values > self.lam * (1.0 + tol)
        mask[ws] = False
        idx = np.flatnonzero(mask)
        return idx[np.argsort(-self.values[idx], kind="stable")[:batch]]


def relay(gen: Generator, lo: float, hi: float) -> Generator:
    """``yield from gen`` with its progress fractions mapped into ``[lo, hi]`` and its
    partial results passed on (:func:`engine.core.relay`)."""
    return core_relay(gen, lo, hi, partials=True)
