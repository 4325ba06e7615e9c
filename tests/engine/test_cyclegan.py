"""Known answers of unpaired OT-cycleGAN training (SCIENCE.md §6.5.4)."""
import numpy as np
import pytest
import torch

from engine.core import drain
from engine.imaging.unrolled import unrolled_net
from engine.learned import brain_slices
from engine.learned.cyclegan import (PatchCritic, critic_loss, cycle_loss, generator_loss,
                                     gradient_penalty, train_ot_cyclegan, unpaired_split)


@pytest.fixture(scope="module")
def data():
    return brain_slices(size=16, acceleration=4, n_coils=4, seed=0)


def test_the_two_training_sets_are_disjoint_and_unpaired(data):
    """§6.5.4 test 5: no slice gives both a clean image and k-space; none is a test slice."""
    sets = unpaired_split(data)
    assert set(sets.x_index).isdisjoint(sets.y_index)
    assert set(sets.x_index) | set(sets.y_index) == set(data.train.index)
    assert set(sets.x_index).isdisjoint(data.test.index)
    assert len(sets.x) + len(sets.y) == len(data.train)


def test_single_coil_h_is_an_orthogonal_projection_multi_coil_is_not():
    """§6.5.4 test 1: with one coil (unit map) H = AᴴA is idempotent and self-adjoint; with
    several coils it is not, so the y-side cycle is measured in k-space, ‖y − A G(y)‖."""
    from engine.imaging.masks import make_mask
    from engine.imaging.mri import MRI
    mask = make_mask("random", (16, 16), 4, seed=0)
    g = torch.Generator().manual_seed(0)
    x, z = (torch.randn(16, 16, dtype=torch.complex128, generator=g) for _ in range(2))
    one = MRI(mask, maps=torch.ones(1, 16, 16, dtype=torch.complex128), dtype=torch.complex128)
    h = one.normal
    torch.testing.assert_close(h(h(x)), h(x), rtol=0, atol=1e-12)
    assert abs(complex(torch.vdot(z.flatten(), h(x).flatten())
                       - torch.vdot(h(z).flatten(), x.flatten()))) < 1e-12
    many = MRI(mask, n_coils=4, dtype=torch.complex128).normal
    assert float((many(many(x)) - many(x)).norm() / many(x).norm()) > 1e-2


class _Linear(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a

    def forward(self, x):
        return (torch.view_as_real(x).flatten(1) * self.a).sum(dim=1)


def test_gradient_penalty_of_a_linear_critic():
    """§6.5.4 test 4: D(x) = ⟨a, x⟩ has GP = (‖a‖ − 1)² exactly."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2 * 8 * 8 * 2, generator=g, dtype=torch.float64)
    real = torch.randn(3, 8, 8, dtype=torch.complex128, generator=g)
    fake = torch.randn(3, 8, 8, dtype=torch.complex128, generator=g)
    gp = gradient_penalty(_Linear(a.reshape(-1)[:8 * 8 * 2]), real, fake, g)
    assert float(gp) == pytest.approx((float(a[:128].norm()) - 1) ** 2, rel=1e-12)


def test_untrained_generator_cycle_is_the_zero_filled_error(data):
    """§6.5.4 test 2 (multi-coil form): the untrained VarNet is G = Aᴴ, so the x-side cycle
    term is the zero-filled error mean|x − AᴴAx| and the y-side is mean|y − AAᴴy|."""
    op, sets = data.operator(), unpaired_split(data)
    x, y = sets.x[:3], sets.y[:3]
    net = unrolled_net("varnet", 2, 4, 2)
    cyc, fake = cycle_loss(net, op, x, y)
    zf_x = (x - op.adjoint(op.forward(x))).abs().mean()
    zf_y = (y - op.forward(op.adjoint(y))).abs().mean()
    assert float(cyc.detach()) == pytest.approx(float(zf_x + zf_y), rel=1e-5)
    torch.testing.assert_close(fake, op.adjoint(y))


def test_without_the_critic_the_loss_is_the_cycle_term(data):
    """With w_gan = 0 the generator loss is w_cyc · ℓ_cyc exactly (no critic term), and the
    y-side term at CG-SENSE (the least-squares data fit) is below zero-filled's."""
    from engine.imaging.mri import cg_sense
    op, sets = data.operator(), unpaired_split(data)
    net = unrolled_net("varnet", 2, 4, 2)
    critic = PatchCritic()
    loss, cyc, _ = generator_loss(net, critic, op, sets.x[:2], sets.y[:2], 0.0, 2.5)
    assert float(loss.detach()) == pytest.approx(2.5 * float(cyc.detach()), rel=1e-7)
    y = sets.y[0]
    ls = cg_sense(y, op, iters=30, lam=0.0, tol=0)
    resid = lambda img: float((y - op.forward(img)).norm())        # noqa: E731
    assert resid(ls) < resid(op.adjoint(y))


def test_critic_loss_is_finite_and_trains(data):
    sets = unpaired_split(data)
    critic = PatchCritic()
    g = torch.Generator().manual_seed(1)
    loss = critic_loss(critic, sets.x[:2], data.operator().adjoint(sets.y[:2]), g)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in critic.parameters())


def test_unpaired_training_runs_reproducibly_and_refuses_bad_rates(data):
    def run(lr=2e-3):
        torch.manual_seed(0)
        net = unrolled_net("varnet", 2, 4, 2)
        return drain(train_ot_cyclegan(net, data, steps=2, lr=lr, batch=2, eval_every=1,
                                       n_critic=1))
    a, b = run(), run()
    np.testing.assert_array_equal(a.loss, b.loss)
    assert a.mode == "otcycle" and len(a.val_psnr) == 2 and np.isfinite(a.test_psnr)
    assert a.peak_bytes > 0 and a.message == ""
    with pytest.raises(ValueError, match="lr > 0"):
        run(lr=-1.0)
    blown = run(lr=1e30)
    assert "NaN" in blown.message and all(torch.isfinite(p).all() for p in blown.net.parameters())


def test_lab_trains_the_unpaired_net_beside_the_supervised_one():
    from engine.learned import LearnedConfig
    from engine.learned.lab import run_config
    cfg = LearnedConfig(size=16, n_unrolls=1, width=4, depth=2, steps=1, batch=2, eval_every=1,
                        train_gleam=False, shipped=False, train_otcycle=True, n_critic=1)
    result = drain(run_config(cfg, "cpu"))
    runs = {r.mode: r for r in result.runs}
    assert list(runs) == ["e2e", "otcycle"] and runs["otcycle"].title.startswith("OT-cycleGAN")
    assert not np.array_equal(runs["e2e"].recon, runs["otcycle"].recon)
    only = LearnedConfig(train_e2e=False, train_gleam=False, train_otcycle=True)
    from engine.learned.lab import _plan
    assert _plan(only) == [("otcycle", only.n_unrolls, 1)]


def test_unpaired_training_resumes_exactly(data):
    """4 steps equal 2 steps then 2 resumed (critic, optimisers and batch order travel)."""
    def net():
        torch.manual_seed(0)
        return unrolled_net("varnet", 1, 4, 2)
    kw = dict(lr=2e-3, batch=2, eval_every=4, n_critic=1)
    full = drain(train_ot_cyclegan(net(), data, steps=4, **kw))
    half = drain(train_ot_cyclegan(net(), data, steps=2, **kw))
    rest = drain(train_ot_cyclegan(half.net, data, steps=4, resume=half.state, **kw))
    np.testing.assert_allclose(rest.loss, full.loss, rtol=1e-6)
    for a, b in zip(rest.net.parameters(), full.net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
