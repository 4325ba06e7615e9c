"""SCIENCE.md §2.3: the certificate of a small fit is evaluated once and reused — it must be the
full program's certificate at the returned point (engine.regions.convex / dual)."""
import numpy as np
import pytest

from engine.regions import enumerate_patterns, fit_convex, make_dataset
from engine.regions.dual import dual_values
from engine.regions.patterns import augment
from engine.regions.programs import fit_value

LAM = 0.01


@pytest.mark.parametrize("formulation", ["gated", "relu"])
def test_reused_certificate_is_the_full_programs(formulation):
    X, y = make_dataset("spiral", 10, 0.05, 0)
    D, G = enumerate_patterns(X, return_gates=True)
    keep = D.any(axis=1)
    D, G = D[keep], G[keep]
    sol = fit_convex(X, y, LAM, formulation, tol=1e-8, patterns=D, gates=G)
    assert sol.certified and sol.converged and sol.rounds == 1
    A, n = augment(X), len(y)
    # independent evaluation at the returned groups: objective, fit and every dual constraint
    Dg = D[sol.neuron_pattern]
    obj = fit_value(A, Dg, sol.neuron_sign, sol.group_vectors, y, LAM)
    assert obj == pytest.approx(sol.objective, rel=1e-12)
    fitted = np.einsum("gn,gn->n", np.where(Dg, sol.neuron_sign[:, None], 0.0),
                       sol.group_vectors @ A.T)
    np.testing.assert_allclose(sol.fitted, fitted, atol=1e-13)
    rho = (y - fitted) / n
    values = dual_values(A, D, rho, LAM, formulation == "relu")
    assert sol.max_dual_constraint == pytest.approx(values.max(), rel=1e-9, abs=1e-15)
    s = min(1.0, LAM / values.max())
    dual = s * float(rho @ y) - 0.5 * n * s * s * float(rho @ rho)
    assert sol.dual_value == pytest.approx(dual, rel=1e-9)
    assert sol.objective - dual <= 1e-8 * sol.objective
    assert len(sol.w2) <= n + 1
