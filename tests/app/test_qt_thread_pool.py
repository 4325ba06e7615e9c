"""Qt's GUI thread pool is off in the app (issue #16 playback): a raster fill of ≥ 96 spans
(every 255-pixel flush of a stroked plot curve) is painted on the GUI thread, not split over
pooled threads whose hand-offs cost more CPU than the fill. Each case is a fresh process:
Qt decides once per process, at the first split fill."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAINT_THEN_LIST_THREADS = """
import os
from app.application import create_application
from PySide6.QtGui import QColor, QImage, QPainter
create_application(plotting=False)
image = QImage(400, 400, QImage.Format.Format_ARGB32_Premultiplied)
painter = QPainter(image)
painter.fillRect(0, 0, 400, 400, QColor(255, 255, 255, 100))   # 400 spans: a split fill
painter.end()
names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
print(sum(name == "Thread (pooled)" for name in names))
"""


def pooled_threads(**env) -> int:
    """Pooled Qt threads after one split fill, in a new process with ``env`` added."""
    full = {k: v for k, v in os.environ.items() if k != "QT_NO_GUI_THREADPOOL"}
    full.update(env, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", PAINT_THEN_LIST_THREADS], cwd=ROOT, env=full,
                         capture_output=True, text=True, timeout=60, check=True)
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_app_paints_without_qt_thread_pool():
    assert pooled_threads() == 0


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_flowscope_qt_pool_keeps_qt_default():
    assert pooled_threads(FLOWSCOPE_QT_POOL="1") >= 1
