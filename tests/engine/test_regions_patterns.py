"""SCIENCE.md §2.2 / §2.9.1: exact activation-pattern enumeration, sampling, degenerate data."""
import numpy as np
import pytest

from engine.regions import count_regions, enumerate_patterns, sample_patterns
from engine.regions.patterns import augment


def _sphere_gates(p, count, seed=0):
    G = np.random.default_rng(seed).standard_normal((count, p))
    return G / np.linalg.norm(G, axis=1, keepdims=True)


def _brute_patterns(X, bias, count=200_000):
    """Patterns hit by many random gates (misses only very thin cells)."""
    A = augment(X, bias)
    D = (_sphere_gates(A.shape[1], count) @ A.T) >= 0
    return {row.tobytes() for row in np.unique(D, axis=0)}


def _dual_count(X):
    """P = 2·#cells(lines x_i·a + 1 = 0) − #cells at infinity (2·#directions), see §2.2."""
    aff = count_regions(X, np.ones(len(X)))
    dirs = X / np.linalg.norm(X, axis=1, keepdims=True)
    flip = (dirs[:, 0] < -1e-12) | ((np.abs(dirs[:, 0]) <= 1e-12) & (dirs[:, 1] < 0))
    dirs = dirs * np.where(flip, -1.0, 1.0)[:, None]
    k = len(np.unique(np.round(dirs, 9), axis=0))
    return 2 * aff - 2 * k


@pytest.mark.parametrize("n, expected", [(4, 14), (6, 32)])
def test_known_counts_with_bias(n, expected):
    X = np.random.default_rng(n).normal(size=(n, 2))
    assert len(enumerate_patterns(X, bias=True)) == expected == n * n - n + 2


@pytest.mark.parametrize("n", [1, 2, 3, 5, 9, 17, 40])
def test_general_position_counts_and_gates(n):
    X = np.random.default_rng(100 + n).normal(size=(n, 2))
    D, G = enumerate_patterns(X, bias=True, return_gates=True)
    assert len(D) == n * n - n + 2
    assert np.array_equal((G @ augment(X).T) >= 0, D)
    assert D.all(axis=1).any() and (~D).all(axis=1).any()
    D0, G0 = enumerate_patterns(X, bias=False, return_gates=True)
    assert len(D0) == 2 * n
    assert np.array_equal((G0 @ X.T) >= 0, D0)
    assert len({r.tobytes() for r in D}) == len(D)


def test_enumeration_matches_dense_gate_sampling():
    X = np.random.default_rng(3).normal(size=(7, 2))
    D = enumerate_patterns(X)
    assert {r.tobytes() for r in D} == _brute_patterns(X, True)


DEGENERATE = {
    "duplicates": [[0.3, 0.2], [0.3, 0.2], [-1.0, 0.5], [0.7, -0.9], [0.7, -0.9]],
    "collinear": [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.5, 0.5], [0.0, 1.0], [1.0, -0.5]],
    "collinear_and_duplicate": [[0, 1], [1, 2], [2, 3], [1, 2], [-1, 0], [2, -1], [0, -3]],
    "grid": [[i, j] for i in (-1.0, 0.0, 1.0) for j in (-1.0, 0.5, 2.0)],
}


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_data_enumeration_is_exact(name):
    X = np.asarray(DEGENERATE[name], dtype=float)
    D, G = enumerate_patterns(X, return_gates=True)
    assert np.array_equal((G @ augment(X).T) >= 0, D)
    assert {r.tobytes() for r in D} == _brute_patterns(X, True)
    if not (np.linalg.norm(X, axis=1) == 0).any():
        assert len(D) == _dual_count(X)


def test_dual_arrangement_formula_in_general_position():
    X = np.random.default_rng(11).normal(size=(25, 2))
    assert len(enumerate_patterns(X)) == _dual_count(X)


def test_all_points_on_one_line_and_single_points():
    X = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    D = enumerate_patterns(X)
    assert len(D) == 2 * 4                       # 1-D arrangement of 4 points: 2·4 cells
    assert {r.tobytes() for r in D} == _brute_patterns(X, True)
    assert len(enumerate_patterns(np.array([[0.2, 0.3]]))) == 2
    assert len(enumerate_patterns(np.array([[0.2, 0.3]] * 3))) == 2
    assert len(enumerate_patterns(np.array([[1.0, 0.0], [-2.0, 0.0]]), bias=False)) == 2


def test_no_bias_degenerate_directions():
    X = np.array([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    D = enumerate_patterns(X, bias=False)
    assert len(D) == 4
    assert D[:, 4].all()                          # the origin is always on (0 ≥ 0)
    assert {r.tobytes() for r in D} == _brute_patterns(X, False)


def test_sampled_patterns_are_a_deterministic_subset():
    X = np.random.default_rng(5).normal(size=(12, 2))
    full = {r.tobytes() for r in enumerate_patterns(X)}
    D1, G1 = sample_patterns(X, 300, seed=4, return_gates=True)
    D2 = sample_patterns(X, 300, seed=4)
    assert np.array_equal(D1, D2)
    assert {r.tobytes() for r in D1} <= full
    assert not (~D1).all(axis=1).any()          # all-zero pattern dropped
    assert np.array_equal((G1 @ augment(X).T) >= 0, D1)


def test_bad_inputs():
    with pytest.raises(ValueError, match="NaN"):
        enumerate_patterns(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="sample_patterns"):
        enumerate_patterns(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="n_gates"):
        sample_patterns(np.zeros((4, 2)), 0, seed=0)
