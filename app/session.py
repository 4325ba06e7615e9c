"""Sessions as plain JSON: the current lab, the device and every lab's config.

Format (version 1)::

    {"format": "flowscope-session", "version": 1, "current_lab": "gradient-flow",
     "device": "cpu",
     "labs": {"gradient-flow": {"config": {...}, "preset": null}}}

Each lab's ``config`` is :func:`engine.core.config_to_dict` of its frozen config (seeds are
config fields, so a session reproduces its runs). Files are written atomically. A corrupt
file is never overwritten: the autosave is renamed aside and the app opens defaults; a
user-opened corrupt session is only read, never written.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional, Union

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal

from engine.core import config_from_dict, config_to_dict

log = logging.getLogger(__name__)

FORMAT = "flowscope-session"
VERSION = 1
HOME_ENV = "FLOWSCOPE_HOME"

PathLike = Union[str, os.PathLike]


class SessionError(ValueError):
    """A session text or file that cannot be used (message says why)."""


@dataclasses.dataclass
class Session:
    """Everything needed to reopen the app where it was left.

    Attributes
    ----------
    current_lab : str
        Key of the lab shown in front.
    device : str
        Torch device runs go to (``"cpu"``, ``"cuda:0"``, ...).
    labs : dict
        Lab key → ``{"config": dict, "preset": str | None}``.
    """

    current_lab: str = ""
    device: str = "cpu"
    labs: dict[str, dict] = dataclasses.field(default_factory=dict)

    # -- lab entries ------------------------------------------------------------------------
    def set_lab(self, lab: str, config, preset: Optional[str] = None) -> None:
        """Store a lab's frozen config (as a plain dict) and its preset name."""
        self.labs[lab] = {"config": config_to_dict(config), "preset": preset}

    def lab_config(self, lab: str, cls) -> tuple[Any, Optional[str]]:
        """The stored config of ``lab`` as ``cls`` (defaults when absent or invalid).

        Returns ``(config, warning or None)``; see :func:`restore_config`.
        """
        entry = self.labs.get(lab)
        if entry is None:
            return cls(), None
        return restore_config(cls, entry.get("config", {}))

    # -- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON-ready dict (format and version first)."""
        return {"format": FORMAT, "version": VERSION, "current_lab": self.current_lab,
                "device": self.device,
                "labs": {k: {"config": dict(v.get("config", {})), "preset": v.get("preset")}
                         for k, v in self.labs.items()}}

    def to_json(self) -> str:
        """Indented JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> "Session":
        """Validate a parsed session; raises :class:`SessionError` naming the problem."""
        if not isinstance(data, dict):
            raise SessionError(f"expected a JSON object, got {_json_type(data)}")
        fmt = data.get("format")
        if fmt != FORMAT:
            raise SessionError(f"not a Flowscope session (format is {fmt!r}, "
                               f"expected {FORMAT!r})")
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise SessionError(f"'version' must be an integer, got {_json_type(version)}")
        if version != VERSION:
            raise SessionError(f"unsupported session version {version} "
                               f"(this Flowscope reads version {VERSION})")
        current = _typed(data, "current_lab", str, "")
        device = _typed(data, "device", str, "cpu")
        labs = _typed(data, "labs", dict, {})
        return cls(current_lab=current, device=device,
                   labs={str(k): _lab_entry(k, v) for k, v in labs.items()})

    @classmethod
    def from_json(cls, text: str) -> "Session":
        """Parse session JSON text; raises :class:`SessionError` with a clear reason."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SessionError(f"not valid JSON ({exc.msg} at line {exc.lineno}, "
                               f"column {exc.colno})") from None
        return cls.from_dict(data)

    # -- files ------------------------------------------------------------------------------
    def save(self, path: PathLike) -> None:
        """Write atomically: a temporary file in the same folder, then ``os.replace``."""
        atomic_write_text(Path(path), self.to_json())

    @classmethod
    def load(cls, path: PathLike) -> "Session":
        """Read a session file; :class:`SessionError` names the file and the reason."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SessionError(f"{path}: file not found") from None
        except UnicodeDecodeError:
            raise SessionError(f"{path}: not a text file (invalid UTF-8)") from None
        except OSError as exc:
            raise SessionError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        try:
            return cls.from_json(text)
        except SessionError as exc:
            raise SessionError(f"{path}: {exc}") from None


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _typed(data: dict, key: str, typ: type, default: Any) -> Any:
    """``data[key]`` checked against ``typ`` (``default`` when the key is absent)."""
    if key not in data:
        return default
    value = data[key]
    if not isinstance(value, typ):
        want = {str: "a string", dict: "an object"}[typ]
        raise SessionError(f"{key!r} must be {want}, got {_json_type(value)}")
    return value


def _lab_entry(lab: str, entry: Any) -> dict:
    """A validated ``{"config": dict, "preset": str | None}`` entry."""
    where = f"labs[{lab!r}]"
    if not isinstance(entry, dict):
        raise SessionError(f"{where} must be an object, got {_json_type(entry)}")
    config = entry.get("config", {})
    if not isinstance(config, dict):
        raise SessionError(f"{where}.config must be an object, got {_json_type(config)}")
    preset = entry.get("preset")
    if preset is not None and not isinstance(preset, str):
        raise SessionError(f"{where}.preset must be a string or null, "
                           f"got {_json_type(preset)}")
    return {"config": config, "preset": preset}


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


def restore_config(cls, data: Any) -> tuple[Any, Optional[str]]:
    """Build config ``cls`` from saved data, keeping every valid field; never raises.

    Fields whose saved value is invalid (wrong type, out of range, not a choice) are reset to
    their defaults one by one; the others keep their saved values. Unknown keys are ignored.

    Returns
    -------
    config : cls
        The restored config (``cls()`` defaults when ``data`` is not an object).
    warning : str or None
        Which fields were reset to defaults and why (None when the data was fine).
    """
    if isinstance(data, dict):
        data = {key: _as_tuples(value) for key, value in data.items()}
    try:
        return config_from_dict(cls, data), None
    except Exception as exc:  # noqa: BLE001 - a corrupt entry must still open
        if not isinstance(data, dict):
            return cls(), f"{cls.__name__}: saved settings are invalid ({exc}); using defaults"
    kept, reset = _restore_fields(cls, data)
    try:
        config = config_from_dict(cls, kept)
    except Exception as exc:  # noqa: BLE001 - fields valid alone but not together
        return cls(), f"{cls.__name__}: saved settings are invalid ({exc}); using defaults"
    reasons = "; ".join(f"{name} ({why})" for name, why in reset.items())
    log.warning("%s: fields reset to defaults: %s", cls.__name__, reasons)
    return config, f"{cls.__name__}: reset to defaults: {reasons}"


def _as_tuples(value: Any) -> Any:
    """JSON arrays back to the tuples a frozen config holds, at every depth (points saved as
    ``[[x, y, label], ...]`` compare equal to the ``((x, y, label), ...)`` they came from)."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(v) for v in value)
    return value


