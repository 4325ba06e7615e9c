"""cvxpy + Clarabel reference of the conv denoiser's exact ReLU program (SCIENCE.md §7.5 eq 4),
written literally (used by tests/engine/test_convex_duals_denoiser.py and
benchmarks/convex_duals_denoiser.py; cvxpy is test-only)."""
import cvxpy as cp


def relu_program_clarabel(F, D, x, beta):
    """§7.5 eq 4 over the patterns ``D``, written literally."""
    P, d = D.shape[1], F.shape[1]
    W, Z = cp.Variable((P, d)), cp.Variable((P, d))
    pred, cons = 0, []
    for i in range(P):
        S = 2 * D[:, i] - 1
        pred = pred + cp.multiply(D[:, i], F @ (W[i] - Z[i]))
        cons += [cp.multiply(S, F @ W[i]) >= 0, cp.multiply(S, F @ Z[i]) >= 0]
    obj = 0.5 * cp.sum_squares(pred - x) + beta * (cp.sum(cp.norm(W, axis=1))
                                                   + cp.sum(cp.norm(Z, axis=1)))
    return cp.Problem(cp.Minimize(obj), cons).solve(solver=cp.CLARABEL)
