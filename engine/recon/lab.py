"""Reconstruction lab run: volume → acquisition (CT or MRI) → one or two methods, with every
k-th iterate, PSNR per iteration and per slice (SCIENCE.md §4.1-4.8).

:func:`run_config` is a progress generator (``engine.core`` contract): it yields
:class:`~engine.core.Progress` (``partial`` = ``{"method", "iteration", "volume"}`` for live
convergence) and returns a :class:`ReconResult`.

Partials are staged (docs/CONTRACTS.md, "Partials"): ``truth`` (the ground truth, its spacing,
the method names in result order and the voxel to show first), one ``method:<name>`` stage per
method (its newest iterate, then its final volume with ``done``) and a cumulative ``ranking``
stage (one row per finished method, fast methods first).
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Generator, Optional

import numpy as np
import torch

from engine.core import Progress, drain, param, validate
from engine.recon.ct import Radon, add_noise
from engine.recon.fbp import FILTERS
from engine.recon.masks import KINDS as MASK_KINDS
from engine.recon.masks import make_mask
from engine.recon.methods import METHODS, cached_prior, method_knobs, methods_for
from engine.recon.metrics import psnr, slice_metric
from engine.recon.mri import MRI
from engine.recon.phantom import ELLIPSOIDS, shepp_logan_3d
from engine.recon.volume_io import demo_volume, load_volume, resample_volume

__all__ = ["ReconConfig", "MethodRun", "ReconResult", "run_config", "run", "load_truth",
           "load_truth_noted", "truth_notes",
           "focus_voxel",
           "cached_prior", "cached_radon", "METHODS", "ALL_METHODS", "CT_METHODS",
           "MRI_METHODS", "DIFFUSION_METHODS"]

CT_METHODS = tuple(n for n, s in METHODS.items() if s.modality == "ct")
MRI_METHODS = tuple(n for n, s in METHODS.items() if s.modality == "mri")
DIFFUSION_METHODS = tuple(n for n, s in METHODS.items() if s.modality == "both")
ALL_METHODS = tuple(METHODS)
SOURCES = ("shepp-logan", "brain", "file")


@dataclass(frozen=True)
class ReconConfig:
    """Sparse-view CT or undersampled MRI of a 3-D volume, reconstructed by two methods."""

    source: str = param("shepp-logan", label="Volume", choices=SOURCES,
                        help="3-D Shepp–Logan phantom, the MNI brain template, or a file")
    path: str = param("", label="File", hidden=True,
                      help="NIfTI / DICOM folder / .npy / TIFF volume for source 'file'")
    size: int = param(128, label="In-plane size", min=16, max=512, unit="px",
                      help="Slices are resampled to size × size pixels")
    slices: int = param(16, label="Slices", min=1, max=256,
                        help="Number of axial slices (the volume is resampled along z)")
    modality: str = param("ct", label="Modality", choices=("ct", "mri"),
                          help="Parallel-beam CT (per axial slice) or Cartesian MRI")
    n_views: int = param(30, label="CT views", min=1, max=720,
                         help="Projection angles, evenly spaced over the angular range")
    angle_range: float = param(180.0, label="CT angular range", unit="deg", min=1.0,
                               max=180.0, help="180 = full; less = limited-angle CT")
    noise: str = param("none", label="CT noise", choices=("none", "gaussian", "poisson"),
                       help="Noise added to the sinogram")
    noise_level: float = param(0.01, label="Noise level", min=0.0, max=1e6,
                               help="Gaussian: σ / max|sinogram|; Poisson: photons per ray")
    mask: str = param("random", label="MRI mask", choices=MASK_KINDS,
                      help="k-space sampling pattern")
    acceleration: float = param(4.0, label="MRI acceleration", min=1.0, max=32.0,
                                help="Undersampling factor R")
    n_coils: int = param(8, label="MRI coils", min=1, max=32,
                         help="Synthetic receive coils (Σ|S_c|² = 1)")
    method_a: str = param("fbp", label="Method A", choices=ALL_METHODS,
                          help="First reconstruction (CT: fbp, sirt, cgls, tv; MRI: "
                               "zero_filled, cg_sense, cs_tv, cs_wavelet; both: the "
                               "diffusion-prior solvers dds, mbir, mcg, ccdf)")
    method_b: str = param("tv", label="Method B", choices=("none",) + ALL_METHODS,
                          help="Second reconstruction for the comparison")
    also: str = param("", label="Also rank",
                      help="More methods run on the same acquisition and ranked with A and B, "
                           "comma-separated (e.g. 'tv, dds')")
    filter: str = param("ramp", label="FBP filter", choices=tuple(FILTERS),
                        help="Ramp filter window of FBP")
    iters: int = param(50, label="Iterations", min=1, max=2000,
                       help="Iterations of the iterative methods")
    lam: float = param(1e-3, label="Regularisation λ", min=0.0, max=10.0, log=True,
                       help="TV / compressed-sensing weight")
    diffusion_steps: int = param(50, label="Diffusion steps", min=1, max=1000,
                                 help="Steps of the diffusion solvers (DDS, CCDF: 1 network "
                                      "evaluation each; MBIR: 2; MCG: 1 + a gradient)")
    t0: float = param(0.5, label="CCDF start t0", min=0.01, max=1.0,
                      help="CCDF diffuses the FBP / zero-filled estimate to t0 and runs only "
                           "the last t0 of the steps")
    tv_z: float = param(5e-4, label="MBIR TV along z", min=0.0, max=1.0,
                        help="DiffusionMBIR's ADMM weight λ of TV along the slices (0: off)")
    prior_path: str = param("", label="Slice prior file", hidden=True,
                            help="Weights of a slice prior trained in the app; empty: the "
                                 "shipped prior for the in-plane size (64 or 128)")
    net_path: str = param("", label="Unrolled net file", hidden=True,
                          help="Weights of an unrolled net saved by the learned lab ('Save "
                               "trained net…'); empty: the shipped VarNet")
    every: int = param(5, label="Record every", min=1, max=100,
                       help="Keep every k-th iterate for the convergence slider")
    seed: int = param(0, label="Seed", min=0, max=2**31 - 1,
                      help="Seed of the mask, the coil maps and the noise")


@dataclass
class MethodRun:
    """One reconstruction: the result, its iterates and its convergence curves (CPU numpy)."""
    name: str
    volume: np.ndarray                       # (z, y, x)
    iterates: list = field(default_factory=list)    # [(iteration, (z, y, x))]
    psnr_curve: list = field(default_factory=list)  # [(iteration, psnr)]
    slice_psnr: tuple = ()                   # per axis (z, y, x): arrays of slice PSNR
    psnr: float = float("nan")
    ssim: float = float("nan")               # mean SSIM of the axial slices
    seconds: float = 0.0
    residual_curve: list = field(default_factory=list)  # [(iteration, ‖Ax - y‖ / ‖y‖)]
    steps: int = 0                           # iterations / diffusion steps (0: direct)


@dataclass
class ReconResult:
    config: ReconConfig
    truth: np.ndarray                        # (z, y, x) in [0, 1]
    spacing: tuple
    acquisition: np.ndarray                  # sinogram (n_angles, n) or log|k| (ny, nx) of the middle slice
    mask: Optional[np.ndarray]               # MRI mask (ny, nx)
    coil_maps: Optional[np.ndarray]          # |S_c| (C, ny, nx)
    runs: list                               # [MethodRun] (A, B, then the ranked extras)
    notes: list = field(default_factory=list)  # what the user should know (failed methods…)
    focus: tuple = ()                        # voxel (z, y, x) to show first (focus_voxel)

    def ranking(self) -> list:
        """The runs sorted by PSNR, best first."""
        return sorted(self.runs, key=lambda m: -m.psnr)


def load_truth(cfg: ReconConfig) -> tuple[torch.Tensor, tuple]:
    """The ground-truth volume (z, size, size) scaled to [0, 1] and its spacing (mm)."""
    return load_truth_noted(cfg)[:2]


def load_truth_noted(cfg: ReconConfig) -> tuple[torch.Tensor, tuple, list]:
    """:func:`load_truth` and the notes of loading the file (``Volume.notes``: colour →
    luminance, NaN voxels replaced, missing DICOM slices …), which the result shows."""
    shape = (cfg.slices, cfg.size, cfg.size)
    if cfg.source == "shepp-logan":
        # The phantom cube [-1, 1]³ shown as a 200 mm field of view.
        return (shepp_logan_3d(shape), (200.0 / cfg.slices, 200.0 / cfg.size,
                                        200.0 / cfg.size), [])
    if cfg.source == "brain":
        vol = demo_volume("brain")
    else:
        if not cfg.path:
            raise ValueError("volume source 'file' needs a file: use File → Open volume…")
        vol = load_volume(cfg.path)
    vol = resample_volume(vol, shape)
    data = vol.data.float()
    lo, hi = float(data.min()), float(data.max())
    data = (data - lo) / (hi - lo) if hi > lo else torch.zeros_like(data)
    return data, tuple(float(s) for s in vol.spacing), vol.notes


def focus_voxel(cfg: ReconConfig, shape: tuple) -> tuple:
    """The voxel ``(z, y, x)`` a view of the volume should open on.

    For the Shepp–Logan phantom it is the axial slice through the centres of the two
    ventricle ellipsoids (rows 3–4 of the table, SCIENCE.md §4.4: z0 = −0.25 on the cube
    [−1, 1]³; slice k is centred at z = −1 + (2k + 1) / nz); otherwise the centre of the volume.
    """
    centre = tuple(int(n) // 2 for n in shape)
    if cfg.source != "shepp-logan":
        return centre
    z0, nz = ELLIPSOIDS[2][5], int(shape[0])
    return (min(nz - 1, max(0, int(math.floor((1.0 + z0) / 2.0 * nz)))),) + centre[1:]


def _check_methods(cfg: ReconConfig) -> list[str]:
    """Method A, B and the extras to rank, validated for the modality, without repeats."""
    valid = methods_for(cfg.modality)
    extras = [m.strip() for m in cfg.also.replace(";", ",").split(",") if m.strip()]
    names = [cfg.method_a] + ([cfg.method_b] if cfg.method_b != "none" else []) + extras
    for name in names:
        if name not in valid:
            raise ValueError(f"method {name!r} does not apply to {cfg.modality.upper()}; "
                             f"choose one of {', '.join(valid)}")
    return list(dict.fromkeys(names))


def run_config(cfg: ReconConfig, device: str = "cpu") -> Generator[Progress, None, ReconResult]:
    """Acquire and reconstruct per ``cfg`` (see module docstring)."""
    validate(cfg)
    names = _check_methods(cfg)
    truth, spacing, load_notes = load_truth_noted(cfg)
    truth = truth.to(device)
    yield Progress(0.02, "acquisition")
    if cfg.modality == "ct":
        op, data, acq, mask, maps = _acquire_ct(cfg, truth)
    else:
        op, data, acq, mask, maps = _acquire_mri(cfg, truth)
    focus = focus_voxel(cfg, tuple(truth.shape))
    yield Progress(0.04, "acquired", partial={"stage": "truth", "truth": truth.cpu().numpy(),
                                              "spacing": spacing, "names": names,
                                              "focus": focus})
    done, notes = {}, load_notes + truth_notes(truth)
    for i, name in enumerate(sorted(names, key=lambda n: METHODS[n].cost)):   # fast first
        lo, span = 0.05 + 0.95 * i / len(names), 0.95 / len(names)
        try:
            run = yield from _reconstruct(name, cfg, op, data, truth, lo, span, notes)
        except (FileNotFoundError, ValueError) as err:
            if name not in (*DIFFUSION_METHODS, "unrolled_net"):   # its net/prior file or size
                raise
            notes.append(f"{name} skipped: {err}")      # no usable prior: the rest still run
            continue
        if run is None:                                 # diverged: noted, not ranked
            continue
        if math.isinf(run.psnr):
            notes.append(f"{name}: the reconstruction equals the ground truth exactly "
                         "(PSNR = ∞)")
        done[name] = run
        yield Progress(lo + span, f"{name} done", partial={
            "stage": f"method:{name}", "method": name, "iteration": run.steps,
            "volume": run.volume, "done": True})
        yield Progress(lo + span, f"{name} ranked", partial={
            "stage": "ranking", "rows": [_ranking_row(m) for m in done.values()]})
    runs = [done[n] for n in names if n in done]                   # A, B, extras
    if not runs:
        raise ValueError("; ".join(notes))
    return ReconResult(cfg, truth.cpu().numpy(), spacing, acq, mask, maps, runs, notes, focus)


def truth_notes(truth: torch.Tensor) -> list:
    """Notes on a ground truth that makes PSNR/SSIM meaningless (all zero: a constant volume
    or a field of view outside the object), so an infinite PSNR is never silent."""
    if float(truth.abs().max()) > 0:
        return []
    return ["the ground truth is all zero (a constant volume): PSNR and SSIM against it "
            "are not meaningful (a zero reconstruction scores PSNR = ∞)"]


def _ranking_row(run: MethodRun) -> tuple:
    """``(name, PSNR, SSIM, seconds, steps)`` of a finished run (one row of the ranking)."""
    return (run.name, run.psnr, run.ssim, run.seconds, run.steps)


@functools.lru_cache(maxsize=4)
def cached_radon(n: int, n_views: int, angle_range: float, device: str) -> Radon:
    """The Radon operator for evenly spaced angles, built once per geometry (set-up is the slow
    part: a sparse matrix per geometry), so re-runs with other methods or λ start at once."""
    angles = torch.linspace(0.0, angle_range, n_views + 1)[:-1]
    return Radon(n=n, angles_deg=angles, device=device)


def _acquire_ct(cfg, truth):
    R = cached_radon(cfg.size, cfg.n_views, float(cfg.angle_range), str(truth.device))
    sino = R.project(truth)      # a new geometry: no wait for the matrix A (issue #16)
    if cfg.noise != "none":
        sino = add_noise(sino, cfg.noise, cfg.noise_level, cfg.seed)
    return R, sino, sino[len(sino) // 2].cpu().numpy(), None, None


def _acquire_mri(cfg, truth):
    mask = make_mask(cfg.mask, (cfg.size, cfg.size), acceleration=cfg.acceleration,
                     seed=cfg.seed)
    op = MRI(mask=mask, n_coils=cfg.n_coils, shape=(cfg.size, cfg.size), seed=cfg.seed,
             device=str(truth.device))
    k = op.forward(truth.to(torch.complex64))
    mid = k[len(k) // 2].abs().pow(2).sum(0).sqrt()
    acq = torch.log10(mid + 1e-6).cpu().numpy()
    maps = op.maps.abs().cpu().numpy()
    return op, k, acq, mask.cpu().numpy(), maps


def _residual(op, data, vol: torch.Tensor) -> float:
    """Relative data residual ``‖A x - y‖ / ‖y‖`` of a real volume."""
    x = vol if isinstance(op, Radon) else vol.to(torch.complex64)
    return float((op.forward(x) - data).norm() / data.norm().clamp_min(1e-30))


def _reconstruct(name, cfg, op, data, truth, lo, span, notes: list) -> Generator:
    """Run method ``name`` of :data:`~engine.recon.methods.METHODS` with its knobs from ``cfg``,
    keeping every reported iterate with its PSNR and data residual; None (with a note) when
    the method's volume becomes non-finite."""
    start = time.perf_counter()
    spec, knobs = METHODS[name], method_knobs(name, cfg)
    total = spec.steps(knobs)
    run = MethodRun(name=name, volume=np.zeros(0), steps=total)
    gen = spec.make_iter(op, data, cfg.every, notes, **knobs)
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            final = stop.value
            break
        k = int(round(p.fraction * total))
        if p.partial is not None:
            vol = _real(p.partial)
            if not bool(torch.isfinite(vol).all()):
                gen.close()
                notes.append(_diverged_note(name, k))
                return None
            run.iterates.append((k, vol.cpu().numpy()))
            run.psnr_curve.append((k, psnr(vol, truth, data_range=1.0)))
            run.residual_curve.append((k, _residual(op, data, vol)))
        yield Progress(lo + span * p.fraction, f"{name}: step {k} of {total}",
                       partial={"stage": f"method:{name}", "method": name, "iteration": k,
                                "volume": run.iterates[-1][1] if run.iterates else None})
    vol = _real(final)
    if not bool(torch.isfinite(vol).all()):
        notes.append(_diverged_note(name, total))
        return None
    run.volume = vol.cpu().numpy()
    if not run.iterates:   # nothing shown yet (FBP): the image before its scores, whose
        # data residual may first assemble the matrix A (issue #16)
        yield Progress(lo + span, f"{name}: scoring", partial={
            "stage": f"method:{name}", "method": name, "iteration": total,
            "volume": run.volume})
        if isinstance(op, Radon):
            op.assemble()        # now, after the image: the next run reads them from disk
    run.psnr = psnr(vol, truth, data_range=1.0)
    run.psnr_curve.append((total, run.psnr))
    run.residual_curve.append((total, _residual(op, data, vol)))
    run.slice_psnr = tuple(np.asarray(slice_metric(vol, truth, "psnr", axis=a, data_range=1.0))
                           for a in range(3))
    run.ssim = float(slice_metric(vol, truth, "ssim", axis=0, data_range=1.0).mean())
    run.seconds = time.perf_counter() - start
    return run


def _diverged_note(name: str, step: int) -> str:
    return (f"{name}: the reconstruction became non-finite (NaN/∞) by step {step}, so it is "
            "left out of the ranking; try a smaller λ or fewer iterations")


def _real(x: torch.Tensor) -> torch.Tensor:
    return x.abs() if x.is_complex() else x


def run(cfg: ReconConfig, device: str = "cpu") -> ReconResult:
    """Blocking :func:`run_config`."""
    return drain(run_config(cfg, device))
