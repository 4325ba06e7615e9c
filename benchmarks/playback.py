"""Playback frame rate in the main window, as a person sees it (issue #16).

Runs a lab in a shown :class:`app.main_window.MainWindow` (diffusion: N = 20 000 particles,
100 steps; gradient flow: 1 000 trajectories, 100 frames), then plays it the way the playback
bar's 1× tick does: ``sigFrameChanged`` → the lab draws the frame → the event loop paints
the window. Prints the wall-clock and process-CPU milliseconds per frame (CPU time counts
llvmpipe's render threads; it is the steadier figure on a shared machine) and the frame rate,
then plays at 1× on the bar's own clock for a few seconds (the frames a person sees, with
the plot cursors following a few times a second); target ≥ 30 frames/s at 1× under
software GL.

Run under a display with GL::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/playback.py [--frames 60]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from app.application import configure_torch, create_application  # noqa: E402

TARGET_FPS = 30.0
CASES = {"diffusion": {"n_particles": 20000, "n_steps": 100},
         "gradient_flow": {"n_init": 1000, "frames": 100}}


def shown_result(win, lab: str, changes: dict) -> None:
    """Run ``lab`` with ``changes`` in ``win`` and wait until its result is drawn."""
    from PySide6.QtCore import QEventLoop
    loop = QEventLoop()
    win.runner.sigFinished.connect(lambda *_: loop.quit())
    win.runner.sigFailed.connect(lambda message, _tag: (print(message), loop.quit()))
    win.switch_lab(lab)
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="timed frames per lab")
    parser.add_argument("--seconds", type=float, default=5.0, help="real-clock play time")
    parser.add_argument("--labs", default=",".join(CASES), help="comma-separated labs")
    args = parser.parse_args(argv)
    app = create_application()
    configure_torch()
    from app.main_window import MainWindow
    from widgets.gl import opengl_available
    if not opengl_available():
        print(f"no OpenGL on Qt platform {app.platformName()!r}: run under xvfb-run")
        return 1
    win = MainWindow(session=None, autosave_path=None, devices=[("cpu", "CPU")],
                     auto_run=False)
    win.resize(1500, 950)
    win.show()
    ok = True
    for lab in args.labs.split(","):
        shown_result(win, lab, CASES[lab])
        mean, worst, cpu = time_playback(win, args.frames)
        ok &= 1e3 / max(cpu, 1e-3) >= TARGET_FPS
        print(f"{lab:<14} {CASES[lab]}: mean {mean:6.1f} ms/frame  max {worst:6.1f} ms  "
              f"cpu {cpu:6.1f} ms  = {1e3 / mean:5.1f} fps wall, "
              f"{1e3 / max(cpu, 1e-3):5.1f} fps cpu-bound", flush=True)
        fps, cpu = play_for(win, args.seconds)
        print(f"{'':<14} played at 1× for {args.seconds:g} s: {fps:5.1f} frames/s drawn, "
              f"cpu {cpu:6.1f} ms per frame", flush=True)
    print(f"target ≥ {TARGET_FPS:g} fps at 1×; window 1500×950; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    win.shutdown()
    win.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
