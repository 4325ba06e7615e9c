"""QApplication creation and the one-time pyqtgraph/vispy configuration."""
from __future__ import annotations

import os
import sys

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QApplication


def headless_platform() -> None:
    """Use Qt's offscreen platform when there is no display (CLI screenshot/export)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
            and sys.platform.startswith("linux"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def create_application(argv=None, plotting: bool = True) -> QApplication:
    """The one QApplication (reused when it exists, e.g. under pytest-qt); ``plotting=False``
    leaves :func:`configure_plotting` (which imports pyqtgraph) to the caller, before the
    first plot is made."""
    app = QApplication.instance()
    if app is not None:
        if plotting:
            configure_plotting()
        return app
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    # Qt hands every raster fill of ≥ 96 spans (a stroked plot curve flushes 255) to its GUI
    # thread pool: the hand-offs cost more CPU than the fills (issue #16, benchmarks/playback.py)
    if os.environ.get("FLOWSCOPE_QT_POOL") != "1":
        os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
    app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationName("Flowscope")
    app.setOrganizationName("Flowscope")
    if plotting:
        configure_plotting()
    return app


def configure_plotting() -> None:
    """White-background, antialiased pyqtgraph plots (readable on projectors)."""
    import pyqtgraph as pg

    from app.export import install_svg_closed_path_fix
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    install_svg_closed_path_fix()


def configure_torch() -> None:
    """Leave one core to the GUI: torch intra-op threads = cores − 1 (at least 1).

    On a 2-core machine two torch threads that wait on each other stall whenever the GUI
    (or anything else) holds a core; one thread is both steadier and faster there.
    """
    import torch
    torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
