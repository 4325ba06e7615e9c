"""The learned-reconstruction lab: one net trained end to end, with checkpointing and greedily
(GLEAM) on the same brain slices, steps and batches (SCIENCE.md §6.1–§6.3).

:func:`run_config` streams partial stages (docs/CONTRACTS.md): ``data`` (truth, zero-filled
and CG-SENSE of the shown test slice, the mask, baseline PSNRs), ``curves`` (every mode's loss
and validation-PSNR curves so far, at most every 0.25 s) and one ``run:<mode>`` per finished
mode (its strip of iterates, memory, time per step, test PSNR), then ``shipped`` (the trained
net in ``resources/learned``) and, for the scale-shift study, ``scale`` (PSNR vs zoom of the
plain and scale-equivariant end-to-end nets, SCIENCE.md §6.4.4). The result holds all of it
as CPU NumPy arrays.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator, Optional

import numpy as np
import torch

import resources
from engine.core import Progress, relay, validate
from engine.imaging.unrolled import Unrolled, unrolled_net
from engine.imaging.unrolled_io import load_unrolled
from engine.learned.checkpoints import (checkpoint_folder, fingerprint, load_checkpoints,
                                        save_checkpoint)
from engine.learned.budget import fit_budget, pick_unrolls, run_bytes, smallest_bytes
from engine.learned.config import LearnedConfig
from engine.learned.cyclegan import train_ot_cyclegan
from engine.learned.data import BrainSlices, brain_slices, mean_psnr, mean_ssim
from engine.learned.guard import nonfinite_notes
from engine.learned.scale_study import ScaleCurve, psnr_vs_scale_iter
from engine.learned.train import StopTraining, evaluate, train_unrolled

__all__ = ["LearnedResult", "ModeRun", "run_config", "SHIPPED_FILE", "MODE_TITLES",
           "shipped_path"]

SHIPPED_FILE = "varnet_k6_64.pt"
MODE_TITLES = {"e2e": "end-to-end", "checkpoint": "checkpointing", "gleam": "GLEAM",
               "scale_eq": "scale-equivariant", "otcycle": "OT-cycleGAN (unpaired)",
               "shipped": "shipped net"}
TRAIN_MODE = {"scale_eq": "e2e"}     # run key → train_unrolled mode (default: the key)


@dataclass
class ModeRun:
    """One trained net: curves, memory, time, the unroll strip and its test reconstruction."""
    mode: str
    title: str
    n_unrolls: int
    modules: int
    loss: np.ndarray
    module_loss: np.ndarray
    val_steps: np.ndarray
    val_psnr: np.ndarray
    val_ssim: np.ndarray
    test_psnr: float
    test_ssim: float
    peak_bytes: int
    seconds_per_step: float
    strip: np.ndarray          # (K+1, n, n) magnitudes |x_0| … |x_K| of the shown test slice
    boundaries: np.ndarray     # unroll counts after which a GLEAM module ends (inner ones)
    recon: np.ndarray          # |x_K| of the shown slice
    message: str = ""
    arch: dict = field(default_factory=dict)      # unrolled_net arguments
    weights: dict = field(default_factory=dict)   # parameter name → float32 array


@dataclass
class LearnedResult:
    """Everything the lab draws (docs/CONTRACTS.md lab contract)."""
    config: LearnedConfig
    truth: np.ndarray
    zero_filled: np.ndarray
    cg_sense: np.ndarray
    mask: np.ndarray
    baseline_psnr: dict
    runs: list
    shipped: Optional[ModeRun] = None
    notes: list = field(default_factory=list)
    scale: Optional[ScaleCurve] = None      # PSNR vs zoom (scale-shift study, §6.4.4)


def shipped_path():
    """The shipped trained VarNet (``resources/learned``; see its MODEL_CARD.md)."""
    return resources.path("learned", SHIPPED_FILE)


@functools.lru_cache(maxsize=2)
def _data(size: int, acceleration: float, n_coils: int, seed: int, noise: float,
          path: str = "") -> BrainSlices:
    return brain_slices(size, acceleration, n_coils, seed, noise,
                        volume=_user_volume(path, size) if path else None)


def _user_volume(path: str, size: int) -> torch.Tensor:
    """The opened volume's voxels; a file that cannot be read is refused with its reason."""
    from engine.imaging.volume_io import load_volume
    try:
        return load_volume(path).data
    except (OSError, ValueError) as err:
        raise ValueError(f"the opened volume cannot be used for training: {err}") from err


