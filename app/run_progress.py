"""Progress-bar text of a run: percentage, elapsed time and an estimate of the time left.

The estimate is computed in the shell from the fraction the engine reports and the time since
the run started (no engine change): ``left = elapsed · (1 − f) / f``, a constant-rate
extrapolation. It is shown only once the fraction and the elapsed time are large enough for
it to mean something, so the first jumpy reports show the elapsed time alone.
"""
from __future__ import annotations

import math
import time
from typing import Optional

MIN_FRACTION = 0.02      # below this the rate is mostly start-up cost: no estimate yet
MIN_SECONDS = 1.0        # nor during the first second


def format_duration(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss`` from one hour on), seconds rounded down."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def time_left(fraction: float, elapsed: float) -> Optional[float]:
    """Seconds left at a constant rate, or None while the estimate is not meaningful."""
    if not (math.isfinite(fraction) and math.isfinite(elapsed)):
        return None
    if fraction < MIN_FRACTION or elapsed < MIN_SECONDS:
        return None
    return elapsed * (1.0 - min(fraction, 1.0)) / fraction


def progress_text(fraction: float, elapsed: float, message: str = "",
                  lab: str = "") -> str:
    """The progress bar's format string, e.g. ``"42%  0:12 elapsed, ~0:17 left  step 4/10"``.

    ``%p%`` is left for Qt to fill with the bar's percentage, so the number shown and the
    bar always agree; ``lab`` names a lab running in the background.
    """
    parts = [f"{lab}:" if lab else "", "%p%", f"{format_duration(elapsed)} elapsed"]
    left = time_left(fraction, elapsed)
    if left is not None:
        parts[-1] += f", ~{format_duration(left)} left"
    if message:
        parts.append(message)
    return "  ".join(p for p in parts if p)


class RunClock:
    """Start time of the current run and a throttle for progress-bar repaints."""

    def __init__(self, min_interval: float = 0.1):
        self.min_interval = min_interval
        self.started = time.monotonic()
        self._shown_at = -math.inf

    def restart(self) -> None:
        self.started = time.monotonic()
        self._shown_at = -math.inf

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def due(self) -> bool:
        """True at most every ``min_interval`` seconds (then the caller repaints)."""
        now = time.monotonic()
        if now - self._shown_at < self.min_interval:
            return False
        self._shown_at = now
        return True
