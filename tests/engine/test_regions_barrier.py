"""The primal barrier method for the restricted ReLU program (engine.regions.barrier; SCIENCE.md
§2.3): agreement with cvxpy + Clarabel, strict feasibility and the dual point it gives."""
import numpy as np
import pytest

from engine.core import drain
from engine.regions.barrier import _Barrier, barrier_solve, interior_points, start_point
from engine.regions.cones import cone_values
from engine.regions.patterns import augment
from engine.regions.programs import GroupData
from tests.engine.test_regions_convex_nd import _clarabel_objective

LAM = 0.01


def _program(n, d, gates, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.tanh(X @ rng.normal(size=d)) + 0.1 * rng.normal(size=n)
    A = augment(X)
    G = rng.normal(size=(gates, d + 1))
    D = A @ G.T >= 0
    keep = D.any(axis=0) & ~D.all(axis=0)
    return X, y, A, D.T[keep], G[keep]


@pytest.mark.parametrize("n, d, gates, seed", [(30, 3, 20, 0), (40, 5, 25, 1)])
def test_barrier_matches_clarabel_within_its_gap_bound(cvxpy_clarabel, n, d, gates, seed):
    X, y, A, D, G = _program(n, d, gates, seed)
    P = len(D)
    D2, sigma = np.concatenate([D, D]), np.r_[np.ones(P), -np.ones(P)]
    gd = GroupData.build(A, y, D2, sigma, True)
    inner = interior_points(A, D2, np.concatenate([G, G]))
    assert inner is not None
    U, t = start_point(A, np.zeros_like(inner), inner, 1e-3)
    U, t, tau, steps = drain(barrier_solve(A, y, gd.DS, gd.S, LAM, U, t, 1e-7))
    bar = _Barrier(A, y, gd.DS, gd.S, LAM)
    F, slack, w, r = bar.parts(U, t)
    assert slack.min() > 0 and w.min() > 0                       # strictly feasible
    ref = _clarabel_objective(cvxpy_clarabel, X, y, D, LAM)
    assert bar.nu / tau <= 1e-7 * F
    assert ref * (1 - 1e-7) <= F <= ref + 2 * bar.nu / tau      # ν/τ-suboptimal, no better
    rho = -r / n                                                 # (y − ŷ)/n
    C = (D.astype(float) @ (rho[:, None] * A))
    vals = np.concatenate([cone_values(A, D, C, 0.0), cone_values(A, D, -C, 0.0)])
    assert vals.max() <= LAM * (1 + 1e-4)                        # ρ (nearly) dual feasible
    dual = float(rho @ y) - 0.5 * n * float(rho @ rho)
    assert dual <= ref * (1 + 1e-7) and F - dual <= 1e-5 * F     # a near-tight lower bound


def test_interior_points_without_gates_or_for_an_empty_cone():
    rng = np.random.default_rng(3)
    A = augment(rng.normal(size=(6, 2)))                         # n ≤ p + 3: LSQ finds one
    D = A @ rng.normal(size=(3, 4)) >= 0
    inner = interior_points(A, D.T)
    assert inner is not None
    assert ((np.where(D.T, 1.0, -1.0) * (inner @ A.T)).min(axis=1) > 0).all()
    A1 = np.array([[1.0], [2.0]])                                # u·1 ≥ 0 and u·2 < 0: empty
    assert interior_points(A1, np.array([[True, False]])) is None