def _restore_fields(cls, data: dict) -> tuple[dict, dict[str, str]]:
    """Saved fields that are valid on top of the ones accepted so far, and the refused
    ones (field name → reason), tried in the config's field order."""
    names = [f.name for f in dataclasses.fields(cls) if f.name in data]
    kept: dict = {}
    reset: dict[str, str] = {}
    for name in names:
        try:
            config_from_dict(cls, {**kept, name: data[name]})
        except Exception as exc:  # noqa: BLE001 - any refusal resets this field
            reset[name] = str(exc)
            continue
        kept[name] = data[name]
    return kept, reset


# -- autosave -------------------------------------------------------------------------------
def autosave_path() -> Path:
    """The per-user autosave file.

    ``$FLOWSCOPE_HOME/autosave.json`` when that variable is set (tests, CI), else
    ``autosave.json`` in Qt's ``AppDataLocation``.
    """
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home) / "autosave.json"
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".flowscope") / "autosave.json"


def load_autosave(path: Optional[PathLike] = None) -> tuple[Optional[Session], Optional[str]]:
    """Read the autosave; a corrupt or foreign file is renamed aside, never overwritten.

    Returns
    -------
    session : Session or None
        None when there is no autosave or it could not be used (open defaults then).
    warning : str or None
        For the user: why it was not used and where the old file was kept.
    """
    path = Path(path) if path is not None else autosave_path()
    if not path.exists():
        return None, None
    try:
        return Session.load(path), None
    except SessionError as exc:
        reason = str(exc)
    try:
        aside = _aside_path(path)
        os.replace(path, aside)
    except OSError as exc:
        log.warning("Could not move corrupt autosave %s aside: %s", path, exc)
        return None, (f"The autosaved session could not be read ({reason}) nor moved "
                      f"aside ({exc.strerror or exc}). Default settings are used.")
    log.warning("Corrupt autosave moved to %s: %s", aside, reason)
    return None, (f"The autosaved session could not be read ({reason}). It was kept as "
                  f"{aside}; default settings are used.")


def _aside_path(path: Path) -> Path:
    """``<stem>.corrupt-<timestamp>.json`` next to ``path``, not yet taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.stem}.corrupt-{stamp}.json")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}.corrupt-{stamp}-{n}.json")
        n += 1
    return candidate


class Autosaver(QObject):
    """Saves the session shortly after it changes (debounced) and on :meth:`flush`.

    Parameters
    ----------
    get_session : callable
        Returns the current :class:`Session` (called on the GUI thread when saving).
    path : path-like, optional
        Target file (default :func:`autosave_path`).
    interval_ms : int
        Quiet time after the last :meth:`mark_dirty` before saving.
    """

    sigSaved = Signal(str)   # path
    sigError = Signal(str)   # message

    def __init__(self, get_session: Callable[[], Session], path: Optional[PathLike] = None,
                 interval_ms: int = 2000, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._get_session = get_session
        self.path = Path(path) if path is not None else autosave_path()
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(int(interval_ms))
        self._timer.timeout.connect(self.flush)

    def is_dirty(self) -> bool:
        """Whether changes wait to be saved."""
        return self._dirty

    def mark_dirty(self) -> None:
        """Note a change; the save happens ``interval_ms`` after the last one."""
        self._dirty = True
        self._timer.start()

    def flush(self) -> bool:
        """Save now if dirty; ``True`` when nothing is left unsaved. Never raises."""
        self._timer.stop()
        if not self._dirty:
            return True
        try:
            self._get_session().save(self.path)
        except Exception as exc:  # noqa: BLE001 - autosave must not break the app
            log.warning("Autosave to %s failed", self.path, exc_info=True)
            self.sigError.emit(f"Autosave to {self.path} failed: {exc}")
            return False
        self._dirty = False
        self.sigSaved.emit(str(self.path))
        return True
