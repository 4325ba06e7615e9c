"""Run configuration of the diffusion-paths lab (SCIENCE.md §3).

One frozen dataclass, :class:`DiffusionConfig`; every field carries its range, unit and
one-line help (``engine.core.param``) so the parameter panel, sessions and the CLI are
generated from it. The config stays flat (old sessions and presets load unchanged); each
solver knob field is named by a ``Params`` dataclass of the solver table
(:mod:`engine.sampling.table`), from which its ``visible_when`` panel metadata and
:func:`solver_params` are derived.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine.core import param
from engine.core.config import PointRows
from engine.diffusion.priors import BUILTIN_PRIORS
from engine.diffusion.table import SOLVERS, SPECS
from engine.sampling.contract import START_EXACT, STARTS
from engine.sampling.solvers import CCDF_INITS
from engine.sampling.table import config_fields, params_from

__all__ = ["DiffusionConfig", "solver_params", "solvers_using", "PRIOR_CHOICES",
           "MEASUREMENTS"]

PRIOR_CHOICES = tuple(BUILTIN_PRIORS) + ("custom",)
MEASUREMENTS = ("none", "line", "coordinate", "full", "random")


def solvers_using(field_name: str) -> tuple:
    """The solvers whose ``Params`` are set by config field ``field_name`` (from the table)."""
    return tuple(name for name, spec in SPECS.items()
                 if field_name in config_fields(spec.Params).values())


def knob(field_name: str, default, **meta):
    """A solver-knob field: :func:`engine.core.param` plus ``visible_when`` = shown while the
    solver or the comparison solver is one of :func:`solvers_using` ``(field_name)``."""
    users = solvers_using(field_name)
    base = param(default, **meta)
    return dataclasses.field(default=default, metadata={
        **base.metadata, "visible_when": {"solver": users, "compare_solver": users}})


@dataclass(frozen=True)
class DiffusionConfig:
    """Sampler / inverse-solver paths on a Gaussian-mixture prior (SCIENCE.md §3.2-3.5).

    ``N`` particles start from ``x_T ~ p_T`` (``start``: the exact noised mixture, or
    ``N(0, I)``; CCDF: from its diffused initial estimate) and
    follow ``solver`` over ``n_steps`` respaced steps of the linear-β schedule (``T = 1000``),
    optionally conditioned on ``y = A x_0 + n``; ``compare_solver`` runs with the same seed and
    step budget for side-by-side viewing. Measurements: ``line`` is ``A = [cos a, sin a(, 0)]``,
    ``coordinate`` observes ``x₁``, ``full`` is ``A = I`` with ``y = value·(cos a, sin a(, 0))``,
    ``random`` the MCGdiff protocol's ``meas_rows`` random rows (seeded with ``seed``).
    """

    prior: str = param("ring", label="Prior", choices=PRIOR_CHOICES,
                       help="Built-in mixture prior, or 'custom': fitted (EM) to drawn points")
    fit_components: int = param(8, label="EM components", min=1, max=32,
                                help="Components of the mixture fitted to custom points")
    dim: int = param(2, label="Dimension d", min=2, max=80,
                     help="Dimension of the data space (2 or 3; up to 80 for the mcgdiff "
                          "prior, drawn in its first two coordinates)")
    solver: str = param("mcg", label="Solver", choices=tuple(SOLVERS),
                        help="Sampler or inverse solver whose paths are computed")
    compare_solver: str = param("projection", label="Compare with",
                                choices=("none",) + tuple(SOLVERS),
                                help="Second solver run with the same seed and step budget")
    n_particles: int = param(2000, label="Particles N", min=10, max=200_000, log=True,
                             help="Number of particles moved together")
    n_steps: int = param(100, label="Steps", min=1, max=1000, log=True,
                         help="Reverse steps, respaced from T = 1000")
    measurement: str = param("line", label="Measurement", choices=MEASUREMENTS,
                             help="Linear measurement y = A x + n (none = unconditional)")
    meas_rows: int = param(1, label="Random rows m", min=1, max=4,
                           help="'random': rows of A (MCGdiff protocol: random A with U(0, 1) "
                                "singular values, y = A x* + noise for a prior sample x*)")
    meas_angle: float = param(0.0, label="Measurement angle", unit="deg", min=-180.0,
                              max=180.0, help="Angle a of the measured direction")
    meas_value: float = param(1.0, label="Measured value y", min=-10.0, max=10.0,
                              help="Value y of the measurement (distance along a for 'full')")
    sigma_y: float = param(0.05, label="Noise σ_y", min=0.0, max=5.0,
                           help="Std of the measurement noise (0 = noiseless)")
    t0: float = knob("t0", 0.5, label="CCDF t₀", min=0.01, max=1.0,
                     help="CCDF: fraction of the steps run after forward diffusion")
    ccdf_init: str = knob("ccdf_init", "prior_projection", label="CCDF initial estimate",
                          choices=CCDF_INITS,
                          help="Prior sample projected on {Ax = y}, or the pseudo-inverse A⁺y")
    zeta: float = knob("zeta", 0.1, label="DPS step ζ", min=0.0, max=10.0,
                       help="DPS step on the gradient of ‖y - A x̂₀‖ (code scale)")
    mcg_alpha: float = knob("mcg_alpha", 0.1, label="MCG step α", min=0.0, max=10.0,
                            help="MCG step on the gradient of ‖y - A x̂₀‖ (unobserved part)")
    eta: float = knob("eta", 0.0, label="DDIM η", min=0.0, max=1.0,
                      help="DDIM stochasticity (0 = deterministic)")
    dds_eta: float = knob("dds_eta", 0.85, label="DDS η", min=0.0, max=1.0,
                          help="DDS: share of fresh noise in the re-noising step")
    cg_iters: int = knob("cg_iters", 5, label="DDS CG iterations", min=1, max=50,
                         help="Conjugate-gradient iterations of the DDS data consistency")
    dds_gamma: float = knob("dds_gamma", 1.0, label="DDS γ", min=0.0, max=1000.0,
                            help="DDS weight of the data term for noisy measurements")
    beta: float = knob("beta", 0.8, label="Momentum β", min=0.01, max=1.0,
                       help="HB / GHVB momentum (1 = no momentum)")
    order: int = knob("order", 2, label="Momentum order", min=1, max=4,
                      help="HB / GHVB Adams–Bashforth order")
    reddiff_lr: float = knob("reddiff_lr", 0.1, label="RED-diff lr", min=1e-4, max=10.0, log=True,
                             help="RED-diff Adam learning rate")
    reddiff_lambda: float = knob("reddiff_lambda", 0.25, label="RED-diff λ", min=0.0, max=100.0,
                                 help="RED-diff weight of the denoising regulariser")
    start: str = param(START_EXACT, label="Start x_T", choices=STARTS,
                       help="Law of x_T: the exact noised mixture p_T, or N(0, I) (mismatch "
                            "KL(p_T ‖ N(0, I)) ≤ Σ π_k ᾱ_T ‖μ_k‖²/2 grows with d)")
    n_trails: int = param(4, label="Trails", min=0, max=200,
                          help="Particles whose every step is kept and highlighted")
    record_every: int = param(1, label="Record every", min=1, max=1000,
                              help="Frame stride (memory bound for long runs)")
    dtype: str = param("float32", label="Precision", choices=("float32", "float64"),
                       help="Floating-point precision of the particles")
    budget_study: bool = param(False, label="Step-budget study",
                               help="Also run both solvers at 5…200 steps (500 particles) and "
                                    "plot the final distance to the exact posterior")
    custom_points: tuple = param((), hidden=True, points=PointRows((2, 3), 10_000),
                                 label="Drawn points",
                                 help="Points (x, y[, z]) the 'custom' prior is fitted to")
    seed: int = param(0, label="Seed", min=0, max=2**31 - 1,
                      help="Seed of the start, the noise and the measurement injection")


def solver_params(cfg: DiffusionConfig, name: str) -> dict:
    """Keyword parameters of solver ``name`` taken from ``cfg`` (the fields its ``Params``
    name; the other knobs keep their defaults)."""
    return params_from(cfg, SPECS[name].Params) if name in SPECS else {}
