"""SCIENCE.md §2.7 / §2.9.7: exact cell counts of line arrangements and per-pixel pattern ids."""
import math

import numpy as np
import pytest
import torch

from engine.regions import count_regions, max_regions, network_output, pattern_ids
from engine.regions.pattern_map import _direct_hashes_iter, as_layers, neuron_keys
from engine.core import drain


def _grid_count(W, b, box, res):
    """Distinct sign vectors on a res × res grid (a lower bound of the cell count)."""
    xs = np.linspace(box[0], box[1], res)
    ys = np.linspace(box[2], box[3], res)
    P = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    return len(np.unique((P @ W.T + b) >= 0, axis=0))


def _vertex_count(W, b, box):
    """Distinct sign vectors at points around every vertex of the cut-up box (reference)."""
    x0, x1, y0, y1 = box
    pts = [np.array([[x, y] for x in (x0, x1) for y in (y0, y1)])]
    m = len(W)
    for i in range(m):                                       # line–line and line–edge points
        for j in range(i + 1, m):
            M = np.array([W[i], W[j]])
            if abs(np.linalg.det(M)) > 1e-12:
                pts.append(np.linalg.solve(M, -np.array([b[i], b[j]]))[None])
        for k, (a, c) in enumerate([((1, 0), x0), ((1, 0), x1), ((0, 1), y0), ((0, 1), y1)]):
            M = np.array([W[i], a], dtype=float)
            if abs(np.linalg.det(M)) > 1e-12:
                pts.append(np.linalg.solve(M, np.array([-b[i], c]))[None])
    V = np.concatenate(pts)
    ang = np.linspace(0, 2 * math.pi, 64, endpoint=False)
    ring = 1e-5 * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    P = (V[:, None, :] + ring[None]).reshape(-1, 2)
    inside = (P[:, 0] > x0) & (P[:, 0] < x1) & (P[:, 1] > y0) & (P[:, 1] < y1)
    return len(np.unique((P[inside] @ W.T + b) >= 0, axis=0))


@pytest.mark.parametrize("m", [1, 2, 5, 12, 40])
def test_general_position(m):
    rng = np.random.default_rng(m)
    W, b = rng.normal(size=(m, 2)), rng.normal(size=m)
    assert count_regions(W, b) == 1 + m + m * (m - 1) // 2 == max_regions(m)
    assert count_regions(W, np.zeros(m)) == 2 * m == max_regions(m, bias=False)


def test_degenerate_arrangements():
    assert count_regions(np.array([[1.0, 0], [0, 1], [1, 1]]), np.zeros(3)) == 6   # concurrent
    assert count_regions(np.array([[1.0, 0], [2, 0]]), np.array([0.0, 1])) == 3    # parallel
    W = np.array([[1.0, 2], [-2, -4], [0.5, 1], [0, 1]])                          # duplicates
    assert count_regions(W, np.array([1.0, -2, 0.5, 0])) == 4
    assert count_regions(np.zeros((3, 2)), np.array([1.0, 0, -1])) == 1          # no lines
    assert count_regions(np.empty((0, 2)), np.empty(0)) == 1
    # 4 lines through one point + 1 line in general position: 8 + (1 + 4) = 13
    W = np.array([[1.0, 0], [0, 1], [1, 1], [1, -1], [1, 0.3]])
    assert count_regions(W, np.array([0, 0, 0, 0, 2.0])) == 13
    # two pairs of parallel lines (a grid): 9 cells
    assert count_regions(np.array([[1.0, 0], [1, 0], [0, 1], [0, 1]]),
                         np.array([0, -1.0, 0, -1])) == 9


