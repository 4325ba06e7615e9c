"""The learned-reconstruction lab as a user drives it: result, combos, live stages, cancel."""
import dataclasses

import pytest

from app.registry import LABS
from app.runner import merge_partial
from engine.core import drain
from engine.learned import LearnedConfig
from engine.learned.lab import run_config

SMALL = dict(size=24, n_unrolls=2, width=4, depth=2, steps=3, eval_every=1, batch=2,
             modules=2, train_checkpoint=True, shipped=True)


@pytest.fixture(scope="module")
def small_result():
    return drain(run_config(LearnedConfig(**SMALL), "cpu"))


def _presenter(qtbot):
    spec = LABS["learned"]
    presenter = spec.load_presenter()(spec)
    qtbot.addWidget(presenter.view)
    presenter.view.resize(1000, 700)
    presenter.view.show()
    return presenter


def test_stages_draw_live_then_cancel_restores(qtbot, small_result):
    presenter = _presenter(qtbot)
    presenter.show_result(small_result)
    for name in ("dashboard", "compare", "memory"):
        presenter.show_view(name)
    box = presenter.compare.method_box
    titles = [box.itemText(i) for i in range(box.count())]
    assert titles[:2] == ["zero-filled", "CG-SENSE"] and "GLEAM" in titles
    for i in range(box.count()):
        box.setCurrentIndex(i)
    strip = presenter.dashboard.strip_box
    for i in range(strip.count()):
        strip.setCurrentIndex(i)
    assert "GLEAM" in presenter.info.text()
    stages = None
    gen = run_config(LearnedConfig(**{**SMALL, "seed": 3}), "cpu")
    for _ in range(4):                      # data + a few curves, then "cancel"
        p = next(gen)
        if p.partial is not None:
            stages = merge_partial(stages, p.partial)
            presenter.show_partial(stages)
    gen.close()
    assert presenter.dashboard.loss_plot.keys()
    assert presenter.run_abandoned()
    assert presenter.compare.method_box.count() == box.count()
    presenter.shutdown()


def test_save_trained_net_loads_back(qtbot, small_result, tmp_path):
    from engine.imaging.unrolled_io import load_unrolled
    presenter = _presenter(qtbot)
    messages = []
    presenter.sigMessage.connect(messages.append)
    assert not presenter.save_net(str(tmp_path / "none.pt"))          # nothing shown yet
    presenter.show_result(small_result)
    presenter.dashboard.strip_box.setCurrentText("GLEAM")
    assert presenter.save_net(str(tmp_path / "gleam.pt"))
    net, card = load_unrolled(tmp_path / "gleam.pt")
    gleam = next(r for r in small_result.runs if r.mode == "gleam")
    assert net.n_unrolls == gleam.n_unrolls and card["test_psnr"] == pytest.approx(gleam.test_psnr)
    assert card["size"] == 24                      # the recon lab runs it on 24² slices
    (tmp_path / "a_file").write_text("x")
    assert not presenter.save_net(str(tmp_path / "a_file" / "net.pt"))
    assert "not saved" in messages[-1]
    presenter.shutdown()


