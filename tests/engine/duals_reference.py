"""cvxpy + Clarabel reference programs of the convex-duals models, written literally (used
by tests/engine/test_convex_duals.py and benchmarks/convex_duals.py; cvxpy is test-only)."""
import cvxpy as cp
import numpy as np

from engine.convex_duals.patterns import enumerate_patterns


def ray_sdp(X, Y, beta):
    """§7.1.4's exact cell/ray SDP for 2-D data without bias, written literally."""
    perp = np.concatenate([np.stack([-X[:, 1], X[:, 0]], 1), np.stack([X[:, 1], -X[:, 0]], 1)])
    ang = np.sort(np.arctan2(perp[:, 1], perp[:, 0]))
    c, fit, pen, cons = Y.shape[1], 0, 0, []
    for k in range(len(ang)):
        a, b = ang[k], ang[(k + 1) % len(ang)] + (2 * np.pi if k == len(ang) - 1 else 0)
        R = np.array([[np.cos(a), np.cos(b)], [np.sin(a), np.sin(b)]])
        D = (X @ np.array([np.cos((a + b) / 2), np.sin((a + b) / 2)]) >= 0).astype(float)
        M = cp.Variable((2 + c, 2 + c), PSD=True)
        cons.append(M[0, 1] >= 0)
        fit = fit + (D[:, None] * X) @ R @ M[:2, 2:]
        pen = pen + cp.trace(R @ M[:2, :2] @ R.T) + cp.trace(M[2:, 2:])
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(fit - Y) + beta / 2 * pen), cons)
    return prob.solve(solver=cp.CLARABEL)


def scalar_cone_program(X, y, beta):
    """§2.3 with every pattern of X (d ≤ 3), written literally."""
    pats = enumerate_patterns(X).astype(float)
    V = cp.Variable((pats.shape[1], X.shape[1]))
    Wv = cp.Variable((pats.shape[1], X.shape[1]))
    pred, cons = 0, []
    for i in range(pats.shape[1]):
        D, S = pats[:, i], 2 * pats[:, i] - 1
        pred = pred + cp.multiply(D, X @ (V[i] - Wv[i]))
        cons += [cp.multiply(S, X @ V[i]) >= 0, cp.multiply(S, X @ Wv[i]) >= 0]
    obj = 0.5 * cp.sum_squares(pred - y) + beta * (cp.sum(cp.norm(V, axis=1))
                                                   + cp.sum(cp.norm(Wv, axis=1)))
    return cp.Problem(cp.Minimize(obj), cons).solve(solver=cp.CLARABEL)


def gated_program(F, D, x, beta):
    """§2.5's gated-ReLU group lasso over the patterns ``D``, written literally."""
    W = cp.Variable((D.shape[1], F.shape[1]))
    pred = sum(cp.multiply(D[:, i], F @ W[i]) for i in range(D.shape[1]))
    obj = 0.5 * cp.sum_squares(pred - x) + beta * cp.sum(cp.norm(W, axis=1))
    return cp.Problem(cp.Minimize(obj)).solve(solver=cp.CLARABEL)
