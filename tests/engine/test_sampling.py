"""The shared solver contract (engine.sampling): one zoo, two models (SCIENCE.md §3.4).

Known answers: the Gaussian-mixture runs equal the numbers the solvers gave before they moved
behind the contract (seeded, float64; recorded from the old ``engine/diffusion/solvers.py``);
the slice-prior volume runs equal the old ``engine/slice_prior/solvers.py`` results; the table
alone decides each solver's knobs, config fields and panel visibility.
"""
import dataclasses
import inspect
import math

import pytest
import torch

from engine.diffusion import BUILTIN_PRIORS, DiffusionConfig, solve, solver_params
from engine.diffusion.config import solvers_using
from engine.diffusion.table import SPECS
from engine.recon import Radon, fbp, psnr, shepp_logan_3d
from engine.recon.diffusion import VolumeData, diffusion_reconstruct
from engine.sampling import SOLVERS, Context, SolverSpec, check_params, solver_defaults
from engine.sampling.table import NoParams, config_fields, knob, params_from
from engine.slice_prior import load_slice_prior
from engine.slice_prior.data_term import DataTerm
from engine.slice_prior.prior import to_image

# solver/σ_y → (Σx, Σx², x[0, 0], NFE) of the old code: ring prior, A = [0.6, 0.8], y = 1.2,
# 64 particles, 20 steps, seed 3, float64; x_T ~ N(0, I) as then (the default start is now
# the exact p_T, issue #18).
OLD_GMM = {
    ("ddim", 0.0): (-6.583844173570425, 258.8243135216595, -1.654158641096858, 20),
    ("dds", 0.0): (106.55592293706921, 230.20053540525058, -0.5479971879860821, 20),
    ("dds", 0.1): (114.62879226450742, 236.52624842326634, -0.2670999407331031, 20),
    ("ccdf", 0.0): (104.38696909243862, 223.99729204175918, 1.5582917042487827, 10),
    ("mcg", 0.1): (110.00639992508809, 236.89305521509317, 1.8934173436037316, 40),
    ("dps", 0.1): (67.66168396983872, 258.48096529959105, -1.8519073696830288, 40),
    ("reddiff", 0.1): (117.78281755079463, 114.647123527324, 0.6522873206226607, 20),
    ("hb", 0.0): (-6.711165143381223, 256.135715161876, -1.6397624213326334, 20),
    ("posterior", 0.1): (110.0819677679182, 259.0439442571245, -0.615648483182721, 20),
}
# method → (Σx, PSNR) of the old slice-prior solvers: 3 Shepp–Logan slices of 64², CT 8 views,
# the shipped 64² prior, 10 steps, seed 0.
OLD_VOLUME = {"dds": (1357.592041015625, 19.955498766836165),
              "ccdf": (1361.3154296875, 16.745617018601216),
              # MBIR's TV along z uses the core Neumann D_z since the operator layer (#12.1;
              # before: circular, 1359.9221 / 17.4434 dB): re-recorded then.
              "mbir": (1359.864501953125, 17.38769386551755),
              "mcg": (1369.8807373046875, 16.027528715827525)}


@pytest.mark.parametrize("name, sigma", list(OLD_GMM))
def test_gmm_runs_equal_the_old_solvers(name, sigma):
    rec = solve(name, BUILTIN_PRIORS["ring"](2), A=torch.tensor([[0.6, 0.8]]),
                y=torch.tensor([1.2]), sigma_y=sigma, n_particles=64, n_steps=20, seed=3,
                dtype="float64", metrics=False, start="N(0, I)")
    x = rec.final
    got = (float(x.sum()), float(x.square().sum()), float(x[0, 0]), rec.nfe)
    assert got == pytest.approx(OLD_GMM[name, sigma], rel=1e-12, abs=1e-12)


@pytest.fixture(scope="module")
def ct_volume():
    truth = shepp_logan_3d((3, 64, 64), z=(-0.5, 0.0, 0.5))   # the slices the old runs saw
    R = Radon(64, torch.linspace(0, 180, 9)[:-1])
    return truth, R, R.forward(truth)


@pytest.mark.parametrize("method", list(OLD_VOLUME))
def test_volume_runs_equal_the_old_slice_prior_solvers(method, ct_volume):
    truth, R, y = ct_volume
    x = diffusion_reconstruct(method, load_slice_prior(64), R, y, n_steps=10, seed=0)
    total, quality = OLD_VOLUME[method]
    assert float(x.sum()) == pytest.approx(total, rel=1e-5)
    assert psnr(x.clamp(0, 1), truth, data_range=1.0) == pytest.approx(quality, abs=1e-3)


