"""Model 5: a two-layer convolutional ReLU denoiser as a path-sparse convex program
(SCIENCE.md §7.5, §6.6), on crops of an MNI brain slice.

``f(Y) = Σ_j (Y ∗ u_j)_+ ∗ v_j`` (k × k filters, 1 × 1 output) is a two-layer ReLU network on
the patch matrix ``Y'`` (one k² patch per pixel, zero padding). Its activation patterns are
sampled from ``P`` Gaussian gates ``g_i`` (``D_i = 1[Y' g_i ≥ 0]``, §6.6). ``program`` picks
the convex program solved over those patterns:

* ``"exact ReLU"``: the **exact ReLU program** of §7.5 eq 4, ``min ½‖Σ_i D_i Y'(w_i − z_i) − x‖² +
  β Σ_i (‖w_i‖ + ‖z_i‖)`` over the cones ``(2D_i − I) Y' w_i ≥ 0``, ``(2D_i − I) Y' z_i ≥ 0``,
  by the barrier method of :mod:`.den_program` with a certified relative **duality gap**.
  The recovered ReLU net (``u = w/√‖w‖``, ``v = ±√‖w‖``, §7.5 Recovery) has the same
  objective; Adam trains the non-convex ReLU conv net (k × k conv, ReLU, 1 × 1 conv, weight
  decay (β/2)(‖u‖² + v²)) with ``2P`` filters from several seeds. The sampled program's value
  is an upper bound of the full program's (§7.5): Adam may end below it when P is too small,
  and the notes say so.
* ``"gated relaxation"``: the **gated-ReLU relaxation** (cone constraints dropped, §2.5;
  §6.6's fast solver) ``min ½‖Σ_i D_i Y' w_i − x‖² + β Σ_i ‖w_i‖`` by FISTA
  (``engine.core.algorithms.fista``) with a KKT (gradient-mapping) residual as certificate;
  Adam trains the gated network with the same gates (``Σ_i D_i Y' u_i a_i``).

The prediction is piecewise-linear filtering (§7.5 eq 8): pixel p is filtered by
``Σ_i d_i^{(p)} (w_i − z_i)`` (``z = 0`` for the gated program).

``ModelOutcome.arrays``: ``noisy``, ``clean``, ``denoised`` (crops, s, s); ``filters``
(k', 3, 3) the groups above 10⁻⁶ of the largest norm, by decreasing norm (``−z_i`` for the
exact program's z-groups);
``group_norms`` (P,) gated or (2P,) exact (the w-groups, then the z-groups);
``pixel_filters`` (s, s, 3, 3) the linear filter applied at every pixel of the first crop;
``pixel_cluster`` (s, s) the index of each pixel's set of active gates (first crop);
``group_sign`` like ``group_norms``: +1 for the w-groups, −1 for the exact program's z-groups;
``psnr`` (2,) noisy and denoised PSNR in dB over all crops.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Generator

import numpy as np
import torch

from engine.convex_duals.common import ConvexDualsError, ModelOutcome, forward
from engine.convex_duals.gd import adam_runs, init_weights
from engine.convex_duals.den_program import ReluProgram, sample_gates, solve_relu
from engine.core import Progress, param
from engine.core.algorithms import fista, group_soft

__all__ = ["Params", "run", "patch_matrix", "solve_gated", "brain_slice", "PROGRAMS"]

K = 3
EXACT_MAX_PATTERNS = 64
PROGRAMS = ("exact ReLU", "gated relaxation")
# each program's certificate, as the status line, captions and export name it
CERTIFICATES = {"exact ReLU": "exact ReLU program, duality gap",
                "gated relaxation": "gated relaxation, KKT residual"}


@dataclass(frozen=True)
class Params:
    """Convolutional ReLU denoiser on brain crops against its gated convex program (§7.5)."""
    crops: int = param(1, label="Crops", min=1, max=6, help="Training crops of the slice")
    size: int = param(16, label="Crop size s", unit="px", min=8, max=32,
                      help="Side of every crop (pixels of a 2× downsampled MNI axial slice)")
    sigma: float = param(0.2, label="Noise σ", min=0.0, max=1.0,
                         help="Std of the Gaussian noise added to the [0, 1] image")
    patterns: int = param(24, label="Sampled patterns P", min=4, max=256, log=True,
                          help="Gaussian gates sampled for the activation patterns")
    program: str = param("exact ReLU", label="Convex program", choices=PROGRAMS,
                         help="exact ReLU: the program with its cone constraints (§7.5 eq 4, "
                              "duality gap); gated relaxation: cones dropped (KKT residual)")
    beta: float = param(0.5, label="Weight decay β", min=0.0, max=10.0,
                        help="β of the path penalty Σ‖w_i‖ (β/2 on ‖u‖² + a²)")
    seeds: int = param(2, label="Seeds", min=1, max=8, help="Adam runs from different seeds")
    steps: int = param(1500, label="Adam steps", min=10, max=50_000, log=True,
                       help="Steps of every Adam run")
    lr: float = param(0.01, label="Learning rate", min=1e-5, max=1.0, log=True,
                      help="Adam learning rate")
    seed: int = param(0, label="First seed", min=0, max=2**31 - 1,
                      help="Seed of the first Adam run (the others follow it)")
    data_seed: int = param(0, label="Data seed", min=0, max=2**31 - 1,
                           help="Seed of the crops, the noise and the gates")


@functools.lru_cache(maxsize=1)
def brain_slice() -> np.ndarray:
    """The middle axial slice of the MNI demo brain, 2× area-downsampled, in [0, 1]."""
    from engine.imaging.volume_io import demo_volume
    vol = demo_volume("brain").data.numpy()
    sl = vol[vol.shape[0] // 2]
    h, w = (sl.shape[0] // 2) * 2, (sl.shape[1] // 2) * 2
    return sl[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)).astype(np.float64)


def patch_matrix(images: np.ndarray) -> np.ndarray:
    """``(N s², k²)`` patches (zero 'same' padding), rows in image-then-row-major order, the
    order ``conv2d(·, padding=k//2)`` uses (§6.6.1 KAT 1)."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    n, s = images.shape[0], images.shape[1]
    cols = [padded[:, a:a + s, b:b + s] for a in range(K) for b in range(K)]
    return np.stack(cols, axis=-1).reshape(n * s * s, K * K)


def _crops(p: Params, rng: np.random.Generator) -> np.ndarray:
    img = brain_slice()
    s = p.size
    corners = [(y, x) for y in range(0, img.shape[0] - s, 4) for x in range(0, img.shape[1] - s, 4)
               if img[y:y + s, x:x + s].mean() > 0.3]
    if len(corners) < p.crops:
        raise ConvexDualsError(f"the slice has only {len(corners)} crops of {s} px in the brain")
    pick = rng.choice(len(corners), p.crops, replace=False)
    return np.stack([img[y:y + s, x:x + s] for y, x in (corners[i] for i in pick)])


def _factored_start(F, D, x, beta) -> np.ndarray:
    """A warm start: L-BFGS on the smooth factored form ``½‖Σ_i D_i F u_i a_i − x‖² +
    (β/2)Σ(‖u_i‖² + a_i²)`` (its value at ``w_i = u_i a_i`` bounds the convex one from above;
    FISTA then certifies the convex optimum)."""
    from scipy.optimize import minimize
    P, d = D.shape[1], F.shape[1]
    rng = np.random.default_rng(0)

    def value(z):
        U, a = z[:P * d].reshape(d, P), z[P * d:]
        G = (F @ U) * D                                    # (n, P)
        r = G @ a - x
        gU = F.T @ (D * np.outer(r, a)) + beta * U
        return (0.5 * r @ r + 0.5 * beta * (np.sum(U ** 2) + a @ a),
                np.concatenate([gU.ravel(), G.T @ r + beta * a]))

    z0 = np.concatenate([0.1 * rng.standard_normal(P * d), 0.1 * np.ones(P)])
    z = minimize(value, z0, jac=True, method="L-BFGS-B",
                 options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10}).x
    return (z[:P * d].reshape(d, P) * z[P * d:]).T


