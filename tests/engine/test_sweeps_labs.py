"""Sweep metrics of the learned and convex-duals labs (SCIENCE.md §6, §7) at tiny sizes: each
metric is the lab result's own number for that point."""
import math

import numpy as np

from engine.core import drain
from engine.sweeps import TARGETS, Sweep, run_sweep

LEARNED_SMALL = {"size": 16, "n_unrolls": 2, "width": 4, "steps": 1, "eval_every": 1,
                 "batch": 1, "shipped": False, "train_gleam": False}
DUALS_SMALL = {"vo_steps": 40, "vo_seeds": 2, "bn_steps": 40, "bn_seeds": 2, "den_steps": 40,
               "den_seeds": 1}


def test_learned_metrics_are_the_runs_numbers():
    from engine.learned import LearnedConfig
    from engine.learned.lab import run_config
    metrics = ["psnr_e2e", "psnr_checkpoint", "psnr_gleam", "peak_bytes_checkpoint",
               "seconds_per_step_e2e", "best_psnr"]
    table = drain(run_sweep(Sweep("learned", LEARNED_SMALL, {"train_checkpoint": [True]},
                                  1, metrics), executor="local"))
    row = table.iloc[0]
    assert row["error"] == "" and math.isnan(row["psnr_gleam"])      # GLEAM not trained
    result = drain(run_config(LearnedConfig(**{**LEARNED_SMALL, "train_checkpoint": True})))
    runs = {r.mode: r for r in result.runs}
    assert row["psnr_e2e"] == runs["e2e"].test_psnr and np.isfinite(row["psnr_e2e"])
    assert row["psnr_checkpoint"] == runs["checkpoint"].test_psnr
    assert row["best_psnr"] == max(r.test_psnr for r in result.runs)
    assert row["peak_bytes_checkpoint"] == runs["checkpoint"].peak_bytes > 0
    assert row["seconds_per_step_e2e"] > 0


def test_convex_duals_gaps_and_certificate():
    from engine.convex_duals import DualsConfig
    from engine.convex_duals.lab import run_config
    assert set(TARGETS["convex-duals"].metrics) == {"gap_min", "gap_mean", "certificate"}
    cfg = DualsConfig(**DUALS_SMALL)
    table = drain(run_sweep(Sweep("convex-duals", cfg, {"seed": [0, 1]}, 1,
                                  ["gap_min", "gap_mean", "certificate"]), executor="local"))
    assert (table["error"] == "").all()
    out = drain(run_config(DualsConfig(**{**DUALS_SMALL, "seed": 1}))).outcome
    gaps = np.asarray(out.gd_objectives)[:, -1] - out.convex_objective
    row = table.iloc[1]
    assert row["gap_min"] == gaps.min() and row["gap_mean"] == gaps.mean()
    assert row["certificate"] == out.certificate
    # a non-convex run never beats the certified optimum by more than the certificate
    assert (table["gap_min"] >= -abs(table["certificate"]) - 1e-6).all()
    assert (table["gap_min"] <= table["gap_mean"]).all()
