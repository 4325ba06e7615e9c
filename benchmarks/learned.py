"""Learned-reconstruction benchmark (SCIENCE.md §6.3.2, §6.3.3).

    python benchmarks/learned.py --quick            # per-mode s/step and peak bytes, 64², K = 6
    python benchmarks/learned.py --ratio            # 24 unrolls in 3 modules vs end-to-end
    python benchmarks/learned.py --study            # equal memory: e2e K vs GLEAM 3K in 3 modules
    python benchmarks/learned.py --ship             # retrain resources/learned/varnet_k6_64.pt
    python benchmarks/learned.py --inference        # shipped net on a 32-slice 64² volume (≤ 2 s)
    python benchmarks/learned.py --scale            # plain vs scale-equivariant, PSNR vs zoom

Peak bytes: CPU = saved activations (engine/learned/memory.py), CUDA = max_memory_allocated.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core import drain                                           # noqa: E402
from engine.imaging.unrolled import unrolled_net                        # noqa: E402
from engine.imaging.unrolled_io import save_unrolled                    # noqa: E402
from engine.learned import brain_slices, train_unrolled                 # noqa: E402
from engine.learned.lab import shipped_path                             # noqa: E402
from engine.learned.steps import module_ranges, run_step                # noqa: E402
from engine.learned.train import _optimizers                            # noqa: E402

TABLE_SAVED_RATIO = 131 / 393      # §6.3.2: saved graph, GLEAM K=24 G=3 vs end-to-end K=24
TABLE_PEAK_RATIO = 212 / 486       # §6.3.2: peak ΔRSS (with the fixed share M0)


def _train(kind, mode, k, g, data, steps, device, seed=0, lr=2e-3):
    torch.manual_seed(seed)
    net = unrolled_net(kind, k, 16, 4, shared=None if kind == "varnet" or g == 1 else False)
    t0 = time.perf_counter()
    r = drain(train_unrolled(net, data, mode, g, steps, lr, seed, 4, max(steps, 1), device))
    return r, time.perf_counter() - t0


def quick(device: str, steps: int) -> None:
    data = brain_slices(64, 4, 8, 0)
    print(f"64², K = 6, width 16, depth 4, batch 4, {steps} steps, device {device}")
    print(f"{'net':7s} {'mode':11s} {'G':>2s} {'s/step':>7s} {'peak MB':>8s} {'test PSNR':>9s}")
    for kind in ("varnet", "modl"):
        for mode, g in (("e2e", 1), ("checkpoint", 1), ("gleam", 3)):
            r, _ = _train(kind, mode, 6, g, data, steps, device)
            print(f"{kind:7s} {mode:11s} {g:2d} {r.seconds_per_step:7.3f} "
                  f"{r.peak_bytes / 1e6:8.2f} {r.test_psnr:9.2f}")


def _saved_bytes(kind, mode, k, g, data, device):
    net = unrolled_net(kind, k, 16, 4, shared=None if kind == "varnet" else False).to(device)
    ranges = module_ranges(k, g)
    op = data.operator(device)
    batch = (data.train.k[:4].to(device), data.train.target[:4].to(device))
    return run_step(net, mode, *batch, op, ranges, _optimizers(net, ranges, 1e-3),
                    count=True).saved_bytes


def ratio(device: str) -> None:
    data = brain_slices(64, 4, 8, 0)
    for kind in ("varnet", "modl"):
        e2e = _saved_bytes(kind, "e2e", 24, 1, data, device)
        gleam = _saved_bytes(kind, "gleam", 24, 3, data, device)
        ckpt = _saved_bytes(kind, "checkpoint", 24, 1, data, device)
        print(f"{kind}: saved activations, K = 24: end-to-end {e2e / 1e6:.1f} MB, GLEAM G = 3 "
              f"{gleam / 1e6:.1f} MB (ratio {gleam / e2e:.3f}; §6.3.2 table {TABLE_SAVED_RATIO:.3f}"
              f" saved graph, {TABLE_PEAK_RATIO:.2f} peak RSS with the fixed share), "
              f"checkpoint {ckpt / 1e6:.1f} MB")


def study(device: str, steps: int, k0: int) -> None:
    data = brain_slices(64, 4, 8, 0)
    zf, cg = data.baseline_psnr("zero_filled"), data.baseline_psnr("cg_sense")
    print(f"equal memory (§6.3.3), 64², {steps} steps: zero-filled {zf:.2f} dB, "
          f"CG-SENSE {cg:.2f} dB")
    for label, mode, k, g in (("(a) e2e K", "e2e", k0, 1), ("(b) GLEAM 3K/3", "gleam", 3 * k0, 3),
                              ("(d) e2e 3K", "e2e", 3 * k0, 1)):
        r, wall = _train("varnet", mode, k, g, data, steps, device)
        print(f"{label:15s} K={k:2d} test PSNR {r.test_psnr:6.2f} dB, peak "
              f"{r.peak_bytes / 1e6:7.2f} MB, {r.seconds_per_step:.3f} s/step ({wall:.0f} s)")


def ship(device: str, steps: int) -> None:
    data = brain_slices(64, 4, 8, 0)
    r, wall = _train("varnet", "e2e", 6, 1, data, steps, device)
    card = {"summary": f"VarNet K=6, width 16, depth 4, end-to-end, {steps} Adam steps "
                       f"(lr 2e-3, batch 4, seed 0) on 64² MNI slices, R = 4, 8 coils, noise 0.01",
            "size": 64, "acceleration": 4.0, "n_coils": 8,
            "test_psnr": r.test_psnr, "test_ssim": r.test_ssim, "steps": steps,
            "zero_filled_psnr": data.baseline_psnr("zero_filled"),
            "cg_sense_psnr": data.baseline_psnr("cg_sense")}
    path = save_unrolled(shipped_path(), r.net.cpu(), card)
    print(f"wrote {path} in {wall:.0f} s: {card}")


def inference(device: str, repeats: int = 3) -> None:
    """The recon lab's path (engine/recon/learned_method.py) on 32 slices of 64² (issue #13:
    ≤ 2 s on the CPU); the first call includes loading the weights file."""
    from engine.recon.learned_method import load_method_net, unrolled_iter
    data = brain_slices(64, 4, 8, 0)
    k = torch.cat([data.test.k, data.val.k])[:32].to(device)
    op = data.operator(device)
    load_method_net.cache_clear()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        vol = drain(unrolled_iter(op, k, 1, []))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    print(f"inference, {tuple(vol.shape)} on {device}: first {times[0]:.3f} s (with loading), "
          f"then {min(times[1:] or times):.3f} s (threads {torch.get_num_threads()})")


def scale(device: str, steps: int) -> None:
    """Plain vs scale-equivariant VarNet (K = 4, depth 3): s/step, test PSNR, PSNR vs zoom."""
    from engine.learned.scale_study import psnr_vs_scale
    data = brain_slices(64, 4, 8, 0)
    nets = {}
    for label, den, width in (("plain", "plain", 16), ("scale-eq", "scale_equivariant", 8)):
        torch.manual_seed(0)
        net = unrolled_net("varnet", 4, width, 3, denoiser=den)
        t0 = time.perf_counter()
        r = drain(train_unrolled(net, data, "e2e", 1, steps, 2e-3, 0, 4, steps, device))
        nets[label] = r.net
        print(f"{label:9s} test PSNR {r.test_psnr:6.2f} dB, {r.seconds_per_step:.3f} s/step, "
              f"peak {r.peak_bytes / 1e6:.1f} MB ({time.perf_counter() - t0:.0f} s)")
    curve = psnr_vs_scale(nets, data, device=device)
    print("zoom      " + " ".join(f"{z:6.2f}" for z in curve.zooms))
    for title, v in curve.psnr.items():
        print(f"{title:9s} " + " ".join(f"{x:6.2f}" for x in v))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ratio", action="store_true")
    ap.add_argument("--study", action="store_true")
    ap.add_argument("--ship", action="store_true")
    ap.add_argument("--inference", action="store_true")
    ap.add_argument("--scale", action="store_true")
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--k0", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1) - 1),
                    help="torch threads (default: the app's, cpu_count − 1)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.ship:
        ship(a.device, a.steps or 800)
    if a.quick:
        quick(a.device, a.steps or 5)
    if a.ratio:
        ratio(a.device)
    if a.study:
        study(a.device, a.steps or 150, a.k0)
    if a.inference:
        inference(a.device)
    if a.scale:
        scale(a.device, a.steps or 100)


if __name__ == "__main__":
    main()
