"""Every engine on CUDA agrees with its CPU run (skipped where no CUDA device is present).

These run on the lent GPU machine (see README "GPU"); on CPU-only CI they are skipped.
"""
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_diffusion_solver_on_cuda_matches_cpu():
    from engine.diffusion import GaussianMixture, solve
    means = torch.tensor([[-2.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
    covs = 0.09 * torch.eye(2, dtype=torch.float64).expand(2, 2, 2).clone()
    prior = GaussianMixture(torch.tensor([0.5, 0.5], dtype=torch.float64), means, covs)
    a = solve("ddim", prior, n_particles=256, n_steps=20, seed=1, device="cpu",
              dtype="float64", metrics=False)
    b = solve("ddim", prior, n_particles=256, n_steps=20, seed=1, device="cuda",
              dtype="float64", metrics=False)
    fa, fb = np.asarray(a.final), np.asarray(b.final)
    assert fa.shape == fb.shape
    # Same deterministic DDIM map from (device-specific) seeded noise: compare distributions.
    assert np.abs(fa.mean(0) - fb.mean(0)).max() < 0.5
    assert np.isfinite(fb).all()


def test_pattern_ids_on_cuda_equal_cpu():
    from engine.regions import pattern_ids
    rng = np.random.default_rng(0)
    layers = [(rng.normal(size=(32, 2)), rng.normal(size=32))]
    g = np.linspace(-2, 2, 128)
    a = pattern_ids(layers, g, g, device="cpu")
    b = pattern_ids(layers, g, g, device="cuda")
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_radon_fbp_and_mri_on_cuda_match_cpu():
    from engine.recon import MRI, Radon, cg_sense, fbp, make_mask, shepp_logan_3d
    vol = shepp_logan_3d((4, 64, 64))
    angles = torch.linspace(0, 180, 31)[:-1]
    rc, rg = Radon(64, angles), Radon(64, angles, device="cuda")
    sc, sg = rc.forward(vol), rg.forward(vol.cuda())
    assert torch.allclose(sc, sg.cpu(), atol=1e-4)
    assert torch.allclose(rc.adjoint(sc), rg.adjoint(sg).cpu(), atol=1e-3)
    assert torch.allclose(fbp(sc, rc), fbp(sg, rg).cpu(), atol=1e-4)
    mask = make_mask("random", (64, 64), acceleration=4, seed=0)
    mc = MRI(mask=mask, n_coils=4, shape=(64, 64))
    mg = MRI(mask=mask, n_coils=4, shape=(64, 64), device="cuda")
    k = mc.forward(vol.to(torch.complex64))
    xc = cg_sense(k, mc, iters=10)
    xg = cg_sense(k.cuda(), mg, iters=10)
    assert torch.allclose(xc, xg.cpu(), atol=1e-4)


def test_slice_prior_solvers_run_on_cuda():
    from engine.imaging import Radon, psnr, shepp_logan_3d
    from engine.recon import diffusion_reconstruct
    from engine.slice_prior import load_slice_prior, prior_path
    if not prior_path(64).is_file():
        pytest.skip("no shipped 64² prior")
    vol = shepp_logan_3d((4, 64, 64))
    R = Radon(64, torch.linspace(0, 180, 9)[:-1], device="cuda")
    y = R.forward(vol.cuda())
    prior = load_slice_prior(64, device="cuda")
    for method in ("dds", "mbir", "mcg", "ccdf"):
        x = diffusion_reconstruct(method, prior, R, y, n_steps=10, seed=0)
        assert x.device.type == "cuda" and x.shape == vol.shape
        assert torch.isfinite(x).all()
    eps_cpu = load_slice_prior(64).eps(torch.zeros(2, 64, 64), 300.0)
    eps_gpu = prior.eps(torch.zeros(2, 64, 64, device="cuda"), 300.0).cpu()
    assert torch.allclose(eps_cpu, eps_gpu, atol=2e-3)
    assert psnr(x.cpu(), vol, data_range=1.0) > 10
