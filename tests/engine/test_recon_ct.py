"""Known-answer tests of the CT engine (SCIENCE.md §4.1-4.4, §4.9)."""
import itertools
import math

import numpy as np
import pytest
import torch
from skimage.data import shepp_logan_phantom
from skimage.transform import iradon, radon, rescale

from engine.core import Progress
from engine.recon import (
    Radon,
    add_noise,
    cgls,
    cgls_iter,
    fbp,
    psnr,
    shepp_logan_3d,
    sirt,
    sirt_iter,
    tv_pdhg,
    tv_pdhg_iter,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _angles(k, stop=180.0):
    return torch.linspace(0, stop, k + 1, dtype=torch.float64)[:-1]


@pytest.fixture(scope="module")
def sk_slice():
    """scikit-image's modified Shepp–Logan, 128², zero outside the inscribed circle."""
    return rescale(shepp_logan_phantom(), 128 / 400)


@pytest.fixture(scope="module")
def phantom():
    return shepp_logan_3d((64, 128, 128))[[20, 40]]


def test_forward_matches_skimage_radon(sk_slice):
    th = _angles(45)
    sk = radon(sk_slice, th.numpy(), circle=True)          # (n_det, n_angles)
    R = Radon(128, th, dtype=torch.float64)
    ours = R.forward(torch.from_numpy(sk_slice)).numpy()     # (n_angles, n_det)
    assert ours.shape == (45, 128)
    assert np.linalg.norm(ours - sk.T) / np.linalg.norm(sk) < 1e-10


def test_forward_odd_size_matches_skimage():
    n = 47
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:n, :n] - n // 2
    img = rng.random((n, n)) * ((yy ** 2 + xx ** 2) <= (n // 2 - 1) ** 2)
    th = np.array([0.0, 10.0, 33.3, 90.0, 135.0, 179.0])
    sk = radon(img, th, circle=True)
    ours = Radon(n, th, dtype=torch.float64).forward(torch.from_numpy(img)).numpy()
    assert np.abs(ours - sk.T).max() < 1e-10


def test_forward_batched_equals_per_slice(phantom):
    R = Radon(128, _angles(20))
    vol = R.forward(phantom)
    assert vol.shape == (2, 20, 128)
    for k in range(2):
        assert torch.allclose(vol[k], R.forward(phantom[k]), atol=1e-4)


def test_analytic_ellipse_sinogram_orientation():
    """Off-centre rotated ellipse vs the formula of §4.1 (x right, y up, s = det - n//2)."""
    n, sup = 128, 4
    rho, a, b, x0, y0, alpha = 1.0, 30.0, 14.0, 18.0, -25.0, math.radians(30)
    off = (np.arange(sup) + 0.5) / sup - 0.5
    c = n // 2
    cols = (np.arange(n)[:, None] + off[None, :]).ravel() - c
    rows = (np.arange(n)[:, None] + off[None, :]).ravel() - c
    X, Y = np.meshgrid(cols, -rows)
    xr = (X - x0) * math.cos(alpha) + (Y - y0) * math.sin(alpha)
    yr = -(X - x0) * math.sin(alpha) + (Y - y0) * math.cos(alpha)
    fine = rho * ((xr / a) ** 2 + (yr / b) ** 2 <= 1)
    img = fine.reshape(n, sup, n, sup).mean(axis=(1, 3))
    th = _angles(36)
    sino = Radon(n, th, dtype=torch.float64).forward(torch.from_numpy(img)).numpy()
    s = np.arange(n) - c
    exact = np.zeros_like(sino)
    for k, t in enumerate(np.deg2rad(th.numpy())):
        a2 = a ** 2 * math.cos(t - alpha) ** 2 + b ** 2 * math.sin(t - alpha) ** 2
        tp = s - (x0 * math.cos(t) + y0 * math.sin(t))
        exact[k] = np.where(tp ** 2 <= a2, 2 * rho * a * b * np.sqrt(np.clip(a2 - tp ** 2, 0,
                                                                             None)) / a2, 0)
    assert np.linalg.norm(sino - exact) / np.linalg.norm(exact) < 0.03


@pytest.mark.parametrize("name", ["ramp", "shepp-logan", "cosine", "hamming", "hann"])
def test_fbp_matches_skimage_iradon(sk_slice, name):
    th = _angles(60)
    sk = radon(sk_slice, th.numpy(), circle=True)
    ref = iradon(sk, th.numpy(), filter_name=name, circle=True)
    R = Radon(128, th, dtype=torch.float64)
    ours = fbp(torch.from_numpy(sk.T.copy()), R, filter=name).numpy()
    assert np.abs(ours - ref).max() < 1e-8
    assert abs(psnr(ours, sk_slice, 1.0) - psnr(ref, sk_slice, 1.0)) < 0.1


def test_fbp_full_angle_high_psnr(phantom):
    R = Radon(128, _angles(180))
    rec = fbp(R.forward(phantom), R, filter="ramp")
    assert rec.shape == phantom.shape
    assert psnr(rec, phantom, data_range=1.0) > 24.0
    with pytest.raises(ValueError):
        fbp(torch.zeros(2, 10, 128), R)
    with pytest.raises(ValueError):
        fbp(R.forward(phantom), R, filter="bogus")


def test_sirt_residual_monotone_and_progress(phantom):
    R = Radon(128, _angles(30))
    y = R.forward(phantom)
    hist = []
    gen = sirt_iter(y, R, iters=40, every=10, history=hist)
    reports = list(_collect(gen))
    assert [p.fraction for p in reports[0]] == [0.25, 0.5, 0.75, 1.0]
    assert all(isinstance(p, Progress) and p.partial.shape == phantom.shape for p in reports[0])
    res = [h["residual"] for h in hist]
    assert all(b <= a + 1e-7 for a, b in itertools.pairwise(res))
    assert torch.equal(reports[1], reports[0][-1].partial)
    assert psnr(reports[1], phantom, 1.0) > psnr(fbp(y, R), phantom, 1.0)


def _collect(gen):
    out = []
    while True:
        try:
            out.append(next(gen))
        except StopIteration as stop:
            return out, stop.value


def test_cgls_residuals_and_cancel(phantom):
    R = Radon(128, _angles(30))
    y = R.forward(phantom)
    hist = []
    cgls(y, R, iters=25, history=hist)
    res = [h["residual"] for h in hist]
    normal = [h["normal"] for h in hist]
    assert all(b <= a * (1 + 1e-6) for a, b in itertools.pairwise(res))
    assert normal[-1] < 1e-2 * normal[0]
    gen = cgls_iter(y, R, iters=1000, every=1)
    first = next(gen)
    gen.close()                                    # cancel between iterations
    assert first.fraction == pytest.approx(1e-3)


def test_cgls_and_sirt_reach_least_squares():
    n, th = 12, _angles(24)
    R = Radon(n, th, dtype=torch.float64)
    A = R.matrix().toarray()
    y = A @ np.random.default_rng(3).random(n * n) + 0.1 * np.random.default_rng(4).random(
        A.shape[0])                                   # inconsistent data: a true LS problem
    x_ls = np.linalg.lstsq(A, y, rcond=None)[0]       # minimum-norm LS = CGLS limit from 0
    yt = torch.from_numpy(y.reshape(1, len(th), n))
    x_cg = cgls(yt, R, iters=400).numpy().ravel()
    assert np.linalg.norm(x_cg - x_ls) / np.linalg.norm(x_ls) < 1e-3
    x_s = sirt(yt, R, iters=3000, nonneg=False, relax=1.9).numpy().ravel()
    r_ls = np.linalg.norm(A @ x_ls - y)
    assert np.linalg.norm(A @ x_s - y) < 1.05 * r_ls


def test_tv_pdhg_beats_fbp_on_sparse_views(phantom):
    R = Radon(128, _angles(30))
    y = R.forward(phantom)
    hist = []
    rec = tv_pdhg(y, R, lam=1e-4, iters=200, history=hist)
    p_tv, p_fbp = psnr(rec, phantom, 1.0), psnr(fbp(y, R), phantom, 1.0)
    assert p_tv > p_fbp + 8.0
    obj = [h["objective"] for h in hist]
    assert np.mean(obj[-20:]) < np.mean(obj[:20])
    reports, out = _collect(tv_pdhg_iter(y[:1], R, iters=20, every=10, tv="3d"))
    assert len(reports) == 2 and out.shape == (1, 128, 128)
    with pytest.raises(ValueError):
        tv_pdhg(y, R, tv="4d")


def test_tv_along_z_runs(phantom):
    R = Radon(64, _angles(20))
    vol = shepp_logan_3d((6, 64, 64))
    rec = tv_pdhg(R.forward(vol), R, iters=60, tv="z")
    assert rec.shape == vol.shape and torch.isfinite(rec).all() and rec.min() >= 0


def test_add_noise_seeded():
    R = Radon(64, _angles(20))
    y = R.forward(shepp_logan_3d((5, 64, 64))[1:4])
    for kind, level in (("gaussian", 0.02), ("poisson", 1e4)):
        a, b = add_noise(y, kind, level, seed=5), add_noise(y, kind, level, seed=5)
        assert torch.equal(a, b) and not torch.equal(a, add_noise(y, kind, level, seed=6))
        rel = float((a - y).norm() / y.norm())
        assert 1e-4 < rel < 0.1
    with pytest.raises(ValueError):
        add_noise(y, "speckle", 0.1)


def test_phantom_values_and_symmetry():
    ph = shepp_logan_3d(128, dtype=torch.float64)
    vals = sorted(set(np.round(ph.unique().numpy(), 6)))
    assert vals == [0.0, 0.2, 0.3, 0.4, 0.6, 1.0]
    assert ph.min() == 0 and ph.max() == 1
    inner = shepp_logan_3d(128, kind="kak-slaney", dtype=torch.float64)
    assert float(inner.max()) == pytest.approx(2.0)
    z = torch.linspace(-1, 1, 128, dtype=torch.float64)
    Z, Y, X = torch.meshgrid(z, z, z, indexing="ij")
    frac = float(((X / 0.69) ** 2 + (Y / 0.92) ** 2 + (Z / 0.9) ** 2 <= 1).double().mean())
    assert frac == pytest.approx(0.292, abs=1e-3)
    skull = (ph > 0.99).double()                       # outer shell: symmetric in x, y and z
    assert torch.equal(skull, skull.flip(2)) and torch.equal(skull, skull.flip(1))
    assert torch.equal(skull, skull.flip(0))
    assert ph.shape == (128, 128, 128) and shepp_logan_3d((4, 8, 6)).shape == (4, 8, 6)
    with pytest.raises(ValueError):
        shepp_logan_3d(8, kind="other")


def test_operator_disk_cache(tmp_path, monkeypatch):
    """Matrices are written once, read back bit-identical, corrupt files rebuilt (§4.1)."""
    import engine.imaging.operator_cache as oc
    from engine.imaging import ct
    monkeypatch.setenv("FLOWSCOPE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(oc, "MIN_CACHED_SAMPLES", 0)
    th, x = _angles(12), torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(0))
    R = Radon(20, th)
    first = fbp(R.forward(x), R)                # no matrix assembled, nothing written (#16)
    assert not list((tmp_path / "radon").glob("fbp*"))
    ref_f, ref_b, ref_a = R.forward(x), fbp(R.forward(x), R), R.adjoint(R.forward(x))
    assert torch.allclose(first, ref_b, atol=1e-6)
    files = sorted((tmp_path / "radon").glob("*.npz"))
    assert [f.name.split("-")[0].rstrip("0123456789") for f in files] == ["fbp", "radon",
                                                                          "radonT"]

    def no_build(*a, **k):
        raise AssertionError("should have been loaded from the cache")
    with monkeypatch.context() as m:
        for builder in ("_assemble", "_assemble_backprojection", "_transpose_bands"):
            m.setattr(ct, builder, no_build)
        R2 = Radon(20, th)
        assert torch.equal(R2.forward(x), ref_f) and torch.equal(fbp(ref_f, R2), ref_b)
        assert torch.equal(R2.adjoint(ref_f), ref_a)          # A^T too (issue #16)
        with pytest.raises(AssertionError):           # another geometry is not in the cache
            Radon(20, _angles(13)).forward(x)
    for f in files:                                    # corrupt and truncated files: rebuilt
        f.write_bytes(b"not a zip" if f.name.startswith("radon") else f.read_bytes()[:100])
    assert oc._load(files[0], 20, np.deg2rad(th.numpy()), (1, 1), np.float32) is None
    R3 = Radon(20, th)
    assert torch.equal(R3.forward(x), ref_f) and torch.equal(fbp(ref_f, R3), ref_b)
    r64 = Radon(20, th, dtype=torch.float64)                # float64 values: their own file
    assert torch.allclose(r64.forward(x.double()).float(), ref_f, atol=1e-5)
    assert len(list((tmp_path / "radon").glob("radon*-f8-*.npz"))) == 1
    monkeypatch.setenv("FLOWSCOPE_CACHE_DIR", "off")
    assert oc.cache_dir() is None
    Radon(20, _angles(14)).forward(x)
    assert len(list((tmp_path / "radon").glob("*a14*"))) == 0


@pytest.mark.parametrize("n, per", [(20, 5), (47, 13), (64, 3)])
def test_backprojection_matrix_is_linear_interpolation(n, per):
    """FBP's back-projection matrix, written straight into CSR form, equals skimage's
    ``iradon`` interpolation ``Σ_θ interp(t, q_θ)`` with zeros past the detector and outside
    the inscribed circle (§4.2), for every angle group."""
    from engine.imaging import ct
    rad = np.deg2rad(np.array([0.0, 10.0, 33.3, 45.0, 90.0, 120.5, 135.0, 179.0, 271.0]))
    q = np.random.default_rng(n).standard_normal((len(rad), n + 1))
    B = ct._assemble_backprojection(n, rad, per)
    groups = -(-len(rad) // per)
    assert B.shape == (groups * n * n, len(rad) * (n + 1)) and B.has_sorted_indices
    ours = (B @ q.ravel()).reshape(groups, n * n).sum(0).reshape(n, n)
    c = n // 2
    r, x = np.meshgrid(np.arange(n) - c, np.arange(n) - c, indexing="ij")
    ref = sum(np.interp(x * np.cos(a) - r * np.sin(a) + c, np.arange(n + 1), q[k],
                        left=0.0, right=0.0) for k, a in enumerate(rad))
    ref[r ** 2 + x ** 2 > c ** 2] = 0.0
    assert np.allclose(ours, ref, atol=1e-12)


def test_bands_and_chunks_equal_single_products(monkeypatch):
    """Column bands and slice chunks change nothing but the summation order (§4.1)."""
    from engine.imaging import ct
    th = _angles(10)
    r1 = Radon(24, th, dtype=torch.float64)            # 576 columns: one band
    r1._csr("A", torch.float64)                         # built now (operators are lazy)
    monkeypatch.setattr(ct, "_BAND_COLUMNS", 50)
    R = Radon(24, th, dtype=torch.float64)             # 12 bands of pixels, 5 of angles
    assert len(R._csr("A", torch.float64)) == 12 and len(r1._csr("A", torch.float64)) == 1
    diff = R.matrix() - r1.matrix()                     # duplicates summed in another order
    assert R.matrix().has_canonical_format and (diff.nnz == 0 or abs(diff).max() < 1e-15)
    x = torch.rand(ct.CHUNK_SLICES * 2 + 3, 24, 24, dtype=torch.float64)
    y = R.forward(x)
    assert torch.allclose(y, r1.forward(x), atol=1e-12)
    assert torch.allclose(y[-1], R.forward(x[-1]), atol=1e-12)
    assert len(R._csr("At", torch.float64)) == 5
    assert torch.allclose(R.adjoint(y), r1.adjoint(y), atol=1e-12)
    assert torch.allclose(R.adjoint(y)[17], R.adjoint(y[17]), atol=1e-12)
    assert torch.allclose(fbp(y, R), fbp(y, r1), atol=1e-12)
    assert torch.allclose(fbp(y, R)[-2], fbp(y[-2], R), atol=1e-12)


@pytest.mark.parametrize("n, dtype, tol", [(20, torch.float64, 1e-13), (47, torch.float64, 1e-13),
                                           (64, torch.float32, 2e-6)])
def test_direct_projection_equals_the_matrix(n, dtype, tol):
    """The projection computed without assembling A (fixed-stride rows, duplicates added by
    the product) equals the assembled matrix applied to the same slices (§4.1; issue #16)."""
    from engine.imaging.ct_direct import project_direct
    th = torch.tensor([0.0, 10.0, 33.3, 45.0, 90.0, 120.5, 135.0, 179.0], dtype=torch.float64)
    x = torch.rand(3, n, n, generator=torch.Generator().manual_seed(n), dtype=dtype)
    R = Radon(n, th, dtype=dtype)
    ours = project_direct(x, n, np.deg2rad(th.numpy()))
    ref = R.forward(x)
    assert ours.dtype == dtype and ours.shape == ref.shape
    assert float((ours - ref).norm() / ref.norm()) < tol


def test_project_waits_for_no_matrix(tmp_path, monkeypatch):
    """A new operator assembles nothing; ``project`` of a new geometry leaves A unbuilt and
    equals ``forward``; with A in memory or on disk ``project`` is ``forward`` (issue #16)."""
    import engine.imaging.operator_cache as oc
    monkeypatch.setenv("FLOWSCOPE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(oc, "MIN_CACHED_SAMPLES", 0)
    x = torch.rand(2, 24, 24, generator=torch.Generator().manual_seed(1))
    R = Radon(24, _angles(9))
    assert R.operator_bytes() == 0 and not R.has_matrix()
    y = R.project(x)
    assert R.operator_bytes() == 0 and y.shape == (2, 9, 24)
    assert torch.allclose(y, R.forward(x), rtol=1e-5, atol=1e-5)
    assert R.has_matrix() and torch.equal(R.project(x[0]), R.forward(x[0]))
    fresh = Radon(24, _angles(9))                       # A read back from the disk cache
    assert fresh.has_matrix() and torch.equal(fresh.project(x), R.forward(x))
    with pytest.raises(ValueError):
        Radon(24, _angles(10)).project(torch.zeros(2, 23, 24))
    later = Radon(24, _angles(11))
    later.assemble()                                    # what the lab does after FBP's image
    assert later.has_matrix() and ("B", torch.float32) in later._mats
    assert sorted(f.name[:3] for f in (tmp_path / "radon").glob("*a11*")) == ["fbp", "rad"]


@pytest.mark.parametrize("n, per, dtype, tol", [(20, 3, torch.float64, 1e-13),
                                                (47, 4, torch.float32, 2e-6)])
def test_direct_backprojection_equals_the_matrix(n, per, dtype, tol):
    """FBP's back-projection assembled one angle group at a time and dropped equals the
    stored matrix applied (§4.2), and the FBP of a first call equals later ones (#16)."""
    from engine.imaging import ct
    from engine.imaging.ct_direct import backproject_direct
    th = torch.tensor([0.0, 10.0, 33.3, 45.0, 90.0, 120.5, 135.0, 179.0], dtype=torch.float64)
    q = torch.randn(3, len(th), n + 1, generator=torch.Generator().manual_seed(n), dtype=dtype)
    R = Radon(n, th, dtype=dtype)
    ours = backproject_direct(q, n, np.deg2rad(th.numpy()), per, ct._assemble_backprojection)
    ref = R._apply(R._csr("B", dtype), q, (len(th), n + 1), (n, n))
    assert ours.dtype == dtype and ours.shape == (3, n, n)
    assert float((ours - ref).norm() / ref.norm()) < tol
    sino = R.forward(torch.rand(2, n, n, generator=torch.Generator().manual_seed(2),
                                dtype=dtype))
    fresh = Radon(n, th, dtype=dtype)
    first, again = fbp(sino, fresh), fbp(sino, fresh)   # without, then with the matrix
    assert ("B", dtype) in fresh._mats and torch.allclose(first, again, rtol=tol, atol=tol)
    with pytest.raises(ValueError):
        backproject_direct(q[:, :, :n], n, np.deg2rad(th.numpy()), per,
                           ct._assemble_backprojection)
