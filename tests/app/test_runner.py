"""Runner: engine generators off the GUI thread, newest-only progress, cancel, supersede."""
from __future__ import annotations

import threading
import time

import pytest

from app.runner import Runner, run_sync
from engine.core import Progress


@pytest.fixture
def runner(qtbot):
    r = Runner()
    yield r
    assert r.shutdown(2000)
    assert r.wait(0)


def counting(n: int, delay: float = 0.0, result="done"):
    """A factory for a generator that yields ``n`` progress steps then returns ``result``."""
    def make():
        def gen():
            for i in range(n):
                if delay:
                    time.sleep(delay)
                yield Progress((i + 1) / n, f"step {i + 1}", partial=i)
            return result
        return gen()
    return make


def test_result_delivered_on_gui_thread(qtbot, runner):
    gui = threading.get_ident()
    seen = {}
    runner.sigFinished.connect(lambda res, tag: seen.update(thread=threading.get_ident()))
    with qtbot.waitSignal(runner.sigStarted, timeout=2000) as started, \
            qtbot.waitSignal(runner.sigFinished, timeout=2000) as finished:
        runner.start(counting(5, result={"x": 42}), tag="t1")
    assert started.args == ["t1"]
    assert finished.args == [{"x": 42}, "t1"]
    assert seen["thread"] == gui
    assert not runner.is_running()


def test_progress_and_partial_reported_newest_last(qtbot, runner):
    fractions, partials = [], []
    runner.sigProgress.connect(lambda f, m: fractions.append((f, m)))
    runner.sigPartial.connect(partials.append)
    with qtbot.waitSignal(runner.sigFinished, timeout=3000):
        runner.start(counting(20, delay=0.01))
    assert fractions, "no progress reported"
    assert fractions[-1] == (1.0, "step 20")  # the final progress is not lost
    assert partials[-1] == 19
    assert [f for f, _ in fractions] == sorted(f for f, _ in fractions)


def test_fast_generator_does_not_flood(qtbot, runner):
    count = []
    runner.sigProgress.connect(lambda f, m: count.append(f))
    with qtbot.waitSignal(runner.sigFinished, timeout=5000):
        runner.start(counting(200_000))
    assert 1 <= len(count) < 1000


def test_failure_reports_exception_text(qtbot, runner):
    def make():
        def gen():
            yield Progress(0.5, "half")
            raise RuntimeError("diverged at step 3")
        return gen()
    with qtbot.waitSignal(runner.sigFailed, timeout=2000) as failed:
        runner.start(make, tag="bad")
    message, tag = failed.args
    assert "RuntimeError" in message and "diverged at step 3" in message
    assert tag == "bad"


def test_failure_in_setup_is_reported(qtbot, runner):
    def make():
        raise ValueError("lr = -1 is outside the valid range")
    with qtbot.waitSignal(runner.sigFailed, timeout=2000) as failed:
        runner.start(make)
    assert "ValueError" in failed.args[0]


def test_cancel_answers_quickly(qtbot, runner):
    closed = threading.Event()

    def make():
        def gen():
            try:
                for i in range(10_000):
                    time.sleep(0.01)
                    yield Progress(i / 10_000)
                return "never"
            finally:
                closed.set()
        return gen()

    finished = []
    runner.sigFinished.connect(lambda *a: finished.append(a))
    with qtbot.waitSignal(runner.sigProgress, timeout=2000):
        runner.start(make, tag="long")
    t0 = time.perf_counter()
    with qtbot.waitSignal(runner.sigCancelled, timeout=200) as cancelled:
        runner.cancel()
    assert time.perf_counter() - t0 < 0.2
    assert cancelled.args == ["long"]
    assert runner.wait(1000) and closed.is_set()
    qtbot.wait(100)
    assert not finished and not runner.is_running()


