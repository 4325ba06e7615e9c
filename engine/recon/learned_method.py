"""The shipped unrolled net as a reconstruction method of the recon lab (SCIENCE.md §6.2).

A trained VarNet/MoDL (``engine.imaging.unrolled``; weights in ``resources/learned``, see its
MODEL_CARD.md) reconstructs each slice of an MRI volume from its multi-coil k-space with the
recon lab's own operator (mask, coil maps). The net saw k-space normalised per slice by
``s = max|Aᴴy|`` (§6.1), so each slice is divided by its ``s`` and the output multiplied back.
Only volumes at the net's training size are accepted: the CNN's receptive field and the
learned step sizes belong to that resolution (other sizes are refused with the reason).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Generator

import torch

import resources
from engine.core.progress import Progress
from engine.imaging.unrolled_io import load_unrolled

__all__ = ["UnrolledParams", "unrolled_iter", "SHIPPED_NET", "load_method_net", "CHUNK"]

SHIPPED_NET = "varnet_k6_64.pt"
CHUNK = 8          # slices per forward pass


@dataclasses.dataclass(frozen=True)
class UnrolledParams:
    """The ``ReconConfig`` knob the method reads: ``net_path``, a net saved by the learned lab
    (empty: the shipped VarNet)."""
    net_path: str = ""


@functools.lru_cache(maxsize=2)
def load_method_net(path: str, device: str):
    """``(net, trained_size)`` of a weights file, loaded once per device (eval mode)."""
    net, card = load_unrolled(path, device)
    size = card.get("size")
    if not isinstance(size, int):
        raise ValueError(f"{path}: the model card does not say which image size the net was "
                         f"trained at, so it cannot be run in the recon lab")
    return net.eval(), size


def _check(k: torch.Tensor, op, size: int, which: str = "the shipped") -> None:
    shape = tuple(op.shape)
    if len(shape) != 2 or k.dim() != 4:
        raise ValueError("the unrolled net reconstructs 2-D slices: use the MRI modality with "
                         "per-slice (2-D) sampling")
    if shape != (size, size):
        raise ValueError(f"{which} unrolled net was trained on {size}² slices; the volume "
                         f"has {shape[0]}×{shape[1]} slices — set the in-plane size to {size}")


@torch.no_grad()
def unrolled_iter(op, data, every, notes, path: str = "", net_path: str = ""
                  ) -> Generator[Progress, None, torch.Tensor]:
    """``make_iter`` of the recon methods table: the net on every slice of ``data``.

    Parameters
    ----------
    op : engine.imaging.mri.MRI
        The recon lab's 2-D operator (its mask and coil maps are the net's data consistency).
    data : torch.Tensor
        Multi-coil k-space ``(z, C, n, n)``.
    every, notes
        The table's protocol (a direct method: progress per chunk of slices, no iterates).
    path, net_path : str
        A weights file saved by the learned lab (default: the shipped net); a corrupt or
        foreign file, or a net of another size, is refused with the reason (the recon lab
        then skips the method with a note).

    Returns
    -------
    torch.Tensor
        The complex volume ``(z, n, n)``.
    """
    path = net_path or path
    net, size = load_method_net(path or str(resources.path("learned", SHIPPED_NET)),
                                str(op.device))
    _check(data, op, size, "the shipped" if not path else "the chosen")
    out = []
    for lo in range(0, data.shape[0], CHUNK):
        k = data[lo:lo + CHUNK].to(op.dtype)
        s = op.adjoint(k).abs().amax(dim=(-2, -1)).clamp_min(1e-12)
        out.append(net(k / s[:, None, None, None], op) * s[:, None, None])
        done = min(lo + CHUNK, data.shape[0])
        yield Progress(done / data.shape[0], f"unrolled net: {done}/{data.shape[0]} slices")
    return torch.cat(out)
