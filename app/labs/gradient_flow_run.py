"""The gradient-flow lab's worker job: engine runs → one immutable CPU NumPy result."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Optional

import numpy as np

from engine.core import Progress

DEPTHS = (1, 2, 3, 4)
SCALES = np.logspace(-2, 0, 9)
STUDY_LRS = (0.5, 1.5, 3.5, 6.0)  # tracks GF, tracks, oscillates, diverges


@dataclass(frozen=True)
class FlowResult:
    """Everything the lab draws, as CPU NumPy arrays (safe to hand across threads)."""
    config: object
    t: np.ndarray            # (T,)
    w: np.ndarray            # (T, N, d)
    magnitude: np.ndarray    # (T, N)
    angle: np.ndarray        # (T, N)
    loss: np.ndarray         # (T, N)
    teacher: np.ndarray      # (d,)
    conservation: np.ndarray  # (T, N)
    bound_lower: Optional[np.ndarray]
    bound_upper: Optional[np.ndarray]
    X: Optional[np.ndarray]
    active: Optional[np.ndarray]       # (T, M, n) for inits active_index
    active_index: Optional[np.ndarray]  # (M,)
    support: Optional[np.ndarray]       # (N, n)
    status: str
    diverged_step: Optional[int]
    conv_scales: np.ndarray
    conv_times: np.ndarray              # (len(DEPTHS), len(SCALES))
    step_study: dict                    # label → (t, median loss, diverged_step|None)
    seconds: float


def _np(x):
    return None if x is None else x.detach().cpu().numpy().copy()


def run_lab(config, device: str) -> Generator[Progress, None, FlowResult]:
    """Simulate, then the two small studies (convergence time vs scale, GD step sizes)."""
    import time

    from engine.gradient_flow import compare_step_sizes, convergence_times, simulate_iter

    start = time.perf_counter()
    sim = simulate_iter(config, device=device)
    while True:
        try:
            p = next(sim)
        except StopIteration as stop:
            rec = stop.value
            break
        yield Progress(0.8 * p.fraction, p.message)
    yield Progress(0.82, "convergence time vs initial scale")
    conv = convergence_times(SCALES, depths=DEPTHS, nu=config.teacher_norm)
    yield Progress(0.9, "gradient descent step sizes")
    study = _step_study(compare_step_sizes(config, STUDY_LRS, device=device))
    return _to_result(rec, np.asarray(conv), study, time.perf_counter() - start)


def _step_study(raw: dict) -> dict:
    out = {}
    for key, value in raw.items():
        t, loss = np.asarray(_maybe_np(value[0])), np.asarray(_maybe_np(value[1]))
        div = value[2] if len(value) > 2 else None
        label = "GF" if key == "gf" else f"GD η = {key:g}"
        out[label] = (t, loss, div)
    return out


def _maybe_np(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def _to_result(rec, conv, study, seconds) -> FlowResult:
    active_index = getattr(rec, "active_index", None)
    return FlowResult(
        config=rec.config, t=_np(rec.t), w=_np(rec.w), magnitude=_np(rec.magnitude),
        angle=_np(rec.angle), loss=_np(rec.loss), teacher=_np(rec.teacher),
        conservation=_np(rec.conservation), bound_lower=_np(rec.bound_lower),
        bound_upper=_np(rec.bound_upper), X=_np(rec.X), active=_np(rec.active),
        active_index=None if active_index is None else np.asarray(_maybe_np(active_index)),
        support=_np(rec.support), status=rec.status, diverged_step=rec.diverged_step,
        conv_scales=SCALES.copy(), conv_times=conv, step_study=study, seconds=seconds)
