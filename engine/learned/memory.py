"""Training-memory bookkeeping (SCIENCE.md §6.3.2).

CPU: the bytes of the activations autograd keeps for the backward pass, counted with
``torch.autograd.graph.saved_tensors_hooks``. Every tensor packed for backward and still
alive is counted once per storage (views share it) unless it is a leaf — weights, data,
masks and coil maps belong to the fixed share ``M0``, not to the activations. The count is deterministic, so it
is taken once per run. What each mode's "peak" is:

* end-to-end: everything the forward of the K unrolls saved (one graph alive);
* GLEAM: the largest module graph (each is freed by its backward before the next module
  runs) plus the detached image handed on;
* checkpointing: hooks cannot see inside ``torch.utils.checkpoint`` regions, so the count is
  the documented model ``K·|state| + max_i a_i`` — the K boundary states kept plus one
  unroll's activations recomputed in the backward (``a_i`` measured by the hooks).

CUDA: ``torch.cuda.max_memory_allocated`` minus the allocation before the step (all of it).
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from typing import Iterator

import torch

__all__ = ["SavedBytes", "count_saved", "cuda_peak", "tensor_bytes"]


def tensor_bytes(t: torch.Tensor) -> int:
    """Bytes of ``t``'s elements."""
    return int(t.numel() * t.element_size())


class SavedBytes:
    """Saved-for-backward bytes still alive, while the context is active (§6.3.2).

    Each packed tensor is remembered by a weak reference; :attr:`bytes` sums the storages of
    those still alive (a branch of the graph that no output depends on is freed and drops out),
    each storage once.
    """

    def __init__(self):
        self._packed: list[tuple[weakref.ref, int, int]] = []

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        if t.grad_fn is not None or not t.is_leaf:
            storage = t.untyped_storage()
            self._packed.append((weakref.ref(t), storage.data_ptr(), int(storage.nbytes())))
        return t

    @staticmethod
    def unpack(t: torch.Tensor) -> torch.Tensor:
        return t

    @property
    def bytes(self) -> int:
        live = {ptr: n for ref, ptr, n in self._packed if ref() is not None}
        return int(sum(live.values()))


@contextmanager
def count_saved() -> Iterator[SavedBytes]:
    """``with count_saved() as c: loss = f(x)`` → ``c.bytes`` saved for backward (§6.3.2)."""
    counter = SavedBytes()
    with torch.autograd.graph.saved_tensors_hooks(counter.pack, counter.unpack):
        yield counter


@contextmanager
def cuda_peak(device: str) -> Iterator[dict]:
    """``with cuda_peak(dev) as m: step()`` → ``m["bytes"]``: peak CUDA allocation of the step
    above the allocation before it (SCIENCE.md §6.3.2); 0 on a CPU device."""
    out = {"bytes": 0}
    dev = torch.device(device)
    if dev.type != "cuda":
        yield out
        return
    torch.cuda.synchronize(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    before = torch.cuda.memory_allocated(dev)
    yield out
    torch.cuda.synchronize(dev)
    out["bytes"] = int(torch.cuda.max_memory_allocated(dev) - before)
