"""Toy data of the convex-duals models (SCIENCE.md §7.1.8, §7.2.5, §7.1.9 KAT 2)."""
from __future__ import annotations

import numpy as np

__all__ = ["spiral", "blobs", "whitened", "one_hot", "grid"]


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """``(n, classes)`` one-hot rows."""
    return np.eye(classes)[labels]


def spiral(n: int, classes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms, ``n`` points in all, with a little noise."""
    labels = np.arange(n) % classes
    t = np.linspace(0.25, 1.0, n)
    angle = 3.0 * t + 2 * np.pi * labels / classes
    X = t[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return X * 2 + 0.05 * rng.standard_normal((n, 2)), labels


def blobs(n: int, classes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs around ``classes`` centres on a circle of radius 1.5."""
    labels = rng.integers(0, classes, n)
    centres = 1.5 * np.stack([np.cos(2 * np.pi * np.arange(classes) / classes),
                              np.sin(2 * np.pi * np.arange(classes) / classes)], axis=1)
    return centres[labels] + 0.6 * rng.standard_normal((n, 2)), labels


def whitened(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, d)`` data with orthonormal rows (``X Xᵀ = I``; QR of a Gaussian), n ≤ d."""
    q, _ = np.linalg.qr(rng.standard_normal((d, n)))
    return q.T


def grid(X: np.ndarray, size: int, margin: float = 0.15
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``size × size`` grid over the bounding box of 2-D ``X`` (``margin`` of its extent):
    returns the x and y coordinates and the ``(size², 2)`` points, row-major in y."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = margin * (hi - lo).max()
    xs = np.linspace(lo[0] - pad, hi[0] + pad, size)
    ys = np.linspace(lo[1] - pad, hi[1] + pad, size)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])
