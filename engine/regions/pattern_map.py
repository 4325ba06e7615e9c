"""Per-pixel activation-pattern ids of a ReLU network on a grid (SCIENCE.md §2.7).

A network is given by its hidden ReLU layers ``[(W_1, b_1), ..., (W_L, b_L)]`` with
``W_1 (m_1, 2)``; the (linear) output layer does not change the pattern. Each pixel's pattern
(all neurons' bits ``pre ≥ 0``) is hashed to 64 bits as ``Σ_j bit_j r_j mod 2⁶⁴`` with fixed
random keys ``r_j`` (one per neuron, same keys on every call, so a region keeps its hash while
training moves it); distinct patterns collide with probability ≈ ``K²·2⁻⁶⁵`` for ``K``
patterns. Hashes are then compacted to ids ``0..K−1``.

One hidden layer: along a grid row, neuron ``j`` switches exactly once, at
``x*_j(y) = −(w_j2 y + b_j)/w_j1``, so each row's hashes are a cumulative sum of the
switch keys (``O(m)`` per row plus ``O(1)`` per pixel; no per-pixel neuron loop). Deeper nets
are evaluated pixel by pixel (torch, chunked); there the number of distinct ids on the grid is
only a lower bound on the number of linear regions (thin regions can miss every pixel).
"""
from __future__ import annotations

from typing import Generator

import numpy as np
import torch

from engine.core import Progress, drain

__all__ = ["pattern_ids", "pattern_ids_iter", "pattern_hashes", "neuron_keys",
           "network_output", "as_layers"]

_KEY_SEED = 0x5EEDF10A
_PIXEL_CHUNK = 1 << 15


def neuron_keys(count: int) -> np.ndarray:
    """The fixed 64-bit random keys ``r_j`` of the first ``count`` neurons (all layers)."""
    rng = np.random.default_rng(_KEY_SEED)
    return rng.integers(0, np.iinfo(np.uint64).max, size=int(count), dtype=np.uint64,
                        endpoint=True)


def as_layers(layers) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validate ``[(W, b), ...]`` (float64 numpy) for a net on 2-D input."""
    out, fan_in = [], 2
    if len(layers) == 0:
        raise ValueError("a network needs at least one hidden layer (W, b)")
    for k, (W, b) in enumerate(layers):
        W = np.asarray(W.detach().cpu() if torch.is_tensor(W) else W, dtype=np.float64)
        b = np.asarray(b.detach().cpu() if torch.is_tensor(b) else b, dtype=np.float64)
        if W.ndim != 2 or W.shape[1] != fan_in or b.shape != (W.shape[0],):
            raise ValueError(f"layer {k}: expected W (m, {fan_in}) and b (m,), got "
                             f"{W.shape} and {b.shape}")
        out.append((W, b))
        fan_in = W.shape[0]
    return out


def _grid(grid_x, grid_y):
    gx = np.asarray(grid_x, dtype=np.float64).reshape(-1)
    gy = np.asarray(grid_y, dtype=np.float64).reshape(-1)
    if len(gx) == 0 or len(gy) == 0:
        raise ValueError("empty grid")
    return gx, gy


def _one_layer_hashes(W, b, gx, gy, keys) -> np.ndarray:
    """Row-sweep hashes of a single hidden layer (module docstring)."""
    order = np.argsort(gx, kind="stable")
    xs = gx[order]
    nx, ny = len(xs), len(gy)
    wx, wy = W[:, 0], W[:, 1]
    flat = wx == 0.0
    const = wy[None, flat] * gy[:, None] + b[None, flat]          # (ny, m_flat)
    base = (np.where(const >= 0, keys[flat], 0).sum(axis=1, dtype=np.uint64)
            + keys[(wx < 0)].sum(dtype=np.uint64))
    up, down = wx > 0, wx < 0
    diff = np.zeros((ny, nx + 1), dtype=np.uint64)
    rows = np.arange(ny)[:, None]
    neg = ~keys[down] + np.uint64(1)                              # −r_j mod 2⁶⁴
    for mask, side, delta in ((up, "left", keys[up]), (down, "right", neg)):
        if not mask.any():
            continue
        xstar = -(wy[None, mask] * gy[:, None] + b[None, mask]) / wx[None, mask]
        k = np.searchsorted(xs, xstar.ravel(), side=side).reshape(xstar.shape)
        np.add.at(diff, (np.broadcast_to(rows, k.shape), k), np.broadcast_to(delta, k.shape))
    H = np.cumsum(diff[:, :nx], axis=1, dtype=np.uint64) + base[:, None]
    out = np.empty_like(H)
    out[:, order] = H
    return out


def _byte_tables(keys: np.ndarray) -> np.ndarray:
    """``T[g, v] = Σ_{bit b of v} keys[8g + b]`` (uint64, wrapping) for byte lookups."""
    n_bytes = (len(keys) + 7) // 8
    padded = np.zeros(8 * n_bytes, dtype=np.uint64)
    padded[:len(keys)] = keys
    bits = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(np.uint64)
    T = np.zeros((n_bytes, 256), dtype=np.uint64)
    for g in range(n_bytes):
        T[g] = (bits * padded[8 * g:8 * g + 8][None, :]).sum(axis=1, dtype=np.uint64)
    return T


def _hash_bits(bits: np.ndarray, tables: np.ndarray) -> np.ndarray:
    """``Σ_j bits[:, j] r_j mod 2⁶⁴`` through byte lookup tables."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    h = np.zeros(len(bits), dtype=np.uint64)
    for g in range(packed.shape[1]):
        h += tables[g][packed[:, g]]
    return h


