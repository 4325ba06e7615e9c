"""The labs that exist: name → LabSpec. The shell lists exactly these.

Lab names are fixed: ``gradient-flow``, ``regions``, ``diffusion``, ``recon``, ``learned``,
``convex-duals``. A lab appears here only once it is built (no placeholders).
"""
from __future__ import annotations

import importlib
import json
import threading
from dataclasses import dataclass, field
from typing import Callable

import resources

PRESET_DIR = resources.path("presets")
#: Held while a lab's modules are imported: by the GUI thread and by the background loader
#: (``app.window_loader``); two threads importing crossing chains of modules at once can make
#: Python's import machinery raise ``_DeadlockError``.
IMPORT_LOCK = threading.RLock()


@dataclass(frozen=True)
class Paper:
    """A paper behind a lab, shown in Help."""
    citation: str
    url: str
    note: str = ""


@dataclass(frozen=True)
class LabSpec:
    """Everything the shell needs to know about one lab.

    ``presenter``, ``config`` and ``run`` are "module:attribute" paths, imported lazily so
    that the window can show before torch is imported by a lab. ``run`` is the lab's engine
    entry ``run_config(cfg, device) -> Generator[Progress, None, Result]`` (docs/CONTRACTS.md):
    the shell, the CLI and the tests run every lab through it the same way.
    """
    name: str
    title: str
    presenter: str
    config: str
    run: str
    summary: str
    papers: tuple[Paper, ...] = field(default_factory=tuple)

    def load_presenter(self) -> Callable:
        return _resolve(self.presenter)

    def config_class(self) -> type:
        return _resolve(self.config)

    def run_entry(self) -> Callable:
        """The engine's ``run_config(cfg, device)`` of this lab."""
        return _resolve(self.run)

    def presets(self) -> dict[str, dict]:
        """Preset name → {"title", "description", "config": {...}, "view": str|None}."""
        path = PRESET_DIR / f"{self.name}.json"
        if not path.exists():
            return {}
        return json.loads(path.read_text(encoding="utf-8"))


def _resolve(path: str):
    module, _, attr = path.partition(":")
    with IMPORT_LOCK:
        return getattr(importlib.import_module(module), attr)


