"""Start-up time of the GUI (issue #16): process start → main window shown, → the first lab
loaded, and the time a switch to each other lab then takes, for this checkout against a
baseline commit (or several) measured in the same run.

Each launch runs ``main.py`` (no arguments: the GUI) in a fresh process under
``QT_QPA_PLATFORM=offscreen``, in two cases: a first launch ever (empty user folder) and a
relaunch (the user folder holds an autosave, as after any earlier session: its configs are
checked against every lab). The probe is outside the app: it wraps ``QApplication.exec`` to
install an event filter that notes the first paint of the main window ("shown"), then polls
every 5 ms until the window shows a lab (``MainWindow.slots`` and ``current``: "loaded"). The
largest gap between those polls after "shown" is the longest the GUI thread did not answer
while the lab loaded ("stall"). ``SETTLE`` seconds after "loaded" (a person looks at the first
lab), it switches to every other lab in turn and times each ``switch_lab`` plus the repaint.
The process CPU seconds at "loaded" are printed too (wall times swing on a shared machine).
The first launch of each tree is the cold(er) file cache; the median of the others is warm.

Run::

    .venv/bin/python benchmarks/startup.py [--baseline REF ...] [--launches 4] [--quick]
        [--settle 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTLE = 2.0
#: The autosave of a relaunch: fields every tree knows (session format 1).
AUTOSAVE = {"format": "flowscope-session", "version": 1, "current_lab": "gradient-flow",
            "device": "cpu", "labs": {"gradient-flow": {"config": {"dim": 2}, "preset": None}}}

#: Runs in the launched process: ``main.py`` with a probe on the first paint of the window.
PROBE = r"""
import os, sys, time, json, statistics
T0 = float(os.environ["FLOWSCOPE_PROBE_T0"])
SETTLE = float(os.environ["FLOWSCOPE_PROBE_SETTLE"])
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

class Probe(QObject):
    shown = None
    def eventFilter(self, obj, event):
        if self.shown is None and event.type() == QEvent.Type.Paint \
                and isinstance(obj, QMainWindow):
            self.shown = time.time() - T0
            self.win, self.last, self.stall = obj, time.perf_counter(), 0.0
            self.poll = QTimer(self, interval=5, timeout=self.loaded)
            self.poll.start()
        return False
    def loaded(self):
        now = time.perf_counter()
        self.stall, self.last = max(self.stall, now - self.last), now
        if getattr(self.win, "slots", None) and getattr(self.win, "current", None):
            self.poll.stop()
            self.at = dict(shown=self.shown, loaded=time.time() - T0, stall=self.stall,
                           cpu=time.process_time())
            QTimer.singleShot(int(SETTLE * 1000), self.switch)
    def switch(self):
        win, first, times = self.win, self.win.current, {}
        loader = getattr(win, "loader", None)          # trees with a background loader
        self.at["loader_busy"] = bool(loader is not None and loader.is_running())
        for name in [n for n in list(win.slots) if n != first] + [first]:
            t = time.perf_counter()
            win.switch_lab(name)
            win.repaint()
            times[name] = time.perf_counter() - t
        self.at.update(switch_max=max(times.values()), switches=times,
                       switch_median=statistics.median(times.values()))
        print("PROBE", json.dumps(self.at), flush=True)
        os._exit(0)

_exec = QApplication.exec
def exec_(self=None):
    app = QApplication.instance()
    app._probe = Probe()
    app.installEventFilter(app._probe)
    return _exec()
QApplication.exec = exec_
sys.argv = ["main.py"]
from app.cli import main
sys.exit(main())
"""
FIELDS = ("shown", "loaded", "stall", "cpu", "switch_max", "switch_median")


def launch(tree: Path, home: Path, relaunch: bool, settle: float = SETTLE) -> dict:
    """The probe's figures (seconds, see the module doc) of one launch of ``tree``."""
    home.mkdir(parents=True)
    if relaunch:
        (home / "autosave.json").write_text(json.dumps(AUTOSAVE), encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FLOWSCOPE_HOME": str(home),
           "PYTHONPATH": str(tree), "FLOWSCOPE_PROBE_T0": repr(time.time()),
           "FLOWSCOPE_PROBE_SETTLE": str(settle)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=tree, env=env, timeout=300,
                         capture_output=True, text=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("PROBE")), None)
    if line is None:
        raise RuntimeError(f"no window in {tree}:\n{out.stderr[-2000:]}")
    return json.loads(line.split(" ", 1)[1])


def export_tree(ref: str, where: Path) -> Path:
    """The files of commit ``ref`` of this repository under ``where``."""
    where.mkdir(parents=True)
    archive = where / "base.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), ref], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(where / "base", filter="data")
    return where / "base"


def report(case: str, times: dict) -> None:
    """One line per figure: each tree's first launch / warm median, the last tree ("now")
    last, with the ratio of every other tree's warm median to its own; then the warm median
    of each lab's switch per tree."""
    print(f"{case} (load average {os.getloadavg()[0]:.1f}; first launch / warm median):")
    for key, what in (("shown", "window shown"), ("loaded", "first lab loaded"),
                      ("cpu", "CPU s at loaded"), ("stall", "longest GUI stall"),
                      ("switch_median", "lab switch median"), ("switch_max", "lab switch max")):
        cold = {n: t[0][key] for n, t in times.items()}
        warm = {n: statistics.median(x[key] for x in t[1:] or t) for n, t in times.items()}
        cells = [f"{n} {cold[n]:.2f} / {warm[n]:.2f} s"
                 + ("" if n == "now" else f" ({warm[n] / max(warm['now'], 1e-9):.2f}×)")
                 for n in times]
        print(f"  {what:18s} " + " → ".join(cells))
    busy = sum(r.get("loader_busy", False) for r in times["now"])
    print(f"  engines still importing in the background at the first switch: {busy} of "
          f"{len(times['now'])} launches (now)")
    for name, runs in times.items():
        labs = runs[0]["switches"]
        each = {lab: statistics.median(r["switches"][lab] for r in runs[1:] or runs)
                for lab in labs}
        print(f"  switch to each lab, warm median, {name}: "
              + ", ".join(f"{lab} {t:.2f} s" for lab, t in each.items()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", action="append",
                    help="commit to compare with, repeatable (default: cd10058, main before "
                         "issue #16, and cbdbded, the window-first start-up before the lazy "
                         "labs)")
    ap.add_argument("--launches", type=int, default=4, help="launches per tree and case")
    ap.add_argument("--quick", action="store_true", help="2 launches per tree and case")
    ap.add_argument("--settle", type=float, default=SETTLE,
                    help=f"seconds from the first lab loaded to the switches (default {SETTLE})")
    args = ap.parse_args(argv)
    launches = 2 if args.quick else max(1, args.launches)
    with tempfile.TemporaryDirectory() as tmp:
        refs = args.baseline or ["cd10058", "cbdbded"]
        trees = {ref: export_tree(ref, Path(tmp) / ref) for ref in refs}
        trees["now"] = ROOT
        for case, relaunch in (("first launch ever", False), ("relaunch with an autosave", True)):
            times = {name: [] for name in trees}
            for i in range(launches):            # interleaved: a busy machine hits both
                for name, tree in trees.items():
                    home = Path(tmp) / f"home-{name}-{relaunch}-{i}"
                    times[name].append(launch(tree, home, relaunch, args.settle))
            report(case, times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
