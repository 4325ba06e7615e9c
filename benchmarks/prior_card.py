"""Model-card figures of the shipped slice priors (issue #6): the training curves (PNG) and the
held-out denoising table, network vs the best Gaussian smoothing, recomputed here on the CPU.

Run::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/prior_card.py \
        [--png docs/prior-training.png]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from engine.slice_prior import load_slice_prior, prior_path  # noqa: E402
from engine.slice_prior.evaluate import denoising_table, held_out_slices  # noqa: E402


def curves_png(priors: dict, path: str) -> None:
    """Both training curves (mean ε-loss per report interval, log scale) as a PNG."""
    import pyqtgraph as pg
    from pyqtgraph.exporters import ImageExporter
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication([])  # noqa: F841 - keeps Qt alive
    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    plot = pg.PlotWidget(title="Slice-prior training (ε-matching loss, EMA not applied)")
    plot.resize(720, 420)
    item = plot.getPlotItem()
    item.addLegend()
    item.setLogMode(y=True)
    item.setLabel("bottom", "step")
    item.setLabel("left", "loss")
    item.getAxis("left").enableAutoSIPrefix(False)
    for (size, prior), color in zip(priors.items(), ((31, 119, 180), (214, 39, 40))):
        steps, loss = np.array(prior.card["curve"], dtype=float).T
        item.plot(steps, loss, pen=pg.mkPen(color, width=2), name=f"{size}² ({prior.card['device']})")
    ImageExporter(item).export(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--png", default="docs/prior-training.png")
    args = ap.parse_args()
    priors = {s: load_slice_prior(s) for s in (64, 128) if prior_path(s).is_file()}
    try:
        from engine.recon import demo_volume
        brain = demo_volume("brain").data
    except FileNotFoundError:
        brain = None
    for size, prior in priors.items():
        c = prior.card
        print(f"## {size}²: {c['parameters']} parameters, {c['steps']} steps in {c['seconds']} s "
              f"on {c['device']}\n{c['data']}\nreproduce: {c['command']}\n")
        print("| t | σ̄ | prior MSE | best Gaussian MSE (width px) | ratio |\n|---|---|---|---|---|")
        for r in denoising_table(prior, held_out_slices(size, brain, per_kind=8)):
            print(f"| {r['t']} | {r['sigma']:.2f} | {r['mse_prior']:.2e} | "
                  f"{r['mse_gaussian']:.2e} ({r['gaussian_width_px']:g}) | "
                  f"{r['mse_prior'] / r['mse_gaussian']:.2f} |")
        print()
    if args.png and priors:
        curves_png(priors, args.png)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
