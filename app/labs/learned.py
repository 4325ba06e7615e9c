"""Learned-reconstruction lab presenter: training dashboard, compare view, memory vs PSNR
(SCIENCE.md §6.1–§6.3). It draws the stages of ``engine.learned.lab.run_config`` as they
arrive and the finished result; it computes nothing itself."""
from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QFileDialog, QLabel, QTabWidget

from app.labs.base import LabPresenter, views_only
from app.labs.learned_scale import ScaleView
from app.labs.learned_views import BASE_TITLES, CompareView, Dashboard, MemoryPsnrView

TITLES = {"e2e": "end-to-end", "checkpoint": "checkpointing", "gleam": "GLEAM",
          "scale_eq": "scale-equivariant", "otcycle": "OT-cycleGAN (unpaired)",
          "shipped": "shipped net"}
VIEWS = {"dashboard": 0, "compare": 1, "memory": 2, "scale": 3}


class LearnedLab(LabPresenter):
    """Presenter of the learned-reconstruction lab."""

    def __init__(self, spec, parent=None):
        super().__init__(spec, parent)
        self.result = None
        self._drew_partial = False
        self._base_images: dict = {}
        self._base_psnr: dict = {}
        self._checkpoint_dir = ""
        self.info = QLabel("Run the lab to train the unrolled nets.")
        self.info.setWordWrap(True)
        self.dashboard = Dashboard()
        self.dashboard.save_button.clicked.connect(lambda: self.save_net())
        self.compare = CompareView()
        self.memory = MemoryPsnrView()
        self.scale = ScaleView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.dashboard, "Training")
        self.tabs.addTab(self.compare, "Compare")
        self.tabs.addTab(self.memory, "Memory vs PSNR")
        self.tabs.addTab(self.scale, "PSNR vs scale")
        self.view = views_only(self, (self.info, 0), (self.tabs, 1))

    # -- partials ----------------------------------------------------------------------------
    def show_partial(self, partial) -> None:
        """Draw the run's stages: ``data``, ``curves``, ``run:<mode>``, ``shipped``."""
        if not isinstance(partial, dict):
            return
        stages = partial if "stage" not in partial else {partial["stage"]: partial}
        if "data" in stages and not self._drew_partial:
            self._drew_partial = True
            self.dashboard.clear()
            self.memory.plot.clear_items()
            self.scale.clear()
            self._show_data(stages["data"])
        if not self._drew_partial:
            return
        if "curves" in stages:
            self.dashboard.show_curves(stages["curves"]["modes"], TITLES)
        runs = [s["run"] for k, s in stages.items() if k.startswith("run:") or k == "shipped"]
        if runs:
            self._show_runs(runs, self._base_psnr)
        if "scale" in stages:
            self.scale.show_curve(stages["scale"]["scale"])
        self.info.setText(f"Training… {len([r for r in runs if r.mode != 'shipped'])} "
                          f"net(s) finished.")

    def _show_data(self, data: dict) -> None:
        self._base_images = {BASE_TITLES[k]: data[k] for k in BASE_TITLES}
        self._base_psnr = data["baseline_psnr"]
        self._checkpoint_dir = data.get("checkpoint_dir", "")
        self.compare.set_truth(data["truth"])
        self.compare.set_methods(self._base_images, self._titled_psnr({}))
        self.dashboard.show_baselines(self._base_psnr)

    def _titled_psnr(self, runs: dict) -> dict:
        out = {BASE_TITLES[k]: self._base_psnr[k] for k in BASE_TITLES if k in self._base_psnr}
        out.update(runs)
        return out

    def _show_runs(self, runs: list, baselines: dict) -> None:
        self.dashboard.show_runs(runs)
        images = dict(self._base_images)
        images.update({r.title: r.recon for r in runs})
        self.compare.set_methods(images, self._titled_psnr({r.title: r.test_psnr
                                                            for r in runs}))
        self.memory.show_points(runs, baselines)

    def run_abandoned(self) -> bool:
        """Cancelled or failed: put the previous result back (if any)."""
        drew, self._drew_partial = self._drew_partial, False
        saved = (f" Its checkpoints (at the last step) are in {self._checkpoint_dir}: tick "
                 f"'Resume training' to continue them." if drew and self._checkpoint_dir
                 else "")
        if drew and self.result is not None:
            self.show_result(self.result)
            if saved:
                self.sigMessage.emit("The run stopped before it finished." + saved)
            return True
        if drew:
            self.info.setText("The run stopped before it finished: the views show what it "
                              "had trained." + (saved or " Run the lab to train again."))
        return False

    # -- results -----------------------------------------------------------------------------
    def show_result(self, r) -> None:
        self.result = r
        self._drew_partial = False
        self.dashboard.clear()
        self._base_images = {"zero-filled": r.zero_filled, "CG-SENSE": r.cg_sense}
        self._base_psnr = dict(r.baseline_psnr)
        self.compare.set_truth(r.truth)
        self.dashboard.show_baselines(self._base_psnr)
        modes = {run.mode: {"step": list(range(1, len(run.loss) + 1)), "loss": run.loss,
                            "val_steps": run.val_steps, "val_psnr": run.val_psnr}
                 for run in r.runs}
        self.dashboard.show_curves(modes, TITLES)
        runs = list(r.runs) + ([r.shipped] if r.shipped is not None else [])
        self._show_runs(runs, self._base_psnr)
        if getattr(r, "scale", None) is not None:
            self.scale.show_curve(r.scale)
        else:
            self.scale.clear()
        self.info.setText(self.result_summary(r))

    def result_summary(self, r) -> str:
        parts = [f"{run.title} (K={run.n_unrolls}{f', G={run.modules}' if run.modules > 1 else ''}"
                 f"): {run.test_psnr:.2f} dB, {run.peak_bytes / 1e6:.1f} MB, "
                 f"{run.seconds_per_step:.3f} s/step" for run in r.runs]
        base = (f"zero-filled {r.baseline_psnr['zero_filled']:.2f} dB, "
                f"CG-SENSE {r.baseline_psnr['cg_sense']:.2f} dB")
        if r.shipped is not None:
            base += f", shipped net {r.shipped.test_psnr:.2f} dB"
        notes = f" — note: {'; '.join(r.notes)}" if r.notes else ""
        steps = max([len(run.loss) for run in r.runs] or [r.config.steps])   # resumed: more
        return (f"{r.config.net}, {r.config.size}², R = {r.config.acceleration:g}, "
                f"{steps} steps — " + "; ".join(parts) + f" — {base}{notes}")

    def save_net(self, path: Optional[str] = None) -> bool:
        """Save the weights of the net shown in the strip (``engine.imaging.unrolled_io``)."""
        from engine.imaging.unrolled_io import save_weights
        run = self.dashboard.shown_run()
        if run is None or not run.weights:
            self.sigMessage.emit("Nothing to save yet: run the lab first.")
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.view, "Save trained net",
                                                  f"{run.mode}_k{run.n_unrolls}.pt",
                                                  "Weights (*.pt)")
            if not path:
                return False
        card = {"summary": f"{run.title}, K = {run.n_unrolls}, G = {run.modules}",
                "size": int(run.strip.shape[-1]),          # the recon lab runs it at this size
                "test_psnr": float(run.test_psnr), "test_ssim": float(run.test_ssim)}
        try:
            save_weights(path, run.arch, run.weights, card)
        except (OSError, ValueError) as err:
            self.sigMessage.emit(f"Net not saved: {err}")
            return False
        self.sigMessage.emit(f"Saved {run.title} (test PSNR {run.test_psnr:.2f} dB) to {path}")
        return True

    def open_volume(self, path: Optional[str] = None) -> bool:
        """Train on the slices of a user's volume (File → Open volume… while this lab is in
        front): checked with the recon lab's loader, then kept in the config (sessions keep it)."""
        from engine.imaging.volume_io import load_volume
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self.view, "Open volume", "", "Volumes (*.nii *.nii.gz *.npy *.npz *.tif "
                "*.tiff *.dcm);;All files (*)")
            if not path:
                return False
        try:
            vol = load_volume(path)
        except (OSError, ValueError) as err:
            self.sigMessage.emit(f"Volume not opened: {err}")
            return False
        self.sigMessage.emit(f"Opened {path}: {tuple(vol.data.shape)} voxels; the lab trains "
                             f"on its axial slices ('Slices from: opened volume'). Run the lab.")
        self.sigConfigEdit.emit({"data_source": "opened volume", "volume_path": str(path)})
        return True

    # -- views -------------------------------------------------------------------------------
    def show_view(self, name: Optional[str]) -> None:
        if name in VIEWS:
            self.tabs.setCurrentIndex(VIEWS[name])

    def svg_plots(self) -> dict:
        return {"Training loss": self.dashboard.loss_plot.plot_item,
                "Validation PSNR": self.dashboard.val_plot.plot_item,
                "Peak memory": self.dashboard.bars.plot_item,
                "PSNR vs memory": self.memory.plot.plot_item,
                "PSNR vs scale": self.scale.psnr_plot.plot_item,
                "Gain vs scale": self.scale.gain_plot.plot_item}
