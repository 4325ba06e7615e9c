"""Shared engine infrastructure: configs, progress generators, devices, randomness."""
from engine.core.config import (param, validate, field_error, config_to_dict,
                                config_from_dict)
from engine.core.device import default_device, available_devices, device_name, make_generator
from engine.core.progress import Progress, drain

__all__ = ["param", "validate", "field_error", "config_to_dict", "config_from_dict",
           "default_device", "available_devices", "device_name", "make_generator",
           "Progress", "drain"]
