"""Configuration of the learned-reconstruction lab (SCIENCE.md §6.1–§6.3)."""
from __future__ import annotations

from dataclasses import dataclass

from engine.core import param
from engine.imaging.unrolled import NET_KINDS

__all__ = ["LearnedConfig", "DATA_SOURCES"]

DATA_SOURCES = ("brain demo", "opened volume")


@dataclass(frozen=True)
class LearnedConfig:
    """One training comparison: the same net, data and steps in each chosen mode (§6.3.3).

    GLEAM's net has ``gleam_factor · K`` unrolls in ``modules`` modules: with factor = modules
    each module is as deep as the end-to-end net, so both need the same activation memory —
    the equal-memory set-up of §6.3.3 (arms (a) and (b)).
    """
    net: str = param("varnet", label="Network", choices=NET_KINDS,
                     help="VarNet-style k-space gradient-step unroll (one CNN per unroll) or "
                          "MoDL (CG data consistency, learned λ; SCIENCE.md §6.2)")
    n_unrolls: int = param(6, label="Unrolls K", min=1, max=24,
                           help="Unrolled iterations of the end-to-end and checkpointed nets")
    width: int = param(16, label="CNN width", min=2, max=64, unit="ch",
                       help="Channels of each CNN's hidden layers")
    depth: int = param(4, label="CNN depth", min=2, max=8,
                       help="3×3 convolutions per CNN")
    cg_iters: int = param(6, label="MoDL CG iterations", min=1, max=20,
                          help="CG steps of each MoDL data-consistency solve")
    train_e2e: bool = param(True, label="Train end-to-end",
                            help="Back-propagation through all K unrolls")
    train_checkpoint: bool = param(False, label="Train with checkpointing",
                                   help="Same gradients as end-to-end; each unroll recomputed "
                                        "in the backward pass (less memory, more time)")
    train_gleam: bool = param(True, label="Train GLEAM",
                              help="Greedy modules with local losses and detached inputs "
                                   "(needs unshared weights: VarNet, or MoDL with 1 module)")
    modules: int = param(3, label="GLEAM modules G", min=1, max=24,
                         help="Modules of GLEAM's net; its unrolls must divide evenly")
    gleam_factor: int = param(1, label="GLEAM unrolls × K", min=1, max=4,
                              help="GLEAM's net has this many times K unrolls (= G: the "
                                   "equal-memory comparison of SCIENCE.md §6.3.3)")
    data_source: str = param("brain demo", label="Slices from", choices=DATA_SOURCES,
                             help="The shipped MNI brain, or the volume opened with File → "
                                  "Open volume… (its middle 60 % of axial slices, resampled)")
    volume_path: str = param("", label="Volume file", hidden=True,
                             help="The opened volume (NIfTI / DICOM / .npy / TIFF) for "
                                  "'opened volume'")
    memory_budget: float = param(0.0, label="Memory budget", min=0.0, max=1e6, unit="MB",
                                 help="Activation memory one training step may keep (0: no "
                                      "limit). Every mode is measured on one batch before "
                                      "training; a mode over the budget is refused with its "
                                      "figure; with 'Budget picks K' it sets K for the "
                                      "equal-memory study (SCIENCE.md §6.3.2)")
    budget_picks_k: bool = param(False, label="Budget picks K",
                                 help="With a memory budget: K is the largest number of "
                                      "unrolls whose end-to-end step fits it (measured); GLEAM's "
                                      "modules of K unrolls then fit too — the equal-memory "
                                      "study at the budget (SCIENCE.md §6.3.3)")
    size: int = param(64, label="Image size", min=16, max=128, unit="px",
                      help="Side of the brain slices (64 on a CPU, 128 on a GPU)")
    acceleration: float = param(4.0, label="Acceleration R", min=2.0, max=12.0,
                                help="Undersampling of the fixed random-line mask")
    n_coils: int = param(8, label="Coils", min=1, max=16, help="Synthetic receive coils")
    noise: float = param(0.01, label="k-space noise", min=0.0, max=0.2,
                         help="Standard deviation of complex noise on the sampled k-space")
    steps: int = param(120, label="Training steps", min=1, max=5000,
                       help="Adam steps of every mode (same batches)")
    lr: float = param(2e-3, label="Learning rate", min=1e-6, max=1.0, log=True,
                      help="Adam learning rate of every mode and module")
    batch: int = param(4, label="Batch", min=1, max=32, help="Slices per step")
    eval_every: int = param(10, label="Validate every", min=1, max=1000, unit="steps",
                            help="Validation PSNR every this many steps")
    train_otcycle: bool = param(False, label="Train unpaired (OT-cycleGAN)",
                                help="The same net trained without pairs: clean images from "
                                     "half of the training slices, k-space from the other "
                                     "half; cycle consistency through the known operator plus "
                                     "a critic (SCIENCE.md §6.5)")
    gan_weight: float = param(0.1, label="OT-cycleGAN critic weight", min=0.0, max=10.0,
                              help="Weight of the critic term; 0 trains with cycle "
                                   "consistency alone")
    n_critic: int = param(5, label="OT-cycleGAN critic steps", min=1, max=10,
                          help="Critic (WGAN-GP) steps per generator step (official code: 5)")
    scale_study: bool = param(False, label="Scale-shift study",
                              help="Also train a scale-equivariant net end to end and test both "
                                   "end-to-end nets on test slices zoomed 0.6–1.5× (out of "
                                   "distribution; SCIENCE.md §6.4.4)")
    se_width: int = param(8, label="Scale-eq. CNN width", min=2, max=64, unit="ch",
                          help="Channels per scale of the scale-equivariant CNN (3 scales, "
                               "7×7 Hermite basis: ~3× a plain CNN's activations per channel)")
    shipped: bool = param(True, label="Show the shipped net",
                          help="Also evaluate the trained weights shipped in resources/learned "
                               "(a VarNet trained at 64², R = 4)")
    resume: bool = param(False, label="Resume training",
                         help="Continue every mode from the checkpoint the last run left (at "
                              "its end, its NaN stop or its cancel) for 'Training steps' more "
                              "steps; its net and data settings must match (SCIENCE.md §6.3.1)")
    checkpoint_dir: str = param("", label="Checkpoint folder", hidden=True,
                                help="Where each run leaves one checkpoint per mode ('': "
                                     "learned-checkpoints in the user folder)")
    seed: int = param(0, label="Seed", min=0, max=2**31 - 1,
                      help="Seeds the data (mask, maps, noise), the weights and batch order")
