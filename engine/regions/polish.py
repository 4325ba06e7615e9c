"""Newton polish of a working-set solution on its identified faces (MSP §4 accuracy aid).

Proximal methods identify, after finitely many steps, which groups are zero and on which face
of its cone each nonzero group lies (Lewis–Wright partial smoothness). Fixing that face —
``u_g = B_g z_g`` with ``B_g`` an orthonormal basis of the span of the face of ``K_g``
containing ``u_g`` (``B_g = I`` for interior groups and all gated groups) — the problem
(SCIENCE.md §2.3 / §2.5 in scnn scaling) becomes the smooth (for ``z_g ≠ 0``) function

``φ(z) = (1/(2n))‖Mz − y‖² + λ Σ_g ‖z_g‖``, ``M = [σ_g D_g X̃ B_g]``,

with ``∇φ = Mᵀ(Mz − y)/n + λ z_g/‖z_g‖`` and ``∇²φ = MᵀM/n + λ (I − ẑ_gẑ_gᵀ)/‖z_g‖``. All
evaluations go through the Gram matrix ``MᵀM/n`` (cost independent of ``n``) — for 2-D and
gated programs; d > 2 ReLU programs (``p > FEATURES_P``: hundreds of groups of up to 21
coordinates, most on low-dimensional faces, small ``n``) go through the features ``M``
themselves (:mod:`engine.regions.polish_features`, SCIENCE.md §2.10). Damped Newton
steps with a line search that keeps every group in its cone converge quadratically when the
identification is right. A step is capped where a group's *radial* coordinate
``ẑ_g·(z_g + αd_g)`` reaches zero (the linearised norm says the group wants to vanish: it is
dropped there, Roth–Fischer active-set rule) or where a cone constraint becomes tight (the
group moves to the smaller face). Callers keep the result only if it is better, so a wrong
identification costs time, never correctness.
"""
from __future__ import annotations

import copy

import numpy as np
from scipy.linalg.lapack import dgesv

from engine.regions.polish_features import FaceFeatures, penalty_deltas
from engine.regions.faces import TIGHT, Geometry as _Geometry, face_bases, row_norms as _rn

__all__ = ["polish", "reduce_support", "face_bases"]

_DONE = 1e-24       # Newton decrement / |φ| below which φ is optimal to round-off
EARLY = 1e-8        # ... at which a polish may stop because the support will change
ROUNDOFF = 1e-9     # ‖∇φ‖_∞/λ below which decrease tests give way to the gradient test
DROP_CANDIDATES = 12  # breakpoints tried per drop step
FEATURES_P = 3      # ReLU programs with p = d + 1 above this polish through the features
                    # (:mod:`engine.regions.polish_features`), not the padded Gram


class _Raw:
    """Gram matrix ``R = F Fᵀ/n`` (g·p, g·p) and ``b = F y/n`` of the features
    ``F_g = σ_g D_g X̃`` of the groups that are nonzero when the polish starts."""

    def __init__(self, A, y, DS, groups, geo=None):
        self.A, self.y, self.DS, self.groups = A, y, DS, groups
        self.c = 0.5 * float(y @ y) / len(y)
        self.pos = np.full(len(DS), -1)
        self.pos[groups] = np.arange(len(groups))
        self.geo = geo if geo is not None else _Geometry(A)   # row geometry (cone tests)
        self.an = self.geo.an
        self._R = self._b = None

    def _gram(self) -> None:
        """``R`` and ``b``, on first use (d > 2 ReLU polishes never need them)."""
        g, (n, p) = len(self.groups), self.A.shape                      # g = 0: λ ≥ λ_max
        Ft = (self.DS[self.groups][:, None, :] * self.A.T[None]).reshape(g * p, n)
        self._R, self._b = Ft @ Ft.T / n, Ft @ self.y / n              # (g·p, g·p), (g·p,)

    @property
    def R(self) -> np.ndarray:
        if self._R is None:
            self._gram()
        return self._R

    @property
    def b(self) -> np.ndarray:
        if self._b is None:
            self._gram()
        return self._b


def _blocks(g: int, p: int) -> np.ndarray:
    """Flat indices of the (g, p, p) diagonal blocks of a (g·p, g·p) matrix."""
    r = np.arange(g)[:, None, None] * p + np.arange(p)[None, :, None]
    return (r * (g * p) + r.transpose(0, 2, 1)).ravel()


