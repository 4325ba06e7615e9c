"""Draw benchmark of the tri-planar slice viewer (widgets.slice_viewer.SliceViewer).

Times ``set_cursor`` moving the axial slice ``k`` of a 256³ float32 volume followed by
``QApplication.processEvents()`` and a forced repaint (``widget.grab()``), 100 times, i.e. the
full cost of showing a new slice. Target: ≤ 16 ms mean. Also reports moving ``i`` (sagittal:
a strided slice) and ``update_data`` (live refresh of the three current slices).

Run under a display::

    xvfb-run -a .venv/bin/python benchmarks/slice_draw.py [--updates 100] [--size 1200x480]
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

from widgets.slice_viewer import SliceViewer


def time_steps(viewer, count, step):
    """Mean / max wall ms and mean process-CPU ms of ``step(n)`` + processEvents + grab."""
    app = QApplication.instance()
    for n in range(3):  # warm-up
        step(n)
        app.processEvents()
        viewer.grab()
    times, cpu0 = [], time.process_time()
    for n in range(count):
        t0 = time.perf_counter()
        step(n)
        app.processEvents()
        viewer.grab()
        times.append(time.perf_counter() - t0)
    times = 1e3 * np.asarray(times)
    return times.mean(), times.max(), 1e3 * (time.process_time() - cpu0) / count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=100)
    ap.add_argument("--size", default="1200x480")
    args = ap.parse_args()
    pg.setConfigOptions(background="w", foreground="k")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    rng = np.random.default_rng(0)
    data = rng.random((256, 256, 256), dtype=np.float32)
    viewer = SliceViewer()
    viewer.resize(*(int(v) for v in args.size.split("x")))
    viewer.show()
    t0 = time.perf_counter()
    viewer.set_volume(data, spacing=(2.0, 1.0, 1.0))
    app.processEvents()
    viewer.grab()
    open_ms = 1e3 * (time.perf_counter() - t0)
    print(f"SliceViewer {args.size} px, 256³ float32; open {open_ms:.0f} ms")
    print(f"{args.updates} updates; mean / max ms (CPU ms)")
    c = viewer.cursor()
    cases = (("set_cursor k (axial)", lambda n: viewer.set_cursor(c[0], c[1], (n * 7) % 256), 16),
             ("set_cursor i (sagittal)", lambda n: viewer.set_cursor((n * 7) % 256, c[1], c[2]),
              None),
             ("update_data (3 slices)", lambda n: viewer.update_data(data), None))
    for name, step, target in cases:
        mean, worst, cpu = time_steps(viewer, args.updates, step)
        mark = f"  (target ≤ {target} ms)" if target else ""
        print(f"{name:24s} {mean:7.2f} / {worst:6.2f} ({cpu:5.2f}){mark}")
    viewer.close()
    app.quit()


if __name__ == "__main__":
    main()
