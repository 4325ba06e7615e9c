"""Weights files of the unrolled nets (SCIENCE.md §6.2; the slice priors' rules, CONTRACTS.md).

A weights file is ``torch.save`` of a plain dict, loadable with ``weights_only=True``:
``format`` (= :data:`WEIGHTS_FORMAT`), ``version``, ``arch`` (the :func:`unrolled_net`
arguments), ``state_dict`` (float32 CPU tensors) and ``card`` (free-form model card: data,
steps, mode, test PSNR). Anything else — unreadable, foreign, another architecture, weights
that are not finite or an oversized net — is refused with a ValueError naming the file.
A training checkpoint adds the optimiser states, the step count, the loss curves and the
batch generator's state under ``train`` (see :mod:`engine.learned.train`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from engine.imaging.unrolled import DENOISERS, NET_KINDS, Unrolled, unrolled_net

__all__ = ["WEIGHTS_FORMAT", "MAX_PARAMETERS", "save_unrolled", "save_weights", "load_unrolled",
           "read_unrolled_file", "net_from_blob"]

WEIGHTS_FORMAT = "flowscope-unrolled-net"
VERSION = 1
MAX_PARAMETERS = 20_000_000
_ARCH_LIMITS = {"n_unrolls": (1, 64), "width": (1, 256), "depth": (2, 16), "cg_iters": (1, 100)}


def save_unrolled(path, net: Unrolled, card: Optional[dict] = None,
                  train: Optional[dict] = None) -> Path:
    """Write ``net``'s weights (and, for a checkpoint, its training ``train`` state) to ``path``."""
    path = Path(path)
    blob = {"format": WEIGHTS_FORMAT, "version": VERSION, "arch": net.arch(),
            "state_dict": {k: v.detach().to("cpu", torch.float32).clone()
                           for k, v in net.state_dict().items()},
            "card": dict(card or {})}
    if train is not None:
        blob["train"] = train
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        torch.save(blob, tmp)
    except RuntimeError as exc:            # torch reports unwritable paths as RuntimeError
        raise OSError(f"cannot write {path}: {exc}") from exc
    tmp.replace(path)
    return path


def read_unrolled_file(path) -> dict:
    """``torch.load(weights_only=True)`` of a Flowscope unrolled-net file, or a ValueError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling error means "not our file"
        raise ValueError(f"{path} is not a readable unrolled-net weights file ({exc})") from exc
    if not isinstance(blob, dict) or blob.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not a Flowscope unrolled-net weights file")
    if blob.get("version") != VERSION:
        raise ValueError(f"{path}: weights version {blob.get('version')!r} is not {VERSION}")
    return blob


def _checked_arch(arch, path) -> dict:
    if not isinstance(arch, dict) or arch.get("kind") not in NET_KINDS:
        raise ValueError(f"{path}: unknown network description {arch!r}")
    out = {"kind": arch["kind"], "shared": bool(arch.get("shared", False)),
           "denoiser": arch.get("denoiser", "plain")}
    if out["denoiser"] not in DENOISERS:
        raise ValueError(f"{path}: unknown denoiser {out['denoiser']!r}")
    for key, (lo, hi) in _ARCH_LIMITS.items():
        value = arch.get(key, 8 if key == "cg_iters" else None)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ValueError(f"{path}: {key} = {value!r} is outside [{lo}, {hi}]")
        out[key] = value
    if out["kind"] == "varnet":
        out["shared"] = None
    return out


def net_from_blob(blob: dict, path="weights") -> Unrolled:
    """Rebuild the net a weights dict describes and load its (checked) weights."""
    net = unrolled_net(**_checked_arch(blob.get("arch"), path))
    n_params = sum(p.numel() for p in net.parameters())
    if n_params > MAX_PARAMETERS:
        raise ValueError(f"{path}: the network has {n_params} parameters, over {MAX_PARAMETERS}")
    state = blob.get("state_dict")
    expected = net.state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        raise ValueError(f"{path}: the weights do not belong to a {net.kind} net of this shape")
    for name, ref in expected.items():
        value = state[name]
        if not torch.is_tensor(value) or tuple(value.shape) != tuple(ref.shape):
            raise ValueError(f"{path}: weight {name} has the wrong shape")
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{path}: weight {name} is not finite")
    net.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
    return net


def save_weights(path, arch: dict, weights: dict, card: Optional[dict] = None) -> Path:
    """Write a net given as its ``arch`` (:meth:`Unrolled.arch`) and ``weights`` (name →
    array, e.g. from a lab result); checked like a loaded file first (ValueError if not)."""
    state = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in dict(weights).items()}
    net = net_from_blob({"arch": dict(arch), "state_dict": state}, "weights")
    return save_unrolled(path, net, card)


def load_unrolled(path, device: str = "cpu") -> tuple[Unrolled, dict]:
    """Load a weights file: ``(net, card)``. Raises FileNotFoundError or ValueError (message
    names the file) for a missing, corrupt or foreign file."""
    blob = read_unrolled_file(path)
    net = net_from_blob(blob, path).to(device)
    card = blob.get("card") if isinstance(blob.get("card"), dict) else {}
    return net, card
