"""Loading regions points far from unit scale (issue #17): the user is told at once — the
status line names the scale and suggests standardising — instead of finding out after the
convex solve's 40 s budget; the points are loaded unchanged (nothing is rescaled silently).
pytest-qt fails the test on any exception raised in a Qt slot."""
from __future__ import annotations


def _csv(path, scale: float):
    rows = "".join(f"{scale * (i % 5) / 4},{scale * (i % 3) / 2},{1 - 2 * (i % 2)}\n"
                   for i in range(12))
    path.write_text("x1,x2,y\n" + rows)
    return str(path)


def test_far_points_are_loaded_unchanged_with_a_note_near_ones_without(lab_window, tmp_path):
    win = lab_window("regions")
    presenter = win.slot.presenter
    assert presenter.load_csv(_csv(tmp_path / "far.csv", 1e4))
    text = win.status_label.text()
    assert "Loaded 12 points" in text and "standardise" in text and "1e+04" in text
    points = win.slot.panel.config().custom_points
    assert max(abs(v) for row in points for v in row[:2]) == 1e4      # not rescaled
    win.show_message("")
    assert presenter.load_csv(_csv(tmp_path / "near.csv", 1.0))
    assert "standardise" not in win.status_label.text()
