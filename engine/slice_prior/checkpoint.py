"""Training checkpoints of the slice prior, and a training run that leaves files behind
(issue #6: "training runs from the app too (progress, cancel, resume)").

Checkpoint file: ``torch.save`` of a plain dict (loadable with ``weights_only=True``) with keys
``format`` (= :data:`CHECKPOINT_FORMAT`), ``version``, ``train_config`` (the
:class:`~engine.slice_prior.train.TrainConfig` as a dict), ``unet`` (architecture), ``net`` and
``ema`` (float32 state dicts), ``opt`` (the AdamW state dict), ``step``, ``curve`` ([[step,
loss], ...]), ``rng`` (the data generator's state) and ``meta`` (free-form: data description,
seconds trained). :func:`load_checkpoint` rebuilds the modules and the optimizer.

:func:`train_to_files_iter` wraps :func:`~engine.slice_prior.train.train_prior_iter`: when it
finishes it writes the prior (EMA weights with a model card) and the checkpoint; when it is
stopped (cancel) it writes both at the last completed step, so the run can be resumed.
"""
from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path
from typing import Any, Generator, Optional

import torch

from engine.core import Progress
from engine.slice_prior.prior import read_tagged_file, save_prior
from engine.slice_prior.train import TrainConfig, card_for, train_prior_iter
from engine.slice_prior.unet import SliceUNet
from engine.slice_prior.validate import check_int, check_state_dict, meta_net, unet_config

__all__ = ["CHECKPOINT_FORMAT", "checkpoint_path", "save_checkpoint", "load_checkpoint",
           "train_to_files_iter"]

CHECKPOINT_FORMAT = "flowscope-slice-prior-checkpoint"
VERSION = 1


def checkpoint_path(prior_file) -> Path:
    """The checkpoint kept beside a prior file: ``name_64.pt`` → ``name_64.ckpt.pt``."""
    p = Path(prior_file)
    stem = p.name[:-3] if p.name.endswith(".pt") else p.name
    return p.with_name(f"{stem}.ckpt.pt")


def _cpu(sd: dict) -> dict:
    return {k: v.detach().to("cpu", torch.float32) for k, v in sd.items()}


def _opt_cpu(sd: dict) -> dict:
    state = {k: {n: (v.detach().cpu() if torch.is_tensor(v) else v) for n, v in s.items()}
             for k, s in sd["state"].items()}
    return {"state": state, "param_groups": copy.deepcopy(sd["param_groups"])}


