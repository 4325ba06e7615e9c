"""What the window remembers between starts: geometry, dock state and recent files (QSettings).

The GUI passes :func:`app_settings` (Qt's per-user store of organisation/application
"Flowscope"); tests pass a ``QSettings`` on an ini file in a temporary folder, and a window
made without settings (headless export, tests) remembers nothing.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QByteArray, QSettings

RECENT_LIMIT = 10
RECENT_KEY = "recent_files"


def app_settings() -> QSettings:
    """The user's settings store of the application (``FLOWSCOPE_HOME/settings.ini`` when
    that variable is set, as in CI)."""
    home = os.environ.get("FLOWSCOPE_HOME")
    if home:
        return QSettings(str(Path(home) / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings("Flowscope", "Flowscope")


def save_window(win, settings: Optional[QSettings]) -> None:
    """Store the window geometry and the dock/toolbar state."""
    if settings is None:
        return
    settings.setValue("window/geometry", win.saveGeometry())
    settings.setValue("window/state", win.saveState())
    settings.sync()


def restore_window(win, settings: Optional[QSettings]) -> bool:
    """Put back the stored geometry and dock state; False when nothing was stored."""
    if settings is None:
        return False
    geometry = settings.value("window/geometry")
    state = settings.value("window/state")
    restored = False
    if isinstance(geometry, (QByteArray, bytes)) and len(geometry):
        restored = bool(win.restoreGeometry(QByteArray(geometry)))
    if isinstance(state, (QByteArray, bytes)) and len(state):
        win.restoreState(QByteArray(state))
    return restored


def fit_to_screen(win, fraction: float = 0.95) -> None:
    """Shrink ``win`` to ``fraction`` of its screen's free area when it is larger (a first
    start on a 1280 × 720 screen must not put Run or the playback bar off-screen)."""
    screen = win.screen()
    if screen is None:
        return
    free = screen.availableGeometry()
    width = min(win.width(), max(win.minimumWidth(), int(free.width() * fraction)))
    height = min(win.height(), max(win.minimumHeight(), int(free.height() * fraction)))
    win.resize(width, height)


class RecentFiles:
    """Most recent first list of ``(path, kind)`` (kind: ``"session"`` or ``"volume"``),
    stored in ``settings`` when given. Paths that no longer exist are dropped when listed."""

    def __init__(self, settings: Optional[QSettings], limit: int = RECENT_LIMIT):
        self.settings = settings
        self.limit = limit
        self._items: list[tuple[str, str]] = self._load()
        self.on_change: Optional[Callable[[], None]] = None

    def _load(self) -> list[tuple[str, str]]:
        if self.settings is None:
            return []
        raw = self.settings.value(RECENT_KEY, [])
        raw = [raw] if isinstance(raw, str) else list(raw or [])
        items = []
        for entry in raw:
            kind, _, path = str(entry).partition("|")
            if path and kind in ("session", "volume"):
                items.append((path, kind))
        return items[: self.limit]

    def add(self, path, kind: str) -> None:
        """Put ``path`` first (once) and store the list."""
        path = str(Path(path).resolve())
        self._items = [(path, kind)] + [it for it in self._items if it[0] != path]
        self._items = self._items[: self.limit]
        if self.settings is not None:
            self.settings.setValue(RECENT_KEY, [f"{k}|{p}" for p, k in self._items])
            self.settings.sync()
        if self.on_change is not None:
            self.on_change()

    def items(self) -> list[tuple[str, str]]:
        """The recent files that still exist, most recent first."""
        return [(p, k) for p, k in self._items if os.path.exists(p)]
