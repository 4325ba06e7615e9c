"""Frame-draw benchmark for the gradient-flow widgets.

Builds T = 400 frames of N = 1000 synthetic spiralling trajectories and times ``set_frame``
followed by ``QApplication.processEvents()`` (which runs the one repaint ``set_frame``
scheduled), i.e. the cost of one playback frame on screen. Target: ≥ 30 frames/s (≤ 33 ms per frame)
for the 2-D canvas with 50-frame trails; each line prints the wall-clock and the CPU-bound
frame rate.

Run under a display with GL::

    xvfb-run -a .venv/bin/python benchmarks/frame_draw.py [--frames 100] [--size 900x700]

TrajectoryView3D is measured only when ``widgets.gl.opengl_available()`` is True.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from widgets.gl import opengl_available  # noqa: E402
from widgets.phase_portrait import PhasePortrait  # noqa: E402
from widgets.trajectory_canvas import TrajectoryCanvas, synthetic_trajectories  # noqa: E402

TARGET_FPS = 30.0    # issue #16: playback at 1× of 1 000 trajectories under software GL


def time_frames(widget, n_calls, n_frames, draw=None):
    """Mean and max milliseconds of ``set_frame`` + processEvents (+ ``draw(widget)``).

    ``set_frame`` schedules one repaint and ``processEvents`` runs it, as a playback tick
    followed by the event loop does; ``draw`` (e.g. ``QWidget.grab``) would paint a second
    time, so the playback figures are taken without it.

    Parameters
    ----------
    widget : QWidget
        Widget with ``set_frame(i)``, already shown.
    n_calls, n_frames : int
        Number of timed calls; number of recorded frames to step through.
    draw : callable or None
        An extra forced draw per frame (off-screen render / grab), or None.

    Returns
    -------
    mean_ms, max_ms, cpu_ms : float
        Mean and worst wall-clock time, and mean CPU time of this process (a steadier
        figure on a loaded machine; the X server's share is not included).
    """
    app = QApplication.instance()
    draw = draw or (lambda _w: None)
    for i in range(5):  # warm-up: caches, atlases, first paint
        widget.set_frame(i)
        app.processEvents()
        draw(widget)
    times = []
    cpu0 = time.process_time()
    for k in range(n_calls):
        t0 = time.perf_counter()
        widget.set_frame((50 + 3 * k) % n_frames)
        app.processEvents()
        draw(widget)
        times.append(time.perf_counter() - t0)
    cpu_ms = 1e3 * (time.process_time() - cpu0) / n_calls
    times = 1e3 * np.asarray(times)
    return float(times.mean()), float(times.max()), cpu_ms


def bench_canvas(w, v, args, trail, colored):
    """Time the 2-D TrajectoryCanvas with the given trail length and colouring."""
    canvas = TrajectoryCanvas(trail_length=trail)
    canvas.resize(*args.size)
    canvas.show()
    canvas.set_trajectories(w[..., :2], v[:2])
    if colored:
        canvas.set_colors(np.linalg.norm(w[0], axis=1))
    result = time_frames(canvas, args.frames, w.shape[0])
    canvas.close()
    return result


def bench_phase(w, v, args):
    """Time the PhasePortrait (r, θ) view (it draws at most ~300 trajectories)."""
    r = np.linalg.norm(w, axis=2)
    cos = (w @ v) / np.maximum(r * np.linalg.norm(v), 1e-12)
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    view = PhasePortrait()
    view.resize(*args.size)
    view.show()
    view.set_trajectories(r, theta)
    result = time_frames(view, args.frames, w.shape[0])
    view.close()
    return result


def bench_view3d(w, v, args):
    """Time TrajectoryView3D: set_frame + processEvents, one on-screen draw (GL only)."""
    from widgets.trajectory_view3d import TrajectoryView3D

    view = TrajectoryView3D()
    view.resize(*args.size)
    view.show()
    view.set_trajectories(w, v)
    view.set_colors(np.linalg.norm(w[0], axis=1))
    result = time_frames(view, args.frames, w.shape[0])
    view.close()
    return result


def main(argv=None):
    """Parse options, run each benchmark and print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="timed set_frame calls")
    parser.add_argument("--size", default="900x700", help="widget size WxH")
    parser.add_argument("-n", "--trajectories", type=int, default=1000)
    args = parser.parse_args(argv)
    args.size = tuple(int(s) for s in args.size.split("x"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    w, v = synthetic_trajectories(400, args.trajectories, 3, seed=0)
    print(f"platform={app.platformName()} T=400 N={args.trajectories} "
          f"size={args.size[0]}x{args.size[1]} calls={args.frames}")
    cases = [("TrajectoryCanvas trail=50, one colour", lambda: bench_canvas(w, v, args, 50, False)),
             ("TrajectoryCanvas trail=50, viridis", lambda: bench_canvas(w, v, args, 50, True)),
             ("TrajectoryCanvas trail=10, viridis", lambda: bench_canvas(w, v, args, 10, True)),
             ("PhasePortrait trail=50", lambda: bench_phase(w, v, args))]
    if opengl_available():
        cases.append(("TrajectoryView3D trail=50", lambda: bench_view3d(w, v, args)))
    else:
        print("TrajectoryView3D: skipped (no OpenGL on this Qt platform)")
    for name, run in cases:
        mean, worst, cpu = run()
        print(f"{name:38s} mean {mean:6.1f} ms/frame  max {worst:6.1f} ms  cpu {cpu:6.1f} ms"
              f"  = {1e3 / mean:5.1f} fps wall, {1e3 / max(cpu, 1e-3):5.1f} fps cpu-bound")
    print(f"target ≥ {TARGET_FPS:g} fps (≤ {1e3 / TARGET_FPS:.1f} ms/frame); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall figures include waiting "
          "for the CPU; cpu-bound = this process's CPU time per frame)")


if __name__ == "__main__":
    main()
