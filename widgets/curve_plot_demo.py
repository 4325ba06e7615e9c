"""Demo of :class:`widgets.curve_plot.CurvePlot`: ``python -m widgets.curve_plot_demo``."""
import sys

import numpy as np
from PySide6 import QtWidgets

from widgets.curve_plot import CurvePlot


def main() -> None:  # pragma: no cover - manual demo
    """Show a CurvePlot with a bundle, a band, named curves, reference lines and a cursor."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 10.0, 400)
    Y = np.exp(-0.3 * t)[:, None] + np.cumsum(rng.normal(0, 0.02, (400, 1000)), axis=0)
    plot = CurvePlot("Loss trajectories", "t (s)", "loss")
    plot.setWindowTitle("CurvePlot demo")
    plot.set_lines("runs", t, Y, color=(100, 160, 255), alpha=60, max_lines=200)
    lo, hi = np.percentile(Y, [10, 90], axis=1)
    plot.set_band("bound", t, lo, hi, color=(255, 140, 0), name="10-90 % band")
    plot.set_curve("mean", t, Y.mean(axis=1), color="w", name="mean")
    plot.set_curve("theory", t, np.exp(-0.3 * t), (255, 80, 80), style="dash", name="theory")
    plot.set_hline("zero", 0.0, (150, 150, 150), label="y = 0")
    plot.set_vline("switch", 5.0, (120, 220, 120), label="switch")
    plot.set_cursor(2.5)
    plot.sigClicked.connect(lambda x, y: plot.set_cursor(x))
    plot.resize(800, 500)
    plot.show()
    app.exec()


if __name__ == "__main__":  # pragma: no cover
    main()
