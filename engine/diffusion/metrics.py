"""Distances between point clouds, per-frame manifold metrics, density grids (SCIENCE.md §3.3).

- :func:`energy_distance` (squared energy distance, the biased V-statistic: ≥ 0) and
  :func:`sliced_w2` compare a particle cloud with exact samples; :func:`distance_floor` is the
  exact-vs-exact noise floor of the same estimator (mean ± sd);
- the lab's ONE distance to the exact target (:meth:`FrameMetrics.distance`): the V-statistic
  of the first :data:`DISTANCE_POINTS` particles against one fixed exact sample of as many
  points, noised to the frame's level with common random numbers. The last curve point, the
  run's summary, the step-budget study at the run's budget and the export are that value;
- :class:`FrameMetrics` computes the per-step means recorded in ``rec.metrics``;
- :func:`density_grid` evaluates a (2-D marginal of a) mixture on a grid for drawing.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from engine.diffusion.context import Step
from engine.diffusion.gmm import GaussianMixture
from engine.diffusion.linalg import Measurement

__all__ = ["energy_distance", "sliced_w2", "sliced_w2_floor", "SW_PROJECTIONS", "distance_floor",
           "density_grid", "FrameMetrics",
           "METRIC_KEYS", "DISTANCE_POINTS", "FLOOR_PAIRS"]

DISTANCE_POINTS = 500     # particles (and exact reference points) in the lab's distance
FLOOR_PAIRS = 16          # independent exact-vs-exact pairs behind the noise floor
SW_PROJECTIONS = 128      # directions of the sliced W2 distance (drawn with the run's seed)

METRIC_KEYS = ("off_manifold", "off_manifold_x0", "density_quantile", "delta_nll", "residual",
               "posterior_distance", "correction", "nfe")


def _mean_dist(a: torch.Tensor, b: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Mean of all ``n·m`` pairwise Euclidean distances (zero diagonal included when a is b),
    in float64 chunks."""
    total = a.new_zeros((), dtype=torch.float64)
    for i in range(0, a.shape[0], chunk):
        total = total + torch.cdist(a[i:i + chunk], b).sum()
    return total / (a.shape[0] * b.shape[0])


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Squared energy distance ``2E‖X-Y‖ - E‖X-X'‖ - E‖Y-Y'‖`` (Székely–Rizzo), V-statistic.

    Every expectation is the plain mean over all pairs (the diagonal zeros included), i.e. the
    MMD² of the two empirical laws with the conditionally negative-definite kernel ``‖x - y‖``,
    so the value is ≥ 0 by construction (SCIENCE.md §3.6). It is biased upwards: independent
    samples of one law give about ``E‖X-X'‖ (1/n + 1/m)`` (:func:`distance_floor`).

    Parameters
    ----------
    a, b : array_like (n, d), (m, d)
        Point clouds, ``n, m ≥ 1``.
    """
    a = torch.as_tensor(a).detach().to(torch.float64)
    b = torch.as_tensor(b).detach().to(device=a.device, dtype=torch.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"energy_distance needs (n, d) and (m, d) clouds, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if a.shape[0] < 1 or b.shape[0] < 1:
        raise ValueError("energy_distance needs at least 1 point in each cloud")
    value = 2 * _mean_dist(a, b) - _mean_dist(a, a) - _mean_dist(b, b)
    return max(float(value), 0.0)       # ≥ 0 exactly; the clip only removes rounding (1e-16)


def distance_floor(target, n: int, generator: torch.Generator,
                   pairs: int = FLOOR_PAIRS) -> tuple:
    """Exact-vs-exact noise floor of :func:`energy_distance` at sample sizes ``(n, n)``.

    ``(mean, sd)`` over ``pairs`` pairs of independent exact samples of ``target`` (anything
    with ``sample(n, generator)``): the value a perfect sampler scatters around (SCIENCE.md
    §3.6: a solver matches when it lies within this band).
    """
    vals = torch.tensor([energy_distance(target.sample(n, generator), target.sample(n, generator))
                         for _ in range(int(pairs))], dtype=torch.float64)
    return float(vals.mean()), float(vals.std())


def sliced_w2(a: torch.Tensor, b: torch.Tensor, n_proj: int = 128,
              generator: Optional[torch.Generator] = None) -> float:
    """Sliced 2-Wasserstein distance ``(E_θ W2²(θᵀa, θᵀb))^{1/2}`` over ``n_proj`` directions.

    1-D W2 by sorting; clouds of different sizes are compared at common quantile levels.
    ``generator`` (CPU) draws the directions (seeded 0 when None).
    """
    a = torch.as_tensor(a).detach().to("cpu", torch.float64)
    b = torch.as_tensor(b).detach().to("cpu", torch.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 1:
        raise ValueError(f"sliced_w2 needs non-empty (n, d) and (m, d) clouds, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    theta = torch.randn(int(n_proj), a.shape[1], generator=gen, dtype=torch.float64)
    theta = theta / theta.norm(dim=1, keepdim=True)
    pa, pb = (a @ theta.T).sort(0).values, (b @ theta.T).sort(0).values
    if len(a) != len(b):
        n = min(len(a), len(b))
        q = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        pa, pb = (torch.quantile(p, q, dim=0) for p in (pa, pb))
    return float((pa - pb).square().mean().sqrt())


def sliced_w2_floor(target, n: int, generator: torch.Generator, n_proj: int = SW_PROJECTIONS,
                    pairs: int = FLOOR_PAIRS, seed: int = 0) -> tuple:
    """Exact-vs-exact floor of :func:`sliced_w2` at sample sizes ``(n, n)``: ``(mean, sd)`` over
    ``pairs`` pairs of independent exact samples of ``target`` (``sample(n, generator)``), the
    ``n_proj`` directions drawn with ``seed`` as in the run's value (issue #18)."""
    vals = torch.tensor([sliced_w2(target.sample(n, generator), target.sample(n, generator),
                                   n_proj, torch.Generator().manual_seed(int(seed)))
                         for _ in range(int(pairs))], dtype=torch.float64)
    return float(vals.mean()), float(vals.std())


