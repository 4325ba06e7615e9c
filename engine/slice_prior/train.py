"""Training of the slice prior (DDPM ε-matching, Ho et al. 2020 eq. 14; SCIENCE.md §3.1).

``loss = E_{t, x_0, ε} ‖ε - ε_θ(√ᾱ_t u_0 + √(1-ᾱ_t) ε, t)‖²`` with ``t ~ U{1..T}`` and
``u_0 = 2 x_0 - 1`` drawn from :class:`~engine.slice_prior.data.SliceSource`. AdamW with a
linear warm-up, an exponential moving average (EMA) of the weights (the EMA is what is saved),
bfloat16 autocast on CUDA and on CPUs with native bfloat16 arithmetic (AMX or AVX512-BF16;
``precision="float32"`` turns it off, as on other CPUs). On every device the network runs
channels-last (NHWC: faster oneDNN convolutions) and the optimiser, gradient clipping and EMA
update use the multi-tensor ``foreach`` kernels; on the CPU, GroupNorm's backward avoids ATen's
slow channels-last bfloat16 kernel (:mod:`~engine.slice_prior.group_norm`) and freed memory
stays in the heap (:func:`keep_freed_memory`). ``benchmarks/prior_train.py`` times the step
against the former one and checks that the default precision trains as well as float32
(issue #16). :func:`train_prior_iter` is a progress generator (cancel by
stopping it; resume from the state it returns or was given — the state carries the data
stream's generator state, so a resumed run on the CPU repeats an uninterrupted one exactly;
:mod:`~engine.slice_prior.checkpoint` writes it to disk). :func:`load_training_volume` makes any
volume :func:`engine.imaging.load_volume` reads a training volume (min–max scaled to [0, 1]);
``TrainConfig.mix`` chooses phantoms + volume (``"mixed"``) or the volume alone (``"volume"``).

Command line (the shipped weights; see ``resources/priors/MODEL_CARD.md``)::

    python -m engine.slice_prior.train --size 64 --steps 6000 --batch 128 \\
        --out resources/priors/slice_prior_64.pt

Your own volume (NIfTI, DICOM folder, .npy/.npz, TIFF), without the phantoms::

    python -m engine.slice_prior.train --size 64 --steps 2000 --brain scan.nii.gz \\
        --mix volume --out ~/.flowscope/priors/scan_64.pt
"""
from __future__ import annotations

import argparse
import copy
import functools
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Generator, Optional

import torch

from engine.core import Progress
from engine.sampling.schedule import Schedule
from engine.slice_prior.data import SliceSource
from engine.slice_prior.prior import save_prior
from engine.slice_prior.unet import SliceUNet, UNetConfig

__all__ = ["TrainConfig", "MIXES", "PRECISIONS", "uses_bf16", "cpu_has_native_bf16",
           "keep_freed_memory", "new_state", "train_prior_iter", "card_for",
           "load_training_volume", "main"]

#: Arithmetic of the network's forward pass (the loss, optimiser and EMA stay float32).
PRECISIONS = ("auto", "float32")

#: Training mixtures: ``mix`` → SliceSource weights (ellipses, Shepp–Logan, volume).
MIXES = {"mixed": (0.35, 0.25, 0.4), "volume": (0.0, 0.0, 1.0)}


@dataclass(frozen=True)
class TrainConfig:
    """What one training run does (stored in the model card)."""
    size: int = 64
    steps: int = 6000
    batch: int = 128
    lr: float = 2e-4
    warmup: int = 200
    ema: float = 0.999
    seed: int = 0
    base: int = 32
    mults: tuple = (1, 2, 2, 2)
    seconds: float = 0.0          # > 0: stop early after this wall time
    every: int = 50               # progress report interval (steps)
    mix: str = "mixed"            # "mixed": phantoms + volume; "volume": the volume only
    precision: str = "auto"       # "auto": bfloat16 autocast where native; "float32": never