def test_scale_shift_view_draws_live_and_from_result(qtbot, small_result):
    """The scale-shift study as a user runs it: stages drawn live, the tab filled, a later
    run without the study empties it again."""
    presenter = _presenter(qtbot)
    cfg = LearnedConfig(size=16, n_unrolls=1, width=4, se_width=2, depth=2, steps=1, batch=2,
                        eval_every=1, train_gleam=False, shipped=False, scale_study=True,
                        train_otcycle=True, n_critic=1)
    gen, stages = run_config(cfg, "cpu"), None
    try:
        while True:
            p = next(gen)
            if p.partial is not None:
                stages = merge_partial(stages, p.partial)
                presenter.show_partial(stages)
    except StopIteration as stop:
        result = stop.value
    assert "scale-equivariant" in presenter.scale.psnr_plot.keys()
    presenter.show_result(result)
    presenter.show_view("scale")
    assert presenter.tabs.currentWidget() is presenter.scale
    assert "gain" in presenter.scale.note.text()
    titles = [presenter.compare.method_box.itemText(i)
              for i in range(presenter.compare.method_box.count())]
    assert "scale-equivariant" in titles and "OT-cycleGAN (unpaired)" in titles
    assert "otcycle" in presenter.dashboard.val_plot.keys()
    gen, stages = run_config(dataclasses.replace(cfg, seed=5), "cpu"), None
    for _ in range(3):                       # a new run starts (the tab empties), then cancel
        p = next(gen)
        if p.partial is not None:
            stages = merge_partial(stages, p.partial)
            presenter.show_partial(stages)
    gen.close()
    assert not presenter.scale.psnr_plot.keys()
    assert presenter.run_abandoned() and "scale-equivariant" in presenter.scale.psnr_plot.keys()
    presenter.show_result(small_result)
    assert not presenter.scale.psnr_plot.keys()
    presenter.shutdown()


TINY = dict(size=16, n_unrolls=1, width=2, depth=2, steps=1, eval_every=1, batch=2,
            train_gleam=False, shipped=False)


def _lab_message(win):
    return win.slots["learned"].message


def test_opened_volume_trains_and_too_small_is_reported(lab_window, qtbot, tmp_path):
    """File → Open volume… in this lab: the slices come from the file; a volume with too few
    slices, or a memory budget no mode meets, fails the run with the reason, and the previous
    result stays."""
    import numpy as np
    from tests.app.conftest import run_and_wait, set_config
    vol = np.zeros((30, 28, 28), np.float32)
    vol[:, 6:22, 6:22] = np.random.default_rng(0).random((30, 16, 16))
    np.save(tmp_path / "vol.npy", vol)
    np.save(tmp_path / "thin.npy", vol[:8])
    win = lab_window("learned", **TINY)
    presenter = win.slot.presenter
    assert not presenter.open_volume(str(tmp_path / "missing.npy"))
    assert "Volume not opened" in _lab_message(win)
    assert presenter.open_volume(str(tmp_path / "vol.npy"))
    cfg = win.slot.panel.config()
    assert cfg.data_source == "opened volume" and cfg.volume_path.endswith("vol.npy")
    run_and_wait(win, qtbot)
    assert presenter.result is not None and presenter.result.truth.shape == (16, 16)
    assert presenter.open_volume(str(tmp_path / "thin.npy"))
    with qtbot.waitSignal(win.runner.sigFailed, timeout=60_000):
        win.run()
    assert "Run failed" in _lab_message(win) and "fewer than the 10" in _lab_message(win)
    assert presenter.result.config.volume_path.endswith("vol.npy")       # nothing lost
    set_config(win, volume_path=str(tmp_path / "vol.npy"), memory_budget=0.001)
    with qtbot.waitSignal(win.runner.sigFailed, timeout=60_000):
        win.run()
    assert "no training mode fits the 0.001 MB memory budget" in _lab_message(win)


def test_diverging_loss_and_corrupt_weights_reach_the_user(lab_window, qtbot, tmp_path,
                                                           monkeypatch):
    """A NaN loss stops training with a note in the lab's summary; a corrupt weights file
    (here the shipped net's) is named in a note while the rest of the run is shown."""
    import copy

    import engine.learned.lab as lab
    from tests.app.conftest import run_and_wait
    real = lab._data

    def poisoned(*args):
        data = copy.deepcopy(real(*args))
        data.train.target[:] = float("nan")
        return data

    (tmp_path / "corrupt.pt").write_bytes(b"not a torch file")
    monkeypatch.setattr(lab, "_data", poisoned)
    monkeypatch.setattr(lab, "shipped_path", lambda: tmp_path / "corrupt.pt")
    win = lab_window("learned", **{**TINY, "shipped": True})
    run_and_wait(win, qtbot)
    text = win.slot.presenter.info.text()
    assert "lower the learning rate" in text and "shipped net not shown" in text
