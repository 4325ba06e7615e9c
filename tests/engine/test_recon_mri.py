"""Known-answer tests for the MRI operator, masks and reconstructions (SCIENCE.md §4.5, §4.9)."""
import math

import pytest
import torch

from engine.core.progress import Progress
from engine.imaging.masks import make_mask
from engine.imaging.mri import (MRI, coil_maps, cg_sense, cg_sense_iter, cs_recon,
                              cs_recon_iter, fft_c, haar2, ihaar2,
                              zero_filled)


def _phantom(n=64):
    """Disk/ellipse image in [0, 1]."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, n), torch.linspace(-1, 1, n), indexing="ij")
    img = 0.8 * ((xx / 0.7) ** 2 + (yy / 0.9) ** 2 <= 1).float()
    img += 0.2 * ((xx - 0.2) ** 2 / 0.04 + (yy + 0.1) ** 2 / 0.09 <= 1).float()
    img -= 0.5 * ((xx + 0.3) ** 2 + (yy - 0.3) ** 2 < 0.02).float()
    return img.clamp(0, 1)


def _psnr(x, ref):
    return 10 * math.log10(1.0 / float(((x - ref) ** 2).mean()))


def _rand_c(shape, gen, dtype=torch.complex128):
    return torch.randn(shape, generator=gen, dtype=dtype)


def test_coil_maps_normalised_and_seeded():
    for shape in [(32, 28), (4, 16, 16)]:
        s = coil_maps(8, shape, seed=3, dtype=torch.complex128)
        assert torch.allclose((s.abs() ** 2).sum(0), torch.ones(shape, dtype=torch.float64))
    assert torch.equal(coil_maps(8, (16, 16), seed=3), coil_maps(8, (16, 16), seed=3))
    assert not torch.equal(coil_maps(8, (16, 16), seed=3), coil_maps(8, (16, 16), seed=4))


def test_parseval_and_haar_orthonormal():
    """Unitary DFT and orthonormal Haar (the operators themselves: tests/engine/test_operators)."""
    gen = torch.Generator().manual_seed(2)
    x = _rand_c((2, 16, 16), gen)
    assert torch.allclose(torch.linalg.vector_norm(fft_c(x, 2)), torch.linalg.vector_norm(x))
    assert torch.allclose(ihaar2(haar2(x, 3), 3), x)
    assert torch.allclose(torch.linalg.vector_norm(haar2(x, 3)), torch.linalg.vector_norm(x))


@pytest.mark.parametrize("n_coils", [1, 8])
def test_fully_sampled_inverts(n_coils):
    img = _phantom(48)
    op = MRI(mask=make_mask("random", (48, 48), acceleration=1), n_coils=n_coils, shape=(48, 48))
    k = op.forward(img)
    assert (zero_filled(k, op) - img).abs().max() < 1e-5
    assert (cg_sense(k, op, iters=5) - img).abs().max() < 1e-5


@pytest.mark.parametrize("kind", ["equispaced", "random", "gaussian1d", "variable_density",
                                  "poisson"])
@pytest.mark.parametrize("accel", [4, 8])
def test_mask_acceleration_and_determinism(kind, accel):
    shape = (64, 64)
    m = make_mask(kind, shape, acceleration=accel, seed=5)
    assert m.dtype == torch.bool and m.shape == shape
    r = m.numel() / int(m.sum())
    assert abs(r - accel) / accel < 0.05
    assert torch.equal(m, make_mask(kind, shape, acceleration=accel, seed=5))
    assert bool(m[32, 32])                                   # centre sampled
    if kind in ("equispaced", "random", "gaussian1d"):
        assert torch.equal(m, m[:1].expand_as(m))             # whole columns (readout along y)
        assert bool(m[:, 31:34].all())                        # ACS


def test_mask_seeds_differ_and_bad_kind():
    assert not torch.equal(make_mask("random", (64, 64), 4, seed=0),
                           make_mask("random", (64, 64), 4, seed=1))
    with pytest.raises(ValueError):
        make_mask("spiral", (64, 64))


def test_cg_sense_beats_zero_filled_and_yields_progress():
    img = _phantom(64)
    op = MRI(mask=make_mask("random", (64, 64), acceleration=4, seed=0), n_coils=8,
             shape=(64, 64))
    k = op.forward(img)
    zf = _psnr(zero_filled(k, op).abs(), img)
    gen = cg_sense_iter(k, op, iters=20, every=5)
    reports = []
    try:
        while True:
            reports.append(next(gen))
    except StopIteration as stop:
        rec = stop.value
    assert [r.fraction for r in reports] == [0.25, 0.5, 0.75, 1.0]
    assert all(isinstance(r, Progress) and r.partial.shape == (64, 64) for r in reports)
    assert _psnr(rec.abs(), img) > zf + 2.0
    assert torch.equal(rec, cg_sense(k, op, iters=20))        # deterministic


def test_cg_sense_batched_slices():
    img = torch.stack([_phantom(32), 0.5 * _phantom(32)])
    op = MRI(mask=make_mask("equispaced", (32, 32), acceleration=2, seed=0), n_coils=8,
             shape=(32, 32))
    rec = cg_sense(op.forward(img), op, iters=30)
    assert rec.shape == (2, 32, 32)
    assert _psnr(rec.abs(), img) > 40


@pytest.mark.parametrize("reg", ["tv", "wavelet"])
def test_cs_beats_zero_filled(reg):
    img = _phantom(64)
    op = MRI(mask=make_mask("random", (64, 64), acceleration=4, seed=0), n_coils=8,
             shape=(64, 64))
    k = op.forward(img)
    zf = _psnr(zero_filled(k, op).abs(), img)
    rec = cs_recon(k, op, lam=0.005, reg=reg, iters=60)
    assert _psnr(rec.abs(), img) > zf + 3.0
    steps = list(cs_recon_iter(k, op, lam=0.005, reg=reg, iters=4, every=2))
    assert len(steps) == 2 and steps[-1].fraction == 1.0
    with pytest.raises(ValueError):
        cs_recon(k, op, reg="l0")


def test_3d_operator_with_kykz_mask():
    vol = torch.stack([_phantom(16)] * 8)                     # (z, y, x)
    mask = make_mask("poisson", (8, 16), acceleration=2, seed=0, calib=4)
    op = MRI(mask=mask, n_coils=4, shape=(8, 16, 16))
    k = op.forward(vol)
    assert k.shape == (4, 8, 16, 16)
    assert bool((k.abs().sum((0, 3)) > 0).eq(mask).all())      # ky–kz lines broadcast along x
    assert _psnr(cg_sense(k, op, iters=30).abs(), vol) > _psnr(zero_filled(k, op).abs(), vol)


def test_bad_shapes():
    with pytest.raises(ValueError):
        MRI(mask=torch.ones(8, 8, dtype=torch.bool), shape=(16, 16))
    op = MRI(mask=torch.ones(8, 8, dtype=torch.bool), n_coils=2)
    with pytest.raises(ValueError):
        op.forward(torch.zeros(4, 4))


def _plain_cg(k, op, iters, lam=0.0, x0=None):
    """Textbook CG on (A^H A + λI) x = A^H y with the unfused operator (reference)."""
    b = op.adjoint(k)
    x = torch.zeros_like(b) if x0 is None else x0.to(b.dtype).clone()
    r = b - (op.adjoint(op.forward(x)) + lam * x)
    p, rs = r.clone(), torch.vdot(r.flatten(), r.flatten()).real
    for _ in range(iters):
        ap = op.adjoint(op.forward(p)) + lam * p
        a = rs / torch.vdot(p.flatten(), ap.flatten()).real
        x, r = x + a * p, r - a * ap
        rn = torch.vdot(r.flatten(), r.flatten()).real
        p, rs = r + (rn / rs) * p, rn
    return x


@pytest.mark.parametrize("shape,kind,batch", [((32, 32), "random", ()),
                                              ((33, 30), "random", (2,)),
                                              ((32, 32), "poisson", ()),
                                              ((31, 33), "variable_density", ()),
                                              ((6, 8, 10), "random", ())])
def test_fused_normal_and_cg_equal_unfused(shape, kind, batch):
    """The shifted, fused A^H A (FFT pair skipped along fully-sampled axes) is exact (§4.5)."""
    from engine.imaging.mri import _ShiftedNormal
    gen = torch.Generator().manual_seed(5)
    mshape = shape[:-1] if len(shape) == 3 else shape
    op = MRI(mask=make_mask(kind, mshape, acceleration=3, seed=2), n_coils=4, shape=shape,
             dtype=torch.complex128)
    x = _rand_c((*batch, *shape), gen)
    for lam in (0.0, 0.3):
        fused = _ShiftedNormal(op, lam)
        got = fused.unshift(fused(fused.shift(x)))
        assert torch.allclose(got, op.adjoint(op.forward(x)) + lam * x, atol=1e-12)
    if len(shape) == 2 and kind == "random":
        assert _ShiftedNormal(op, 0.0).axes == (-1,)     # line sampling: 1-D FFTs only
    k = op.forward(x)
    for lam, x0 in ((0.0, None), (0.05, 0.5 * x)):
        ref = _plain_cg(k, op, 12, lam, x0)
        got = cg_sense(k, op, iters=12, lam=lam, x0=x0)
        assert torch.linalg.vector_norm(got - ref) / torch.linalg.vector_norm(ref) < 1e-10


def test_cg_sense_reaches_least_squares():
    """Fully converged CG-SENSE = the dense least-squares solution (float64, §4.5)."""
    n, gen = 12, torch.Generator().manual_seed(1)
    op = MRI(mask=make_mask("poisson", (n, n), acceleration=2, seed=3), n_coils=3,
             dtype=torch.complex128)
    dense = torch.stack([op.forward(e.reshape(n, n)).flatten()
                         for e in torch.eye(n * n, dtype=torch.complex128)], dim=1)
    k = op.forward(_rand_c((n, n), gen))
    k = k + 0.05 * _rand_c(k.shape, gen) * op.mask            # inconsistent data
    x_ls = torch.linalg.lstsq(dense, k.flatten().unsqueeze(1)).solution.reshape(n, n)
    x_cg = cg_sense(k, op, iters=200, tol=1e-13)
    assert torch.linalg.vector_norm(x_cg - x_ls) / torch.linalg.vector_norm(x_ls) < 1e-8


def test_cg_sense_equals_sigpy_sense_recon():
    """Same iterates as sigpy.mri.app.SenseRecon (benchmark-only dependency, §4.5)."""
    mr = pytest.importorskip("sigpy.mri")
    import numpy as np
    img = _phantom(48)
    for dt, tol in ((torch.complex128, 1e-10), (torch.complex64, 1e-4)):
        op = MRI(mask=make_mask("random", (48, 48), acceleration=3, seed=0), n_coils=6,
                 dtype=dt)
        k = op.forward(img)
        ref = mr.app.SenseRecon(k.numpy(), op.maps.numpy(), lamda=0.0,
                                weights=op._m.numpy(), max_iter=20,
                                show_pbar=False).run()
        ours = cg_sense(k, op, iters=20).numpy()
        assert np.linalg.norm(ours - ref) / np.linalg.norm(ref) < tol
