"""The labs of the main window, each built the first time it is needed (issue #16).

:class:`LabSlots` maps every lab name to its :class:`app.window_slots.LabSlot`, building the
slot (presenter, panel, presets: the lab's engine and widgets) on first access. Starting the
window therefore builds one lab, not six; switching to another lab builds that one
(a few tenths of a second once its modules are imported, see :mod:`app.window_loader`).
A lab never built keeps its session entry as it was read, so saving a session loses nothing.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Callable, Optional

from app.registry import IMPORT_LOCK
from app.session import restore_config
from app.window_slots import LabSlot
from engine.core.config import config_to_dict

__all__ = ["IMPORT_LOCK", "LabSlots"]     # IMPORT_LOCK: app.registry's



class LabSlots(Mapping):
    """Lab name → :class:`LabSlot`, built on first access.

    Iteration, ``len`` and ``in`` cover every lab and build nothing; ``slots[name]``,
    ``get``, ``values`` and ``items`` build the labs they return. :meth:`built` gives only
    the labs built so far (saving, shutting down, presentation mode use it).

    Parameters
    ----------
    specs : dict, optional
        Lab name → ``app.registry.LabSpec``, in the order the switcher lists them.
    entries : dict, optional
        Lab name → session entry (``config``, ``preset``) restored when the lab is built.
    on_built : callable, optional
        ``on_built(name, slot)`` once per lab, right after it is built (the window adds its
        view and panel and wires its signals).
    """

    def __init__(self, specs: Optional[dict] = None, entries: Optional[dict] = None,
                 on_built: Optional[Callable] = None):
        self._specs = dict(specs or {})
        entries = entries if isinstance(entries, dict) else {}
        self._entries = {name: entry for name, entry in entries.items()
                         if name in self._specs and isinstance(entry, dict)}
        self._built: dict[str, LabSlot] = {}
        self._on_built = on_built

    def __getitem__(self, name: str) -> LabSlot:
        slot = self._built.get(name)
        if slot is None:
            spec = self._specs[name]             # KeyError for a name that is no lab
            with IMPORT_LOCK:
                slot = LabSlot(spec, self._entries.pop(name, {}))
            self._built[name] = slot
            if self._on_built is not None:
                self._on_built(name, slot)
        return slot

    def __iter__(self):
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name) -> bool:
        return name in self._specs

    def built(self) -> dict[str, LabSlot]:
        """The labs built so far, in the order they were built (builds nothing)."""
        return dict(self._built)

    def is_built(self, name: str) -> bool:
        return name in self._built

    def entry(self, name: str) -> dict:
        """The session entry of lab ``name``: its panel's config and preset once built, else
        the entry it was given (unchanged, possibly empty)."""
        slot = self._built.get(name)
        if slot is None:
            return dict(self._entries.get(name, {}))
        return {"config": config_to_dict(slot.panel.config()), "preset": slot.preset}

    def load(self, name: str, entry: dict) -> str:
        """Put a session ``entry`` in lab ``name``; the warning (fields reset) or ''.

        A lab not built keeps the entry for when it is built; its config is checked now
        (the config class only is imported), so the warning comes with the session."""
        entry = entry if isinstance(entry, dict) else {}
        slot = self._built.get(name)
        if slot is not None:
            return slot.load(entry)
        self._entries[name] = entry
        spec = self._specs[name]
        with IMPORT_LOCK:
            _config, warning = restore_config(spec.config_class(), entry.get("config", {}))
        return f"{spec.title}: {warning}" if warning else ""
