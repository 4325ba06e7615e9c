"""Convex training of two-layer ReLU networks with a dual certificate (SCIENCE.md §2.3-2.6).

:func:`fit_convex` solves PE's constrained program (``formulation="relu"``) or the gated-ReLU
group lasso (``"gated"``, R-FISTA with group soft-thresholding, :mod:`engine.regions.gated`)
over a set of patterns — in 2-D all of them (exact enumeration), so the optimum is the global
optimum of the non-convex problem for any width ``m ≥ m*`` (PE Theorem 1).

Solvers (:mod:`engine.regions.activeset`): each restricted program is solved by proximal-
gradient steps that identify the support and the cone faces, each followed by a Newton polish
on the identified faces (:mod:`engine.regions.polish`) — an active-set method with
quadratic local convergence. Gated: the prox is group soft-thresholding (``solver`` reported
``"active-set"``). ReLU with 2-D data (``"projected"``): the prox ``shrink_λ(Π_K(z))`` uses
exact cone projections from the cones' corner rays — of all arrangement cells
(:mod:`engine.regions.cells`) when the patterns are (nearly) all cells, else per pattern from
its gate (:mod:`engine.regions.cone_rays`). Higher-dimensional data (issue #18) uses the same
active set with NNLS projections (:mod:`engine.regions.cones`): groups whose projection
certainly shrinks to 0 are screened out by cheap upper bounds, and each group's last active
constraints warm-start its next projection (one batched, KKT-checked solve). scnn's augmented
Lagrangian with R-FISTA inner solves stays available (``solver="al"``, :mod:`engine.regions.al`).
Large d > 2 programs with a small λ follow a homotopy in λ (:mod:`engine.regions.homotopy`).

Programs with few points (``n ≤ BARRIER_N``) whose groups all fit in one working set are
first solved approximately by a barrier method on their ``n``-dimensional dual
(:mod:`engine.regions.ipm`; ReLU with exact cone projections, :mod:`engine.regions.ipm_cones`);
a basic primal point on the near-tight groups (NNLS) then starts the active set, which
typically needs a single PG + Newton iteration. The warm start changes where the solve begins,
not what is certified.

Both programs are solved on a *working set* of groups: the restricted problem is solved, the
residual ``q = y − ŷ`` gives ``ρ = q/n`` and every group's dual constraint value
``‖Π_{K_g}(X̃ᵀD_gρ)‖`` (``‖X̃ᵀD_gρ‖`` for gated), groups violating ``≤ λ(1 + tol)`` are added,
until none does. A group outside the working set at zero is then optimal (KKT), and the scaled
dual point ``s ρ`` with ``s = min(1, λ/max_g value)`` is dual feasible, so
``D(sρ) = sρᵀy − (n/2)s²‖ρ‖²`` is a rigorous lower bound (§2.3 dual in scnn scaling) and
``dual_gap = objective − D(sρ)``. Finally the support is reduced to at most ``n + 1``
neurons without changing the objective (Carathéodory, :func:`polish.reduce_support`).
"""
from __future__ import annotations

import time
from typing import Generator

import numpy as np

from engine.core import Progress, drain
from engine.regions.activeset import solve_active_set
from engine.regions.al import initial_state, project_groups, solve_relu_al
from engine.regions.cells import cell_cones_iter, project_cells
from engine.regions.cone_rays import pattern_cones
from engine.regions.cones import cone_values, cone_violation, project_rows
from engine.regions.dual import Certificate, correlations, dual_values, relay
from engine.regions.homotopy import continuation
from engine.regions.fista import Clock, group_soft_threshold
from engine.regions.gated import least_squares_gated
from engine.regions.ipm import basic_primal, gated_barrier
from engine.regions.ipm_cones import relu_barrier
from engine.regions.objective import recover_network
from engine.regions.polish import polish, reduce_support
from engine.regions.patterns import augment, enumerate_patterns_iter, sample_patterns
from engine.regions.programs import GroupData, fit_value
from engine.regions.scaling import noting_scale, power_of_two_scale, scale_noted, unscale_solution
from engine.regions.solution import ConvexSolution, check_data, check_lam, stop_note

__all__ = ["fit_convex", "fit_convex_iter", "DEFAULT_GATES"]

