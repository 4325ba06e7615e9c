"""Shared engine infrastructure: configs, progress generators, devices, randomness.

The device helpers import torch; they load on first use (PEP 562 ``__getattr__``), so the
configs and :class:`Progress` are importable without torch — the GUI shows its window before
torch loads (issue #16).
"""
from engine.core.config import (param, validate, field_error, config_to_dict,
                                config_from_dict)
from engine.core.progress import Progress, drain, in_unbroken, relay, unbroken

__all__ = ["relay", "param", "validate", "field_error", "config_to_dict", "config_from_dict",
           "default_device", "available_devices", "device_name", "make_generator",
           "Progress", "drain", "unbroken", "in_unbroken"]

_LAZY = {"default_device", "available_devices", "device_name", "make_generator"}


def __getattr__(name: str):
    if name in _LAZY:
        from engine.core import device
        return getattr(device, name)
    raise AttributeError(f"module 'engine.core' has no attribute {name!r}")
