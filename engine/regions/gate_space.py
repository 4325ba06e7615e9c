"""Gate space of the convex program: the data's activation patterns as cells of the gate
plane, and the optimum's neurons in them (SCIENCE.md §2.2; PE arXiv 2002.10553).

A hidden neuron ``(w, b)`` with ``b ≠ 0`` scales to the gate ``u = (g₁, g₂, sign b)`` with
``g = w/|b|``; data point ``i`` is then the line ``xᵢ·g + sign b = 0`` of that chart, and the
cells of the two charts (``b > 0``, ``b < 0``) are the activation patterns ``D_i`` of the
data. Computed by the lab's worker (:func:`engine.regions.lab.run_config`); the app only
draws the charts.
"""
from __future__ import annotations

import numpy as np

from engine.regions.pattern_map import pattern_ids
from engine.regions.solution import ConvexSolution

__all__ = ["chart_half_width", "gate_chart", "GATE_CHART_SIZE"]

GATE_CHART_SIZE = 384      # pixels per side of a chart


def _pattern_rows_key(bits: np.ndarray) -> list[bytes]:
    return [row.tobytes() for row in np.packbits(bits, axis=1)]


def chart_half_width(X: np.ndarray, sign: float) -> float:
    """Half-width of a gate chart that holds most vertices of the data's line arrangement.

    Vertices solve ``xᵢ·g = xⱼ·g = −sign``; the view takes their 90th percentile of
    ``max(|g₁|, |g₂|)`` (widened by 20 %, clipped to [2, 50]).
    """
    i, j = np.triu_indices(len(X), 1)
    det = X[i, 0] * X[j, 1] - X[i, 1] * X[j, 0]
    ok = np.abs(det) > 1e-9
    g1 = -sign * (X[j, 1] - X[i, 1])[ok] / det[ok]                 # Cramer's rule
    g2 = -sign * (X[i, 0] - X[j, 0])[ok] / det[ok]
    r = np.maximum(np.abs(g1), np.abs(g2))
    return float(np.clip(1.2 * np.percentile(r, 90), 2.0, 50.0)) if r.size else 3.0


def gate_chart(X: np.ndarray, sol: ConvexSolution, sign: float,
               size: int = GATE_CHART_SIZE) -> dict:
    """One chart of gate space: gates ``u = (g₁, g₂, sign)`` (bias ``sign`` after scaling).

    The optimum's neurons with ``sign(b) = sign`` sit at ``g = w/|b|``; a cell is *used* when
    its pattern is one of the program's patterns ``D_i`` that carries a neuron.

    Returns
    -------
    dict
        ``ids, keys, half`` (grid over ``[-half, half]²``), ``used`` (bool per id),
        ``gates`` (k, 2) and ``w2_sign`` (k,) of the neurons in this chart, ``n_used`` (the
        program's used patterns), ``n_cells`` and ``sign``.
    """
    U = sol.gates if sol.formulation == "gated" and sol.gates is not None else sol.W1
    here = U[:, 2] * sign > 0
    gates = U[here, :2] / np.abs(U[here, 2:3])
    half = chart_half_width(X, sign)
    g = np.linspace(-half, half, size)
    ids, keys = pattern_ids([(X, np.full(len(X), sign))], g, g, return_hashes=True)
    first = np.unique(ids.ravel(), return_index=True)[1]           # one pixel per id
    G = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)[first]
    bits = (G @ X.T + sign) > 0                                    # (K, n) pattern per id
    used_rows = sol.patterns[np.unique(sol.neuron_pattern)] if len(sol.w2) else \
        np.zeros((0, len(X)), bool)
    used_set = set(_pattern_rows_key(used_rows))
    used = np.array([k in used_set for k in _pattern_rows_key(bits)], dtype=bool)
    return {"ids": ids, "keys": keys, "half": half, "used": used, "gates": gates,
            "w2_sign": np.where(sol.w2[here] > 0, 1.0, -1.0), "n_used": len(used_rows),
            "n_cells": len(keys), "sign": float(sign)}
