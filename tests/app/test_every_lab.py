"""Every lab of the registry, every preset: validates, runs small, exports, draws.

One parametrised test per (lab, preset) pair of :data:`app.registry.LABS`, so a new lab or
preset is covered by adding it to the registry (docs/CONTRACTS.md, "A fifth lab"):

1. the preset's config validates into the lab's config class (no defaults fallback);
2. the run, shrunk by the lab's :data:`SMALL` override (sizes, steps, resolution only — the
   preset's story is kept), goes through the presenter's ``make_run`` — for the labs on the
   contract that is the registry's engine entry — and its partials reach the presenter as the
   runner delivers them (:func:`app.runner.merge_partial`);
3. the result is written with ``engine.core.results_io`` and every array loads back equal;
4. the presenter draws the result: its main widget, grabbed, is not blank (pixel variance)
   and differs from the view before the run.

An exception in any Qt slot fails the test (pytest-qt's exception capture is on: the app
conftest does not set ``qt_no_exception_capture``). The SMALL overrides keep the whole file
to about a minute on two shared CPU cores.
"""
import dataclasses
import inspect

import numpy as np
import pytest

from app.registry import LABS
from app.runner import merge_partial, run_sync
from engine.core import config_from_dict, validate
from engine.core.results_io import flatten_result, load_results, save_results

SMALL = {
    "gradient-flow": {"n_init": 8, "frames": 30, "t_max": 4.0, "dt": 0.05, "n_samples": 12},
    "regions": {"n_points": 12, "width": 6, "widths": "", "steps": 60, "n_seeds": 2,
                "grid": 48, "snapshots": 3, "depth": 1},
    "diffusion": {"n_particles": 100, "n_steps": 8, "n_trails": 4, "budget_study": False},
    "recon": {"size": 32, "slices": 2, "n_views": 12, "iters": 6, "every": 2,
              "diffusion_steps": 3},
    "learned": {"size": 16, "n_unrolls": 1, "width": 2, "se_width": 2, "depth": 2,
                "cg_iters": 2, "n_critic": 1, "steps": 2, "eval_every": 2, "batch": 2},
    "convex-duals": {"vo_steps": 40, "vo_seeds": 2, "bn_steps": 40, "bn_seeds": 2,
                     "den_steps": 40, "den_seeds": 1, "den_patterns": 16, "att_steps": 30,
                     "att_seeds": 2, "wgan_samples": 12, "wgan_steps": 300, "wgan_seeds": 2},
}

CASES = [(lab, preset) for lab, spec in LABS.items() for preset in spec.presets()]


def test_every_lab_has_presets_a_small_override_and_an_engine_entry():
    for name, spec in LABS.items():
        assert spec.presets(), f"{name}: no presets"
        assert name in SMALL, f"{name}: add its small override to SMALL"
        assert callable(spec.run_entry()), f"{name}: run={spec.run!r} is not callable"
        fields = {f.name for f in dataclasses.fields(spec.config_class())}
        assert set(SMALL[name]) <= fields, f"{name}: SMALL names unknown fields"


def _small(lab: str, config):
    """``config`` with the lab's SMALL override (and a deep-net depth kept shallow)."""
    changes = dict(SMALL[lab])
    if lab == "regions" and config.depth > 1:
        changes["depth"] = 2
    return dataclasses.replace(config, **changes)


def _run(presenter, config):
    """Drain the presenter's run in this thread, showing partials as the runner hands them."""
    delivered = [None]

    def on_progress(p):
        if p.partial is not None:
            delivered[0] = merge_partial(delivered[0], p.partial)
            presenter.show_partial(delivered[0])
    return run_sync(presenter.make_run(config, "cpu"), on_progress)


def _pixels(widget) -> np.ndarray:
    """The widget as drawn now, ``(h, w·4)`` bytes."""
    image = widget.grab().toImage()
    width, height = image.width(), image.height()
    buf = np.frombuffer(image.constBits(), dtype=np.uint8)
    rows = buf[:height * image.bytesPerLine()].reshape(height, image.bytesPerLine())
    return rows[:, :width * 4].astype(np.float32)


@pytest.mark.parametrize("lab,preset", CASES, ids=[f"{a}:{b}" for a, b in CASES])
def test_preset_validates_runs_exports_and_draws(lab, preset, qtbot, tmp_path):
    spec = LABS[lab]
    config = config_from_dict(spec.config_class(), spec.presets()[preset]["config"])
    validate(config)
    config = _small(lab, config)
    validate(config)
    presenter = spec.load_presenter()(spec)
    presenter.current_config = lambda: config
    view = presenter.view
    qtbot.addWidget(view)
    view.resize(1100, 750)
    view.show()
    qtbot.waitExposed(view)
    empty = _pixels(view)
    try:
        result = _run(presenter, config)
        meta = save_results(tmp_path / "r.npz", result, {"lab": lab, "preset": preset})
        arrays, loaded = load_results(tmp_path / "r.npz")
        assert loaded["lab"] == lab and sorted(arrays) == meta["fields"]
        for key, value in flatten_result(result)[0].items():
            np.testing.assert_array_equal(arrays[key], value, err_msg=key)
        presenter.show_result(result)
        presenter.show_view(spec.presets()[preset].get("view"))
        presenter.set_frame(max(0, presenter.frame_count() - 1))
        qtbot.wait(10)
        drawn = _pixels(view)
        assert drawn.std() > 5.0, "the lab's view is blank"
        assert np.abs(drawn - empty).mean() > 0.5, "the result drew nothing new"
    finally:
        presenter.shutdown()


def test_the_registry_entries_are_the_engine_lab_modules():
    """Every lab runs through ``engine.<lab>.lab:run_config`` (the lab contract)."""
    for spec in LABS.values():
        module, _, attr = spec.run.partition(":")
        assert module.startswith("engine.") and module.endswith(".lab") and attr == "run_config"
        params = list(inspect.signature(spec.run_entry()).parameters)
        assert params[:2] == ["cfg", "device"], spec.name
