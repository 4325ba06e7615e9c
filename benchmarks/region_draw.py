"""Draw benchmark of the region map (widgets.region_map.RegionMap).

Times ``set_pattern_ids`` followed by ``QApplication.processEvents()`` and a forced repaint
(``widget.grab()``), i.e. the full cost of showing one new region map, for 30 different
id maps of a moving width-24 two-layer ReLU net (bit-packed patterns). Targets: ≤ 10 ms at
256 × 256 and ≤ 50 ms at 1024 × 1024. Also reports the same with boundaries on, with the
engine's ``(ids 0..K−1, keys)`` form, and with the output heat map + isolines updated too.

Run under a display::

    xvfb-run -a .venv/bin/python benchmarks/region_draw.py [--updates 30] [--size 900x800]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from widgets.region_map import RegionMap


def make_frames(n: int, count: int, width: int = 24, seed: int = 0):
    """``count`` (ids, output) pairs on an ``n × n`` grid over [-2, 2]² of a rotating net."""
    rng = np.random.default_rng(seed)
    W, b, w2 = rng.normal(size=(width, 2)), rng.uniform(-2, 2, width), rng.normal(size=width)
    g = np.linspace(-2, 2, n)
    X = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    powers = np.int64(1) << np.arange(width, dtype=np.int64)
    frames = []
    for k in range(count):
        c, s = np.cos(0.02 * k), np.sin(0.02 * k)
        pre = X @ (W @ np.array([[c, -s], [s, c]])).T + b
        frames.append((((pre > 0) @ powers).reshape(n, n),
                       (np.maximum(pre, 0) @ w2).reshape(n, n)))
    return frames


def time_updates(view, frames, update):
    """Mean / max wall ms and mean process-CPU ms of ``update`` + processEvents + grab."""
    app = QApplication.instance()
    for f in frames[:3]:  # warm-up
        update(view, *f)
        app.processEvents()
        view.grab()
    times, cpu0 = [], time.process_time()
    for f in frames:
        t0 = time.perf_counter()
        update(view, *f)
        app.processEvents()
        view.grab()
        times.append(time.perf_counter() - t0)
    times = 1e3 * np.asarray(times)
    return times.mean(), times.max(), 1e3 * (time.process_time() - cpu0) / len(frames)


def _ids(view, ids, out):
    view.set_pattern_ids(ids, (-2, 2), (-2, 2))


def _keys(view, ids, out):
    keys, inverse = _keys.cache[id(ids)]
    view.set_pattern_ids(inverse, (-2, 2), (-2, 2), keys=keys)


def _with_output(view, ids, out):
    view.set_pattern_ids(ids, (-2, 2), (-2, 2))
    view.set_output(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=30)
    ap.add_argument("--size", default="900x800")
    args = ap.parse_args()
    pg.setConfigOptions(background="w", foreground="k")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    size = tuple(int(v) for v in args.size.split("x"))
    print(f"RegionMap {size[0]}×{size[1]} px, {args.updates} updates; mean / max ms (CPU ms)")
    for n, target in ((256, 10), (1024, 50)):
        frames = make_frames(n, args.updates)
        _keys.cache = {}
        for ids, _ in frames:
            keys, inv = np.unique(ids, return_inverse=True)
            _keys.cache[id(ids)] = (keys, inv.reshape(ids.shape))
        cases = (("ids", _ids, False, "regions"), ("ids + boundaries", _ids, True, "regions"),
                 ("(ids, keys)", _keys, False, "regions"),
                 ("ids + output (both)", _with_output, False, "both"))
        for name, update, bounds, mode in cases:
            view = RegionMap()
            view.resize(*size)
            view.show()
            view.set_boundaries(bounds)
            view.set_mode(mode)
            mean, worst, cpu = time_updates(view, frames, update)
            mark = f"  (target ≤ {target} ms)" if name == "ids" else ""
            print(f"{n:5d}² {name:22s} {mean:7.1f} / {worst:6.1f} ({cpu:5.1f}){mark}")
            view.close()
    app.quit()


if __name__ == "__main__":
    main()
