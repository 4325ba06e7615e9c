"""3-D Shepp–Logan phantoms from the ellipsoid tables of SCIENCE.md §4.4."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch

__all__ = ["ELLIPSOIDS", "PHANTOM_KINDS", "shepp_logan_3d", "slice_centres"]

#: Columns a, b, c, x0, y0, z0, φ (deg), A_KS (Kak–Slaney), A_YYW (Yu–Ye–Wang, "modified").
ELLIPSOIDS = (
    (0.69, 0.92, 0.90, 0.0, 0.0, 0.0, 0.0, 2.00, 1.0),
    (0.6624, 0.874, 0.88, 0.0, 0.0, 0.0, 0.0, -0.98, -0.8),
    (0.41, 0.16, 0.21, -0.22, 0.0, -0.25, 108.0, -0.02, -0.2),
    (0.31, 0.11, 0.22, 0.22, 0.0, -0.25, 72.0, -0.02, -0.2),
    (0.21, 0.25, 0.50, 0.0, 0.35, -0.25, 0.0, 0.02, 0.2),
    (0.046, 0.046, 0.046, 0.0, 0.10, -0.25, 0.0, 0.02, 0.2),
    (0.046, 0.023, 0.02, -0.08, -0.65, -0.25, 0.0, 0.01, 0.1),
    (0.046, 0.023, 0.02, 0.06, -0.65, -0.25, 90.0, 0.01, 0.1),
    (0.056, 0.04, 0.10, 0.06, -0.105, 0.625, 90.0, 0.02, 0.2),
    (0.056, 0.056, 0.10, 0.0, 0.10, 0.625, 0.0, -0.02, -0.2),
)

PHANTOM_KINDS = ("modified", "kak-slaney")


def slice_centres(n: int, **kw) -> torch.Tensor:
    """Centres ``-1 + (2k + 1) / n`` (k = 0 … n-1) of ``n`` equal slabs of [-1, 1] (§4.4)."""
    return -1.0 + (2.0 * torch.arange(n, **kw) + 1.0) / n


def shepp_logan_3d(shape=(64, 128, 128), kind: str = "modified",
                   dtype: torch.dtype = torch.float32, device="cpu",
                   z: Optional[Sequence[float]] = None) -> torch.Tensor:
    """Rasterise the 3-D Shepp–Logan phantom on the cube [-1, 1]³ (SCIENCE.md §4.4).

    A voxel gets the sum of the densities of all ellipsoids containing its centre,
    ``(x'/a)² + (y'/b)² + (z'/c)² ≤ 1`` with ``(x', y')`` rotated by φ about z.

    Parameters
    ----------
    shape : int or tuple of 3 ints
        ``(nz, ny, nx)``; an int gives a cube.
    kind : {"modified", "kak-slaney"}
        ``"modified"`` = Yu–Ye–Wang densities, values in [0, 1] ({0, .2, .3, .4, .6, 1} at 128³)
        ; ``"kak-slaney"`` = original low-contrast densities (max 2).
    dtype, device
        Output type and device.
    z : sequence of float, optional
        The slices' z positions in [-1, 1] (their number must be ``nz``); default: the slice
        centres below.

    Returns
    -------
    torch.Tensor
        Volume ``(z, y, x)``; x runs left→right, y bottom→top as displayed (row 0 is y = +1,
        as in MATLAB/scikit-image); slice ``k`` of ``nz`` is the slab centred at
        ``z = -1 + (2k + 1) / nz`` (slice centres, so every slice, a single one included, cuts
        the phantom and no end slice lies on the empty boundary z = ±1).
    """
    if kind not in PHANTOM_KINDS:
        raise ValueError(f"unknown phantom kind {kind!r}; choose from {PHANTOM_KINDS}")
    nz, ny, nx = (shape,) * 3 if isinstance(shape, int) else tuple(int(s) for s in shape)
    f64 = {"dtype": torch.float64, "device": device}
    if z is None:
        z = slice_centres(nz, **f64)
    else:
        z = torch.as_tensor(z, **f64).reshape(-1)
        if len(z) != nz:
            raise ValueError(f"{len(z)} slice positions z for {nz} slices")
    z = z[:, None, None]
    y = torch.linspace(1, -1, ny, **f64)[None, :, None]
    x = torch.linspace(-1, 1, nx, **f64)[None, None, :]
    col = 8 if kind == "modified" else 7
    vol = torch.zeros((nz, ny, nx), **f64)
    for row in ELLIPSOIDS:
        a, b, c, x0, y0, z0, phi = row[:7]
        cp, sp = math.cos(math.radians(phi)), math.sin(math.radians(phi))
        xr = cp * (x - x0) + sp * (y - y0)
        yr = -sp * (x - x0) + cp * (y - y0)
        inside = (xr / a) ** 2 + (yr / b) ** 2 + ((z - z0) / c) ** 2 <= 1
        vol += inside * row[col]
    vol = torch.round(vol * 1e6) / 1e6  # exact table sums (0.2 - 0.2 = 0, not -1e-17)
    if kind == "modified":
        vol = vol.clamp(0.0, 1.0)
    return vol.to(dtype)
