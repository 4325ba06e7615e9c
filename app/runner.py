"""Run one engine progress generator off the GUI thread.

Engine contract (docs/CONTRACTS.md): a long run is a generator that yields
:class:`engine.core.Progress` between steps and ``return``\\ s its result; stopping the
iteration cancels it.

Design
------
Each run gets a plain :class:`threading.Thread` (daemon, so a forgotten run can never abort
or hang the interpreter) and a :class:`_Run` record. The worker touches no Qt object: it
writes the *newest* progress into a lock-protected slot and, at the end, its outcome. The
GUI side polls the current record with a ~30 Hz :class:`QTimer` and emits every public
signal from the GUI thread, so a fast generator cannot flood the event loop and stale
results of superseded or cancelled runs are simply never emitted.

Cancel (goal ≤ 0.2 s, issue #17): a cancelled generator is closed at its next ``yield``; a
worker still running :data:`CANCEL_GRACE_S` later (an engine step that does not yield often
enough) is interrupted by raising :class:`RunCancelled` in its thread
(``PyThreadState_SetAsyncExc``, delivered between Python bytecodes), repeated every
:data:`CANCEL_GRACE_S` until the thread ends — never while the generator's own clean-up
(``finally``, ``except GeneratorExit``) runs or it is inside ``engine.core.unbroken()`` (writing
a checkpoint), and never for a ``Runner(interruptible=False)``,
whose runs save their state at a ``yield`` (slice-prior training). A new run's worker first
waits for every cancelled worker to end, so a cancelled run never computes beside the next one.

Staged partials (docs/CONTRACTS.md, "Partials"): a partial that is a dict with a ``"stage"``
key is kept as the newest partial *of its stage*; ``sigPartial`` then carries a
:class:`Stages` mapping, stage → newest partial of that stage in this run, in the order the
stages first arrived. No engine accumulates partials for the GUI's sake. Any other partial is
delivered as it is, newest only.
"""
from __future__ import annotations

import collections
import ctypes
import logging
import sys
import threading
import time
from typing import Any, Callable, Generator, Optional

from PySide6.QtCore import QObject, QTimer, Signal

from engine.core import Progress, in_unbroken

log = logging.getLogger(__name__)

POLL_MS = 33
#: Seconds a cancelled worker may run on before it is interrupted (then again each period).
CANCEL_GRACE_S = 0.08


class RunCancelled(BaseException):
    """Raised inside a worker thread that did not stop at a ``yield`` soon enough after its
    cancel (a ``BaseException``, so the engine's ``except Exception`` does not swallow it)."""

GeneratorFactory = Callable[[], Generator]


class Stages(dict):
    """Stage name → newest partial of that stage in one run (arrival order of the stages)."""


def merge_partial(stages: Optional[Stages], partial: Any) -> Any:
    """What the runner delivers after ``partial``, given what it delivered before.

    Parameters
    ----------
    stages : Stages or None
        The stages delivered so far in this run (None before the first staged partial).
    partial : object
        The new partial.

    Returns
    -------
    Stages or object
        A new :class:`Stages` with ``partial`` as the newest of its stage when it is a dict
        with a ``"stage"`` key; ``partial`` itself otherwise.
    """
    if isinstance(partial, dict) and "stage" in partial:
        return Stages({**(stages or {}), partial["stage"]: partial})
    return partial


def _importing(ident: int) -> bool:
    """Whether thread ``ident`` is importing a module (``importlib``'s frames on its stack).

    An exception raised there asynchronously can land inside the import system's own lock
    bookkeeping and leave a module lock held for good: every later import of that module,
    in any thread, then waits for ever (seen: a cancelled gradient-flow study importing
    pandas through pyarrow; the next run hung). Issue #17.
    """
    frame = sys._current_frames().get(ident)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


