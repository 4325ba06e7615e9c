"""The reconstruction lab in the shell: CT and MRI runs, convergence frames, files."""
import numpy as np
import pytest

from engine.recon.lab import ReconConfig, run
from tests.app.conftest import run_and_wait, set_config

SMALL = {"size": 32, "slices": 4, "n_views": 12, "iters": 10, "every": 2}


@pytest.fixture
def window(lab_window):
    return lab_window("recon", **SMALL)


def test_ct_run_fills_compare_view_and_iterates(window, qtbot):
    run_and_wait(window, qtbot)
    presenter = window.slot.presenter
    r = presenter.result
    assert [m.name for m in r.runs] == ["fbp", "tv"]
    assert window.playback.frame_count() == presenter.frame_count() == 6
    window.playback.sigFrameChanged.emit(0)
    first = presenter.viewers[2].volume()
    assert np.allclose(first, r.runs[1].iterates[0][1])
    window.playback.sigFrameChanged.emit(5)
    assert np.allclose(presenter.viewers[2].volume(), r.runs[1].volume)
    assert "PSNR" in window.status_label.text()


def test_mri_run_and_mismatched_method_is_refused(window, qtbot):
    set_config(window, modality="mri", method_a="zero_filled", method_b="cg_sense")
    run_and_wait(window, qtbot)
    assert window.slot.presenter.coils.isVisibleTo(window.slot.presenter.view)
    set_config(window, method_a="fbp")
    with qtbot.waitSignal(window.runner.sigFailed, timeout=60_000):
        window.run()
    assert "does not apply to MRI" in window.status_label.text()


def test_slice_psnr_click_jumps_to_slice(window, qtbot):
    run_and_wait(window, qtbot)
    presenter = window.slot.presenter
    presenter._jump_to_slice(2.2, 20.0)
    assert presenter.viewers[0].cursor()[2] == 2


def test_open_corrupt_volume_keeps_config(window, tmp_path):
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not a nifti file")
    before = window.slot.panel.config()
    assert not window.slot.presenter.open_volume(str(bad))
    assert window.slot.panel.config() == before
    assert "not opened" in window.status_label.text()


def test_open_and_save_nifti_round_trip(window, qtbot, tmp_path):
    run_and_wait(window, qtbot)
    out = tmp_path / "a.nii.gz"
    assert window.slot.presenter.save_result(str(out))
    assert window.slot.presenter.open_volume(str(out))
    cfg = window.slot.panel.config()
    assert cfg.source == "file" and cfg.path == str(out)
    run_and_wait(window, qtbot)
    assert window.slot.presenter.result.truth.shape == (4, 32, 32)


def test_engine_tv_beats_fbp_on_sparse_views():
    r = run(ReconConfig(size=64, slices=5, n_views=20, method_a="fbp", method_b="tv",
                        iters=100, lam=1e-3, every=50))
    assert r.runs[1].psnr > r.runs[0].psnr + 3


def test_slice_sweep_movie(window, qtbot, tmp_path):
    import imageio.v3 as iio
    run_and_wait(window, qtbot)
    out = tmp_path / "sweep.gif"
    assert window.slot.presenter.export_slice_sweep(str(out))
    assert iio.imread(out, index=None).shape[0] == 4


def test_radon_operator_is_reused_between_runs():
    from engine.recon.lab import cached_radon
    assert cached_radon(32, 12, 180.0, "cpu") is cached_radon(32, 12, 180.0, "cpu")
    assert cached_radon(32, 12, 180.0, "cpu") is not cached_radon(32, 13, 180.0, "cpu")


DIFFUSION = {"size": 64, "slices": 3, "n_views": 8, "method_a": "fbp", "method_b": "dds",
             "also": "tv", "diffusion_steps": 4, "iters": 5, "every": 2}


def test_diffusion_method_ranks_with_the_others(window, qtbot):
    set_config(window, **DIFFUSION)
    run_and_wait(window, qtbot)
    p = window.slot.presenter
    assert [m.name for m in p.result.runs] == ["fbp", "dds", "tv"]
    table = p.ranking
    assert table.rowCount() == 3
    psnrs = [float(table.item(row, 2).text()) for row in range(3)]
    assert psnrs == sorted(psnrs, reverse=True)
    tv_row = [table.item(row, 1).text() for row in range(3)].index("tv")
    table.cellDoubleClicked.emit(tv_row, 1)
    assert p.viewers[2].title_label.text().startswith("B: tv")
    assert np.allclose(p.viewers[2].volume(), p.result.runs[2].volume)
    assert len(p.result.runs[1].iterates) == 2           # every 2nd of 4 diffusion steps


