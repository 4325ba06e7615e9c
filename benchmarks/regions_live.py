"""Live-view cost of the regions lab: the GUI run of a preset against the same run headless.

Issue #16: the spiral preset took ~50 s in the GUI and 9 s headless, and the progress bar
read 49 % at step 1911/3000. Target: the GUI run (main window shown, live stages drawn, the
progress bar updated) costs ≤ 10 % over ``drain(run_config(cfg))`` measured in the same
process (wall and CPU), and the reported fraction follows the real fraction of the run's
time within 5 points. Prints, per preset (all of ``regions.json`` by default), both times,
the process's and the GUI thread's CPU, the largest gap between the reported and the real
fraction (headless and GUI), the GUI/headless ratios and the load average (the machine may
be shared: a gap is against wall time, which the machine's other work skews).

Where the GUI's extra time went (2026-12, 2-core Xeon, load ≈ 1–9): torch's MKL kernels in
the app's worker thread ran an OpenMP team of one thread per core (``torch.set_num_threads``
is per thread in OpenMP) that spin-waited beside the GUI thread, and NumPy's OpenBLAS (one
thread per core) spin-waited in the region maps' small products; the worker now adopts the
process's torch count for both (``engine.core.device.adopt_torch_threads``; BLAS through
``threadpoolctl`` where installed). The progress fraction is
measured (``engine.regions.plan.TimedFraction``) on a per-stage cost model calibrated with
this machine's per-stage CPU seconds (one thread): training ≈ 0.38 + 0.10·depth ms per
step + 1.1e-5 ms · seeds·(width + 8)·n·depth; a 256² map of width 32 ≈ 10 ms (ids 2.5 ms,
output 6–11 ms, counts 0.3 ms); the convex program 0.2–0.7 s at n = 40 by data set.

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
import engine.regions.lab as lab  # noqa: E402

TARGET_OVERHEAD = 0.10
TARGET_GAP = 0.05
PRESETS = Path(__file__).resolve().parents[1] / "resources" / "presets" / "regions.json"


def fraction_gap(reports: list, total: float) -> float:
    """Largest ``|reported − elapsed/total|`` over ``(elapsed, fraction)`` reports."""
    return max((abs(f - t / total) for t, f in reports), default=0.0)


WORKER_REPORTS: list = []      # (worker-thread CPU seconds, fraction) of the last run
RUN_CONFIG = lab.run_config


def recording_run_config(cfg, device="cpu", data=None):
    """:func:`run_config` recording each report's worker-thread CPU time and fraction in
    :data:`WORKER_REPORTS` (the real fraction by the run's own CPU time: what the machine's
    other work does to the wall clock left out)."""
    WORKER_REPORTS.clear()
    gen, start = RUN_CONFIG(cfg, device, data), time.thread_time()
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            WORKER_REPORTS.append((time.thread_time() - start, 1.0))
            return stop.value
        WORKER_REPORTS.append((time.thread_time() - start, p.fraction))
        yield p


def cpu_gap() -> float:
    """:func:`fraction_gap` of :data:`WORKER_REPORTS` against the worker's CPU time."""
    return fraction_gap(WORKER_REPORTS, WORKER_REPORTS[-1][0]) if WORKER_REPORTS else 0.0


def headless(cfg: RegionsConfig) -> tuple:
    """Wall time of the engine run alone, its ``(elapsed, fraction)`` reports, its CPU time
    and 0 (no GUI thread)."""
    reports, start, cpu = [], time.perf_counter(), time.process_time()
    for p in recording_run_config(cfg):
        reports.append((time.perf_counter() - start, p.fraction))
    return time.perf_counter() - start, reports, time.process_time() - cpu, 0.0


def gui(preset: str, changes: dict, live: bool = True, gl_window: bool = False) -> tuple:
    """Wall time of the preset run in a shown main window, until its result is drawn
    (``live=False``: the stages are not drawn, to separate drawing from the rest), its
    ``(elapsed, fraction)`` reports, the process's CPU time and the GUI thread's.
    ``gl_window``: a 3-D view was shown first, so the window composites every repaint
    through OpenGL (as every window did before the GL canvases joined on first show)."""
    from app.main_window import MainWindow
    lab.run_config, original = recording_run_config, lab.run_config   # the registry's entry
    try:
        return _gui(preset, changes, live, gl_window, MainWindow)
    finally:
        lab.run_config = original


