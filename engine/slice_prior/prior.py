"""The learned slice prior: a trained :class:`~engine.slice_prior.unet.SliceUNet` with its VP
schedule, batched over slices, plus the weights file format (issue #6; SCIENCE.md §3.1).

Units: the network works in ``u = 2x - 1`` (x in the lab's [0, 1] image units). VP forward
process ``u_t = √ᾱ_t u_0 + √(1-ᾱ_t) ε`` (linear β, T = 1000); VE view of the same network
(DDIM coordinates, §3.1): ``ū = u_t/√ᾱ_t = u_0 + σ̄ ε`` with ``σ̄_t = √(1-ᾱ_t)/√ᾱ_t``, so
``s_VE(ū, σ̄) = -ε̂(√ᾱ ū, t(σ̄))/σ̄`` at the fractional time ``t(σ̄)``.

Weights file: ``torch.save`` of a plain dict (loadable with ``weights_only=True``) with keys
``format`` (= :data:`FORMAT`), ``version``, ``size``, ``unet`` (architecture), ``state_dict``
(float16), ``schedule`` and ``card`` (data, steps, loss curve, the command that made it).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch

import resources
from engine.sampling.schedule import Schedule
from engine.slice_prior.unet import SliceUNet
from engine.slice_prior.validate import (check_int, check_schedule, check_state_dict,
                                         meta_net, unet_config)

__all__ = ["FORMAT", "SlicePrior", "load_slice_prior", "save_prior", "prior_path",
           "PRIOR_DIR", "to_net", "to_image"]

FORMAT = "flowscope-slice-prior"
VERSION = 1
PRIOR_DIR = resources.path("priors")


def to_net(x: torch.Tensor) -> torch.Tensor:
    """Image units [0, 1] → network units [-1, 1]."""
    return 2.0 * x - 1.0


def to_image(u: torch.Tensor) -> torch.Tensor:
    """Network units → image units."""
    return 0.5 * (u + 1.0)


def prior_path(size: int) -> Path:
    """Where the shipped weights of the ``size``² prior live."""
    return PRIOR_DIR / f"slice_prior_{int(size)}.pt"


class SlicePrior:
    """ε̂, Tweedie and VE-score evaluations of a trained slice network, batched over slices.

    Parameters
    ----------
    net : SliceUNet
    size : int
        Slice size the network was trained at.
    card : dict
        Model card stored with the weights.
    device : str or torch.device
    max_batch : int
        Most slices per network call; halved automatically on CUDA out-of-memory.
    """

    def __init__(self, net: SliceUNet, size: int, card: Optional[dict] = None, device="cpu",
                 max_batch: int = 64):
        self.net = net.to(device).eval()
        self.size = int(size)
        self.card = dict(card or {})
        self.device = torch.device(device)
        self.schedule = Schedule.linear()
        self.alpha_bar = torch.as_tensor(self.schedule.alpha_bar, dtype=torch.float64)
        self._neg_log_ab = -np.log(self.schedule.alpha_bar)      # increasing in t = 0..T
        self.max_batch = int(max_batch)
        self.notes: list[str] = []

    @property
    def T(self) -> int:
        return self.schedule.T

    def ab(self, t: float) -> float:
        """``ᾱ_t`` at a (fractional) time index, interpolated in log ᾱ."""
        t = float(t)
        lo = int(math.floor(t))
        if lo >= self.T:
            return float(self.alpha_bar[self.T])
        w = t - lo
        la = (1 - w) * math.log(self.alpha_bar[lo]) + w * math.log(self.alpha_bar[lo + 1])
        return math.exp(la)

    def sigma_bar(self, t: float) -> float:
        """VE noise level ``σ̄_t = √(1-ᾱ_t)/√ᾱ_t``."""
        ab = self.ab(t)
        return math.sqrt((1.0 - ab) / ab)

    def t_of_sigma(self, sigma: float) -> float:
        """The fractional VP time with ``σ̄_t = sigma`` (clipped to [1, T])."""
        t = np.interp(math.log1p(sigma ** 2), self._neg_log_ab, np.arange(self.T + 1))
        return float(min(max(t, 1.0), self.T))     # exact inverse of sigma_bar (log-ᾱ linear)

    def eps(self, u: torch.Tensor, t: float) -> torch.Tensor:
        """ε̂(u_t, t) for slices ``(B, n, n)`` (network units), in chunks of ``max_batch``."""
        outs, i = [], 0
        while i < u.shape[0]:
            chunk = u[i:i + self.max_batch]
            try:
                outs.append(self._eps_chunk(chunk, t))
                i += chunk.shape[0]
            except torch.cuda.OutOfMemoryError:
                if self.max_batch == 1:
                    raise
                self.max_batch = max(1, self.max_batch // 2)
                torch.cuda.empty_cache()
                self.notes.append(f"GPU out of memory: now {self.max_batch} slices per batch")
        return torch.cat(outs, 0)

    def _eps_chunk(self, u: torch.Tensor, t: float) -> torch.Tensor:
        x = u.to(self.device, torch.float32)[:, None]
        tt = torch.full((x.shape[0],), float(t), device=self.device)
        return self.net(x, tt)[:, 0].to(u.dtype)

    def denoise(self, u: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """VP Tweedie ``(û_0, ε̂)`` with ``û_0 = (u_t - √(1-ᾱ_t) ε̂)/√ᾱ_t`` (§3.1), network units."""
        ab = self.ab(t)
        e = self.eps(u, t)
        return (u - math.sqrt(1.0 - ab) * e) / math.sqrt(ab), e

    def ve_denoise(self, ubar: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
        """VE Tweedie ``(û_0, s)`` at ``ū = u_0 + σ ε``: ``s = -ε̂/σ``, ``û_0 = ū + σ² s`` (§3.1)."""
        t = self.t_of_sigma(sigma)
        e = self.eps(ubar * math.sqrt(self.ab(t)), t)
        return ubar - sigma * e, -e / sigma

    def to(self, device) -> "SlicePrior":
        self.net.to(device)
        self.device = torch.device(device)
        return self


def save_prior(path, net: SliceUNet, size: int, card: dict) -> Path:
    """Write the weights file (float16 weights, architecture, schedule, model card)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float16) for k, v in net.state_dict().items()}
    torch.save({"format": FORMAT, "version": VERSION, "size": int(size),
                "unet": net.cfg.to_dict(), "state_dict": state,
                "schedule": {"kind": "linear", "T": 1000, "beta_min": 1e-4, "beta_max": 0.02},
                "card": card}, path)
    return path