def save_checkpoint(path, state: dict, cfg: TrainConfig, meta: Optional[dict] = None) -> Path:
    """Write a resumable checkpoint of a training ``state`` (see module docstring).

    Parameters
    ----------
    path : path-like
    state : dict
        ``{"net", "ema", "opt", "step", "curve"[, "rng"]}`` as used by ``train_prior_iter``.
    cfg : TrainConfig
    meta : dict, optional
        Plain data (str, numbers, lists, dicts) stored as ``meta``.

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = state.get("rng")
    blob = {"format": CHECKPOINT_FORMAT, "version": VERSION,
            "train_config": {**dataclasses.asdict(cfg), "mults": list(cfg.mults)},
            "unet": state["net"].cfg.to_dict(), "net": _cpu(state["net"].state_dict()),
            "ema": _cpu(state["ema"].state_dict()), "opt": _opt_cpu(state["opt"].state_dict()),
            "step": int(state["step"]),
            "curve": [[int(s), float(v)] for s, v in state["curve"]],
            "rng": None if rng is None else rng.detach().cpu(), "meta": dict(meta or {})}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)          # never leave a half-written checkpoint behind
    return path


def _read(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return read_tagged_file(path, CHECKPOINT_FORMAT, "slice-prior training checkpoint")


def _train_config(d: Any, path: Path) -> TrainConfig:
    """The stored training configuration (ValueError naming ``path`` when malformed)."""
    if not isinstance(d, dict):
        raise ValueError(f"{path}: 'train_config' must be a dict")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    kw = {k: v for k, v in d.items() if k in known}
    try:
        kw["mults"] = tuple(int(m) for m in kw.get("mults", TrainConfig.mults))
        return TrainConfig(**kw)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{path}: malformed train_config ({exc})") from None


def load_checkpoint(path, device="cpu") -> tuple[dict, TrainConfig]:
    """Read a checkpoint and rebuild the training state on ``device``.

    Returns
    -------
    state : dict
        ``{"net", "ema", "opt", "step", "curve", "rng", "meta"}``, ready for
        ``train_prior_iter(cfg, device, brain, state)``.
    cfg : TrainConfig
        The configuration the checkpoint was trained with.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not a checkpoint, an oversized or malformed architecture, weights that do not fit
        it or are not finite, or a malformed optimizer state (the message names the file).
    """
    path = Path(path)
    blob = _read(path)
    cfg = _train_config(blob.get("train_config", {}), path)
    arch = unet_config(blob.get("unet", {}), path)
    shapes = meta_net(arch, path)
    weights = {k: check_state_dict(blob.get(k), shapes, path, k) for k in ("net", "ema")}
    step = check_int(blob.get("step"), "step", 0, 10 ** 9, path)
    device = torch.device(device)
    with torch.random.fork_rng(devices=[]):           # building modules draws random numbers
        net, ema = (SliceUNet(arch) for _ in range(2))
    net.load_state_dict(weights["net"])
    ema.load_state_dict(weights["ema"])
    net, ema = net.to(device), ema.to(device).eval()
    if device.type == "cuda":
        net, ema = (m.to(memory_format=torch.channels_last) for m in (net, ema))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.0)
    try:
        opt.load_state_dict(blob["opt"])
        curve = [(int(s), float(v)) for s, v in blob.get("curve", [])]
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise ValueError(f"{path}: malformed optimizer state or loss curve "
                         f"({type(exc).__name__}: {str(exc)[:120]})") from None
    rng, meta = blob.get("rng"), blob.get("meta")
    state = {"net": net, "ema": ema, "opt": opt, "step": step, "curve": curve,
             "rng": rng if torch.is_tensor(rng) else None,
             "meta": dict(meta) if isinstance(meta, dict) else {}}
    return state, cfg


def _resume(cfg: TrainConfig, checkpoint: Path, device) -> tuple[dict, TrainConfig]:
    """State and config to continue ``checkpoint`` up to ``cfg.steps`` steps (the
    checkpoint's architecture, batch and learning rate; ``cfg``'s steps, mix, every)."""
    state, old = load_checkpoint(checkpoint, device)
    if old.size != cfg.size:
        raise ValueError(f"{checkpoint} was trained on {old.size}² slices; choose size "
                         f"{old.size} to continue it")
    if state["step"] >= cfg.steps:
        raise ValueError(f"{checkpoint} is already at step {state['step']}; ask for more "
                         f"than {state['step']} steps to continue it")
    return state, dataclasses.replace(old, steps=cfg.steps, mix=cfg.mix, every=cfg.every,
                                      seconds=cfg.seconds)


def train_to_files_iter(cfg: TrainConfig, device, brain: Optional[torch.Tensor], out,
                        checkpoint=None, resume: bool = False, data: str = "",
                        outcome: Optional[dict] = None) -> Generator[Progress, None, dict]:
    """Train (or resume ``checkpoint``) and leave the prior and a checkpoint on disk.

    Parameters
    ----------
    cfg : TrainConfig
        ``cfg.steps`` is the total step count (a resumed run continues up to it).
    device : str or torch.device
    brain : Tensor or None
        Training volume ``(z, y, x)`` in [0, 1] (see ``load_training_volume``).
    out : path-like
        The prior file (EMA weights + model card; :func:`~engine.slice_prior.save_prior`).
    checkpoint : path-like, optional
        Checkpoint file; default :func:`checkpoint_path` of ``out``.
    resume : bool
        Continue from ``checkpoint`` instead of starting afresh.
    data : str
        Model-card description of the training data.
    outcome : dict, optional
        Filled in as the run goes (also when it is cancelled): ``step``, ``cfg``,
        ``resumed_from``, ``curve`` (the loss curve so far, at the start and at the end), and
        after saving ``prior``, ``checkpoint``, ``cancelled``; or ``error`` when saving failed.

    Returns
    -------
    dict
        ``outcome``.
    """
    outcome = {} if outcome is None else outcome
    out, device = Path(out), torch.device(device)
    checkpoint = Path(checkpoint) if checkpoint else checkpoint_path(out)
    if resume:
        state, cfg = _resume(cfg, checkpoint, device)
    else:
        from engine.slice_prior.train import new_state
        state = new_state(cfg, device)
    seconds0 = float(state.get("meta", {}).get("seconds", 0.0))
    outcome.update(cfg=cfg, step=state["step"], resumed_from=state["step"] if resume else None,
                   curve=list(state["curve"]))
    t0 = time.perf_counter()
    finished = False
    try:
        yield from train_prior_iter(cfg, device, brain, state)
        finished = True
    except GeneratorExit:
        pass                   # cancelled at a report: the state is at a completed step
    seconds = seconds0 + time.perf_counter() - t0
    outcome.update(step=state["step"], curve=list(state["curve"]))
    try:
        card = card_for(cfg, state, seconds, str(device), data)
        save_prior(out, state["ema"], cfg.size, card)
        save_checkpoint(checkpoint, state, cfg, {"data": data, "seconds": seconds})
    except (OSError, RuntimeError) as exc:
        outcome["error"] = f"could not save the weights: {exc}"
        if finished:
            raise
        return outcome
    outcome.update(prior=str(out), checkpoint=str(checkpoint), cancelled=not finished)
    return outcome
