"""Known-answer tests of slice-prior training: exact resume from a checkpoint, the loss goes
down, divergence is a clear error, user volumes, the command line (issue #6)."""
import math

import numpy as np
import pytest
import torch

from engine.slice_prior import load_slice_prior
from engine.slice_prior.checkpoint import (checkpoint_path, load_checkpoint, save_checkpoint,
                                           train_to_files_iter)
from engine.slice_prior.train import (TrainConfig, cpu_has_native_bf16, load_training_volume,
                                      main, new_state, train_prior_iter, uses_bf16)

TINY = dict(size=16, base=8, mults=(1, 2), batch=4, warmup=2, every=1, seed=3)


def drain(gen):
    """Run a progress generator to the end; its return value."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("precision", ["auto", "float32"])
def test_checkpoint_resume_equals_an_uninterrupted_run(tmp_path, precision):
    brain = torch.rand(12, 20, 20, generator=torch.Generator().manual_seed(0))
    cfg = TrainConfig(steps=6, precision=precision, **TINY)
    full = drain(train_prior_iter(cfg, "cpu", brain))

    state = new_state(cfg, "cpu")
    gen = train_prior_iter(cfg, "cpu", brain, state)
    for _ in range(3):
        next(gen)
    gen.close()                                    # cancel after step 3
    assert state["step"] == 3
    save_checkpoint(tmp_path / "c.pt", state, cfg, {"data": "test"})
    torch.load(tmp_path / "c.pt", weights_only=True)          # plain data only
    resumed, cfg2 = load_checkpoint(tmp_path / "c.pt", "cpu")
    assert cfg2 == cfg and resumed["step"] == 3 and resumed["meta"]["data"] == "test"
    drain(train_prior_iter(cfg2, "cpu", brain, resumed))

    assert resumed["step"] == full["step"] == 6
    assert same_tensors(resumed["net"].state_dict(), full["net"].state_dict())
    assert same_tensors(resumed["ema"].state_dict(), full["ema"].state_dict())
    assert resumed["curve"] == full["curve"]
    exp_a = [s["exp_avg"] for s in resumed["opt"].state_dict()["state"].values()]
    exp_b = [s["exp_avg"] for s in full["opt"].state_dict()["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(exp_a, exp_b))


def test_fresh_runs_are_reproducible_and_seeded():
    cfg = TrainConfig(steps=2, **TINY)
    a, b = (drain(train_prior_iter(cfg, "cpu")) for _ in range(2))
    assert same_tensors(a["ema"].state_dict(), b["ema"].state_dict())
    c = drain(train_prior_iter(TrainConfig(**{**TINY, "seed": 4}, steps=2), "cpu"))
    assert not same_tensors(a["ema"].state_dict(), c["ema"].state_dict())


def test_loss_decreases_over_a_hundred_tiny_steps():
    cfg = TrainConfig(steps=100, lr=2e-3, **{**TINY, "every": 10, "batch": 8})
    curve = drain(train_prior_iter(cfg, "cpu"))["curve"]
    assert [s for s, _ in curve] == list(range(10, 101, 10))
    assert curve[-1][1] < 0.6 * curve[0][1]


@pytest.mark.parametrize("lr, match", [(float("nan"), "not a positive finite number"),
                                       (float("inf"), "not a positive finite number"),
                                       (1e30, "diverged at step 5.*lower the learning rate")])
def test_nan_or_diverging_learning_rate_is_a_clear_error(lr, match):
    cfg = TrainConfig(steps=20, lr=lr, **{**TINY, "every": 5})
    with pytest.raises(FloatingPointError, match=match):
        drain(train_prior_iter(cfg, "cpu"))


def test_volume_only_mix_needs_a_volume_and_unknown_mix_is_refused():
    with pytest.raises(ValueError, match="needs a training volume"):
        drain(train_prior_iter(TrainConfig(steps=1, mix="volume", **TINY), "cpu"))
    with pytest.raises(ValueError, match="unknown training mixture"):
        drain(train_prior_iter(TrainConfig(steps=1, mix="cats", **TINY), "cpu"))
    with pytest.raises(ValueError, match="unknown precision"):
        drain(train_prior_iter(TrainConfig(steps=1, precision="fp8", **TINY), "cpu"))
    vol = torch.rand(8, 16, 16)
    state = drain(train_prior_iter(TrainConfig(steps=1, mix="volume", **TINY), "cpu", vol))
    assert state["step"] == 1


def test_training_volume_is_min_max_scaled(tmp_path):
    arr = np.linspace(-1000, 3000, 4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    np.save(tmp_path / "v.npy", arr)
    vol = load_training_volume(tmp_path / "v.npy")
    assert vol.shape == (4, 5, 6) and float(vol.min()) == 0.0 and float(vol.max()) == 1.0
    np.save(tmp_path / "flat.npy", np.ones((3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="constant"):
        load_training_volume(tmp_path / "flat.npy")
    (tmp_path / "bad.nii").write_bytes(b"not a nifti")
    with pytest.raises(ValueError, match="bad.nii"):
        load_training_volume(tmp_path / "bad.nii")
    with pytest.raises(FileNotFoundError):
        load_training_volume(tmp_path / "missing.nii.gz")


def test_bad_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a Flowscope"):
        load_checkpoint(tmp_path / "other.pt")
    cfg = TrainConfig(steps=1, **TINY)
    state = drain(train_prior_iter(cfg, "cpu"))
    save_checkpoint(tmp_path / "c.pt", state, cfg)
    blob = torch.load(tmp_path / "c.pt", weights_only=True)
    blob["unet"]["base"] = 16
    torch.save(blob, tmp_path / "arch.pt")
    with pytest.raises(ValueError, match="another architecture"):
        load_checkpoint(tmp_path / "arch.pt")


def test_train_to_files_cancel_then_resume(tmp_path):
    out = tmp_path / "priors" / "mine_16.pt"
    cfg = TrainConfig(steps=4, **TINY)
    outcome = {}
    gen = train_to_files_iter(cfg, "cpu", None, out, data="phantoms", outcome=outcome)
    next(gen)
    next(gen)
    gen.close()                                               # cancel at step 2
    ck = checkpoint_path(out)
    assert ck.name == "mine_16.ckpt.pt"
    assert outcome["cancelled"] and outcome["step"] == 2 and ck.is_file() and out.is_file()
    assert load_slice_prior(16, path=out).card["steps"] == 2
    res = drain(train_to_files_iter(cfg, "cpu", None, out, resume=True, data="phantoms"))
    assert res["resumed_from"] == 2 and res["step"] == 4 and not res["cancelled"]
    prior = load_slice_prior(16, path=out)
    assert prior.card["steps"] == 4 and [s for s, _ in prior.card["curve"]] == [1, 2, 3, 4]
    assert [s for s, _ in res["curve"]] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="already at step 4"):
        drain(train_to_files_iter(cfg, "cpu", None, out, resume=True))
    with pytest.raises(ValueError, match="choose size 16"):
        drain(train_to_files_iter(TrainConfig(**{**TINY, "size": 32}, steps=9), "cpu", None,
                                  out, resume=True))


def test_cli_two_steps_writes_a_loadable_prior(tmp_path, capsys):
    out = tmp_path / "p.pt"
    vol = np.random.default_rng(0).random((10, 24, 24)).astype(np.float32)
    np.save(tmp_path / "vol.npy", vol)
    rc = main(["--size", "64", "--steps", "2", "--batch", "2", "--base", "8", "--every", "1",
               "--brain", str(tmp_path / "vol.npy"), "--mix", "volume", "--out", str(out)])
    assert rc == 0 and "saved" in capsys.readouterr().out
    prior = load_slice_prior(64, path=out)
    assert prior.card["steps"] == 2 and "--mix volume" in prior.card["command"]
    assert "vol.npy" in prior.card["data"] and math.isfinite(prior.card["curve"][-1][1])
    assert len(prior.card["held_out"]) > 0
    assert prior.eps(torch.zeros(1, 64, 64), 500.0).shape == (1, 64, 64)


def test_float32_precision_never_autocasts_and_auto_follows_the_hardware():
    assert not uses_bf16(TrainConfig(precision="float32"), "cpu")
    assert not uses_bf16(TrainConfig(precision="float32"), "cuda")
    assert uses_bf16(TrainConfig(), "cuda")
    assert uses_bf16(TrainConfig(), "cpu") == cpu_has_native_bf16()


def test_fast_layout_keeps_the_float32_step_of_the_former_training_loop():
    """channels-last + foreach kernels change only the speed: one float32 step matches the
    former contiguous, for-loop step to float32 rounding (same data, noise and initial weights)."""
    import copy
    from engine.sampling.schedule import Schedule
    from engine.slice_prior.data import SliceSource
    from engine.slice_prior.train import _loss
    cfg = TrainConfig(steps=1, precision="float32", **TINY)
    ref = new_state(cfg, "cpu")["net"]
    ref = copy.deepcopy(ref).to(memory_format=torch.contiguous_format)
    opt = torch.optim.AdamW(ref.parameters(), lr=cfg.lr, weight_decay=0.0, foreach=False)
    src = SliceSource(cfg.size, seed=cfg.seed)
    ab = torch.as_tensor(Schedule.linear().alpha_bar, dtype=torch.float32)
    for g in opt.param_groups:
        g["lr"] = cfg.lr * min(1.0, 1 / cfg.warmup)
    loss = _loss(ref, 2.0 * src.sample(cfg.batch) - 1.0, ab, src.gen, False)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0, foreach=False)
    opt.step()
    new = drain(train_prior_iter(cfg, "cpu"))
    assert new["curve"][0][1] == pytest.approx(float(loss.detach()), rel=1e-5)
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(new["net"].state_dict()[k], v, rtol=1e-5, atol=1e-6)