def read_tagged_file(path: Path, fmt: str, what: str) -> dict:
    """``torch.load(weights_only=True)`` of a dict whose ``format`` is ``fmt``; anything else
    (unreadable, foreign) is a ValueError naming ``what`` the file should have been."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling error means "not our file"
        raise ValueError(f"{path} is not a readable {what} file ({exc})") from exc
    if not isinstance(blob, dict) or blob.get("format") != fmt:
        raise ValueError(f"{path} is not a Flowscope {what} file")
    return blob


def load_slice_prior(size: int = 64, path=None, device="cpu") -> SlicePrior:
    """Load a trained slice prior (issue #6).

    Parameters
    ----------
    size : {64, 128}
        Which shipped prior (``resources/priors/slice_prior_<size>.pt``).
    path : path-like, optional
        Another weights file (e.g. one trained from the app).
    device : str

    Raises
    ------
    FileNotFoundError
        No weights file at the path (the message says how to train one).
    ValueError
        The file is not a Flowscope slice prior, asks for an oversized network (over
        ``validate.MAX_PARAMETERS`` parameters), or its weights are malformed, of another
        architecture or not finite; the message names the file.
    """
    path = Path(path) if path is not None else prior_path(size)
    if not path.is_file():
        raise FileNotFoundError(
            f"slice prior weights not found: {path}. Train one with "
            f"`python -m engine.slice_prior.train --size {size} --out {path}` "
            "(or Reconstruction → Train slice prior…); the other methods still work.")
    blob = read_tagged_file(path, FORMAT, "slice-prior")
    net, state, size = checked_weights(blob, path)
    net.load_state_dict(state)
    card = blob.get("card")
    return SlicePrior(net, size, card if isinstance(card, dict) else None, device=device)


def checked_weights(blob: dict, path) -> tuple[SliceUNet, dict, int]:
    """The network, float32 state dict and slice size of a weights ``blob``, checked before
    anything is allocated (:mod:`engine.slice_prior.validate`); ValueError naming ``path``."""
    check_int(blob.get("version"), "version", 1, VERSION, path)
    size = check_int(blob.get("size"), "size", 8, 1024, path)
    check_schedule(blob.get("schedule"), path)
    cfg = unet_config(blob.get("unet", {}), path)
    if size % 2 ** (len(cfg.mults) - 1):
        raise ValueError(f"{path}: size {size} is not divisible by "
                         f"{2 ** (len(cfg.mults) - 1)} (the network's levels)")
    state = check_state_dict(blob.get("state_dict"), meta_net(cfg, path), path)
    return SliceUNet(cfg), state, size
