"""The vector-output model for any input dimension d: the §7.1.4 relaxation on sampled
activation patterns (SCIENCE.md §7.1.4, §7.1.9 pitfalls), its read-off network and Adam.

Data in d dimensions (:func:`make_data`): a Gaussian mixture with c one-hot classes, or a
random two-layer ReLU teacher with c outputs. Patterns ``D_i = diag(1[X g_i ≥ 0])`` come from
``patterns`` Gaussian gates (:func:`~engine.convex_duals.patterns.sample_patterns`); the
relaxation (:mod:`engine.convex_duals.cop_relaxation`) is solved with its duality gap; each
active block's top eigenvector ``[u; v]`` (signed so that ``1ᵀK_i u ≥ 0``, §7.1.4) is a
neuron; when every active block has rank 1 this network attains the relaxation's value.

What the value means is stated in the notes, never "p* exactly" (§7.7: which relaxations are
exact is not confirmed): ``r`` is a lower bound on every network whose neurons use only the
sampled patterns; with rank-1 blocks the read-off network attains r, so r is the optimum over
those networks and an upper bound on the global p*. Adam may use other patterns and go below.

``ModelOutcome.arrays`` (relaxation case): ``X`` (n, d), ``Y`` (n, c), ``labels`` (n,),
``first_layer`` (k, d) / ``second_layer`` (k, c) the read-off network, ``prediction`` (n, c)
of the relaxation (``Σ D_i X Z_i``), ``sv_target`` / ``sv_relaxation`` (c,) singular values of
Y and of that prediction, ``block_trace`` (P,) ``tr M_i``, ``block_rank_ratio`` (P,)
``λ₂/λ₁`` of each block (0 for an inactive one), ``network_objective`` (1,) the read-off
network's objective, ``relaxation_lower_bound`` (1,), ``gd_sampled_fraction`` (S,) the share
of each Adam run's live neurons whose pattern is one of the sampled ones.
"""
from __future__ import annotations

from typing import Generator

import numpy as np

from engine.convex_duals.common import ConvexDualsError, ModelOutcome, forward
from engine.convex_duals.cop_relaxation import RelaxationProblem, solve_relaxation
from engine.convex_duals.gd import adam_runs, init_weights, relu_net_objective
from engine.convex_duals.patterns import sample_patterns
from engine.core import Progress

__all__ = ["make_data", "read_network", "run_relaxation", "RANK1", "MAX_BLOCK_ENTRIES"]

RANK1 = 1e-3                 # λ₂/λ₁ below this: the block is taken as rank 1
MAX_BLOCK_ENTRIES = 6000     # P·(d + c)² budget of one solve (§7.6: about 1 s)


def make_data(kind: str, n: int, d: int, c: int, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, Y, labels)`` in d dimensions: ``"mixture"`` — c Gaussian clusters (centres
    1.5·N(0, I)/√d·√d, unit noise) with one-hot Y; ``"teacher"`` — ``Y = relu(X U) V`` of a
    random ReLU teacher with 3 hidden neurons and c outputs (labels: the arg-max output)."""
    if kind == "mixture":
        labels = np.arange(n) % c
        centres = 1.5 * rng.standard_normal((c, d))
        X = centres[labels] + rng.standard_normal((n, d))
        return X, np.eye(c)[labels], labels
    X = rng.standard_normal((n, d))
    U, V = rng.standard_normal((d, 3)), rng.standard_normal((3, c))
    Y = np.maximum(X @ U, 0.0) @ V / np.sqrt(d)
    return X, Y, np.argmax(Y, axis=1)


def read_network(prob: RelaxationProblem, blocks: np.ndarray, tiny: float = 1e-7
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neurons of the blocks' top eigenvectors (§7.1.4 read-off): ``(U (d, k), V (k, c),
    rank ratio λ₂/λ₁ per block)``; a block with ``tr M_i ≤ tiny·max tr`` is inactive."""
    d = prob.X.shape[1]
    w, vecs = np.linalg.eigh(blocks)
    trace = np.einsum("ijj->i", blocks)
    active = trace > tiny * max(trace.max(), 1e-300)
    ratio = np.where(active, w[:, -2] / np.maximum(w[:, -1], 1e-300), 0.0)
    us, vs = [], []
    for i in np.flatnonzero(active):
        m = vecs[i, :, -1] * np.sqrt(max(w[i, -1], 0.0))
        u, v = m[:d], m[d:]
        if ((2.0 * prob.patterns[:, i] - 1.0) * (prob.X @ u)).sum() < 0:
            u, v = -u, -v
        us.append(u)
        vs.append(v)
    c = prob.Y.shape[1]
    return (np.array(us).T.reshape(d, -1), np.array(vs).reshape(-1, c), np.clip(ratio, 0, 1))


def network_value(X, Y, U, V, beta) -> float:
    """``½‖relu(XU)V − Y‖² + (β/2)(‖U‖² + ‖V‖²)`` (§7.1.1)."""
    fit = np.maximum(X @ U, 0.0) @ V - Y
    return float(0.5 * np.sum(fit ** 2) + 0.5 * beta * (np.sum(U ** 2) + np.sum(V ** 2)))


