"""Reconstruction-lab benchmark against its peers on the same data (issue 5, SCIENCE.md §4).

One run prints one table:

* CT, a ``slices × n²`` 3-D Shepp–Logan volume at ``views`` parallel-beam angles: operator
  set-up (cold build, warm disk-cache load, memory), forward projection and FBP of the volume;
  scikit-image ``radon``/``iradon`` (on ``--skimage-slices`` slices, extrapolated; PSNR of our
  FBP vs ``iradon`` on scikit-image's own sinogram) and ASTRA's CPU algorithms (``linear``
  projector, FP / BP / FBP slice by slice in this one process).
* CT "Run → first FBP" of a new geometry (issue #16): a new operator, the projection of the
  volume (``Radon.project``: no assembly of ``A``) and its FBP, cold (empty disk cache) and
  disk-cached, against ``A`` assembled first (the path before) in the same run; with the
  operator in memory; and the recon lab's own ``run_config`` to its first FBP partial.
* MRI, one ``n²`` slice, 8 coils, complex64, R = 4: CG-SENSE, 20 iterations, vs
  ``sigpy.mri.app.SenseRecon`` on the same coil maps, mask and k-space (relative difference
  in complex64 and complex128), for a Cartesian line mask and a 2-D Poisson-disc mask.

Peers missing from the environment are skipped.  Times are the minimum of ``--repeats`` runs
after one warm-up; ratios are peer time / our time.  ``--device cuda`` runs our side on the
GPU (peers stay on the CPU); ``--quick`` uses small sizes; ``--threads`` sets torch's threads.

Run: ``.venv/bin/python benchmarks/recon.py [--quick] [--device cuda] [--threads 1]``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
warnings.filterwarnings("ignore")

import engine.imaging.ct as ct
import engine.imaging.operator_cache as oc
from engine.recon import MRI, Radon, cg_sense, fbp, make_mask, psnr, shepp_logan_3d

ROWS: list[tuple[str, str, str, str, str]] = []


def _sync(dev: torch.device | None) -> None:
    if dev is not None and dev.type == "cuda":
        torch.cuda.synchronize()


CPU: dict[float, float] = {}  # min wall time → min process CPU time of the same runs


def timed(fn, repeats: int, dev: torch.device | None = None):
    """(last result, min wall seconds) of ``repeats`` calls after one warm-up.

    The minimum process CPU time (all threads) is kept too; with ``--threads 1`` on a loaded
    machine it is the better estimate of the unloaded single-core time.
    """
    out = fn()
    _sync(dev)
    best, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        _sync(dev)
        best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
    CPU[best] = cpu
    return out, best


def _fmt(t: float | None) -> str:
    return "" if t is None else (f"{t * 1e3:.1f} ms" if t < 0.1 else f"{t:.3f} s")


def row(item: str, ours: float | None, peer: str = "", peer_t: float | None = None,
        note: str = "") -> None:
    ratio = f"x{peer_t / ours:.1f}" if ours and peer_t else ""
    cpu = f" (cpu {_fmt(CPU[ours])})" if ours in CPU else ""
    ROWS.append((item, _fmt(ours) + cpu, peer, _fmt(peer_t),
                 ratio + ("  " + note if note else "")))


def bench_ct(a, dev: torch.device) -> None:
    ph = shepp_logan_3d((a.slices, a.n, a.n)).to(dev)
    angles = torch.linspace(0, 180, a.views + 1, dtype=torch.float64)[:-1]
    tmp = tempfile.mkdtemp(prefix="flowscope-bench-")   # a fresh cache: cold, then warm
    old, old_min = os.environ.get("FLOWSCOPE_CACHE_DIR"), oc.MIN_CACHED_SAMPLES
    os.environ["FLOWSCOPE_CACHE_DIR"], oc.MIN_CACHED_SAMPLES = tmp, 0
    try:
        t = time.perf_counter()
        R = Radon(a.n, angles, device=dev)
        fbp(torch.zeros(1, a.views, a.n, device=dev), R)
        _sync(dev)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        R = Radon(a.n, angles, device=dev)
        fbp(torch.zeros(1, a.views, a.n, device=dev), R)
        _sync(dev)
        warm = time.perf_counter() - t
    finally:
        oc.MIN_CACHED_SAMPLES = old_min
        if old is None:
            os.environ.pop("FLOWSCOPE_CACHE_DIR", None)
        else:
            os.environ["FLOWSCOPE_CACHE_DIR"] = old
        shutil.rmtree(tmp, ignore_errors=True)
    mem = R.operator_bytes() / 2 ** 20
    row("CT set-up, cold build (A + FBP)", cold, note=f"{mem:.0f} MiB")
    row("CT set-up, warm (disk cache)", warm)
    sino, t_fp = timed(lambda: R.forward(ph), a.repeats, dev)
    rec, t_fbp = timed(lambda: fbp(sino, R), a.repeats, dev)
    p_ours = psnr(rec, ph, 1.0)
    R.adjoint(sino[:1])
    _, t_bp = timed(lambda: R.adjoint(sino), a.repeats, dev)
    print(f"CT: {a.slices} x {a.n}^2, {a.views} views, device {dev}; "
          f"engine FBP PSNR {p_ours:.2f} dB vs phantom; operators incl. A^T "
          f"{R.operator_bytes() / 2 ** 20:.0f} MiB", flush=True)

    try:
        from skimage.transform import iradon, radon
    except ImportError:
        row("CT forward projection", t_fp, "scikit-image: not installed")
        row("CT FBP", t_fbp)
    else:
        k = max(1, min(a.skimage_slices, a.slices))
        lo = a.slices // 2 - k // 2
        mid = ph[lo:lo + k].cpu().numpy().astype(np.float64)
        th = angles.numpy()
        t = time.perf_counter()
        sk_sino = [radon(s, th, circle=True) for s in mid]
        t_sr = (time.perf_counter() - t) / k * a.slices
        t = time.perf_counter()
        sk_rec = np.stack([iradon(s, th, circle=True) for s in sk_sino])
        t_si = (time.perf_counter() - t) / k * a.slices
        ours = fbp(torch.from_numpy(np.stack([s.T for s in sk_sino])).float().to(dev), R)
        d = psnr(ours.cpu().numpy(), mid, 1.0) - psnr(sk_rec, mid, 1.0)
        row("CT forward projection", t_fp, "skimage radon", t_sr, f"({k} slices, extrapolated)")
        row("CT FBP", t_fbp, "skimage iradon", t_si, f"PSNR ours - iradon {d:+.3f} dB")
    row("CT adjoint (exact A^T)", t_bp)
    bench_astra(a, ph.cpu().numpy(), angles.numpy(), (t_fp, t_bp, t_fbp))


def _legacy_backprojection(n: int, angles_rad: np.ndarray, per: int, dtype=None):
    """The back-projection matrix as built before issue #16 (per-angle COO, sorted to CSR,
    transposed, stacked): the baseline of the "Run → first FBP" rows."""
    import scipy.sparse as sp

    def entries(n, theta):
        c = n // 2
        r, q = np.meshgrid(np.arange(n) - c, np.arange(n) - c, indexing="ij")
        inside = (r ** 2 + q ** 2) <= c ** 2
        t = (q * np.cos(theta) - r * np.sin(theta))[inside] + c
        pix = np.flatnonzero(inside)
        ok = (t >= 0) & (t <= n)
        t, pix = t[ok], pix[ok]
        i0 = np.clip(np.floor(t), 0, n - 1).astype(np.int64)
        return (np.concatenate([i0, i0 + 1]), np.concatenate([pix, pix]),
                np.concatenate([1 - (t - i0), t - i0]))
    cols, parts = len(angles_rad) * (n + 1), []
    for s in range(0, len(angles_rad), per):
        blk = ct._assemble(n, angles_rad[s:s + per], entries, n + 1).T.tocsr()
        parts.append(sp.csr_matrix((blk.data, blk.indices + s * (n + 1), blk.indptr),
                                   shape=(n * n, cols)))
    return sp.vstack(parts, format="csr")


def _run_to_first_fbp(a, ph, angles, dev, project: bool) -> tuple[float, float]:
    """Seconds from a new :class:`Radon` to the FBP of the whole volume (operator, projection
    of the truth, FBP), cold (empty disk cache) and disk-cached (a new operator object,
    matrices read back).  ``project=True`` is the lab's path since #16 (``Radon.project``:
    no assembly of ``A`` for a new geometry, files memory-mapped); ``False`` the path before
    (``forward``: ``A`` assembled first; files read by copy).  The process CPU time of each
    run goes into :data:`CPU`."""
    tmp = tempfile.mkdtemp(prefix="flowscope-bench-")
    old = os.environ.get("FLOWSCOPE_CACHE_DIR")
    os.environ["FLOWSCOPE_CACHE_DIR"] = tmp
    old_min, oc.MIN_CACHED_SAMPLES = oc.MIN_CACHED_SAMPLES, 0
    mapped = oc._mapped
    if not project:
        oc._mapped = lambda path, names: None
    times = []
    try:
        for _ in range(2):                                 # cold, then disk-cached
            t, c = time.perf_counter(), time.process_time()
            R = Radon(a.n, angles, device=dev)
            fbp(R.project(ph) if project else R.forward(ph), R)
            _sync(dev)
            times.append(time.perf_counter() - t)
            CPU[times[-1]] = time.process_time() - c
            R.assemble()         # A and B assembled and cached, untimed (the lab: after the image)
    finally:
        oc.MIN_CACHED_SAMPLES, oc._mapped = old_min, mapped
        if old is None:
            os.environ.pop("FLOWSCOPE_CACHE_DIR", None)
        else:
            os.environ["FLOWSCOPE_CACHE_DIR"] = old
        shutil.rmtree(tmp, ignore_errors=True)
    return times[0], times[1]


def _lab_first_fbp(a, dev: torch.device) -> tuple[float, float]:
    """The recon lab itself: seconds from ``run_config`` (FBP only, Shepp–Logan volume made
    by the run) to its first ``method:fbp`` partial with an image, cold and disk-cached."""
    from engine.recon.lab import ReconConfig, cached_radon, run_config
    cfg = ReconConfig(size=a.n, slices=a.slices, n_views=a.views, method_a="fbp",
                      method_b="none")
    tmp = tempfile.mkdtemp(prefix="flowscope-bench-")
    old = os.environ.get("FLOWSCOPE_CACHE_DIR")
    os.environ["FLOWSCOPE_CACHE_DIR"] = tmp
    times = []
    try:
        for _ in range(2):
            cached_radon.cache_clear()
            t, c = time.perf_counter(), time.process_time()
            gen = run_config(cfg, str(dev))
            for p in gen:
                part = p.partial if isinstance(p.partial, dict) else {}
                if part.get("stage") == "method:fbp" and part.get("volume") is not None:
                    times.append(time.perf_counter() - t)
                    CPU[times[-1]] = time.process_time() - c
                    break
            for _ in gen:                                  # finish (scores, A on disk)
                pass
    finally:
        cached_radon.cache_clear()
        if old is None:
            os.environ.pop("FLOWSCOPE_CACHE_DIR", None)
        else:
            os.environ["FLOWSCOPE_CACHE_DIR"] = old
        shutil.rmtree(tmp, ignore_errors=True)
    return times[0], times[1]


def bench_first_fbp(a, dev: torch.device) -> None:
    """Issue #16: "Run" → first FBP image of a new geometry, against the path before (the
    forward matrix ``A`` assembled before the projection), measured in the same run."""
    ph = shepp_logan_3d((a.slices, a.n, a.n)).to(dev)
    angles = torch.linspace(0, 180, a.views + 1, dtype=torch.float64)[:-1]
    best = {}                          # alternating, best of two: no first-run/order bias
    for _ in range(2):
        for project in (True, False):
            t = _run_to_first_fbp(a, ph, angles, dev, project)
            best[project] = tuple(min(x, y) for x, y in zip(best.get(project, t), t))
    (cold, disk), (cold_old, disk_old) = best[True], best[False]
    R = Radon(a.n, angles, device=dev)
    _, mem = timed(lambda: fbp(R.forward(ph), R), a.repeats, dev)
    rad, na = np.deg2rad(angles.numpy()), a.views
    per = -(-na // ct._n_bands(na * (a.n + 1)))
    builds = []
    for build in (ct._assemble_backprojection, _legacy_backprojection):
        t = time.perf_counter()
        build(a.n, rad, per, np.float32)
        builds.append(time.perf_counter() - t)
    row("FBP back-projection matrix, cold build", builds[0], "pre-#16 build", builds[1])
    row("Run -> first FBP, new geometry: cold", cold, "A assembled first", cold_old,
        note="projection without A (Radon.project)")
    row("Run -> first FBP, new geometry: disk-cached", disk, "files read by copy", disk_old,
        note="memory-mapped operator files")
    row("Run -> first FBP, operator in memory", mem, note="forward + FBP only")
    lab_cold, lab_disk = _lab_first_fbp(a, dev)
    row("recon lab Run -> first FBP image: cold", lab_cold,
        note="run_config, phantom made in the run")
    row("recon lab Run -> first FBP image: disk-cached", lab_disk)


def bench_astra(a, vol: np.ndarray, angles_deg: np.ndarray, ours) -> None:
    try:
        import astra
    except ImportError:
        row("ASTRA CPU", None, "astra-toolbox: not installed")
        return
    k = max(1, min(a.astra_slices, len(vol)))
    vg = astra.create_vol_geom(a.n, a.n)
    pg = astra.create_proj_geom("parallel", 1.0, a.n, np.deg2rad(angles_deg))
    proj = astra.create_projector("linear", pg, vg)
    vid = astra.data2d.create("-vol", vg, 0.0)
    sid = astra.data2d.create("-sino", pg, 0.0)
    algs = {}
    for name, cfg_extra in (("FP", {"VolumeDataId": vid, "ProjectionDataId": sid}),
                            ("BP", {"ReconstructionDataId": vid, "ProjectionDataId": sid}),
                            ("FBP", {"ReconstructionDataId": vid, "ProjectionDataId": sid})):
        cfg = astra.astra_dict(name)
        cfg.update(cfg_extra)
        cfg["ProjectorId"] = proj
        algs[name] = astra.algorithm.create(cfg)
    sinos, recs, times = [], [], {}
    try:
        for name in ("FP", "BP", "FBP"):
            t = time.perf_counter()
            for z in range(k):
                if name == "FP":
                    astra.data2d.store(vid, vol[z])
                else:
                    astra.data2d.store(sid, sinos[z])
                astra.algorithm.run(algs[name])
                if name == "FP":
                    sinos.append(astra.data2d.get(sid))
                elif name == "FBP":
                    recs.append(astra.data2d.get(vid))
            times[name] = (time.perf_counter() - t) / k * len(vol)
    finally:
        for alg in algs.values():
            astra.algorithm.delete(alg)
        astra.data2d.delete([vid, sid])
        astra.projector.delete(proj)
    p = psnr(np.stack(recs), vol[:k], 1.0)
    note = "" if k == len(vol) else f"({k} slices, extrapolated)"
    row("CT forward projection", ours[0], "ASTRA CPU FP (linear)", times["FP"], note)
    row("CT adjoint (exact A^T)", ours[1], "ASTRA CPU BP", times["BP"], note)
    row("CT FBP", ours[2], "ASTRA CPU FBP", times["FBP"], f"ASTRA PSNR {p:.2f} dB")


def bench_mri(a, dev: torch.device) -> None:
    img = shepp_logan_3d((3, a.mri_n, a.mri_n))[1]
    try:
        import sigpy.mri as mr
    except ImportError:
        mr = None
    for kind in ("random", "poisson"):
        mask = torch.as_tensor(make_mask(kind, (a.mri_n, a.mri_n), acceleration=4.0, seed=0))
        diffs, x = {}, None
        for dt in (torch.complex128, torch.complex64):
            op = MRI(mask, n_coils=8, dtype=dt, device=str(dev))
            k = op.forward(img.to(dt))
            x, t_ours = timed(lambda k=k, op=op: cg_sense(k, op, iters=20), a.repeats, dev)
            if mr is not None:
                kn, mps, w = k.cpu().numpy(), op.maps.cpu().numpy(), op._m.cpu().numpy()
                ref, t_sig = timed(lambda kn=kn, mps=mps, w=w: np.asarray(mr.app.SenseRecon(
                    kn, mps, lamda=0.0, weights=w, max_iter=20, show_pbar=False).run()),
                    max(1, a.repeats // 2))
                xs = x.cpu().numpy()
                diffs[dt] = np.linalg.norm(xs - ref) / np.linalg.norm(ref)
        label = "lines" if kind == "random" else "2-D Poisson"
        item = f"CG-SENSE 20 it, {a.mri_n}^2, 8 coils, c64, {label}"
        if mr is None:
            row(item, t_ours, "sigpy: not installed")
        else:
            row(item, t_ours, "sigpy SenseRecon", t_sig,
                f"rel diff c64 {diffs[torch.complex64]:.1e}, c128 {diffs[torch.complex128]:.0e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--slices", type=int, default=64)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--views", type=int, default=180)
    ap.add_argument("--mri-n", type=int, default=256)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (our side only)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skimage-slices", type=int, default=2)
    ap.add_argument("--astra-slices", type=int, default=64)
    ap.add_argument("--quick", action="store_true", help="8 x 64^2, 45 views, MRI 64^2")
    ap.add_argument("--skip-ct", action="store_true")
    ap.add_argument("--skip-mri", action="store_true")
    ap.add_argument("--first-fbp-only", action="store_true",
                    help="only the issue #16 rows: Run -> first FBP of a new geometry")
    a = ap.parse_args()
    if a.quick:
        a.slices, a.n, a.views, a.mri_n, a.repeats = 8, 64, 45, 64, 2
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("CUDA is not available")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load average {load:.2f}"
          + (f", GPU {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else ""))
    if not a.skip_ct:
        bench_first_fbp(a, dev)
    if not a.skip_ct and not a.first_fbp_only:
        bench_ct(a, dev)
    if not a.skip_mri and not a.first_fbp_only:
        bench_mri(a, dev)
    head = ("item", "ours", "peer", "peer time", "peer/ours")
    w = [max(len(r[i]) for r in ROWS + [head]) for i in range(5)]
    for r in [head, tuple("-" * x for x in w)] + ROWS:
        print("  ".join(c.ljust(x) for c, x in zip(r, w)).rstrip())
    if hasattr(os, "getloadavg"):
        print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