def density_grid(gmm: GaussianMixture, xlim, ylim, res: int = 128,
                 dims=(0, 1)) -> np.ndarray:
    """Log-density of ``gmm`` on a regular grid, ``out[i, j] = log p(x_j, y_i)`` (rows = y).

    ``x_j = linspace(*xlim, res)[j]``, ``y_i = linspace(*ylim, res)[i]``; for ``d > 2`` the
    marginal of the coordinates ``dims`` is drawn. Returns a float64 NumPy array (res, res).
    Draw ``gmm.noised(ᾱ_t)`` for the prior at time ``t``, ``post`` for the posterior contours.
    """
    res = int(res)
    if res < 2:
        raise ValueError(f"res must be >= 2, got {res}")
    g = gmm if gmm.dim == 2 and tuple(dims) == (0, 1) else gmm.marginal(dims)
    g = g.to("cpu", torch.float64)
    xs = torch.linspace(float(xlim[0]), float(xlim[1]), res, dtype=torch.float64)
    ys = torch.linspace(float(ylim[0]), float(ylim[1]), res, dtype=torch.float64)
    Y, X = torch.meshgrid(ys, xs, indexing="ij")
    lp = g.log_prob(torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1))
    return lp.reshape(res, res).numpy()


class FrameMetrics:
    """Per-frame means over the particles (SCIENCE §3.3); values are 0-d tensors (no sync).

    Keys (:data:`METRIC_KEYS`):

    - ``off_manifold``: ``min_k`` Mahalanobis distance of ``x`` to the prior noised to the frame's
      level (on-manifold reference: mean ≈ 1.25 in 2-D, values > 3 are off);
    - ``off_manifold_x0``: the same for ``x̂_0`` against the clean prior ``p_0``;
    - ``density_quantile``: ``q_t(x) = P_{X~p_t}[p_t(X) ≥ p_t(x)]`` (Monte Carlo with ``n_ref``
      samples of ``p_t``, common random numbers across levels; ≈ 0.5 on the manifold, → 1 off);
    - ``delta_nll``: ``-log p_t(x) - E_{p_t}[-log p_t]``;
    - ``residual``: ``‖y - A x̂_0‖`` (NaN without a measurement);
    - ``posterior_distance``: :meth:`distance`, the V-statistic energy distance of the first
      ``n_dist`` particles to a fixed sample of ``n_dist`` exact target points (posterior, or
      prior without a measurement) noised to the frame's level (common random numbers across
      frames; at level 1 — the result — the clean sample itself);
    - ``correction``: ``‖Δx‖`` added by the conditioning in the step (NaN for plain samplers);
    - ``nfe``: score evaluations so far (filled in by the recorder).
    """

    def __init__(self, prior: GaussianMixture, target: GaussianMixture,
                 meas: Optional[Measurement], generator: torch.Generator,
                 n_ref: int = 2048, n_dist: int = DISTANCE_POINTS):
        self.prior, self.target, self.meas = prior, target, meas
        d, conv = prior.dim, dict(dtype=prior.dtype, device=prior.device)
        # common random numbers: p_t samples are √ᾱ x_0 + √(1-ᾱ) ε with x_0, ε fixed once
        self.ref0 = prior.sample(n_ref, generator)
        self.ref_eps = torch.randn(n_ref, d, generator=generator, **conv)
        self.tgt0 = target.sample(n_dist, generator)
        self.tgt_eps = torch.randn(n_dist, d, generator=generator, **conv)
        self._ref: dict = {}

    def _prior_at(self, level: float):
        return self.prior.noised_evaluator(level)

    def _reference(self, level: float):
        """Sorted log-densities of ``n_ref`` samples of ``p_t`` and their mean NLL (cached)."""
        if level not in self._ref:
            ref = math.sqrt(level) * self.ref0 + math.sqrt(1.0 - level) * self.ref_eps
            lp = self._prior_at(level).log_prob(ref).sort().values
            self._ref[level] = (lp, -lp.mean())
        return self._ref[level]

    def frame(self, st: Step) -> dict:
        """Metric means of one :class:`~engine.diffusion.context.Step`."""
        nan = st.x.new_tensor(math.nan)
        _, maha2, logits = self._prior_at(st.level).maha_logits(st.x)
        lp = torch.logsumexp(logits, dim=-1)
        ref_lp, ref_nll = self._reference(st.level)
        below = torch.searchsorted(ref_lp, lp.contiguous())
        out = {"off_manifold": maha2.amin(-1).clamp_min(0).sqrt().mean(),
               "off_manifold_x0": self._prior_at(1.0).mahalanobis_min(st.x0_hat).mean(),
               "density_quantile": 1.0 - below.to(lp.dtype).mean() / len(ref_lp),
               "delta_nll": -lp.mean() - ref_nll,
               "residual": nan if self.meas is None
               else self.meas.residual(st.x0_hat).norm(dim=-1).mean(),
               "correction": nan if st.correction is None
               else st.correction.norm(dim=-1).mean()}
        out["posterior_distance"] = self._distance(st, nan)
        return out

    def reference(self, n: int, level: float) -> torch.Tensor:
        """The first ``n`` points of the fixed exact target sample, noised to ``level``."""
        return math.sqrt(level) * self.tgt0[:n] + math.sqrt(1.0 - level) * self.tgt_eps[:n]

    def points(self, n_particles: int) -> int:
        """Particles (and reference points) the distance uses: ``min(n_dist, N)``."""
        return min(len(self.tgt0), int(n_particles))

    def distance(self, x: torch.Tensor, level: float) -> float:
        """The lab's distance to the exact target: :func:`energy_distance` (V-statistic) of
        ``x[:n]`` against :meth:`reference` ``(n, level)``, ``n = points(N)``; NaN when a
        particle is not finite."""
        n = self.points(x.shape[0])
        if not bool(torch.isfinite(x[:n]).all()):
            return math.nan
        return energy_distance(x[:n], self.reference(n, level))

    def _distance(self, st: Step, nan: torch.Tensor) -> torch.Tensor:
        return nan.new_tensor(self.distance(st.x, st.level))
