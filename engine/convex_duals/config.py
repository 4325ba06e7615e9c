"""Run configuration of the convex-duals lab (SCIENCE.md §7): one flat frozen config.

``model`` picks a model of :data:`MODELS`; every model's ``Params`` fields appear flattened as
``<prefix>_<field>`` with the model's metadata plus ``visible_when = {"model": (name,)}``, so
the parameter panel shows only the chosen model's knobs. A ``Params`` field named ``seed``
(the first gradient-descent seed) is not prefixed: every model shares the top-level ``seed``.
A new model joins with one line in :data:`MODELS` (its module exposes ``Params`` and ``run``,
docs of :mod:`.common`).
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import NamedTuple

from engine.core import param

SHARED_SEED = "seed"

__all__ = ["MODELS", "ModelEntry", "DualsConfig", "model_params", "model_module"]


class ModelEntry(NamedTuple):
    """A model of the lab: its module path, config-field prefix and tab title."""
    module: str
    prefix: str
    title: str


MODELS: dict[str, ModelEntry] = {
    "vector_output": ModelEntry("engine.convex_duals.vector_output", "vo",
                                "Vector output (copositive)"),
    "batchnorm": ModelEntry("engine.convex_duals.batchnorm", "bn", "Batch norm"),
    "denoiser": ModelEntry("engine.convex_duals.denoiser", "den", "Conv denoiser"),
    "attention": ModelEntry("engine.convex_duals.attention", "att", "Attention heads"),
    "wgan": ModelEntry("engine.convex_duals.wgan", "wgan", "Wasserstein GAN"),
}


def model_module(name: str):
    """The module of model ``name`` (``Params``, ``run``)."""
    return importlib.import_module(MODELS[name].module)


def _flat_fields() -> list:
    fields = [("model", str, param("vector_output", label="Model", choices=tuple(MODELS),
                                   help="Which network's convex program is solved")),
              ("seed", int, param(0, label="First seed", min=0, max=2**31 - 1,
                                  help="Seed of the first gradient-descent run (the others "
                                       "follow it)"))]
    for name, entry in MODELS.items():
        for f in dataclasses.fields(model_module(name).Params):
            if f.name == SHARED_SEED:
                continue
            meta = {**f.metadata, "visible_when": {"model": (name,)}}
            if "visible_when" in f.metadata:                # the model's own condition, too
                meta["also_visible_when"] = ({f"{entry.prefix}_{k}": v for k, v
                                              in f.metadata["visible_when"].items()},)
            fields.append((f"{entry.prefix}_{f.name}", f.type,
                           dataclasses.field(default=f.default, metadata=meta)))
    return fields


DualsConfig = dataclasses.make_dataclass(
    "DualsConfig", _flat_fields(), frozen=True,
    namespace={"__doc__": "Convex duals beyond the two-layer scalar ReLU net (SCIENCE.md §7): "
                          "``model`` and every model's knobs, prefixed by the model."})
DualsConfig.__module__ = __name__


def model_params(cfg, name: str | None = None):
    """The chosen (or named) model's ``Params`` built from the flat config's fields."""
    name = name or cfg.model
    entry, cls = MODELS[name], model_module(name).Params
    return cls(**{f.name: getattr(cfg, SHARED_SEED if f.name == SHARED_SEED
                                  else f"{entry.prefix}_{f.name}")
                  for f in dataclasses.fields(cls)})
