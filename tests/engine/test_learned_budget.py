"""The learned lab's memory budget and user volumes: measured figures, clear refusals
(SCIENCE.md §6.3.2, §6.1)."""
import numpy as np
import pytest
import torch

from engine.core import drain
from engine.imaging.unrolled import unrolled_net
from engine.learned import LearnedConfig, brain_slices
from engine.learned.budget import MB, fit_budget, run_bytes
from engine.learned.lab import run_config
from engine.learned.steps import module_ranges, run_step

TINY = dict(size=24, n_unrolls=2, width=4, depth=2, steps=2, eval_every=2, batch=2,
            modules=2, gleam_factor=2, train_gleam=True, shipped=False)


@pytest.fixture(scope="module")
def data():
    return brain_slices(size=24, acceleration=4, n_coils=2, seed=0)


@pytest.mark.parametrize("mode, modules", [("e2e", 1), ("checkpoint", 1), ("gleam", 2)])
def test_budget_figure_is_the_training_steps_count(data, mode, modules):
    """The figure measured before training equals the count of the training step itself."""
    torch.manual_seed(0)
    net = unrolled_net("varnet", 4, 4, 2)
    before = run_bytes(net, mode, modules, data, 2)
    ranges = module_ranges(4, modules)
    opts = [torch.optim.SGD(net.parameters(), lr=0.0) for _ in ranges]
    step = run_step(net, mode, data.train.k[:2], data.train.target[:2], data.operator(),
                    ranges, opts, count=True)
    assert before == step.saved_bytes > 0


def test_fit_budget_keeps_what_fits_and_names_the_smallest():
    plan = [("e2e", 4, 1), ("gleam", 4, 2)]
    sizes = {"e2e": 4 * MB, "gleam": 2 * MB}
    kept, measured, notes = fit_budget(plan, 3.0, lambda m, k, g: sizes[m], lambda: MB)
    assert kept == [("gleam", 4, 2)] and measured == sizes
    assert "e2e (K = 4) refused: needs 4.00 MB" in notes[0]
    assert fit_budget(plan, 0.0, None, None) == (plan, {}, [])
    with pytest.raises(ValueError, match=r"smallest, gleam, needs 2.00 MB.*one unroll.*1.00 MB"):
        fit_budget(plan, 1.5, lambda m, k, g: sizes[m], lambda: MB)


def test_lab_refuses_over_budget_modes():
    """A budget under every mode refuses the run naming the smallest figure; a budget between
    GLEAM (2 modules of 2 unrolls) and end-to-end (4 unrolls) trains GLEAM alone, with a note."""
    with pytest.raises(ValueError, match="no training mode fits the 0.001 MB"):
        drain(run_config(LearnedConfig(**TINY, memory_budget=0.001), "cpu"))
    cfg = LearnedConfig(**{**TINY, "gleam_factor": 1, "n_unrolls": 4}, memory_budget=0.0)
    sizes = {run.mode: run.peak_bytes for run in drain(run_config(cfg, "cpu")).runs}
    assert sizes["gleam"] < sizes["e2e"]
    budget = (sizes["e2e"] + sizes["gleam"]) / 2 / MB
    result = drain(run_config(LearnedConfig(**{**TINY, "gleam_factor": 1, "n_unrolls": 4},
                                            memory_budget=budget), "cpu"))
    assert [r.mode for r in result.runs] == ["gleam"]
    assert any("end-to-end" in n or "e2e" in n for n in result.notes)


def test_user_volume_trains_and_too_small_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    vol = np.zeros((30, 28, 28), np.float32)
    vol[:, 6:22, 6:22] = rng.random((30, 16, 16))
    good = tmp_path / "vol.npy"
    np.save(good, vol)
    cfg = dict(TINY, data_source="opened volume", volume_path=str(good))
    result = drain(run_config(LearnedConfig(**cfg), "cpu"))
    assert result.truth.shape == (24, 24) and all(np.isfinite(r.test_psnr) for r in result.runs)
    small = tmp_path / "thin.npy"
    np.save(small, vol[:8])
    with pytest.raises(ValueError, match="thin.npy: .*fewer than the 10"):
        drain(run_config(LearnedConfig(**dict(cfg, volume_path=str(small))), "cpu"))
    with pytest.raises(ValueError, match="File → Open volume"):
        drain(run_config(LearnedConfig(**dict(cfg, volume_path="")), "cpu"))


def test_budget_picks_the_largest_k_that_fits():
    from engine.learned.budget import pick_unrolls
    assert pick_unrolls(lambda k: (1 + 2 * k) * MB, 10.0, 24) == 4        # 9 MB ≤ 10 < 11
    assert pick_unrolls(lambda k: (1 + 2 * k) * MB, 2.0, 24) == 1         # nothing fits: 1
    assert pick_unrolls(lambda k: (1 + 2 * k) * MB, 1e3, 6) == 6          # capped at k_max
    cfg = dict(TINY, gleam_factor=2, modules=2, budget_picks_k=True)
    probe = drain(run_config(LearnedConfig(**dict(cfg, budget_picks_k=False, n_unrolls=3)),
                             "cpu"))
    need = max(r.peak_bytes for r in probe.runs)      # K = 3: every mode's figure
    result = drain(run_config(LearnedConfig(**cfg, memory_budget=(need + 1) / MB), "cpu"))
    runs = {r.mode: r for r in result.runs}
    assert result.config.n_unrolls == 3 and runs["gleam"].n_unrolls == 6
    assert max(r.peak_bytes for r in result.runs) <= need + 1
    assert "K = 3 picked" in result.notes[0]
