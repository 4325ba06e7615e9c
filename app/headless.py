"""Headless rendering for the CLI: ``screenshot`` (PNG), ``export`` (MP4/GIF) and
``results`` (every array of the lab's result as ``.npz``)."""
from __future__ import annotations

import dataclasses
import os
import sys
import traceback
from pathlib import Path

from app.application import configure_torch, create_application, headless_platform


def parse_overrides(pairs, cls=None) -> dict:
    """``["dim=3", "method=gd"]`` → ``{"dim": 3, "method": "gd"}``.

    Without ``cls`` values are JSON where they parse, else text. With the config class
    ``cls`` each value is read as its field's type: text fields take the text as it is
    (``widths=8``), tuple fields a JSON array or a comma list (``widths=4,8``), numbers and
    booleans their usual spellings; :func:`engine.core.config_from_dict` then checks them.
    Raises ``ValueError`` (one line) on a malformed pair or value.
    """
    fields = {} if cls is None else {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set expects FIELD=VALUE, got {pair!r}")
        field = fields.get(key)
        out[key] = _json_or_text(key, value) if field is None else _typed_value(field, value)
    return out


def _json_or_text(key: str, text: str):
    """A JSON value (within the session limits), else the text itself."""
    from app.session_files import parse_json
    from app.session import SessionError
    try:
        return parse_json(text)
    except SessionError as err:
        if "not valid JSON" in str(err):
            return text
        raise ValueError(f"--set {key}: {err}") from None


def _typed_value(field, text: str):
    """``text`` read as the type of config field ``field`` (see :func:`parse_overrides`)."""
    default, stripped = field.default, text.strip()
    if isinstance(default, bool):
        words = {"true": True, "1": True, "yes": True, "on": True,
                 "false": False, "0": False, "no": False, "off": False}
        return words.get(stripped.lower(), text)
    if isinstance(default, str):
        if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
            value = _json_or_text(field.name, stripped)
            return value if isinstance(value, str) else text
        return text
    if isinstance(default, tuple):
        if stripped.startswith("["):
            return _json_or_text(field.name, stripped)
        return [_number_or_text(v.strip()) for v in stripped.split(",") if v.strip()]
    return stripped          # numbers: config_from_dict reads numeric text


def _number_or_text(text: str):
    try:
        return int(text) if len(text) <= 40 else text
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def apply_overrides(win, overrides) -> None:
    """Set config fields on the current lab's panel (ValueError names a bad field/range).

    ``overrides``: ``FIELD=VALUE`` texts (read with the config's field types) or a dict."""
    from engine.core import config_from_dict, config_to_dict
    if not overrides:
        return
    panel = win.slot.panel
    cls = type(panel.config())
    if not isinstance(overrides, dict):
        overrides = parse_overrides(overrides, cls)
    unknown = set(overrides) - set(config_to_dict(panel.config()))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))} for {cls.__name__}")
    panel.set_config(config_from_dict(cls, {**config_to_dict(panel.config()), **overrides}))


def check_out_path(out: str) -> Path:
    """The ``--out`` file: ValueError when it is a folder or its folder does not exist."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name")
    if not path.parent.is_dir():
        raise ValueError(f"--out {out}: folder {path.parent} does not exist")
    return path


def parse_size(size: str) -> tuple[int, int]:
    """``"1600x1000"`` → ``(1600, 1000)``; ValueError unless both lie in 100..8000."""
    width, sep, height = str(size).lower().partition("x")
    if not (sep and width.strip().isdigit() and height.strip().isdigit()) \
            or not all(100 <= int(v) <= 8000 for v in (width, height)):
        raise ValueError(f"--size {size!r}: expected WIDTHxHEIGHT, each 100..8000 pixels")
    return int(width), int(height)


def build_window(lab: str, preset, device, size: str, overrides=None):
    """A window with the lab shown, its preset applied, its run finished (synchronously)."""
    from app.main_window import MainWindow
    from app.runner import run_sync
    from app.gui import device_choices
    win = MainWindow(session=None, autosave_path=None, devices=device_choices(), auto_run=False)
    width, height = parse_size(size)
    win.resize(width, height)
    win.switch_lab(lab)
    if device:
        idx = win.device_box.findData(device)
        if idx < 0:
            raise ValueError(f"device {device!r} is not available")
        win.device_box.setCurrentIndex(idx)
    if preset:
        win.apply_preset(preset, run=False)
    apply_overrides(win, overrides)
    presenter = win.slot.presenter
    result = run_sync(presenter.make_run(win.slot.panel.config(), win.device))
    presenter.show_result(result)
    win.slot.has_result = True                 # no "press Run" hint over a finished result
    win.last_results[lab] = result
    win._sync_playback()
    win.show_message(presenter.result_summary(result))
    win.run_hint.setVisible(False)
    win.progress.setValue(win.progress.maximum())
    win.progress.setFormat("done")
    win.show()
    _settle()
    return win


def _settle() -> None:
    from PySide6.QtWidgets import QApplication
    import time
    for _ in range(5):
        QApplication.processEvents()
        time.sleep(0.02)


def render(command: str, args) -> int:
    """Run ``command`` headless; every failure is one ``error: …`` line and exit status 2
    (``FLOWSCOPE_DEBUG=1`` adds the traceback)."""
    try:
        check_out_path(args.out)
        parse_size(args.size)
    except ValueError as err:
        return _fail(err)
    headless_platform()
    app = create_application()
    configure_torch()
    try:
        win = build_window(args.lab, args.preset, args.device, args.size, args.set)
    except Exception as err:  # noqa: BLE001 - one clear line, never a traceback
        return _fail(err)
    try:
        return _write(command, win, args)
    except Exception as err:  # noqa: BLE001
        return _fail(err)
    finally:
        win.shutdown()
        win.close()
        app.processEvents()


def _write(command: str, win, args) -> int:
    from app import export, menus
    if command == "screenshot":
        export.save_widget_png(win, args.out)
    elif command == "results":
        from app.results_export import results_meta, write_results
        result = win.last_results[win.current]
        print(write_results(args.out, result, results_meta(win, result)))
        return 0
    else:
        win.slot.presenter.set_presentation(False)
        if not menus.write_movie(win.slot.presenter, args.out, fps=args.fps):
            return _fail("export failed")
    print(f"wrote {args.out}")
    return 0


def _fail(err) -> int:
    """Print ``error: <one line>`` (the traceback only with ``FLOWSCOPE_DEBUG``); return 2."""
    if isinstance(err, BaseException) and os.environ.get("FLOWSCOPE_DEBUG"):
        traceback.print_exception(err)
    if isinstance(err, OSError) and err.filename:
        text = f"{err.filename}: {err.strerror or err}"
    elif isinstance(err, (ValueError, str)):
        text = str(err)
    else:
        text = f"{type(err).__name__}: {err}"
    line = " ".join(text.split()) or type(err).__name__
    print(f"error: {line[:500]}", file=sys.stderr)
    return 2
