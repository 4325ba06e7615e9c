"""Gradient-flow trajectories of single ReLU neurons (SCIENCE.md §1; MAD arXiv 2209.13394,
SV arXiv 2202.05510).

Batched torch simulation of gradient flow / gradient descent of a one-layer or deep
(scalar-chain) ReLU neuron trained on a teacher neuron, with the closed-form population
loss, the reduced magnitude-angle ODE, comparison bounds and convergence-time studies.
"""
from engine.gradient_flow.closed_form import (empirical_grad, empirical_loss, population_grad,
                                              population_loss)
from engine.gradient_flow.compare import compare_step_sizes
from engine.gradient_flow.config import FlowConfig
from engine.gradient_flow.recording import FlowRecording
from engine.gradient_flow.reduced import (convergence_times, magnitude_bounds, reduced_loss,
                                          reduced_rhs, reduced_trajectory)
from engine.gradient_flow.runner import simulate, simulate_iter

__all__ = ["FlowConfig", "FlowRecording", "simulate", "simulate_iter", "population_loss",
           "population_grad", "reduced_rhs", "magnitude_bounds", "convergence_times",
           "compare_step_sizes", "empirical_loss", "empirical_grad", "reduced_loss",
           "reduced_trajectory"]
