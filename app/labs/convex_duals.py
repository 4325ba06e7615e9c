"""Convex-duals lab presenter: one tab per model, the convex optimum beside Adam's runs.

Runs go through the registry's engine entry (:func:`engine.convex_duals.lab.run_config`);
partials (stages ``data``, ``convex``, ``gd``, each tagged with its ``model``) are drawn as
they arrive, and the finished :class:`~engine.convex_duals.lab.DualsResult` replaces them.
Each tab: the objective of every seed against the optimum line with its certificate
(:class:`~widgets.duals_objective_plot.DualsObjectivePlot`) and the model's structure view
(``widgets/duals_<model>_view.py``, listed in :data:`VIEWS`).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from app.labs.base import LabPresenter, views_only
from engine.convex_duals.common import certificate_line
from engine.convex_duals.config import MODELS
from widgets.duals_attention_view import DualsAttentionView
from widgets.duals_batchnorm_view import BatchNormView
from widgets.duals_denoiser_view import DenoiserView
from widgets.duals_objective_plot import DualsObjectivePlot
from widgets.duals_vector_output_view import VectorOutputView
from widgets.duals_wgan_view import DualsWganView

# model name → its structure view (a widget with ``show_outcome(outcome)``)
VIEWS = {
    "vector_output": VectorOutputView,
    "batchnorm": BatchNormView,
    "denoiser": DenoiserView,
    "attention": DualsAttentionView,
    "wgan": DualsWganView,
}


class _Tab(QWidget):
    """One model's tab: certificate line, objective plot, structure view."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.objective = DualsObjectivePlot()
        self.structure = VIEWS[name]() if name in VIEWS else None
        self.notes = QLabel(f"Run the lab with model = {name} to see its convex optimum.")
        self.notes.setWordWrap(True)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.objective)
        if self.structure is not None:
            split.addWidget(self.structure)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(split.count() - 1, 1)
        split.setSizes([500, 500])
        lay = QVBoxLayout(self)
        lay.addWidget(self.notes)
        lay.addWidget(split, 1)

    def show_outcome(self, outcome) -> None:
        self.objective.clear()
        self.objective.set_optimum(outcome.convex_objective, outcome.certificate_text())
        self.objective.set_runs(outcome.steps, outcome.gd_objectives, outcome.seeds,
                                outcome.optimizer)
        if self.structure is not None:
            self.structure.show_outcome(outcome)
        self.notes.setText(" · ".join(outcome.notes))


class ConvexDualsLab(LabPresenter):
    """Presenter of the convex-duals lab (SCIENCE.md §7)."""

    def __init__(self, spec, parent=None):
        super().__init__(spec, parent)
        self.result = None
        self.tabs = QTabWidget()
        self.tab_of: dict[str, _Tab] = {}
        for name, entry in MODELS.items():
            self.tab_of[name] = _Tab(name)
            self.tabs.addTab(self.tab_of[name], entry.title)
        self.view = views_only(self, (self.tabs, 1))

    # -- results ---------------------------------------------------------------------------
    def show_result(self, result) -> None:
        self.result = result
        tab = self.tab_of[result.model]
        tab.show_outcome(result.outcome)
        self.tabs.setCurrentWidget(tab)

    def show_partial(self, partial) -> None:
        stages = partial if isinstance(partial, dict) else {}
        if "stage" in stages:                       # a single partial, not a stage map
            stages = {stages["stage"]: stages}
        convex, gd = stages.get("convex"), stages.get("gd")
        model = next((p.get("model") for p in stages.values() if isinstance(p, dict)), None)
        if model not in self.tab_of:
            return
        tab = self.tab_of[model]
        self.tabs.setCurrentWidget(tab)
        if convex is not None:
            tab.objective.set_optimum(convex["objective"], certificate_line(
                convex["objective"], convex["certificate"], convex["certificate_kind"]))
            if tab.structure is not None:
                tab.structure.show_outcome(SimpleNamespace(arrays=convex["arrays"]))
        if gd is not None:
            tab.objective.set_runs(gd["steps"], gd["objectives"], gd.get("seeds"),
                                   gd.get("optimizer", "Adam"))

    def run_abandoned(self) -> bool:
        if self.result is None:
            return False
        self.show_result(self.result)
        return True

    def result_summary(self, result) -> str:
        o = result.outcome
        return f"{MODELS[result.model].title}: {o.certificate_text()}"

    # -- presets, export ---------------------------------------------------------------------
    def show_view(self, name: Optional[str]) -> None:
        if name in self.tab_of:
            self.tabs.setCurrentWidget(self.tab_of[name])

    def svg_plots(self) -> dict:
        out = {}
        for name, tab in self.tab_of.items():
            out[f"{name} objective"] = tab.objective.plot_item
            out[f"{name} distance to optimum"] = tab.objective.excess.plot_item
            if tab.structure is not None:
                out[f"{name} structure"] = tab.structure.item
        return out