def _load_data(cfg: LearnedConfig) -> BrainSlices:
    """The brain slices, or the opened volume's (too small a volume: a clear message)."""
    if cfg.data_source == "brain demo":
        return _data(cfg.size, cfg.acceleration, cfg.n_coils, cfg.seed, cfg.noise)
    if not cfg.volume_path:
        raise ValueError("'Slices from: opened volume' needs a volume: use File → Open "
                         "volume… (or choose 'brain demo')")
    try:
        return _data(cfg.size, cfg.acceleration, cfg.n_coils, cfg.seed, cfg.noise,
                     cfg.volume_path)
    except ValueError as err:
        raise ValueError(f"{Path(cfg.volume_path).name}: {err}") from err


def _budget_unrolls(cfg: LearnedConfig, data: BrainSlices, device: str) -> LearnedConfig:
    """``cfg`` with K picked by the memory budget when asked: the largest K at which every
    chosen mode's step fits (:func:`pick_unrolls`)."""
    if not (cfg.budget_picks_k and cfg.memory_budget > 0):
        return cfg
    shared = not (cfg.train_gleam and cfg.modules > 1)

    def measure(n: int) -> float:
        try:
            plan = _plan(dataclasses.replace(cfg, n_unrolls=n))
        except ValueError:              # GLEAM's unrolls do not split: this K is no choice
            return float("inf")
        return max(run_bytes(_net(cfg, k, shared, mode), mode, g, data, cfg.batch, device,
                             cfg.gan_weight) for mode, k, g in plan)

    k_max = min(24, 48 // cfg.gleam_factor) if cfg.train_gleam else 24
    return dataclasses.replace(cfg, n_unrolls=pick_unrolls(measure, cfg.memory_budget, k_max))


def _apply_budget(cfg: LearnedConfig, plan: list, data: BrainSlices, device: str):
    """``(plan, bytes per mode, notes)`` under the memory budget (:mod:`engine.learned.budget`)."""
    shared = not (cfg.train_gleam and cfg.modules > 1)
    return fit_budget(
        plan, cfg.memory_budget,
        lambda mode, k, g: run_bytes(_net(cfg, k, shared, mode), mode, g, data, cfg.batch,
                                     device, cfg.gan_weight),
        lambda: smallest_bytes(_net(cfg, 1, True), data, cfg.batch, device))


def _plan(cfg: LearnedConfig) -> list[tuple[str, int, int]]:
    """``(mode, K, G)`` of every run; refuses a plan that cannot be trained (clear message)."""
    plan = [(m, cfg.n_unrolls, 1) for m, on in (("e2e", cfg.train_e2e),
                                                  ("checkpoint", cfg.train_checkpoint)) if on]
    if cfg.train_gleam:
        k = cfg.gleam_factor * cfg.n_unrolls
        if k % cfg.modules:
            raise ValueError(f"GLEAM's {k} unrolls (K = {cfg.n_unrolls} × {cfg.gleam_factor}) "
                             f"cannot be split into {cfg.modules} equal modules")
        if k > 48:
            raise ValueError(f"GLEAM would have {k} unrolls; at most 48 (lower K or the factor)")
        plan.append(("gleam", k, cfg.modules))
    if not plan and not cfg.train_otcycle:
        raise ValueError("choose at least one training mode (end-to-end, checkpointing, GLEAM, "
                         "OT-cycleGAN)")
    if cfg.train_otcycle:
        plan.append(("otcycle", cfg.n_unrolls, 1))
    if cfg.scale_study:
        if not cfg.train_e2e:
            raise ValueError("the scale-shift study compares the scale-equivariant net with the "
                             "plain end-to-end net: switch 'Train end-to-end' on")
        plan.append(("scale_eq", cfg.n_unrolls, 1))
    return plan


def _net(cfg: LearnedConfig, n_unrolls: int, shared: bool, key: str = "e2e") -> Unrolled:
    torch.manual_seed(cfg.seed)
    denoiser = "scale_equivariant" if key == "scale_eq" else "plain"
    width = cfg.se_width if key == "scale_eq" else cfg.width
    if cfg.net == "modl":
        return unrolled_net("modl", n_unrolls, width, cfg.depth, shared=shared,
                            cg_iters=cfg.cg_iters, denoiser=denoiser)
    return unrolled_net("varnet", n_unrolls, width, cfg.depth, denoiser=denoiser)


@torch.no_grad()
def _strip(net: Unrolled, data: BrainSlices, index: int, device: str) -> np.ndarray:
    net.eval()
    _, strip = net(data.test.k[index:index + 1].to(device), data.operator(device), keep=True)
    return np.stack([s[0].abs().cpu().numpy() for s in strip]).astype(np.float32)


def _weights(net: Unrolled) -> dict:
    return {k: v.detach().cpu().float().numpy() for k, v in net.state_dict().items()}


def _mode_run(mode, net, train, data, index, device) -> ModeRun:
    per = net.n_unrolls // train.modules
    strip = _strip(net, data, index, device)
    return ModeRun(mode, MODE_TITLES[mode], net.n_unrolls, train.modules, train.loss,
                   train.module_loss, train.val_steps, train.val_psnr, train.val_ssim,
                   train.test_psnr, train.test_ssim, train.peak_bytes, train.seconds_per_step,
                   strip, np.arange(1, train.modules) * per, strip[-1], train.message,
                   net.arch(), _weights(net))


def _curves(live: dict) -> dict:
    return {"stage": "curves", "modes": {m: {k: np.asarray(v) for k, v in c.items()}
                                         for m, c in live.items()}}


def _trainer(cfg, mode, g, net, data, device, state):
    """The training generator of run ``mode``, continuing ``state`` (None: from the start)."""
    steps = cfg.steps + (state["step"] if state else 0)
    if mode == "otcycle":
        return train_ot_cyclegan(net, data, steps, cfg.lr, cfg.seed, cfg.batch, cfg.eval_every,
                                 device, gan_weight=cfg.gan_weight, n_critic=cfg.n_critic,
                                 resume=state)
    return train_unrolled(net, data, TRAIN_MODE.get(mode, mode), g, steps, cfg.lr, cfg.seed,
                          cfg.batch, cfg.eval_every, device, resume=state)


def _live_curve(live: dict, mode: str, state: Optional[dict]) -> dict:
    """The mode's live curve, starting with the resumed run's history (steps continue)."""
    old = state or {"loss": [], "val_steps": [], "val_psnr": []}
    return live.setdefault(mode, {"step": list(range(1, len(old["loss"]) + 1)),
                                  "loss": list(old["loss"]),
                                  "val_steps": list(old["val_steps"]),
                                  "val_psnr": list(old["val_psnr"])})


def _train_mode(cfg, mode, k, g, data, device, live, span, save, resume=(None, None)
                ) -> Generator:
    """Train one run (``mode``: a MODE_TITLES key), streaming ``curves`` (throttled); ``save``
    writes its checkpoint when it ends, stops or is cancelled (generator closed). Returns its
    :class:`ModeRun` and trained net."""
    net, state = resume
    net = net if net is not None else _net(cfg, k, not (cfg.train_gleam and cfg.modules > 1),
                                           mode)
    curve = _live_curve(live, mode, state)
    gen, last = _trainer(cfg, mode, g, net, data, device, state), 0.0
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            train = stop.value
            break
        except BaseException as exc:       # interrupted mid-step (cancel): its last step
            if getattr(exc, "stopped_result", None) is not None:
                save(mode, exc.stopped_result)
            raise
        curve["step"].append(p.partial["step"])
        curve["loss"].append(p.partial["loss"])
        if p.partial["val"] is not None:
            curve["val_steps"].append(p.partial["step"])
            curve["val_psnr"].append(p.partial["val"][0])
        now = time.monotonic()
        partial = _curves(live) if now - last > 0.25 or p.fraction >= 1 else None
        last = now if partial is not None else last
        try:
            yield Progress(span[0] + (span[1] - span[0]) * p.fraction,
                           f"{MODE_TITLES[mode]}: {p.message.split(': ', 1)[-1]}", partial)
        except GeneratorExit:              # cancelled: keep the last step as a checkpoint
            _save_stopped(gen, save, mode)
            raise
    save(mode, train)
    return _mode_run(mode, net, train, data, _shown_index(data), device), net


def _save_stopped(gen, save, mode: str) -> None:
    try:
        gen.throw(StopTraining())
    except StopIteration as stop:
        save(mode, stop.value)


def _save(folder, marks: dict, saved: list, notes: list, mode: str, train) -> None:
    """Write run ``mode``'s checkpoint; a folder that cannot be written is a note, not a
    failed run."""
    try:
        save_checkpoint(folder, mode, marks[mode], train)
        saved.append(mode)
    except (OSError, ValueError) as err:
        notes.append(f"{MODE_TITLES[mode]}: checkpoint not saved ({err})")


def _shown_index(data: BrainSlices) -> int:
    return len(data.test) // 2


def _shipped(data: BrainSlices, device: str, notes: list) -> Optional[ModeRun]:
    try:
        net, card = load_unrolled(shipped_path(), device)
    except (FileNotFoundError, ValueError) as exc:
        notes.append(f"shipped net not shown: {exc}")
        return None
    psnr, ssim = evaluate(net, data, "test", device)
    strip = _strip(net, data, _shown_index(data), device)
    empty = np.zeros(0)
    return ModeRun("shipped", MODE_TITLES["shipped"], net.n_unrolls, 1, empty, empty.reshape(0, 1),
                   empty.astype(int), empty, empty, psnr, ssim, 0, 0.0, strip,
                   np.zeros(0, int), strip[-1], str(card.get("summary", "")), net.arch(),
                   _weights(net))


def run_config(cfg: LearnedConfig, device: str = "cpu"
               ) -> Generator[Progress, None, LearnedResult]:
    """Train the chosen modes on the same data and steps and compare them (SCIENCE.md §6.3.3).

    Parameters
    ----------
    cfg : LearnedConfig
    device : str

    Returns
    -------
    LearnedResult
        Curves, memory, time per step, unroll strips and test PSNRs of every mode beside
        zero-filled and CG-SENSE (and the shipped net when asked).
    """
    validate(cfg)
    plan = _plan(cfg)
    yield Progress(0.0, "loading brain slices")
    data = _load_data(cfg)
    picked = _budget_unrolls(cfg, data, device)
    budget_notes = [f"K = {picked.n_unrolls} picked by the {cfg.memory_budget:g} MB budget"
                    ] if picked is not cfg else []
    cfg = picked
    plan, _, refused = _apply_budget(cfg, _plan(cfg), data, device)
    budget_notes += refused
    marks = {m: fingerprint(cfg, m, k, g) for m, k, g in plan}
    found, resume_notes = load_checkpoints(cfg, marks, MODE_TITLES) if cfg.resume else ({}, [])
    folder, saved, notes = checkpoint_folder(cfg), [], budget_notes + resume_notes
    save = functools.partial(_save, folder, marks, saved, notes)
    i = _shown_index(data)
    truth = data.test.target[i].abs().numpy()
    zf, cg = data.reconstruct("zero_filled"), data.reconstruct("cg_sense")
    base = {"zero_filled": mean_psnr(zf, data.test.target),
            "cg_sense": mean_psnr(cg, data.test.target),
            "zero_filled_ssim": mean_ssim(zf, data.test.target),
            "cg_sense_ssim": mean_ssim(cg, data.test.target)}
    mask = data.mask.numpy()
    yield Progress(0.02, "baselines done", {"stage": "data", "truth": truth,
                                            "zero_filled": zf[i].abs().numpy(),
                                            "cg_sense": cg[i].abs().numpy(), "mask": mask,
                                            "baseline_psnr": base,
                                            "checkpoint_dir": str(folder)})
    cost = {"checkpoint": 2, "scale_eq": 2, "otcycle": 2}      # relative time per unroll
    weights = np.array([k * cost.get(m, 1) for m, k, _ in plan], float)
    ends = 0.02 + 0.96 * np.cumsum(weights) / weights.sum()
    runs, live, nets = [], {}, {}
    for (mode, k, g), start, end in zip(plan, np.r_[0.02, ends[:-1]], ends):
        run, nets[mode] = yield from _train_mode(cfg, mode, k, g, data, device, live,
                                                 (start, end), save,
                                                 found.get(mode, (None, None)))
        runs.append(run)
        if run.message:
            notes.append(f"{run.title}: {run.message}")
        yield Progress(end, f"{run.title} done", {"stage": f"run:{mode}", "run": run})
    if saved:
        notes.append(f"checkpoints of {', '.join(MODE_TITLES[m] for m in saved)} saved in {folder} (tick 'Resume "
                     f"training' to continue them)")
    shipped = _shipped(data, device, notes) if cfg.shipped else None
    if shipped is not None:
        yield Progress(1.0, "shipped net evaluated", {"stage": "shipped", "run": shipped})
    scale = None
    if cfg.scale_study:
        yield Progress(0.99, "testing both nets on zoomed slices (0.6–1.5×)")
        scale = yield from relay(psnr_vs_scale_iter(
            {MODE_TITLES[m]: nets[m] for m in ("e2e", "scale_eq")}, data, device=device),
            0.99, 1.0, "scale-shift study: ")
        yield Progress(1.0, "scale-shift study done", {"stage": "scale", "scale": scale})
    result = LearnedResult(cfg, truth, zf[i].abs().numpy(), cg[i].abs().numpy(), mask, base,
                           runs, shipped, notes, scale)
    notes += nonfinite_notes([*runs, shipped], {"truth": truth, "zero-filled": result.zero_filled,
                                                 "CG-SENSE": result.cg_sense})
    return result
