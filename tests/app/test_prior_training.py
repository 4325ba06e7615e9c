"""The slice-prior training dialog (issue #6): trains a tiny prior with live progress, cancel
leaves weights and a checkpoint, resume continues from the saved step, bad volumes are
reported and the dialog stays usable."""
import time

import numpy as np
import pytest
from PySide6.QtWidgets import QWidget

from app.labs.prior_training import (TrainPriorDialog, open_train_dialog, step_rate_text,
                                     time_left_text, volume_name)
from engine.slice_prior import load_slice_prior
from engine.slice_prior.checkpoint import load_checkpoint
from engine.slice_prior.train import TrainConfig, cpu_has_native_bf16

TINY = {"base": 8, "mults": (1, 2), "warmup": 2}


@pytest.fixture
def dialog(qtbot, tmp_path, monkeypatch):
    """A dialog training tiny networks on the CPU; user folder = ``tmp_path``."""
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path))
    made = []

    def make(steps=12, batch=4):
        dlg = TrainPriorDialog(device="cpu", sizes=(16, 64, 128), overrides=TINY)
        qtbot.addWidget(dlg)
        dlg.form.size_box.setCurrentIndex(dlg.form.size_box.findData(16))
        dlg.form.steps_spin.setValue(steps)
        dlg.form.batch_spin.setValue(batch)
        made.append(dlg)
        return dlg

    yield make
    for dlg in made:
        dlg.shutdown()
    made.clear()                # tests/app/conftest.py frees the dialogs after the test


def test_defaults_device_and_output_path(dialog, tmp_path):
    dlg = dialog()
    assert "CPU" in dlg.form.device_label.text()
    assert ("bfloat16" in dlg.form.device_label.text()) == cpu_has_native_bf16()
    assert dlg.form.out_edit.text() == str(tmp_path / "priors" / "phantoms_16.pt")
    assert dlg.form.ckpt_edit.text() == str(tmp_path / "priors" / "phantoms_16.ckpt.pt")
    dlg.form.size_box.setCurrentIndex(dlg.form.size_box.findData(128))
    assert dlg.form.out_edit.text().endswith("phantoms_128.pt")
    assert volume_name("/data/My scan.nii.gz") == "My_scan" and volume_name("") == "phantoms"
    assert not dlg.form.cancel_button.isEnabled() and dlg.form.start_button.isEnabled()


def test_trains_a_tiny_prior_with_live_progress(dialog, qtbot):
    dlg = dialog(steps=30)
    steps_seen = []
    dlg.runner.sigPartial.connect(lambda p: steps_seen.append(p["step"]))
    with qtbot.waitSignal(dlg.sigPriorReady, timeout=60_000) as ready:
        assert dlg.start()
        assert dlg.form.cancel_button.isEnabled() and not dlg.form.start_button.isEnabled()
    path = ready.args[0]
    assert path == dlg.form.out_edit.text() and steps_seen
    assert dlg.form.progress.value() == 1000 and "Done: 30 steps" in dlg.form.status.text()
    assert "elapsed, about 0:00 left" in dlg.form.progress.format()
    xs, ys = dlg.form.curve.item("loss").getData()
    assert list(xs) == [float(s) for s in range(1, 31)] and np.all(np.isfinite(ys))
    prior = load_slice_prior(16, path=path)
    assert prior.card["steps"] == 30 and prior.card["device"] == "cpu"
    assert "phantoms" in prior.card["data"]
    assert dlg.form.resume_box.isChecked() and dlg.form.start_button.isEnabled()


def test_cancel_saves_weights_and_checkpoint_and_resume_continues(dialog, qtbot):
    dlg = dialog(steps=100_000)
    assert dlg.start()
    qtbot.waitUntil(lambda: len(dlg._curve[0]) >= 2, timeout=60_000)
    live = dlg.form.progress.format()
    assert "elapsed, about" in live and ("steps/s" in live or "s/step" in live)
    dlg.cancel()
    qtbot.waitUntil(lambda: "Cancelled at step" in dlg.form.status.text(), timeout=60_000)
    assert dlg.form.start_button.isEnabled() and dlg.form.resume_box.isChecked()
    state, cfg = load_checkpoint(dlg.form.ckpt_edit.text())
    saved = state["step"]
    assert saved > 0 and saved % cfg.every == 0 and f"step {saved}" in dlg.form.status.text()
    assert dlg.form.progress.format().startswith(f"step {saved} of 100000")
    assert load_slice_prior(16, path=dlg.form.out_edit.text()).card["steps"] == saved

    dlg.form.steps_spin.setValue(saved + 3)
    with qtbot.waitSignal(dlg.sigPriorReady, timeout=60_000):
        assert dlg.start()
    assert dlg._outcome["resumed_from"] == saved
    card = load_slice_prior(16, path=dlg.form.out_edit.text()).card
    assert card["steps"] == saved + 3
    assert [s for s, _ in card["curve"]][-1] == saved + 3
    assert dlg.form.curve.item("loss").getData()[0][-1] == saved + 3