def test_convergence_shows_the_data_residual(window, qtbot):
    set_config(window, **DIFFUSION)
    run_and_wait(window, qtbot)
    p = window.slot.presenter
    p.conv_box.setCurrentIndex(1)
    assert set(p.conv_plot.keys()) == {"fbp", "dds", "tv"}
    dds = p.result.runs[1].residual_curve
    assert dds[-1][1] < dds[0][1] and dds[-1][1] < 1e-2     # DDS ends data-consistent


def test_missing_prior_is_a_note_and_the_other_methods_run(window, qtbot, tmp_path):
    set_config(window, **DIFFUSION, prior_path=str(tmp_path / "missing.pt"))
    run_and_wait(window, qtbot)
    r = window.slot.presenter.result
    assert [m.name for m in r.runs] == ["fbp", "tv"]
    assert "dds skipped" in window.status_label.text()
    assert "Train one" in window.status_label.text()


def test_fast_methods_are_shown_before_the_slow_ones():
    from engine.recon.lab import run_config
    gen = run_config(ReconConfig(**{**DIFFUSION, "method_a": "dds", "method_b": "fbp"}))
    done = []
    try:
        while True:
            p = next(gen)
            if isinstance(p.partial, dict) and p.partial.get("done"):
                done.append(p.partial["method"])
    except StopIteration as stop:
        result = stop.value
    assert done == ["fbp", "tv", "dds"]
    assert [m.name for m in result.runs] == ["dds", "fbp", "tv"]       # A, B, extras


def test_every_recon_preset_is_a_valid_config():
    import json
    from pathlib import Path

    from engine.core import config_from_dict, validate
    from engine.recon.lab import _check_methods
    presets = json.loads((Path(__file__).parents[2] / "resources/presets/recon.json").read_text())
    assert {"diffusion-ct-8", "diffusion-mri-8"} <= set(presets)
    for name, preset in presets.items():
        cfg = config_from_dict(ReconConfig, preset["config"])
        validate(cfg)
        names = _check_methods(cfg)
        if name.startswith("diffusion"):
            assert len(names) >= 3 and cfg.size in (64, 128)


def test_rotation_movie(window, qtbot, tmp_path):
    import imageio.v3 as iio
    presenter = window.slot.presenter
    if not presenter.volume3d.available:
        pytest.skip("no OpenGL on this display (runs under pytest-xvfb)")
    run_and_wait(window, qtbot)
    start = presenter.volume3d.azimuth()
    out = tmp_path / "turn.gif"
    assert presenter.export_rotation(str(out), n_frames=8, fps=8)
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == 8 and not np.array_equal(frames[0], frames[2])
    assert presenter.volume3d.azimuth() == pytest.approx(start)


def test_train_prior_button_opens_the_dialog_and_a_ready_prior_is_used(window, qtbot):
    presenter = window.slot.presenter
    dialog = presenter.train_prior()
    assert dialog.isVisible() and dialog.form.device_label.text()
    dialog.sigPriorReady.emit("/tmp/my_prior_64.pt")
    assert window.slot.panel.config().prior_path == "/tmp/my_prior_64.pt"
    dialog.close()


def test_methods_table_drives_modality_order_knobs_and_steps():
    from engine.recon.lab import ALL_METHODS, CT_METHODS, DIFFUSION_METHODS, MRI_METHODS
    from engine.recon.methods import METHODS, method_knobs, methods_for
    assert CT_METHODS == ("fbp", "sirt", "cgls", "tv")
    assert MRI_METHODS == ("zero_filled", "cg_sense", "cs_tv", "cs_wavelet", "unrolled_net")
    assert DIFFUSION_METHODS == ("dds", "mbir", "mcg", "ccdf")
    assert ALL_METHODS == CT_METHODS + MRI_METHODS + DIFFUSION_METHODS
    assert methods_for("mri") == MRI_METHODS + DIFFUSION_METHODS
    cfg = ReconConfig(iters=7, diffusion_steps=20, t0=0.3, tv_z=0.01, lam=0.5)
    order = sorted(["ccdf", "tv", "fbp"], key=lambda n: METHODS[n].cost)
    assert order == ["fbp", "tv", "ccdf"]
    steps = {n: METHODS[n].steps(method_knobs(n, cfg)) for n in ("fbp", "tv", "dds", "ccdf")}
    assert steps == {"fbp": 0, "tv": 7, "dds": 20, "ccdf": 6}            # ⌊0.3 · 20⌋
    assert method_knobs("tv", cfg) == {"iters": 7, "lam": 0.5}
    assert method_knobs("mbir", cfg)["tv_z"] == 0.01 and "t0" not in method_knobs("mbir", cfg)