def new_state(cfg: TrainConfig, device) -> dict:
    """A fresh training state ``{"net", "ema", "opt", "step", "curve", "rng"}`` for ``cfg``.

    The network is initialised from ``cfg.seed``; ``rng`` (the data generator's state) is
    None until the first report of :func:`train_prior_iter`.
    """
    _check_config(cfg)
    torch.manual_seed(cfg.seed)
    net = SliceUNet(UNetConfig(base=cfg.base, mults=tuple(cfg.mults))).to(device)
    net = net.to(memory_format=torch.channels_last)      # faster convolutions, CPU and CUDA
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.0, foreach=True)
    return {"net": net, "ema": copy.deepcopy(net).eval(), "opt": opt, "step": 0, "curve": [],
            "rng": None}


def _check_config(cfg: TrainConfig) -> None:
    """Refuse what cannot train: a non-finite learning rate is a FloatingPointError (as a
    diverging one is later), an unknown mixture a ValueError."""
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise FloatingPointError(f"learning rate {cfg.lr!r} is not a positive finite number; "
                                 "use e.g. 2e-4")
    if cfg.mix not in MIXES:
        raise ValueError(f"unknown training mixture {cfg.mix!r}; use one of {', '.join(MIXES)}")
    if cfg.precision not in PRECISIONS:
        raise ValueError(f"unknown precision {cfg.precision!r}; use one of "
                         f"{', '.join(PRECISIONS)}")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when the CPU multiplies bfloat16 natively (Intel AMX or AVX512-BF16, read from
    ``/proc/cpuinfo``); oneDNN then runs bf16 convolutions about twice as fast as float32.
    Elsewhere bf16 is emulated and no faster, so training stays float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return (" amx_bf16" in flags or " avx512_bf16" in flags) and \
        torch.ops.mkldnn._is_mkldnn_bf16_supported()


def uses_bf16(cfg: TrainConfig, device) -> bool:
    """Whether :func:`train_prior_iter` runs the network under bfloat16 autocast."""
    kind = torch.device(device).type
    return cfg.precision == "auto" and (kind == "cuda" or (kind == "cpu" and cpu_has_native_bf16()))


def _source(cfg: TrainConfig, brain, state: dict, device) -> SliceSource:
    """The data stream at ``state["step"]``: the saved generator state when the state has one
    (exact resume), else seeded from ``cfg.seed + step``."""
    _check_config(cfg)
    if cfg.mix == "volume" and brain is None:
        raise ValueError("mix='volume' needs a training volume")
    src = SliceSource(cfg.size, brain=brain, seed=cfg.seed + state["step"], device=device,
                      weights=MIXES[cfg.mix])
    rng = state.get("rng")
    if rng is not None:
        try:
            src.gen.set_state(rng)
        except (RuntimeError, ValueError, TypeError):
            pass      # generator state of another device type: keep the (seed, step) stream
    return src


def _loss(net, u0: torch.Tensor, alpha_bar: torch.Tensor, gen: torch.Generator,
          autocast: bool) -> torch.Tensor:
    b = u0.shape[0]
    t = torch.randint(1, alpha_bar.numel(), (b,), generator=gen, device=u0.device)
    ab = alpha_bar[t].view(b, 1, 1, 1)
    eps = torch.randn(u0.shape, generator=gen, device=u0.device)
    ut = ab.sqrt() * u0 + (1 - ab).sqrt() * eps
    with torch.autocast(u0.device.type, dtype=torch.bfloat16, enabled=autocast):
        pred = net(ut, t.float())
    return torch.mean((pred.float() - eps) ** 2)


@torch.no_grad()
def _ema_update(ema, net, decay: float) -> None:
    """``θ_ema ← θ_ema + (1 - decay)(θ - θ_ema)`` for all parameters in one foreach kernel."""
    torch._foreach_lerp_(list(ema.parameters()), list(net.parameters()), 1.0 - decay)


#: glibc ``mallopt`` parameters: ``M_TRIM_THRESHOLD`` (-1), ``M_MMAP_THRESHOLD`` (-3).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


