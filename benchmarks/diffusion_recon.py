"""Diffusion priors for 3-D reconstruction (issue #6): time per volume and PSNR/SSIM of DDS,
DiffusionMBIR, MCG and CCDF beside FBP, TV and CG-SENSE on the same acquisition.

CT: 8 parallel-beam views over 180°; MRI: ×8 random lines (``make_mask("random")``), 8 coils.
Volume: ``--slices`` axial slices of ``--size``² from the modified 3-D Shepp–Logan phantom or the
MNI brain (``--source``), in [0, 1]. Metrics: volume PSNR (data range 1) and the mean per-slice
SSIM (scikit-image conventions, SCIENCE.md §4.8). Times include everything from the measurement
to the volume (the prior is loaded beforehand). Every method is seeded.

Run::

    .venv/bin/python benchmarks/diffusion_recon.py [--device cpu|cuda] [--size 128]
        [--slices 32] [--dds-steps 50] [--mbir-steps 100] [--quick] [--markdown]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from engine.recon import (MRI, Radon, cg_sense, fbp, make_mask, psnr, shepp_logan_3d,  # noqa: E402
                          slice_metric, tv_pdhg, zero_filled)
from engine.recon.diffusion import diffusion_reconstruct  # noqa: E402
from engine.slice_prior import load_slice_prior  # noqa: E402


def load_truth(source: str, slices: int, size: int, brain_npy: str) -> torch.Tensor:
    if source == "shepp-logan":
        return shepp_logan_3d((slices + 2, size, size))[1:-1]      # no empty edge slices
    if brain_npy:
        vol = torch.from_numpy(np.load(brain_npy)).float()
    else:
        from engine.recon import demo_volume
        vol = demo_volume("brain").data.float()
    nz = vol.shape[0]
    idx = torch.linspace(0.3 * nz, 0.7 * nz, slices).long()
    sl = torch.nn.functional.interpolate(vol[idx][:, None], size=(size, size), mode="area")
    return sl[:, 0].clamp(0, 1)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str):
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - t0


def score(x: torch.Tensor, truth: torch.Tensor) -> tuple[float, float]:
    x = x.abs() if x.is_complex() else x
    x = x.float().cpu().clamp(0, 1)
    ssim = float(slice_metric(x, truth, "ssim", axis=0, data_range=1.0).mean())
    return psnr(x, truth, data_range=1.0), ssim


def methods(args, prior, op, y, kind):
    """``[(name, callable)]`` for CT or MRI."""
    d = lambda m, n, **kw: (lambda: diffusion_reconstruct(m, prior, op, y, n_steps=n,  # noqa: E731
                                                          seed=0, **kw))
    steps, mb = args.dds_steps, args.mbir_steps
    if kind == "ct":
        base = [("FBP", lambda: fbp(y, op)),
                ("TV (PDHG, 300 it)", lambda: tv_pdhg(y, op, lam=args.tv_lam, iters=300))]
        diff = [(f"DDS ({steps} NFE)", d("dds", steps)),
                (f"DDS + TV-z ({steps} NFE)", d("dds", steps, tv_z=args.tv_z)),
                (f"DiffusionMBIR ({2 * mb} NFE)", d("mbir", mb, tv_z=args.tv_z)),
                (f"MCG ({mb} NFE + grad)", d("mcg", mb)),
                (f"CCDF (t0 = 0.3, {int(0.3 * steps)} NFE)", d("ccdf", steps, t0=0.3))]
    else:
        base = [("zero-filled", lambda: zero_filled(y, op)),
                ("CG-SENSE (20 it)", lambda: cg_sense(y, op, iters=20))]
        diff = [(f"CCDF (t0 = 0.3, {int(0.3 * steps)} NFE)", d("ccdf", steps, t0=0.3)),
                (f"DDS ({steps} NFE)", d("dds", steps)),
                (f"DiffusionMBIR ({2 * mb} NFE)", d("mbir", mb, tv_z=args.tv_z))]
    return base + diff


def run(args) -> list[tuple]:
    dev = args.device
    truth = load_truth(args.source, args.slices, args.size, args.brain_npy)
    prior = load_slice_prior(args.size, path=args.prior or None, device=dev)
    R = Radon(args.size, torch.linspace(0, 180, args.views + 1)[:-1], device=dev)
    mask = make_mask("random", (args.size, args.size), acceleration=args.accel, seed=0)
    M = MRI(mask=mask, n_coils=8, shape=(args.size, args.size), device=dev)
    rows = []
    for kind, op in (("ct", R), ("mri", M)):
        x = truth.to(dev)
        y = op.forward(x if kind == "ct" else x.to(torch.complex64))
        for name, fn in methods(args, prior, op, y, kind):
            if args.only and not any(name.startswith(o) for o in args.only.split(",")):
                continue
            out, sec = timed(fn, dev)
            p, s = score(out, truth)
            rows.append((kind.upper(), name, sec, p, s))
            print(f"{kind.upper():4s} {name:32s} {sec:8.2f} s  PSNR {p:6.2f} dB  SSIM {s:.3f}",
                  flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--slices", type=int, default=32)
    ap.add_argument("--source", default="shepp-logan", choices=("shepp-logan", "brain"))
    ap.add_argument("--views", type=int, default=8)
    ap.add_argument("--accel", type=float, default=8.0)
    ap.add_argument("--dds-steps", type=int, default=50)
    ap.add_argument("--mbir-steps", type=int, default=100)
    ap.add_argument("--tv-z", type=float, default=0.002)
    ap.add_argument("--tv-lam", type=float, default=2e-3)
    ap.add_argument("--prior", default="", help="weights file (default: the shipped one)")
    ap.add_argument("--brain-npy", default="", help="brain volume .npy (z, y, x) in [0, 1]")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave)")
    ap.add_argument("--only", default="", help="comma-separated method-name prefixes to run "
                                                "(e.g. 'FBP,TV,DDS (,DiffusionMBIR')")
    ap.add_argument("--quick", action="store_true", help="4 slices of 64², 10 / 10 steps")
    ap.add_argument("--markdown", action="store_true", help="also print a README table")
    args = ap.parse_args()
    if args.quick:
        args.size, args.slices, args.dds_steps, args.mbir_steps = 64, 4, 10, 10
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"{args.slices} × {args.size}² {args.source}, CT {args.views} views, MRI ×{args.accel:g}"
          f" (8 coils), device {name}, torch threads {torch.get_num_threads()}")
    rows = run(args)
    if args.markdown:
        print("\n| Modality | Method | Time (s) | PSNR (dB) | SSIM |\n|---|---|---|---|---|")
        for kind, mname, sec, p, s in rows:
            print(f"| {kind} | {mname} | {sec:.2f} | {p:.2f} | {s:.3f} |")


if __name__ == "__main__":
    main()
