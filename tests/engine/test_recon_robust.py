"""Silently wrong recon results of issue #17: TV at λ = 0, Shepp–Logan slices at their centres
(SCIENCE.md §4.4), notes for an all-zero truth and for a method whose volume is non-finite."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.imaging import Radon, shepp_logan_3d, tv_pdhg
from engine.core import Progress
from engine.recon.lab import ReconConfig, focus_voxel, run
from engine.recon.methods import METHODS, MethodSpec


def test_tv_with_lambda_zero_is_the_unregularised_limit():
    truth = shepp_logan_3d((1, 16, 16), dtype=torch.float64)
    R = Radon(16, torch.linspace(0, 180, 21)[:-1], dtype=torch.float64)
    y = R.forward(truth)
    zero = tv_pdhg(y, R, lam=0.0, iters=30)
    tiny = tv_pdhg(y, R, lam=1e-12, iters=30)
    assert bool(torch.isfinite(zero).all())
    assert torch.allclose(zero, tiny, atol=1e-9)           # the λ → 0 limit, not 0/0
    with pytest.raises(ValueError, match="λ"):
        tv_pdhg(y, R, lam=float("nan"), iters=2)


@pytest.mark.parametrize("nz", [1, 2, 3])
def test_every_slice_of_a_thin_phantom_has_content(nz):
    vol = shepp_logan_3d((nz, 32, 32))
    assert all(float(vol[k].abs().sum()) > 0 for k in range(nz))


def test_slices_sit_at_their_centres():
    one = shepp_logan_3d((1, 32, 32))
    assert torch.equal(one, shepp_logan_3d((1, 32, 32), z=(0.0,)))      # centre of [-1, 1]
    two = shepp_logan_3d((2, 32, 32))
    assert torch.equal(two, shepp_logan_3d((2, 32, 32), z=(-0.5, 0.5)))
    with pytest.raises(ValueError, match="slice positions"):
        shepp_logan_3d((2, 8, 8), z=(0.0,))
    # the focus slice is the one whose slab holds z0 = -0.25 (slab k: [-1 + 2k/n, -1 + 2(k+1)/n])
    assert focus_voxel(ReconConfig(), (8, 32, 32))[0] == 3
    assert focus_voxel(ReconConfig(), (1, 32, 32))[0] == 0


def test_one_slice_run_has_finite_psnr():
    res = run(ReconConfig(size=16, slices=1, n_views=8, method_a="fbp", method_b="none"))
    assert math.isfinite(res.runs[0].psnr) and not res.notes


def test_all_zero_truth_is_noted(tmp_path):
    path = tmp_path / "flat.npy"
    np.save(path, np.full((4, 16, 16), 3.0, np.float32))
    res = run(ReconConfig(source="file", path=str(path), size=16, slices=2, n_views=8,
                          method_a="fbp", method_b="none"))
    assert any("ground truth is all zero" in n for n in res.notes)


def _nan_after(steps: int):
    def make(op, data, every, notes, iters):
        x = torch.zeros((data.shape[0], op.n, op.n))
        for k in range(iters):
            x = x + (float("nan") if k >= steps else 0.0)
            yield Progress((k + 1) / iters, "fake", x.clone())
        return x
    return make


def test_a_non_finite_method_is_a_note_not_a_ranking_row(monkeypatch):
    spec = METHODS["sirt"]
    monkeypatch.setitem(METHODS, "sirt", MethodSpec("ct", spec.cost, _nan_after(2),
                                                    spec.Params, spec.steps))
    res = run(ReconConfig(size=16, slices=1, n_views=8, method_a="fbp", method_b="sirt",
                          iters=4, every=1))
    assert [r.name for r in res.runs] == ["fbp"]
    assert any(n.startswith("sirt: the reconstruction became non-finite") for n in res.notes)
    assert all(np.isfinite(r.psnr) for r in res.runs)
