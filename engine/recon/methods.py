"""The reconstruction methods table: name → :class:`MethodSpec` (SCIENCE.md §3.4, §4.1-4.8).

One entry per method — FBP, SIRT, CGLS, TV (CT), zero filling, CG-SENSE, compressed sensing
(MRI) and the diffusion-prior solvers of :mod:`engine.sampling` on the learned slice prior
(both) — with the modality it applies to, its cost class (the lab runs cheap methods first),
its progress generator and the ``Params`` dataclass naming the ``ReconConfig`` fields it reads.
Adding a method is one function plus one entry; the diffusion entries are derived from the
solver table (``SolverSpec.VolumeParams``).
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable, Generator

from engine.recon.diffusion import VOLUME_SOLVERS, diffusion_reconstruct_iter
from engine.recon.fbp import fbp
from engine.recon.iterative import cgls_iter, sirt_iter, tv_pdhg_iter
from engine.recon.learned_method import UnrolledParams, unrolled_iter
from engine.recon.mri import cg_sense_iter, cs_recon_iter, zero_filled
from engine.sampling.solvers import ccdf_steps
from engine.sampling.table import SOLVERS, config_fields

__all__ = ["MethodSpec", "METHODS", "method_knobs", "methods_for", "cached_prior"]

DIRECT, ITERATIVE, DIFFUSION = 0, 1, 2


@dataclass(frozen=True)
class MethodSpec:
    """One reconstruction method.

    Attributes
    ----------
    modality : {"ct", "mri", "both"}
    cost : int
        0 direct, 1 iterative, 2 diffusion prior (the lab runs cheap methods first).
    make_iter : callable
        ``make_iter(op, data, every, notes, **knobs)`` → progress generator returning the
        volume; ``notes`` collects what the user should know.
    Params : type
        Dataclass whose field names are the ``ReconConfig`` fields passed as ``knobs``.
    steps : callable
        ``steps(knobs)`` → iterations / diffusion steps of a run (0: direct).
    """
    modality: str
    cost: int
    make_iter: Callable
    Params: type
    steps: Callable[[dict], int] = lambda knobs: 0


def _fields(*names_types) -> type:
    """A Params dataclass naming ``ReconConfig`` fields (documentation of what a method reads)."""
    return dataclasses.make_dataclass("Params", [(n, t) for n, t in names_types], frozen=True)


def _direct(compute) -> Generator:
    return compute()
    yield  # pragma: no cover - makes this a generator


def _fbp(op, data, every, notes, filter):
    return _direct(lambda: fbp(data, op, filter=filter))


def _zero_filled(op, data, every, notes):
    return _direct(lambda: zero_filled(data, op))


def _iterative(algorithm, **fixed):
    """``make_iter`` of an iterative algorithm ``algorithm(data, op, ..., every=...)``."""
    def make(op, data, every, notes, **knobs):
        return algorithm(data, op, every=every, **fixed, **knobs)
    return make


@functools.lru_cache(maxsize=4)
def cached_prior(size: int, path: str, device: str):
    """The slice prior for ``size`` (or the file ``path``), loaded once per device."""
    from engine.slice_prior import load_slice_prior
    if size not in (64, 128) and not path:
        raise ValueError(f"the shipped slice priors are for 64² and 128² slices; set the "
                         f"in-plane size to 64 or 128 (now {size}) or train a prior for {size}²")
    return load_slice_prior(size, path=path or None, device=device)


def _diffusion(method: str, op, data, every, notes, diffusion_steps: int, prior_path: str,
               size: int, seed: int, **solver_knobs) -> Generator:
    """A diffusion-prior solver (issue #6) with the lab's knobs; the prior's notes (e.g. fewer
    slices per batch after a GPU out-of-memory) go to ``notes``."""
    prior = cached_prior(size, prior_path, str(op.device))
    knobs = config_fields(SOLVERS[VOLUME_SOLVERS[method][0]].VolumeParams)
    params = {k: solver_knobs[c] for k, c in knobs.items()}
    vol = yield from diffusion_reconstruct_iter(method, prior, op, data, diffusion_steps,
                                                seed, every=every, **params)
    notes.extend(f"{method}: {n}" for n in prior.notes)
    prior.notes.clear()
    return vol


def _diffusion_spec(method: str) -> MethodSpec:
    """The table entry of a diffusion method, from its solver's ``VolumeParams``."""
    extra = config_fields(SOLVERS[VOLUME_SOLVERS[method][0]].VolumeParams).values()
    Params = _fields(("diffusion_steps", int), ("prior_path", str), ("size", int),
                     ("seed", int), *[(c, float) for c in extra])
    steps = (lambda k: ccdf_steps(k["diffusion_steps"], k["t0"])) if method == "ccdf" else \
        (lambda k: k["diffusion_steps"])
    return MethodSpec("both", DIFFUSION, functools.partial(_diffusion, method), Params, steps)


_ITERS = _fields(("iters", int))
_REGULARISED = _fields(("iters", int), ("lam", float))


def _iters(knobs: dict) -> int:
    return knobs["iters"]


METHODS = {
    "fbp": MethodSpec("ct", DIRECT, _fbp, _fields(("filter", str))),
    "sirt": MethodSpec("ct", ITERATIVE, _iterative(sirt_iter), _ITERS, _iters),
    "cgls": MethodSpec("ct", ITERATIVE, _iterative(cgls_iter), _ITERS, _iters),
    "tv": MethodSpec("ct", ITERATIVE, _iterative(tv_pdhg_iter), _REGULARISED, _iters),
    "zero_filled": MethodSpec("mri", DIRECT, _zero_filled, _fields()),
    "cg_sense": MethodSpec("mri", ITERATIVE, _iterative(cg_sense_iter), _ITERS, _iters),
    "cs_tv": MethodSpec("mri", ITERATIVE, _iterative(cs_recon_iter, reg="tv"), _REGULARISED,
                        _iters),
    "cs_wavelet": MethodSpec("mri", ITERATIVE, _iterative(cs_recon_iter, reg="wavelet"),
                             _REGULARISED, _iters),
    "unrolled_net": MethodSpec("mri", DIRECT, unrolled_iter, UnrolledParams),   # §6.2, shipped
    **{m: _diffusion_spec(m) for m in VOLUME_SOLVERS},
}


def methods_for(modality: str) -> tuple:
    """Names of the methods that apply to ``modality`` ("ct" or "mri"), in table order."""
    return tuple(n for n, s in METHODS.items() if s.modality in (modality, "both"))


def method_knobs(name: str, cfg) -> dict:
    """The ``ReconConfig`` fields method ``name`` reads, from ``cfg``."""
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(METHODS[name].Params)}
