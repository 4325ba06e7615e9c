"""Demo of :class:`widgets.slice_viewer.SliceViewer`: nested ellipsoids with 2×1×1 mm voxels.

``python -m widgets.slice_viewer_demo [--cmap NAME] [--layout tri|axial] [--screenshot PATH]``
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.slice_viewer import COLORMAPS, SliceViewer


def demo_volume(shape=(64, 128, 128), seed: int = 0) -> np.ndarray:
    """Nested ellipsoids filling a ``shape`` grid (float32, a little noise).

    Shown with spacing ``(2, 1, 1)`` mm, the default shape spans a 128 mm cube.
    """
    axes = [np.linspace(-1, 1, n) for n in shape]
    z, y, x = np.meshgrid(*axes, indexing="ij", sparse=True)     # each in [-1, 1]
    vol = np.random.default_rng(seed).normal(scale=0.02, size=shape).astype(np.float32)
    for (az, ay, ax, oz, oy, ox), val in (((0.9, 0.75, 0.6, 0, 0, 0), 1.0),
                                          ((0.8, 0.65, 0.5, 0, 0, 0), -0.6),
                                          ((0.3, 0.2, 0.12, 0.1, -0.15, 0.2), 0.5),
                                          ((0.25, 0.15, 0.15, -0.2, 0.2, -0.2), 0.3)):
        r = ((z - oz) / az) ** 2 + ((y - oy) / ay) ** 2 + ((x - ox) / ax) ** 2
        vol[r <= 1] += val
    return vol


def _demo(argv=None) -> None:  # pragma: no cover - manual demo
    """``python -m widgets.slice_viewer_demo [--cmap NAME] [--layout tri|axial] [--screenshot PATH]``."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description="SliceViewer demo: nested ellipsoids, 2×1×1 mm")
    ap.add_argument("--cmap", choices=COLORMAPS, default="gray")
    ap.add_argument("--layout", choices=("tri", "axial"), default="tri")
    ap.add_argument("--screenshot", metavar="PATH", help="save a PNG and quit")
    args = ap.parse_args(argv)
    pg.setConfigOptions(background="w", foreground="k")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    view = SliceViewer()
    view.setWindowTitle("SliceViewer demo (wheel/keys: slice, right-drag: window/level)")
    view.resize(1200, 480)
    view.set_volume(demo_volume(), (2.0, 1.0, 1.0), name="Nested ellipsoids, (2, 1, 1) mm")
    view.set_colormap(args.cmap)
    view.set_layout(args.layout)
    view.set_cursor(70, 50, 36)
    view.sigCursorChanged.connect(lambda i, j, k: print(f"cursor ({i}, {j}, {k})"))
    view.show()
    if args.screenshot:
        def shoot():
            view.hover("axial", 64.0, 40.0)
            view.grab().save(args.screenshot)
            app.quit()
        QtCore.QTimer.singleShot(800, shoot)
    app.exec()


if __name__ == "__main__":  # pragma: no cover - manual demo
    _demo()
