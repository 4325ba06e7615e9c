"""The shipped unrolled net as a recon-lab method (SCIENCE.md §6.2; engine/recon/learned_method)."""
import pytest
import torch

from engine.core import drain
from engine.imaging.masks import make_mask
from engine.imaging.mri import MRI
from engine.learned import brain_slices, mean_psnr
from engine.recon.learned_method import SHIPPED_NET, unrolled_iter
from engine.recon.methods import METHODS, methods_for


def test_method_reproduces_the_model_card_psnr_at_any_data_scale():
    """Known answer: on the net's own test slices the method gives the card's test PSNR, and
    the per-slice normalisation makes it homogeneous: method(c·y) = c·method(y)."""
    import resources
    from engine.imaging.unrolled_io import load_unrolled
    data = brain_slices(64, 4, 8, 0)
    op = data.operator()
    _, card = load_unrolled(resources.path("learned", SHIPPED_NET))
    vol = drain(unrolled_iter(op, data.test.k, 1, []))
    assert mean_psnr(vol, data.test.target) == pytest.approx(card["test_psnr"], abs=2e-3)
    scaled = drain(unrolled_iter(op, 37.0 * data.test.k[:3], 1, []))
    torch.testing.assert_close(scaled, 37.0 * vol[:3], rtol=1e-4, atol=1e-4)


def test_other_sizes_are_refused_with_the_reason():
    op = MRI(make_mask("random", (32, 32), 4, seed=0), n_coils=4)
    k = op.forward(torch.rand(2, 32, 32).to(torch.complex64))
    with pytest.raises(ValueError, match="trained on 64²"):
        drain(unrolled_iter(op, k, 1, []))


def test_recon_lab_lists_and_ranks_the_net():
    from engine.recon.lab import ReconConfig, run_config
    assert "unrolled_net" in methods_for("mri") and "unrolled_net" not in methods_for("ct")
    assert METHODS["unrolled_net"].cost == 0                  # a direct method: runs first
    cfg = ReconConfig(source="brain", modality="mri", size=64, slices=4, method_a="zero_filled",
                      method_b="unrolled_net", also="cg_sense", iters=10)
    result = drain(run_config(cfg, "cpu"))
    psnr = {r.name: r.psnr for r in result.runs}
    assert set(psnr) == {"zero_filled", "unrolled_net", "cg_sense"}
    assert psnr["unrolled_net"] > psnr["cg_sense"] > psnr["zero_filled"]


def test_a_saved_net_runs_and_a_refused_net_is_skipped_with_a_note(tmp_path):
    """A net saved at 32² (the learned lab's 'Save trained net…' card) reconstructs a 32²
    volume; the shipped 64² net on that volume, or a corrupt file, is skipped with a note
    while the other methods still run."""
    from engine.imaging.unrolled import unrolled_net
    from engine.imaging.unrolled_io import save_unrolled
    from engine.recon.lab import ReconConfig, run_config
    torch.manual_seed(0)
    save_unrolled(tmp_path / "net.pt", unrolled_net("varnet", 2, 4, 2), {"size": 32})
    (tmp_path / "bad.pt").write_bytes(b"not weights")
    base = dict(source="brain", modality="mri", size=32, slices=2, method_a="zero_filled",
                method_b="unrolled_net", iters=4)
    saved = drain(run_config(ReconConfig(**base, net_path=str(tmp_path / "net.pt")), "cpu"))
    assert [r.name for r in saved.runs] == ["zero_filled", "unrolled_net"] and not saved.notes
    for path, reason in (("", "trained on 64²"), (str(tmp_path / "bad.pt"), "not a readable")):
        result = drain(run_config(ReconConfig(**base, net_path=path), "cpu"))
        assert [r.name for r in result.runs] == ["zero_filled"]
        assert any(n.startswith("unrolled_net skipped") and reason in n for n in result.notes)
