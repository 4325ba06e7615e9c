"""The MCGdiff Gaussian-mixture protocol and the start mismatch ``KL(p_T ‖ N(0, I))`` (issue #18).

Protocol (Cardoso, Janati, Le Corff, Moulines, "Monte Carlo guided diffusion for Bayesian
linear inverse problems", ICLR 2024, arXiv 2308.07983, §4.1; code ``gabrielvc/mcg_diff``,
``scripts/viz_gaussian.py``; reused by TMPD, Boys et al. 2023, arXiv 2310.06721, §5):

- prior: 25 components ``N(μ_ij, I_d)``, ``μ_ij = (-8i, -8j, -8i, -8j, …)`` for
  ``i, j ∈ {-2, …, 2}`` (the 2-D grid repeated ``d/2`` times), weights ``∝ ξ_k²`` with
  ``ξ_k ~ N(0, 1)`` i.i.d., normalised;
- measurement: ``A = P diag(s) Vᵀ`` from the SVD of a standard Gaussian ``(m, d)`` matrix with
  its singular values replaced by ``m`` sorted ``U(0, 1)`` draws; ``y = A x* + σ_y n`` for one
  prior sample ``x*`` (the code draws ``σ_y`` too; the issue's grid fixes
  ``σ_y ∈ {0.01, 0.1, 1}``).

Start mismatch: each VP sampler is derived for ``x_T ~ p_T``; ``N(0, I)`` replaces it. By the
convexity of KL, ``KL(p_T ‖ N(0, I)) ≤ Σ_k π_k KL(N(√ᾱ_T μ_k, C_k) ‖ N(0, I))``, which for
``Σ_k = I`` is ``Σ_k π_k ᾱ_T ‖μ_k‖²/2`` — it grows linearly with ``d`` here (SCIENCE.md §3.2).
"""
from __future__ import annotations

import math

import torch

from engine.diffusion.shared_cov import SharedMixture

__all__ = ["mcgdiff_mixture", "mcgdiff_measurement", "start_kl_bound", "start_kl_mc",
           "GRID_SPACING"]

GRID_SPACING = 8.0
D64 = torch.float64


def mcgdiff_mixture(dim: int, seed: int = 0) -> SharedMixture:
    """The protocol's 25-component prior in ``dim`` dimensions (weights drawn with ``seed``).

    An odd ``dim`` repeats the 2-D pattern and drops the last coordinate.
    """
    dim = int(dim)
    if dim < 2:
        raise ValueError(f"the MCGdiff mixture needs dim >= 2, got {dim}")
    grid = [(-GRID_SPACING * i, -GRID_SPACING * j) for i in range(-2, 3) for j in range(-2, 3)]
    means = torch.tensor([list(p) * ((dim + 1) // 2) for p in grid], dtype=D64)[:, :dim]
    gen = torch.Generator().manual_seed(int(seed))
    w = torch.randn(len(grid), generator=gen, dtype=D64).square()
    return SharedMixture(w / w.sum(), means)


def mcgdiff_measurement(mixture: SharedMixture, rows: int, sigma_y: float, seed: int = 0):
    """``(A, y)`` (float64) of the protocol: random ``A`` with ``U(0, 1)`` singular values (sorted,
    descending) and ``y = A x* + σ_y n`` for a prior sample ``x*``, all drawn with ``seed``."""
    rows, d = int(rows), mixture.dim
    if not 1 <= rows <= d:
        raise ValueError(f"rows must lie in [1, {d}], got {rows}")
    gen = torch.Generator().manual_seed(int(seed))
    P, _, Vt = torch.linalg.svd(torch.randn(rows, d, generator=gen, dtype=D64),
                                full_matrices=False)
    s = torch.rand(rows, generator=gen, dtype=D64).sort(descending=True).values
    A = P @ torch.diag(s) @ Vt
    x_star = mixture.sample(1, gen)[0]
    y = A @ x_star + float(sigma_y) * torch.randn(rows, generator=gen, dtype=D64)
    return A, y


def _component_kl(mixture, alpha_bar: float) -> torch.Tensor:
    """``KL(N(√ᾱ μ_k, ᾱΣ_k + (1-ᾱ)I) ‖ N(0, I)) = ½(tr C - d + ᾱ‖μ_k‖² - log det C)`` (K,)."""
    ab = float(alpha_bar)
    mean_term = ab * mixture.means.to(D64).square().sum(-1)
    if isinstance(mixture, SharedMixture):
        lam = ab * mixture.delta
        cov_term = (lam - torch.log1p(lam)).sum()
    else:
        covs = mixture.covs.to(D64)
        eye = torch.eye(mixture.dim, dtype=D64, device=covs.device)
        lam = torch.linalg.eigvalsh(ab * covs + (1.0 - ab) * eye) - 1.0
        cov_term = (lam - torch.log1p(lam)).sum(-1)
    return 0.5 * (mean_term + cov_term)


def start_kl_bound(mixture, alpha_bar: float) -> float:
    """Upper bound ``Σ_k π_k KL(p_T^{(k)} ‖ N(0, I))`` of ``KL(p_T ‖ N(0, I))`` (module doc).

    ``mixture``: a :class:`GaussianMixture` or :class:`SharedMixture`; ``alpha_bar`` = ``ᾱ_T``.
    For ``Σ_k = I`` it is ``Σ_k π_k ᾱ_T ‖μ_k‖²/2``.
    """
    return float((mixture.weights.to(D64) * _component_kl(mixture, alpha_bar).cpu()).sum())


def start_kl_mc(mixture, alpha_bar: float, n: int = 20_000, seed: int = 0) -> tuple:
    """Monte-Carlo ``KL(p_T ‖ N(0, I)) = E_{p_T}[log p_T(x) - log N(x; 0, I)]``: (mean, sd of
    the mean) over ``n`` exact samples of ``p_T`` (dense mixture, small ``d``)."""
    gmm = mixture.to_gmm() if isinstance(mixture, SharedMixture) else mixture
    gmm = gmm.to("cpu", D64)
    noised = gmm.noised(float(alpha_bar))
    x = noised.sample(int(n), torch.Generator().manual_seed(int(seed)))
    ref = -0.5 * x.square().sum(-1) - 0.5 * gmm.dim * math.log(2 * math.pi)
    ratio = noised.log_prob(x) - ref
    return float(ratio.mean()), float(ratio.std() / math.sqrt(len(ratio)))

