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


def test_entering_limit_never_overflows():
    from engine.regions.activeset import _limit_new
    U = np.zeros((6, 3))
    U[0] = 1.0
    U1 = np.ones((6, 3))
    G = np.arange(18.0).reshape(6, 3)
    assert np.array_equal(_limit_new(U, U1, G, float("inf")), U1)     # all may enter
    kept = _limit_new(U, U1, G, 0.5)                                  # 4 of the 5 new
    assert int((kept != 0).any(axis=1).sum()) == 1 + 4 and not kept[1].any()


def test_backtracking_survives_a_step_that_underflows():
    from engine.regions.fista import _backtrack
    V = np.ones((2, 2))
    smooth = lambda U: (float((U * U).sum()), 2 * U)                 # noqa: E731
    prox = lambda Z, t: Z                                             # noqa: E731
    U, f, g, eta, curv = _backtrack(smooth, prox, 0.0, V, 4.0, 2 * V, 0.0)
    assert eta == 0.0 and np.array_equal(U, V) and f == 4.0


def test_the_entering_check_with_no_candidate_after_a_polish():
    """Fuzz find (issue #17): a 4-point XOR at λ = 3.6e-5 left the entering check with zero
    groups but no candidate; it raised numpy's "zero-size array" ValueError mid-solve."""
    from engine.core import config_from_dict, drain
    from engine.regions.config import RegionsConfig
    from engine.regions.lab import run_config
    cfg = config_from_dict(RegionsConfig, {
        "dataset": "xor", "n_points": 4, "noise": 0.18581516054133806, "width": 7,
        "widths": "2,3", "lam": 3.63827831391918e-05, "steps": 36, "lr": 0.0013346699949650033,
        "optimizer": "adam", "formulation": "relu", "n_seeds": 2, "depth": 2, "grid": 34,
        "snapshots": 2, "init_scale": 0.6316983544092242, "tol": 0.00023575762565956326,
        "seed": 2135604819})
    result = drain(run_config(cfg, "cpu"))
    assert result.convex is not None and np.isfinite(result.convex.objective)
