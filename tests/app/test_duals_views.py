"""The attention and WGAN views of the convex-duals lab draw real engine outcomes (small
sizes), redraw when the outcome changes shape, react to their own controls, and grab to a
non-blank PNG. Any exception raised in a Qt slot fails the test (pytest-qt)."""
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6 import QtGui

from engine.convex_duals.attention import Params as AttentionParams, run as run_attention
from engine.convex_duals.wgan import Params as WganParams, run as run_wgan
from engine.core import drain
from widgets.duals_attention_view import DualsAttentionView
from widgets.duals_wgan_view import CRITICS, DualsWganView


def _grab_not_blank(widget, path) -> None:
    assert widget.grab().save(str(path))
    image = QtGui.QImage(str(path))
    assert image.width() > 400 and image.height() > 300
    pixels = {image.pixel(x, y) for x in range(0, image.width(), 7)
              for y in range(0, image.height(), 7)}
    assert len(pixels) > 50                               # drawn, not one flat colour


@pytest.fixture(scope="module")
def attention_outcomes():
    small = dict(samples=6, steps=30, seeds=2)
    return [drain(run_attention(AttentionParams(head=head, **small)))
            for head in ("self_attention", "fno", "gated_attention")]


def test_attention_view_draws_and_redraws(qtbot, tmp_path, attention_outcomes):
    view = DualsAttentionView(standalone=True)
    qtbot.addWidget(view)
    view.resize(1300, 850)
    view.show()
    for k, outcome in enumerate(attention_outcomes):
        view.show_outcome(outcome)
        qtbot.wait(20)
        keys = view.sv_plot.keys()
        blocks = outcome.arrays["sv_convex"].shape[0]
        assert sum(key.startswith("c") for key in keys) == blocks
        assert sum(key.startswith("seed") for key in view.objective_plot.keys()) == 2
        maps = min(len(outcome.arrays["maps_convex"]), 3) + min(len(outcome.arrays["maps_trained"]), 3)
        assert len(view.maps.ci.items) == maps + 1          # the maps and their caption
        labels = np.unique(outcome.arrays["clusters_convex"]).tolist()
        assert all(f"head {k + 1}" in view.cluster_key.text() for k in labels)   # keyed
        assert "unknowns" in view.notes.text()
        _grab_not_blank(view, tmp_path / f"attention_{k}.png")


def test_views_in_the_lab_draw_arrays_only(qtbot, attention_outcomes):
    """The lab's tab draws the objective itself and may pass a partial (arrays only)."""
    attention = DualsAttentionView()
    wgan_view = DualsWganView()
    for view in (attention, wgan_view):
        qtbot.addWidget(view)
        view.show()
        assert not view.objective_plot.isVisible() and not view.notes.isVisible()
    attention.show_outcome(SimpleNamespace(arrays=attention_outcomes[0].arrays))
    assert attention.sv_plot.keys() and not attention.objective_plot.keys()
    assert attention.item is attention.sv_plot.plot_item
    outcome = drain(run_wgan(WganParams(samples=30, steps=100, seeds=1)))
    wgan_view.show_outcome(SimpleNamespace(arrays=outcome.arrays))
    assert wgan_view.eig_plot.keys() and not wgan_view.objective_plot.keys()
    assert wgan_view.item is wgan_view.samples_item


def test_views_draw_the_convex_partial_then_the_result(qtbot):
    """The models stream a ``convex`` partial (no trained arrays yet) and ``gd`` partials
    (every seed so far); the views draw the partial, then the finished outcome."""
    from app.runner import merge_partial
    for run, params, view in (
            (run_attention, AttentionParams(samples=6, steps=30, seeds=2), DualsAttentionView()),
            (run_wgan, WganParams(samples=40, steps=300, seeds=2), DualsWganView())):
        qtbot.addWidget(view)
        gen, stages = run(params), {}
        while True:
            try:
                progress = next(gen)
            except StopIteration as stop:
                outcome = stop.value
                break
            if progress.partial is not None:
                stages = merge_partial(stages, progress.partial)
                if "convex" in stages and "gd" not in stages:
                    view.show_outcome(SimpleNamespace(arrays=stages["convex"]["arrays"]))
        assert list(stages) == ["convex", "gd"]
        np.testing.assert_array_equal(stages["gd"]["objectives"], outcome.gd_objectives)
        assert stages["convex"]["objective"] == outcome.convex_objective
        view.show_outcome(outcome)


def test_wgan_view_draws_switches_critic_and_keeps_a_diverged_path(qtbot, tmp_path):
    outcome = drain(run_wgan(WganParams(samples=60, steps=1500, seeds=2, lr=0.05)))
    assert any("diverged" in note for note in outcome.notes)
    view = DualsWganView(standalone=True)
    qtbot.addWidget(view)
    view.resize(1300, 800)
    view.show()
    view.show_outcome(outcome)
    qtbot.wait(20)
    names = [label.text for _, label in view.legend.items]
    assert "real samples" in names and "generator, closed form" in names
    first = np.array(view.critic_image.image, copy=True)
    view.critic_choice.setCurrentIndex(1)                  # the GDA discriminator
    qtbot.wait(20)
    assert "GDA" in view.critic_choice.currentText()
    np.testing.assert_allclose(view.critic_image.image,
                               outcome.arrays[list(CRITICS.values())[1]].astype(np.float32))
    assert not np.array_equal(first, view.critic_image.image)
    assert "diverged" in view.notes.text()
    _grab_not_blank(view, tmp_path / "wgan.png")
    view.show_outcome(drain(run_wgan(WganParams(samples=40, steps=200, seeds=1))))
    assert sum(key.startswith("seed") for key in view.objective_plot.keys()) == 1
