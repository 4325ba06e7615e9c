"""Progress text: elapsed time, constant-rate estimate of the time left, Qt's %p% kept."""
import pytest

from app.run_progress import format_duration, progress_text, time_left


@pytest.mark.parametrize("seconds, text", [(0, "0:00"), (59.9, "0:59"), (61, "1:01"),
                                           (3725, "1:02:05"), (-3, "0:00")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_time_left_is_a_constant_rate_extrapolation():
    assert time_left(0.25, 10.0) == pytest.approx(30.0)
    assert time_left(1.0, 10.0) == 0.0
    assert time_left(0.01, 10.0) is None          # too early to say
    assert time_left(0.5, 0.2) is None
    assert time_left(float("nan"), 3.0) is None


def test_progress_text():
    assert progress_text(0.25, 10.0, "step 5/20") == \
        "%p%  0:10 elapsed, ~0:30 left  step 5/20"
    assert progress_text(0.0, 0.5) == "%p%  0:00 elapsed"
    assert progress_text(0.5, 4.0, lab="Regions").startswith("Regions:  %p%")
