"""Synthetic diffusion paths for the :class:`widgets.particle_canvas.ParticleCanvas` demo.

A 2-D Gaussian mixture prior, particles on a fake variance-preserving path from noise to
the prior (``x_s = √ᾱ_s x_0 + √(1-ᾱ_s) ε_s``, a Brownian-bridge wiggle in ``ε``), their exact
Tweedie estimates ``E[x_0 | x_s]``, the noised prior density on a grid per step and an exact
posterior for one linear measurement ``a·x = y + σ n``. NumPy only; used by the demo
(``python -m widgets.particle_canvas``) and ``benchmarks/particle_draw.py``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["build_demo", "demo_mixture", "main", "mixture_density", "noised_densities",
           "synthetic_diffusion"]

XLIM = YLIM = (-4.0, 4.0)


def demo_mixture():
    """Four anisotropic clusters: weights (K,), means (K, 2), covariances (K, 2, 2)."""
    means = np.array([[-2.0, -1.5], [2.0, -1.0], [0.5, 2.2], [-1.8, 1.8]])
    angles = np.array([0.3, -0.8, 1.2, 0.0])
    scales = np.array([[0.6, 0.15], [0.5, 0.2], [0.7, 0.12], [0.25, 0.25]])
    rot = np.stack([np.cos(angles), -np.sin(angles), np.sin(angles), np.cos(angles)],
                   axis=1).reshape(-1, 2, 2)
    covs = rot @ (scales[:, :, None] ** 2 * np.eye(2)) @ rot.transpose(0, 2, 1)
    return np.array([0.3, 0.25, 0.3, 0.15]), means, covs


def mixture_density(pts, weights, means, covs):
    """Density of a Gaussian mixture at ``pts`` (P, 2) → (P,)."""
    d = pts[:, None, :] - means[None]                                # (P, K, 2)
    prec = np.linalg.inv(covs)
    maha = np.einsum("pki,kij,pkj->pk", d, prec, d)
    norm = weights / (2 * np.pi * np.sqrt(np.linalg.det(covs)))
    return np.exp(-0.5 * maha) @ norm


def _grid(res):
    """Grid nodes (res², 2) covering XLIM × YLIM (row j = y index)."""
    gx, gy = np.meshgrid(np.linspace(*XLIM, res), np.linspace(*YLIM, res))
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def _tweedie(x, ab, weights, means, covs):
    """Exact ``E[x_0 | x_s]`` for a Gaussian-mixture prior under VP noising, x (N, 2)."""
    c = ab * covs + (1 - ab) * np.eye(2)                              # (K, 2, 2)
    d = x[:, None, :] - np.sqrt(ab) * means[None]
    cinv = np.linalg.inv(c)
    sol = np.einsum("kij,pkj->pki", cinv, d)
    logr = -0.5 * np.einsum("pki,pki->pk", d, sol) + np.log(weights) \
        - 0.5 * np.log(np.linalg.det(c))
    r = np.exp(logr - logr.max(axis=1, keepdims=True))
    r /= r.sum(axis=1, keepdims=True)
    mean_k = means[None] + np.sqrt(ab) * np.einsum("kij,pkj->pki", covs, sol)
    return np.einsum("pk,pki->pi", r, mean_k)


def synthetic_diffusion(n_steps=100, n_particles=5000, seed=0, tweedie=True):
    """Fake sampler paths from noise to the demo mixture.

    Returns
    -------
    dict
        ``x`` (S, N, 2) float32 paths, ``x0_hat`` (S, N, 2) float32 or None, ``alpha_bar``
        (S,), and ``mixture`` (weights, means, covs).
    """
    rng = np.random.default_rng(seed)
    weights, means, covs = mix = demo_mixture()
    k = rng.choice(len(weights), size=n_particles, p=weights)
    x0 = means[k] + np.einsum("nij,nj->ni", np.linalg.cholesky(covs)[k],
                              rng.standard_normal((n_particles, 2)))
    ab = np.linspace(0.0, 1.0, n_steps) ** 2 * 0.999 + 0.001
    walk = np.cumsum(rng.standard_normal((n_steps, n_particles, 2)), axis=0) / np.sqrt(n_steps)
    s = np.linspace(0, 1, n_steps)[:, None, None]
    eps = rng.standard_normal((n_particles, 2)) + 0.3 * (walk - s * walk[-1])
    x = np.sqrt(ab)[:, None, None] * x0 + np.sqrt(1 - ab)[:, None, None] * eps
    x0_hat = None
    if tweedie:
        x0_hat = np.stack([_tweedie(x[i], ab[i], *mix) for i in range(n_steps)])
        x0_hat = x0_hat.astype(np.float32)
    return {"x": x.astype(np.float32), "x0_hat": x0_hat, "alpha_bar": ab, "mixture": mix}


def noised_densities(mixture, alpha_bar, res=200):
    """Noised prior densities ``p_s`` on the grid, (S, res, res) float32."""
    weights, means, covs = mixture
    pts = _grid(res)
    out = [mixture_density(pts, weights, np.sqrt(ab) * means, ab * covs + (1 - ab) * np.eye(2))
           for ab in alpha_bar]
    return np.stack(out).reshape(len(alpha_bar), res, res).astype(np.float32)


def build_demo():
    """A ParticleCanvas animating the synthetic paths over the noised prior density.

    Drag the constraint line; press D to toggle draw mode (the stroke is shown as points).
    """
    from PySide6.QtGui import QKeySequence, QShortcut

    from widgets.particle_canvas import ParticleCanvas

    data = synthetic_diffusion(100, 4000)
    dens = noised_densities(data["mixture"], data["alpha_bar"], res=160)
    a, y, sigma = np.array([1.0, 1.0]) / np.sqrt(2), 0.2, 0.3
    pts = _grid(160)
    post = mixture_density(pts, *data["mixture"]) * np.exp(-0.5 * ((pts @ a - y) / sigma) ** 2)
    post = post.reshape(160, 160)

    class Demo(ParticleCanvas):
        def set_frame(self, i):
            """Also show the noised prior density of step ``i``."""
            self.set_density(dens[min(i, len(dens) - 1)], XLIM, YLIM)
            super().set_frame(i)

    view = Demo()
    view.set_title("Diffusion paths demo — drag the cyan line; D toggles drawing points")
    view.set_range(XLIM, YLIM)
    view.set_particles(data["x"], highlight=np.arange(0, 4000, 400))
    view.set_secondary(data["x0_hat"], visible=True)
    view.set_contours("posterior", post, XLIM, YLIM, post.max() * np.array([0.05, 0.3, 0.7]),
                      color=(1.0, 0.4, 1.0, 0.9))
    view.set_constraint(a, y)
    view.sigClicked.connect(lambda px, py: print(f"clicked ({px:.3f}, {py:.3f})"))
    view.sigPointsDrawn.connect(lambda p: view.set_points("drawn", p, "yellow", 6))
    drawing = [False]

    def toggle_draw():
        drawing[0] = not drawing[0]
        view.set_draw_mode(drawing[0])

    QShortcut(QKeySequence("D"), view, activated=toggle_draw)
    view.sigConstraintMoved.connect(lambda yy: print(f"constraint y = {yy:.3f}"))
    return view


def main():
    """Run the demo (``--screenshot PATH`` saves a PNG and quits)."""
    from widgets.trail_plot import run_demo

    run_demo(build_demo, "ParticleCanvas demo", n_frames=100)


if __name__ == "__main__":  # pragma: no cover - manual demo
    main()