class _Reduced:
    """``φ`` on padded face coordinates ``z`` (g, p); unused coordinates are frozen at 0."""

    def __init__(self, raw: _Raw, active, bases, dims, lam, identity: bool):
        g, p = bases.shape[0], bases.shape[1]
        self.lam, self.bases, self.g, self.p, self.an = lam, bases, g, p, raw.an
        self.identity = identity
        self.mask = (np.arange(p)[None, :] < dims[:, None])                # (g, p)
        gp = g * p
        self.blocks = _blocks(g, p)
        idx = (raw.pos[active][:, None] * p + np.arange(p)[None, :]).ravel()
        gram, rhs = raw.R[np.ix_(idx, idx)], raw.b[idx]
        if not identity and gp <= 64:   # Bᵀ R B, B = blockdiag(bases): one dense product
            B = np.zeros(gp * gp)
            B[self.blocks] = bases.ravel()
            B = B.reshape(gp, gp)
            gram, rhs = B.T @ gram @ B, rhs @ B
        elif not identity:              # R B then Bᵀ(R B): 2g products, not g² (O(g²p³))
            RB = gram.reshape(gp, g, p).transpose(1, 0, 2) @ bases            # (g, gp, p)
            RB = RB.transpose(1, 0, 2).reshape(g, p, gp)                       # rows by group
            gram = (bases.transpose(0, 2, 1) @ RB).reshape(gp, gp)
            rhs = np.einsum("gpk,gp->gk", bases, rhs.reshape(g, p)).ravel()
        self.gram, self.b, self.c = gram, rhs, raw.c
        self.frozen = ~self.mask.ravel()
        self.any_frozen = bool(self.frozen.any())
        if self.any_frozen:
            self.gram[self.frozen, :] = 0.0
            self.gram[:, self.frozen] = 0.0
            self.b[self.frozen] = 0.0
        self.pmask = self.lam * (self.mask[:, :, None] & self.mask[:, None, :])
        self.eye = np.eye(p)[None]

    def refresh(self, raw: _Raw, active, changed, bases, dims) -> "_Reduced":
        """In place: new faces for the groups ``changed`` only — their rows and columns of
        ``BᵀRB`` recomputed (``O(|changed|·g·p³)``), the rest kept; returns ``self``."""
        g, p = self.g, self.p
        idx = (raw.pos[active][:, None] * p + np.arange(p)[None, :]).ravel()
        loc = (changed[:, None] * p + np.arange(p)[None, :]).ravel()
        k = len(changed)
        RB = raw.R[np.ix_(idx[loc], idx)].reshape(k * p, g, p).transpose(1, 0, 2) @ bases
        RB = RB.transpose(1, 0, 2).reshape(k, p, g * p)
        rows = (bases[changed].transpose(0, 2, 1) @ RB).reshape(k * p, g * p)
        self.bases, self.mask = bases, np.arange(p)[None, :] < dims[:, None]
        self.frozen = ~self.mask.ravel()
        self.any_frozen = bool(self.frozen.any())
        rows[:, self.frozen] = 0.0
        rows[self.frozen[loc], :] = 0.0
        self.gram[loc, :] = rows
        self.gram[:, loc] = rows.T
        self.b[loc] = np.einsum("gpk,gp->gk", bases[changed],
                                raw.b[idx[loc]].reshape(k, p)).ravel()
        self.b[self.frozen] = 0.0
        self.pmask = self.lam * (self.mask[:, :, None] & self.mask[:, None, :])
        return self

    def subset(self, keep: np.ndarray) -> "_Reduced":
        """The same program without the groups ``~keep`` (dropped at 0, faces unchanged)."""
        new = copy.copy(self)
        new.g = int(keep.sum())
        idx = (np.flatnonzero(keep)[:, None] * self.p + np.arange(self.p)[None, :]).ravel()
        new.bases, new.mask, new.pmask = self.bases[keep], self.mask[keep], self.pmask[keep]
        new.gram, new.b, new.frozen = self.gram[np.ix_(idx, idx)], self.b[idx], self.frozen[idx]
        new.any_frozen = bool(new.frozen.any())
        new.blocks = _blocks(new.g, self.p)
        return new

    def value(self, z):
        zf = z.ravel()
        quad = 0.5 * float(zf @ (self.gram @ zf)) - float(self.b @ zf) + self.c
        return quad + self.lam * float(np.sqrt(np.einsum("gk,gk->g", z, z)).sum())

    def values(self, Z):
        """``φ`` at a stack of points ``Z`` (k, g, p) in one batched evaluation."""
        Zf = Z.reshape(len(Z), -1)
        quad = 0.5 * np.einsum("ki,ki->k", Zf @ self.gram, Zf) - Zf @ self.b + self.c
        return quad + self.lam * np.sqrt(np.einsum("kgp,kgp->kg", Z, Z)).sum(axis=1)

    def deltas(self, z, Dz):
        """``φ(z + Δ_k) − φ(z)`` for a stack of steps ``Dz`` (k, g, p), evaluated as a
        difference (``(Gz − b)·Δ + ½ΔᵀGΔ`` and ``Σ(‖z+Δ‖² − ‖z‖²)/(‖z+Δ‖ + ‖z‖)``) instead of
        the difference of two values: accurate relative to the *change*, so decrease tests
        still work where ``φ`` itself no longer resolves it (degenerate programs whose
        near-duplicate groups trade mass at a cost far below round-off of ``φ``)."""
        Df = Dz.reshape(len(Dz), -1)
        r = self.gram @ z.ravel() - self.b
        quad = Df @ r + 0.5 * np.einsum("ki,ki->k", Df @ self.gram, Df)
        return quad + self.lam * penalty_deltas(z, Dz)

    def step(self, z, direction: bool = True):
        """Gradient (flat) and Newton direction (flat) at ``z`` (all groups nonzero)."""
        nrm = np.sqrt(np.einsum("gk,gk->g", z, z))
        zh = z / nrm[:, None]
        g = self.gram @ z.ravel() - self.b + self.lam * zh.ravel()
        if self.any_frozen:
            g[self.frozen] = 0.0
        if not direction:
            return g, None
        P = (self.eye - zh[:, :, None] * zh[:, None, :]) * (self.pmask / nrm[:, None, None])
        H = self.gram.copy()
        Hf = H.reshape(-1)                                   # flat view
        Hf[self.blocks] += P.ravel()
        dg = Hf[::self.g * self.p + 1]
        dg += 1e-13 * max(1.0, float(dg.max()))
        if not self.any_frozen:
            return g, _newton_solve(H, -g)
        free = np.flatnonzero(~self.frozen)         # lower-dimensional faces: a smaller system
        d = np.zeros_like(g)
        d[free] = _newton_solve(H[np.ix_(free, free)], -g[free])
        return g, d

    def directional(self, z, d) -> tuple[float, float]:
        """``(∇f(z)·d, dᵀ∇²f d)`` of the quadratic part ``f`` (the line search's model)."""
        df = d.ravel()
        return float((self.gram @ z.ravel() - self.b) @ df), float(df @ (self.gram @ df))

    def unpack(self, z):
        """``u_g = B_g z_g`` (gated: the identity)."""
        return z if self.identity else np.einsum("gpk,gk->gp", self.bases, z)


