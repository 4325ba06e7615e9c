"""Frame-draw benchmark of the diffusion-paths particle view (ParticleCanvas).

Synthetic data: S = 100 recorded steps of N = 20 000 particles (fake VP path to a Gaussian
mixture), 20 highlighted particles (trails up to 100 steps) and a 200 × 200 noised-prior
density per step. One timed frame = ``set_density`` + ``set_frame`` + a full draw; frames
0 … 99 in order, so the trails grow to their full length. Target (issue #16): ≥ 30 frames/s
at 1×, i.e. ≤ 33 ms per frame; each line prints the frame rate.

Two ways of forcing the draw are timed:

* ``render``: ``canvas.render()`` — off-screen draw plus read-back of the pixels (an upper
  bound: the read-back is not needed on screen);
* ``paint``: ``canvas.update()`` then ``processEvents()`` — the on-screen path (one draw per
  frame, plus Qt's composition of the GL widget into the window and the copy to the X server).

Figures: wall-clock mean / max, and the process CPU time per frame (llvmpipe's render threads
belong to this process), which is the steadier number on a shared, loaded machine.

Run under a display with GL (the benchmark exits with a message otherwise)::

    xvfb-run -a .venv/bin/python benchmarks/particle_draw.py [--frames 100] [--size 800x700]
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
from widgets.particle_canvas import ParticleCanvas  # noqa: E402
from widgets.particle_demo import XLIM, YLIM, noised_densities, synthetic_diffusion  # noqa: E402


def time_frames(view, x_frames, dens, n_calls, draw):
    """Mean / max wall-clock ms and mean process-CPU ms of one full frame.

    Parameters
    ----------
    view : ParticleCanvas
        Shown canvas holding the recording.
    x_frames : int
        Number of recorded steps.
    dens : ndarray, shape (S, ry, rx)
        Density per step.
    n_calls : int
        Number of timed frames.
    draw : callable
        Forces the draw, called with ``view``.

    Returns
    -------
    mean_ms, max_ms, cpu_ms : float
    """
    app = QApplication.instance()
    for i in range(3):                                  # warm-up: shaders, atlases, buffers
        view.set_density(dens[i], XLIM, YLIM)
        view.set_frame(i)
        draw(view)
    app.processEvents()
    times, cpu0 = [], time.process_time()
    for k in range(n_calls):
        i = k % x_frames
        t0 = time.perf_counter()
        view.set_density(dens[i], XLIM, YLIM)
        view.set_frame(i)
        draw(view)
        times.append(time.perf_counter() - t0)
    cpu_ms = 1e3 * (time.process_time() - cpu0) / n_calls
    times = 1e3 * np.asarray(times)
    return float(times.mean()), float(times.max()), cpu_ms


def _paint(view):
    """On-screen draw: schedule a repaint and let Qt run it."""
    view.canvas.update()
    QApplication.instance().processEvents()


def time_update_only(view, x_frames, dens, n_calls):
    """Mean ms of ``set_density`` + ``set_frame`` alone (CPU side, no draw)."""
    t0 = time.perf_counter()
    for k in range(n_calls):
        view.set_density(dens[k % x_frames], XLIM, YLIM)
        view.set_frame(k % x_frames)
    return 1e3 * (time.perf_counter() - t0) / n_calls


def main(argv=None):
    """Build the data, run each case and print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="timed frames")
    parser.add_argument("--size", default="800x700", help="widget size WxH")
    parser.add_argument("-n", "--particles", type=int, default=20000)
    parser.add_argument("--res", type=int, default=200, help="density grid resolution")
    args = parser.parse_args(argv)
    size = tuple(int(s) for s in args.size.split("x"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    if not opengl_available():
        print(f"no OpenGL on Qt platform {app.platformName()!r}: run under xvfb-run")
        return
    data = synthetic_diffusion(100, args.particles, seed=0, tweedie=False)
    dens = noised_densities(data["mixture"], data["alpha_bar"], res=args.res)
    view = ParticleCanvas()
    view.resize(*size)
    view.show()
    view.set_range(XLIM, YLIM)
    view.set_particles(data["x"], highlight=np.linspace(0, args.particles - 1, 20).astype(int))
    app.processEvents()
    print(f"platform={app.platformName()} S=100 N={args.particles} highlighted=20 "
          f"density={args.res}x{args.res} canvas={view.canvas.size} frames={args.frames}")
    print(f"{'set_density + set_frame only':34s} mean "
          f"{time_update_only(view, 100, dens, args.frames):6.1f} ms/frame")
    for name, draw in (("... + draw via canvas.render()", lambda v: v.render()),
                       ("... + draw on screen (processEvents)", _paint)):
        mean, worst, cpu = time_frames(view, 100, dens, args.frames, draw)
        print(f"{name:34s} mean {mean:6.1f} ms/frame  max {worst:6.1f} ms  cpu {cpu:6.1f} ms"
              f"  = {1e3 / mean:5.1f} fps wall, {1e3 / max(cpu, 1e-3):5.1f} fps cpu-bound")
    print(f"target ≥ 30 fps (≤ 33 ms/frame); load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")
    view.close()


if __name__ == "__main__":
    main()
