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


def headless(cfg: RegionsConfig) -> tuple[float, list]:
    """Wall time of the engine run alone and its ``(elapsed, fraction)`` reports."""
    reports, start = [], time.perf_counter()
    for p in run_config(cfg):
        reports.append((time.perf_counter() - start, p.fraction))
    return time.perf_counter() - start, reports


def gui(preset: str, changes: dict, live: bool = True) -> tuple[float, list]:
    """Wall time of the preset run in a shown main window, until its result is drawn
    (``live=False``: the stages are not drawn, to separate drawing from the rest)."""
    from PySide6.QtCore import QEventLoop

    from app.main_window import MainWindow
    win = MainWindow(session=None, autosave_path=None, devices=[("cpu", "CPU")],
                     auto_run=False)
    win.show()
    win.switch_lab("regions")
    if not live:
        win.runner.sigPartial.disconnect()
    loop, reports = QEventLoop(), []
    win.runner.sigFinished.connect(lambda *_: loop.quit())
    win.runner.sigFailed.connect(lambda *_: loop.quit())
    start = time.perf_counter()
    win.runner.sigProgress.connect(
        lambda f, _m: reports.append((time.perf_counter() - start, f)))
    win.apply_preset(preset, run=not changes)
    if changes:
        win.edit_config(changes)            # the preset with the overrides (auto-run is off)
        win.run()
    loop.exec()
    create_application().processEvents()            # the result drawn
    seconds = time.perf_counter() - start
    win.shutdown()
    win.close()
    return seconds, reports


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="sgd-vs-convex-spiral")
    parser.add_argument("--steps", type=int, help="override the preset's steps")
    parser.add_argument("--snapshots", type=int, help="override the preset's snapshots")
    parser.add_argument("--no-live", action="store_true", help="also a GUI run without "
                        "drawing the stages (what drawing costs)")
    args = parser.parse_args(argv)
    changes = {k: v for k, v in (("steps", args.steps), ("snapshots", args.snapshots))
               if v is not None}
    create_application()
    configure_torch()                                 # as the app does: cores − 1 threads
    config = json.loads(PRESETS.read_text())[args.preset]["config"]
    cfg = config_from_dict(RegionsConfig, {**config, **changes})
    print(f"regions preset {args.preset!r} {changes or ''}, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")
    t_head, r_head = headless(cfg)
    t_gui, r_gui = gui(args.preset, changes)
    overhead = t_gui / t_head - 1.0
    print(f"{'run':<14}{'seconds':>9}{'max |reported − real| fraction':>34}", flush=True)
    print(f"{'headless':<14}{t_head:9.2f}{fraction_gap(r_head, t_head):34.3f}")
    print(f"{'GUI':<14}{t_gui:9.2f}{fraction_gap(r_gui, t_gui):34.3f}", flush=True)
    if args.no_live:
        t_quiet, r_quiet = gui(args.preset, changes, live=False)
        print(f"{'GUI, no live':<14}{t_quiet:9.2f}{fraction_gap(r_quiet, t_quiet):34.3f}")
    ok = overhead <= TARGET_OVERHEAD
    print(f"{'PASS' if ok else 'FAIL'}: GUI costs {100 * overhead:+.0f} % over headless "
          f"(target ≤ {100 * TARGET_OVERHEAD:.0f} %; load average now {os.getloadavg()[0]:.1f})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