def _volume_context(prior, data: DataTerm, n_steps: int, seed: int) -> Context:
    return Context(model=prior, grid=prior.schedule.grid(n_steps), shape=data.shape,
                   gen=torch.Generator().manual_seed(seed), dc=VolumeData(data))


def test_the_same_dds_function_runs_on_the_slice_prior_and_a_volume(ct_volume):
    """``SOLVERS["dds"].fn`` — the function the toy lab runs — on the learned model with the
    volume data term: its last state is data-consistent (100 CG steps on the normal
    equations) and beats FBP, and it equals the recon entry point."""
    truth, R, y = ct_volume
    prior, data = load_slice_prior(64), DataTerm(R, y)
    ctx = _volume_context(prior, data, 10, seed=0)
    with torch.no_grad():
        steps = list(SOLVERS["dds"].fn(ctx, final_cg=100))
    x = to_image(steps[-1].x)
    assert len(steps) == 11 and ctx.nfe == 10
    assert data.residual_norm(x) < 2e-3
    assert psnr(x.clamp(0, 1), truth, data_range=1.0) > psnr(fbp(y, R).clamp(0, 1), truth,
                                                             data_range=1.0) + 1
    ref = diffusion_reconstruct("dds", prior, R, y, n_steps=10, seed=0, final_cg=100)
    assert torch.equal(x, ref)


def test_unconditional_ddim_runs_on_the_slice_prior():
    """DDIM(η = 0) is deterministic given the start: two runs agree, and the samples land in
    the image range the prior was trained on."""
    prior = load_slice_prior(64)
    outs = []
    for _ in range(2):
        ctx = Context(model=prior, grid=prior.schedule.grid(5), shape=(2, 64, 64),
                      gen=torch.Generator().manual_seed(1))
        with torch.no_grad():
            outs.append(to_image(list(SOLVERS["ddim"].fn(ctx))[-1].x))
    assert torch.equal(outs[0], outs[1])
    assert -0.5 < float(outs[0].min()) and float(outs[0].max()) < 1.5


def test_params_defaults_are_the_function_defaults():
    for name, spec in SOLVERS.items():
        sig = inspect.signature(spec.fn).parameters
        for cls in filter(None, (spec.Params, spec.VolumeParams)):
            for f in dataclasses.fields(cls):
                assert f.name in sig, (name, f.name)
            if cls is spec.Params and spec.toy:
                for f in dataclasses.fields(cls):
                    assert f.default == sig[f.name].default, (name, f.name)


def test_config_knobs_visibility_and_solver_params_come_from_the_table():
    cfg = DiffusionConfig()
    fields = {f.name: f for f in dataclasses.fields(DiffusionConfig)}
    named = {c for spec in SPECS.values() for c in config_fields(spec.Params).values()}
    assert named <= set(fields)
    for name in named:
        users = tuple(n for n, s in SPECS.items() if name in config_fields(s.Params).values())
        assert fields[name].metadata["visible_when"] == {"solver": users,
                                                        "compare_solver": users}
    assert solvers_using("beta") == ("hb", "ghvb") and solvers_using("seed") == ()
    assert not any("visible_when" in fields[n].metadata for n in set(fields) - named)
    for name, spec in SPECS.items():
        assert set(solver_params(cfg, name)) == set(config_fields(spec.Params))


def test_adding_a_solver_is_one_function_and_one_entry():
    @dataclasses.dataclass(frozen=True)
    class HalfParams:
        shrink: float = knob(0.5, "eta")

    def halve(ctx, shrink: float = 0.5):
        x = ctx.randn()
        for i, t, _ in ctx.pairs():
            yield ctx.step(i, t, x, x)
            x = shrink * x
        yield ctx.step(ctx.n_steps, 0, x, x)

    table = {"halve": SolverSpec(halve, False, HalfParams), "ddpm": SOLVERS["ddpm"]}
    assert solver_defaults("halve", table) == {"shrink": 0.5}
    assert check_params("halve", {"shrink": 1}, table) == {"shrink": 1.0}
    with pytest.raises(ValueError, match="no parameter"):
        check_params("halve", {"eta": 0.1}, table)
    assert params_from(DiffusionConfig(eta=0.25), HalfParams) == {"shrink": 0.25}
    assert solver_defaults("ddpm", table) == {} and SOLVERS["ddpm"].Params is NoParams
    prior = BUILTIN_PRIORS["ring"](2)
    from engine.diffusion.context import ExactScore
    from engine.sampling import Schedule
    sched = Schedule.linear()
    ctx = Context(model=ExactScore(prior, sched), grid=sched.grid(4), shape=(3, 2),
                  gen=torch.Generator().manual_seed(0), dtype=torch.float64)
    steps = list(table["halve"].fn(ctx, shrink=0.5))
    assert torch.allclose(steps[-1].x, steps[0].x / 16)
    assert math.isclose(steps[0].level, sched.ab(1000))


