"""Pickle payloads are always refused (issue #17: "keep"): a file whose unpickling would run
code (here: create a marker file) is refused with a message naming it by every loader a user
can point at a file — volumes (.npy/.npz), slice priors, unrolled nets and their training
checkpoints, exported results — and the payload never runs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.results_io import load_results
from engine.imaging.unrolled_io import load_unrolled
from engine.imaging.volume_io import load_volume
from engine.learned.train import load_training
from engine.slice_prior.prior import load_slice_prior


class _Payload:
    """Unpickling this creates ``marker`` (a harmless stand-in for arbitrary code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _npy(path, marker):
    np.save(path, np.array([_Payload(marker)], dtype=object), allow_pickle=True)


def _npz(path, marker):
    np.savez(path, data=np.array([_Payload(marker)], dtype=object))


def _torch(path, marker):
    torch.save({"format": "flowscope-unrolled", "state_dict": {}, "x": _Payload(marker)}, path)


def _torch_prior(path, marker):
    torch.save({"format": "flowscope-slice-prior", "x": _Payload(marker)}, path)


CASES = {
    "volume .npy": ("v.npy", _npy, load_volume),
    "volume .npz": ("v.npz", _npz, load_volume),
    "results .npz": ("r.npz", _npz, load_results),
    "unrolled net": ("n.pt", _torch, load_unrolled),
    "training checkpoint": ("c.ckpt.pt", _torch, load_training),
    "slice prior": ("p.pt", _torch_prior, lambda path: load_slice_prior(path=path)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_pickle_payload_is_refused_by_name_and_never_runs(tmp_path, case):
    name, write, load = CASES[case]
    marker, path = tmp_path / "ran", tmp_path / name
    write(path, marker)
    marker.unlink(missing_ok=True)                  # (writing did not run it; be sure)
    with pytest.raises(ValueError) as err:
        load(path)
    assert name in str(err.value)
    assert not marker.exists(), f"{case}: the payload ran"
