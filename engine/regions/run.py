"""Former home of the regions lab run; the lab entry is :mod:`engine.regions.lab` now.

Kept so that ``from engine.regions.run import run_config`` (and the package's own imports)
keep working.
"""
from engine.regions.lab import (MAX_MAP_BYTES, RegionsResult, run, run_config,  # noqa: F401
                                run_widths)

__all__ = ["RegionsResult", "run_config", "run", "run_widths", "MAX_MAP_BYTES"]
