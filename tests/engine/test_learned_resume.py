"""Resumable training in the learned lab (SCIENCE.md §6.3.1): checkpoints per mode at the end,
on cancel (at a yield or mid-step), and resuming equals training uninterrupted."""
import numpy as np
import pytest

from engine.core import drain
from engine.learned import LearnedConfig, load_training
from engine.learned import steps as steps_module
from engine.learned.lab import run_config

TINY = dict(size=24, n_unrolls=2, width=4, depth=2, eval_every=1, batch=2, modules=2,
            shipped=False)


def _cfg(folder, **changes):
    return LearnedConfig(**{**TINY, "checkpoint_dir": str(folder), **changes})


def test_n_steps_then_m_resumed_equals_n_plus_m(tmp_path):
    straight = drain(run_config(_cfg(tmp_path / "a", steps=5)))
    first = drain(run_config(_cfg(tmp_path / "b", steps=2)))
    assert "saved in" in first.notes[-1] and str(tmp_path / "b") in first.notes[-1]
    resumed = drain(run_config(_cfg(tmp_path / "b", steps=3, resume=True)))
    assert [r.mode for r in resumed.runs] == ["e2e", "gleam"]
    for a, b in zip(straight.runs, resumed.runs):
        np.testing.assert_array_equal(a.loss, b.loss)            # curves continue at step 3
        np.testing.assert_array_equal(a.val_steps, b.val_steps)
        assert a.test_psnr == b.test_psnr
        for name in a.weights:
            np.testing.assert_array_equal(a.weights[name], b.weights[name])
    assert any("end-to-end: resumed from step 2" in n for n in resumed.notes)


class _Interrupt(BaseException):
    """Like the app runner's RunCancelled: raised inside a step."""


def test_cancel_at_a_yield_and_mid_step_keep_the_last_step(tmp_path, monkeypatch):
    gen = run_config(_cfg(tmp_path, steps=50))
    shown = [p for p, _ in zip(gen, range(6))]               # data stage, then some steps
    gen.close()                                               # cancel at a yield
    _, card, state = load_training(tmp_path / "e2e.pt")
    assert 1 <= state["step"] == len(state["loss"]) < 50 and len(shown) == 6
    calls, real = [], steps_module.run_step

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise _Interrupt()
        return real(*args, **kwargs)
    monkeypatch.setattr("engine.learned.train.run_step", interrupted)
    with pytest.raises(_Interrupt):
        drain(run_config(_cfg(tmp_path, steps=50, resume=True)))
    _, _, later = load_training(tmp_path / "e2e.pt")
    assert later["step"] == state["step"] + 2                # two steps done, the third not
    monkeypatch.setattr("engine.learned.train.run_step", real)
    done = drain(run_config(_cfg(tmp_path, steps=1, resume=True)))
    assert len(done.runs[0].loss) == state["step"] + 3
    assert len(done.runs[1].loss) == 1                        # GLEAM had no checkpoint


def test_other_settings_or_no_checkpoint_are_refused_and_nothing_lost(tmp_path):
    drain(run_config(_cfg(tmp_path, steps=1, train_gleam=False)))
    before = (tmp_path / "e2e.pt").read_bytes()
    with pytest.raises(ValueError, match=r"width = 4 \(now 6\)"):
        drain(run_config(_cfg(tmp_path, steps=1, train_gleam=False, width=6, resume=True)))
    assert (tmp_path / "e2e.pt").read_bytes() == before
    with pytest.raises(ValueError, match="nothing to resume"):
        drain(run_config(_cfg(tmp_path / "empty", steps=1, resume=True)))


def test_unpaired_run_interrupted_mid_step_resumes_exactly(tmp_path, monkeypatch):
    """OT-cycleGAN: the critic and both optimisers travel in the checkpoint; an interrupt in
    the third step keeps the state of step 2, and resuming 2 more equals 4 straight."""
    only = dict(train_e2e=False, train_gleam=False, train_otcycle=True, n_critic=1)
    straight = drain(run_config(_cfg(tmp_path / "a", steps=4, **only)))
    from engine.learned import cyclegan
    calls, real = [], cyclegan._generator_step

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise _Interrupt()
        return real(*args, **kwargs)
    monkeypatch.setattr(cyclegan, "_generator_step", interrupted)
    with pytest.raises(_Interrupt):
        drain(run_config(_cfg(tmp_path / "b", steps=50, **only)))
    assert load_training(tmp_path / "b" / "otcycle.pt")[2]["step"] == 2
    monkeypatch.setattr(cyclegan, "_generator_step", real)
    resumed = drain(run_config(_cfg(tmp_path / "b", steps=2, resume=True, **only)))
    np.testing.assert_array_equal(straight.runs[0].loss, resumed.runs[0].loss)
    assert straight.runs[0].test_psnr == resumed.runs[0].test_psnr
