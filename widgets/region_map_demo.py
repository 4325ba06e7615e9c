"""Demo of :class:`widgets.region_map.RegionMap`: a random width-12 ReLU net, rotating.

Run ``python -m widgets.region_map [--mode M] [--boundaries] [--screenshot PATH]``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.region_map import MODES, RegionMap


def _demo_frame(W1, b1, w2, n=400):
    """Bit-packed pattern ids (stable keys) and output of ``w2·relu(W1 x + b1)`` on [-2, 2]²."""
    g = np.linspace(-2, 2, n)
    pre = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2) @ W1.T + b1
    ids = (pre > 0) @ (np.int64(1) << np.arange(len(b1), dtype=np.int64))
    return ids.reshape(n, n), (np.maximum(pre, 0) @ w2).reshape(n, n)


def _demo_hover(W1, b1, w2, x, y) -> str:
    """Pattern bits and the local affine map of the demo net at ``(x, y)``."""
    on = W1 @ (x, y) + b1 > 0
    a, c = (w2 * on) @ W1, float((w2 * on) @ b1)
    return (f"pattern {''.join('01'[int(v)] for v in on)}\n"
            f"f(x) = {a[0]:+.3f}·x₁ {a[1]:+.3f}·x₂ {c:+.3f}")


def main(argv=None) -> None:  # pragma: no cover - manual demo
    """``python -m widgets.region_map [--mode M] [--boundaries] [--screenshot PATH]``."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description="RegionMap demo: a random width-12 ReLU net")
    ap.add_argument("--mode", choices=MODES, default="regions")
    ap.add_argument("--boundaries", action="store_true")
    ap.add_argument("--screenshot", metavar="PATH", help="save a PNG and quit")
    args = ap.parse_args(argv)
    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    rng = np.random.default_rng(3)
    W1 = rng.normal(size=(12, 2))
    b1, w2 = rng.uniform(-1.2, 1.2, 12) * np.linalg.norm(W1, axis=1), rng.normal(size=12) / 3
    t = np.sqrt(rng.uniform(0.05, 1.0, 120)) * 3 * np.pi        # two spirals, labels ±1
    y = np.where(np.arange(120) % 2 == 0, 1.0, -1.0)
    X = 0.55 / np.pi * np.stack([t * np.cos(t), t * np.sin(t)], axis=1) * y[:, None]
    view = RegionMap()
    view.setWindowTitle("RegionMap demo (hover: pattern and local map; regions rotate)")
    view.resize(820, 760)
    view.set_mode(args.mode)
    view.set_boundaries(args.boundaries)
    view.set_data(X + rng.normal(scale=0.04, size=X.shape), y)
    state = {"t": 0.0, "W": W1}

    def tick():
        c, s = np.cos(0.2 * np.sin(state["t"])), np.sin(0.2 * np.sin(state["t"]))
        state["W"] = W = W1 @ np.array([[c, -s], [s, c]])
        ids, out = _demo_frame(W, b1, w2)
        view.set_pattern_ids(ids, (-2, 2), (-2, 2))
        view.set_output(out)
        view.set_lines(W, b1, colors=[pg.intColor(j, 12) for j in range(12)])
        view.set_info(f"patterns on the grid: {len(np.unique(ids))}")
        state["t"] += 0.05

    view.sigHover.connect(lambda x, y: view.set_hover_text(_demo_hover(state["W"], b1, w2, x, y)))
    view.sigClicked.connect(lambda x, y: print(f"clicked ({x:.3f}, {y:.3f})"))
    tick()
    view.show()
    timer = QtCore.QTimer(view, interval=60, timeout=tick)
    if args.screenshot:
        def shoot():
            view.handle_scene_move(view.plot_item.vb.sceneBoundingRect().center())
            view.grab().save(args.screenshot)
            app.quit()
        QtCore.QTimer.singleShot(800, shoot)
    else:
        timer.start()
    app.exec()


