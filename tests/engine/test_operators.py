"""Every linear operator of the engine against the same known answers (SCIENCE.md §4.1, §4.3,
§4.5, §3.4): adjointness to float precision, linearity, ``normal == adjoint ∘ forward``, batch
axes, and the power-iteration norm within 1 % of the largest singular value of the dense matrix.
"""
import math

import pytest
import torch

from engine.core.linop import FiniteDifference, MatrixOperator, RealView, Scaled
from engine.diffusion.linalg import Measurement
from engine.recon import MRI, Radon, make_mask

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
C128, F64 = torch.complex128, torch.float64


def _angles(k, stop=180.0):
    return torch.linspace(0, stop, k + 1, dtype=F64)[:-1]


def _mri(n_coils, shape, dtype=C128):
    mshape = shape if len(shape) == 2 else shape[:2]
    kind = "random" if len(shape) == 2 else "poisson"
    return MRI(mask=make_mask(kind, mshape, acceleration=3, seed=1), n_coils=n_coils,
               shape=shape, dtype=dtype)


def _measurement():
    A = torch.randn(3, 7, generator=torch.Generator().manual_seed(4), dtype=F64)
    return Measurement(A, torch.zeros(3, dtype=F64), 0.0, 7, "cpu", F64)


# name → builder of a small instance (float64/complex128 unless the name says otherwise)
OPERATORS = {
    "radon-32": lambda: Radon(32, _angles(30), dtype=F64),
    "radon-33-odd-90deg": lambda: Radon(33, _angles(7, 90.0), dtype=F64),
    "radon-24-irregular": lambda: Radon(24, torch.tensor([0.0, 13.7, 45.0, 90.0, 171.2]),
                                        dtype=F64),
    "radon-20-float32": lambda: Radon(20, _angles(12)),
    "radon-scaled": lambda: Scaled(Radon(16, _angles(9), dtype=F64), -0.37),
    "mri-1coil": lambda: _mri(1, (24, 20)),
    "mri-8coils": lambda: _mri(8, (24, 20)),
    "mri-3d-kykz": lambda: _mri(4, (6, 16, 12)),
    "mri-complex64": lambda: _mri(8, (16, 16), torch.complex64),
    "mri-real-view": lambda: RealView(_mri(4, (16, 12))),
    "grad-2d": lambda: FiniteDifference((9, 11), (-2, -1), F64),
    "grad-3d": lambda: FiniteDifference((5, 9, 11), (-3, -2, -1), F64),
    "grad-2d-complex": lambda: FiniteDifference((8, 6), (-2, -1), C128),
    "dz": lambda: FiniteDifference((5, 4, 4), (-3,), F64),
    "measurement": _measurement,
    "matrix-complex": lambda: MatrixOperator(torch.randn(
        4, 6, generator=torch.Generator().manual_seed(5), dtype=C128)),
}
# operators whose leading batch axes map item by item onto leading output axes (the finite
# differences put their component axis first)
BATCHED = [name for name in OPERATORS if not name.startswith(("grad", "dz"))]


@pytest.fixture(params=list(OPERATORS), ids=list(OPERATORS))
def op(request):
    return OPERATORS[request.param]()


def _rand(shape, dtype, gen):
    return torch.randn(tuple(shape), generator=gen, dtype=dtype)


def _inner(a, b, complex_linear: bool):
    """``⟨a, b⟩``: the complex inner product, or its real part for real-linear maps."""
    v = torch.vdot(a.reshape(-1), b.reshape(-1).to(a.dtype if a.is_complex() else b.dtype))
    return v if complex_linear else v.real


def _tol(op):
    return 1e-12 if op.dtype in (F64, C128) else 1e-5


def test_shapes_and_adjointness(op):
    gen = torch.Generator().manual_seed(0)
    x, y = _rand(op.in_shape, op.dtype, gen), _rand(op.out_shape, op.out_dtype, gen)
    ax, aty = op.forward(x), op.adjoint(y)
    assert ax.shape == tuple(op.out_shape) and ax.dtype == op.out_dtype
    assert aty.shape == tuple(op.in_shape) and aty.dtype == op.dtype
    complex_linear = op.dtype.is_complex or not op.out_dtype.is_complex
    lhs, rhs = _inner(ax, y, complex_linear), _inner(x, aty, complex_linear)
    assert abs(lhs - rhs) / abs(lhs) < _tol(op)