def _newton_solve(H: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``H⁻¹ rhs`` by LAPACK (no NumPy wrapper), least squares if ``H`` is singular."""
    _, _, d, info = dgesv(H, rhs)
    return d if info == 0 else np.linalg.lstsq(H, rhs, rcond=1e-12)[0]


def _caps(A, S_act, red, z, d, an):
    """Step caps ``(α_drop per group, α_hit, α_hit of the kept groups)``: radial zero crossing,
    first new tight row, and the first new tight row of a group *before* its own drop (a
    group on its way to 0 makes every row tight as it vanishes, which must not stop the
    others from being dropped at the same step)."""
    nrm = _rn(z)
    rad = np.einsum("gk,gk->g", z, d) / nrm
    with np.errstate(divide="ignore", invalid="ignore"):
        a_drop = np.where(rad < 0, -nrm / rad, np.inf)
    a_hit = a_keep = np.inf
    if S_act is not None:
        c0 = S_act * (red.unpack(z) @ A.T)
        c1 = S_act * (red.unpack(d) @ A.T)
        scale = nrm[:, None] * an[None, :]
        free = c0 > TIGHT * scale
        with np.errstate(divide="ignore", invalid="ignore"):
            hit = np.where(free & (c1 < 0), -c0 / c1, np.inf)
        a_hit = float(hit.min(initial=np.inf))
        a_keep = float(np.where(hit < a_drop[:, None] * (1 - 1e-9), hit, np.inf).min(
            initial=np.inf))
    return a_drop, a_hit, a_keep


def _feasible(A, S_act, U, an, tol=1e-12) -> bool:
    """All groups satisfy ``S∘(A u) ≥ −tol·‖a‖‖u‖`` (S_act None: no cones)."""
    if S_act is None:
        return True
    M = S_act * (U @ A.T)
    scale = _rn(U)[:, None] * an[None, :]
    return bool((M >= -tol * np.maximum(scale, 1e-300)).all())


def _line_search(red, A, S_act, z, d, f, slope):
    """One damped step; returns ``(z, f, ok, changed)`` (``changed``: face or support shrank;
    ``"drop"`` when only groups were dropped, the others staying on their faces).

    First the drop candidate (step to the first radial zero crossing, those groups set to 0),
    accepted on plain decrease; then Armijo backtracking from ``min(1, α_hit)``.
    """
    a_drop, a_hit, a_keep = _caps(A, S_act, red, z, d, red.an)
    amax, dmax = min(1.0, a_hit), min(1.0, a_keep)
    ad = float(a_drop.min(initial=np.inf))
    if ad <= dmax * (1 + 1e-9):     # best breakpoint: groups crossed by then are dropped
        a = np.unique(a_drop[a_drop <= dmax * (1 + 1e-9)])[:DROP_CANDIDATES]
        Z = z[None] + np.minimum(a, dmax)[:, None, None] * d[None]
        Z[a_drop[None, :] <= a[:, None] * (1 + 1e-9)] = 0.0      # (k, g): dropped by then
        dz = red.deltas(z, Z - z[None])
        k = int(np.argmin(dz))
        if dz[k] < 0 and _feasible(A, S_act, red.unpack(Z[k]), red.an):
            same = min(a[k], dmax) < a_keep * (1 - 1e-9)        # no kept group on a new face
            return Z[k], f + float(dz[k]), True, "drop" if same else True
    alpha, floor = amax, 1e-14 * max(float(np.abs(z).max()), 1e-300) / float(np.abs(d).max())
    # φ(z + αd) − φ(z) as a difference (see _Reduced.deltas), its quadratic part once per d
    rd, dgd = red.directional(z, d)
    n0, zd, dd = _rn(z), np.einsum("gk,gk->g", z, d), np.einsum("gk,gk->g", d, d)
    while alpha > floor:
        zn = z + alpha * d
        n1 = _rn(zn)
        if n1.min() > 0 and _feasible(A, S_act, red.unpack(zn), red.an):
            pen = float(((2.0 * alpha * zd + alpha * alpha * dd) / (n0 + n1)).sum())
            dn = alpha * rd + 0.5 * alpha * alpha * dgd + red.lam * pen
            if dn <= 1e-4 * alpha * slope:
                return zn, f + dn, True, alpha == amax and a_hit < 1.0
        alpha *= 0.5
    return z, f, False, False


def _pure_step(red, A, S_act, z, d, g):
    """Full Newton step in the round-off regime of ``F``, kept if ``‖∇φ‖`` halves."""
    a_drop, a_hit, _ = _caps(A, S_act, red, z, d, red.an)
    if min(float(a_drop.min(initial=np.inf)), a_hit) <= 1.0:
        return None
    zn = z + d
    if not _feasible(A, S_act, red.unpack(zn), red.an):
        return None
    gn, _ = red.step(zn, direction=False)
    return zn if np.abs(gn).max() < 0.5 * np.abs(g).max() else None


def _setup(raw, A, S, U, lam, prev=None):
    """Active groups, their face bases and the reduced problem (None if nothing active);
    ``prev``: the last setup — when the groups are the same and only a few faces changed,
    the reduced problem is refreshed (:meth:`_Reduced.refresh`), not rebuilt."""
    norms = _rn(U)
    U[norms <= 1e-12 * norms.max(initial=0.0)] = 0.0       # round-off residue of a drop
    active = np.flatnonzero(norms > 1e-12 * norms.max(initial=0.0))
    if len(active) == 0:
        return None
    bases, dims = face_bases(A, None if S is None else S[active], U[active], raw.geo)
    U[active[dims == 0]] = 0.0
    keep = dims > 0
    active, bases, dims = active[keep], bases[keep], dims[keep]
    if len(active) == 0:
        return None
    red = None
    if prev is not None and S is not None and np.array_equal(prev[0], active):
        old = prev[1]
        changed = np.flatnonzero((old.bases != bases).any(axis=(1, 2)))
        if len(changed) <= len(active) // 4:
            red = old.refresh(raw, active, changed, bases, dims)
    if red is None and S is not None and A.shape[1] > FEATURES_P:   # through the features
        red = FaceFeatures(A, raw.y, raw.DS[active], bases, dims, lam, raw.an)
    elif red is None:
        red = _Reduced(raw, active, bases, dims, lam, S is None)
    return active, red, (U[active] if S is None else np.einsum("gpk,gp->gk", bases, U[active]))


def polish(A, y, DS, S, U, lam, max_iter: int = 40, entering=None, geo=None):
    """Newton-polished copy of ``U`` (g, p) on its faces (module docstring).

    Parameters
    ----------
    A : (n, p) X̃. y : (n,). DS : (g, n) ``σ_g D_g``. S : (g, n) ``2D − 1`` or None (gated).
    U : (g, p) current (feasible) group variables. lam : λ > 0. max_iter : Newton steps.
    entering : optional ``U ↦ bool``, asked once when ``φ`` is accurate to ``EARLY``
        (relative Newton decrement): True (a zero group clearly violates its dual constraint,
        SCIENCE.md §2.3, so the support will change anyway) ends the polish there instead of
        refining a point the caller's next proximal step moves (active-set early exit).
    geo : optional :class:`engine.regions.faces.Geometry` of ``A``, shared across calls (its
        cache of face bases then carries over).
    """
    U = U.copy()
    if lam <= 0:
        return U
    raw = _Raw(A, y, DS, np.flatnonzero(_rn(U) > 0), geo)
    setup = _setup(raw, A, S, U, lam)
    for _ in range(max_iter):
        if setup is None:
            break
        active, red, z = setup
        S_act = None if S is None else S[active]
        f = red.value(z)
        g, d = red.step(z)
        slope = float(g @ d)
        if slope >= 0 or np.abs(g).max() <= 1e-15 * lam or -slope <= _DONE * abs(f):
            break
        if entering is not None and -slope <= EARLY * abs(f):
            if entering(U):
                break
            entering = None
        if np.abs(g).max() <= ROUNDOFF * lam:        # even ΔF cannot tell: gradient test
            z, ok, changed = _pure_step(red, A, S_act, z, d.reshape(z.shape), g), True, False
            if z is None:
                break
        else:
            z, f, ok, changed = _line_search(red, A, S_act, z, d.reshape(z.shape), f, slope)
        U[active] = red.unpack(z)
        if not ok:
            break
        if changed == "drop":                        # sub-program: no new faces to find
            keep = (z != 0).any(axis=1)
            setup = (active[keep], red.subset(keep), z[keep]) if keep.any() else None
        elif changed:
            setup = _setup(raw, A, S, U, lam, prev=setup)
        else:
            setup = (active, red, z)
    return U


def reduce_support(A, DS, U, max_iter: int = 100_000):
    """Carathéodory reduction to at most ``n + 1`` nonzero groups (PE Theorem 1, ``m* ≤ n+1``).

    With more active groups than ``n + 1``, the features ``f_g = σ_g D_g X̃ u_g`` and norms
    ``‖u_g‖`` admit ``c ≠ 0`` with ``Σ c_g f_g = 0`` and ``Σ c_g ‖u_g‖ = 0``; rescaling
    ``u_g ← (1 + t c_g) u_g`` (positive factors keep every cone constraint) leaves the fit and
    the penalty unchanged and, at the first ``t`` with ``1 + t c_g = 0``, removes a group.
    """
    U = U.copy()
    n = DS.shape[1]
    for _ in range(max_iter):
        act = np.flatnonzero(np.linalg.norm(U, axis=1) > 0)
        if len(act) <= n + 1:
            break
        F = DS[act] * (U[act] @ A.T)
        M = np.vstack([F.T, np.linalg.norm(U[act], axis=1)[None, :]])
        c = np.linalg.svd(M, full_matrices=True)[2][-1]
        if not (c < 0).any():
            c = -c
        with np.errstate(divide="ignore"):
            ratio = np.where(c < 0, -1.0 / c, np.inf)
        j = int(np.argmin(ratio))
        U[act] *= np.maximum(1.0 + ratio[j] * c, 0.0)[:, None]
        U[act[j]] = 0.0
    return U
