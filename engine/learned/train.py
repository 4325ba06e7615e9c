"""Training unrolled nets end to end, with checkpointing, or greedily (GLEAM) (SCIENCE.md §6.3).

:func:`train_unrolled` is a generator of :class:`~engine.core.Progress` (cancel = stop
iterating) that returns a :class:`TrainResult`. Same data, same batches (a seeded
``torch.Generator``), same steps in every mode; Adam per module (GLEAM) or one Adam (e2e,
checkpoint). A NaN/inf loss, gradient, weight or validation reconstruction stops the run with
a message and the weights of the last good step (:mod:`engine.learned.guard`).
``result.state`` resumes the run: training 2·n steps equals n steps then n resumed (the batch
generator's and optimisers' states travel in it); :func:`save_training` writes it
with the weights (plain tensors, ``weights_only=True``). A run stops resumably at a yield
(``gen.throw(StopTraining())`` returns its result) or mid-step: an interrupt (a
``BaseException`` such as the app's cancel) puts the last step back and carries that step's
result as ``exc.stopped_result`` (the lab's checkpoints, :mod:`engine.learned.checkpoints`).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Generator, Optional

import numpy as np
import torch

from engine.core.progress import Progress
from engine.imaging.unrolled import Unrolled
from engine.imaging.unrolled_io import read_unrolled_file, net_from_blob, save_unrolled
from engine.learned.data import BrainSlices, mean_psnr, mean_ssim
from engine.learned.guard import checked_validation, divergence_message, require_finite_weights
from engine.learned.memory import cuda_peak
from engine.learned.steps import MODES, Diverged, module_ranges, run_step

__all__ = ["TrainResult", "StopTraining", "train_unrolled", "evaluate", "save_training",
           "load_training", "validate_if_due", "record_validation"]


class StopTraining(Exception):
    """Thrown into a training generator (``gen.throw(StopTraining())``) at a step: it stops
    there and returns its :class:`TrainResult` (resumable ``state``; test metrics NaN, not
    measured), so a cancelled run can still be checkpointed."""


@dataclass
class TrainResult:
    """What a training run returns (SCIENCE.md §6.3.3 reporting).

    ``loss`` per step (e2e/checkpoint: the loss; GLEAM: the last module's local loss, the
    loss of the net's output), ``module_loss`` (steps × G local losses), ``val_steps`` /
    ``val_psnr`` / ``val_ssim`` per evaluation, ``test_psnr`` / ``test_ssim`` at the end,
    ``peak_bytes`` (CPU: saved activations, CUDA: allocator peak; :mod:`engine.learned.memory`),
    ``seconds_per_step`` (mean wall time of the steps of this call), ``message`` (why it stopped
    early, else ""), ``state`` (to resume), and the trained ``net``.
    """
    mode: str
    modules: int
    steps: int
    loss: np.ndarray
    module_loss: np.ndarray
    val_steps: np.ndarray
    val_psnr: np.ndarray
    val_ssim: np.ndarray
    test_psnr: float
    test_ssim: float
    peak_bytes: int
    seconds_per_step: float
    message: str
    state: dict = field(repr=False)
    net: Unrolled = field(repr=False)


def validate_if_due(st: dict, net, data, every: int, steps: int, device) -> Optional[tuple]:
    """Validation (PSNR, SSIM) every ``every`` steps and at the last one, appended to the
    run state ``st``; None between evaluations; :class:`Diverged` for a non-finite
    validation reconstruction (:func:`engine.learned.guard.checked_validation`)."""
    val = checked_validation(net, data, st["step"], every, steps, device)
    record_validation(st, val)
    return val


def record_validation(st: dict, val: Optional[tuple]) -> None:
    """Append a validation ``(PSNR, SSIM)`` at step ``st["step"]`` (None: nothing)."""
    if val is not None:
        st["val_steps"].append(st["step"])
        st["val_psnr"].append(val[0])
        st["val_ssim"].append(val[1])


def evaluate(net: Unrolled, data: BrainSlices, split: str = "val", device: str = "cpu",
             batch: int = 16) -> tuple[float, float]:
    """Mean PSNR and SSIM of ``net`` on a split (SCIENCE.md §6.1 metrics)."""
    part, op = getattr(data, split), data.operator(device)
    with torch.no_grad():
        outs = [net(part.k[i:i + batch].to(device), op).cpu() for i in range(0, len(part), batch)]
    pred = torch.cat(outs)
    return mean_psnr(pred, part.target), mean_ssim(pred, part.target)


def _fresh_state(seed: int) -> dict:
    return {"step": 0, "rng": torch.Generator().manual_seed(seed).get_state(), "opts": None,
            "loss": [], "module_loss": [], "val_steps": [], "val_psnr": [], "val_ssim": [],
            "peak_bytes": 0}


def _optimizers(net: Unrolled, ranges, lr: float) -> list[torch.optim.Optimizer]:
    opts = []
    for unrolls in ranges:
        params, seen = [], set()
        for i in unrolls:
            for p in net.unroll_parameters(i):
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        opts.append(torch.optim.Adam(params, lr=lr))
    return opts


def _check(net: Unrolled, mode: str, modules: int, steps: int, lr: float, batch: int,
           data: BrainSlices) -> list[range]:
    if mode not in MODES:
        raise ValueError(f"unknown training mode {mode!r}; choose one of {MODES}")
    if not (lr > 0 and np.isfinite(lr)) or steps < 0 or batch < 1:
        raise ValueError(f"need lr > 0, steps >= 0 and batch >= 1 (got {lr}, {steps}, {batch})")
    if mode != "gleam":
        return module_ranges(net.n_unrolls, 1)
    if net.shared and modules > 1:
        raise ValueError("GLEAM needs unshared weights (one CNN per unroll; SCIENCE.md §6.3 "
                         "pitfalls): use the VarNet or an unshared MoDL")
    return module_ranges(net.n_unrolls, modules)


def _snapshot(net, opts):
    return copy.deepcopy(net.state_dict()), [copy.deepcopy(o.state_dict()) for o in opts]


def _restore(net, opts, saved) -> None:
    net.load_state_dict(saved[0])
    for opt, sd in zip(opts, saved[1]):
        opt.load_state_dict(sd)


def _guarded_step(net, mode, batch, ranges, opts, step: int, device: str, lr: float,
                  validate):
    """One step then ``validate(step + 1)`` (its validation, or None); ``(outcome, "")``, or
    ``(None, message)`` after a NaN/inf loss, gradient, weight or validation reconstruction,
    with the net and optimisers put back to the last good step. ``outcome.val``: the
    validation; ``outcome.saved_bytes``: the CUDA peak on a GPU, the saved-activation count
    of the first step on a CPU (§6.3.2)."""
    saved = _snapshot(net, opts)
    try:
        t0 = time.perf_counter()
        with cuda_peak(device) as cuda:
            out = run_step(net, mode, *batch, ranges, opts, count=step == 0)
        out.seconds = time.perf_counter() - t0
        require_finite_weights(net, "net's")
        out.val = validate(step + 1)
    except Diverged as exc:
        _restore(net, opts, saved)
        return None, divergence_message(str(exc), step, lr)
    except BaseException as exc:       # an interrupt (a cancelled run): back to the last step
        if not isinstance(exc, Exception):
            _restore(net, opts, saved)
        raise
    if torch.device(device).type == "cuda":
        out.saved_bytes = cuda["bytes"]
    return out, ""


def train_unrolled(net: Unrolled, data: BrainSlices, mode: str = "e2e", modules: int = 1,
                   steps: int = 200, lr: float = 1e-3, seed: int = 0, batch: int = 4,
                   eval_every: int = 0, device: str = "cpu", resume: Optional[dict] = None
                   ) -> Generator[Progress, None, TrainResult]:
    """Train ``net`` on ``data.train`` (SCIENCE.md §6.3.1); a generator of Progress.

    Parameters
    ----------
    net : Unrolled
        From :func:`engine.imaging.unrolled.unrolled_net` (trained in place).
    data : BrainSlices
        From :func:`engine.learned.brain_slices`.
    mode : {"e2e", "checkpoint", "gleam"}
    modules : int
        GLEAM's G (K/G must be an integer); ignored by the other modes.
    steps : int
        Total optimisation steps (a resumed run continues up to this count).
    lr, seed, batch : float, int, int
        Adam learning rate, batch-order seed, slices per step.
    eval_every : int
        Validation every this many steps (0: ten times per run); always at the last step.
    device : str
    resume : dict, optional
        ``result.state`` of an earlier run of the same net/mode.

    Yields Progress with ``partial = {"step", "loss", "module_loss", "val"}`` each step.
    """
    ranges = _check(net, mode, modules, steps, lr, batch, data)
    net.to(device).train()
    op, train = data.operator(device), data.train
    opts = _optimizers(net, ranges, lr)
    st = copy.deepcopy(resume) if resume is not None else _fresh_state(seed)
    if st["opts"] is not None:
        for opt, sd in zip(opts, st["opts"]):
            opt.load_state_dict(sd)
    gen = torch.Generator().manual_seed(seed)
    gen.set_state(st["rng"])
    every = eval_every or max(1, steps // 10)
    times, message = [], ""
    while st["step"] < steps:
        idx = torch.randint(len(train), (batch,), generator=gen)
        k, target = train.k[idx].to(device), train.target[idx].to(device)
        try:
            out, message = _guarded_step(
                net, mode, (k, target, op), ranges, opts, st["step"], device, lr,
                lambda at: checked_validation(net, data, at, every, steps, device))
        except BaseException as exc:    # interrupted mid-step: the result of the last step
            if not isinstance(exc, Exception):
                st["opts"] = [copy.deepcopy(o.state_dict()) for o in opts]
                exc.stopped_result = _result(mode, ranges, st, times, "stopped at step "
                                             f"{st['step']}", (float("nan"),) * 2, net)
            raise
        if out is None:
            break
        times.append(out.seconds)
        st["peak_bytes"] = max(st["peak_bytes"], out.saved_bytes or 0)
        st["step"] += 1
        st["loss"].append(out.losses[-1])
        st["module_loss"].append(out.losses)
        val = out.val
        record_validation(st, val)
        st["rng"] = gen.get_state()
        try:
            yield Progress(st["step"] / max(steps, 1),
                           f"{mode}: step {st['step']}/{steps}, loss {out.losses[-1]:.4f}",
                           {"step": st["step"], "loss": out.losses[-1],
                            "module_loss": out.losses, "val": val})
        except StopTraining:
            message = f"stopped at step {st['step']}"
            break
    st["opts"] = [copy.deepcopy(o.state_dict()) for o in opts]
    stopped = message.startswith("stopped at")
    test = (float("nan"),) * 2 if stopped else evaluate(net, data, "test", device)
    return _result(mode, ranges, st, times, message, test, net)


def _result(mode, ranges, st, times, message, test, net) -> TrainResult:
    return TrainResult(mode, len(ranges), st["step"], np.asarray(st["loss"], float),
                       np.asarray(st["module_loss"], float).reshape(-1, len(ranges)),
                       np.asarray(st["val_steps"], int), np.asarray(st["val_psnr"], float),
                       np.asarray(st["val_ssim"], float), test[0], test[1],
                       int(st["peak_bytes"]), float(np.mean(times)) if times else 0.0,
                       message, st, net)


def save_training(path, result: TrainResult, card: Optional[dict] = None):
    """Weights plus the resumable training state (plain tensors; ``weights_only=True``)."""
    card = {"mode": result.mode, "modules": result.modules, "steps": result.steps,
            "test_psnr": result.test_psnr, "test_ssim": result.test_ssim, **(card or {})}
    return save_unrolled(path, result.net, card, train=result.state)


def load_training(path) -> tuple[Unrolled, dict, dict]:
    """``(net, card, state)`` of a file written by :func:`save_training`; ``state`` resumes
    :func:`train_unrolled` (ValueError for a file without a training state)."""
    blob = read_unrolled_file(path)
    state = blob.get("train")
    if not isinstance(state, dict) or "step" not in state or "rng" not in state:
        raise ValueError(f"{path} holds weights only, no training state to resume")
    return net_from_blob(blob, path), dict(blob.get("card") or {}), state
