"""Deferred result fields and the fused frame hook of the gradient-flow lab (#16; SCIENCE.md §1.4).

Known answers: the §1.4 comparison bounds ``r0 e^(-t/2)`` and ``ν + (r0 - ν) e^(-t/2)``,
computed on first read, equal ``magnitude_bounds`` bit for bit, and one initialisation's
band (:meth:`FlowResult.bounds_at`) is the column of those arrays; frames filled from the
next step's first stage equal the frames derived from the recorded states.
"""
import dataclasses
import pickle

import numpy as np
import pytest
import torch

from engine.core import drain
from engine.gradient_flow import FlowConfig, magnitude_bounds, simulate
from engine.gradient_flow.deferred import Deferred, stored
from engine.gradient_flow.lab import run_config
from engine.gradient_flow.planar_frames import PlanarFields

CFG = FlowConfig(dim=3, n_init=9, t_max=3.0, dt=0.05, frames=13, teacher_norm=1.7, seed=5)


def _run(cfg=CFG):
    return drain(run_config(cfg))


def test_bounds_are_computed_on_first_read_and_equal_magnitude_bounds():
    r = _run()
    assert isinstance(stored(r, "bound_lower"), Deferred)          # nothing computed yet
    lower, upper = magnitude_bounds(torch.from_numpy(r.t), torch.from_numpy(r.magnitude[0]),
                                    CFG.teacher_norm)
    band = r.bounds_at(4)
    assert isinstance(stored(r, "bound_upper"), Deferred)          # the band reads no array
    np.testing.assert_array_equal(r.bound_lower, lower.numpy())
    np.testing.assert_array_equal(r.bound_upper, upper.numpy())
    np.testing.assert_array_equal(band[0], r.bound_lower[:, 4])
    np.testing.assert_array_equal(band[1], r.bound_upper[:, 4])
    np.testing.assert_allclose(r.bound_lower[:, 2], r.magnitude[0, 2] * np.exp(-r.t / 2),
                               rtol=1e-15)
    assert r.bounds_at(4)[0] is not band[0] and r.bound_lower.shape == r.magnitude.shape


def test_deferred_fields_export_pickle_and_stay_frozen(tmp_path):
    from engine.core.results_io import load_results, save_results
    r = _run()
    copy = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(copy.bound_upper, r.bound_upper)
    save_results(tmp_path / "gf.npz", _run(), {"lab": "gradient-flow"})
    arrays, _ = load_results(tmp_path / "gf.npz")
    np.testing.assert_array_equal(arrays["bound_lower"], r.bound_lower)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.bound_lower = None
    assert dataclasses.replace(r, seconds=0.0).bound_upper is not None


def test_runs_without_bounds_have_none():
    for cfg in (dataclasses.replace(CFG, depth=2), dataclasses.replace(CFG, data="finite")):
        r = _run(cfg)
        assert r.bound_lower is None and r.bound_upper is None and r.bounds_at(0) is None
    rec = simulate(dataclasses.replace(CFG, depth=2))
    assert rec.bound_lower is None


def test_frames_filled_by_the_next_steps_first_stage(monkeypatch):
    """Most frames come from the stage hook (counted); every field still equals the
    states path's bit for bit (frames at block ends go the other way)."""
    calls = []
    original = PlanarFields.stage_writer

    def counting(self, index, start):
        calls.append(index)
        return original(self, index, start)

    monkeypatch.setattr(PlanarFields, "stage_writer", counting)
    cfg = dataclasses.replace(CFG, n_init=40, t_max=6.0, dt=0.01, frames=150)
    fused, states = simulate(cfg), simulate(cfg, record_states=True)
    assert len(set(calls)) > 100
    for name in ("w", "magnitude", "angle", "loss"):
        assert torch.equal(getattr(fused, name), getattr(states, name)), name


def test_the_benchmarks_pass_start_baseline_is_the_same_run():
    """``benchmarks/gradient_flow_before.py`` (the step at the start of #16's third pass, the
    bounds read eagerly) gives the lab's result to rounding (≤ 1e-12 relative), so its
    timing is a like-for-like baseline; more than two chunks, a short last one there."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "gradient_flow_before.py"
    spec = importlib.util.spec_from_file_location("gradient_flow_before", path)
    before = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(before)
    cfg = dataclasses.replace(CFG, teacher_norm=1.0, n_init=40_000, t_max=0.3, dt=0.01,
                              frames=7)
    now, then = _run(cfg), before.session_start(run_config, cfg, "cpu")
    assert isinstance(stored(then, "bound_lower"), Deferred) is False   # read eagerly
    for name in ("w", "magnitude", "angle", "loss", "bound_lower", "bound_upper"):
        a, b = getattr(now, name), getattr(then, name)
        assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max(), name
    for key, (t, loss, *_) in now.step_study.items():
        np.testing.assert_allclose(loss, then.step_study[key][1], rtol=1e-12, atol=0)
