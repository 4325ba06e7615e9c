"""widgets.playback_bar.LatestCall: the newest call at most every `seconds`, the last always."""
from widgets.playback_bar import LatestCall


def test_a_burst_runs_the_first_call_now_and_only_the_newest_later(qtbot):
    runs = []
    throttle = LatestCall(0.15)
    for frame in range(10):                        # a burst of playback frames
        throttle.call(runs.append, frame)
    assert runs == [0]                             # the first at once, the rest held back
    qtbot.waitUntil(lambda: runs == [0, 9], timeout=2000)   # the final frame always arrives
    qtbot.wait(200)
    assert runs == [0, 9]                          # nothing else runs


def test_calls_further_apart_than_the_interval_all_run_at_once(qtbot):
    runs = []
    throttle = LatestCall(0.05)
    for frame in range(3):
        throttle.call(runs.append, frame)
        assert runs[-1] == frame
        qtbot.wait(80)


def test_flush_runs_the_pending_call_now(qtbot):
    runs = []
    throttle = LatestCall(10.0)
    throttle.call(runs.append, 1)
    throttle.call(runs.append, 2)
    throttle.flush()
    assert runs == [1, 2]
    throttle.flush()
    assert runs == [1, 2]