class _Run:
    """State shared between one worker thread and the GUI side (all fields lock-free
    except the progress slot, which is guarded by ``lock``)."""

    def __init__(self, make_generator: GeneratorFactory, tag: Any,
                 after: tuple = (), interruptible: bool = True):
        self.make_generator = make_generator
        self.after = after                  # cancelled runs whose threads must end first
        self.interruptible = interruptible  # False: a cancel waits for the next yield
        self.closing = False                # the generator's own clean-up is running
        self.interrupts = 0                 # RunCancelled raised in the worker (after cancel)
        self.tag = tag
        self.cancel = threading.Event()
        self.lock = threading.Lock()
        self.progress: Optional[tuple[float, str]] = None
        self.partial: Optional[tuple[Any]] = None  # 1-tuple so that None is a valid partial
        self.stages: Optional[Stages] = None        # every stage's newest partial so far
        self.outcome: Optional[tuple[str, Any]] = None  # ("finished"|"failed"|"cancelled", x)
        self.thread = threading.Thread(target=self._work, name="flowscope-run", daemon=True)

    # -- worker thread ----------------------------------------------------------------------
    def _work(self) -> None:
        try:
            self.outcome = self._outcome()
        except RunCancelled:                # a second interrupt while the first was handled
            self.outcome = self.outcome or ("cancelled", None)

    def _outcome(self) -> tuple[str, Any]:
        try:
            return self._iterate()
        except RunCancelled:
            return ("cancelled", None)
        except BaseException as exc:  # noqa: BLE001 - every failure must be reported
            if self.cancel.is_set():     # raised while a cancelled run was closed
                return ("cancelled", None)
            log.error("Run %r failed", self.tag, exc_info=True)
            return ("failed", f"{type(exc).__name__}: {exc}")

    def _iterate(self) -> tuple[str, Any]:
        for previous in self.after:         # never compute beside a cancelled run
            previous.thread.join()
        self.after = ()
        if self.cancel.is_set():
            return ("cancelled", None)
        from engine.core.device import adopt_torch_threads   # torch is loaded by now
        adopt_torch_threads()       # this worker thread's OpenMP/BLAS teams: the app's count
        gen = self.make_generator()
        self.make_generator = None  # drop closures early
        while True:
            if self.cancel.is_set():
                self.closing = True         # its finally blocks (saving work) run unbroken
                _close(gen)
                return ("cancelled", None)
            try:
                item = next(gen)
            except StopIteration as stop:
                return ("finished", stop.value)
            if isinstance(item, Progress):
                self._store(item)

    def _store(self, item: Progress) -> None:
        with self.lock:
            self.progress = (float(item.fraction), str(item.message))
            if item.partial is not None:
                merged = merge_partial(self.stages, item.partial)
                if isinstance(merged, Stages):
                    self.stages = merged
                self.partial = (merged,)

    # -- any thread -------------------------------------------------------------------------
    def request_cancel(self, grace_s: float = CANCEL_GRACE_S) -> None:
        """Flag the run; interrupt its worker if it is still running ``grace_s`` later."""
        if self.cancel.is_set():
            return
        self.cancel.set()
        if self.interruptible:
            self._arm_interrupt(grace_s)

    def _arm_interrupt(self, grace_s: float) -> None:
        timer = threading.Timer(grace_s, self._interrupt, args=(grace_s,))
        timer.daemon = True
        timer.start()

    def _interrupt(self, grace_s: float) -> None:
        """Raise :class:`RunCancelled` in the worker while it lives (checked each period),
        except while it waits, cleans up, saves or imports a module (then a period later)."""
        ident = self.thread.ident
        if ident is None or not self.thread.is_alive() or self.outcome is not None:
            return
        switch = sys.getswitchinterval()
        sys.setswitchinterval(1.0)      # no worker bytecode between the check and the raise
        try:
            safe = not (self.after or self.closing or in_unbroken(ident)
                        or _importing(ident))
            if safe:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                                           ctypes.py_object(RunCancelled))
        finally:
            sys.setswitchinterval(switch)
        self.interrupts += int(safe)
        self._arm_interrupt(grace_s)

    # -- GUI thread -------------------------------------------------------------------------
    def take_progress(self) -> tuple[Optional[tuple[float, str]], Optional[tuple[Any]]]:
        """The newest (fraction, message) and (partial,) since the last call, then clear."""
        with self.lock:
            progress, partial = self.progress, self.partial
            self.progress = self.partial = None
        return progress, partial


def _close(gen: Generator) -> None:
    """Close a cancelled generator (runs its ``finally`` blocks); never raises."""
    try:
        gen.close()
    except Exception:  # noqa: BLE001
        log.warning("Generator raised while being closed", exc_info=True)


_GUI_GC = None


def collect_garbage_on_gui_thread() -> None:
    """Run Python's cyclic garbage collector only on the GUI thread (idempotent).

    With automatic collection, a worker thread can trigger a collection that destroys Qt
    objects (e.g. a closed window's cycles); their destructors then run off the GUI thread and
    deadlock or crash. pyqtgraph's GarbageCollector disables automatic collection and collects
    on a GUI-thread timer instead (1 s).
    """
    global _GUI_GC
    if _GUI_GC is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector
        _GUI_GC = GarbageCollector(interval=1.0)


