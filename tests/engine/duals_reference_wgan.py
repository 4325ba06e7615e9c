"""Reference enumeration of the cells of a planar arrangement through the origin in R³
(tests and benchmarks of the ReLU-discriminator WGAN game, SCIENCE.md §7.4.4)."""
from __future__ import annotations

import numpy as np


def arrangement_cells(P: np.ndarray) -> np.ndarray:
    """Sign patterns of every cell of the planes {P_k·u = 0} (four around every ray)."""
    pats = set()
    for i in range(len(P)):
        for j in range(i + 1, len(P)):
            r = np.cross(P[i], P[j])
            for ray in (r, -r):
                s = (P @ ray > 0).astype(int)
                for a in (0, 1):
                    for b in (0, 1):
                        s[i], s[j] = a, b
                        pats.add(tuple(s))
    return np.array(sorted(pats))
