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
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal

from app.session_files import (MAX_BYTES, SessionError, atomic_write_text,
                               free_path, parse_json, remove_orphan_temps, set_aside)
from engine.core import config_from_dict, config_to_dict

log = logging.getLogger(__name__)

FORMAT = "flowscope-session"
VERSION = 1
HOME_ENV = "FLOWSCOPE_HOME"
SAVE_DELAY_MS = 400           # an edit is on disk within this (plus the write)

PathLike = Union[str, os.PathLike]


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
        """Parse session JSON text; raises :class:`SessionError` with a clear reason (also
        for text over ``MAX_BYTES``, nesting deeper than ``MAX_DEPTH`` and integers
        longer than Python's digit limit) and nothing else."""
        return cls.from_dict(parse_json(text))

    # -- files ------------------------------------------------------------------------------
    def save(self, path: PathLike) -> None:
        """Write atomically: a temporary file in the same folder, then ``os.replace``."""
        atomic_write_text(Path(path), self.to_json())

    @classmethod
    def load(cls, path: PathLike) -> "Session":
        """Read a session file; :class:`SessionError` names the file and the reason."""
        path = Path(path)
        try:
            if path.stat().st_size > MAX_BYTES:
                raise SessionError(f"{path}: too large for a session "
                                   f"({path.stat().st_size} bytes, at most {MAX_BYTES})")
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
    try:
        if isinstance(data, dict):
            data = {key: _as_tuples(value) for key, value in data.items()}
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


def load_autosave(path: Optional[PathLike] = None,
                  config_classes: Optional[Mapping[str, type]] = None,
                  ) -> tuple[Optional[Session], Optional[str]]:
    """Read the autosave at start-up; never raises and never loses what was saved.

    Orphan temporary files of killed writes are removed first. A corrupt or foreign file
    is renamed aside (``autosave.corrupt-<time>.json``). When some saved config fields are
    invalid (they will be reset to defaults one by one, see :func:`restore_config`), the
    file as it was is copied to ``autosave.replaced-<time>.json`` before the app overwrites
    it, so the replaced values are kept.

    Parameters
    ----------
    path : path-like, optional
        Default :func:`autosave_path`.
    config_classes : mapping, optional
        Lab name → config class, to find invalid fields (default: every lab of
        ``app.registry.LABS``).

    Returns
    -------
    session : Session or None
        None when there is no autosave or it could not be used (open defaults then).
    warning : str or None
        For the user: what was set aside or copied, and where.
    """
    path = Path(path) if path is not None else autosave_path()
    remove_orphan_temps(path)
    if not path.exists():
        return None, None
    try:
        session = Session.load(path)
    except SessionError as exc:
        return None, set_aside(path, str(exc))
    try:
        invalid = invalid_labs(session, config_classes)
    except Exception:  # noqa: BLE001 - a lab that cannot load must not stop the start-up
        log.warning("Could not check the autosaved configs", exc_info=True)
        invalid = []
    if not invalid:
        return session, None
    copy = free_path(path, "replaced")
    try:
        shutil.copy2(path, copy)
    except OSError as exc:
        return session, (f"Invalid saved settings of {', '.join(invalid)} are reset to "
                         f"defaults; the autosave could not be copied ({exc.strerror or exc})")
    return session, (f"Invalid saved settings of {', '.join(invalid)} are reset to defaults; "
                     f"the autosave as it was is kept as {copy}.")


def invalid_labs(session: Session, config_classes: Optional[Mapping[str, type]] = None
                 ) -> list[str]:
    """Labs of ``session`` whose saved config has fields :func:`restore_config` resets."""
    if config_classes is None:
        from app.registry import LABS
        config_classes = {name: spec.config_class() for name, spec in LABS.items()}
    return [name for name, cls in config_classes.items()
            if name in session.labs and session.lab_config(name, cls)[1] is not None]


class Autosaver(QObject):
    """Saves the session at most ``interval_ms`` after it changes, and on :meth:`flush`.

    The first change starts the wait and later ones join it (a drag that edits for seconds
    is saved every ``interval_ms`` rather than only when it stops), so an edit is on disk
    within ``interval_ms`` plus the write. Orphan temporary files of killed writes are
    removed when the saver starts.

    Parameters
    ----------
    get_session : callable
        Returns the current :class:`Session` (called on the GUI thread when saving).
    path : path-like, optional
        Target file (default :func:`autosave_path`).
    interval_ms : int
        Longest wait from the first unsaved :meth:`mark_dirty` to the save.
    """

    sigSaved = Signal(str)   # path
    sigError = Signal(str)   # message

    def __init__(self, get_session: Callable[[], Session], path: Optional[PathLike] = None,
                 interval_ms: int = SAVE_DELAY_MS, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._get_session = get_session
        self.path = Path(path) if path is not None else autosave_path()
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(int(interval_ms))
        self._timer.timeout.connect(self.flush)
        remove_orphan_temps(self.path)

    def is_dirty(self) -> bool:
        """Whether changes wait to be saved."""
        return self._dirty

    def mark_dirty(self) -> None:
        """Note a change; the save happens at most ``interval_ms`` later."""
        self._dirty = True
        if not self._timer.isActive():
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
