"""Playback frame rate in the main window, as a person sees it (issue #16).

Runs a lab in a shown :class:`app.main_window.MainWindow` (diffusion: N = 20 000 particles,
100 steps; gradient flow: 1 000 trajectories, 100 frames; ``--labs gradient-flow-3d``: the
same in d = 3, the vispy view), then plays it the way the playback
bar's 1× tick does: ``sigFrameChanged`` → the lab draws the frame → the event loop paints
the window. Prints the wall-clock and process-CPU milliseconds per frame (CPU time counts
llvmpipe's render threads; it is the steadier figure on a shared machine), the frame rate
and the split of the GUI thread's CPU time per frame: ``update`` (the presenter's
``set_frame``), ``gl`` (vispy scene draws), ``plots`` (pyqtgraph paints), ``other`` (Qt:
events, layout, composing the window); the rest of the process CPU is llvmpipe's threads.
Then it plays at 1× on the bar's own clock for a few seconds (the frames a person sees).
Target ≥ 30 frames/s at 1× under software GL.

A window holding a ``QOpenGLWidget`` is composed with OpenGL on every repaint, for every
lab, for good (~10 ms of llvmpipe CPU per frame at 1500×950, more wall time in the X server;
each row says whether the window was GL-composed, and each window's first line times a
progress-bar repaint). ``--gl`` names the ways vispy views are shown (``FLOWSCOPE_GL``,
:mod:`widgets.gl`), each measured in a new window of the same process: ``offscreen`` (scene
drawn into a framebuffer object, shown by a raster widget: the window never holds a GL
widget) and ``window`` (vispy's own QOpenGLWidget in the window). Gradient flow runs first
in each window, so its rows are those of a window before any 3-D view was shown.

Each lab is measured twice in the same process: ``before`` switches back to the drawing
paths replaced for issue #16 (GL points for the 2-D cloud, the heat map uploaded every
frame, antialiased trails stroked whole every frame, heads rebuilt with their brushes, one
tick = one frame, and the paths of the second pass below), ``after`` is the code as it is.
A ``start`` row comes first, from a child process of the same run: the code as it was at
the start of the second #16 playback pass. That pass turned Qt's GUI thread pool off (with
it, ``FLOWSCOPE_QT_POOL=1``, every raster fill of ≥ 96 spans — each 255-pixel flush of a
stroked curve — is split over pooled threads whose hand-offs cost more CPU than the fill;
Qt decides once per process, hence the child), moved the whole-history trails' cached part
from 20 000 to 4 000 points, and moves the 3-D activation plane by a transform instead of
a new mesh (which re-linked its shader every frame). ``--no-start`` skips the child.

Run under a display with GL::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/playback.py [--frames 60]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np  # noqa: E402

from app.application import configure_torch, create_application  # noqa: E402

TARGET_FPS = 30.0
SPLIT = ("update", "gl", "plots")
CASES = {"gradient-flow": {"n_init": 1000, "frames": 100},     # first: no GL view yet
         "diffusion": {"n_particles": 20000, "n_steps": 100},
         "gradient-flow-3d": {"n_init": 1000, "frames": 100, "dim": 3}}
DEFAULT_CASES = "gradient-flow,diffusion"


def lab_of(case: str) -> str:
    """The lab a case runs (``gradient-flow-3d``: the gradient-flow lab with d = 3)."""
    return case.removesuffix("-3d")


def shown_result(win, lab: str, changes: dict) -> None:
    """Run ``lab`` with ``changes`` in ``win`` and wait until its result is drawn."""
    from PySide6.QtCore import QEventLoop
    loop = QEventLoop()
    win.runner.sigFinished.connect(lambda *_: loop.quit())
    win.runner.sigFailed.connect(lambda message, _tag: (print(message), loop.quit()))
    lab = lab_of(lab)
    win.switch_lab(lab, run_if_empty=False)
    if win.current != lab:
        raise SystemExit(f"no lab {lab!r}: one of {', '.join(win.slots)}")
    win.edit_config(changes)
    win.run()
    loop.exec()
    create_application().processEvents()


def time_playback(win, n_calls: int) -> tuple[float, float, float]:
    """Mean / max wall ms and mean CPU ms of one 1× playback frame (tick → drawn)."""
    app, bar = create_application(), win.playback
    count = bar.frame_count()
    for i in range(3):                                    # warm-up: shaders, buffers
        bar._go(i)
        app.processEvents()
    times, cpu = [], time.process_time()
    for k in range(n_calls):
        start = time.perf_counter()
        bar._go(3 + k % (count - 3))                      # what the 1× tick does
        app.processEvents()                               # the repaint it scheduled
        times.append(time.perf_counter() - start)
    cpu_ms = 1e3 * (time.process_time() - cpu) / n_calls
    return 1e3 * sum(times) / n_calls, 1e3 * max(times), cpu_ms


def play_for(win, seconds: float) -> tuple[float, float]:
    """Play at 1× with the bar's own clock for ``seconds`` (looping): frames drawn per
    second, and CPU ms per drawn frame (throttled views included, as a person sees it)."""
    from PySide6.QtCore import QEventLoop, QTimer
    bar, frames = win.playback, []
    bar.set_speed(1.0)
    bar.set_loop(True)
    bar.sigFrameChanged.connect(frames.append)
    loop = QEventLoop()
    QTimer.singleShot(int(1000 * seconds), loop.quit)
    cpu = time.process_time()
    bar.play()
    loop.exec()
    bar.pause()
    cpu_ms = 1e3 * (time.process_time() - cpu) / max(1, len(frames))
    bar.sigFrameChanged.disconnect(frames.append)
    return len(frames) / seconds, cpu_ms


def baseline(on: bool) -> None:
    """Switch the drawing paths replaced for issue #16 back on (``True``) or off."""
    import app.labs.diffusion as diffusion
    import widgets.particle_canvas as particle_canvas
    import widgets.playback_bar as playback_bar
    import widgets.trajectory_layer as layer
    saved = SAVED.setdefault("values", {
        "splat": particle_canvas.SPLAT_N, "smooth": layer.SMOOTH_MAX,
        "settle": layer.SETTLE_POINTS, "heads": layer.TrailLayer._update_heads,
        "density": diffusion.DiffusionLab._show_density,
        "tick": playback_bar.PlaybackBar._tick})
    particle_canvas.SPLAT_N = 10 ** 12 if on else saved["splat"]
    layer.SMOOTH_MAX = 10 ** 12 if on else saved["smooth"]
    layer.SETTLE_POINTS = 10 ** 12 if on else saved["settle"]

    def rebuilt_heads(self, pos):
        self._heads_stale = True
        saved["heads"](self, pos)

    def density_every_frame(self, r, k):
        self._density_shown = None
        saved["density"](self, r, k)

    def one_frame_per_tick(self):
        if self._frame >= self._count - 1:
            return self._go(0) if self.loop() else self.pause()
        self._move(self._frame + 1)

    layer.TrailLayer._update_heads = rebuilt_heads if on else saved["heads"]
    diffusion.DiffusionLab._show_density = density_every_frame if on else saved["density"]
    playback_bar.PlaybackBar._tick = one_frame_per_tick if on else saved["tick"]


