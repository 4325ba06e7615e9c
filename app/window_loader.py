"""Imports torch and the labs' engine modules on a background thread (issue #16).

The GUI thread shows the window at once and stays responsive (menus open, the window
repaints) while :class:`LabLoader` imports torch and the engine of the lab shown first; its
``sigReady`` then tells the GUI thread to build that lab, and the loader waits (its imports
would take the interpreter from the GUI thread) until :meth:`LabLoader.proceed`. Then it does
the autosave check (every lab's config class) and the engines of the other labs, so a later
switch only builds widgets. The loader only warms ``sys.modules``: whatever it has not
imported yet the GUI thread imports itself, so nothing depends on its timing.
Engine modules import no Qt (``tests/test_layering.py``), so they are safe off the GUI thread.
"""
from __future__ import annotations

import ctypes
import importlib
import importlib.util
import logging
import os
import sys
import threading
import time
from typing import Callable, Optional

from PySide6.QtCore import QObject, Signal

from app.registry import IMPORT_LOCK

__all__ = ["LabLoader", "engine_modules", "preload_torch_libraries"]

log = logging.getLogger(__name__)
PROCEED_TIMEOUT = 30.0    # seconds the loader waits for proceed() after sigReady at most
#: torch's largest shared libraries, in load order (Linux names; elsewhere nothing is preloaded)
TORCH_LIBRARIES = ("libc10.so", "libtorch_cpu.so")
#: libraries the engines import inside a run (a lab's first study, sweep table or volume
#: file; ``torch._dynamo``, ≈ 1 s with sympy: torch imports it at the first optimizer step of
#: every training), imported last: a first run then neither waits for them nor defers a
#: cancel while importing (the runner never interrupts an import: ``app.runner._importing``)
RUN_TIME_IMPORTS = ("pyarrow", "pandas", "nibabel", "torch._dynamo")


def preload_torch_libraries() -> None:
    """Load torch's largest shared libraries without importing torch (the loader thread
    calls it before ``import torch``).

    Loading ``libtorch_cpu`` (≈ 0.5 s: mapping it and running its static initialisers) is
    most of ``import torch._C``, and an extension-module import holds the interpreter lock
    all that time: the GUI thread would freeze. ``ctypes`` loads a library with the lock
    released; ``import torch`` then finds the libraries loaded (same files, ``RTLD_LOCAL``:
    no symbol is made global). Any failure only means torch loads them itself. Started
    before the window's first paint it would slow the window down on a busy machine, which
    is why the loader, not the launch, calls it.
    """
    if not sys.platform.startswith("linux") or "torch" in sys.modules:
        return
    try:
        spec = importlib.util.find_spec("torch")        # locates torch, runs none of it
        folder = os.path.join(os.path.dirname(spec.origin), "lib")
        for name in TORCH_LIBRARIES:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                ctypes.CDLL(path, mode=os.RTLD_LOCAL)
    except (OSError, AttributeError, TypeError, ValueError) as err:
        log.info("torch libraries not preloaded: %s", err)


def engine_modules(spec) -> list[str]:
    """The engine modules of a lab's ``LabSpec``: its config's and its run entry's."""
    return list(dict.fromkeys(path.partition(":")[0] for path in (spec.config, spec.run)))


class LabLoader(QObject):
    """Background imports: torch and ``first``'s engine, then ``check``, then the rest.

    Parameters
    ----------
    specs : dict
        Lab name → ``LabSpec`` (``app.registry.LABS``).
    first : str
        The lab shown first; ``sigReady(first)`` follows torch and its engine modules.
    check : callable, optional
        Run on the loader thread after ``sigReady`` (the autosave check, which imports every
        lab's config class); its return value is sent with ``sigChecked``.
    parent : QObject, optional

    Signals are emitted from the loader thread; receivers on the GUI thread get them queued.
    """

    sigReady = Signal(str)           # torch and the first lab's engine are imported
    sigChecked = Signal(object)      # what ``check`` returned
    sigDone = Signal(float)          # every lab's engine is imported: seconds since start

    def __init__(self, specs: dict, first: str, check: Optional[Callable] = None,
                 parent: Optional[QObject] = None):
        super().__init__(parent)
        self._specs = dict(specs)
        self._first = first if first in self._specs else next(iter(self._specs))
        self._check = check
        self._stop = threading.Event()
        self._proceed = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.failures: list[str] = []       # "module: error" of imports that failed here

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._load, name="flowscope-lab-loader")
            self._thread.start()

    def proceed(self) -> None:
        """Go on after ``sigReady``: the GUI thread has built the first lab."""
        self._proceed.set()

    def stop(self, wait: float = 0.0) -> None:
        """Import nothing more after the module under way; wait up to ``wait`` seconds."""
        self._stop.set()
        self._proceed.set()
        if self._thread is not None and wait > 0:
            self._thread.join(wait)

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _load(self) -> None:
        start = time.perf_counter()
        preload_torch_libraries()
        self._import(["torch"] + engine_modules(self._specs[self._first]))
        self._emit(self.sigReady, self._first)
        self._proceed.wait(PROCEED_TIMEOUT)
        if self._check is not None and not self._stop.is_set():
            self._emit(self.sigChecked, self._guarded(self._check))
        for name, spec in self._specs.items():
            if name != self._first:
                self._import(engine_modules(spec))
        if not self._stop.is_set():
            self._emit(self.sigDone, time.perf_counter() - start)
        self._import(list(RUN_TIME_IMPORTS))

    def _emit(self, signal, value) -> None:
        try:
            signal.emit(value)
        except RuntimeError:       # the application is gone (closed while loading)
            self._stop.set()

    def _import(self, modules: list[str]) -> None:
        for module in modules:
            if self._stop.is_set():
                return
            self._guarded(lambda: importlib.import_module(module), module)

    def _guarded(self, call: Callable, what: str = "check"):
        """``call()``, or None with the failure noted: the GUI thread meets the same error
        when it needs the module, and reports it there."""
        try:
            with IMPORT_LOCK:
                return call()
        except Exception as err:  # noqa: BLE001 - reported by the GUI thread's own import
            log.warning("background import of %s failed: %s", what, err)
            self.failures.append(f"{what}: {err}")
            return None
