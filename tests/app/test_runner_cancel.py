"""Cancel of a worker stuck in a step that does not yield, and no overlap of a cancelled run
with the next one (issue #17: cancel ≤ 0.2 s, a cancelled run stops using the CPU first)."""
from __future__ import annotations

import threading
import time

import pytest

from app.runner import CANCEL_GRACE_S, Runner, _Run
from engine.core import Progress


@pytest.fixture
def runner(qtbot):
    r = Runner()
    yield r
    assert r.shutdown(2000)


def _busy_step(seconds: float, state: dict):
    """A generator whose second step is pure Python work for ``seconds`` without a yield."""
    def make():
        def gen():
            state["started"] = time.perf_counter()
            try:
                yield Progress(0.1, "set-up done")
                deadline, x = time.perf_counter() + seconds, 0
                while time.perf_counter() < deadline:
                    x += 1                                       # no yield, no sleep
                yield Progress(1.0, "never reached when cancelled")
                return x
            finally:
                state["ended"] = time.perf_counter()
        return gen()
    return make


def test_a_step_without_yield_is_interrupted_quickly():
    state = {}
    run = _Run(_busy_step(30.0, state), "busy")
    run.thread.start()
    while run.progress is None:
        time.sleep(0.005)
    time.sleep(0.05)                                   # inside the busy step
    t0 = time.perf_counter()
    run.request_cancel()
    run.thread.join(5.0)
    latency = time.perf_counter() - t0
    assert not run.thread.is_alive() and run.outcome == ("cancelled", None)
    assert latency < CANCEL_GRACE_S + 0.5, latency       # not the 30 s of the step
    assert "ended" in state                              # its finally block ran


def test_the_next_run_starts_after_the_cancelled_one_ended(qtbot, runner):
    old, new = {}, {}
    finished = []
    runner.sigFinished.connect(lambda res, tag: finished.append(tag))
    with qtbot.waitSignal(runner.sigProgress, timeout=3000):
        runner.start(_busy_step(30.0, old), tag="old")
    with qtbot.waitSignal(runner.sigFinished, timeout=5000):
        runner.start(_busy_step(0.0, new), tag="new")
    assert finished == ["new"]
    assert old["ended"] <= new["started"]                # never both computing


def test_cancel_while_waiting_for_the_previous_run(qtbot, runner):
    cancelled = []
    runner.sigCancelled.connect(cancelled.append)
    state = {}
    with qtbot.waitSignal(runner.sigProgress, timeout=3000):
        runner.start(_busy_step(30.0, state), tag="a")
    runner.start(_busy_step(30.0, {}), tag="b")
    runner.cancel()
    assert runner.wait(3000)
    qtbot.waitUntil(lambda: cancelled == ["a", "b"], timeout=2000)
    assert not runner.is_running() and threading.active_count() < 50


def _saving_run(step_s: float, state: dict):
    """A generator like slice-prior training: a busy step, then on cancel (at a yield) a
    clean-up that takes longer than the interrupt grace (saving weights)."""
    def make():
        def gen():
            try:
                while True:
                    deadline = time.perf_counter() + step_s
                    while time.perf_counter() < deadline:
                        pass                                     # a step without a yield
                    state["steps"] = state.get("steps", 0) + 1
                    yield Progress(0.5, "step")
            except GeneratorExit:
                deadline = time.perf_counter() + 4 * CANCEL_GRACE_S
                while time.perf_counter() < deadline:
                    pass                                         # saving
                state["saved"] = state.get("steps", 0)
        return gen()
    return make


def test_an_uninterruptible_run_ends_its_step_and_saves(qtbot):
    runner, state = Runner(interruptible=False), {}
    runner.start(_saving_run(3 * CANCEL_GRACE_S, state))
    qtbot.waitUntil(lambda: state.get("steps", 0) >= 1, timeout=10_000)
    with qtbot.waitSignal(runner.sigCancelled, timeout=5000):
        runner.cancel()
    assert runner.shutdown(10_000)
    assert state["saved"] == state["steps"] >= 1      # the step ended, then the save ran whole


def test_the_clean_up_of_a_closed_generator_is_never_interrupted(qtbot):
    runner, state = Runner(), {}
    runner.start(_saving_run(0.0, state))
    qtbot.waitUntil(lambda: state.get("steps", 0) >= 3, timeout=10_000)
    runner.cancel()
    assert runner.shutdown(10_000)
    assert "saved" in state                            # 4× the grace, yet not interrupted


def test_a_cancelled_step_waits_while_its_worker_writes_a_file(qtbot):
    """``engine.core.unbroken()`` (checkpoints, cache files): the interrupt waits for it."""
    from engine.core import unbroken
    state = {}

    def make():
        def gen():
            yield Progress(0.1, "start")
            try:
                while True:
                    pass                                         # a step without a yield
            except BaseException:
                with unbroken():
                    deadline = time.perf_counter() + 4 * CANCEL_GRACE_S
                    while time.perf_counter() < deadline:
                        pass                                     # writing a checkpoint
                    state["written"] = True
                raise
        return gen()

    runner = Runner()
    runner.start(make)
    qtbot.wait(50)
    runner.cancel()
    assert runner.shutdown(10_000)
    assert state.get("written")


def test_a_worker_importing_a_module_is_not_interrupted_inside_the_import(tmp_path,
                                                                          monkeypatch):
    """An interrupt raised inside the import system can leave a module lock held for good
    (every later import of that module hangs). The runner waits until the import is over,
    then interrupts: the module imports whole, and imports again elsewhere."""
    import importlib
    import sys
    name = "flowscope_slow_import_probe"
    (tmp_path / f"{name}.py").write_text(
        "import time\n"
        "deadline = time.perf_counter() + 0.4\n"
        "while time.perf_counter() < deadline:\n"
        "    pass\n"
        "COMPLETE = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    state = {}

    def gen():
        yield Progress(0.1, "importing")
        state["module"] = importlib.import_module(name)
        deadline = time.perf_counter() + 5.0
        while time.perf_counter() < deadline:                # no yield: needs the interrupt
            pass
        yield Progress(1.0, "never reached")

    run = _Run(gen, "probe")
    run.thread.start()
    while run.progress is None:
        time.sleep(0.005)
    time.sleep(0.05)                                         # inside the import now
    run.request_cancel()
    run.thread.join(3.0)
    assert not run.thread.is_alive() and run.interrupts >= 1
    assert state["module"].COMPLETE                          # the import was not cut
    sys.modules.pop(name, None)
    done = []
    loader = threading.Thread(target=lambda: done.append(importlib.import_module(name)))
    loader.start()
    loader.join(3.0)
    assert done and done[0].COMPLETE
    sys.modules.pop(name, None)