SAVED: dict = {}


ACC = dict.fromkeys(SPLIT, 0.0)


def install_timers() -> None:
    """Wrap vispy's scene draw, pyqtgraph's paint and every lab presenter's ``set_frame``
    with GUI-thread CPU clocks adding to ``ACC`` (before any widget exists: Qt binds a
    widget's Python overrides when it is created)."""
    import pyqtgraph as pg
    from vispy.scene import SceneCanvas
    from app.labs.diffusion import DiffusionLab
    from app.labs.gradient_flow import GradientFlowLab
    for cls, name, key in ((DiffusionLab, "set_frame", "update"),
                           (GradientFlowLab, "set_frame", "update"),
                           (SceneCanvas, "_draw_scene", "gl"),
                           (pg.GraphicsView, "paintEvent", "plots")):
        orig = cls.__dict__[name]

        def timed(self, *args, _orig=orig, _key=key, **kwargs):
            start = time.thread_time()
            try:
                return _orig(self, *args, **kwargs)
            finally:
                ACC[_key] += time.thread_time() - start
        setattr(cls, name, timed)


def measure(win, lab: str, frames: int, seconds: float) -> dict:
    """Timed frames (with the CPU split) and real-clock play of the shown result."""
    win.slot.presenter.show_result(win.slot.presenter.result)    # the switched paths apply
    create_application().processEvents()
    time_playback(win, 3)                                # warm-up, not in the split
    ACC.update(dict.fromkeys(SPLIT, 0.0))
    gui = time.thread_time()
    mean, worst, cpu = time_playback(win, frames)
    gui = 1e3 * (time.thread_time() - gui) / frames
    split = {k: 1e3 * ACC[k] / frames for k in SPLIT}
    split["other"] = max(gui - sum(split.values()), 0.0)
    split["threads"] = max(cpu - gui, 0.0)
    fps, play_cpu = play_for(win, seconds)
    from PySide6.QtOpenGLWidgets import QOpenGLWidget
    return {"gl_window": bool(win.findChildren(QOpenGLWidget)), "mean": mean, "max": worst, "cpu": cpu, "split": split, "fps": fps,
            "play_cpu": play_cpu}


def report(lab: str, mode: str, m: dict) -> None:
    """One benchmark row and its split."""
    split = "  ".join(f"{k} {v:5.1f}" for k, v in m["split"].items())
    split += f"  (window GL-composed: {'yes' if m['gl_window'] else 'no'})"
    print(f"{lab:<14} {mode:<6} mean {m['mean']:6.1f} ms/frame  max {m['max']:6.1f} ms  "
          f"cpu {m['cpu']:6.1f} ms = {1e3 / m['mean']:5.1f} fps wall, "
          f"{1e3 / max(m['cpu'], 1e-3):5.1f} fps cpu-bound\n{'':<21} cpu split (ms): {split}"
          f"\n{'':<21} played at 1×: {m['fps']:5.1f} frames/s drawn, cpu {m['play_cpu']:6.1f}"
          " ms per frame", flush=True)