def test_counts_inside_a_box():
    W, b = np.array([[1.0, 0], [0, 1]]), np.zeros(2)
    assert count_regions(W, b, box=(-1, 1, -1, 1)) == 4
    assert count_regions(W, b, box=(0.5, 1, 0.5, 1)) == 1
    assert count_regions(W, b, box=(-1, 1, 0.5, 1)) == 2
    assert count_regions(W, b, box=(0, 1, 0, 1)) == 1        # lines on the boundary only
    W3 = np.array([[1.0, 0], [0, 1], [1, 1]])
    assert count_regions(W3, np.zeros(3), box=(-1, 1, -1, 1)) == 6
    assert count_regions(W3, np.array([0.0, 0, -3]), box=(-1, 1, -1, 1)) == 4
    with pytest.raises(ValueError, match="box"):
        count_regions(W, b, box=(1, 0, 0, 1))


@pytest.mark.parametrize("seed", range(6))
def test_random_arrangements_vs_brute_force(seed):
    rng = np.random.default_rng(seed)
    m = 7
    W, b = rng.normal(size=(m, 2)), 0.5 * rng.normal(size=m)
    box = (-1.0, 1.0, -1.0, 1.0)
    exact = count_regions(W, b, box=box)
    assert _vertex_count(W, b, box) == exact
    assert _grid_count(W, b, box, 300) <= exact
    assert _grid_count(W, b, box, 300) >= exact - 3          # only thin cells are missed


def test_degenerate_arrangement_vs_brute_force():
    W = np.array([[1.0, 0], [0, 1], [1, 1], [1, -1], [2, 0], [1, 0]])
    b = np.array([0.0, 0, 0, 0, -1, 0.25])
    box = (-1.0, 1.0, -1.0, 1.0)
    assert _vertex_count(W, b, box) == count_regions(W, b, box=box)


@pytest.mark.parametrize("m", [5, 20])
def test_pattern_ids_count_equals_exact_count(m):
    rng = np.random.default_rng(40 + m)
    W, b = rng.normal(size=(m, 2)), 0.4 * rng.normal(size=m)
    g = np.linspace(-1, 1, 1500)
    ids = pattern_ids([(W, b)], g, g)
    assert ids.dtype == np.int64 and ids.shape == (1500, 1500)
    grid_box = (g[0] - 1e-9, g[-1] + 1e-9, g[0] - 1e-9, g[-1] + 1e-9)
    exact = count_regions(W, b, box=grid_box)
    assert ids.max() + 1 <= exact
    if m == 5:
        assert ids.max() + 1 == exact


def test_row_sweep_equals_pixelwise_evaluation():
    rng = np.random.default_rng(9)
    W, b = rng.normal(size=(30, 2)), rng.normal(size=30)
    W[3, 0] = 0.0                                             # a horizontal line
    W[4] = 0.0                                                # a dead neuron
    gx, gy = np.linspace(-2, 2, 211), np.linspace(-1.5, 2.5, 173)
    ids, keys = pattern_ids([(W, b)], gx, gy, return_hashes=True)
    H = drain(_direct_hashes_iter(as_layers([(W, b)]), gx, gy, neuron_keys(30), "cpu"))
    assert np.array_equal(np.unique(H), keys)
    assert np.array_equal(keys[ids], H)
    bits = (np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2) @ W.T + b) >= 0
    assert ids.max() + 1 == len(np.unique(bits, axis=0))


def test_deep_nets_and_torch_layers():
    gen = torch.Generator().manual_seed(0)
    layers = [(torch.randn(8, 2, generator=gen, dtype=torch.float64),
               torch.randn(8, generator=gen, dtype=torch.float64)),
              (torch.randn(6, 8, generator=gen, dtype=torch.float64),
               torch.randn(6, generator=gen, dtype=torch.float64))]
    g = np.linspace(-2, 2, 200)
    ids = pattern_ids(layers, g, g)
    first = pattern_ids(layers[:1], g, g)
    assert ids.max() >= first.max()                          # refinement of layer 1's cells
    for k in range(first.max() + 1):                          # each deep id inside one cell
        assert len(np.unique(first[ids == (ids[first == k][0])])) == 1
    out = network_output(layers, np.ones(6), g, g)
    assert out.shape == (200, 200) and np.isfinite(out).all()
    with pytest.raises(ValueError, match="layer 1"):
        pattern_ids([(np.ones((3, 2)), np.ones(3)), (np.ones((2, 4)), np.ones(2))], g, g)