def solve_gated(F: np.ndarray, D: np.ndarray, x: np.ndarray, beta: float, *,
                tol: float = 1e-7, max_iters: int = 20000
                ) -> Generator[Progress, None, tuple[np.ndarray, float]]:
    """``min_W ½‖Σ_i D_i F w_i − x‖² + β Σ_i ‖w_i‖``: a factored L-BFGS warm start, then
    FISTA (restarts every 200 steps) until the KKT residual ``‖gradient mapping‖ /
    max(1, ‖x‖)`` is below ``tol``; returns ``W`` (P, d) and that residual."""
    Ft, Dt, xt = (torch.as_tensor(a, dtype=torch.float64) for a in (F, D, x))

    def grad(W):
        r = ((Ft @ W.T) * Dt).sum(1) - xt
        return (Dt * r[:, None]).T @ Ft

    v = torch.as_tensor(np.random.default_rng(0).standard_normal((D.shape[1], F.shape[1])))
    for _ in range(30):                                     # ‖A‖² by power iteration
        v = grad(v) + ((Dt * xt[:, None]).T @ Ft)
        v = v / v.norm()
    lip = float((((Ft @ v.T) * Dt).sum(1) ** 2).sum()) * 1.05
    step, scale = 1.0 / lip, max(1.0, float(xt.norm()))
    prox = lambda Z, s: group_soft(Z, s * beta, dim=1)      # noqa: E731
    W, kkt = torch.as_tensor(_factored_start(F, D, x, beta)), np.inf
    for k in range(0, max_iters, 200):
        for it in fista(grad, prox, W, step, 200, every=200):
            W = it.x
        kkt = float((W - prox(W - step * grad(W), step)).norm()) / step / scale
        yield Progress(min(k / max_iters, 0.99), f"convex program: KKT residual {kkt:.1e}")
        if kkt <= tol:
            break
    return W.numpy(), kkt


