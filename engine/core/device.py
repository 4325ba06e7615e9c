"""Device choice: CUDA when present, else CPU. Always an explicit argument downstream."""
from __future__ import annotations

import torch


def default_device() -> str:
    """``"cuda"`` if a CUDA device is usable, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def available_devices() -> list[str]:
    """Every device a run can be sent to, CPU first."""
    devs = ["cpu"]
    if torch.cuda.is_available():
        devs += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return devs


def device_name(device: str) -> str:
    """Human name: ``"CPU"`` or the CUDA card's name."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(dev)}"
    return "CPU"


def make_generator(seed: int, device: str = "cpu") -> torch.Generator:
    """A seeded generator on ``device`` (no global RNG anywhere in the engine)."""
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(seed))
    return gen
