"""Live-view cost of the regions lab: the GUI run of a preset against the same run headless.

Issue #16: the spiral preset took ~50 s in the GUI and 9 s headless, and the progress bar
read 49 % at step 1911/3000. Target: the GUI run (main window shown, live stages drawn, the
progress bar updated) costs ≤ 20 % over ``drain(run_config(cfg))`` measured in the same
process, and the reported fraction follows the real fraction of the run's time. Prints both
times, their ratio, the largest gap between the reported and the real fraction (headless
and GUI) and the load average (the machine may be shared).

Run under a display (software GL is fine)::

    xvfb-run -a .venv/bin/python benchmarks/regions_live.py [--preset sgd-vs-convex-spiral]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from app.application import configure_torch, create_application  # noqa: E402
from engine.core import config_from_dict  # noqa: E402
from engine.regions.config import RegionsConfig  # noqa: E402
from engine.regions.lab import run_config  # noqa: E402

TARGET_OVERHEAD = 0.20
PRESETS = Path(__file__).resolve().parents[1] / "resources" / "presets" / "regions.json"


def fraction_gap(reports: list, total: float) -> float:
    """Largest ``|reported − elapsed/total|`` over ``(elapsed, fraction)`` reports."""
    return max((abs(f - t / total) for t, f in reports), default=0.0)


def headless(cfg: RegionsConfig) -> tuple:
    """Wall time of the engine run alone, its ``(elapsed, fraction)`` reports, its CPU time
    and 0 (no GUI thread)."""
    reports, start, cpu = [], time.perf_counter(), time.process_time()
    for p in run_config(cfg):
        reports.append((time.perf_counter() - start, p.fraction))
    return time.perf_counter() - start, reports, time.process_time() - cpu, 0.0


def gui(preset: str, changes: dict, live: bool = True, gl_window: bool = False) -> tuple:
    """Wall time of the preset run in a shown main window, until its result is drawn
    (``live=False``: the stages are not drawn, to separate drawing from the rest), its
    ``(elapsed, fraction)`` reports, the process's CPU time and the GUI thread's.
    ``gl_window``: a 3-D view was shown first, so the window composites every repaint
    through OpenGL (as every window did before the GL canvases joined on first show)."""
    from PySide6.QtCore import QEventLoop

    from app.main_window import MainWindow
    win = MainWindow(session=None, autosave_path=None, devices=[("cpu", "CPU")],
                     auto_run=False)
    win.show()
    if gl_window:
        win.switch_lab("diffusion")
        create_application().processEvents()
    win.switch_lab("regions")
    if not live:
        win.runner.sigPartial.disconnect()
    loop, reports = QEventLoop(), []
    win.runner.sigFinished.connect(lambda *_: loop.quit())
    win.runner.sigFailed.connect(lambda *_: loop.quit())
    start, cpu, gui_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    win.runner.sigProgress.connect(
        lambda f, _m: reports.append((time.perf_counter() - start, f)))
    win.apply_preset(preset, run=not changes)
    if changes:
        win.edit_config(changes)            # the preset with the overrides (auto-run is off)
        win.run()
    loop.exec()
    create_application().processEvents()            # the result drawn
    seconds = time.perf_counter() - start
    cpu, gui_cpu = time.process_time() - cpu, time.thread_time() - gui_cpu
    win.shutdown()
    win.close()
    return seconds, reports, cpu, gui_cpu


def timed(run, label: str) -> tuple[float, list]:
    """Run ``run()`` (→ seconds, reports, CPU, GUI-thread CPU) and print its row: wall and
    CPU seconds (the process's, and the GUI thread's alone) and the progress fraction gap."""
    seconds, reports, cpu, gui_cpu = run()
    print(f"{label:<14}{seconds:9.2f}{cpu:8.2f}{gui_cpu:18.2f}"
          f"{fraction_gap(reports, seconds):34.3f}", flush=True)
    return seconds, reports


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="sgd-vs-convex-spiral")
    parser.add_argument("--steps", type=int, help="override the preset's steps")
    parser.add_argument("--snapshots", type=int, help="override the preset's snapshots")
    parser.add_argument("--no-live", action="store_true", help="also a GUI run without "
                        "drawing the stages (what drawing costs)")
    parser.add_argument("--gl-window", action="store_true", help="also a GUI run after "
                        "a 3-D view was shown (the window composited through OpenGL)")
    parser.add_argument("--repeat", type=int, default=1, help="alternate headless and GUI "
                        "runs this many times; the verdict is the median ratio")
    args = parser.parse_args(argv)
    changes = {k: v for k, v in (("steps", args.steps), ("snapshots", args.snapshots))
               if v is not None}
    create_application()
    configure_torch()                                 # as the app does: cores − 1 threads
    config = json.loads(PRESETS.read_text())[args.preset]["config"]
    cfg = config_from_dict(RegionsConfig, {**config, **changes})
    print(f"regions preset {args.preset!r} {changes or ''}, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")
    print(f"{'run':<14}{'seconds':>9}{'CPU s':>8}{'GUI-thread CPU s':>18}"
          f"{'max |reported − real| fraction':>34}", flush=True)
    ratios, gl_ratios = [], []
    for _ in range(max(1, args.repeat)):
        t_head, r_head = timed(lambda: headless(cfg), "headless")
        t_gui, _ = timed(lambda: gui(args.preset, changes), "GUI")
        ratios.append(t_gui / t_head)
        if args.gl_window:
            t_gl, _ = timed(lambda: gui(args.preset, changes, gl_window=True), "GUI, GL window")
            gl_ratios.append(t_gl / t_head)
        if args.no_live:
            timed(lambda: gui(args.preset, changes, live=False), "GUI, no live")
    overhead = sorted(ratios)[len(ratios) // 2] - 1.0
    ok = overhead <= TARGET_OVERHEAD
    print(f"GUI/headless ratios: {', '.join(f'{r:.2f}' for r in ratios)}")
    if gl_ratios:
        print(f"GUI with a GL-composited window / headless: "
              f"{', '.join(f'{r:.2f}' for r in gl_ratios)}")
    print(f"{'PASS' if ok else 'FAIL'}: GUI costs {100 * overhead:+.0f} % over headless (median; "
          f"target ≤ {100 * TARGET_OVERHEAD:.0f} %; load average now {os.getloadavg()[0]:.1f})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
