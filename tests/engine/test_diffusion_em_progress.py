"""The EM fit of drawn points as a progress generator (issue #17): one report per iteration
with the log-likelihood and the time left, the same mixture as ``fit_gmm``, cancellable by
closing, bad points refused before it starts."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from engine.core import drain
from engine.diffusion import (DiffusionConfig, fit_custom_points, fit_gmm, fit_gmm_iter,
                              run_config)


def _two_clusters(n=100, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[-2.0, 0.0], [2.0, 1.0]], dtype=torch.float64)
    return (centres.repeat(n, 1) + 0.1 * torch.randn(2 * n, 2, generator=gen,
                                                     dtype=torch.float64)).numpy()


def test_fit_gmm_iter_reports_every_iteration_and_equals_fit_gmm():
    pts = _two_clusters()
    gen = fit_gmm_iter(pts, 2, seed=3, max_iter=50)
    reports = []
    while True:
        try:
            reports.append(next(gen))
        except StopIteration as stop:
            mixture = stop.value
            break
    lls = [float(re.search(r"log-likelihood (\S+),", p.message).group(1))
           for p in reports[1:]]
    assert 2 <= len(lls) < 50                              # converged before max_iter
    assert all("s left" in p.message for p in reports[1:])
    assert np.all(np.diff(lls) >= -1e-4)                   # EM never lowers the likelihood
    fractions = [p.fraction for p in reports]
    assert fractions == sorted(fractions) and fractions[-1] <= 1.0
    direct = fit_gmm(pts, 2, seed=3, max_iter=50)
    assert torch.equal(mixture.means, direct.means) and torch.equal(mixture.weights,
                                                                     direct.weights)
    means = mixture.means[mixture.means[:, 0].argsort()]
    assert torch.allclose(means, torch.tensor([[-2.0, 0.0], [2.0, 1.0]],
                                              dtype=torch.float64), atol=0.05)


def test_fit_gmm_iter_refuses_bad_points_before_it_starts_and_closes_cleanly():
    with pytest.raises(ValueError, match="NaN"):
        fit_gmm_iter(np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="identical"):
        fit_gmm_iter(np.ones((10, 2)), 2)
    gen = fit_gmm_iter(_two_clusters(), 2)
    next(gen), next(gen)
    gen.close()                                              # a cancel: no error, no result
    with pytest.raises(StopIteration):
        next(gen)


def test_custom_prior_run_reports_the_fit_first_and_refuses_no_points_at_once():
    pts = tuple(map(tuple, _two_clusters(50).tolist()))
    cfg = DiffusionConfig(prior="custom", fit_components=2, custom_points=pts,
                          solver="posterior", compare_solver="none", n_particles=100,
                          n_steps=5)
    gen = run_config(cfg, views=False)
    first = next(gen)
    assert first.message.startswith("custom prior: EM fit of 100 points, 2 components")
    messages = [first.message]
    while True:
        try:
            messages.append(next(gen).message)
        except StopIteration as stop:
            result = stop.value
            break
    fit_reports = [m for m in messages if "EM fit: iteration" in m]
    assert fit_reports and messages.index(fit_reports[-1]) < len(messages) - 1
    assert torch.equal(result.prior.means, fit_custom_points(cfg).means)
    with pytest.raises(ValueError, match="needs points"):
        run_config(DiffusionConfig(prior="custom", custom_points=()))
