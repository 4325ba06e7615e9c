"""The learned lab's "PSNR vs scale" view: the scale-shift study (SCIENCE.md §6.4.4).

Draws ``engine.learned.scale_study.ScaleCurve``: mean test PSNR of the plain and the
scale-equivariant end-to-end nets and of the classical baselines on test slices zoomed by ρ
(new k-space simulated from each zoomed image), and each net's gain over zero-filled, which
takes out how much easier a smaller (more background) image is. No engine maths here.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from widgets.curve_plot import CurvePlot

COLORS = {"end-to-end": (31, 119, 180), "scale-equivariant": (227, 119, 194),
          "zero_filled": (127, 127, 127), "cg_sense": (214, 39, 40)}
BASE_NAMES = {"zero_filled": "zero-filled", "cg_sense": "CG-SENSE"}
EMPTY_NOTE = ("Run the preset “scale shift: plain vs scale-equivariant” (or switch on "
              "'Scale-shift study') to test both nets on zoomed slices.")


class ScaleView(QWidget):
    """Test PSNR vs zoom ρ, and PSNR gain over zero-filled vs ρ (SCIENCE.md §6.4.4)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.psnr_plot = CurvePlot("Test PSNR vs zoom (trained at ρ = 1)", "zoom ρ",
                                   "test PSNR (dB)")
        self.gain_plot = CurvePlot("Gain over zero-filled vs zoom", "zoom ρ",
                                   "PSNR − zero-filled PSNR (dB)")
        self.note = QLabel(EMPTY_NOTE)
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.psnr_plot)
        row.addWidget(self.gain_plot)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row, 1)
        lay.addWidget(self.note)

    def clear(self) -> None:
        self.psnr_plot.clear_items()
        self.gain_plot.clear_items()
        self.note.setText(EMPTY_NOTE)

    def show_curve(self, curve) -> None:
        """Draw a ``ScaleCurve`` (``zooms``, ``psnr``: title → PSNR per zoom)."""
        self.clear()
        zooms, zf = np.asarray(curve.zooms), np.asarray(curve.psnr["zero_filled"])
        for plot in (self.psnr_plot, self.gain_plot):
            plot.set_vline("trained", 1.0, color=(150, 150, 150))
        for title, values in curve.psnr.items():
            name, base = BASE_NAMES.get(title, title), title in BASE_NAMES
            style = {"color": COLORS.get(title, (0, 0, 0)), "symbol": "o",
                     "style": "dash" if base else "solid", "width": 2 if base else 3}
            self.psnr_plot.set_curve(title, zooms, values, name=name, **style)
            if title != "zero_filled":
                self.gain_plot.set_curve(title, zooms, np.asarray(values) - zf, name=name,
                                         **style)
        self.gain_plot.set_hline("zero", 0.0, color=(127, 127, 127))
        self.note.setText(self._summary(curve))

    @staticmethod
    def _summary(curve) -> str:
        zooms = np.asarray(curve.zooms)
        at_one = int(np.argmin(np.abs(zooms - 1.0)))
        off = [i for i in range(len(zooms)) if i != at_one]
        parts = []
        for title in ("end-to-end", "scale-equivariant"):
            if title in curve.psnr:
                v = np.asarray(curve.psnr[title]) - np.asarray(curve.psnr["zero_filled"])
                parts.append(f"{title}: gain {v[at_one]:.2f} dB at ρ = 1, "
                             f"{np.mean(v[off]):.2f} dB mean off scale")
        return ("Out of distribution: each test image zoomed by ρ, new k-space from the same "
                "mask and coils. " + "; ".join(parts) + ". A toy: read what it shows.")
