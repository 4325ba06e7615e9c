"""Learned reconstruction: unrolled MRI nets trained end to end, with gradient checkpointing,
or greedily (GLEAM), on the shipped brain slices (SCIENCE.md §6.1–§6.3).

The networks and their weights files live in the shared :mod:`engine.imaging.unrolled` /
:mod:`engine.imaging.unrolled_io` (any imaging lab may run a trained net); this package holds
the data, the training modes, the memory bookkeeping and the lab.

>>> from engine.learned import brain_slices, unrolled_net, train_unrolled
>>> data = brain_slices(size=64, acceleration=4, n_coils=8, seed=0)
>>> net = unrolled_net("varnet", n_unrolls=6, width=16, depth=4)
>>> gen = train_unrolled(net, data, mode="gleam", modules=3, steps=200, lr=1e-3, seed=0)
"""
from engine.imaging.unrolled import NET_KINDS, unrolled_net
from engine.imaging.unrolled_io import load_unrolled, save_unrolled
from engine.learned.config import LearnedConfig
from engine.learned.data import BrainSlices, brain_slices, mean_psnr, mean_ssim
from engine.learned.steps import MODES
from engine.learned.train import (TrainResult, evaluate, load_training, save_training,
                                  train_unrolled)

__all__ = ["BrainSlices", "LearnedConfig", "MODES", "NET_KINDS", "TrainResult", "brain_slices",
           "evaluate",
           "load_training", "load_unrolled", "mean_psnr", "mean_ssim", "save_training",
           "save_unrolled", "train_unrolled", "unrolled_net"]
