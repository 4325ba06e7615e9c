"""What a two-layer ReLU discriminator sees: piecewise mean matching (SCIENCE.md §7.4.1).

With a bias (``x̃ = [x, 1]``) and weight decay ``(β/2)Σ(||u||² + v²)``, the ReLU
discriminator's inner maximum is finite exactly when

    max_{||u|| ≤ 1} |(1/n) Σ relu(x̃_i·u) − (1/n) Σ relu(g̃_i·u)| ≤ β,

the critic value of a generator. We evaluate it on a dense Fibonacci grid of the sphere S²
(a lower bound of the maximum, exact up to the grid's spacing: the function is Lipschitz in
u) and return the maximising direction, whose line ``u₁x₁ + u₂x₂ + u₃ = 0`` is where the
two sample sets' half-space means differ most. Used as a diagnostic beside the quadratic
discriminator's closed form; the ReLU game's own optimum is not computed ([NC], §7.7).
"""
from __future__ import annotations

import numpy as np

__all__ = ["sphere_directions", "relu_critic", "line_in_box"]


def sphere_directions(count: int = 4000) -> np.ndarray:
    """``count`` nearly uniform unit vectors of S² (Fibonacci lattice), shape (count, 3)."""
    k = np.arange(count) + 0.5
    z = 1.0 - 2.0 * k / count
    phi = np.pi * (1.0 + 5 ** 0.5) * k
    r = np.sqrt(1.0 - z * z)
    return np.c_[r * np.cos(phi), r * np.sin(phi), z]


def relu_critic(X: np.ndarray, G: np.ndarray, directions: np.ndarray | None = None
                ) -> tuple[float, np.ndarray]:
    """``max_u |mean relu(X̃u) − mean relu(G̃u)|`` over ``directions`` (default
    :func:`sphere_directions`) and the maximising ``u`` (3,)."""
    U = sphere_directions() if directions is None else directions
    Xt = np.c_[X, np.ones(len(X))]
    Gt = np.c_[G, np.ones(len(G))]
    gap = np.maximum(Xt @ U.T, 0).mean(axis=0) - np.maximum(Gt @ U.T, 0).mean(axis=0)
    best = int(np.argmax(np.abs(gap)))
    return float(abs(gap[best])), U[best]


def line_in_box(u: np.ndarray, limit: float, points: int = 200) -> np.ndarray:
    """Points of the line ``u₁x₁ + u₂x₂ + u₃ = 0`` inside ``[−limit, limit]²``, shape
    (K, 2); empty when the line misses the box."""
    normal = np.asarray(u[:2], dtype=float)
    norm2 = float(normal @ normal)
    if norm2 < 1e-24:
        return np.zeros((0, 2))
    foot = -u[2] * normal / norm2
    along = np.array([-normal[1], normal[0]]) / np.sqrt(norm2)
    t = np.linspace(-3 * limit, 3 * limit, points)
    line = foot + t[:, None] * along
    return line[np.all(np.abs(line) <= limit, axis=1)]
