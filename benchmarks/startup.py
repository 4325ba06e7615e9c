"""Start-up time of the GUI (issue #16): process start → main window shown, and → the first
lab loaded, for this checkout against a baseline commit measured in the same run.

Each launch runs ``main.py`` (no arguments: the GUI) in a fresh process under
``QT_QPA_PLATFORM=offscreen`` with an empty user folder. The probe is outside the app: it wraps
``QApplication.exec`` to install an event filter that notes the first paint of the main window
("shown"), then polls until the window has its labs (``MainWindow.slots``: "loaded"; at once for
a window that builds them before showing), prints both and exits. So the baseline needs no hook.
The first launch of each tree is the cold(er) file cache; the median of the others is warm.

Run::

    .venv/bin/python benchmarks/startup.py [--baseline cd10058] [--launches 4]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Runs in the launched process: ``main.py`` with a probe on the first paint of the window.
PROBE = r"""
import os, sys, time
T0 = float(os.environ["FLOWSCOPE_PROBE_T0"])
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

class Probe(QObject):
    shown = None
    def eventFilter(self, obj, event):
        if self.shown is None and event.type() == QEvent.Type.Paint \
                and isinstance(obj, QMainWindow):
            self.shown = time.time() - T0
            self.win = obj
            self.poll = QTimer(self, interval=5, timeout=self.loaded)
            self.poll.start()
        return False
    def loaded(self):
        if getattr(self.win, "slots", None):
            print(f"PROBE shown={self.shown:.3f} loaded={time.time() - T0:.3f}", flush=True)
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


def launch(tree: Path, home: Path) -> tuple[float, float]:
    """(seconds to the window shown, seconds to the first lab loaded) of one launch."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FLOWSCOPE_HOME": str(home),
           "PYTHONPATH": str(tree), "FLOWSCOPE_PROBE_T0": repr(time.time())}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=tree, env=env, timeout=300,
                         capture_output=True, text=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("PROBE")), None)
    if line is None:
        raise RuntimeError(f"no window in {tree}:\n{out.stderr[-2000:]}")
    fields = dict(item.split("=") for item in line.split()[1:])
    return float(fields["shown"]), float(fields["loaded"])


def export_tree(ref: str, where: Path) -> Path:
    """The files of commit ``ref`` of this repository under ``where``."""
    archive = where / "base.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), ref], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(where / "base", filter="data")
    return where / "base"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="cd10058",
                    help="commit to compare with (default: main before issue #16)")
    ap.add_argument("--launches", type=int, default=4, help="launches per tree")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"baseline": export_tree(args.baseline, Path(tmp)), "now": ROOT}
        times = {name: [] for name in trees}
        for i in range(args.launches):            # interleaved: a busy machine hits both
            for name, tree in trees.items():
                times[name].append(launch(tree, Path(tmp) / f"home-{name}-{i}"))
    for what, k in (("window shown", 0), ("first lab loaded", 1)):
        cold = {n: t[0][k] for n, t in times.items()}
        warm = {n: statistics.median(x[k] for x in t[1:] or t) for n, t in times.items()}
        print(f"{what:17s} first launch: {cold['baseline']:.2f} s → {cold['now']:.2f} s "
              f"({cold['baseline'] / cold['now']:.2f}×); warm median: {warm['baseline']:.2f} s "
              f"→ {warm['now']:.2f} s ({warm['baseline'] / warm['now']:.2f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
