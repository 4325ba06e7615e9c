"""The d > 2 Newton polish through the features (engine.regions.polish_features, SCIENCE.md
§2.3; issue #18): the same program and Newton direction as the padded-Gram polish, its
n-dimensional Schur-complement solve equal to the dense one, and the solver's optima
unchanged (vs the padded-Gram path and vs cvxpy + Clarabel)."""
import numpy as np
import pytest

from engine.regions import fit_convex, sample_patterns
from engine.regions.cones import project_cone
from engine.regions.faces import face_bases
from engine.regions.patterns import augment
from engine.regions.polish import _Raw, _Reduced
from engine.regions.polish_features import FaceFeatures

LAM = 0.01


def _programs(n, d, gates, seed):
    """The padded-Gram and the features form of one face-restricted program: groups on
    faces of their cones (projections of random vectors) and inside (scaled gates)."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    A = augment(X)
    D, G = sample_patterns(X, gates, seed, return_gates=True)
    keep = D.sum(axis=1) >= d + 2                      # enough active points per group
    D, G = D[keep], G[keep]
    U = np.array([project_cone(A, D[k], rng.normal(size=d + 1)) for k in range(len(D))])
    U[::2] = 0.5 * G[::2]                              # half strictly inside their cones
    groups = np.flatnonzero(np.linalg.norm(U, axis=1) > 0)
    DS = D.astype(float)
    raw = _Raw(A, y, DS, groups)
    bases, dims = face_bases(A, 2.0 * D[groups] - 1.0, U[groups], raw.geo)
    z = np.einsum("gpk,gp->gk", bases, U[groups])
    gram = _Reduced(raw, groups, bases, dims, LAM, False)
    feat = FaceFeatures(A, y, DS[groups], bases, dims, LAM, raw.an)
    return gram, feat, z, rng


def _hessian(feat, z):
    """``MᵀM/n + blockdiag(λ(I − ẑẑᵀ)/‖z‖)`` on the free coordinates, built literally."""
    free = feat.free
    H = feat.M.T @ feat.M / feat.n
    nrm = np.linalg.norm(z, axis=1)
    zh = z / nrm[:, None]
    blocks = (np.eye(feat.p)[None] - zh[:, :, None] * zh[:, None, :]) * (LAM / nrm)[:, None,
                                                                                    None]
    full = np.zeros((feat.g * feat.p,) * 2)
    for g in range(feat.g):
        s = slice(g * feat.p, (g + 1) * feat.p)
        full[s, s] = blocks[g]
    return H + full[np.ix_(free, free)]


@pytest.mark.parametrize("n, d, gates, seed", [(40, 5, 10, 0), (25, 9, 14, 1)])
def test_features_program_equals_padded_gram_program(n, d, gates, seed):
    gram, feat, z, rng = _programs(n, d, gates, seed)
    assert feat.any_frozen and not feat.frozen.all()          # some groups on faces
    assert feat.value(z) == pytest.approx(gram.value(z), rel=1e-13)
    Dz = rng.normal(size=(3,) + z.shape) * feat.mask
    assert np.allclose(feat.deltas(z, Dz), gram.deltas(z, Dz), rtol=1e-10, atol=1e-14)
    assert np.allclose(feat.values(z[None] + Dz), gram.values(z[None] + Dz), rtol=1e-12)
    assert np.allclose(feat.directional(z, Dz[0]), gram.directional(z, Dz[0]), rtol=1e-11)
    g_feat, d_feat = feat.step(z)
    g_gram, d_gram = gram.step(z)
    assert np.allclose(g_feat, g_gram, rtol=1e-11, atol=1e-14)
    assert np.allclose(d_feat, d_gram, rtol=1e-7, atol=1e-9 * np.abs(d_gram).max())


@pytest.mark.parametrize("n, d, gates, seed", [(40, 5, 10, 0), (25, 9, 14, 1)])
def test_schur_newton_direction_solves_the_newton_system(n, d, gates, seed):
    """Dense and n-space (Schur/Woodbury) solves give the direction with ``H d = −∇φ``."""
    _, feat, z, _ = _programs(n, d, gates, seed)
    H = _hessian(feat, z)
    assert np.linalg.cond(H) < 1e9                               # a well-posed instance
    grad, _ = feat.step(z, direction=False)
    nrm = np.linalg.norm(z, axis=1)
    zh = z / nrm[:, None]
    dense, schur = feat.newton_dense(zh, nrm, grad), feat.newton_schur(zh, nrm, grad)
    scale = np.abs(grad).max()
    assert np.abs(H @ dense[feat.free] + grad[feat.free]).max() <= 1e-8 * scale
    assert np.abs(H @ schur[feat.free] + grad[feat.free]).max() <= 1e-8 * scale
    assert (schur[feat.frozen] == 0).all()
    assert np.allclose(schur, dense, rtol=1e-6, atol=1e-8 * np.abs(dense).max())


@pytest.mark.parametrize("n, d, gates, seed", [(50, 6, 60, 5),      # dense Newton solves
                                                (20, 15, 60, 3)])    # n-space (Schur) solves
def test_features_polish_gives_the_padded_gram_optimum(monkeypatch, cvxpy_clarabel, n, d,
                                                       gates, seed):
    """The whole solve: certified, the same objective as the padded-Gram polish, and
    Clarabel's."""
    import engine.regions.polish as polish
    from tests.engine.test_regions_convex_nd import _clarabel_objective, _instance
    X, y, D = _instance(n, d, gates, seed)
    new = fit_convex(X, y, LAM, tol=1e-9, patterns=D)
    monkeypatch.setattr(polish, "FEATURES_P", 10 ** 9)
    old = fit_convex(X, y, LAM, tol=1e-9, patterns=D)
    assert new.certified and old.certified and new.relative_gap <= 1e-9
    assert new.objective == pytest.approx(old.objective, rel=1e-10)
    ref = _clarabel_objective(cvxpy_clarabel, X, y, D, LAM)
    assert new.objective == pytest.approx(ref, rel=1e-6)
    assert new.dual_value <= ref * (1 + 1e-7) and new.cone_violation <= 1e-10