def test_linearity_and_normal(op):
    gen = torch.Generator().manual_seed(1)
    x1, x2 = _rand(op.in_shape, op.dtype, gen), _rand(op.in_shape, op.dtype, gen)
    a, b = (0.7 - 0.2j, -1.3 + 0.5j) if op.dtype.is_complex else (0.7, -1.3)
    lhs, rhs = op.forward(a * x1 + b * x2), a * op.forward(x1) + b * op.forward(x2)
    assert torch.linalg.vector_norm(lhs - rhs) <= _tol(op) * torch.linalg.vector_norm(rhs)
    ref = op.adjoint(op.forward(x1))
    assert torch.linalg.vector_norm(op.normal(x1) - ref) <= _tol(op) * torch.linalg.vector_norm(
        ref)


@pytest.mark.parametrize("name", BATCHED)
def test_batch_axes_act_item_by_item(name):
    op = OPERATORS[name]()
    gen = torch.Generator().manual_seed(2)
    xs = _rand((3, *op.in_shape), op.dtype, gen)
    ys = _rand((3, *op.out_shape), op.out_dtype, gen)
    fx, ay = op.forward(xs), op.adjoint(ys)
    assert fx.shape == (3, *op.out_shape) and ay.shape == (3, *op.in_shape)
    for i in range(3):
        assert torch.allclose(fx[i], op.forward(xs[i]), atol=10 * _tol(op))
        assert torch.allclose(ay[i], op.adjoint(ys[i]), atol=10 * _tol(op))


def _dense_norm(op) -> float:
    """Largest singular value of the operator's matrix, built column by column."""
    n = math.prod(op.in_shape)
    eye = torch.eye(n, dtype=op.dtype)
    cols = torch.stack([op.forward(e.reshape(op.in_shape)).reshape(-1) for e in eye], dim=1)
    if cols.is_complex() and not op.dtype.is_complex:       # real-linear: [Re; Im] matrix
        cols = torch.cat([cols.real, cols.imag])
    return float(torch.linalg.matrix_norm(cols.to(C128 if cols.is_complex() else F64), ord=2))


def test_norm_estimate_within_one_percent(op):
    exact = _dense_norm(op)
    assert op.norm() == pytest.approx(exact, rel=0.01)
    assert op.norm() <= exact * (1 + 1e-5)       # power iteration approaches from below


def test_finite_difference_norm_is_exact():
    """``‖∇‖² = Σ 4 sin²(π(n-1)/(2n))`` (Neumann Laplacian spectrum, SCIENCE.md §4.3)."""
    for shape, axes in (((7,), (-1,)), ((5, 9, 11), (-3, -2, -1)), ((4, 6), (-2, -1))):
        op = FiniteDifference(shape, axes, F64)
        assert op.norm() == pytest.approx(_dense_norm(op), rel=1e-12)
    with pytest.raises(ValueError):
        FiniteDifference((4, 4), (0,))


def test_data_term_holds_any_operator():
    """The slice-prior data term normalises any operator, ``Ã = A/‖A‖`` (SCIENCE.md §3.4 (e)):
    a scaled copy of the operator with a scaled measurement gives the same problem, and a
    complex operator is seen through its real view ``Re AᴴA``."""
    from engine.slice_prior.data_term import DataTerm
    gen = torch.Generator().manual_seed(3)
    R = Radon(16, _angles(9), dtype=F64)
    x = torch.rand(2, 16, 16, generator=gen, dtype=F64).float()
    y = R.forward(x)
    plain, scaled = DataTerm(R, y), DataTerm(Scaled(R, 2.5), 2.5 * y)
    assert scaled.scale == pytest.approx(2.5 * plain.scale, rel=1e-12)
    assert torch.allclose(scaled.solve(plain.initial(), 5), plain.solve(plain.initial(), 5),
                          atol=1e-5)
    mri = _mri(4, (16, 16), torch.complex64)
    term = DataTerm(mri, mri.forward(x.to(torch.complex64)))
    ref = mri.adjoint(mri.forward(x.to(torch.complex64))).real / mri.norm() ** 2
    assert torch.allclose(term.normal(x), ref, atol=1e-6)
    assert term.residual_norm(x) < 1e-6
    with pytest.raises(ValueError, match="per-slice"):
        DataTerm(_mri(2, (4, 16, 16)), torch.zeros(2, 4, 16, 16, dtype=torch.complex64))