@functools.cache
def keep_freed_memory() -> bool:
    """Let glibc keep freed blocks for reuse instead of handing them back to the kernel.

    A CPU training step allocates and frees the same few hundred activation tensors (up to
    ~25 MB each) every step; with glibc's defaults the heap is trimmed between steps, so every
    step page-faults ~10 000 fresh pages back in (~8 % of a bfloat16 step at the dialog's
    defaults, ``benchmarks/prior_train.py``). This sets, once per process, blocks below
    32 MiB (glibc's largest dynamic threshold) to come from the heap and up to 256 MiB of free
    heap to stay in the process. Returns whether it applied (False off glibc).
    """
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
                    and libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20))
    except (OSError, AttributeError, TypeError):
        return False


def _fast_layout(state: dict) -> None:
    """Channels-last networks and foreach optimiser steps, also for a state built elsewhere
    (a loaded checkpoint). ``Module.to`` keeps the Parameter objects, so the optimiser still
    holds them; element-wise updates do not depend on the layout, so resuming stays exact."""
    for key in ("net", "ema"):
        state[key].to(memory_format=torch.channels_last)
    for group in state["opt"].param_groups:
        group["foreach"] = True


def train_prior_iter(cfg: TrainConfig, device="cpu", brain: Optional[torch.Tensor] = None,
                     state: Optional[dict] = None) -> Generator[Progress, None, dict]:
    """Train (or resume ``state``) for ``cfg.steps`` steps; yields Progress every ``cfg.every``.

    Returns the state dict ``{"net", "ema", "opt", "step", "curve"}`` (``curve`` = [(step,
    mean loss)]); pass it back as ``state`` to resume. Stopping the generator cancels; the
    state object stays valid at the last completed step.
    """
    device = torch.device(device)
    state = state if state is not None else new_state(cfg, device)
    _fast_layout(state)
    src = _source(cfg, brain, state, device)
    ab = torch.as_tensor(Schedule.linear().alpha_bar, dtype=torch.float32, device=device)
    net, ema, opt = state["net"], state["ema"], state["opt"]
    autocast = uses_bf16(cfg, device)
    if device.type == "cpu" and sys.platform.startswith("linux"):
        keep_freed_memory()
    start, running = time.perf_counter(), []
    while state["step"] < cfg.steps:
        step = state["step"]
        for g in opt.param_groups:
            g["lr"] = cfg.lr * min(1.0, (step + 1) / max(cfg.warmup, 1))
        u0 = (2.0 * src.sample(cfg.batch) - 1.0).contiguous(memory_format=torch.channels_last)
        loss = _loss(net, u0, ab, src.gen, autocast)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0, foreach=True)
        opt.step()
        _ema_update(ema, net, cfg.ema if step > cfg.warmup else 0.0)
        running.append(loss.detach())
        state["step"] = step + 1
        if state["step"] % cfg.every == 0 or state["step"] == cfg.steps:
            mean = float(torch.stack(running).mean())
            running = []
            if not math.isfinite(mean):
                raise FloatingPointError(f"training diverged at step {state['step']} "
                                         "(loss is not finite); lower the learning rate")
            state["curve"].append((state["step"], mean))
            state["rng"] = src.gen.get_state()
            yield Progress(state["step"] / cfg.steps, f"step {state['step']}: loss {mean:.4f}",
                           partial={"step": state["step"], "loss": mean})
            if cfg.seconds and time.perf_counter() - start > cfg.seconds:
                break
    state["rng"] = src.gen.get_state()
    return state


def card_for(cfg: TrainConfig, state: dict, seconds: float, device: str, data: str) -> dict:
    """Model-card entries stored in the weights file."""
    steps = state["step"]
    cmd = (f"python -m engine.slice_prior.train --size {cfg.size} --steps {steps} "
           f"--batch {cfg.batch} --lr {cfg.lr:g} --seed {cfg.seed}"
           + ("" if cfg.mix == "mixed" else f" --mix {cfg.mix}")
           + ("" if cfg.precision == "auto" else f" --precision {cfg.precision}"))
    return {"train_config": {**asdict(cfg), "mults": list(cfg.mults), "steps": steps},
            "steps": steps, "seconds": round(seconds, 1), "device": device, "data": data,
            "curve": [[int(s), float(v)] for s, v in state["curve"]], "command": cmd,
            "parameters": sum(p.numel() for p in state["ema"].parameters())}


