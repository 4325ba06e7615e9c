"""Files and JSON text of sessions, safe against anything on disk (issue #17): size, depth
and digit limits, atomic writes, corrupt files set aside, orphan temporary files removed."""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("app.session")

MAX_BYTES = 16 * 2 ** 20      # largest session text (a few thousand drawn points are ~100 KB)
MAX_DEPTH = 16                # deepest JSON nesting (a session needs 5: labs/lab/config/rows)
ORPHAN_AGE_S = 10.0           # a temporary autosave file this old belongs to a killed write


class SessionError(ValueError):
    """A session text or file that cannot be used (message says why)."""


def parse_json(text: str) -> Any:
    """``json.loads`` of session-like text that raises only :class:`SessionError`: not JSON,
    over :data:`MAX_BYTES`, nested deeper than :data:`MAX_DEPTH`, or an integer longer than
    Python's int-digit limit (``sys.set_int_max_str_digits``)."""
    if len(text) > MAX_BYTES:
        raise SessionError(f"too large ({len(text)} characters, at most {MAX_BYTES})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SessionError(f"not valid JSON ({exc.msg} at line {exc.lineno}, "
                           f"column {exc.colno})") from None
    except RecursionError:
        raise SessionError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:          # e.g. "Exceeds the limit (4300 digits) ..."
        raise SessionError(f"not usable JSON ({str(exc).split(';')[0]})") from None
    if json_depth(data) > MAX_DEPTH:
        raise SessionError(f"nested deeper than {MAX_DEPTH} levels")
    return data


def json_depth(data: Any) -> int:
    """Nesting depth of parsed JSON (a scalar is 0), without recursion."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else \
            value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (same-folder temp file + ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def set_aside(path: Path, reason: str) -> str:
    """Rename an unreadable autosave aside; the message for the user."""
    try:
        aside = aside_path(path)
        os.replace(path, aside)
    except OSError as exc:
        log.warning("Could not move corrupt autosave %s aside: %s", path, exc)
        return (f"The autosaved session could not be read ({reason}) nor moved "
                f"aside ({exc.strerror or exc}). Default settings are used.")
    log.warning("Corrupt autosave moved to %s: %s", aside, reason)
    return (f"The autosaved session could not be read ({reason}). It was kept as "
            f"{aside}; default settings are used.")


def remove_orphan_temps(path: Path, min_age_s: float = ORPHAN_AGE_S) -> list[Path]:
    """Delete ``.<name>.*.tmp`` files beside ``path`` left by writes killed midway (older
    than ``min_age_s``, so a write going on in another instance is left alone)."""
    removed = []
    try:
        candidates = list(path.parent.glob(f".{path.name}.*.tmp"))
    except OSError:
        return removed
    now = time.time()
    for tmp in candidates:
        try:
            if now - tmp.stat().st_mtime >= min_age_s:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue
    if removed:
        log.info("Removed %d orphan autosave temporary file(s)", len(removed))
    return removed


def aside_path(path: Path) -> Path:
    """``<stem>.corrupt-<timestamp>.json`` next to ``path``, not yet taken."""
    return free_path(path, "corrupt")


def free_path(path: Path, tag: str) -> Path:
    """``<stem>.<tag>-<timestamp>[-n].json`` next to ``path``, not yet taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.stem}.{tag}-{stamp}.json")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}.{tag}-{stamp}-{n}.json")
        n += 1
    return candidate