def _gui(preset, changes, live, gl_window, MainWindow) -> tuple:
    from PySide6.QtCore import QEventLoop

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


def timed(run, label: str) -> tuple:
    """Run ``run()`` (→ seconds, reports, CPU, GUI-thread CPU) and print its row: wall and
    CPU seconds (the process's, and the GUI thread's alone) and the progress fraction gap.
    Returns ``(seconds, CPU, gap)``."""
    seconds, reports, cpu, gui_cpu = run()
    gap = fraction_gap(reports, seconds)
    print(f"{label:<36}{seconds:9.2f}{cpu:8.2f}{gui_cpu:18.2f}{gap:12.3f}{cpu_gap():12.3f}"
          f"{os.getloadavg()[0]:7.1f}", flush=True)
    return seconds, cpu, cpu_gap(), gap


def preset_rows(preset: str, changes: dict, args) -> tuple:
    """Headless and GUI rows of one preset, ``repeat`` times alternating; returns the
    median GUI/headless wall and CPU ratios and the largest fraction gaps (by the worker's
    CPU time, by wall time)."""
    config = json.loads(PRESETS.read_text())[preset]["config"]
    cfg = config_from_dict(RegionsConfig, {**config, **changes})
    walls, cpus, gaps, wall_gaps = [], [], [], []
    for _ in range(max(1, args.repeat)):
        t_head, c_head, g_head, w_head = timed(lambda: headless(cfg), f"{preset} headless")
        t_gui, c_gui, g_gui, w_gui = timed(lambda: gui(preset, changes), f"{preset} GUI")
        walls.append(t_gui / t_head)
        cpus.append(c_gui / c_head)
        gaps += [g_head, g_gui]
        wall_gaps += [w_head, w_gui]
        if args.gl_window:
            timed(lambda: gui(preset, changes, gl_window=True), f"{preset} GUI, GL window")
        if args.no_live:
            timed(lambda: gui(preset, changes, live=False), f"{preset} GUI, no live")
    return (sorted(walls)[len(walls) // 2], sorted(cpus)[len(cpus) // 2], max(gaps),
            max(wall_gaps))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="all", help="a regions preset, or 'all'")
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
    presets = list(json.loads(PRESETS.read_text())) if args.preset == "all" else [args.preset]
    print(f"regions presets {', '.join(presets)} {changes or ''}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'run':<36}{'seconds':>9}{'CPU s':>8}{'GUI-thread CPU s':>18}{'|f − wall|':>12}"
          f"{'|f − CPU|':>12}{'load':>7}", flush=True)
    table = {p: preset_rows(p, changes, args) for p in presets}
    print(f"\n{'preset':<24}{'GUI/headless wall':>18}{'CPU':>8}{'max |f − real| by CPU':>23}"
          f"{'by wall':>9}")
    for p, (wall, cpu, gap, wall_gap) in table.items():
        print(f"{p:<24}{wall:18.2f}{cpu:8.2f}{gap:23.3f}{wall_gap:9.3f}")
    worst_ratio = max(max(w, c) for w, c, _, _ in table.values()) - 1.0
    worst_gap = max(g for _, _, g, _ in table.values())
    ok = worst_ratio <= TARGET_OVERHEAD and worst_gap <= TARGET_GAP
    print(f"{'PASS' if ok else 'FAIL'}: GUI costs at most {100 * worst_ratio:+.0f} % over "
          f"headless (target ≤ {100 * TARGET_OVERHEAD:.0f} %), the fraction is within "
          f"{100 * worst_gap:.1f} points of the run's CPU-time fraction (target ≤ {100 * TARGET_GAP:.0f}; "
          f"load average now {os.getloadavg()[0]:.1f})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