def repaint_ms(win, n: int = 20) -> float:
    """Mean wall ms of one progress-bar change and the window repaint it causes."""
    app = create_application()
    start = time.perf_counter()
    for k in range(n):
        win.progress.setValue(k % 2)
        app.processEvents()
    return 1e3 * (time.perf_counter() - start) / n


def start_rows(args) -> None:
    """The ``start`` rows: this script in a child process with Qt's GUI thread pool on and
    this pass's drawing paths off (its output is printed here, before the other rows)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-start", "--labs", args.labs,
           "--gl", args.gl, "--frames", str(args.frames), "--seconds", str(args.seconds)]
    env = dict(os.environ, FLOWSCOPE_QT_POOL="1")
    env.pop("QT_NO_GUI_THREADPOOL", None)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    rows = [line for line in out.stdout.splitlines() if not line.startswith("target")]
    print("\n".join(rows) or out.stderr[-2000:], flush=True)


def session_start(on: bool) -> None:
    """Switch the drawing paths of the second #16 playback pass off (``True``) or on: whole
    trails live up to 20 000 points, and the 3-D activation plane given new vertices every
    frame (which re-links the Mesh shader: an llvmpipe compile per frame)."""
    import widgets.trajectory_layer as layer
    import widgets.trajectory_view3d as view3d
    saved = SAVED.setdefault("start", {"settle": layer.SETTLE_POINTS,
                                       "plane": view3d.TrajectoryView3D._update_highlight})
    layer.SETTLE_POINTS = 20_000 if on else saved["settle"]

    def plane_as_new_mesh(self):
        saved["plane"](self)
        w = self._highlight_w()
        if w is not None:
            verts, faces = view3d._plane_disc(w, 0.45 * self._extent)
            self.plane.transform.matrix = np.eye(4)
            self.plane.set_data(vertices=verts, faces=faces, color=view3d.rgba(
                view3d.HIGHLIGHT_COLOR, view3d.PLANE_ALPHA))

    view3d.TrajectoryView3D._update_highlight = plane_as_new_mesh if on else saved["plane"]


def play_in_new_window(gl: str, args, modes=("before", "after")) -> bool:
    """Measure every lab of ``args.labs`` in a new main window whose vispy views are shown
    the ``gl`` way (``FLOWSCOPE_GL``: offscreen or window); True when the last lab meets
    the target."""
    from app.main_window import MainWindow
    os.environ["FLOWSCOPE_GL"] = gl
    win = MainWindow(session=None, autosave_path=None, devices=[("cpu", "CPU")],
                     auto_run=False)
    win.resize(1500, 950)
    win.show()
    ok = True
    for lab in args.labs.split(","):
        shown_result(win, lab, CASES[lab])
        print(f"{lab} [FLOWSCOPE_GL={gl}]: {CASES[lab]}; a progress-bar repaint "
              f"{repaint_ms(win):.1f} ms", flush=True)
        for mode in modes:
            baseline(mode == "before")
            session_start(mode in ("before", "start"))
            m = measure(win, lab, args.frames, args.seconds)
            report(lab, mode, m)
        ok = 1e3 / max(m["cpu"], 1e-3) >= TARGET_FPS
    win.shutdown()
    win.close()
    create_application().processEvents()
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="timed frames per lab")
    parser.add_argument("--seconds", type=float, default=5.0, help="real-clock play time")
    parser.add_argument("--labs", default=DEFAULT_CASES,
                        help=f"comma-separated cases of {', '.join(CASES)}")
    parser.add_argument("--quick", action="store_true", help="30 frames, 2 s of play")
    parser.add_argument("--gl", default="offscreen,window",
                        help="FLOWSCOPE_GL modes, each in a new window (comma-separated)")
    parser.add_argument("--no-start", action="store_true",
                        help="skip the child process measuring the session-start code")
    parser.add_argument("--child-start", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.seconds = 30, 2.0
    app = create_application()
    configure_torch()
    from widgets.gl import opengl_available
    if not opengl_available():
        print(f"no OpenGL on Qt platform {app.platformName()!r}: run under xvfb-run")
        return 1
    install_timers()
    if args.child_start:
        for gl in args.gl.split(","):
            play_in_new_window(gl, args, modes=("start",))
        return 0
    if not args.no_start:
        start_rows(args)
    met = [play_in_new_window(gl, args) for gl in args.gl.split(",")]
    print(f"target ≥ {TARGET_FPS:g} fps at 1× (first GL mode); window 1500×950; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0 if met[0] else 1


if __name__ == "__main__":
    sys.exit(main())
