"""The non-convex attention heads of SCIENCE.md §7.3: forward pass, lifting to ``Z``, the
heads read back from a convex optimum, token maps and clusters, and Adam training.

Heads are stored as two factor arrays, one entry per (block ``b``, head ``j``):

* self-/gated attention: ``W1 (B, m, d, d)``, ``W2 (B, m, d, c)``; block ``b`` is gate ``b``
  (one block without gates): ``Ŷ_i = Σ_{b,j} (D_b ⊙ X_i W1 X_i^T) X_i W2`` (§7.3.1, 7.3.3);
* MLP-Mixer: ``W1 (1, m, s, s)``, ``W2 (1, m, d, c)``: ``Ŷ_i = Σ_j W1 X_i W2`` (§7.3.4);
* FNO: ``W1 (s, m, d)``, ``W2 (s, m, c)`` (column ``j`` of ``W1_κ``, row ``j`` of ``W2_κ``):
  ``Ŷ_i = F^T [X̂_{iκ} W1_κ W2_κ]_κ`` with ``X̂_i = F X_i`` (§7.3.4).

The weight decay is ``(β/2) Σ (||W1||² + ||W2||²)``; one head lifts to the rank-one block
``vec(W1) vec(W2)^T`` whose nuclear norm is at most that penalty, with equality for
balanced heads, so every trained objective is ≥ p* of the convex program (§7.3.2).
"""
from __future__ import annotations

from typing import Generator

import numpy as np
import torch

from engine.convex_duals.attention_ops import AttentionOperator

__all__ = ["head_outputs", "lift", "heads_from_optimum", "network_objective",
           "token_maps", "token_clusters", "keyset_clusters", "train_heads"]


def _t(a) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a), dtype=torch.float64)


def head_outputs(op: AttentionOperator, W1, W2) -> torch.Tensor:
    """Each head's output, shape ``(B, m, n, s, c)`` (torch, differentiable in W1, W2)."""
    X, W1, W2 = _t(op.X), _t(W1), _t(W2)
    if op.kind in ("self_attention", "gated_attention"):
        # token t: Σ_u D_tu (x_t^T W1 x_u) x_u^T W2 = x_t^T W1 H_t W2 (§7.3.3)
        queries = torch.einsum("ita,bmak->bmitk", X, W1)
        mixed = torch.einsum("bmitk,bitkl->bmitl", queries, _t(op.gram))
        return torch.einsum("bmitl,bmlj->bmitj", mixed, W2)
    if op.kind == "mlp_mixer":
        return torch.einsum("bmtu,iua,bmaj->bmitj", W1, X, W2)
    F = _t(op.F)
    X_hat = torch.einsum("kt,ita->ika", F, X)
    coef = torch.einsum("ika,kma->kmi", X_hat, W1)           # per frequency and head
    return torch.einsum("kt,kmi,kmj->kmitj", F, coef, W2)


def lift(op: AttentionOperator, W1: np.ndarray, W2: np.ndarray) -> np.ndarray:
    """The lifted ``Z`` (B, rows, cols) of the heads (§7.3.2 block layout)."""
    if op.kind in ("self_attention", "gated_attention"):
        left = np.swapaxes(W1, -1, -2).reshape(W1.shape[:2] + (-1,))   # column-major vec
    else:
        left = W1.reshape(W1.shape[:2] + (-1,))
    right = W2.reshape(W2.shape[:2] + (-1,))
    return np.einsum("bmr,bmc->brc", left, right)


def heads_from_optimum(op: AttentionOperator, Z: np.ndarray, rel_tol: float = 1e-6):
    """Heads of a convex optimum: from ``Z_b = Σ σ_j a_j b_j^T`` head ``j`` of block ``b``
    is ``(√σ_j a_j, √σ_j b_j)`` reshaped (§7.3.2 recovery). Returns ``(W1, W2, sigma)``
    with ``m`` = the largest block rank above ``rel_tol · max σ``; unused heads are zero."""
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    keep = s > rel_tol * max(float(s.max()), 1e-300)
    m = max(1, int(keep.sum(axis=1).max()))
    root = np.sqrt(np.where(keep, s, 0.0))[:, :m]
    left = np.swapaxes(U[:, :, :m], 1, 2) * root[..., None]         # (B, m, rows)
    right = Vt[:, :m, :] * root[..., None]                          # (B, m, cols)
    n, s_tok, d = op.X.shape
    if op.kind in ("self_attention", "gated_attention"):
        W1 = np.swapaxes(left.reshape(op.blocks, m, d, d), -1, -2)
        W2 = right.reshape(op.blocks, m, d, op.c)
    elif op.kind == "mlp_mixer":
        W1 = left.reshape(1, m, s_tok, s_tok)
        W2 = right.reshape(1, m, d, op.c)
    else:
        W1, W2 = left, right
    return W1, W2, s[:, :m]


def network_objective(op: AttentionOperator, W1, W2, Y, beta: float) -> float:
    """``½||Σ heads − Y||² + (β/2)Σ(||W1||² + ||W2||²)`` of the heads (§7.3.1)."""
    out = head_outputs(op, W1, W2).sum(dim=(0, 1)).numpy()
    return float(0.5 * np.sum((out - Y) ** 2)
                 + 0.5 * beta * (np.sum(np.square(W1)) + np.sum(np.square(W2))))


