"""Slice-prior training speed on the CPU (issue #16): seconds per step of the former training
step (contiguous NCHW network, for-loop AdamW, clipping and EMA) against
:func:`engine.slice_prior.train.train_prior_iter` (channels-last, foreach kernels) in float32
and with ``precision="auto"`` (bfloat16 autocast on CPUs with native bf16), measured in the
same run, interleaved, at the Train-slice-prior dialog's CPU defaults (64² slices, batch 16,
base 32, mults 1-2-2-2, phantoms + a volume).

Step times are process-CPU seconds (all threads of the process; they move little with the
machine's load) beside wall seconds. The former step runs in a child process with glibc's
allocator defaults (``train_prior_iter`` keeps freed memory in the heap, process-wide).

``--profile`` adds where a float32 and a default-precision step's time goes (torch.profiler,
self time grouped by kind). In float32, convolutions are about 60 % and already run at the
CPU's sgemm throughput; with bfloat16 the convolutions are about 3× faster and GroupNorm's
channels-last backward became the largest item (ATen's kernel is scalar when the channels per
group are not a multiple of 16), hence :mod:`engine.slice_prior.group_norm`.

The precision check (``--check-steps``, 0 skips it) trains the dialog's defaults from one seed
in float32 and at the default precision and compares training and held-out losses (within
:data:`LOSS_TOLERANCE`), then saves the default prior, loads it with ``weights_only=True`` and
runs a short DDS reconstruction. The exit status is 1 when the check fails. The machine's
load (``/proc/loadavg``) is printed with the figures.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/prior_train.py [--threads 1 2] [--steps 4] \
        [--profile] [--check-steps 60]
"""
from __future__ import annotations

import argparse
import copy
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from engine.sampling.schedule import Schedule  # noqa: E402
from engine.slice_prior.data import SliceSource  # noqa: E402
from engine.slice_prior.evaluate import held_out_slices, validation_loss  # noqa: E402
from engine.slice_prior.train import (TrainConfig, _loss, train_prior_iter,  # noqa: E402
                                      uses_bf16)
from engine.slice_prior.unet import SliceUNet, UNetConfig  # noqa: E402

DIALOG_CPU = dict(size=64, batch=16, base=32, mults=(1, 2, 2, 2), every=1)


def reference_steps(cfg: TrainConfig, brain: torch.Tensor):
    """The training step before issue #16, step by step (a generator of nothing per step)."""
    torch.manual_seed(cfg.seed)
    net = SliceUNet(UNetConfig(base=cfg.base, mults=tuple(cfg.mults)))
    ema = copy.deepcopy(net).eval()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=0.0)
    src = SliceSource(cfg.size, brain=brain, seed=cfg.seed)
    ab = torch.as_tensor(Schedule.linear().alpha_bar, dtype=torch.float32)
    for step in range(cfg.steps):
        for g in opt.param_groups:
            g["lr"] = cfg.lr * min(1.0, (step + 1) / max(cfg.warmup, 1))
        loss = _loss(net, 2.0 * src.sample(cfg.batch) - 1.0, ab, src.gen, False)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0, foreach=False)
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.lerp_(p, 1.0 - (cfg.ema if step > cfg.warmup else 0.0))
        float(loss.detach())
        yield


def _timing_inputs() -> tuple[torch.Tensor, TrainConfig]:
    """The seeded stand-in volume and the dialog's CPU configuration timed."""
    brain = torch.rand(96, 128, 128, generator=torch.Generator().manual_seed(0))
    return brain, TrainConfig(steps=10_000, **DIALOG_CPU)


def former_seconds_per_step(threads: int, count: int) -> tuple[float, float]:
    """:func:`seconds_per_step` of :func:`reference_steps` (run in the child process)."""
    torch.set_num_threads(threads)
    brain, cfg = _timing_inputs()
    return seconds_per_step(reference_steps(cfg, brain), count)


