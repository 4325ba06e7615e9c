"""Re-export: the schedules live in the shared :mod:`engine.sampling.schedule`."""
from engine.sampling.schedule import T_DEFAULT, Schedule, ddim_coordinates, ve_sigmas

__all__ = ["Schedule", "T_DEFAULT", "ve_sigmas", "ddim_coordinates"]
