"""The adaptive RK45 run on finite data stops when the flow blows up at its step floor
(issue #17: the fuzzer found it retrying the same non-finite step for ever)."""
from __future__ import annotations

import time

import torch

from engine.core import drain
from engine.gradient_flow import FlowConfig, simulate_iter


def test_a_blow_up_at_the_step_floor_is_reported_as_divergence_at_once():
    cfg = FlowConfig(dim=2, depth=3, n_init=1, init_scale=13.5, init_dirs="even",
                     balanced=False, imbalance=1.9, teacher_norm=1.0, method="gf",
                     integrator="adaptive", dt=0.035, t_max=1.9, data="finite",
                     n_samples=11, label_noise=0.0, frames=40, rtol=1e-3, dtype="float32",
                     seed=976118990)
    t0 = time.perf_counter()
    rec = drain(simulate_iter(cfg))
    assert time.perf_counter() - t0 < 10.0
    assert rec.diverged_step == 1 and "diverged" in rec.status
    assert torch.isfinite(rec.w).all()                    # the frames kept are finite
