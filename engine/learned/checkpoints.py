"""The learned lab's training checkpoints: one resumable file per trained mode (SCIENCE.md §6.3.1).

Every run leaves ``<folder>/<mode>.pt`` (:func:`engine.learned.train.save_training`: weights
plus the optimiser and batch-generator state) when a mode finishes, stops on a NaN loss (the
last good weights) or is cancelled. The folder is ``LearnedConfig.checkpoint_dir``, else
``learned-checkpoints`` in the user folder (``$FLOWSCOPE_HOME`` when set, else the platform's
user-data folder). A file's card keeps the settings that fix the net and its data; resuming
under other settings is refused with the differences named.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from engine.core import unbroken
from engine.learned.config import LearnedConfig
from engine.learned.train import TrainResult, load_training, save_training

__all__ = ["checkpoint_folder", "fingerprint", "save_checkpoint", "load_checkpoints"]

HOME_ENV = "FLOWSCOPE_HOME"
DATA_FIELDS = ("data_source", "volume_path", "size", "acceleration", "n_coils", "noise", "seed")
NET_FIELDS = ("net", "depth", "cg_iters")


def checkpoint_folder(cfg: LearnedConfig) -> Path:
    """The folder this config's runs write to and resume from."""
    if cfg.checkpoint_dir:
        return Path(cfg.checkpoint_dir)
    home = os.environ.get(HOME_ENV)
    if not home:
        import platformdirs  # only here: importing the engine needs no user folder
        home = platformdirs.user_data_dir("flowscope")
    return Path(home) / "learned-checkpoints"


def fingerprint(cfg: LearnedConfig, mode: str, n_unrolls: int, modules: int) -> dict:
    """The settings a checkpoint of ``mode`` must share with the config to be resumed."""
    out = {k: getattr(cfg, k) for k in NET_FIELDS + DATA_FIELDS}
    out.update(mode=mode, n_unrolls=n_unrolls, modules=modules,
               width=cfg.se_width if mode == "scale_eq" else cfg.width)
    return out


def save_checkpoint(folder: Path, run_key: str, mark: dict, result: TrainResult) -> Path:
    """Write ``result`` (weights + resumable state) as ``folder/<run_key>.pt``."""
    path = Path(folder) / f"{run_key}.pt"
    with unbroken():                            # a cancel waits for the file (app runner)
        save_training(path, result, {"fingerprint": dict(mark),
                                     "summary": f"{run_key} after {len(result.loss)} steps"})
    return path


def _differences(saved: dict, wanted: dict) -> list[str]:
    return [f"{k} = {saved.get(k)!r} (now {v!r})" for k, v in wanted.items()
            if saved.get(k) != v]


def load_checkpoints(cfg: LearnedConfig, marks: dict, titles: Optional[dict] = None
                     ) -> tuple[dict, list[str]]:
    """``({run_key: (net, state)}, notes)`` for resuming every planned run.

    Parameters
    ----------
    cfg : LearnedConfig
    marks : dict
        ``run_key → fingerprint`` of the planned runs.
    titles : dict
        ``run_key → title`` for the notes (default: the key).

    Raises
    ------
    ValueError
        No checkpoint at all, an unreadable one, or one trained under other net/data
        settings (the message names the file and the differences; nothing is overwritten).
    """
    folder, titles = checkpoint_folder(cfg), titles or {}
    found, notes = {}, []
    for key, mark in marks.items():
        path = folder / f"{key}.pt"
        if not path.is_file():
            notes.append(f"{titles.get(key, key)}: no checkpoint in {folder}, trained from the start")
            continue
        net, card, state = load_training(path)
        diff = _differences(card.get("fingerprint") or {}, mark)
        if diff:
            raise ValueError(f"cannot resume from {path}: it was trained with "
                             f"{', '.join(diff)}. Set these back, or untick 'Resume training'")
        found[key] = (net, state)
        notes.append(f"{titles.get(key, key)}: resumed from step {state['step']}")
    if not found:
        raise ValueError(f"nothing to resume: no checkpoint in {folder} for "
                         f"{', '.join(marks)}; run once without 'Resume training'")
    return found, notes

