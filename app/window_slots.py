"""One lab in the main window: its presenter, parameter panel and presets, and what a session
says of it (:class:`LabSlot`)."""
from __future__ import annotations

import logging
from typing import Optional

from app.session import restore_config
from widgets.parameter_panel import ParameterPanel

__all__ = ["LabSlot"]

log = logging.getLogger("app.main_window")


class LabSlot:
    """One lab in the window: its spec, presenter, panel and presets.

    Parameters
    ----------
    spec : app.registry.LabSpec
    entry : dict, optional
        The lab's session entry (``config``, ``preset``); the config's unknown or invalid
        fields fall back to their defaults, which :attr:`warning` tells.
    """

    def __init__(self, spec, entry: Optional[dict] = None):
        self.spec = spec
        entry = entry if isinstance(entry, dict) else {}
        config, self.warning = self._restored(entry)
        self.presenter = spec.load_presenter()(spec)
        self.panel = ParameterPanel(config)
        self.presenter.current_config = self.panel.config
        self.presets = spec.presets()
        self.preset = self._preset_of(entry)
        self.has_result = False      # a run of this lab finished since the window opened
        self.message = ""            # the newest status message of this lab
        self.ended = ""              # how its last run ended, for the progress bar

    def load(self, entry: dict) -> str:
        """Put a session ``entry``'s config and preset in this lab; the warning or ''."""
        config, warning = self._restored(entry)
        self.panel.set_config(config)
        self.preset = self._preset_of(entry)
        return warning

    def _restored(self, entry: dict):
        """The config of ``entry`` (defaults where it is off) and a warning (logged) or ''."""
        config, warning = restore_config(self.spec.config_class(), entry.get("config", {}))
        if warning:
            warning = f"{self.spec.title}: {warning}"
            log.warning("%s", warning)
        return config, warning or ""

    def _preset_of(self, entry: dict) -> Optional[str]:
        preset = entry.get("preset")
        return preset if preset in self.presets else None