DEFAULT_GATES = 2000     # sampled gates when exact enumeration is impossible (d + bias > 3)
SMALL_PROGRAM = 3000     # gated programs with P·(d + bias) ≤ this start with every group
SMALL_RELU_PROGRAM = 2500  # so do ReLU programs with P·n ≤ this (n ≈ 10: one round, not five)
BARRIER_N = 64           # programs with n ≤ this start from the dual barrier (small gated ones,
BARRIER_RELU = 20_000    # ReLU ones with G·n ≤ this), all groups in the working set
ALL_NNLS = 256           # ReLU programs without corner rays (d > 2) with ≤ this many groups
                         # start with all of them (one round instead of a few re-solves;
                         # larger ones keep rounds of 128: measured faster at 1000 groups)
TIME_LIMIT = 40.0        # seconds of solving before the best point is returned uncertified


def _get_patterns(X, bias, patterns, gates, n_gates, seed) -> Generator:
    """Patterns (P, n), their gates (or None) and whether the set is exhaustive."""
    if patterns is not None:
        D = np.asarray(patterns, dtype=bool)
        if D.ndim != 2 or D.shape[1] != len(X):
            raise ValueError(f"patterns must be (P, n = {len(X)}) booleans, got {D.shape}")
        return D, (None if gates is None else np.asarray(gates, dtype=np.float64)), False
    if X.shape[1] + bias <= 3:
        D, G = yield from enumerate_patterns_iter(X, bias)
        return D, G, True
    D, G = sample_patterns(X, n_gates or DEFAULT_GATES, seed, bias, return_gates=True)
    return D, G, False