def load_training_volume(path) -> torch.Tensor:
    """A volume file as a training volume: ``(z, y, x)`` float32 min–max scaled to [0, 1].

    Parameters
    ----------
    path : path-like
        Anything :func:`engine.imaging.load_volume` reads (NIfTI, DICOM folder, NumPy, TIFF).

    Raises
    ------
    FileNotFoundError, ValueError
        From :func:`~engine.imaging.load_volume` (the message names the file and the problem),
        or ``ValueError`` when the volume is constant (nothing to learn).
    """
    from engine.imaging.volume_io import load_volume
    data = torch.as_tensor(load_volume(path).data, dtype=torch.float32)
    lo, hi = float(data.min()), float(data.max())
    if not hi > lo:
        raise ValueError(f"{path}: the volume is constant ({lo:g}); nothing to learn from")
    return (data - lo) / (hi - lo)


def _load_brain(path: Optional[str]) -> tuple[Optional[torch.Tensor], str]:
    if path:
        return load_training_volume(path), f"volume {Path(path).name}"
    try:
        from engine.imaging.volume_io import demo_volume
        return demo_volume("brain").data.float(), "MNI ICBM152 2009a T1 (nilearn)"
    except (FileNotFoundError, ImportError):
        return None, "no brain volume (phantoms only)"


def describe_data(size: int, mix: str, volume: Optional[str]) -> str:
    """The model card's ``data`` line for a mixture and a volume description (None: none)."""
    if volume is None:
        return (f"{size}² slices: random ellipse phantoms 58 %, jittered Shepp–Logan slices "
                "42 % (no volume)")
    aug = f"augmented axial slices of the {volume}"
    if mix == "volume":
        return f"{size}² slices: {aug} (held-out z-fraction 0.45–0.55)"
    return (f"{size}² slices: random ellipse phantoms 35 %, jittered Shepp–Logan slices "
            f"25 %, {aug} 40 % (held-out z-fraction 0.45–0.55)")


def _held_out_table(net, size: int, brain, device) -> list:
    """Denoising MSE of the EMA network vs the best Gaussian smoothing on held-out slices."""
    from engine.slice_prior.evaluate import denoising_table, held_out_slices
    from engine.slice_prior.prior import SlicePrior
    rows = denoising_table(SlicePrior(net, size, device=device),
                           held_out_slices(size, None if brain is None else brain.cpu()))
    for r in rows:
        print(f"held-out t={r['t']:4d} σ̄={r['sigma']:.3f}: prior MSE {r['mse_prior']:.2e}, "
              f"best Gaussian {r['mse_gaussian']:.2e} ({r['gaussian_width_px']} px)")
    return rows


def main(argv=None) -> int:
    """Command-line training (see module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in asdict(TrainConfig()).items():
        if name != "mults":
            ap.add_argument(f"--{name}", type=type(default), default=default)
    ap.add_argument("--out", required=True)
    ap.add_argument("--brain", default="", help="training volume (NIfTI, DICOM folder, .npy, "
                    "TIFF; min–max scaled); default MNI brain")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = vars(ap.parse_args(argv))
    out, brain_path, device = args.pop("out"), args.pop("brain"), args.pop("device")
    cfg = TrainConfig(**args)
    brain, data = _load_brain(brain_path)
    data = describe_data(cfg.size, cfg.mix, None if brain is None else data)
    t0 = time.perf_counter()
    gen = train_prior_iter(cfg, device, brain)
    while True:
        try:
            p = next(gen)
            print(f"[{time.perf_counter() - t0:7.1f} s] {p.message}", flush=True)
        except StopIteration as stop:
            state = stop.value
            break
    card = card_for(cfg, state, time.perf_counter() - t0, str(device), data)
    card["held_out"] = _held_out_table(state["ema"], cfg.size, brain, device)
    save_prior(out, state["ema"], cfg.size, card)
    print(f"saved {out} after {state['step']} steps; reproduce with: {card['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
