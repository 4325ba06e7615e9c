"""Voxel clean-up slab by slab (issue #17: a cancel interrupts a volume load within
milliseconds): the peak and the non-finite count equal the whole-volume computation."""
import numpy as np
import pytest

from engine.imaging.volume_checks import VolumeLoadError, _finite_peak, clean_voxels


@pytest.mark.parametrize("shape", [(5,), (3, 4), (40, 33, 17), (2, 1, 1)])
@pytest.mark.parametrize("voxels", [1, 10, 1 << 20])
def test_slab_peak_equals_the_whole_volume(shape, voxels):
    a = np.random.default_rng(0).normal(size=shape) * 1e3
    a.flat[1::7], a.flat[2::11] = np.nan, -np.inf
    finite = np.isfinite(a)
    expected = (float(np.abs(a[finite]).max()), int(a.size - finite.sum()))
    assert _finite_peak(a, voxels) == expected
    assert _finite_peak(a.transpose(), voxels) == expected       # a strided view


def test_all_non_finite_is_refused_and_counts_are_reported():
    with pytest.raises(VolumeLoadError, match="no voxel holds a finite number"):
        clean_voxels(np.full((3, 4, 5), np.nan), "v.npy")
    a = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    a[1, 2, 3] = np.nan
    out, notes, bad = clean_voxels(a, "v.npy")
    assert bad == 1 and out.dtype == np.float32 and out[1, 2, 3] == 0.0
    assert np.isnan(a[1, 2, 3])                                  # the input is not changed
    assert "1 non-finite voxel(s)" in notes[0]
