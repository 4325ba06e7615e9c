"""Headless rendering for the CLI: ``screenshot`` (PNG), ``export`` (MP4/GIF) and
``results`` (every array of the lab's result as ``.npz``)."""
from __future__ import annotations

import sys

from app.application import configure_torch, create_application, headless_platform


def parse_overrides(pairs) -> dict:
    """``["dim=3", "method=gd"]`` → ``{"dim": 3, "method": "gd"}`` (JSON values, else str)."""
    import json
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--set expects FIELD=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def apply_overrides(win, overrides: dict) -> None:
    """Set config fields on the current lab's panel (ValueError names a bad field/range)."""
    from engine.core import config_from_dict, config_to_dict
    if not overrides:
        return
    panel = win.slot.panel
    cls = type(panel.config())
    unknown = set(overrides) - set(config_to_dict(panel.config()))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))} for {cls.__name__}")
    panel.set_config(config_from_dict(cls, {**config_to_dict(panel.config()), **overrides}))


def build_window(lab: str, preset, device, size: str, overrides=None):
    """A window with the lab shown, its preset applied, its run finished (synchronously)."""
    from app.main_window import MainWindow
    from app.runner import run_sync
    from app.gui import device_choices
    win = MainWindow(session=None, autosave_path=None, devices=device_choices(), auto_run=False)
    width, height = (int(v) for v in size.lower().split("x"))
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
    headless_platform()
    app = create_application()
    configure_torch()
    from app import export, menus
    try:
        win = build_window(args.lab, args.preset, args.device, args.size,
                           parse_overrides(args.set))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
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
                print("error: export failed", file=sys.stderr)
                return 1
        print(f"wrote {args.out}")
        return 0
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        win.shutdown()
        win.close()
        app.processEvents()
