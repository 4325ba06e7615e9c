"""Unrolled MRI reconstruction networks: MoDL and a VarNet-style k-space unroll (SCIENCE.md §6.2).

Shared (``engine/imaging``) so that any imaging lab can run a trained net; the training lab
lives in :mod:`engine.learned`. Every net is a ``torch.nn.Module`` called as ``net(k, op)``
with ``k`` the measured multi-coil k-space ``(B, C, n, n)`` and ``op`` the engine's
:class:`~engine.imaging.mri.MRI` operator; it returns the complex image ``(B, n, n)``.

Both nets are written as ``initial → unroll(0) → … → unroll(K-1) → image`` over a *state*
(MoDL: the image; VarNet: the coil k-space), so that end-to-end training, checkpointing and
GLEAM's module split (§6.3) run the very same unrolls.

* :class:`MoDL` (§6.2.2): ``z_k = x_k + N(x_k)``, ``x_{k+1} = (AᴴA + λI)⁻¹(Aᴴy + λ z_k)``,
  ``x_0 = Aᴴy``; λ = softplus(ρ) learned (initial 0.05); CG from zero with step sizes *per
  sample* (§6.2.5 test 7); gradients by autograd through the CG iterations (the label: "unrolled
  CG gradient", §6.2.5 test 6). Shared CNN by default (``shared=False``: one CNN and λ per
  unroll, which GLEAM needs).
* :class:`VarNet` (§6.2.3, known maps): ``k^{t+1} = k^t − η^t M(k^t − y) − 𝓔(N_t(𝓡(k^t)))``,
  ``k^0 = y``, output ``𝓡(k^K)`` (SENSE coil combination, complex, instead of the RSS
  magnitude); one CNN and η per cascade. Its CNN is the plain :class:`ConvNet` (not a U-Net).

Every CNN's last layer starts at zero, so an untrained MoDL runs proximal-point iterations
(§6.2.5 test 3) and an untrained VarNet returns the zero-filled image exactly (test 5).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from engine.core.algorithms import cg
from engine.core.progress import drain
from engine.imaging.mri import MRI, fft_c, ifft_c
from engine.imaging.scale_conv import ScaleEquivariantCNN

__all__ = ["ConvNet", "MoDL", "VarNet", "unrolled_net", "make_denoiser", "NET_KINDS",
           "DENOISERS"]

NET_KINDS = ("modl", "varnet")
DENOISERS = ("plain", "scale_equivariant")


def to_channels(x: torch.Tensor) -> torch.Tensor:
    """Complex ``(B, n, n)`` → real ``(B, 2, n, n)`` ``[Re x, Im x]`` (§6 conventions)."""
    return torch.stack((x.real, x.imag), dim=1)


def from_channels(x: torch.Tensor) -> torch.Tensor:
    """Real ``(B, 2, n, n)`` → complex ``(B, n, n)``."""
    return torch.complex(x[:, 0].contiguous(), x[:, 1].contiguous())


class ConvNet(nn.Module):
    """``depth`` 3×3 convolutions 2 → width → … → 2 with ReLUs between (SCIENCE.md §6.2.4).

    Acts on complex images through their real/imaginary channels. The last layer (weights
    and bias) starts at zero, so the untrained net outputs exactly zero.
    """

    def __init__(self, width: int = 16, depth: int = 4):
        super().__init__()
        if depth < 2 or width < 1:
            raise ValueError(f"the CNN needs depth >= 2 and width >= 1, got {depth}, {width}")
        chans = [2] + [int(width)] * (int(depth) - 1) + [2]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(chans[:-1], chans[1:])):
            layers.append(nn.Conv2d(a, b, 3, padding=1))
            if i < len(chans) - 2:
                layers.append(nn.ReLU())
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return from_channels(self.layers(to_channels(x)))


def make_denoiser(denoiser: str, width: int, depth: int) -> nn.Module:
    """The CNN of one unroll: ``"plain"`` (:class:`ConvNet`, §6.2.4) or ``"scale_equivariant"``
    (:class:`~engine.imaging.scale_conv.ScaleEquivariantCNN`, kernel 7, k_eff 3, scales 1, √2,
    2; SCIENCE.md §6.4.2). Both output exactly zero before training."""
    if denoiser == "plain":
        return ConvNet(width, depth)
    if denoiser == "scale_equivariant":
        return ScaleEquivariantCNN(width, depth)
    raise ValueError(f"unknown denoiser {denoiser!r}; choose one of {DENOISERS}")


class Unrolled(nn.Module):
    """Common shape of the unrolled nets: ``state → unroll(i) → … → image`` (§6.2, §6.3.1)."""

    kind = ""

    def __init__(self, n_unrolls: int, width: int, depth: int, shared: bool,
                 denoiser: str = "plain"):
        super().__init__()
        if n_unrolls < 1:
            raise ValueError(f"n_unrolls must be >= 1, got {n_unrolls}")
        self.n_unrolls, self.width, self.depth = int(n_unrolls), int(width), int(depth)
        self.shared, self.denoiser = bool(shared), str(denoiser)
        n_cnn = 1 if self.shared else self.n_unrolls
        self.cnns = nn.ModuleList(make_denoiser(self.denoiser, width, depth)
                                  for _ in range(n_cnn))

    def cnn(self, i: int) -> nn.Module:
        return self.cnns[0 if self.shared else i]

    def unroll_parameters(self, i: int) -> list[nn.Parameter]:
        """Parameters that unroll ``i`` uses (all of them for a shared net)."""
        raise NotImplementedError

    def arch(self) -> dict:
        """Constructor arguments (saved with the weights)."""
        return {"kind": self.kind, "n_unrolls": self.n_unrolls, "width": self.width,
                "depth": self.depth, "shared": self.shared, "denoiser": self.denoiser}

    def forward(self, k: torch.Tensor, op: MRI, keep: bool = False):
        """Reconstruct ``(B, n, n)`` from k-space ``(B, C, n, n)``; ``keep=True`` also returns
        the list of iterates ``x_0 … x_K`` (images)."""
        state = self.initial(k, op)
        strip = [self.image(state, op)] if keep else None
        for i in range(self.n_unrolls):
            state = self.unroll(i, state, k, op)
            if keep:
                strip.append(self.image(state, op))
        out = self.image(state, op)
        return (out, strip) if keep else out


class MoDL(Unrolled):
    """MoDL with per-sample CG data consistency and learned λ (SCIENCE.md §6.2.2)."""

    kind = "modl"

    def __init__(self, n_unrolls: int = 6, width: int = 16, depth: int = 4,
                 shared: bool = True, cg_iters: int = 8, lam: float = 0.05,
                 denoiser: str = "plain"):
        super().__init__(n_unrolls, width, depth, shared, denoiser)
        self.cg_iters = int(cg_iters)
        rho = math.log(math.expm1(lam))                 # softplus(ρ) = λ
        self.rho = nn.ParameterList(nn.Parameter(torch.tensor(rho)) for _ in self.cnns)
        self.denoiser_off = False                      # D ≡ 0 (§6.2.5 test 2)

    def arch(self) -> dict:
        return {**super().arch(), "cg_iters": self.cg_iters}

    def lam(self, i: int) -> torch.Tensor:
        return nn.functional.softplus(self.rho[0 if self.shared else i])

    def unroll_parameters(self, i: int) -> list[nn.Parameter]:
        return list(self.cnn(i).parameters()) + [self.rho[0 if self.shared else i]]

    def initial(self, k, op):
        return op.adjoint(k)

    def image(self, state, op):
        return state

    def unroll(self, i, x, k, op):
        z = torch.zeros_like(x) if self.denoiser_off else x + self.cnn(i)(x)
        lam = self.lam(i).to(x.real.dtype)
        return dc_solve(op, op.adjoint(k) + lam * z, lam, self.cg_iters)


def dc_solve(op: MRI, rhs: torch.Tensor, lam: torch.Tensor, iters: int) -> torch.Tensor:
    """``(AᴴA + λI)⁻¹ rhs``: ``iters`` CG steps from zero, one system per sample (§6.2.5 test 7)."""
    normal = lambda v: op.normal(v) + lam * v               # noqa: E731
    return drain(cg(normal, rhs, None, iters, batch_dims=1, every=max(iters, 1)))


class VarNet(Unrolled):
    """VarNet-style k-space gradient-step unroll with known coil maps (SCIENCE.md §6.2.3)."""

    kind = "varnet"

    def __init__(self, n_unrolls: int = 6, width: int = 16, depth: int = 4, eta: float = 1.0,
                 denoiser: str = "plain"):
        super().__init__(n_unrolls, width, depth, shared=False, denoiser=denoiser)
        self.eta = nn.ParameterList(nn.Parameter(torch.tensor(float(eta)))
                                    for _ in range(self.n_unrolls))

    def unroll_parameters(self, i: int) -> list[nn.Parameter]:
        return list(self.cnn(i).parameters()) + [self.eta[i]]

    def initial(self, k, op):
        return k.to(op.dtype)

    def image(self, state, op):
        return (ifft_c(state, 2) * op.maps.conj()).sum(dim=-3)

    def unroll(self, i, state, k, op):
        refine = fft_c(self.cnn(i)(self.image(state, op)).unsqueeze(-3) * op.maps, 2)
        mask = op.mask.to(state.real.dtype)
        return state - self.eta[i] * mask * (state - k) - refine


def unrolled_net(kind: str, n_unrolls: int = 6, width: int = 16, depth: int = 4,
                 shared: Optional[bool] = None, cg_iters: int = 8,
                 denoiser: str = "plain") -> Unrolled:
    """Build an unrolled net (SCIENCE.md §6.2.4).

    Parameters
    ----------
    kind : {"modl", "varnet"}
        MoDL (CG data consistency, learned λ) or the VarNet-style k-space gradient-step unroll.
    n_unrolls : int
        K, the number of unrolls (cascades).
    width, depth : int
        Channels and number of 3×3 convolutions of each CNN.
    shared : bool, optional
        MoDL only: one CNN for all unrolls (default True, as in the paper). VarNet is unshared.
    cg_iters : int
        MoDL only: CG iterations of each data-consistency solve.
    denoiser : {"plain", "scale_equivariant"}
        The CNN of each unroll: plain 3×3 convolutions, or the scale-equivariant proximal CNN
        of SCIENCE.md §6.4.2 (a drop-in replacement).
    """
    if kind == "modl":
        return MoDL(n_unrolls, width, depth, True if shared is None else shared, cg_iters,
                    denoiser=denoiser)
    if kind == "varnet":
        if shared:
            raise ValueError("VarNet has one CNN per cascade; shared=True is not available")
        return VarNet(n_unrolls, width, depth, denoiser=denoiser)
    raise ValueError(f"unknown net {kind!r}; choose one of {NET_KINDS}")