def seconds_per_step(steps, count: int) -> tuple[float, float]:
    """Median process-CPU seconds and median wall seconds of ``count`` steps of an iterator
    after one warm-up step (CPU seconds: all threads of this process together; they hardly
    move with the machine's load, wall seconds do)."""
    next(steps)
    cpu, wall = [], []
    for _ in range(count):
        c0, t0 = time.process_time(), time.perf_counter()
        next(steps)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return statistics.median(cpu), statistics.median(wall)


#: Profiler op-name fragments → kind of work (first match wins; the rest is "other").
KINDS = (("convolution", ("convolution",)), ("GroupNorm", ("group_norm", "groupnorm")),
         ("SiLU", ("silu",)), ("up/down-sampling", ("upsample", "pool2d")),
         ("add/mul/copy/cat", ("aten::add", "aten::mul", "copy", "aten::cat", "aten::fill")),
         ("optimiser, clipping, EMA", ("foreach", "adamw", "vector_norm", "lerp", "optimizer")))


def profile_step(cfg: TrainConfig, brain: torch.Tensor, steps: int = 2) -> dict:
    """Self seconds per step of :func:`train_prior_iter` at ``cfg.precision`` by kind of work
    (the profiler's clock is the wall clock), plus the data generation
    (``SliceSource.sample``) timed on its own."""
    from torch.profiler import ProfilerActivity, profile
    it = train_prior_iter(cfg, "cpu", brain)
    next(it)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            next(it)
    kinds: dict = {}
    for row in prof.key_averages():
        name = row.key.lower()
        kind = next((k for k, frags in KINDS if any(f.lower() in name for f in frags)), "other")
        kinds[kind] = kinds.get(kind, 0.0) + row.self_cpu_time_total / 1e6 / steps
    src = SliceSource(cfg.size, brain=brain, seed=cfg.seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        src.sample(cfg.batch)
    seconds = (time.perf_counter() - t0) / steps
    kinds["data generation (timed alone; inside the rows above)"] = seconds
    return kinds

#: Largest relative difference of the losses of ``precision="auto"`` from float32's allowed by
#: :func:`precision_check` (seed-to-seed spread of these losses is larger, ~2–10 %).
LOSS_TOLERANCE = 0.03


def _train(cfg: TrainConfig, brain) -> dict:
    it = train_prior_iter(cfg, "cpu", brain)
    while True:
        try:
            next(it)
        except StopIteration as stop:
            return stop.value


def precision_check(steps: int, brain) -> bool:
    """``steps`` steps at the dialog's defaults from seed 0 in float32 and with the default
    precision: the training loss (mean of the last quarter) and the held-out validation loss
    (:func:`~engine.slice_prior.evaluate.validation_loss` of the EMA network, the one saved)
    agree within :data:`LOSS_TOLERANCE`; the default prior, saved and loaded with
    ``weights_only=True``, gives a finite DDS reconstruction of a Shepp–Logan volume."""
    import tempfile
    from engine.imaging import Radon, fbp, psnr, shepp_logan_3d
    from engine.recon import diffusion_reconstruct
    from engine.slice_prior import load_slice_prior, save_prior
    clean = held_out_slices(DIALOG_CPU["size"], brain)
    losses, states = {}, {}
    for precision in ("float32", "auto"):
        cfg = TrainConfig(steps=steps, precision=precision, **DIALOG_CPU)
        states[precision] = state = _train(cfg, brain)
        curve = [loss for _, loss in state["curve"]]
        quarter = curve[-max(1, len(curve) // 4):]
        losses[precision] = (sum(quarter) / len(quarter), validation_loss(state["ema"], clean))
    rel = [abs(a - f) / f for a, f in zip(losses["auto"], losses["float32"])]
    ok = max(rel) <= LOSS_TOLERANCE
    first = states["float32"]["curve"][0][1]
    print(f"precision check, {steps} steps from seed 0 (dialog defaults; loss at step 1 "
          f"{first:.5f}): train loss float32 {losses['float32'][0]:.5f}, auto "
          f"{losses['auto'][0]:.5f} ({100 * rel[0]:.2f} %); validation loss float32 "
          f"{losses['float32'][1]:.5f}, auto {losses['auto'][1]:.5f} ({100 * rel[1]:.2f} %); "
          f"tolerance {100 * LOSS_TOLERANCE:.0f} %: {'PASS' if ok else 'FAIL'}", flush=True)
    n = DIALOG_CPU["size"]
    with tempfile.TemporaryDirectory() as tmp:
        path = save_prior(Path(tmp) / f"check_{n}.pt", states["auto"]["ema"], n, {"steps": steps})
        torch.load(path, weights_only=True)
        prior = load_slice_prior(n, path=path)
    truth = shepp_logan_3d((2, n, n))
    radon = Radon(n, torch.linspace(0, 180, 31)[:-1])
    sino = radon.forward(truth)
    recon = diffusion_reconstruct("dds", prior, radon, sino, n_steps=10, seed=0)
    finite = bool(torch.isfinite(recon).all())
    print(f"  default-precision prior saved, loaded with weights_only=True: DDS reconstruction "
          f"(10 steps, 30 views) finite: {finite}; PSNR {psnr(recon, truth, 1.0):.1f} dB (a "
          f"{steps}-step prior: not a quality figure; FBP {psnr(fbp(sino, radon), truth, 1.0):.1f}"
          " dB)", flush=True)
    return ok and finite


def _demo_brain():
    """The demo MNI brain scaled to [0, 1] when it is installed, else None (phantoms only)."""
    try:
        from engine.imaging.volume_io import demo_volume
        return demo_volume("brain").data.float()
    except (FileNotFoundError, ImportError):
        return None


def _load() -> str:
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3]) + \
            f" on {os.cpu_count()} CPUs"
    except OSError:
        return "load average unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=4, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="where a step's time goes")
    ap.add_argument("--check-steps", type=int, default=60, help="steps of the precision "
                    "check (0: skip it)")
    args = ap.parse_args(argv)
    print(_load(), flush=True)
    # The former step runs in a child process with glibc's allocator defaults, as before
    # issue #16: train_prior_iter's keep_freed_memory() is process-wide and cannot be undone.
    former = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    brain, cfg = _timing_inputs()
    for threads in args.threads:
        torch.set_num_threads(threads)
        old, fp32, auto = [], [], []
        for _ in range(args.rounds):            # interleaved: a busy machine hits all alike
            old.append(former.submit(former_seconds_per_step, threads, args.steps).result())
            fp32.append(seconds_per_step(train_prior_iter(replace(cfg, precision="float32"),
                                                          "cpu", brain), args.steps))
            auto.append(seconds_per_step(train_prior_iter(cfg, "cpu", brain), args.steps))
        o, f, a = (min(c for c, _ in runs) for runs in (old, fp32, auto))
        ow, fw, aw = (min(w for _, w in runs) for runs in (old, fp32, auto))
        print(f"{threads} thread(s), CPU s/step: former step {o:.3f} s; now float32 {f:.3f} s "
              f"({o / f:.2f}×); now precision=auto {a:.3f} s ({o / a:.2f}×, bf16 "
              f"{'on' if uses_bf16(cfg, 'cpu') else 'off: no native bf16 on this CPU'})\n"
              f"{'':13s}wall s/step: former {ow:.3f} s; float32 {fw:.3f} s ({ow / fw:.2f}×); "
              f"auto {aw:.3f} s ({ow / aw:.2f}×)   [{_load()}]", flush=True)
        for precision in ("float32", "auto") if args.profile else ():
            kinds = profile_step(replace(cfg, precision=precision), brain)
            total = sum(v for k, v in kinds.items() if not k.startswith("data"))
            print(f"  {precision} step, {threads} thread(s), profiled {total:.3f} s (self):")
            for kind, sec in sorted(kinds.items(), key=lambda kv: -kv[1]):
                print(f"    {kind:32s} {sec:7.3f} s  {100 * sec / total:5.1f} %")
    former.shutdown()
    ok = True
    if args.check_steps:
        torch.set_num_threads(max(args.threads))
        ok = precision_check(args.check_steps, _demo_brain())
    print(_load(), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
