"""3-D Shepp–Logan phantoms from the ellipsoid tables of SCIENCE.md §4.4."""
from __future__ import annotations

import math

import torch

__all__ = ["ELLIPSOIDS", "PHANTOM_KINDS", "shepp_logan_3d"]

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


def shepp_logan_3d(shape=(64, 128, 128), kind: str = "modified",
                   dtype: torch.dtype = torch.float32, device="cpu") -> torch.Tensor:
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

    Returns
    -------
    torch.Tensor
        Volume ``(z, y, x)``; x runs left→right, y bottom→top as displayed (row 0 is y = +1,
        as in MATLAB/scikit-image), z from -1 (slice 0) to +1.
    """
    if kind not in PHANTOM_KINDS:
        raise ValueError(f"unknown phantom kind {kind!r}; choose from {PHANTOM_KINDS}")
    nz, ny, nx = (shape,) * 3 if isinstance(shape, int) else tuple(int(s) for s in shape)
    f64 = {"dtype": torch.float64, "device": device}
    z = torch.linspace(-1, 1, nz, **f64)[:, None, None]
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
