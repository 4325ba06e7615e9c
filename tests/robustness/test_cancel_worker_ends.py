"""Cancel of the learned and convex-duals labs and of a regions solve of points far from unit
scale, which runs to its 40 s budget (issue #17: ≤ 0.2 s per phase; a cancelled run stops
using the CPU before the next starts): each case starts the lab's engine run in the app's
worker (:class:`app.runner._Run`, what the GUI's Runner uses), cancels it inside the
phase named, and checks that the worker thread ends within 0.5 s (room for a loaded shared
machine; ``benchmarks/cancel.py`` prints the per-phase figures) and that no run thread is
left computing when the next run starts. Small seeded configs."""
from __future__ import annotations

import threading
import time

import pytest

from app.registry import LABS
from app.runner import _Run
from engine.core import config_from_dict

WORKER_END_S = 0.5
PHASE_TIMEOUT_S = 30.0

CASES = {
    "learned end-to-end training": ("learned", {"size": 16, "steps": 2000, "train_gleam": False,
                                                "shipped": False}, "end-to-end: step"),
    "learned GLEAM training": ("learned", {"size": 16, "steps": 2000, "train_e2e": False,
                                           "shipped": False}, "GLEAM: step"),
    "duals denoiser barrier program": ("convex-duals", {"model": "denoiser", "den_size": 8},
                                       "barrier"),
    "duals WGAN ReLU game LPs": ("convex-duals", {"model": "wgan", "wgan_discriminator": "relu",
                                                  "wgan_samples": 20, "wgan_neurons": 8,
                                                  "wgan_data": "two_blobs",
                                                  "wgan_beta": 0.25}, "certified game"),
    "duals Adam seeds": ("convex-duals", {"model": "vector_output", "vo_n": 12,
                                          "vo_steps": 50_000}, "Adam step"),
    "regions solve of points at 1e4": ("regions", {
        "dataset": "custom", "steps": 20, "snapshots": 2, "grid": 32,
        "custom_points": [(1e4 * (i % 5) / 4, 1e4 * (i % 7) / 6, 1 - 2 * (i % 2))
                          for i in range(40)]}, "badly scaled"),
}


def _start(lab: str, overrides: dict, phase: str) -> _Run:
    spec = LABS[lab]
    cfg = config_from_dict(spec.config_class(), overrides)
    run = _Run(lambda: spec.run_entry()(cfg, "cpu"), lab)
    run.thread.start()
    deadline = time.perf_counter() + PHASE_TIMEOUT_S
    while run.outcome is None and time.perf_counter() < deadline:
        if run.progress is not None and phase in run.progress[1]:
            return run
        time.sleep(0.002)
    pytest.fail(f"{lab} never reached {phase!r} (outcome {run.outcome})")


@pytest.mark.parametrize("case", list(CASES))
def test_a_cancelled_run_ends_its_worker_within_half_a_second(case, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path))        # learned checkpoints land here
    lab, overrides, phase = CASES[case]
    run = _start(lab, overrides, phase)
    time.sleep(0.05)                                           # inside the phase's work
    t0 = time.perf_counter()
    run.request_cancel()
    run.thread.join(5.0)
    latency = time.perf_counter() - t0
    assert not run.thread.is_alive() and run.outcome == ("cancelled", None)
    assert latency < WORKER_END_S, f"{case}: worker ended {latency:.3f} s after the cancel"
    assert not [t for t in threading.enumerate() if t.name == "flowscope-run"]