def test_bad_volume_is_reported_and_the_dialog_stays_usable(dialog, qtbot, tmp_path):
    dlg = dialog(steps=3)
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"definitely not gzip")
    dlg.set_volume(str(bad))
    qtbot.waitUntil(lambda: "Cannot use this volume" in dlg.form.volume_info.text(), timeout=20_000)
    assert "broken.nii.gz" in dlg.form.volume_info.text()
    assert not dlg.start() and "could not be read (see above)" in dlg.form.status.text()

    dlg.set_volume(str(tmp_path / "missing.npy"))
    qtbot.waitUntil(lambda: "no such file" in dlg.form.volume_info.text(), timeout=20_000)

    good = tmp_path / "head scan.npy"
    np.save(good, np.random.default_rng(0).random((10, 24, 20)).astype(np.float32) * 900)
    dlg.set_volume(str(good))
    qtbot.waitUntil(lambda: dlg.volume is not None, timeout=20_000)
    assert "10 × 24 × 20" in dlg.form.volume_info.text()
    assert float(dlg.volume.max()) == 1.0 and float(dlg.volume.min()) == 0.0
    assert dlg.form.out_edit.text().endswith("head_scan_16.pt")
    dlg.form.phantoms_box.setChecked(False)
    with qtbot.waitSignal(dlg.sigPriorReady, timeout=60_000) as ready:
        assert dlg.start()
    card = load_slice_prior(16, path=ready.args[0]).card
    assert "head scan.npy" in card["data"] and "phantoms" not in card["data"]
    assert "--mix volume" in card["command"]


def test_volume_only_without_a_volume_and_missing_checkpoint_are_refused(dialog):
    dlg = dialog()
    dlg.form.phantoms_box.setChecked(False)
    assert not dlg.start() and "Choose a volume" in dlg.form.status.text()
    dlg.form.phantoms_box.setChecked(True)
    dlg.form.resume_box.setChecked(True)
    assert not dlg.start() and "No checkpoint to resume" in dlg.form.status.text()
    assert not dlg.runner.is_running()


def test_open_train_dialog_reuses_an_open_dialog(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path))
    parent = QWidget()
    qtbot.addWidget(parent)
    first = open_train_dialog(parent, device="cpu")
    assert first.isVisible() and open_train_dialog(parent) is first
    first.close()
    second = open_train_dialog(parent, device="cpu")
    assert second is not first
    second.close()


def test_time_left_follows_the_step_rate_of_this_run():
    assert time_left_text(65, 10, 30) == "1:05 elapsed, about 3:15 left"
    assert time_left_text(0.2, 0, 100) == "0:00 elapsed"
    assert time_left_text(3600 + 61, 1, 1) == "1:01:01 elapsed, about 1:01:01 left"


def test_progress_shows_elapsed_and_time_left_of_a_resumed_run(dialog):
    dlg = dialog()
    dlg._outcome = {"cfg": TrainConfig(steps=100), "resumed_from": 20, "curve": []}
    dlg._started_at = time.monotonic() - 30.0          # 30 steps (20 → 50) in 30 s
    dlg._on_partial({"step": 50, "loss": 1.0})
    shown = dlg.form.progress.format()
    assert "0:30 elapsed, about 0:50 left   " in shown
    assert shown.endswith(("1.0 steps/s", "1.00 s/step"))       # 30 steps in 30 s


def test_step_rate_is_steps_per_second_or_seconds_per_step():
    assert step_rate_text(10.0, 25) == "2.5 steps/s"
    assert step_rate_text(16.0, 10) == "1.60 s/step"
    assert step_rate_text(0.0, 0) == "" and step_rate_text(5.0, 0) == ""