LABS: dict[str, LabSpec] = {
    "gradient-flow": LabSpec(
        name="gradient-flow",
        title="Gradient flow",
        presenter="app.labs.gradient_flow:GradientFlowLab",
        config="engine.gradient_flow:FlowConfig",
        run="engine.gradient_flow.lab:run_config",
        summary="Magnitude and angle dynamics of single and deep ReLU neurons "
                "(teacher–student, Gaussian inputs) under gradient flow and gradient descent.",
        papers=(
            Paper("H. Lee, B. Sim, J. C. Ye, \"Magnitude and angle dynamics in training single "
                  "ReLU neurons\", Neural Networks 178 (2024) 106435; arXiv:2209.13394",
                  "https://arxiv.org/abs/2209.13394",
                  "‖w‖ and φ = π − θ dynamics, bounds, small initialisation slows deep neurons."),
            Paper("H. Lee, B. Sim, J. C. Ye, \"Support vectors and gradient dynamics of "
                  "single-neuron ReLU networks\", arXiv:2202.05510",
                  "https://arxiv.org/abs/2202.05510",
                  "Finite data: active sets, samples that stay active ('support vectors')."),
            Paper("Y. Cho, L. K. Saul, \"Kernel methods for deep learning\", NeurIPS 2009",
                  "https://papers.nips.cc/paper/3628-kernel-methods-for-deep-learning",
                  "The arc-cosine kernel behind the closed-form population loss."),
        ),
    ),
    "regions": LabSpec(
        name="regions",
        title="Activation regions",
        presenter="app.labs.regions:RegionsLab",
        config="engine.regions:RegionsConfig",
        run="engine.regions.lab:run_config",
        summary="Exact activation regions of ReLU networks on 2-D input, and the convex "
                "reformulation of two-layer ReLU training with its certified global optimum.",
        papers=(
            Paper("M. Pilanci, T. Ergen, \"Neural networks are convex regularizers: exact "
                  "polynomial-time convex optimization formulations for two-layer networks\", "
                  "ICML 2020; arXiv:2002.10553", "https://arxiv.org/abs/2002.10553",
                  "The convex program over activation patterns and m ≥ m*."),
            Paper("A. Mishkin, A. Sahiner, M. Pilanci, \"Fast convex optimization for "
                  "two-layer ReLU networks\", ICML 2022; arXiv:2202.01331",
                  "https://arxiv.org/abs/2202.01331",
                  "Gated ReLU, FISTA and augmented-Lagrangian solvers (scnn)."),
            Paper("A. I. Humayun, R. Balestriero, G. Balakrishnan, R. Baraniuk, \"SplineCam: "
                  "exact visualization and characterization of deep network geometry and "
                  "decision boundaries\", CVPR 2023; arXiv:2302.12828",
                  "https://arxiv.org/abs/2302.12828", "Exact linear regions of ReLU nets."),
        ),
    ),
    "diffusion": LabSpec(
        name="diffusion",
        title="Diffusion paths",
        presenter="app.labs.diffusion:DiffusionLab",
        config="engine.diffusion:DiffusionConfig",
        run="engine.diffusion.lab:run_config",
        summary="Diffusion sampler and inverse-solver paths on Gaussian-mixture priors whose "
                "noised densities, scores and posteriors are exact.",
        papers=(
            Paper("J. Ho, A. Jain, P. Abbeel, \"Denoising diffusion probabilistic models\", "
                  "NeurIPS 2020; arXiv:2006.11239", "https://arxiv.org/abs/2006.11239", "DDPM."),
            Paper("J. Song, C. Meng, S. Ermon, \"Denoising diffusion implicit models\", ICLR "
                  "2021; arXiv:2010.02502", "https://arxiv.org/abs/2010.02502", "DDIM(η)."),
            Paper("H. Chung, B. Sim, D. Ryu, J. C. Ye, \"Improving diffusion models for inverse "
                  "problems using manifold constraints\", NeurIPS 2022; arXiv:2206.00941",
                  "https://arxiv.org/abs/2206.00941", "MCG vs projection."),
            Paper("H. Chung, B. Sim, J. C. Ye, \"Come-closer-diffuse-faster\", CVPR 2022; "
                  "arXiv:2112.05146", "https://arxiv.org/abs/2112.05146", "CCDF."),
            Paper("H. Chung, J. Kim, M. T. Mccann, M. L. Klasky, J. C. Ye, \"Diffusion posterior "
                  "sampling for general noisy inverse problems\", ICLR 2023; arXiv:2209.14687",
                  "https://arxiv.org/abs/2209.14687", "DPS."),
            Paper("H. Chung, S. Lee, J. C. Ye, \"Decomposed diffusion sampler for accelerating "
                  "large-scale inverse problems\", ICLR 2024; arXiv:2303.05754",
                  "https://arxiv.org/abs/2303.05754", "DDS (CG data consistency on x̂₀)."),
            Paper("M. Mardani, J. Song, J. Kautz, A. Vahdat, \"A variational perspective on "
                  "solving inverse problems with diffusion models\", ICLR 2024; "
                  "arXiv:2305.04391", "https://arxiv.org/abs/2305.04391", "RED-diff."),
            Paper("S. Wizadwongsa et al., \"Diffusion sampling with momentum for mitigating "
                  "divergence artifacts\", ICCV 2023; arXiv:2307.11118",
                  "https://arxiv.org/abs/2307.11118", "HB and GHVB momentum samplers."),
        ),
    ),
    "recon": LabSpec(
        name="recon",
        title="Reconstruction",
        presenter="app.labs.recon:ReconLab",
        config="engine.recon.lab:ReconConfig",
        run="engine.recon.lab:run_config",
        summary="Sparse-view CT and undersampled MRI of 3-D volumes, reconstructed by "
                "FBP/SIRT/CGLS/TV and zero-filled/CG-SENSE/compressed sensing, inspected "
                "slice by slice.",
        papers=(
            Paper("A. C. Kak, M. Slaney, \"Principles of Computerized Tomographic Imaging\", "
                  "IEEE Press 1988", "https://www.slaney.org/pct/",
                  "Radon transform, filtered back-projection, the Shepp–Logan phantom."),
            Paper("K. P. Pruessmann, M. Weiger, M. B. Scheidegger, P. Boesiger, \"SENSE: "
                  "sensitivity encoding for fast MRI\", MRM 42 (1999) 952–962",
                  "https://doi.org/10.1002/(SICI)1522-2594(199911)42:5<952::AID-MRM16>3.0.CO;2-S",
                  "CG-SENSE parallel imaging."),
            Paper("M. Lustig, D. Donoho, J. M. Pauly, \"Sparse MRI: the application of "
                  "compressed sensing for rapid MR imaging\", MRM 58 (2007) 1182–1195",
                  "https://doi.org/10.1002/mrm.21391", "Compressed sensing (wavelet / TV)."),
            Paper("A. Chambolle, T. Pock, \"A first-order primal-dual algorithm for convex "
                  "problems with applications to imaging\", JMIV 40 (2011) 120–145",
                  "https://doi.org/10.1007/s10851-010-0251-1", "PDHG for TV reconstruction."),
        ),
    ),
    "learned": LabSpec(
        name="learned",
        title="Learned reconstruction",
        presenter="app.labs.learned:LearnedLab",
        config="engine.learned:LearnedConfig",
        run="engine.learned.lab:run_config",
        summary="Unrolled MRI networks (MoDL, VarNet) trained end to end, with gradient "
                "checkpointing and greedily (GLEAM) on brain slices: loss, validation PSNR, "
                "peak memory and time per step side by side.",
        papers=(
            Paper("B. Ozturkler et al., \"GLEAM: Greedy learning for large-scale accelerated "
                  "MRI reconstruction\", arXiv:2207.08393", "https://arxiv.org/abs/2207.08393",
                  "Decoupled greedy modules: local losses, detached inputs, equal memory."),
            Paper("H. K. Aggarwal, M. P. Mani, M. Jacob, \"MoDL: model-based deep learning "
                  "architecture for inverse problems\", IEEE TMI 38 (2019); arXiv:1712.02862",
                  "https://arxiv.org/abs/1712.02862", "CG data consistency, shared CNN."),
            Paper("A. Sriram et al., \"End-to-end variational networks for accelerated MRI "
                  "reconstruction\", MICCAI 2020; arXiv:2004.06688",
                  "https://arxiv.org/abs/2004.06688", "k-space gradient-step cascades."),
        ),
    ),
    "convex-duals": LabSpec(
        name="convex-duals",
        title="Convex duals",
        presenter="app.labs.convex_duals:ConvexDualsLab",
        config="engine.convex_duals:DualsConfig",
        run="engine.convex_duals.lab:run_config",
        summary="Certified global optima of networks beyond the two-layer scalar ReLU net "
                "(vector outputs, batch norm, a convolutional denoiser, attention heads, a "
                "Wasserstein GAN) beside Adam or gradient descent–ascent from several seeds.",
        papers=(
            Paper("A. Sahiner, T. Ergen, J. Pauly, M. Pilanci, \"Vector-output ReLU neural "
                  "network problems are copositive programs\", ICLR 2021; arXiv:2012.13329",
                  "https://arxiv.org/abs/2012.13329",
                  "Copositive program, its relaxation, soft-thresholded SVD cases."),
            Paper("T. Ergen, A. Sahiner, B. Ozturkler, J. Pauly, M. Mardani, M. Pilanci, "
                  "\"Demystifying batch normalization in ReLU networks\", ICLR 2022; "
                  "arXiv:2103.01499", "https://arxiv.org/abs/2103.01499",
                  "BN networks are convex models on whitened data; closed forms."),
            Paper("A. Sahiner, M. Mardani, B. Ozturkler, M. Pilanci, J. Pauly, \"Convex "
                  "regularization behind neural reconstruction\", ICLR 2021; arXiv:2012.05169",
                  "https://arxiv.org/abs/2012.05169",
                  "Conv ReLU denoiser: path-sparse convex program, piecewise-linear filtering."),
            Paper("A. Sahiner, T. Ergen, B. Ozturkler, J. Pauly, M. Mardani, M. Pilanci, "
                  "\"Unraveling attention via convex duality: analysis and interpretations of "
                  "vision transformers\", ICML 2022; arXiv:2205.08078",
                  "https://arxiv.org/abs/2205.08078",
                  "Attention heads as block nuclear-norm programs; token clusters."),
            Paper("A. Sahiner, T. Ergen, B. Ozturkler, B. Bartan, J. Pauly, M. Mardani, "
                  "M. Pilanci, \"Hidden convexity of Wasserstein GANs: interpretable generative "
                  "models with closed-form solutions\", ICLR 2022; arXiv:2107.05680",
                  "https://arxiv.org/abs/2107.05680",
                  "Two-layer-discriminator WGANs: closed-form generators, convex-concave games."),
        )),
}

