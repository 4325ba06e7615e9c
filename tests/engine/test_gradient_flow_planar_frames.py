"""Fields recorded while stepping equal the fields derived from recorded states (SCIENCE.md §1.2-1.4).

Known answers: :class:`~engine.gradient_flow.planar_frames.PlanarFields` runs the same
arithmetic on the same states as the former second pass (``record_states=True``), so every
field is bit-identical; the fused planar RK4 step is the textbook RK4 of the planar
population gradient (rounding only).
"""
import pytest
import torch

from engine.gradient_flow import FlowConfig, simulate
from engine.gradient_flow.planar import CHUNK, PlanarRK4, planar_grad_fm

FIELDS = ("t", "w", "magnitude", "angle", "loss", "layers", "conservation", "bound_lower",
          "bound_upper", "teacher")


@pytest.mark.parametrize("kw", [
    dict(dim=3, integrator="rk4"), dict(dim=7, integrator="euler", teacher_angle=35.0),
    dict(dim=2, method="gd", lr=0.7), dict(dim=1), dict(dim=3, dtype="float32"),
    dict(dim=4, method="gd", lr=7.0, init_scale=1.0, t_max=700.0),        # diverges
])
def test_fields_recorded_while_stepping_equal_the_states_path(kw):
    cfg = FlowConfig(**{**dict(n_init=37, t_max=8.0, frames=23, seed=4), **kw})
    fields, states = simulate(cfg), simulate(cfg, record_states=True)
    for name in FIELDS:
        a, b = getattr(fields, name), getattr(states, name)
        assert a.dtype == b.dtype and torch.equal(a, b), name
    assert fields.conservation.shape == fields.magnitude.shape
    assert (fields.n_steps, fields.diverged_step, fields.status) == \
           (states.n_steps, states.diverged_step, states.status)
    if kw.get("lr") == 7.0:
        assert fields.diverged_step is not None


def test_one_layer_conservation_is_writable_zeros():
    rec = simulate(FlowConfig(dim=3, n_init=9, t_max=1.0, frames=5))
    assert rec.conservation.shape == (5, 9) and not rec.conservation.any()
    rec.conservation[1, 2] = 1.0                     # ordinary memory, no aliasing
    assert float(rec.conservation.sum()) == 1.0


def _textbook_rk4(W, h, nu):
    g1 = planar_grad_fm(W, nu)
    g2 = planar_grad_fm(W - 0.5 * h * g1, nu)
    g3 = planar_grad_fm(W - 0.5 * h * g2, nu)
    g4 = planar_grad_fm(W - h * g3, nu)
    return W - h / 6.0 * (g1 + 2 * g2 + 2 * g3 + g4)


@pytest.mark.parametrize("nu,h", [(1.0, 0.01), (2.5, 0.2)])
def test_fused_planar_rk4_is_the_textbook_rk4(nu, h):
    gen = torch.Generator().manual_seed(1)
    W = torch.randn(2, 300, dtype=torch.float64, generator=gen)
    W[1, :3] = 0.0                                   # on the teacher's line, both sides
    W[0, 2] = -1.0
    W[:, 3] = 0.0                                    # the origin
    fused, ref, step = W, W, PlanarRK4(nu)
    for _ in range(200):
        fused, ref = step(None, fused, h), _textbook_rk4(ref, h, nu)
    assert torch.isfinite(fused).all()
    assert float((fused - ref).abs().max()) <= 1e-12 * float(ref.abs().max())
    assert torch.equal(fused[1, :4], torch.zeros(4, dtype=torch.float64))


def test_threaded_slices_record_the_same_fields():
    """Two worker threads write disjoint column slices of each frame (chunks start at the
    slice, not at 0): still the states path's numbers."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cfg = FlowConfig(dim=3, n_init=2 * CHUNK + 7, t_max=0.2, frames=4, seed=2)
        fields, states = simulate(cfg), simulate(cfg, record_states=True)
    finally:
        torch.set_num_threads(threads)
    for name in FIELDS:
        assert torch.equal(getattr(fields, name), getattr(states, name)), name


def test_teacher_on_an_axis_lifts_to_the_full_run():
    """Default teacher angle: ``e1 = (1, 0, 0)`` and e2's first column is zero, so the lift
    drops exact-zero terms; the weights are still the d-dimensional run's."""
    cfg = FlowConfig(dim=3, n_init=25, t_max=5.0, frames=11, seed=6)
    fast, full = simulate(cfg), simulate(cfg, full_state=True)
    assert float((fast.w - full.w).abs().max()) <= 1e-12 * float(full.w.abs().max())
    plane_x = fast.magnitude * torch.cos(fast.angle)           # w·e1 = r cos θ
    assert torch.allclose(fast.w[..., 0], plane_x, rtol=0, atol=1e-14)


def test_phase_field_range_ignores_non_finite_norms_without_copying():
    """ρmax = 1.15 max(ν, largest finite ‖u‖) (the lab's phase portrait), NaN / inf skipped."""
    import numpy as np
    from engine.gradient_flow.lab import phase_field
    magnitude = np.random.default_rng(0).random((6, 50))
    cfg = FlowConfig(teacher_norm=0.5)
    assert phase_field(magnitude, cfg).r.max() == pytest.approx(1.15 * magnitude.max())
    magnitude[2, 3], magnitude[4, 0], magnitude[5, 9] = np.nan, np.inf, 7.0
    assert phase_field(magnitude, cfg).r.max() == pytest.approx(1.15 * 7.0)
    assert phase_field(np.full((2, 2), np.nan), cfg).r.max() == pytest.approx(1.15 * 0.5)
