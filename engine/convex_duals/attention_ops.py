"""Linear maps of the convex attention programs and their block nuclear-norm solver.

Every head of SCIENCE.md §7.3 (linear and gated self-attention, MLP-Mixer, FNO) predicts
linearly in a lifted matrix ``Z`` made of ``B`` blocks, and the weight decay of the heads
becomes ``β Σ_b ||Z_b||_*`` (§7.3.2, §7.3.4). :class:`AttentionOperator` holds the map
``Z ↦ Ŷ`` and its adjoint; :func:`solve_block_nuclear` solves

    min_Z ½||A(Z) − Y||_F² + β Σ_b ||Z_b||_*

by ADMM with singular-value thresholding and certifies the result with the duality gap of
§7.0 (residual scaled into the dual ball ``max_b ||A*(R)_b||₂ ≤ β``).

Block layouts (§7.3.2, pitfall "column-major vec(W₁), row-major W₂"):

* self-attention, ``Z_b ∈ R^{d²×dc}``: row ``k·d + a`` is ``W₁[a, k]``, column ``l·c + j`` is
  ``W₂[l, j]``; token ``t`` of sample ``i`` predicts ``x_t^T Σ_{k,l} H_{b,i,t}[k,l] Z_b^{(k,l)}``
  with the (masked) Gram ``H``;
* MLP-Mixer, ``Z ∈ R^{s²×dc}``: row ``t·s + t'`` is ``W₁[t, t']``, column ``a·c + j`` is
  ``W₂[a, j]``;
* FNO, one block ``Z_κ ∈ R^{d×c}`` per row ``κ`` of a real orthonormal Fourier basis ``F``
  along the tokens.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np

from engine.core import Progress, drain

__all__ = ["AttentionOperator", "BlockSolution", "fourier_basis", "gate_masks",
           "solve_block_nuclear", "duality_gap", "lifted_matrix", "objective",
           "singular_value_path", "singular_value_path_iter"]


def fourier_basis(s: int) -> np.ndarray:
    """Real orthonormal Fourier basis of R^s (rows: constant, cos/sin pairs, Nyquist),
    the real form of the token-dimension DFT an FNO layer uses (§7.3.4)."""
    t = np.arange(s)
    rows = [np.ones(s) / np.sqrt(s)]
    for k in range(1, (s - 1) // 2 + 1):
        rows.append(np.sqrt(2.0 / s) * np.cos(2 * np.pi * k * t / s))
        rows.append(np.sqrt(2.0 / s) * np.sin(2 * np.pi * k * t / s))
    if s % 2 == 0:
        rows.append(np.cos(np.pi * t) / np.sqrt(s))
    return np.array(rows)


def gate_masks(X: np.ndarray, gates: np.ndarray) -> np.ndarray:
    """Score masks ``D[b, i, t, t'] = 1[x_t^T Γ_b x_t' ≥ 0]`` of gate matrices ``Γ_b``
    (the fixed gates of gated-ReLU attention, §7.3.3); shape ``(B, n, s, s)``."""
    scores = np.einsum("ita,bak,iuk->bitu", X, gates, X)
    return (scores >= 0).astype(float)


@dataclass
class AttentionOperator:
    """The linear map ``Z ↦ Ŷ`` of one head family on samples ``X`` (n, s, d).

    Parameters
    ----------
    kind : str
        ``"self_attention"``, ``"gated_attention"``, ``"mlp_mixer"`` or ``"fno"``.
    X : numpy.ndarray
        Tokens, shape ``(n, s, d)``.
    c : int
        Output features per token.
    masks : numpy.ndarray, optional
        Gated attention's score masks ``(B, n, s, s)`` (:func:`gate_masks`).
    """
    kind: str
    X: np.ndarray
    c: int
    masks: np.ndarray | None = None

    def __post_init__(self):
        n, s, d = self.X.shape
        if self.kind in ("self_attention", "gated_attention"):
            masks = np.ones((1, n, s, s)) if self.kind == "self_attention" else self.masks
            # H[b, i, t] = Σ_t' D[b, i, t, t'] x_t' x_t'^T  (§7.3.3)
            self.gram = np.einsum("bitu,iuk,iul->bitkl", masks, self.X, self.X)
            self.block_shape = (d * d, d * self.c)
            self.blocks = masks.shape[0]
        elif self.kind == "mlp_mixer":
            self.block_shape, self.blocks = (s * s, d * self.c), 1
        elif self.kind == "fno":
            self.F = fourier_basis(s)
            self.X_hat = np.einsum("kt,ita->ika", self.F, self.X)
            self.block_shape, self.blocks = (d, self.c), s
        else:
            raise ValueError(f"unknown head kind {self.kind!r}")

    @property
    def shape(self) -> tuple:
        """Shape of the lifted variable: ``(B, rows, cols)``."""
        return (self.blocks,) + self.block_shape

    def forward(self, Z: np.ndarray) -> np.ndarray:
        """Predictions ``(n, s, c)`` of the lifted variable ``Z`` (B, rows, cols)."""
        n, s, d = self.X.shape
        if self.kind in ("self_attention", "gated_attention"):
            Z5 = Z.reshape(self.blocks, d, d, d, self.c)          # [b, k, a, l, j]
            return np.einsum("ita,bitkl,bkalj->itj", self.X, self.gram, Z5, optimize=True)
        if self.kind == "mlp_mixer":
            Z4 = Z.reshape(s, s, d, self.c)                        # [t, t', a, j]
            return np.einsum("iua,tuaj->itj", self.X, Z4, optimize=True)
        Y_hat = np.einsum("ika,kaj->ikj", self.X_hat, Z)
        return np.einsum("kt,ikj->itj", self.F, Y_hat)

    def adjoint(self, R: np.ndarray) -> np.ndarray:
        """Adjoint map of :meth:`forward`: residuals ``(n, s, c)`` to ``(B, rows, cols)``."""
        n, s, d = self.X.shape
        if self.kind in ("self_attention", "gated_attention"):
            G = np.einsum("ita,bitkl,itj->bkalj", self.X, self.gram, R, optimize=True)
        elif self.kind == "mlp_mixer":
            G = np.einsum("iua,itj->tuaj", self.X, R, optimize=True)
        else:
            R_hat = np.einsum("kt,itj->ikj", self.F, R)
            G = np.einsum("ika,ikj->kaj", self.X_hat, R_hat)
        return G.reshape(self.shape)


def lifted_matrix(op: AttentionOperator) -> np.ndarray:
    """The map ``A`` as a dense matrix ``(n·s·c, B·rows·cols)`` (columns: ``forward`` of
    unit blocks); at the toy sizes of §7.6 it has a few hundred columns."""
    size = int(np.prod(op.shape))
    cols = [op.forward(np.eye(1, size, j).reshape(op.shape)).ravel() for j in range(size)]
    return np.array(cols).T


def _nuclear(Z: np.ndarray) -> np.ndarray:
    return np.linalg.svd(Z, compute_uv=False).sum(axis=-1)


def _svt(Z: np.ndarray, tau: float) -> np.ndarray:
    """Singular-value soft-thresholding of every block (prox of τ Σ_b ||Z_b||_*)."""
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    return np.einsum("bik,bk,bkj->bij", U, np.maximum(s - tau, 0.0), Vt)


def objective(op: AttentionOperator, Z: np.ndarray, Y: np.ndarray, beta: float) -> float:
    """``½||A(Z) − Y||² + β Σ_b ||Z_b||_*`` (§7.3.2)."""
    return float(0.5 * np.sum((op.forward(Z) - Y) ** 2) + beta * _nuclear(Z).sum())


def duality_gap(op: AttentionOperator, Z: np.ndarray, Y: np.ndarray, beta: float) -> float:
    """Primal minus the dual value of the scaled residual (§7.0): an upper bound on
    ``objective(Z) − p*``, valid for any ``Z``."""
    R = Y - op.forward(Z)
    return _gap_from(R, op.adjoint(R), Y, Z, beta)


def _gap_from(R, AtR, Y, Z, beta) -> float:
    """Gap of ``Z`` given its residual ``R = Y − A(Z)`` and ``A*(R)``: the dual point is
    ``R`` scaled so that ``max_b ||A*(R)_b||₂ ≤ β`` (§7.0)."""
    g = float(np.linalg.norm(AtR, ord=2, axis=(1, 2)).max())
    lam = R * min(1.0, beta / g) if g > 0 else R
    primal = 0.5 * np.sum(R ** 2) + beta * _nuclear(Z).sum()
    return float(primal - 0.5 * np.sum(Y ** 2) + 0.5 * np.sum((lam - Y) ** 2))


@dataclass
class BlockSolution:
    """The solver's result: the optimum ``Z`` (B, rows, cols), p*, its duality gap, and
    the iterations taken."""
    Z: np.ndarray
    value: float
    gap: float
    iterations: int


def solve_block_nuclear(op: AttentionOperator, Y: np.ndarray, beta: float, *,
                        tol: float = 1e-7, max_iter: int = 20000, Z0=None,
                        A: np.ndarray | None = None) -> BlockSolution:
    """ADMM on ``½||A(z) − y||² + β Σ_b ||W_b||_*`` s.t. ``z = w`` (§7.3.2), on the dense
    lifted matrix ``A`` (:func:`lifted_matrix`; pass it to reuse it).

    The z-step solves ``(AᵀA + ρI) z = Aᵀy + ρ(w − u)`` (a cached inverse: a few hundred
    unknowns), the w-step thresholds the singular values of every block, and ρ follows the
    primal/dual residual balance (Boyd et al. 2011, §3.4.1). Stops when the duality gap of
    ``w`` (checked every 10 iterations) is at most ``tol · max(1, p)``; returns the last
    ``w`` with its gap either way. FISTA needs 5–15× more iterations here: ``AᵀA`` is
    singular and ill-conditioned (scores are cubic in the tokens).
    """
    A = lifted_matrix(op) if A is None else A
    y = Y.ravel()
    Q, q = A.T @ A, A.T @ y
    size = Q.shape[0]
    rho = max(float(np.trace(Q)) / size, 1e-12)
    inverse = np.linalg.inv(Q + rho * np.eye(size))
    w = np.zeros(size) if Z0 is None else Z0.ravel().copy()
    u = np.zeros(size)
    it = 0
    for it in range(1, max_iter + 1):
        z = inverse @ (q + rho * (w - u))
        w_old = w
        w = _svt((z + u).reshape(op.shape), beta / rho).ravel()
        u = u + z - w
        if it % 10:
            continue
        if _certified(A, y, w, op.shape, beta, tol):
            break
        primal, dual = np.linalg.norm(z - w), rho * np.linalg.norm(w - w_old)
        if primal > 10 * dual or dual > 10 * primal:
            factor = 2.0 if primal > 10 * dual else 0.5
            rho, u = rho * factor, u / factor
            inverse = np.linalg.inv(Q + rho * np.eye(size))
    Z = w.reshape(op.shape)
    R = y - A @ w
    gap = _gap_from(R, (A.T @ R).reshape(op.shape), y, Z, beta)
    return BlockSolution(Z, objective(op, Z, Y, beta), gap, it)


def _certified(A, y, z, shape, beta, tol) -> bool:
    R = y - A @ z
    Z = z.reshape(shape)
    gap = _gap_from(R, (A.T @ R).reshape(shape), y, Z, beta)
    value = 0.5 * float(R @ R) + beta * float(_nuclear(Z).sum())
    return gap <= tol * max(1.0, value)


def singular_value_path(op: AttentionOperator, Y: np.ndarray, betas, *, A=None,
                        tol: float = 1e-6) -> np.ndarray:
    """Singular values of every block of ``Z*(β)`` for each β, shape ``(K, B, r)``: the
    number of heads needed against β (§7.3.5 toy). Solved from the largest β down, each
    solve warm-started at the previous optimum (:func:`singular_value_path_iter` run to the
    end)."""
    return drain(singular_value_path_iter(op, Y, betas, A=A, tol=tol))


def singular_value_path_iter(op: AttentionOperator, Y: np.ndarray, betas, *, A=None,
                             tol: float = 1e-6) -> Generator[Progress, None, np.ndarray]:
    """:func:`singular_value_path` as a progress generator: one report per solved β
    (§7.3.5)."""
    A = lifted_matrix(op) if A is None else A
    order = np.argsort(betas)[::-1]
    out = np.zeros((len(betas), op.blocks, min(op.block_shape)))
    Z = None
    for i, k in enumerate(order, 1):
        Z = solve_block_nuclear(op, Y, float(betas[k]), tol=tol, Z0=Z, A=A).Z
        out[k] = np.linalg.svd(Z, compute_uv=False)
        yield Progress(i / len(order), f"β = {float(betas[k]):.3g} ({i}/{len(order)})")
    return out
