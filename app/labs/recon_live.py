"""Live view of a reconstruction run: the staged partials of ``engine.recon.lab.run_config``.

Stages (docs/CONTRACTS.md, "Partials"): ``truth`` (ground truth, spacing, the method names in
result order, the voxel to open on), ``method:<name>`` (newest iterate of one method, then its
final volume) and ``ranking`` (a row per finished method, fast methods first). The runner
hands over, per run, the newest partial of every stage; this module draws what changed.
"""
from __future__ import annotations

from typing import Optional


def as_stages(partial) -> Optional[dict]:
    """The runner's :class:`~app.runner.Stages` as they are, a lone staged partial as a
    one-stage mapping, anything else (an unstaged partial) as None."""
    if not isinstance(partial, dict):
        return None
    if "stage" in partial:
        return {partial["stage"]: partial}
    return partial if all(isinstance(v, dict) for v in partial.values()) else None


class LiveRun:
    """What the views show of the run in progress.

    Parameters
    ----------
    lab : ReconLab
        The presenter whose viewers, titles and ranking this run draws into.
    truth : dict
        The run's ``truth`` stage.
    """

    def __init__(self, lab, truth: dict):
        self.lab = lab
        self.truth = truth
        self.names: list = list(truth["names"])          # result order: A, B, extras
        self.shown: list = self.names[:2]                 # in the A and B viewers
        self.drawn: dict = {}                             # viewer index → partial drawn
        self.rows: list = []                              # the ranking rows shown
        lab.info.setText(f"Reconstructing with {', '.join(self.names)} (fast methods first; "
                         "each shows up as it goes)…")
        lab.show_truth(truth["truth"], truth["spacing"], truth["focus"])
        lab.title_viewers(self.shown)

    def draw(self, stages: dict) -> None:
        """Draw every stage whose newest partial has not been drawn yet."""
        shape = self.truth["truth"].shape
        for slot, name in enumerate(self.shown):
            partial = stages.get(f"method:{name}")
            volume = None if partial is None else partial.get("volume")
            if volume is None or volume.shape != shape or self.drawn.get(slot) is partial:
                continue          # nothing yet, or (never expected) not this run's geometry
            self.drawn[slot] = partial
            self.lab.show_method_volume(slot, volume, self.truth["truth"],
                                        self.truth["spacing"])
        ranking = stages.get("ranking")
        if ranking is not None and ranking["rows"] is not self.rows:
            self.rows = ranking["rows"]
            self.lab.show_ranking_rows(self.rows, self.names)

    def pick(self, index: int, stages: Optional[dict]) -> Optional[str]:
        """Show ranked row ``index`` (an index into the live rows) as method B; its name."""
        if not 0 <= index < len(self.rows):
            return None
        name = self.rows[index][0]
        if name == self.shown[0]:
            return None
        self.shown = [self.shown[0], name]
        self.drawn.pop(1, None)
        self.lab.title_viewers(self.shown)
        if stages:
            self.draw(stages)
        return name
