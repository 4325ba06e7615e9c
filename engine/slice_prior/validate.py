"""Checks of slice-prior weights and checkpoint files before anything is allocated (issue
#17): a small file must not ask for a huge network, and a malformed or non-finite weights
dict is a ``ValueError`` naming the file, never a ``KeyError``/``TypeError``/NaN output.

The architecture (:class:`~engine.slice_prior.unet.UNetConfig`, SCIENCE.md §3.1) is bounded
field by field, its parameter count is taken from a network built on the ``meta`` device (no
memory) and refused above :data:`MAX_PARAMETERS`, and every tensor of a state dict must have
the key, shape and floating dtype the architecture expects and finite values.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.slice_prior.unet import SliceUNet, UNetConfig

__all__ = ["MAX_PARAMETERS", "unet_config", "meta_net", "check_state_dict", "check_int"]

MAX_PARAMETERS = 50_000_000       # the shipped 64²/128² priors have ~2 M
LIMITS = {"base": (1, 512), "emb": (2, 4096), "groups": (1, 256)}
MAX_LEVELS, MAX_MULT = 8, 16


def check_int(value: Any, name: str, lo: int, hi: int, path) -> int:
    """``value`` as an int in ``[lo, hi]``; ValueError naming ``path`` and ``name`` else."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        shown = repr(value) if len(repr(value)) < 40 else type(value).__name__
        raise ValueError(f"{path}: {name} must be an integer in [{lo}, {hi}], got {shown}")
    return value


def unet_config(d: Any, path) -> UNetConfig:
    """The architecture stored in a weights file, every size bounded (see module doc)."""
    if not isinstance(d, dict):
        raise ValueError(f"{path}: 'unet' must be a dict of architecture sizes")
    known = {}
    for key, (lo, hi) in LIMITS.items():
        if key in d:
            known[key] = check_int(d[key], f"unet.{key}", lo, hi, path)
    if "mults" in d:
        mults = d["mults"]
        if not isinstance(mults, (list, tuple)) or not 1 <= len(mults) <= MAX_LEVELS:
            raise ValueError(f"{path}: unet.mults must be a list of 1 to {MAX_LEVELS} integers")
        known["mults"] = tuple(check_int(m, "unet.mults[]", 1, MAX_MULT, path) for m in mults)
    cfg = UNetConfig(**known)
    if cfg.emb % 2:
        raise ValueError(f"{path}: unet.emb must be even, got {cfg.emb}")
    for c in (cfg.base * m for m in cfg.mults):
        if c % min(cfg.groups, c):
            raise ValueError(f"{path}: {c} channels cannot be split in {cfg.groups} groups")
    return cfg


def meta_net(cfg: UNetConfig, path) -> SliceUNet:
    """The network of ``cfg`` on the ``meta`` device (shapes only); ValueError when it would
    have more than :data:`MAX_PARAMETERS` parameters."""
    with torch.device("meta"):
        net = SliceUNet(cfg)
    count = sum(p.numel() for p in net.parameters())
    if count > MAX_PARAMETERS:
        raise ValueError(f"{path}: the network would have {count:,} parameters "
                         f"(at most {MAX_PARAMETERS:,} are loaded)")
    return net


def check_state_dict(state: Any, net: SliceUNet, path, what: str = "state_dict") -> dict:
    """``state`` as float32 tensors matching ``net``'s keys and shapes, all finite."""
    if not isinstance(state, dict):
        raise ValueError(f"{path}: '{what}' must be a dict of tensors")
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise ValueError(f"{path}: weights from another architecture ({what}: missing "
                         f"{missing[:3]}, unexpected {extra[:3]})")
    out = {}
    for key, ref in expected.items():
        value = state[key]
        if not torch.is_tensor(value) or not value.is_floating_point():
            raise ValueError(f"{path}: {what}[{key!r}] is not a floating-point tensor")
        if value.shape != ref.shape:
            raise ValueError(f"{path}: weights from another architecture ({what}[{key!r}] "
                             f"has shape {tuple(value.shape)}, needs {tuple(ref.shape)})")
        value = value.float()
        if not torch.isfinite(value).all():
            raise ValueError(f"{path}: {what}[{key!r}] holds NaN or infinite weights")
        out[key] = value
    return out


def check_schedule(schedule: Any, path: Path) -> None:
    """The VP schedule the prior uses is the linear β one with T = 1000 (§3.1)."""
    if schedule is None:
        return
    if not isinstance(schedule, dict) or schedule.get("kind", "linear") != "linear" \
            or schedule.get("T", 1000) != 1000:
        raise ValueError(f"{path}: only the linear-β schedule with T = 1000 is supported, "
                         f"got {schedule!r:.80}")
