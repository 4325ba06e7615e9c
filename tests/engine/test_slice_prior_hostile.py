"""Slice-prior weights and checkpoint files that lie (issue #17): every one is a ValueError
naming the file, decided before anything big is allocated; the recon lab skips the method."""
from __future__ import annotations

import math
import time

import pytest
import torch

from engine.core import drain
from engine.slice_prior import SliceUNet, UNetConfig, load_slice_prior, save_prior
from engine.slice_prior.checkpoint import load_checkpoint, save_checkpoint
from engine.slice_prior.train import TrainConfig, train_prior_iter
from engine.slice_prior.validate import MAX_PARAMETERS, meta_net, unet_config

TINY = UNetConfig(base=8, mults=(1, 2), emb=16, groups=4)


@pytest.fixture
def blob(tmp_path):
    torch.manual_seed(0)
    path = save_prior(tmp_path / "p.pt", SliceUNet(TINY), 16, {"steps": 1})
    return torch.load(path, weights_only=True)


def _load(tmp_path, blob):
    path = tmp_path / "bad.pt"
    torch.save(blob, path)
    return path, (lambda: load_slice_prior(16, path=path))


def test_a_small_file_cannot_ask_for_a_huge_network(tmp_path, blob):
    blob["unet"] = {"base": 512, "mults": [16] * 8, "emb": 4096, "groups": 8}
    blob["state_dict"], blob["size"] = {}, 1024
    path, load = _load(tmp_path, blob)
    assert path.stat().st_size < 5_000
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="parameters") as err:
        load()
    assert str(path) in str(err.value) and time.perf_counter() - t0 < 5.0


def test_the_parameter_count_is_the_real_networks():
    cfg = UNetConfig(base=16, mults=(1, 2), emb=32, groups=4)
    assert sum(p.numel() for p in meta_net(cfg, "x").parameters()) == \
        sum(p.numel() for p in SliceUNet(cfg).parameters())
    big = UNetConfig(base=512, mults=(1, 2, 4, 8), emb=1024, groups=8)
    with pytest.raises(ValueError, match=f"at most {MAX_PARAMETERS:,}"):
        meta_net(big, "x")


@pytest.mark.parametrize("change, says", [
    (lambda b: b.pop("state_dict"), "'state_dict' must be a dict"),
    (lambda b: b.update(unet="big"), "'unet' must be a dict"),
    (lambda b: b["unet"].update(mults="12"), "unet.mults"),
    (lambda b: b["unet"].update(mults=[1] * 50), "unet.mults"),
    (lambda b: b["unet"].update(base=True), "unet.base"),
    (lambda b: b["unet"].update(base=10 ** 400), "unet.base"),
    (lambda b: b["unet"].update(emb=15), "emb must be even"),
    (lambda b: b["unet"].update(groups=3), "groups"),
    (lambda b: b["unet"].update(base=0), "unet.base"),
    (lambda b: b.update(version=99), "version"),
    (lambda b: b.pop("size"), "size"),
    (lambda b: b.update(size=15), "divisible"),
    (lambda b: b.update(schedule={"kind": "cosine"}), "schedule"),
    (lambda b: b["state_dict"].pop("out.bias"), "another architecture"),
    (lambda b: b["state_dict"].update(extra=torch.zeros(1)), "another architecture"),
    (lambda b: b["state_dict"].update({"out.bias": "zero"}), "not a floating-point"),
    (lambda b: b["state_dict"].update({"out.bias": torch.zeros(1, dtype=torch.int64)}),
     "not a floating-point"),
    (lambda b: b["state_dict"].update({"out.bias": torch.zeros(3)}), "shape"),
    (lambda b: b["state_dict"]["inp.weight"].view(-1).__setitem__(0, math.nan), "NaN"),
    (lambda b: b["state_dict"]["inp.weight"].view(-1).__setitem__(0, math.inf), "infinite"),
])
def test_malformed_weights_are_value_errors_naming_the_file(tmp_path, blob, change, says):
    change(blob)
    path, load = _load(tmp_path, blob)
    with pytest.raises(ValueError, match=says) as err:
        load()
    assert str(path) in str(err.value)


def test_valid_weights_still_load(tmp_path, blob):
    _, load = _load(tmp_path, blob)
    prior = load()
    assert prior.size == 16 and prior.card == {"steps": 1}
    assert torch.isfinite(prior.eps(torch.randn(1, 16, 16), 500.0)).all()


@pytest.fixture(scope="module")
def checkpoint_blob(tmp_path_factory):
    cfg = TrainConfig(steps=1, size=16, base=8, mults=(1, 2), batch=2, warmup=1, every=1)
    state = drain(train_prior_iter(cfg, "cpu"))
    path = save_checkpoint(tmp_path_factory.mktemp("ck") / "c.pt", state, cfg)
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("change, says", [
    (lambda b: b.pop("net"), "'net' must be a dict"),
    (lambda b: b["ema"]["out.bias"].fill_(math.nan), "NaN"),
    (lambda b: b.pop("step"), "step"),
    (lambda b: b.update(opt={"state": 3}), "malformed optimizer"),
    (lambda b: b.update(train_config=[1]), "train_config"),
    (lambda b: b.update(curve=[["a", "b"]]), "loss curve"),
    (lambda b: b["unet"].update(base=4096), "unet.base"),
])
def test_malformed_checkpoints_are_value_errors(tmp_path, checkpoint_blob, change, says):
    import copy
    blob = copy.deepcopy(checkpoint_blob)
    change(blob)
    path = tmp_path / "bad.ckpt.pt"
    torch.save(blob, path)
    with pytest.raises(ValueError, match=says) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)


def test_unet_config_bounds_every_size():
    assert unet_config({}, "x") == UNetConfig()
    assert unet_config({"base": 16, "mults": [1, 2, 4]}, "x").mults == (1, 2, 4)


def test_recon_skips_a_method_whose_prior_file_is_bad(tmp_path, blob):
    from engine.core import config_from_dict
    from engine.recon.lab import ReconConfig, run_config
    blob["state_dict"]["inp.weight"].view(-1)[0] = math.nan
    path, _ = _load(tmp_path, blob)
    cfg = config_from_dict(ReconConfig, {"size": 16, "slices": 2, "n_views": 8,
                                         "method_a": "fbp", "method_b": "dds",
                                         "prior_path": str(path), "iters": 2})
    result = drain(run_config(cfg, "cpu"))
    assert [r.name for r in result.runs] == ["fbp"]
    assert any("dds skipped" in n and "NaN" in n for n in result.notes)