def _head_strength(W1: np.ndarray, W2: np.ndarray) -> np.ndarray:
    """``||W1||·||W2||`` per (block, head): the head's share of the block nuclear norm."""
    axes1, axes2 = tuple(range(2, W1.ndim)), tuple(range(2, W2.ndim))
    return np.sqrt(np.sum(W1 ** 2, axis=axes1) * np.sum(W2 ** 2, axis=axes2))


def token_maps(op: AttentionOperator, W1, W2, sample: int = 0, heads: int = 4) -> np.ndarray:
    """Token-mixing matrices ``(h, s, s)`` of the ``h`` strongest heads on one sample:
    attention scores ``D ⊙ X W1 X^T`` (self/gated), ``W1`` (mixer), or the frequency's
    projector ``F_κ F_κ^T`` times the head's strength (FNO)."""
    strength = _head_strength(W1, W2)
    order = np.argsort(-strength, axis=None)[:heads]
    X = op.X[sample]
    maps = []
    for flat in order:
        b, j = np.unravel_index(flat, strength.shape)
        if op.kind in ("self_attention", "gated_attention"):
            m = X @ W1[b, j] @ X.T
            maps.append(m * op.masks[b, sample] if op.kind == "gated_attention" else m)
        elif op.kind == "mlp_mixer":
            maps.append(W1[b, j])
        else:
            maps.append(np.outer(op.F[b], op.F[b]) * strength[b, j])
    return np.array(maps)


def token_clusters(op: AttentionOperator, W1, W2, sample: int = 0) -> np.ndarray:
    """Cluster label per token of one sample: the index (strongest first) of the head that
    contributes most to the token's output. Tokens routed to the same head form a cluster
    (our reading of ATT's "implicit clustering", §7.3.3; the paper's theorem is [NC])."""
    out = head_outputs(op, W1, W2)[:, :, sample].numpy()            # (B, m, s, c)
    strength = _head_strength(W1, W2)
    rank = np.empty(strength.size, dtype=int)
    rank[np.argsort(-strength, axis=None)] = np.arange(strength.size)
    norms = np.linalg.norm(out, axis=-1).reshape(strength.size, -1)  # (heads, s)
    return rank[np.argmax(norms, axis=0)]


def keyset_clusters(op: AttentionOperator, Z: np.ndarray, sample: int = 0,
                    rel_tol: float = 1e-6) -> np.ndarray:
    """Gated attention: per token of one sample, a label shared by the tokens whose key
    sets ``S_t = {t' : D_tt' = 1}`` agree under every gate active in ``Z`` (block nuclear
    norm above ``rel_tol`` of the largest): §7.3.3's token clustering."""
    norms = np.linalg.svd(Z, compute_uv=False).sum(axis=1)
    active = norms > rel_tol * max(float(norms.max()), 1e-300)
    keys = op.masks[active, sample]                                  # (gates, s, s)
    rows = np.transpose(keys, (1, 0, 2)).reshape(keys.shape[1], -1)  # token → its key sets
    _, labels = np.unique(rows, axis=0, return_inverse=True)
    return labels.ravel()


def _init(op: AttentionOperator, m: int, seed: int, scale: float):
    n, s, d = op.X.shape
    gen = torch.Generator().manual_seed(int(seed))
    shapes = {"self_attention": ((op.blocks, m, d, d), (op.blocks, m, d, op.c)),
              "gated_attention": ((op.blocks, m, d, d), (op.blocks, m, d, op.c)),
              "mlp_mixer": ((1, m, s, s), (1, m, d, op.c)),
              "fno": ((s, m, d), (s, m, op.c))}[op.kind]
    return [(scale * torch.randn(sh, generator=gen, dtype=torch.float64)).requires_grad_()
            for sh in shapes]


def train_heads(op: AttentionOperator, Y: np.ndarray, beta: float, *, heads: int, seed: int,
                steps: int, lr: float, record_every: int = 10, scale: float = 0.3
                ) -> Generator[float, None, tuple]:
    """Adam on the heads' objective from one seed; yields ``(fraction done, objectives so
    far)``.

    Returns ``(objectives, W1, W2, diverged_at)``: the objective every ``record_every``
    steps (NaN after a divergence stopped the run), the final (or last finite) weights, and
    the step the run diverged at (``None`` if it did not).
    """
    W1, W2 = _init(op, heads, seed, scale)
    Yt = _t(Y)
    opt = torch.optim.Adam([W1, W2], lr=lr)
    records = np.full(steps // record_every + 1, np.nan)
    last = (W1.detach().numpy().copy(), W2.detach().numpy().copy())
    for step in range(steps + 1):
        out = head_outputs(op, W1, W2).sum(dim=(0, 1))
        loss = 0.5 * ((out - Yt) ** 2).sum() + 0.5 * beta * ((W1 ** 2).sum() + (W2 ** 2).sum())
        if not torch.isfinite(loss) or loss.item() > 1e12:
            return records, last[0], last[1], step
        if step % record_every == 0:
            records[step // record_every] = loss.item()
            last = (W1.detach().numpy().copy(), W2.detach().numpy().copy())
            yield step / steps, records
        if step < steps:
            opt.zero_grad()
            loss.backward()
            opt.step()
    return records, W1.detach().numpy(), W2.detach().numpy(), None
