"""A torch-free sweep target for the Dask tests: a seeded random walk (NumPy only), so that
worker processes start in about a second instead of importing torch. Not a lab: it is only
registered in ``engine.sweeps.TARGETS`` by the tests that use it."""
import time
from dataclasses import dataclass

import numpy as np

from engine.core import Progress, param
from engine.sweeps import SweepTarget


@dataclass(frozen=True)
class WalkConfig:
    steps: int = param(500, help="steps of the walk", min=1, max=100_000)
    drift: float = param(0.0, help="mean step", min=-10.0, max=10.0)
    pause: float = param(0.0, help="seconds each point waits first", min=0.0, max=5.0)
    seed: int = param(0, help="seed of the steps", min=0, max=2**31 - 1)


def run_walk(cfg: WalkConfig, device: str = "cpu"):
    """The walk's positions (seeded: the same numbers in any process)."""
    yield Progress(0.0, "walking")
    time.sleep(cfg.pause)
    steps = cfg.drift + np.random.default_rng(cfg.seed).standard_normal(cfg.steps)
    return np.cumsum(steps)


TOY = SweepTarget("walk", "tests.engine.sweep_toy:WalkConfig", "tests.engine.sweep_toy:run_walk",
                  {"end": (lambda cfg, walk: float(walk[-1]), "final position"),
                   "spread": (lambda cfg, walk: float(np.std(walk)), "standard deviation")})
