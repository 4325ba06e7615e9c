"""Divergence guards of the learned lab (issue #17: no silent NaN; engine/learned/guard.py).

The full fuzz run found OT-cycleGAN alone at lr ≈ 0.4 returning a NaN unroll strip and
reconstruction with no note (finite weights whose K = 24 unrolls overflow). A diverged step
must stop the run with a note and keep the weights of the step before it.
"""
import dataclasses

import numpy as np
import pytest
import torch

from engine.core import drain
from engine.core.results_io import flatten_result
from engine.learned import LearnedConfig, brain_slices
from engine.learned.cyclegan import PatchCritic, _critic_steps
from engine.learned.guard import checked_validation, nonfinite_notes
from engine.learned.lab import run_config
from engine.learned.steps import Diverged, _update

# Chunk 35, run 8 of the learned fuzz (seed 0): the silent NaN of the full run.
FUZZ_35_8 = dict(net="varnet", n_unrolls=2, width=4, depth=2, cg_iters=3, train_e2e=False,
                 train_checkpoint=False, train_gleam=False, modules=4, gleam_factor=2,
                 memory_budget=814198.7391154933, budget_picks_k=True, size=21,
                 acceleration=10.503921932347474, n_coils=4, noise=0.017636011290172515,
                 steps=2, lr=0.396691798054077, batch=2, eval_every=2, train_otcycle=True,
                 gan_weight=4.2099958780818465, n_critic=1, se_width=2, shipped=False,
                 seed=2128101583)


def test_fuzz_config_stops_with_a_note_and_shows_the_last_good_weights(tmp_path):
    cfg = LearnedConfig(**FUZZ_35_8, checkpoint_dir=str(tmp_path / "a"))
    result = drain(run_config(cfg, "cpu"))
    arrays, _ = flatten_result(result)
    assert all(np.isfinite(arrays[k]).all() for k in ("runs/0/strip", "runs/0/recon", "truth"))
    run = result.runs[0]
    assert run.mode == "otcycle" and len(run.loss) == 1
    assert "diverged at step 2" in run.message and "weights of step 1 are kept" in run.message
    assert any(n.startswith("OT-cycleGAN (unpaired): diverged at step 2") for n in result.notes)
    # the weights shown are those of step 1: exactly the 1-step run's (same seed, batches)
    one = drain(run_config(dataclasses.replace(cfg, steps=1,
                                               checkpoint_dir=str(tmp_path / "b")), "cpu"))
    np.testing.assert_array_equal(run.recon, one.runs[0].recon)
    assert one.runs[0].message == ""

# Chunk 15, run 11: finite weights and validation, NaN on the test slices only (checkpointing).
FUZZ_15_11 = dict(net="modl", n_unrolls=2, width=4, depth=2, cg_iters=2, train_e2e=False,
                  train_checkpoint=True, train_gleam=False, modules=1, gleam_factor=1,
                  memory_budget=445158.35192560405, budget_picks_k=True, size=19,
                  acceleration=6.26994023031725, n_coils=4, noise=0.07596425065187605,
                  steps=2, lr=0.43682849913767785, batch=1, eval_every=2, train_otcycle=False,
                  gan_weight=6.757553404947681, n_critic=2, shipped=False, seed=670689623)


def test_a_net_finite_on_validation_but_not_on_the_test_slices_is_rolled_back(tmp_path):
    result = drain(run_config(LearnedConfig(**FUZZ_15_11, checkpoint_dir=str(tmp_path)), "cpu"))
    run = result.runs[0]
    assert np.isfinite(run.strip).all() and np.isfinite(run.test_psnr)
    assert "test reconstructions became NaN/inf" in run.message and len(run.loss) == 1


def test_a_nan_critic_loss_raises_before_any_update():
    torch.manual_seed(0)
    critic = PatchCritic(4)
    before = [p.detach().clone() for p in critic.parameters()]
    opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
    x = torch.ones(2, 16, 16, dtype=torch.complex64)
    with pytest.raises(Diverged, match="critic's loss"):
        _critic_steps(critic, opt, x, x * float("nan"), 1, torch.Generator().manual_seed(0))
    assert all(torch.equal(p, b) for p, b in zip(critic.parameters(), before))


def test_a_nan_gradient_with_a_finite_loss_is_refused():
    p = torch.zeros(3, requires_grad=True)
    opt = torch.optim.SGD([p], lr=1.0)
    loss = p.abs().sqrt().sum()           # value 0, gradient 0 · inf = NaN at p = 0
    with pytest.raises(Diverged, match="gradients"):
        _update(opt, loss)
    assert torch.equal(p.detach(), torch.zeros(3))


class _Overflowing(torch.nn.Module):
    def forward(self, k, op):
        return torch.full((k.shape[0], 16, 16), float("inf"), dtype=torch.complex64)


def test_validation_refuses_a_non_finite_reconstruction_only_when_due():
    data = brain_slices(size=16, acceleration=4, n_coils=2, seed=0)
    net = _Overflowing()
    assert checked_validation(net, data, 1, 2, 4, "cpu") is None      # not due: not measured
    with pytest.raises(Diverged, match="validation reconstructions"):
        checked_validation(net, data, 2, 2, 4, "cpu")


def test_every_non_finite_array_is_named_in_a_note():
    @dataclasses.dataclass
    class Run:
        title: str
        recon: np.ndarray
        strip: np.ndarray
        test_psnr: float

    good = Run("end-to-end", np.ones(2), np.ones((2, 2)), 30.0)
    bad = Run("GLEAM", np.array([1.0, np.nan]), np.ones((2, 2)), float("inf"))
    notes = nonfinite_notes([good, None, bad], {"truth": np.ones(3), "CG-SENSE": np.r_[np.inf]})
    assert notes == ["GLEAM: recon, test_psnr not finite (NaN/inf): the net's output "
                     "overflowed; lower the learning rate", "CG-SENSE: not finite (NaN/inf)"]
    assert nonfinite_notes([good], {"truth": np.ones(3)}) == []