def _initial_ws(values: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` groups with the largest dual values (sorted indices)."""
    k = min(k, len(values))
    return np.sort(np.argsort(-values, kind="stable")[:k])


def _distinct_nonzero(D: np.ndarray) -> np.ndarray:
    """Indices of the nonzero patterns with repeats removed (first occurrence kept).

    The zero pattern is useless, and repeated patterns are redundant: groups with the same
    ``D_k`` have the same features (and cones), so by the triangle inequality
    ``min ‖u‖ + ‖u'‖ s.t. X̃ᵀ(u + u') fixed`` is attained with one of them — merging them
    leaves the optimum unchanged and removes an exactly flat (tied) direction on which the
    active set could otherwise wander."""
    nz = np.flatnonzero(D.any(axis=1))
    if len(nz) < 2:
        return nz
    packed = np.ascontiguousarray(np.packbits(D[nz], axis=1))
    rows = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first = np.unique(rows, return_index=True)
    return nz[np.sort(first)] if len(first) < len(nz) else nz


class _Problem:
    """Patterns, groups (pattern index, sign), cones and the working-set bookkeeping."""

    def __init__(self, A, y, D, lam, relu, cones=None, dedup=True):
        self.A, self.y, self.lam, self.relu = A, y, lam, relu
        self.keep = _distinct_nonzero(D) if dedup else np.flatnonzero(D.any(axis=1))
        whole = len(self.keep) == len(D)                    # keep = arange: no copies
        self.D = D if whole else D[self.keep]
        self.cones = cones if cones is None or whole else cones.subset(self.keep)
        P = len(self.D)
        self.pat = np.concatenate([np.arange(P), np.arange(P)]) if relu else np.arange(P)
        self.sigma = np.concatenate([np.ones(P), -np.ones(P)]) if relu else np.ones(P)
        self._cache = None                                  # (ws, cones, stacked) of _ws_cones
        self.faces = {}         # group → active set of its last NNLS cone projection
        self.last_cert = None                               # (U, Certificate) last evaluated
        self.deadline = self.time_limit = np.inf    # wall-clock end of the solve, its budget

    def group_data(self, ws) -> GroupData:
        return GroupData.build(self.A, self.y, self.D[self.pat[ws]], self.sigma[ws], self.relu)

    def values(self, rho: np.ndarray) -> np.ndarray:
        return dual_values(self.A, self.D, rho, self.lam, self.relu, self.cones,
                           faces=self.faces)

    def values_ws(self, rho: np.ndarray, ws: np.ndarray) -> np.ndarray:
        """Dual constraint values of the working-set groups only."""
        D = self.D[self.pat[ws]]
        C = correlations(self.A, D, rho) * self.sigma[ws][:, None]
        if not self.relu:
            return np.linalg.norm(C, axis=1)
        if self.cones is not None:
            cones, stacked = self._ws_cones(ws)
            return np.linalg.norm(project_cells(cones, C, stacked), axis=1)
        return cone_values(self.A, D, C, self.lam * (1 - 1e-3), faces=self.faces, keys=ws)

    def _ws_cones(self, ws):
        """The working set's cones and their stacked rows, cached per working set (the
        restricted certificate is evaluated once per active-set iteration)."""
        if self._cache is None or self._cache[0] is not ws:
            cones = self.cones.subset(self.pat[ws])
            self._cache = (ws, cones, cones.stacked())
        return self._cache[1], self._cache[2]

    def projector(self, ws):
        """``(Z, t) ↦ Π_K(Z)`` row-wise on the working set: corner rays when known, else NNLS
        (rows whose projection has norm ``≤ t`` may come back as 0: callers shrink by ``t``
        or compare with it)."""
        if self.cones is None:
            D = self.D[self.pat[ws]]
            return lambda Z, t=0.0: project_rows(self.A, D, Z, t, self.faces, ws)  # noqa: E731
        cones, stacked = self._ws_cones(ws)
        return lambda Z, t=0.0: project_cells(cones, Z, stacked)          # noqa: E731

    def prox(self, ws):
        """Prox of ``λ‖u‖ + I_K(u)`` on the working set: shrink(Π_K(z))."""
        project = self.projector(ws)
        return lambda Z, t: group_soft_threshold(project(Z, t), t)         # noqa: E731


def _solver(formulation: str, solver: str) -> str:
    """``"active-set"`` (gated), ``"projected"`` (ReLU, the default) or ``"al"``."""
    if formulation == "gated":
        return "active-set"
    if solver not in ("auto", "al", "projected"):
        raise ValueError(f"solver must be 'auto', 'al' or 'projected', got {solver!r}")
    return "projected" if solver == "auto" else solver


def _want_cells(formulation, method, n: int, P: int) -> bool:
    """All cells' corner rays pay off when the patterns are (nearly) all cells: computing
    them costs a pass over all ~n² cells of the arrangement; for a few sampled patterns the
    per-pattern slices of :mod:`engine.regions.cone_rays` are cheaper."""
    return formulation == "relu" and method == "projected" and (n <= 30 or 8 * P >= n * n)


def fit_convex_iter(X, y, lam: float, formulation: str = "relu", tol: float = 1e-6, *,
                    patterns=None, gates=None, bias: bool = True, n_gates: int | None = None,
                    seed: int = 0, max_iter: int = 50_000, solver: str = "auto",
                    time_limit: float = TIME_LIMIT) -> Generator:
    """Progress generator of :func:`fit_convex` (yields at least every ~40 ms)."""
    t0 = time.perf_counter()
    X, y = check_data(X, y)
    lam = check_lam(lam, formulation)
    yield Progress(0.0, "patterns")
    D, G, exact = yield from relay(_get_patterns(X, bias, patterns, gates, n_gates, seed),
                                   0.0, 0.1)
    method, cones = _solver(formulation, solver), None
    if _want_cells(formulation, method, len(X), len(D)):
        cones = yield from relay(cell_cones_iter(X, D, bias), 0.1, 0.15)
    elif formulation == "relu" and method == "projected":
        cones = pattern_cones(augment(X, bias), D, G)
    A = augment(X, bias)
    s, t = power_of_two_scale(A), power_of_two_scale(y)     # exact rescaling (scaling.py)
    prob = _Problem(A / s, y / t, D, lam / (s * t), formulation == "relu", cones,
                    dedup=not exact)                # enumerated patterns are distinct
    prob.deadline, prob.time_limit = t0 + time_limit, time_limit
    if formulation == "gated" and lam == 0.0:
        U, ws = least_squares_gated(prob.A, prob.D, prob.y), np.arange(len(prob.D))
        info = (0, 1, True)
        history = [fit_value(prob.A, prob.D, prob.sigma, U, prob.y, 0.0)]
    else:
        U, ws, info, history = yield from noting_scale(continuation(
            prob, method, tol, max_iter, _working_set), X, bias)      # |x| ≫ 1: say so now
    sol = _finish(prob, D, G, exact, ws, U, info, history, time.perf_counter() - t0, tol, method)
    return scale_noted(unscale_solution(sol, s, t, lam), X, bias)


def _restricted(prob, method, gd, ws, U, state, inner, max_iter, clock, tol) -> Generator:
    """Solve the working-set problem; returns ``(U_feasible, U_warm, iterations)``.

    ``"al"``: method of multipliers to the inner tolerance ``inner`` (then projected on the
    cones); otherwise PG + Newton active set until the restricted duality gap is ≤ ``tol``.
    """
    lam = prob.lam
    if method == "al":
        it0 = state.n_iter
        U, _ = yield from solve_relu_al(gd, U, lam, state, tol=inner * lam,
                                        constraint_tol=inner, max_iter=max_iter, clock=clock)
        return project_groups(prob.A, prob.D[prob.pat[ws]], U), U, state.n_iter - it0
    prox = prob.prox(ws) if method == "projected" else None
    project = prob.projector(ws) if method == "projected" else None
    def gap(V):
        cert = Certificate.of(prob, ws, V, restricted=True)
        prob.last_cert = (V, cert)                  # reused when it covers every group
        return cert.relative_gap
    U, state.step, used, _ = yield from solve_active_set(
        gd, U, lam, step=state.step, tol=tol, max_iter=max_iter, clock=clock, gap=gap,
        prox=prox, project=project, costly_projection=prob.relu and prob.cones is None)
    return U, U, used


def _working_set(prob: _Problem, method: str, tol: float, max_iter: int,
                 start=None) -> Generator:
    """Working-set rounds (module docstring); returns ``(U, ws, (iters, rounds, ok), hist)``.
    ``start``: an initial ``(ws, U)`` (continuation)."""
    n, clock = len(prob.y), Clock(prob.deadline)
    batch = max(128, n // 4)
    if prob.relu and prob.cones is None and len(prob.pat) <= ALL_NNLS:
        batch = len(prob.pat)
    # tiny programs: all groups at once (rounds cost more than the larger prox; for ReLU only
    # the tiniest, where the cone projections of the extra groups are cheap)
    small = (len(prob.pat) * n <= SMALL_RELU_PROGRAM if prob.relu
             else len(prob.pat) * prob.A.shape[1] <= SMALL_PROGRAM)
    if start is not None:
        ws, U = start
    elif _barrier_fits(prob, small):
        ws = np.arange(len(prob.pat))
        U = _barrier_start(prob, ws)
    else:
        k = len(prob.pat) if small else batch
        ws = (np.arange(len(prob.pat)) if k >= len(prob.pat)    # all: no ranking needed
              else _initial_ws(prob.values(prob.y / n), k))
        U = np.zeros((len(ws), prob.A.shape[1]))
    state = initial_state(len(ws), n, prob.A, method)
    inner, n_iter, history, ok = 1e-2, 0, [], False
    for rounds in range(1, 201):
        frac = 0.15 + 0.8 * min(1.0, rounds / 20)
        Uf, U, its = yield from relay(_restricted(prob, method, prob.group_data(ws), ws, U,
                                                  state, inner, max_iter - n_iter, clock, tol),
                                      frac, frac)
        n_iter += its
        if method == "al":
            Uf, U, cert = _polished(prob, ws, Uf, U)
        else:
            cert = _reuse(prob, Uf) or Certificate.of(prob, ws, Uf)
        history.append(cert.primal)
        new = cert.violators(ws, tol, batch)
        yield Progress(frac, f"round {rounds}: {len(ws)} groups, gap {cert.relative_gap:.2e}")
        if len(new) == 0 and cert.relative_gap <= tol:
            ok = True
            break
        if n_iter >= max_iter or clock.expired():
            break
        if len(new) == 0:
            inner = max(inner * 0.1, 1e-3 * tol)
        ws, U = _extend(ws, U, new)
        if method == "al":
            state.grow(len(new), n)
    prob.last_cert = (Uf, cert)
    return Uf, ws, (n_iter, rounds, ok), history


def _reuse(prob, U):
    """The certificate last evaluated at ``U`` (the same array) if it covers every group —
    the restricted certificate of a working set holding all groups is the full one."""
    last = prob.last_cert
    return last[1] if last is not None and last[0] is U and last[1].full else None


def _barrier_fits(prob: _Problem, small: bool) -> bool:
    """Programs with few points (``n ≤ BARRIER_N``) start from the dual barrier with every
    group in the working set (its Newton systems are ``n × n``, each step ``O(Gn²)``): gated
    ones when small, ReLU ones with the cones' corner rays (exact projections) and
    ``G·n ≤ BARRIER_RELU`` (beyond, the ``G`` cone projections per step cost more than the
    working-set rounds they save)."""
    n = len(prob.y)
    if prob.lam <= 0 or n > BARRIER_N:
        return False
    if prob.relu:
        return prob.cones is not None and len(prob.pat) * n <= BARRIER_RELU
    return small


def _barrier_start(prob: _Problem, ws: np.ndarray) -> np.ndarray:
    """Warm start of the working-set solve (:mod:`engine.regions.ipm`, ReLU
    :mod:`engine.regions.ipm_cones`): barrier path following on the dual, then a basic primal
    point on the near-tight groups."""
    DS = prob.sigma[ws][:, None] * prob.D[prob.pat[ws]]
    if prob.relu:
        cones, stacked = prob._ws_cones(ws)
        rho, U, _ = relu_barrier(prob.A, prob.y, DS, prob.lam, cones, stacked=stacked)
    else:
        rho, U, _ = gated_barrier(prob.A, prob.y, DS, prob.lam)
    return basic_primal(prob.A, prob.y, DS, rho, U)


def _polished(prob, ws, Uf, U):
    """Newton polish of the AL iterate (:mod:`engine.regions.polish`), projected on the
    cones and kept only if the certificate improves."""
    cert = Certificate.of(prob, ws, Uf)
    gd = prob.group_data(ws)
    Up = project_groups(prob.A, prob.D[prob.pat[ws]], polish(prob.A, prob.y, gd.DS, gd.S, Uf,
                                                              prob.lam))
    cert_p = Certificate.of(prob, ws, Up)
    if cert_p.gap < cert.gap:
        return Up, Up, cert_p
    return Uf, U, cert


def _extend(ws, U, new):
    """Append groups ``new`` to the working set with zero variables."""
    return np.concatenate([ws, new]), np.vstack([U, np.zeros((len(new), U.shape[1]))])


def _finish(prob, D_all, G_all, exact, ws, U, info, history, wall, tol,
            method) -> ConvexSolution:
    """Recovery (§2.4), certificate and bookkeeping."""
    pat_ws, sig_ws = prob.pat[ws], prob.sigma[ws]
    if prob.lam > 0 and (U != 0).any(axis=1).sum() > len(prob.y) + 1:
        U = reduce_support(prob.A, prob.group_data(ws).DS, U)
    W1, w2, used = recover_network(U, sig_ws)
    pat_used = prob.keep[pat_ws[used]]
    cert = _reuse(prob, U) or Certificate.of(prob, ws, U)
    fitted = cert.fitted
    viol = cone_violation(prob.A, prob.D[pat_ws], U) if prob.relu else 0.0
    gates = None
    if not prob.relu:
        gates = G_all[pat_used] if G_all is not None else None
    return ConvexSolution(
        formulation="relu" if prob.relu else "gated", lam=prob.lam, objective=cert.primal,
        W1=W1, w2=w2, gates=gates, neuron_pattern=pat_used, neuron_sign=sig_ws[used],
        group_vectors=U[used], patterns=D_all, pattern_gates=G_all, exact_patterns=exact,
        fitted=fitted, dual=prob.y - fitted, max_dual_constraint=cert.max_value,
        dual_value=cert.dual, dual_gap=cert.gap, certified=cert.relative_gap <= tol,
        cone_violation=viol, history=np.asarray(history, dtype=np.float64),
        n_iter=info[0], rounds=info[1], converged=info[2], wall_time=wall, solver=method,
        note=stop_note(prob.y, fitted, tol, cert.relative_gap,
                       time.perf_counter() >= prob.deadline, prob.time_limit))


def fit_convex(X, y, lam: float, formulation: str = "relu", tol: float = 1e-6,
               **kwargs) -> ConvexSolution:
    """Global optimum of the weight-decay two-layer ReLU problem via its convex program.

    Parameters
    ----------
    X : (n, d) data. y : (n,) targets. lam : λ (> 0 for ``"relu"``, ≥ 0 for ``"gated"``).
    formulation : ``"relu"`` (PE's constrained program, §2.3) or ``"gated"`` (§2.5).
    tol : relative duality gap at which the solve stops (also the ``ε`` of the certificate
        ``max_dual_constraint ≤ λ(1 + ε)``).
    patterns, gates : optional fixed patterns (P, n) and their gates; default all patterns
        (exact, ``d + bias ≤ 3``) or ``n_gates`` sampled gates (``seed``).
    bias : append a column of ones. max_iter : total R-FISTA iterations.
    time_limit : seconds after which the solve stops with its best point (``certified``
        False unless the gap is already met), e.g. a tiny λ with a tight ``tol``.
    solver : ``"auto"`` or ``"projected"`` (ReLU: the active set with exact cone projections,
        any dimension) or ``"al"`` (scnn's augmented Lagrangian).

    Returns
    -------
    ConvexSolution
        ``objective`` equals :func:`two_layer_objective` of the recovered ``(W1, w2)``
        (``relu``); see the class for the certificate fields. A run stopped by ``max_iter``
        before the gap reached ``tol`` has ``certified = False`` and a ``summary`` that
        starts "NOT certified".
    """
    return drain(fit_convex_iter(X, y, lam, formulation, tol, **kwargs))