@pytest.mark.parametrize("module, forbidden", [
    ("engine.slice_prior", ("engine.recon", "engine.diffusion")),
    ("engine.slice_prior.checkpoint", ("engine.recon", "engine.diffusion")),
    ("engine.sampling", ("engine.recon", "engine.diffusion", "engine.slice_prior")),
    ("engine.diffusion", ("engine.recon", "engine.slice_prior")),
])
def test_labs_share_the_sampling_package_instead_of_importing_each_other(module, forbidden):
    import subprocess
    import sys
    code = (f"import sys, {module}; "
            f"print(sorted(m for m in sys.modules if m.startswith({forbidden!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"{module} imports {out}"


def test_autograd_gradient_through_the_denoiser_equals_the_closed_form():
    """A model with only ``denoise`` (like a network) gets MCG/DPS gradients by autograd; on
    the mixture they equal the closed-form Tweedie Jacobian product (§3.2), and a whole DPS
    run through either path gives the same particles."""
    from engine.diffusion.context import ExactScore, LinearData
    from engine.diffusion.linalg import Measurement
    from engine.sampling import Schedule

    class DenoiseOnly:
        """Tweedie from the noised mixture's plain (autograd-friendly) score, no Jacobian."""

        def __init__(self, exact):
            self.ab, self.gmm = exact.ab, exact.gmm

        def denoise(self, x, t):
            ab, g = self.ab(t), self.gmm
            cov = ab * g.covs + (1.0 - ab) * torch.eye(g.dim, dtype=x.dtype)
            mean = math.sqrt(ab) * g.means
            logp = torch.distributions.MultivariateNormal(mean, cov).log_prob(x[:, None])
            r = torch.softmax(logp + torch.log(g.weights), -1)              # (N, K)
            diff = torch.einsum("nkd,kde->nke", x[:, None] - mean, torch.linalg.inv(cov))
            s = -(r[..., None] * diff).sum(1)
            return (x + (1.0 - ab) * s) / math.sqrt(ab), -math.sqrt(1.0 - ab) * s

    prior, sched = BUILTIN_PRIORS["ring"](2).to("cpu", torch.float64), Schedule.linear()
    exact = ExactScore(prior, sched)
    dc = LinearData(Measurement(torch.tensor([[0.6, 0.8]]), torch.tensor([1.2]), 0.05, 2,
                                "cpu", torch.float64))

    def run(model):
        ctx = Context(model=model, grid=sched.grid(20), shape=(64, 2),
                      gen=torch.Generator().manual_seed(3), dc=dc, dtype=torch.float64)
        return list(SOLVERS["dps"].fn(ctx, zeta=0.1))[-1].x, ctx.nfe

    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ctx = Context(model=DenoiseOnly(exact), grid=sched.grid(20), shape=(64, 2),
                  gen=torch.Generator(), dc=dc, dtype=torch.float64)
    _, _, g_auto = ctx.denoise_grad(x, 400, dc.residual_cotangent)
    _, _, g_exact = exact.denoise_grad(x, 400, dc.residual_cotangent)
    assert torch.allclose(g_auto, g_exact, rtol=1e-8, atol=1e-10)
    (xa, nfe_a), (xe, nfe_e) = run(DenoiseOnly(exact)), run(exact)
    assert nfe_a == nfe_e == 40 and torch.allclose(xa, xe, rtol=1e-7, atol=1e-9)


def test_volume_residual_cotangent_is_the_gradient_of_the_slice_residual_norms(ct_volume):
    """DPS/MCG's ``∇_u Σ‖Ã x(u) - ỹ‖`` on a volume (closed form through the adjoint) equals
    autograd of the per-slice residual norms, so DPS runs on the slice prior unchanged."""
    truth, R, y = ct_volume
    dc = VolumeData(DataTerm(R, y))
    u = (2 * fbp(y, R) - 1).requires_grad_(True)
    g, = torch.autograd.grad(dc.residual_norms(u).sum(), u)
    assert torch.allclose(dc.residual_cotangent(u.detach()), g, rtol=1e-4, atol=1e-6)
    prior = load_slice_prior(64)
    ctx = _volume_context(prior, DataTerm(R, y), 4, seed=0)
    with torch.no_grad():
        steps = list(SOLVERS["dps"].fn(ctx, zeta=1.0))
    assert len(steps) == 5 and ctx.nfe == 8 and torch.isfinite(steps[-1].x).all()
