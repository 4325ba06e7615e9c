"""CT engine benchmark: forward projection and FBP of a volume vs scikit-image (issue 5).

Run: ``.venv/bin/python benchmarks/recon_ct.py [--slices 64] [--n 256] [--views 180]``.
Prints set-up time, operator memory, forward/FBP time and PSNR against the phantom, and the
same for ``skimage.transform.radon``/``iradon`` on a few slices (extrapolated to the volume).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
warnings.filterwarnings("ignore", category=UserWarning)

from engine.core import default_device
from engine.recon import Radon, fbp, psnr, shepp_logan_3d


def _timed(fn, repeats: int = 3):
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, (time.perf_counter() - t) / repeats


def _csr_bytes(m: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in (m.crow_indices(), m.col_indices(),
                                                      m.values()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--slices", type=int, default=64)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--views", type=int, default=180)
    ap.add_argument("--device", default=default_device())
    ap.add_argument("--skimage-slices", type=int, default=2)
    args = ap.parse_args()
    dev = torch.device(args.device)
    ph = shepp_logan_3d((args.slices, args.n, args.n), device=dev)
    angles = torch.linspace(0, 180, args.views + 1, dtype=torch.float64)[:-1]
    t = time.perf_counter()
    R = Radon(args.n, angles, device=dev)
    setup = time.perf_counter() - t
    sino, t_fwd = _timed(lambda: R.forward(ph))
    t = time.perf_counter()
    fbp(sino[:1], R)                                   # builds the back-projection matrix
    setup_b = time.perf_counter() - t
    rec, t_fbp = _timed(lambda: fbp(sino, R))
    R.adjoint(sino[:1])                                # builds the exact transpose too
    mem = sum(_csr_bytes(m) for m in (R._A[R.dtype], R._At[R.dtype], R._B[R.dtype]))
    print(f"device {args.device}; volume {args.slices}x{args.n}^2, {args.views} views")
    print(f"engine: set-up A {setup:.2f} s, FBP matrix {setup_b:.2f} s, "
          f"operators {mem / 2**20:.0f} MiB")
    print(f"engine: forward {t_fwd:.3f} s, FBP {t_fbp:.3f} s, "
          f"PSNR {psnr(rec, ph, 1.0):.2f} dB")
    from skimage.transform import iradon, radon
    k = max(1, min(args.skimage_slices, args.slices))
    mid = ph[args.slices // 2 - k // 2: args.slices // 2 - k // 2 + k].cpu().numpy()
    th = angles.numpy()
    t = time.perf_counter()
    sk_sino = [radon(s, th, circle=True) for s in mid]
    t_sr = (time.perf_counter() - t) / k * args.slices
    t = time.perf_counter()
    sk_rec = np.stack([iradon(s, th, circle=True) for s in sk_sino])
    t_si = (time.perf_counter() - t) / k * args.slices
    ours = fbp(torch.from_numpy(np.stack([s.T for s in sk_sino])).to(dev), R).cpu().numpy()
    print(f"skimage (extrapolated from {k} slices): radon {t_sr:.2f} s, iradon {t_si:.2f} s; "
          f"PSNR skimage {psnr(sk_rec, mid, 1.0):.2f} dB vs engine on the same sinogram "
          f"{psnr(ours, mid, 1.0):.2f} dB")
    print(f"speed-up vs skimage: forward x{t_sr / t_fwd:.0f}, FBP x{t_si / t_fbp:.0f}")


if __name__ == "__main__":
    main()