def _objective(F, D, x, beta):
    Ft, Dt, xt = (torch.as_tensor(a, dtype=torch.float64) for a in (F, D, x))

    def value(ws):
        U, a = ws                                            # (S, d, P), (S, P)
        pred = ((Ft @ U) * Dt * a[:, None, :]).sum(-1)
        return 0.5 * ((pred - xt) ** 2).sum(-1) + 0.5 * beta * ((U ** 2).sum((1, 2))
                                                                + (a ** 2).sum(-1))
    return value


def _psnr(a, b) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-20)))


def _structure(W, pattern_of, D, F, clean, noisy, s) -> dict:
    """Structure arrays of the optimum: ``W`` (groups, d) signed so that the prediction is
    ``Σ_g D[:, pattern_of[g]] F w_g`` (z-groups enter as ``−z``)."""
    norms = np.linalg.norm(W, axis=1)
    order = np.argsort(-norms)
    live = order[norms[order] > 1e-6 * max(norms.max(), 1e-300)]   # shown filters
    masks = D[:, pattern_of]
    denoised = ((F @ W.T) * masks).sum(1).reshape(noisy.shape)
    first = masks[:s * s]
    live_patterns = np.unique(pattern_of[live])
    _, cluster = np.unique(D[:s * s][:, live_patterns] > 0, axis=0, return_inverse=True)
    return {"noisy": noisy, "clean": clean, "denoised": denoised,
            "filters": W[live].reshape(-1, K, K), "group_norms": norms,
            "pixel_filters": (first @ W).reshape(s, s, K, K),
            "pixel_cluster": cluster.reshape(s, s),
            "psnr": np.array([_psnr(noisy, clean), _psnr(denoised, clean)])}


def _relu_objective(F, x, beta):
    """The ReLU conv net's objective per seed, ``U`` (S, d, m), ``v`` (S, m) (§7.5)."""
    Ft, xt = (torch.as_tensor(a, dtype=torch.float64) for a in (F, x))

    def value(ws):
        U, v = ws
        pred = (torch.relu(Ft @ U) * v[:, None, :]).sum(-1)
        return 0.5 * ((pred - xt) ** 2).sum(-1) + 0.5 * beta * ((U ** 2).sum((1, 2))
                                                                + (v ** 2).sum(-1))
    return value


def _solve_exact(F, D, gates, x, beta):
    """The exact ReLU program (§7.5 eq 4): signed groups ``[w; −z]``, their patterns, the
    objective and the relative duality gap."""
    prog = ReluProgram(F, D, x, beta)
    U, gap = yield from solve_relu(prog, gates)
    P = D.shape[1]
    return U * prog.sign[:, None], np.tile(np.arange(P), 2), prog.objective(U), gap


