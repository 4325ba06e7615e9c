"""Run configuration of the gradient-flow lab (SCIENCE.md §1).

One frozen dataclass, :class:`FlowConfig`; every field carries its range, unit and
one-line help (``engine.core.param``) so the parameter panel, sessions and the CLI are
generated from it.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.core import param

__all__ = ["FlowConfig"]


@dataclass(frozen=True)
class FlowConfig:
    """Teacher-student single-ReLU-neuron training run (SCIENCE.md §1.1-1.7; MAD, SV).

    The student is the scalar chain ``f(x) = a_L ... relu(a_2 relu(w·x))`` (depth ``L``,
    §1.5), trained on the square loss against the teacher ``relu(v·x)`` either on the
    Gaussian population (closed forms §1.2-1.3) or on ``n_samples`` drawn points (§1.6), by
    gradient flow (an ODE integrator) or gradient descent. ``N = n_init`` initialisations
    run as one batch. Times: GF time ``t``; for GD ``t = k·lr`` (MAD's time change, §1.1).
    """

    dim: int = param(2, label="Input dimension d", min=1, max=64,
                     help="Dimension d of the inputs x ~ N(0, I_d) and of the weight w")
    depth: int = param(1, label="Depth L", min=1, max=6,
                       help="Layers of the scalar chain a_L…relu(a_2 relu(w·x)); 1 = one neuron")
    n_init: int = param(200, label="Initialisations N", min=1, max=1_000_000,
                        help="Number of initialisations integrated together as one batch")
    init_scale: float = param(0.1, label="Initial scale ρ₀", min=1e-4, max=100.0, log=True,
                              help="Initial norm ‖u(0)‖ of the effective weight u = a_2…a_L·w")
    init_dirs: str = param("random", label="Initial directions", choices=("random", "even"),
                           help="Directions uniform on the sphere, or evenly spaced angles "
                                "in the (e1, e2) plane starting at the teacher")
    balanced: bool = param(True, label="Balanced layers",
                           help="All layers start at the same scale ρ₀^(1/L) (conserved "
                                "balance quantities are then zero)")
    imbalance: float = param(0.5, label="Imbalance", min=0.0, max=2.0,
                             help="Unbalanced init: log-scale spread of the layer scales "
                                  "(product kept at ρ₀)")
    teacher_norm: float = param(1.0, label="Teacher norm ν", min=0.01, max=100.0, log=True,
                                help="Norm ν = ‖v‖ of the teacher weight v")
    teacher_angle: float = param(0.0, label="Teacher angle", unit="deg", min=-180.0, max=180.0,
                                 help="Direction of v in the (e1, e2) plane (ignored for d = 1)")
    method: str = param("gf", label="Method", choices=("gf", "gd"),
                        help="Gradient flow (ODE integrator) or gradient descent with step lr")
    integrator: str = param("rk4", label="GF integrator", choices=("euler", "rk4", "adaptive"),
                            help="Fixed-step Euler or RK4, or adaptive Dormand-Prince RK45 "
                                 "(reference)")
    dt: float = param(0.01, label="GF step dt", min=1e-5, max=1.0, log=True,
                      help="Time step of the fixed-step GF integrators (first try for adaptive)")
    lr: float = param(0.1, label="GD step size η", min=1e-5, max=100.0, log=True,
                      help="Gradient-descent step size η; GD step k is plotted at t = kη")
    t_max: float = param(20.0, label="Final time", min=0.01, max=10000.0, log=True,
                         help="Final time of the run (GD runs round(t_max/η) steps)")
    data: str = param("population", label="Data", choices=("population", "finite"),
                      help="Population loss (Gaussian inputs, closed form) or a finite "
                           "training set")
    n_samples: int = param(100, label="Samples n", min=2, max=100_000,
                           help="Number of training samples x_i ~ N(0, I_d) (finite data)")
    label_noise: float = param(0.0, label="Label noise", min=0.0, max=10.0,
                               help="Std of Gaussian noise added to the labels relu(v·x_i)")
    frames: int = param(400, label="Frames", min=2, max=5000,
                        help="Recorded frames (includes t = 0 and the last step)")
    rtol: float = param(1e-6, label="Adaptive rtol", min=1e-12, max=1e-2, log=True,
                        hidden=False,
                        help="Relative error tolerance of the adaptive RK45 integrator")
    dtype: str = param("float64", label="Precision", choices=("float32", "float64"),
                       help="Floating-point precision of the whole run")
    seed: int = param(0, label="Seed", min=0, max=2**31 - 1,
                      help="Seed of the initial directions, layer scales and data")
