"""What every convex-duals model returns: the convex optimum beside gradient descent.

Each model of the convex-duals lab (SCIENCE.md §7: vector-output, batch-norm, attention,
WGAN, convolutional denoiser) solves its convex program, maps the solution back to network
weights, trains the non-convex network from several seeds, and reports one
:class:`ModelOutcome`. The lab's views draw the objective of every seed against the optimum
line and the model's structure arrays (singular values, block norms, token clusters,
discriminator contours, filters), named per model in that module's docstring.

Model contract (every ``engine/convex_duals/<model>.py``): ``Params`` (frozen dataclass of
``engine.core.param`` fields; a field named ``seed`` is the lab's shared first seed) and
``run(params, device="cpu") -> Generator[Progress, None, ModelOutcome]`` raising
:class:`ConvexDualsError` for refused settings. Partials (dicts with a ``"stage"``): ``data``
(the model's data), ``convex`` (``objective``, ``certificate``, ``certificate_kind``,
``arrays`` — the structure arrays known once the program is solved), ``gd`` (``steps`` and
``objectives`` of every run so far, ``seeds`` of the rows and the ``optimizer``'s name;
:func:`engine.convex_duals.gd.adam_runs` sends it). The lab (:mod:`engine.convex_duals.lab`)
adds ``"model"``; :func:`forward` relays a part's progress with its partials. The app shows
the certificate only through :func:`certificate_line`, so the status line, the tab's caption
and the exported ``outcome/certificate`` are one number.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generator

import numpy as np

from engine.core import Progress

__all__ = ["ModelOutcome", "ConvexDualsError", "forward", "certificate_line"]


def forward(gen: Generator, start: float, end: float) -> Generator:
    """Re-yield ``gen``'s progress mapped onto ``[start, end]``, partials kept, and return
    its result (``engine.core.relay`` drops partials)."""
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Progress(start * (1.0 - p.fraction) + end * p.fraction, p.message, p.partial)


def certificate_line(objective: float, certificate: float, kind: str) -> str:
    """``"p* = 1.234567, duality gap 1.2e-09"``: the optimum and its certificate as every
    view of the lab prints them (§7.0; ``kind`` as :attr:`ModelOutcome.certificate_kind`; a
    sampled relaxation's value is named as such, never p*, §7.9)."""
    name = "relaxation value" if kind.startswith("relaxation") else "p*"
    return f"{name} = {float(objective):.6f}, {kind} {float(certificate):.1e}"


class ConvexDualsError(ValueError):
    """A setting the convex program cannot take (β = 0 where a closed form needs β > 0,
    rank-deficient data, too many tokens for the exact program), with the reason."""


@dataclass
class ModelOutcome:
    """One model's convex optimum, its certificate, and the non-convex runs beside it.

    Attributes
    ----------
    model : str
        The model's name (``"vector_output"``, ``"batchnorm"``, ``"attention"``, ``"wgan"``,
        ``"denoiser"``).
    convex_objective : float
        Optimal value p* of the convex program, in the non-convex objective's units (§7
        conventions: ½‖·‖²_F loss, not divided by n, plus β times the regulariser).
    certificate : float
        The optimality certificate's value: duality gap, KKT residual, or the distance to the
        closed form, as ``certificate_kind`` says (§7.0 gives the always-valid gap bound).
    certificate_kind : str
        ``"duality gap"``, ``"KKT residual"`` or ``"closed form"``.
    steps : numpy.ndarray
        Steps (iterations) at which the non-convex objectives were recorded, shape ``(T,)``.
    gd_objectives : numpy.ndarray
        Non-convex objective per seed and recorded step, shape ``(seeds, T)``; NaN after a
        run that diverged stopped (its path up to there is kept).
    seeds : numpy.ndarray
        The seed of each row of ``gd_objectives``.
    arrays : dict of str to numpy.ndarray
        The model's structure for its view (documented in the model's module).
    notes : list of str
        What the app should say next to the result (a run that diverged, a relaxation that
        is not tight, the problem size).
    optimizer : str
        The name of the non-convex runs' method, as the views label them: ``"Adam"``, or
        ``"GDA"`` (gradient descent–ascent, the WGAN game).
    """
    model: str
    convex_objective: float
    certificate: float
    certificate_kind: str
    steps: np.ndarray
    gd_objectives: np.ndarray
    seeds: np.ndarray
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    optimizer: str = "Adam"

    def certificate_text(self) -> str:
        """:func:`certificate_line` of this outcome."""
        return certificate_line(self.convex_objective, self.certificate, self.certificate_kind)

    def gaps(self) -> np.ndarray:
        """Final non-convex objective minus the convex optimum, per seed (≥ 0 up to the
        certificate when the convex program is exact)."""
        finals = np.array([row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan
                           for row in self.gd_objectives])
        return finals - self.convex_objective