def _solve_gated(F, D, x, beta):
    W, kkt = yield from solve_gated(F, D, x, beta)
    pstar = float(0.5 * np.sum((((F @ W.T) * D).sum(1) - x) ** 2)
                  + beta * np.linalg.norm(W, axis=1).sum())
    return W, np.arange(D.shape[1]), pstar, kkt


def _notes(params, n, P, arrays, runs, pstar, exact) -> list[str]:
    kept = len(arrays["filters"])
    notes = [f"{params.crops} crop{'s' * (params.crops > 1)} of {params.size}² px: n = {n} "
             f"patches of 3×3, P = {P} sampled patterns; {kept} filter{'s' * (kept != 1)} "
             f"(paths) survive{'s' * (kept == 1)} β",
             f"PSNR noisy {arrays['psnr'][0]:.1f} dB → convex denoiser {arrays['psnr'][1]:.1f} dB"]
    if exact:
        notes.insert(1, f"exact ReLU program (§7.5 eq 4, cone constraints kept); Adam trains "
                        f"the ReLU conv net with {2 * P} filters")
        finals = np.array([r[np.isfinite(r)][-1] for r in runs.objectives if np.isfinite(r).any()])
        if finals.size and finals.min() < pstar - 1e-6 * abs(pstar):
            notes.append(f"Adam reached {finals.min():.6f} < p*: the program over P = {P} "
                         "sampled patterns is an upper bound of the full one (§7.5); more "
                         "patterns lower it")
    else:
        notes.insert(1, "gated-ReLU relaxation (cone constraints of §7.5 eq 4 dropped); Adam "
                        "trains the gated network with the same gates")
    if runs.diverged.any():
        notes.append(f"{int(runs.diverged.sum())} Adam run(s) diverged and were stopped")
    return notes


def run(params: Params, device: str = "cpu") -> Generator[Progress, None, ModelOutcome]:
    """The conv denoiser's convex program (exact ReLU or gated), its filters, and Adam on the
    matching non-convex network from several seeds (§7.5)."""
    if params.beta <= 0:
        raise ConvexDualsError("β = 0: the path penalty vanishes and the least-squares "
                               "filters are not unique; set β > 0")
    if params.program not in PROGRAMS:
        raise ConvexDualsError(f"unknown program {params.program!r}; one of {PROGRAMS}")
    exact = params.program == PROGRAMS[0]
    if exact and params.patterns > EXACT_MAX_PATTERNS:
        raise ConvexDualsError(f"P = {params.patterns} > {EXACT_MAX_PATTERNS}: the exact "
                               "program's Newton systems grow as (20P)³; use fewer patterns "
                               "or the gated relaxation")
    rng = np.random.default_rng(params.data_seed)
    clean = _crops(params, rng)
    noisy = clean + params.sigma * rng.standard_normal(clean.shape)
    F, x = patch_matrix(noisy), clean.ravel()
    D, gates = sample_gates(F, params.patterns, rng)
    D, P = D.astype(float), D.shape[1]
    yield Progress(0.0, "convex program", {"stage": "data", "noisy": noisy, "clean": clean})
    solve = _solve_exact(F, D, gates, x, params.beta) if exact else _solve_gated(F, D, x,
                                                                                  params.beta)
    W, pattern_of, pstar, cert = yield from forward(solve, 0.0, 0.3)
    kind = CERTIFICATES[params.program]
    arrays = _structure(W, pattern_of, D, F, clean, noisy, params.size)
    arrays["group_sign"] = np.where(np.arange(len(W)) < P, 1.0, -1.0)
    yield Progress(0.3, "convex optimum", {"stage": "convex", "objective": pstar,
                                            "certificate": cert, "certificate_kind": kind,
                                            "arrays": arrays})
    seeds = list(range(params.seed, params.seed + params.seeds))
    if exact:
        ws = init_weights(seeds, [(K * K, 2 * P), (2 * P,)], scale=0.5)
        objective = _relu_objective(F, x, params.beta)
    else:
        ws = init_weights(seeds, [(K * K, P), (P,)], scale=0.5)
        objective = _objective(F, D, x, params.beta)
    runs = yield from forward(adam_runs(ws, objective, params.steps, params.lr, seeds=seeds),
                              0.3, 0.98)
    notes = _notes(params, len(x), P, arrays, runs, pstar, exact)
    return ModelOutcome("denoiser", pstar, cert, kind, runs.steps, runs.objectives,
                        np.array(seeds), arrays, notes)
