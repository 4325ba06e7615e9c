"""Gate-space charts of the convex optimum (SCIENCE.md §2.2), computed by the lab's worker."""
import numpy as np

from engine.regions import fit_convex, make_dataset
from engine.regions.gate_space import chart_half_width, gate_chart


def test_gate_charts_mark_exactly_the_used_patterns():
    """Known answer: a bright cell's pattern (xᵢ·g + s > 0) is one the optimum uses."""
    assert chart_half_width(np.array([[1.0, 0.0], [0.0, 1.0]]), 1.0) == 2.0   # vertex (−1, −1)
    X, y = make_dataset("xor", 14, 0.1, 0)
    sol = fit_convex(X, y, 0.01, "relu", 1e-6)
    used_rows = {row.tobytes() for row in sol.patterns[np.unique(sol.neuron_pattern)]}
    total = 0
    for sign in (1.0, -1.0):
        c = gate_chart(X, sol, sign, size=160)
        g = np.linspace(-c["half"], c["half"], 160)
        for k in np.flatnonzero(c["used"])[:20]:
            j, i = np.argwhere(c["ids"] == k)[0]
            bits = X @ np.array([g[i], g[j]]) + sign > 0
            assert bits.tobytes() in used_rows
        total += int(c["used"].sum())
        assert len(c["gates"]) == int((sol.W1[:, 2] * sign > 0).sum())
    assert total > 0 and c["n_used"] == len(used_rows)
