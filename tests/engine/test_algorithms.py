"""Known answers for the core algorithms and prox maps (SCIENCE.md §4.3, §4.5): CG on SPD and
Hermitian systems, FISTA and PDHG-TV against closed forms and cvxpy, Moreau identities, and
resumability (a generator drained in pieces equals one uninterrupted run)."""
import pytest
import torch

from engine.core.algorithms import (cg, fista, group_soft, pdhg, project_group_ball, soft,
                                    tv_prox)
from engine.core.linop import FiniteDifference, MatrixOperator
from engine.core.progress import drain

F64, C128 = torch.float64, torch.complex128


def _spd(d, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    B = torch.randn(d, d, generator=g, dtype=dtype)
    return B @ B.mH + 0.5 * torch.eye(d, dtype=dtype)


@pytest.mark.parametrize("dtype", [F64, C128])
@pytest.mark.parametrize("batch_dims", [0, 1])
def test_cg_solves_spd_and_hermitian_systems_in_d_steps(dtype, batch_dims):
    d = 6
    M = _spd(d, dtype, 0)
    g = torch.Generator().manual_seed(1)
    b = torch.randn((4, d) if batch_dims else (d,), generator=g, dtype=dtype)
    x = drain(cg(lambda v: v @ M.T, b, None, d, batch_dims=batch_dims))
    ref = torch.linalg.solve(M, b.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(x, ref, atol=1e-10)
    x0 = torch.randn(b.shape, generator=g, dtype=dtype)            # warm start: same solution
    assert torch.allclose(drain(cg(lambda v: v @ M.T, b, x0, d, batch_dims=batch_dims)), ref,
                          atol=1e-10)


def test_cg_tolerance_stops_early_and_zero_rhs_is_safe():
    M = _spd(30, F64, 2)
    b = torch.randn(30, generator=torch.Generator().manual_seed(3), dtype=F64)
    states = list(cg(lambda v: M @ v, b, None, 200, tol=1e-8))
    assert states[-1].k < 200 and states[-1].stats["rr"] ** 0.5 <= 1e-8 * float(b.norm())
    rows = torch.zeros(3, 30, dtype=F64)                           # nothing to solve: stays 0
    assert torch.equal(drain(cg(lambda v: v @ M, rows, rows, 5, batch_dims=1)), rows)


@pytest.mark.parametrize("batch_dims", [0, 1])
def test_cg_resumes_exactly(batch_dims):
    M = _spd(12, C128, 4)
    b = torch.randn((3, 12), generator=torch.Generator().manual_seed(5), dtype=C128)
    whole = drain(cg(lambda v: v @ M.T, b, None, 10, batch_dims=batch_dims, every=10))
    run = cg(lambda v: v @ M.T, b, None, 10, batch_dims=batch_dims, every=3)
    ks = [next(run).k, next(run).k]                                # pause after 6 iterations
    assert ks == [3, 6]
    rest = [s.k for s in run]                                       # then continue
    assert rest == [9, 10]
    again = cg(lambda v: v @ M.T, b, None, 10, batch_dims=batch_dims, every=4)
    assert torch.equal(drain(again), whole)


def test_soft_and_group_soft_are_prox_maps():
    """Closed forms and Moreau's identity ``z = prox_{τ‖·‖}(z) + proj_{τ-ball}(z)``."""
    z = torch.tensor([3.0, -0.5, -2.0, 0.0], dtype=F64)
    assert torch.allclose(soft(z, 1.0), torch.tensor([2.0, 0.0, -1.0, 0.0], dtype=F64))
    assert torch.allclose(z - soft(z, 1.0), z.clamp(-1.0, 1.0))
    zc = torch.tensor([3 + 4j, 0.3 - 0.4j], dtype=C128)             # |z| = 5 and 0.5
    assert torch.allclose(soft(zc, 1.0), torch.tensor([2.4 + 3.2j, 0.0], dtype=C128))
    q = torch.randn(2, 5, 7, generator=torch.Generator().manual_seed(6), dtype=F64)
    assert torch.allclose(group_soft(q, 0.8) + project_group_ball(q, 0.8), q, atol=1e-14)
    assert float(project_group_ball(q, 0.8).norm(dim=0).max()) <= 0.8 + 1e-12


def test_tv_prox_of_a_step_has_the_closed_form():
    """1-D ROF of a unit step (two plateaus of 10): each plateau moves by λ/10 toward the other
    while λ < 5 (= |Σ (v - mean)| over a plateau), and everything is the mean beyond."""
    v = torch.cat([torch.zeros(10), torch.ones(10)]).to(F64)
    for lam, low in ((2.0, 0.2), (6.0, 0.5)):
        x = tv_prox(v, lam, axes=(-1,), iters=2000)
        ref = torch.cat([torch.full((10,), low, dtype=F64), torch.full((10,), 1 - low, dtype=F64)])
        assert torch.allclose(x, ref, atol=1e-9)


def test_tv_prox_2d_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    g = torch.Generator().manual_seed(7)
    v = (torch.rand(8, 9, generator=g, dtype=F64) > 0.5).to(F64) + 0.2 * torch.randn(
        8, 9, generator=g, dtype=F64)
    lam = 0.3
    X = cp.Variable((8, 9))
    dy = cp.vstack([X[1:, :] - X[:-1, :], cp.Constant(torch.zeros(1, 9).numpy())])
    dx = cp.hstack([X[:, 1:] - X[:, :-1], cp.Constant(torch.zeros(8, 1).numpy())])
    tv = cp.sum(cp.norm(cp.vstack([cp.vec(dy, order="C"), cp.vec(dx, order="C")]), 2, axis=0))
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(X - v.numpy()) + lam * tv)).solve()
    ours = tv_prox(v, lam, axes=(-2, -1), iters=2000)
    assert torch.allclose(ours, torch.from_numpy(X.value), atol=1e-5)


