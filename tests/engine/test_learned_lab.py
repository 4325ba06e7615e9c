"""The learned lab's engine entry: known answers of a small run, clear errors (SCIENCE.md §6.3)."""
import numpy as np
import pytest

from engine.core import drain
from engine.learned import LearnedConfig
from engine.learned.lab import run_config

SMALL = dict(size=24, n_unrolls=2, width=4, depth=2, steps=3, eval_every=1, batch=2,
             modules=2, train_checkpoint=True, shipped=True)


@pytest.fixture(scope="module")
def small_result():
    return drain(run_config(LearnedConfig(**SMALL), "cpu"))


def test_lab_result_known_answers(small_result):
    """Checkpointing is end-to-end's mathematics: identical curves (SCIENCE.md §6.3.4)."""
    runs = {r.mode: r for r in small_result.runs}
    assert list(runs) == ["e2e", "checkpoint", "gleam"]
    np.testing.assert_allclose(runs["e2e"].loss, runs["checkpoint"].loss, rtol=1e-6)
    assert runs["e2e"].test_psnr == pytest.approx(runs["checkpoint"].test_psnr, abs=1e-4)
    assert runs["gleam"].strip.shape == (3, 24, 24)
    np.testing.assert_array_equal(runs["gleam"].boundaries, [1])
    assert small_result.shipped is not None and np.isfinite(small_result.shipped.test_psnr)
    # an untrained VarNet's x_0 is the zero-filled image of the shown slice
    np.testing.assert_allclose(runs["gleam"].strip[0], small_result.zero_filled, atol=1e-6)


def test_bad_plans_are_clear_errors():
    with pytest.raises(ValueError, match="at least one training mode"):
        drain(run_config(LearnedConfig(train_e2e=False, train_gleam=False), "cpu"))
    with pytest.raises(ValueError, match="equal modules"):
        drain(run_config(LearnedConfig(n_unrolls=5, modules=3), "cpu"))
