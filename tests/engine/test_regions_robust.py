"""A diverging non-convex run stops with a message and keeps its path (issue #17, §2.1)."""
from __future__ import annotations

import numpy as np

from engine.regions.nonconvex import divergence_notes, fit_nonconvex, fit_nonconvex_iter


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    return X, np.sign(X[:, 0]) + (X[:, 0] == 0)


def test_divergence_stops_the_seed_with_a_note_and_keeps_the_path():
    X, y = _data()
    gen = fit_nonconvex_iter(X, y, width=8, lam=10.0, steps=50, lr=10.0, seeds=[0],
                             optimizer="gd", init_scale=10.0, n_snapshots=3)
    messages = []
    while True:
        try:
            messages.append(next(gen).message)
        except StopIteration as stop:
            (run,) = stop.value
            break
    k = run.diverged_step
    assert k is not None and any("diverged at step" in m for m in messages)
    assert np.isfinite(run.objective[:k]).all() and np.isnan(run.objective[k:]).all()
    assert np.isfinite(run.W1).all() and np.isfinite(run.w_out).all()   # the state before
    assert divergence_notes([run, None]) == [run.note] and f"step {k}" in run.note


def test_a_converging_run_has_no_note():
    X, y = _data()
    run = fit_nonconvex(X, y, width=8, lam=1e-3, steps=20, lr=0.01, optimizer="adam")
    assert run.diverged_step is None and run.note is None and not divergence_notes([run])
