"""What every lab presenter offers the shell (the main window knows nothing lab-specific)."""
from __future__ import annotations

from typing import Callable, Generator, Optional

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLayout, QVBoxLayout, QWidget


class LabPresenter(QObject):
    """Turns engine results into widget calls and panel edits into runs.

    Subclasses build ``self.view`` (the lab's central widget) in ``__init__`` and implement
    :meth:`show_result`; runs go through the lab's engine entry (``spec.run``).
    """

    sigMessage = Signal(str)
    sigConfigEdit = Signal(dict)   # field → value edits made in the views (e.g. a dragged line)

    def __init__(self, spec, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.spec = spec
        self.view: QWidget = QWidget()
        self.views: Optional[QWidget] = None     # the views without tool rows (views_only)
        # The shell replaces this with the panel's getter: the config the user sees now.
        self.current_config: Callable[[], object] = lambda: None

    # -- runs -------------------------------------------------------------------------------
    def make_run(self, config, device: str) -> Callable[[], Generator]:
        """A zero-argument callable building the engine generator (called in the worker):
        the registry's ``run_config(config, device)`` of this lab."""
        entry = self.spec.run_entry()
        return lambda: entry(config, device)

    def show_result(self, result) -> None:
        """Hand a finished result (CPU NumPy copies) to the widgets."""
        raise NotImplementedError

    def show_partial(self, partial) -> None:
        """Show a partial result streamed while the run goes on (e.g. the current iterate)."""

    def run_abandoned(self) -> bool:
        """A run was cancelled or failed; True when the views show the result from before it again
        (presenters that drew the run's partials put the old result back)."""
        return False

    def result_summary(self, result) -> str:
        """One line for the status bar."""
        return ""

    # -- playback ---------------------------------------------------------------------------
    def frame_count(self) -> int:
        return 0

    def frame_times(self) -> Optional[np.ndarray]:
        return None

    def set_frame(self, index: int) -> None:
        """Show recorded frame ``index`` in every view."""

    # -- presets, export, presentation --------------------------------------------------------
    def show_view(self, name: Optional[str]) -> None:
        """Bring a named sub-view to front (presets name the view that tells their story)."""

    def svg_plots(self) -> dict:
        """Title → pyqtgraph PlotItem for every 2-D plot that can be exported as SVG."""
        return {}

    def animation_widget(self) -> QWidget:
        """The widget recorded frame by frame for movie export."""
        return self.view

    def movie_widget(self) -> QWidget:
        """The lab's views only (no button rows or status text) for movie export: the widget
        a presenter built with :func:`views_only`, else :meth:`animation_widget`."""
        return self.views if self.views is not None else self.animation_widget()

    def set_presentation(self, on: bool) -> None:
        """Larger fonts and thicker lines for lectures."""

    def shutdown(self) -> None:
        """Release GL/threads before the window closes."""


def views_only(presenter: LabPresenter, *parts) -> QWidget:
    """A margin-less widget holding ``parts`` — ``(widget or layout, stretch)`` pairs, top to
    bottom — that becomes ``presenter.views``: what movies record (the lab's views, without
    the tool rows and the summary line above them)."""
    holder = QWidget()
    lay = QVBoxLayout(holder)
    lay.setContentsMargins(0, 0, 0, 0)
    for part, stretch in parts:
        (lay.addLayout if isinstance(part, QLayout) else lay.addWidget)(part, stretch)
    presenter.views = holder
    return holder