def test_new_run_supersedes_old(qtbot, runner):
    finished, cancelled = [], []
    runner.sigFinished.connect(lambda res, tag: finished.append((res, tag)))
    runner.sigCancelled.connect(cancelled.append)
    runner.start(counting(1000, delay=0.01, result="old"), tag="old")
    with qtbot.waitSignal(runner.sigFinished, timeout=3000):
        runner.start(counting(3, result="new"), tag="new")
    qtbot.wait(100)
    assert finished == [("new", "new")]
    assert cancelled == ["old"]


def test_result_waiting_in_queue_is_dropped_after_cancel(qtbot, runner):
    finished, cancelled = [], []
    runner.sigFinished.connect(lambda *a: finished.append(a))
    runner.sigCancelled.connect(cancelled.append)
    runner.start(counting(1, result="quick"), tag="q")
    assert runner.wait(1000)  # the worker is done, but nothing was emitted yet
    runner.cancel()
    qtbot.waitUntil(lambda: cancelled == ["q"], timeout=1000)
    assert finished == []


def test_shutdown_leaves_no_thread(qtbot):
    r = Runner()
    r.start(counting(10_000, delay=0.01))
    qtbot.wait(30)
    assert r.shutdown(2000)
    assert not r.is_running()
    assert not [t for t in threading.enumerate() if t.name == "flowscope-run"]


def test_setup_runs_in_worker_thread(qtbot, runner):
    idents = {}

    def make():
        idents["setup"] = threading.get_ident()
        return counting(2)()

    with qtbot.waitSignal(runner.sigFinished, timeout=2000):
        runner.start(make)
    assert idents["setup"] != threading.get_ident()


def test_run_sync_returns_result():
    seen = []
    assert run_sync(counting(3, result=7), on_progress=seen.append) == 7
    assert [p.fraction for p in seen] == pytest.approx([1 / 3, 2 / 3, 1.0])


def test_staged_partials_keep_the_newest_of_every_stage(qtbot, runner):
    """A slow GUI sees only the last report, yet every stage's newest partial arrives."""
    from app.runner import Stages

    def make():
        def gen():
            yield Progress(0.1, "data", {"stage": "data", "n": 1})
            for k in range(50):
                yield Progress(0.2 + k / 100, "curves", {"stage": "curves", "k": k})
            yield Progress(0.9, "maps", {"stage": "maps", "n": 3})
            return "done"
        return gen()
    seen = []
    runner.sigPartial.connect(seen.append)
    with qtbot.waitSignal(runner.sigFinished, timeout=3000):
        runner.start(make)
    last = seen[-1]
    assert isinstance(last, Stages) and list(last) == ["data", "curves", "maps"]
    assert last["data"]["n"] == 1 and last["curves"]["k"] == 49 and last["maps"]["n"] == 3


def test_merge_partial_starts_afresh_and_passes_plain_partials():
    from app.runner import Stages, merge_partial
    first = merge_partial(None, {"stage": "a", "v": 1})
    second = merge_partial(first, {"stage": "a", "v": 2})
    assert first == {"a": {"stage": "a", "v": 1}} and second["a"]["v"] == 2
    assert isinstance(second, Stages) and second is not first
    assert merge_partial(second, 7) == 7


def test_worker_adopts_the_process_thread_count_before_setup(qtbot, runner, monkeypatch):
    """Issue #16: a worker thread starts at OpenMP's default team (one per core); the runner
    gives it the app's torch/BLAS thread count before the lab's set-up runs."""
    import engine.core.device as device
    calls = []
    monkeypatch.setattr(device, "adopt_torch_threads",
                        lambda: calls.append(("adopt", threading.get_ident())) or 1)

    def make():
        calls.append(("setup", threading.get_ident()))
        return counting(1)()

    with qtbot.waitSignal(runner.sigFinished, timeout=2000):
        runner.start(make)
    assert [c[0] for c in calls] == ["adopt", "setup"]
    assert calls[0][1] == calls[1][1] != threading.get_ident()
