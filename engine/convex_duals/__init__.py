"""Convex-duals lab: convex programs of networks beyond the two-layer scalar ReLU net
(SCIENCE.md §7), each beside the same network trained by gradient descent."""
from engine.convex_duals.common import ConvexDualsError, ModelOutcome
from engine.convex_duals.config import MODELS, DualsConfig

__all__ = ["ConvexDualsError", "ModelOutcome", "MODELS", "DualsConfig"]
