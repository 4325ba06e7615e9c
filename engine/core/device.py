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


def adopt_torch_threads() -> int:
    """Give the calling thread the process's torch thread count; returns it.

    ``torch.set_num_threads`` sets OpenMP's thread count of the thread that calls it only:
    any other thread (the app's run worker) starts at OpenMP's default of one thread per
    core, and torch's MKL kernels (the small batched matmuls of the regions training) then
    run a team of that size even when the process asked for fewer; torch's own parallel loops
    fix the count only once a tensor is large enough to use them. Issue #16: on 2 busy cores
    the team's threads spin-wait for each other: 1 500 steps of the spiral preset's four
    nets in a worker thread beside a busy main thread took 126 s of wall time (12 s of CPU)
    instead of 5 s. Call it first thing in a generator that a worker thread drives.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    _limit_blas_threads(threads)
    return threads


def _limit_blas_threads(threads: int) -> None:
    """NumPy's BLAS (OpenBLAS) at most ``threads`` threads too, where ``threadpoolctl`` is
    installed (a no-op otherwise). Issue #16: with one BLAS thread per core beside a busy
    core, the regions maps' small matrix products spin-waited: 20 s of wall time instead of
    2 s for the spiral preset's maps on 2 cores at load 5."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads, user_api="blas")