class Runner(QObject):
    """Runs one engine generator at a time in a worker thread.

    Signals are emitted on the thread that owns the runner (the GUI thread). Exactly one of
    ``sigFinished``, ``sigFailed`` or ``sigCancelled`` follows each ``sigStarted``; a run
    superseded by :meth:`start` is reported as cancelled and its result is dropped.

    Call :meth:`shutdown` from ``closeEvent`` and from test fixtures: it cancels the run and
    waits for every worker thread (pending signals are then dropped).
    """

    sigStarted = Signal(object)            # tag
    sigProgress = Signal(float, str)       # fraction, message (newest only)
    sigPartial = Signal(object)            # newest partial, or Stages (newest per stage)
    sigFinished = Signal(object, object)   # result, tag
    sigFailed = Signal(str, object)        # "ExcType: message", tag
    sigCancelled = Signal(object)          # tag

    def __init__(self, parent: Optional[QObject] = None, interruptible: bool = True):
        super().__init__(parent)
        collect_garbage_on_gui_thread()
        # False for runs whose cancel must land at a yield (training saves its state there)
        self._interruptible = interruptible
        self._current: Optional[_Run] = None
        self._stopping: list[_Run] = []     # cancelled runs whose threads may still live
        self._pending: collections.deque = collections.deque()  # (signal, args) to emit
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._tick)

    # -- public API -------------------------------------------------------------------------
    def start(self, make_generator: GeneratorFactory, tag: Any = None) -> None:
        """Start a run; ``make_generator()`` is called in the worker thread.

        Parameters
        ----------
        make_generator : callable
            Zero-argument callable returning the engine progress generator.
        tag : object, optional
            Passed back with every lifecycle signal of this run.
        """
        self._cancel_current()
        self._stopping = [r for r in self._stopping if r.thread.is_alive()]
        run = _Run(make_generator, tag, after=tuple(self._stopping),
                   interruptible=self._interruptible)
        self._current = run
        self._pending.append((self.sigStarted, (tag,)))
        run.thread.start()
        self._wake()

    def cancel(self) -> None:
        """Cancel the current run (no-op when idle); ``sigCancelled`` follows promptly."""
        if self._cancel_current():
            self._wake()

    def is_running(self) -> bool:
        """Whether a started run has not yet been finished, failed or cancelled."""
        return self._current is not None

    def wait(self, timeout_ms: int = 5000) -> bool:
        """Block until every worker thread has ended; ``True`` if they all did in time.

        Does not process events: signals of a run that ended are emitted later by the
        event loop.
        """
        deadline = time.monotonic() + max(0, timeout_ms) / 1000.0
        for run in self._runs():
            run.thread.join(max(0.0, deadline - time.monotonic()))
        return not any(run.thread.is_alive() for run in self._runs())

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel, wait for every worker thread and stop polling; returns :meth:`wait`'s
        verdict. Signals not yet emitted are dropped."""
        self._cancel_current()
        ok = self.wait(timeout_ms)
        if not ok:
            log.warning("Runner.shutdown: a worker did not stop within %d ms", timeout_ms)
        self._timer.stop()
        self._pending.clear()
        self._stopping = [r for r in self._stopping if r.thread.is_alive()]
        return ok

    # -- internals --------------------------------------------------------------------------
    def _runs(self) -> list[_Run]:
        return self._stopping + ([self._current] if self._current is not None else [])

    def _cancel_current(self) -> bool:
        """Flag the current run, queue its ``sigCancelled`` and forget it."""
        run = self._current
        if run is None:
            return False
        run.request_cancel()
        self._current = None
        self._stopping.append(run)
        self._pending.append((self.sigCancelled, (run.tag,)))
        return True

    def _wake(self) -> None:
        """Make sure pending signals go out soon and polling runs."""
        if not self._timer.isActive():
            self._timer.start()
        QTimer.singleShot(0, self, self._tick)

    def _tick(self) -> None:
        """GUI-thread poll: emit queued lifecycle signals, progress, and a finished outcome."""
        while self._pending:
            signal, args = self._pending.popleft()
            signal.emit(*args)  # a slot may call start()/cancel(): re-read state below
        run = self._current
        if run is not None:
            done = run.outcome is not None  # read first: all progress is stored before it
            self._emit_progress(run)
            if done and run is self._current:
                self._current = None
                self._emit_outcome(run)
        self._stopping = [r for r in self._stopping if r.thread.is_alive()]
        if self._current is None and not self._pending:
            self._timer.stop()

    def _emit_progress(self, run: _Run) -> None:
        progress, partial = run.take_progress()
        if progress is not None:
            self.sigProgress.emit(*progress)
        if partial is not None and run is self._current:
            self.sigPartial.emit(partial[0])

    def _emit_outcome(self, run: _Run) -> None:
        kind, value = run.outcome
        if kind == "finished":
            self.sigFinished.emit(value, run.tag)
        elif kind == "failed":
            self.sigFailed.emit(value, run.tag)
        else:
            self.sigCancelled.emit(run.tag)


def run_sync(make_generator: GeneratorFactory,
             on_progress: Optional[Callable[[Progress], None]] = None) -> Any:
    """Drain a progress generator in the calling thread and return its result.

    Parameters
    ----------
    make_generator : callable
        Zero-argument callable returning the engine progress generator.
    on_progress : callable, optional
        Called with every :class:`~engine.core.Progress` the generator yields.

    Returns
    -------
    object
        The generator's return value.
    """
    gen = make_generator()
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None and isinstance(item, Progress):
            on_progress(item)
