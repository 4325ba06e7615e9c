"""Unpaired training of an unrolled net: OT-cycleGAN, known forward operator (SCIENCE.md §6.5).

The forward operator ``A`` (mask, coils) is known, so one generator ``G`` (the unrolled net,
k-space → image) and one critic ``D`` (on images) suffice (§6.5.1): the second generator and
its critic ψ do not depend on ``G`` and are dropped. The training slices are split in two
halves that never meet (§6.5.3, :func:`unpaired_split`): clean images ``x`` from the even
positions, undersampled k-space ``y`` from the odd ones; no ``(x, y)`` pair is ever formed.

* cycle (§6.5.2, "6.1"): ``ℓ_cyc = mean|x − G(A x)| + mean|y − A G(y)|`` (y-side in k-space);
* generator: ``L_G = w_gan · (−mean D(G(y))) + w_cyc · ℓ_cyc``; with ``w_gan = 0`` this is
  the cycle term alone, whose y-side is the data-consistency residual CG-SENSE minimises;
* critic (WGAN-GP): ``L_D = ½[−mean D(x) + mean D(G(y)) + 5·GP]``,
  ``GP = E(‖∇D(x̃)‖₂ − 1)²`` at random interpolates ``x̃`` of real and fake (§6.5.4 test 4);
  ``n_critic`` critic steps per generator step, Adam β = (0.5, 0.9) (the official code's).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Generator, Optional

import numpy as np
import torch
from torch import nn

from engine.core.progress import Progress
from engine.imaging.unrolled import Unrolled, to_channels
from engine.learned.data import BrainSlices
from engine.learned.memory import count_saved
from engine.learned.guard import (checked_validation, divergence_message, require_finite_grads,
                                  require_finite_weights)
from engine.learned.steps import Diverged
from engine.learned.train import StopTraining, TrainResult, evaluate, record_validation

__all__ = ["UnpairedSets", "unpaired_split", "PatchCritic", "gradient_penalty", "cycle_loss",
           "generator_loss", "critic_loss", "train_ot_cyclegan", "GP_WEIGHT"]

GP_WEIGHT = 5.0
BETAS = (0.5, 0.9)


@dataclass
class UnpairedSets:
    """Clean images ``x`` and undersampled k-space ``y`` from disjoint training slices."""
    x: torch.Tensor
    x_index: np.ndarray
    y: torch.Tensor
    y_index: np.ndarray


def unpaired_split(data: BrainSlices) -> UnpairedSets:
    """Even training positions give clean images, odd ones k-space; never paired (§6.5.3)."""
    train = data.train
    if len(train) < 2:
        raise ValueError("unpaired training needs at least 2 training slices")
    even, odd = np.arange(0, len(train), 2), np.arange(1, len(train), 2)
    return UnpairedSets(train.target[even], train.index[even], train.k[odd], train.index[odd])


class PatchCritic(nn.Module):
    """A 3-layer PatchGAN critic on ``[Re x, Im x]`` (16–32–64 channels, no norm, no sigmoid;
    §6.5.3); ``D(x)`` is the mean of its patch scores, one number per image."""

    def __init__(self, width: int = 16):
        super().__init__()
        w = int(width)
        self.layers = nn.Sequential(
            nn.Conv2d(2, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(4 * w, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(to_channels(x)).mean(dim=(1, 2, 3))


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator) -> torch.Tensor:
    """``E(‖∇D(x̃)‖₂ − 1)²`` at ``x̃ = εx + (1 − ε)x_fake``, ε ~ U(0, 1) per image (§6.5.2)."""
    eps = torch.rand(real.shape[0], generator=generator).to(real.device, real.real.dtype)
    mixed = (eps[:, None, None] * real + (1 - eps[:, None, None]) * fake).detach()
    mixed.requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norm = torch.view_as_real(grad).flatten(1).norm(dim=1)
    return ((norm - 1) ** 2).mean()


def cycle_loss(net: Unrolled, op, x: torch.Tensor, y: torch.Tensor):
    """``(ℓ_cyc, G(y))``: ``mean|x − G(Ax)| + mean|y − A G(y)|`` (§6.5.2)."""
    fake = net(y, op)
    cyc = (x - net(op.forward(x), op)).abs().mean() + (y - op.forward(fake)).abs().mean()
    return cyc, fake


def generator_loss(net, critic, op, x, y, gan_weight: float, cycle_weight: float):
    """``(L_G, ℓ_cyc, G(y))`` with ``L_G = w_gan·(−mean D(G(y))) + w_cyc·ℓ_cyc`` (§6.5.1)."""
    cyc, fake = cycle_loss(net, op, x, y)
    loss = cycle_weight * cyc
    if gan_weight:
        loss = loss - gan_weight * critic(fake).mean()
    return loss, cyc, fake


def critic_loss(critic, real, fake, generator) -> torch.Tensor:
    """``½[−mean D(x) + mean D(G(y)) + 5·GP]`` (the official code's WGAN-GP, §6.5.2)."""
    gp = gradient_penalty(critic, real, fake, generator)
    return 0.5 * (-critic(real).mean() + critic(fake).mean() + GP_WEIGHT * gp)


def _critic_steps(critic, opt, x, fake, n_critic, gen) -> None:
    """``n_critic`` WGAN-GP steps; :class:`Diverged` for a NaN/inf loss, gradient or weight."""
    for _ in range(n_critic):
        loss = critic_loss(critic, x, fake.detach(), gen)
        if not bool(torch.isfinite(loss.detach())):
            raise Diverged(f"the critic's loss became {float(loss.detach())}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        require_finite_grads(critic.parameters(), "critic's")
        opt.step()
    require_finite_weights(critic, "critic's")


def _generator_step(net, critic, opt, op, x, y, weights, count: bool):
    """``(ℓ_cyc, saved bytes, G(y))`` of one generator step; :class:`Diverged` for a NaN/inf
    loss, gradient or weight (no update kept)."""
    with count_saved() as counter:
        loss, cyc, fake = generator_loss(net, critic, op, x, y, *weights)
    saved = counter.bytes if count else 0          # alive until the backward frees them
    for value in (float(loss.detach()), float(cyc.detach())):
        if not np.isfinite(value):
            raise Diverged(f"the generator's loss became {value}")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    require_finite_grads(net.parameters(), "generator's")
    opt.step()
    require_finite_weights(net, "generator's")
    return float(cyc.detach()), saved, fake


def _step(modules, op, x, y, weights, n_critic, gen, step: int):
    """One generator step and its critic steps: ``(ℓ_cyc, saved bytes)``; :class:`Diverged`
    when anything diverged."""
    net, g_opt, critic, d_opt = modules
    cyc, peak, fake = _generator_step(net, critic, g_opt, op, x, y, weights, step == 0)
    if weights[0]:
        _critic_steps(critic, d_opt, x, fake, n_critic, gen)
    return cyc, peak


def _fresh_state(seed: int) -> dict:
    return {"step": 0, "rng": torch.Generator().manual_seed(seed).get_state(), "critic": None,
            "opts": None, "loss": [], "val_steps": [], "val_psnr": [], "val_ssim": [],
            "peak": 0}


def _setup(net, st, lr, seed, device):
    """Critic and both optimisers, restored from a resumed state ``st`` when it has them."""
    torch.manual_seed(seed)
    critic = PatchCritic().to(device)
    net.to(device).train()
    opts = (torch.optim.Adam(net.parameters(), lr=lr, betas=BETAS),
            torch.optim.Adam(critic.parameters(), lr=lr, betas=BETAS))
    if st["critic"] is not None:
        critic.load_state_dict(st["critic"])
        for opt, sd in zip(opts, st["opts"]):
            opt.load_state_dict(sd)
    return critic, opts


def train_ot_cyclegan(net: Unrolled, data: BrainSlices, steps: int = 200, lr: float = 1e-3,
                      seed: int = 0, batch: int = 4, eval_every: int = 0, device: str = "cpu",
                      gan_weight: float = 0.1, cycle_weight: float = 1.0, n_critic: int = 5,
                      resume: Optional[dict] = None) -> Generator[Progress, None, TrainResult]:
    """Train ``net`` (the generator) without pairs (SCIENCE.md §6.5); a generator of Progress.

    Parameters
    ----------
    net : Unrolled
        The generator ``G`` (k-space → image), trained in place.
    data : BrainSlices
        Its training split is halved by :func:`unpaired_split`; the validation and test splits
        (with ground truth) only measure PSNR.
    steps : int
        Total generator steps (a resumed run continues up to this count).
    gan_weight, cycle_weight : float
        ``w_gan`` and ``w_cyc`` (``w_gan = 0``: cycle consistency alone, no critic).
    n_critic : int
        Critic steps per generator step.
    resume : dict, optional
        ``result.state`` of an earlier run (critic, optimisers, batch generator, curves).

    Yields Progress with ``partial = {"step", "loss", "module_loss", "val"}`` (loss = ℓ_cyc);
    returns a :class:`~engine.learned.train.TrainResult` (``mode = "otcycle"``). A non-finite
    loss, gradient or weight of the generator or the critic, or a non-finite validation
    reconstruction (:mod:`engine.learned.guard`), stops the run with a message saying when
    and why, and keeps the weights (net, critic, optimisers) of the last good step.
    """
    if not (lr > 0 and np.isfinite(lr)) or steps < 0 or batch < 1 or gan_weight < 0:
        raise ValueError(f"need lr > 0, steps >= 0, batch >= 1, gan_weight >= 0 "
                         f"(got {lr}, {steps}, {batch}, {gan_weight})")
    sets, op = unpaired_split(data), data.operator(device)
    st = copy.deepcopy(resume) if resume is not None else _fresh_state(seed)
    critic, (g_opt, d_opt) = _setup(net, st, lr, seed, device)
    gen = torch.Generator().manual_seed(seed)
    gen.set_state(st["rng"])
    every = eval_every or max(1, steps // 10)
    times, message = [], ""
    while st["step"] < steps:
        step = st["step"]
        xi = torch.randint(len(sets.x), (batch,), generator=gen)
        yi = torch.randint(len(sets.y), (batch,), generator=gen)
        x, y = sets.x[xi].to(device), sets.y[yi].to(device)
        modules = (net, g_opt, critic, d_opt)
        saved = copy.deepcopy([m.state_dict() for m in modules])
        t0 = time.perf_counter()
        try:
            cyc, peak = _step(modules, op, x, y, (gan_weight, cycle_weight), n_critic, gen,
                              step)
            seconds = time.perf_counter() - t0
            val = checked_validation(net, data, step + 1, every, steps, device)
        except Diverged as exc:
            _load(modules, saved)
            message = divergence_message(str(exc), step, lr)
            break
        except BaseException as exc:    # interrupted mid-step (cancel): back to the last step
            if not isinstance(exc, Exception):
                _load(modules, saved)
                exc.stopped_result = _finish(st, modules, times, f"stopped at step {step}",
                                             (float("nan"),) * 2)
            raise
        times.append(seconds)
        st["peak"] = max(st["peak"], peak)
        st["step"] += 1
        st["loss"].append(cyc)
        record_validation(st, val)
        st["rng"] = gen.get_state()
        try:
            yield Progress(st["step"] / max(steps, 1),
                           f"otcycle: step {st['step']}/{steps}, cycle loss {cyc:.4f}",
                           {"step": st["step"], "loss": cyc, "module_loss": [cyc], "val": val})
        except StopTraining:
            message = f"stopped at step {st['step']}"
            break
    stopped = message.startswith("stopped at")
    test = (float("nan"),) * 2 if stopped else None
    return _finish(st, (net, g_opt, critic, d_opt), times, message,
                   test or evaluate(net, data, "test", device))


def _load(modules, saved) -> None:
    for module, state in zip(modules, saved):
        module.load_state_dict(state)


def _finish(st, modules, times, message, test) -> TrainResult:
    """The run's :class:`TrainResult`, its state holding the critic and both optimisers."""
    net, g_opt, critic, d_opt = modules
    st["critic"] = copy.deepcopy(critic.state_dict())
    st["opts"] = [copy.deepcopy(o.state_dict()) for o in (g_opt, d_opt)]
    loss = np.asarray(st["loss"], float)
    return TrainResult("otcycle", 1, len(loss), loss, loss.reshape(-1, 1),
                       np.asarray(st["val_steps"], int), np.asarray(st["val_psnr"], float),
                       np.asarray(st["val_ssim"], float), test[0], test[1], int(st["peak"]),
                       float(np.mean(times)) if times else 0.0, message, st, net)