def _direct_hashes_iter(layers, gx, gy, keys, device) -> Generator:
    """Pixel-by-pixel hashes of a net of any depth (torch forward, chunked rows)."""
    tables = _byte_tables(keys)
    nx, ny = len(gx), len(gy)
    Ws = [(torch.as_tensor(W, device=device), torch.as_tensor(b, device=device))
          for W, b in layers]
    out = np.empty((ny, nx), dtype=np.uint64)
    rows = max(1, _PIXEL_CHUNK // nx)
    gxt = torch.as_tensor(gx, device=device)
    for r0 in range(0, ny, rows):
        yy = torch.as_tensor(gy[r0:r0 + rows], device=device)
        h = torch.stack(torch.meshgrid(yy, gxt, indexing="ij")[::-1], dim=-1).reshape(-1, 2)
        bits = []
        for W, b in Ws:
            pre = h @ W.T + b
            bits.append(pre >= 0)
            h = torch.relu(pre)
        B = torch.cat(bits, dim=1).cpu().numpy()
        out[r0:r0 + rows] = _hash_bits(B, tables).reshape(-1, nx)
        yield Progress(min(1.0, (r0 + rows) / ny), "pattern map")
    return out


def pattern_hashes(layers, grid_x, grid_y, device: str = "cpu") -> np.ndarray:
    """64-bit pattern hashes (ny, nx) of every pixel ``(grid_x[ix], grid_y[iy])``."""
    return drain(_hashes_iter(as_layers(layers), *_grid(grid_x, grid_y), device))


def _hashes_iter(layers, gx, gy, device) -> Generator:
    keys = neuron_keys(sum(W.shape[0] for W, _ in layers))
    if len(layers) == 1:
        return _one_layer_hashes(*layers[0], gx, gy, keys)
    return (yield from _direct_hashes_iter(layers, gx, gy, keys, device))


def pattern_ids_iter(layers, grid_x, grid_y, device: str = "cpu") -> Generator:
    """Progress generator of :func:`pattern_ids` (``return_hashes=True`` form)."""
    layers = as_layers(layers)
    H = yield from _hashes_iter(layers, *_grid(grid_x, grid_y), device)
    keys, inverse = np.unique(H.ravel(), return_inverse=True)
    return inverse.reshape(H.shape).astype(np.int64), keys


def pattern_ids(layers, grid_x, grid_y, return_hashes: bool = False, device: str = "cpu"):
    """Activation-pattern id of every pixel of a ReLU net on 2-D input (SCIENCE.md §2.7).

    Parameters
    ----------
    layers : list of (W, b)
        Hidden ReLU layers, ``W_1 (m_1, 2)``, ``W_l (m_l, m_{l-1})`` (numpy or torch).
    grid_x, grid_y : array (nx,), (ny,)
        Pixel coordinates; pixel ``(iy, ix)`` is the point ``(grid_x[ix], grid_y[iy])``.
    return_hashes : bool
        Also return the 64-bit hash of each id (stable across calls: colour key).
    device : str
        Torch device of the pixel-by-pixel evaluation (nets with ≥ 2 hidden layers).

    Returns
    -------
    ids : int64 array (ny, nx)
        ``0..K−1``; equal ids ⇔ equal patterns (up to a ≈ ``K²2⁻⁶⁵`` hash collision).
        For one hidden layer ``K`` equals :func:`count_regions` inside the grid's box once
        every cell holds a pixel; for deeper nets ``K`` is a lower bound on the number of
        linear regions meeting the box.
    hashes : uint64 array (K,), only with ``return_hashes``
    """
    ids, keys = drain(pattern_ids_iter(layers, grid_x, grid_y, device))
    return (ids, keys) if return_hashes else ids


def network_output(layers, w_out, grid_x, grid_y) -> np.ndarray:
    """Output ``w_out · h_L(x)`` (ny, nx) of the net on the grid (float64, CPU)."""
    layers = as_layers(layers)
    gx, gy = _grid(grid_x, grid_y)
    w_out = np.asarray(w_out, dtype=np.float64).reshape(-1)
    if len(w_out) != layers[-1][0].shape[0]:
        raise ValueError("w_out must have one weight per neuron of the last hidden layer")
    out = np.empty((len(gy), len(gx)))
    rows = max(1, _PIXEL_CHUNK // len(gx))
    for r0 in range(0, len(gy), rows):
        yy, xx = np.meshgrid(gy[r0:r0 + rows], gx, indexing="ij")
        h = np.stack([xx.ravel(), yy.ravel()], axis=1)
        for W, b in layers:
            h = np.maximum(h @ W.T + b, 0.0)
        out[r0:r0 + rows] = (h @ w_out).reshape(-1, len(gx))
    return out
