"""Batched evaluation of a Gaussian mixture at many points (SCIENCE.md §3.2).

Everything is computed in *whitened* coordinates ``y_k = L_k^{-1}(x - m_k)`` (``C_k = L_k L_kᵀ``)
for all components at once with one ``(N, d) @ (d, K·d)`` matmul, so no ``(N, K, d, d)``
tensor is ever formed and there is no cancellation for thin components:

- component log-densities ``ℓ_k = c_k - ½‖y_k‖²``, ``c_k = log π_k - log det L_k - (d/2) log 2π``;
- responsibilities ``w = softmax(ℓ)``, ``log p = logsumexp(ℓ)``;
- score ``s = -Σ_k w_k L_k^{-ᵀ} y_k`` (one ``(N, K·d) @ (K·d, d)`` matmul; :meth:`score` uses
  the faster quadratic-feature kernel of :mod:`engine.diffusion.score_kernel`);
- Hessian ``∇² log p = Σ_k w_k (s_k s_kᵀ - C_k^{-1}) - s sᵀ`` and its product with a vector.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from engine.diffusion.score_kernel import QuadraticScore

__all__ = ["MixtureEval", "Parts"]


@dataclass
class Parts:
    """Per-point intermediate results shared by the score, Hessian and metrics.

    Attributes
    ----------
    y : Tensor (N, K, d)
        Whitened residuals ``L_k^{-1}(x - m_k)``.
    maha2 : Tensor (N, K)
        Squared Mahalanobis distances ``‖y_k‖²``.
    logits : Tensor (N, K)
        ``log π_k + log N(x; m_k, C_k)``.
    w : Tensor (N, K)
        Responsibilities (softmax of ``logits``).
    """
    y: torch.Tensor
    maha2: torch.Tensor
    logits: torch.Tensor
    w: torch.Tensor


class MixtureEval:
    """Precomputed whitening of ``Σ_k π_k N(m_k, L_k L_kᵀ)``; all methods are batched over points.

    Parameters
    ----------
    log_weights : Tensor (K,)
    means : Tensor (K, d)
    chol : Tensor (K, d, d)
        Lower Cholesky factors of the component covariances.
    """

    def __init__(self, log_weights: torch.Tensor, means: torch.Tensor, chol: torch.Tensor):
        K, d = means.shape
        eye = torch.eye(d, dtype=chol.dtype, device=chol.device).expand(K, d, d)
        linv = torch.linalg.solve_triangular(chol, eye, upper=False)          # (K, d, d)
        self.K, self.d = K, d
        self.means = means
        self.linv = linv
        self.wt = linv.permute(2, 0, 1).reshape(d, K * d).contiguous()        # x @ wt = [L_k^-1 x]
        self.neg_off = -torch.einsum("kaj,kj->ka", linv, means).reshape(K * d)
        self.back = linv.reshape(K * d, d).contiguous()                      # Σ_k L_k^-T y_k
        logdet = torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
        self.const = log_weights - logdet - 0.5 * d * math.log(2 * math.pi)
        self.prec_flat = (linv.transpose(-1, -2) @ linv).reshape(K, d * d)    # C_k^{-1}
        # block-sum matrix: (y²) @ summer sums each component's d squares (a matmul is much
        # faster than a reduction over a size-d inner axis)
        self.summer = torch.eye(K, dtype=chol.dtype, device=chol.device).repeat_interleave(d, 0)
        self.ones = torch.ones(K, 1, dtype=chol.dtype, device=chol.device)
        self._fast: Optional[QuadraticScore] = None

    def maha_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Whitened residuals (N, K·d), squared Mahalanobis distances and logits (N, K)."""
        y = torch.addmm(self.neg_off, x, self.wt)
        maha2 = y.square() @ self.summer
        return y, maha2, torch.add(self.const, maha2, alpha=-0.5)

    def parts(self, x: torch.Tensor) -> Parts:
        """Whitened residuals, Mahalanobis distances, logits, responsibilities at ``x`` (N, d)."""
        y, maha2, logits = self.maha_logits(x)
        e = (logits - logits.amax(-1, keepdim=True)).exp_()
        w = e.div_(e @ self.ones)              # softmax (torch.softmax is slow for small K)
        return Parts(y.view(-1, self.K, self.d), maha2, logits, w)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)``, shape (N,)."""
        logits = self.maha_logits(x)[2]
        mx = logits.amax(-1, keepdim=True)
        return (torch.log((logits - mx).exp_() @ self.ones) + mx).squeeze(-1)

    def mahalanobis_min(self, x: torch.Tensor) -> torch.Tensor:
        """``min_k`` Mahalanobis distance to a component, shape (N,)."""
        return self.maha_logits(x)[1].amin(-1).clamp_min(0).sqrt()

    def score_from(self, p: Parts) -> torch.Tensor:
        """Score ``∇ log p = -Σ_k w_k C_k^{-1}(x - m_k)`` from precomputed :class:`Parts`."""
        wy = (p.y * p.w.unsqueeze(-1)).reshape(p.y.shape[0], -1)
        return -(wy @ self.back)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Score ``∇_x log p(x)``, shape (N, d) — the hot path of every sampler step, by the
        quadratic-feature kernel (:class:`~engine.diffusion.score_kernel.QuadraticScore`)."""
        if self._fast is None:
            prec = self.prec_flat.view(self.K, self.d, self.d)
            self._fast = QuadraticScore(self.means, prec, self.const)
        return self._fast(x)

    def component_scores(self, p: Parts) -> torch.Tensor:
        """Per-component scores ``s_k = -C_k^{-1}(x - m_k)``, shape (N, K, d)."""
        return -torch.einsum("nka,kaj->nkj", p.y, self.linv)

    def hessian(self, x: torch.Tensor) -> torch.Tensor:
        """``∇² log p(x) = Σ_k w_k (s_k s_kᵀ - C_k^{-1}) - s sᵀ``, shape (N, d, d)."""
        p = self.parts(x)
        sk = self.component_scores(p)
        s = torch.einsum("nk,nkj->nj", p.w, sk)
        outer = torch.einsum("nk,nki,nkj->nij", p.w, sk, sk)
        prec = (p.w @ self.prec_flat).view(-1, self.d, self.d)
        return outer - prec - s.unsqueeze(-1) * s.unsqueeze(-2)

    def hvp_from(self, p: Parts, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hessian-vector product ``∇² log p(x) v`` (N, d) and the score, from :class:`Parts`.

        ``H v = Σ_k w_k s_k (s_k·v) - (Σ_k w_k C_k^{-1}) v - s (s·v)`` — no (N, d, d) Hessian.
        """
        sk = self.component_scores(p)
        s = torch.einsum("nk,nkj->nj", p.w, sk)
        skv = torch.einsum("nkj,nj->nk", sk, v)
        prec = (p.w @ self.prec_flat).view(-1, self.d, self.d)
        hv = (torch.einsum("nk,nkj->nj", p.w * skv, sk) - torch.einsum("nij,nj->ni", prec, v)
              - s * (s * v).sum(-1, keepdim=True))
        return hv, s

    def hvp(self, x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`hvp_from` at points ``x`` (N, d)."""
        return self.hvp_from(self.parts(x), v)