def test_fista_lasso_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    g = torch.Generator().manual_seed(8)
    A = torch.randn(12, 6, generator=g, dtype=F64)
    b = torch.randn(12, generator=g, dtype=F64)
    lam, L = 0.7, float(torch.linalg.matrix_norm(A, ord=2)) ** 2
    op = MatrixOperator(A)
    x = drain(fista(lambda z: op.adjoint(op.forward(z) - b), lambda u, s: soft(u, lam * s),
                    torch.zeros(6, dtype=F64), 1.0 / L, 2000))
    X = cp.Variable(6)
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A.numpy() @ X - b.numpy())
                           + lam * cp.norm1(X))).solve()
    assert torch.allclose(x, torch.from_numpy(X.value), atol=1e-5)


def test_pdhg_and_fista_resume_exactly():
    v = torch.randn(6, 7, generator=torch.Generator().manual_seed(9), dtype=F64)
    grad = FiniteDifference(v.shape, (-2, -1), F64)

    def run(every):
        return pdhg([grad], [lambda q, s: project_group_ball(q, 0.4)], v, 0.3, 0.3, 12,
                    primal_prox=lambda u, t: (u + t * v) / (1 + t), every=every)
    paused = run(4)
    assert [next(paused).k, next(paused).k] == [4, 8]
    assert torch.equal(drain(paused), drain(run(12)))

    def lasso(every, iters=9):       # min ½‖z - v‖² + 0.1‖z‖₁: solution soft(v, 0.1)
        return fista(lambda z: z - v, lambda u, s: soft(u, 0.1 * s), v * 0, 0.5, iters,
                     every=every)
    paused = lasso(2)
    assert [next(paused).k, next(paused).k] == [2, 4]
    assert [s.k for s in paused] == [6, 8, 9]
    assert torch.equal(drain(lasso(2)), drain(lasso(9)))
    assert torch.allclose(drain(lasso(100, 100)), soft(v, 0.1), atol=1e-12)
