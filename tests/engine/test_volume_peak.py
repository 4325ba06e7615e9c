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


def test_float32_voxels_are_not_copied_and_the_input_is_never_changed():
    a = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    out, _, bad = clean_voxels(a, "v.npy")
    assert bad == 0 and np.shares_memory(out, a)            # no volume-sized copy
    a[0, 0, 0] = np.nan
    out, _, bad = clean_voxels(a, "v.npy")
    assert bad == 1 and out[0, 0, 0] == 0.0 and np.isnan(a[0, 0, 0])
    frozen = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    frozen.flags.writeable = False
    out, _, _ = clean_voxels(frozen, "v.npy")
    assert out.flags.writeable                              # a read-only map is copied
