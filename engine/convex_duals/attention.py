"""Attention heads as block nuclear-norm programs, beside heads trained by Adam (SCIENCE.md §7.3).

A head family (linear self-attention, gated-ReLU self-attention, linear MLP-Mixer, linear
FNO) trained with weight decay is the convex program

    p* = min_Z ½ Σ_i ||A_i(Z) − Y_i||_F² + β Σ_b ||Z_b||_*          (§7.3.2, §7.3.4)

over a lifted matrix of blocks ``Z_b`` (one per gate of gated attention, one per frequency of
the FNO, one otherwise). It is solved by ADMM with singular-value thresholding
(:mod:`engine.convex_duals.attention_ops`) and certified by the duality gap of §7.0; its SVD
gives the heads (rank of ``Z*`` = heads needed). The same heads are trained by Adam from
several seeds (:mod:`engine.convex_duals.attention_heads`); with weight decay every trained
objective is ≥ p*. Data: ``n`` samples of ``s`` tokens in ``R^d``, targets in ``R^c`` per
token, either planted (tokens around ``s`` centres, targets from two teacher heads plus
noise) or Gaussian (the §7.3.5 known-answer instance).

Default size: n = 20, s = 4, d = 3, c = 2, β = 0.5 (54 lifted unknowns): convex solve ≈ 0.05 s,
the β path (9 more solves) ≈ 0.3 s, the whole run (3 seeds × 600 Adam steps) ≈ 5 s on this
CPU; at most 600 lifted unknowns (≈ 0.3 s per solve).

``ModelOutcome.arrays`` keys
----------------------------
``sv_convex``, ``sv_trained`` : (B, r)
    Singular values of each block of Z* and of the lifted best trained heads.
``block_norms_convex``, ``block_norms_trained`` : (B,)
    Nuclear norm of each block (the "block" of the block nuclear norm).
``maps_convex``, ``maps_trained`` : (h, s, s)
    Token-mixing maps on sample 0 of the h ≤ 4 strongest heads (attention scores, the
    mixer's token matrix, or the FNO frequency's projector), strongest first.
``clusters_convex``, ``clusters_trained`` : (s,)
    Per token of sample 0, the rank (0 = strongest) of the head that contributes most to
    its output: tokens sharing a head form a cluster.
``head_strength_convex``, ``head_strength_trained`` : (h,)
    ``||W1||·||W2||`` of the heads the maps show.
``tokens`` : (s, d)
    Sample 0's tokens.
``masks`` : (B, s, s)
    Gated attention only: the score masks of every gate on sample 0.
``clusters_keysets`` : (s,)
    Gated attention only: tokens of sample 0 with the same key sets under every gate
    active in Z* share a label (§7.3.3).
``beta_path`` : (K,)
    β × [0.1 … 10] (9 values, geometric) around the chosen β.
``sv_path`` : (K, B, r)
    Singular values of every block of Z*(β) for each β of ``beta_path``: heads needed
    against β (the §7.3.5 toy).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generator

import numpy as np

from engine.convex_duals.attention_heads import (heads_from_optimum, keyset_clusters, lift,
                                                 network_objective, token_clusters, token_maps,
                                                 train_heads)
from engine.convex_duals.attention_ops import (AttentionOperator, gate_masks, lifted_matrix,
                                               singular_value_path_iter, solve_block_nuclear)
from engine.convex_duals.attention_stream import stream_seed_runs
from engine.convex_duals.common import ConvexDualsError, ModelOutcome
from engine.core import Progress, param, relay

__all__ = ["Params", "run", "make_data", "build_operator", "MAX_LIFTED"]

HEADS = ("self_attention", "gated_attention", "mlp_mixer", "fno")
MAX_LIFTED = 600      # unknowns of the exact program ADMM solves in about 1 s here
BETA_PATH = np.geomspace(0.1, 10.0, 9)     # multiples of β for the singular-value path
RECORD_EVERY = 10
CERTIFICATE = "duality gap"


@dataclass(frozen=True)
class Params:
    """Settings of the attention model (§7.3)."""
    head: str = param("self_attention", label="Head", choices=HEADS,
                      help="Head family: linear or gated-ReLU self-attention, MLP-Mixer, FNO")
    data: str = param("planted", label="Data", choices=("planted", "gaussian"),
                      help="Planted: clustered tokens, targets from two teacher heads; "
                           "Gaussian: the §7.3.5 known-answer instance")
    samples: int = param(20, label="Samples n", min=2, max=60,
                         help="Number of training sequences")
    tokens: int = param(4, label="Tokens s", min=2, max=8, help="Tokens per sequence")
    features: int = param(3, label="Features d", min=1, max=4, help="Token dimension")
    outputs: int = param(2, label="Outputs c", min=1, max=3, help="Output features per token")
    beta: float = param(0.5, label="β", min=0.0, max=10.0, log=True,
                        help="Weight decay; the block nuclear-norm weight of the convex program")
    gates: int = param(2, label="Gates", min=1, max=4,
                       help="Gated attention: number of fixed random score gates (blocks)")
    heads: int = param(4, label="Heads per block m", min=1, max=12,
                       help="Heads of the trained network per block (rank it can reach)")
    seeds: int = param(3, label="Seeds", min=1, max=5, help="Adam runs from different seeds")
    steps: int = param(600, label="Adam steps", min=10, max=5000, help="Steps per seed")
    lr: float = param(0.1, label="Learning rate", min=1e-5, max=10.0, log=True,
                      help="Adam step size")
    noise: float = param(0.1, label="Noise", min=0.0, max=2.0,
                         help="Planted data: target noise standard deviation")
    seed: int = param(0, label="First seed", min=0, max=2**31 - 1,
                      help="Seed of the first Adam run (the others follow it)")
    data_seed: int = param(4, label="Data seed", min=0, max=2**31 - 1,
                           help="Seed of the data and the gates")


def make_data(p: Params) -> tuple[np.ndarray, np.ndarray]:
    """Samples ``X (n, s, d)`` and targets ``Y (n, s, c)`` for ``p`` (seeded)."""
    rng = np.random.default_rng(p.data_seed)
    shape = (p.samples, p.tokens, p.features)
    if p.data == "gaussian":
        return rng.standard_normal(shape), rng.standard_normal((p.samples, p.tokens, p.outputs))
    centres = rng.standard_normal((p.tokens, p.features))
    labels = rng.integers(0, max(2, p.tokens // 2), size=(p.samples, p.tokens))
    X = centres[labels] + 0.3 * rng.standard_normal(shape)
    W1 = rng.standard_normal((2, p.features, p.features)) / p.features
    W2 = rng.standard_normal((2, p.features, p.outputs)) / p.features
    Y = sum(np.einsum("ita,ak,iuk,iul,lj->itj", X, W1[h], X, X, W2[h]) for h in range(2))
    return X, Y / p.tokens + p.noise * rng.standard_normal(Y.shape)


def build_operator(p: Params, X: np.ndarray) -> AttentionOperator:
    """The lifted linear map of ``p.head`` on ``X``; refuses programs too big to solve."""
    masks = None
    if p.head == "gated_attention":
        gates = np.random.default_rng(p.data_seed + 1).standard_normal(
            (p.gates, p.features, p.features))
        masks = gate_masks(X, gates)
    op = AttentionOperator(p.head, X, p.outputs, masks)
    size = int(np.prod(op.shape))
    if size > MAX_LIFTED:
        raise ConvexDualsError(
            f"the exact {p.head.replace('_', ' ')} program has {size} unknowns "
            f"({op.blocks} block(s) of {op.block_shape[0]}×{op.block_shape[1]}); at most "
            f"{MAX_LIFTED} solve in about a second: use fewer tokens, features or gates")
    return op


def _check(p: Params, X: np.ndarray) -> None:
    if not p.beta > 0:
        raise ConvexDualsError("β = 0 removes the nuclear norm: the heads are unbounded and "
                               "the number of heads is not defined; use β > 0")
    if p.head not in HEADS:
        raise ConvexDualsError(f"unknown head {p.head!r}; choose one of {', '.join(HEADS)}")
    if np.linalg.matrix_rank(X.reshape(-1, X.shape[-1])) == 0:
        raise ConvexDualsError("every token is zero: the data are rank-deficient")


def run(params: Params, device: str = "cpu") -> Generator[Progress, None, ModelOutcome]:
    """Solve the block nuclear-norm program, read its heads, train heads by Adam (§7.3).

    Raises
    ------
    ConvexDualsError
        β = 0, an unknown head, all-zero tokens, or an exact program too large.
    """
    p = params
    X, Y = make_data(p)
    _check(p, X)
    op = build_operator(p, X)
    yield Progress(0.0, f"convex {p.head.replace('_', ' ')} program "
                        f"({int(np.prod(op.shape))} unknowns)")
    t0 = time.perf_counter()
    sol = solve_block_nuclear(op, Y, p.beta, A=lifted_matrix(op))
    solve_s = time.perf_counter() - t0
    W1c, W2c, sigma = heads_from_optimum(op, sol.Z)
    yield Progress(0.1, "singular values of Z* against β")
    sv_path = yield from relay(singular_value_path_iter(op, Y, p.beta * BETA_PATH), 0.1, 0.2,
                               "singular values of Z* against β: ")
    convex = _convex_arrays(op, sol.Z, (W1c, W2c))
    convex.update(beta_path=p.beta * BETA_PATH, sv_path=sv_path)
    yield Progress(0.2, "convex optimum", {"stage": "convex", "objective": sol.value,
                                            "certificate": sol.gap,
                                            "certificate_kind": CERTIFICATE, "arrays": convex})
    steps = np.arange(p.steps // RECORD_EVERY + 1) * RECORD_EVERY
    seeds = np.arange(p.seed, p.seed + p.seeds)
    parts = [train_heads(op, Y, p.beta, heads=p.heads, seed=k, steps=p.steps, lr=p.lr,
                         record_every=RECORD_EVERY) for k in seeds]
    runs = yield from stream_seed_runs(parts, steps, 0.2, 1.0, "Adam", lambda r: r[0],
                                       seeds=seeds)
    return _outcome(p, op, Y, sol, (W1c, W2c, sigma), runs, solve_s, convex)


def _outcome(p, op, Y, sol, convex_heads, runs, solve_s, convex) -> ModelOutcome:
    W1c, W2c, sigma = convex_heads
    curves = np.array([r[0] for r in runs])
    finals = [row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.inf for row in curves]
    best = int(np.argmin(finals))
    W1t, W2t = runs[best][1], runs[best][2]
    arrays = {**convex, **_trained_arrays(op, (W1t, W2t))}
    notes = [f"n = {p.samples} sequences of s = {p.tokens} tokens, d = {p.features}, "
             f"c = {p.outputs}; {int(np.prod(op.shape))} unknowns, solved in {solve_s:.2f} s "
             f"({sol.iterations} ADMM iterations)",
             f"rank of Z* per block: {np.count_nonzero(sigma > 0, axis=1).tolist()} "
             f"(heads needed); the recovered heads reach "
             f"{network_objective(op, W1c, W2c, Y, p.beta):.6f}",
             f"trained structure shown: seed {p.seed + best} (lowest final objective)"]
    rank = int(np.count_nonzero(sigma > 0, axis=1).max())
    if p.heads < rank:
        notes.append(f"m = {p.heads} heads per block < rank {rank} of Z*: the trained heads "
                     f"cannot reach p* (raise 'Heads per block')")
    for k, r in enumerate(runs):
        if r[3] is not None:
            notes.append(f"Adam seed {p.seed + k} diverged at step {r[3]} (objective not finite); "
                         f"its path is kept up to there: lower the learning rate")
    return ModelOutcome(model="attention", convex_objective=sol.value, certificate=sol.gap,
                        certificate_kind=CERTIFICATE,
                        steps=np.arange(curves.shape[1]) * RECORD_EVERY,
                        gd_objectives=curves, seeds=np.arange(p.seed, p.seed + len(runs)),
                        arrays=arrays, notes=notes, optimizer="Adam")


def _head_arrays(op, name: str, W1: np.ndarray, W2: np.ndarray) -> dict:
    """Singular values, block norms, token maps, clusters and strengths of some heads."""
    sv = np.linalg.svd(lift(op, W1, W2), compute_uv=False)
    strength = np.sqrt(np.sum(W1.reshape(W1.shape[0], W1.shape[1], -1) ** 2, axis=-1)
                       * np.sum(W2.reshape(W2.shape[0], W2.shape[1], -1) ** 2, axis=-1))
    return {f"sv_{name}": sv, f"block_norms_{name}": sv.sum(axis=1),
            f"maps_{name}": token_maps(op, W1, W2),
            f"clusters_{name}": token_clusters(op, W1, W2),
            f"head_strength_{name}": np.sort(strength, axis=None)[::-1][:4]}


def _convex_arrays(op, Z: np.ndarray, heads) -> dict:
    """The optimum's structure (the ``convex`` partial and half of the outcome's arrays)."""
    arrays = {"tokens": op.X[0].copy(), **_head_arrays(op, "convex", *heads)}
    arrays["sv_convex"] = np.linalg.svd(Z, compute_uv=False)     # σ of Z* itself, all of them
    arrays["block_norms_convex"] = arrays["sv_convex"].sum(axis=1)
    if op.masks is not None:
        arrays["masks"] = op.masks[:, 0].copy()
        arrays["clusters_keysets"] = keyset_clusters(op, Z)
    return arrays


def _trained_arrays(op, heads) -> dict:
    return _head_arrays(op, "trained", *heads)
