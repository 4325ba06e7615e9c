"""Diffusion-prior solvers on volumes (issue #6): data consistency, ADMM, seeding, quality."""
import math

import pytest
import torch

from engine.core import Progress
from engine.recon import MRI, Radon, cgls, fbp, make_mask, psnr, shepp_logan_3d
from engine.recon.diffusion import diffusion_reconstruct, diffusion_reconstruct_iter
from engine.slice_prior import SlicePrior, SliceUNet, UNetConfig, load_slice_prior
from engine.slice_prior.data_term import DataTerm, dz
from engine.slice_prior.prior import to_net

N = 64


class OraclePrior(SlicePrior):
    """Exact ε̂ of the Gaussian prior N(m, s² I) on each slice (network units, §3.1)."""

    def __init__(self, mean_img: torch.Tensor, s: float = 0.3):
        super().__init__(torch.nn.Identity(), mean_img.shape[-1])
        self.m, self.s = to_net(mean_img), s

    def eps(self, u, t):
        ab = self.ab(t)
        return math.sqrt(1 - ab) * (u - math.sqrt(ab) * self.m.to(u)) / (ab * self.s ** 2 + 1 - ab)


@pytest.fixture(scope="module")
def phantom():
    return shepp_logan_3d((3, N, N), z=(-0.5, 0.0, 0.5))   # 3 slices, as pinned


@pytest.fixture(scope="module")
def ct(phantom):
    R = Radon(N, torch.linspace(0, 180, 9)[:-1])   # the 8-view preset
    return R, R.forward(phantom)


@pytest.fixture(scope="module")
def mri(phantom):
    mask = make_mask("random", (N, N), acceleration=8, seed=0)   # the ×8 preset
    op = MRI(mask=mask, n_coils=8, shape=(N, N))
    return op, op.forward(phantom.to(torch.complex64))


@pytest.fixture(scope="module")
def prior():
    return load_slice_prior(N)


def test_admm_with_lambda_zero_is_cg_on_the_normal_equations(ct, phantom):
    R, y = ct
    data = DataTerm(R, y)
    x0 = fbp(y, R)
    ours = data.admm_tv_z(x0.clone(), {}, lam=0.0, rho=1.0, iters=6)
    ref = cgls(y, R, iters=6, x0=x0.clone())                   # independent implementation
    assert (ours - ref).norm() / ref.norm() < 1e-3


def test_admm_tv_z_flattens_along_z(ct, phantom):
    R, y = ct
    data = DataTerm(R, y)
    x0 = fbp(y, R)
    plain = data.solve(x0, 10)
    state, x = {}, x0
    for _ in range(10):
        x = data.admm_tv_z(x, state, lam=0.05, rho=0.05, iters=3)
    assert dz(x).abs().sum() < 0.7 * dz(plain).abs().sum()


def test_kaczmarz_keeps_consistent_volumes_and_reduces_the_residual(ct, mri, phantom):
    for op, y in (ct, mri):
        data = DataTerm(op, y)
        assert torch.allclose(data.kaczmarz(phantom), phantom, atol=1e-4)
        x = torch.zeros_like(phantom)
        assert data.residual_norm(data.kaczmarz(x)) < data.residual_norm(x)


@pytest.mark.parametrize("method", ["dds", "mbir", "mcg", "ccdf"])
def test_oracle_prior_beats_fbp(method, ct, phantom):
    R, y = ct
    x = diffusion_reconstruct(method, OraclePrior(phantom), R, y, n_steps=30, seed=0)
    assert psnr(x, phantom, data_range=1.0) > psnr(fbp(y, R), phantom, data_range=1.0) + 2


def test_dds_noiseless_ends_data_consistent(prior, ct):
    R, y = ct
    x = diffusion_reconstruct("dds", prior, R, y, n_steps=10, seed=0, final_cg=100)
    assert DataTerm(R, y).residual_norm(x) < 2e-3


def test_results_are_seeded(prior, mri):
    op, k = mri
    a = diffusion_reconstruct("ccdf", prior, op, k, n_steps=10, seed=5)
    b = diffusion_reconstruct("ccdf", prior, op, k, n_steps=10, seed=5)
    c = diffusion_reconstruct("ccdf", prior, op, k, n_steps=10, seed=6)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("method, steps", [("dds", 20), ("ccdf", 20), ("mbir", 30),
                                           ("mcg", 30)])
def test_every_solver_beats_fbp_and_zero_filling(method, steps, prior, ct, mri, phantom):
    R, y = ct
    x = diffusion_reconstruct(method, prior, R, y, n_steps=steps, seed=0)
    assert psnr(x.clamp(0, 1), phantom, data_range=1.0) > \
        psnr(fbp(y, R).clamp(0, 1), phantom, data_range=1.0) + 1
    op, k = mri
    x = diffusion_reconstruct(method, prior, op, k, n_steps=steps, seed=0)
    assert psnr(x.clamp(0, 1), phantom, data_range=1.0) > \
        psnr(op.adjoint(k).abs().clamp(0, 1), phantom, data_range=1.0) + 1


def test_progress_and_cancel_keep_the_partial_volume(prior, ct):
    R, y = ct
    gen = diffusion_reconstruct_iter("dds", prior, R, y, n_steps=10, seed=0, every=2)
    first = next(gen)
    assert isinstance(first, Progress) and first.partial.shape == (3, N, N)
    assert 0 < first.fraction < 1 and "residual" in first.message
    gen.close()                                     # cancel: the partial stays usable
    assert torch.isfinite(first.partial).all()


def test_bad_input_is_a_clear_error(prior, ct):
    R, y = ct
    with pytest.raises(ValueError, match="unknown diffusion method"):
        diffusion_reconstruct("magic", prior, R, y)
    with pytest.raises(ValueError, match="n_steps"):
        diffusion_reconstruct("dds", prior, R, y, n_steps=0)
    bad = y.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        diffusion_reconstruct("dds", prior, R, bad)
    R32 = Radon(32, torch.linspace(0, 180, 9)[:-1])
    with pytest.raises(ValueError, match="trained on 64"):
        diffusion_reconstruct("dds", prior, R32, R32.forward(torch.zeros(1, 32, 32)))
    with pytest.raises(ValueError, match="t0"):
        diffusion_reconstruct("ccdf", prior, R, y, t0=0.0)
    tiny = SlicePrior(SliceUNet(UNetConfig(base=8, mults=(1, 2), emb=16, groups=4)), N)
    with pytest.raises(TypeError, match="Radon or MRI"):
        diffusion_reconstruct("dds", tiny, torch.eye(3), y)
