"""cvxpy + Clarabel reference of the vector-output relaxation (SCIENCE.md §7.1.4), written
literally (used by tests/engine/test_convex_duals_cop_relaxation.py and
benchmarks/convex_duals.py; cvxpy is test-only)."""
import cvxpy as cp


def literal_relaxation(X, Y, beta, pats):
    """§7.1.4's lifted SDP written literally: every block PSD, ``K_i A_i K_iᵀ ≥ 0`` with all
    n rows of ``K_i = (2D_i − I)X`` (n² constraints per block)."""
    d, c = X.shape[1], Y.shape[1]
    fit, pen, cons = 0, 0, []
    for i in range(pats.shape[1]):
        D = pats[:, i].astype(float)
        K = (2 * D - 1)[:, None] * X
        M = cp.Variable((d + c, d + c), PSD=True)
        cons.append(K @ M[:d, :d] @ K.T >= 0)
        fit = fit + (D[:, None] * X) @ M[:d, d:]
        pen = pen + cp.trace(M)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(fit - Y) + beta / 2 * pen), cons)
    return prob.solve(solver=cp.CLARABEL)