def _check(X: np.ndarray, c: int, P: int) -> None:
    n, d = X.shape
    if P == 0:
        raise ConvexDualsError("no non-zero activation pattern was sampled; sample more "
                               "patterns")
    if np.linalg.matrix_rank(X) < min(n, d):
        raise ConvexDualsError("rank-deficient data: the samples span fewer than min(n, d) "
                               "directions; change the data seed or the sizes")
    if P * (d + c) ** 2 > MAX_BLOCK_ENTRIES:
        raise ConvexDualsError(f"{P} sampled patterns with d + c = {d + c} make blocks of "
                               f"{P * (d + c) ** 2} entries (> {MAX_BLOCK_ENTRIES}, about 1 s "
                               "of solving, §7.6); sample fewer patterns or lower d")


def _sampled_fraction(X, pats, runs) -> np.ndarray:
    known = {p.tobytes() for p in pats.T}
    out = []
    for U, V in zip(*runs.weights):
        live = np.linalg.norm(U, axis=0) * np.linalg.norm(V, axis=1) > 1e-8
        own = (X @ U[:, live] >= 0).T
        own = [p for p in own if p.any()]
        out.append(np.mean([p.tobytes() in known for p in own]) if own else 1.0)
    return np.array(out, float)


def _notes(prob, sol, ratio, net_value) -> list[str]:
    n, d, c, P = prob.sizes
    notes = [f"n = {n}, d = {d}, c = {c}; relaxation over P = {P} sampled patterns, "
             f"{sol.iterations} ADMM iterations (the value is taken at an iterate whose "
             f"cone rows F A Fᵀ are ≥ −{sol.violation:.0e}; the lower bound is certified)"]
    if sol.gap > 1e-5 * max(1.0, abs(sol.objective)):
        notes.append(f"ADMM stopped at its iteration cap: the value is certified only to the "
                     f"duality gap {sol.gap:.1e}")
    if ratio.max() <= RANK1:
        notes.append(f"every active block has rank 1 (λ₂/λ₁ ≤ {ratio.max():.0e}): the read-off "
                     f"network attains {net_value:.6f}, so the value is the optimum over "
                     "networks using the sampled patterns — an upper bound on the global p*, "
                     "which Adam may undercut with other patterns")
    else:
        notes.append(f"{int((ratio > RANK1).sum())} active block(s) of rank > 1 (λ₂/λ₁ up to "
                     f"{ratio.max():.2f}): the value is only a lower bound for networks using "
                     f"the sampled patterns; the read-off network reaches {net_value:.6f}")
    return notes


def run_relaxation(X, Y, labels, params) -> Generator[Progress, None, ModelOutcome]:
    """The relaxation case of :func:`engine.convex_duals.vector_output.run` (module
    docstring); ``params`` a vector-output ``Params``."""
    rng = np.random.default_rng(params.data_seed + 1)
    pats = sample_patterns(X, params.patterns, rng)
    _check(X, Y.shape[1], pats.shape[1])
    yield Progress(0.0, "relaxation", {"stage": "data", "X": X, "labels": labels})
    prob = RelaxationProblem.build(X, Y, params.beta, pats)
    sol = yield from forward(solve_relaxation(prob), 0.0, 0.4)
    U, V, ratio = read_network(prob, sol.blocks)
    d = X.shape[1]
    pred = prob.fit(sol.blocks[:, :d, d:])
    net_value = network_value(X, Y, U, V, params.beta)
    arrays = {"X": X, "Y": Y, "labels": labels, "first_layer": U.T, "second_layer": V,
              "prediction": pred, "sv_target": np.linalg.svd(Y, compute_uv=False),
              "sv_relaxation": np.linalg.svd(pred, compute_uv=False),
              "block_trace": np.einsum("ijj->i", sol.blocks), "block_rank_ratio": ratio,
              "network_objective": np.array([net_value]),
              "relaxation_lower_bound": np.array([sol.lower_bound])}
    notes = _notes(prob, sol, ratio, net_value)
    kind = "relaxation duality gap"
    yield Progress(0.4, "relaxation solved", {"stage": "convex", "objective": sol.objective,
                                               "certificate": sol.gap, "certificate_kind": kind,
                                               "arrays": arrays})
    seeds = list(range(params.seed, params.seed + params.seeds))
    ws = init_weights(seeds, [(d, params.width), (params.width, Y.shape[1])])
    runs = yield from forward(adam_runs(ws, relu_net_objective(X, Y, params.beta), params.steps,
                                      params.lr, seeds=seeds), 0.4, 0.98)
    arrays["gd_sampled_fraction"] = _sampled_fraction(X, pats, runs)
    notes.append("share of each Adam run's live neurons whose pattern was sampled: " + ", ".join(
        f"{v:.2f}" for v in arrays["gd_sampled_fraction"]))
    if runs.diverged.any():
        notes.append(f"{int(runs.diverged.sum())} Adam run(s) diverged and were stopped; "
                     "lower the learning rate")
    return ModelOutcome("vector_output", sol.objective, sol.gap, kind, runs.steps,
                        runs.objectives, np.array(seeds), arrays, notes)
