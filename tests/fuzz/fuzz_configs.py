"""Seeded fuzzer of every lab's config entry paths and runs (issue #17).

Two parts, per lab of ``app.registry.LABS``:

* **runs** — random *valid* configs at small sizes (every field drawn in its range, sizes
  capped by :data:`CAPS`, hidden point sets drawn valid) through the lab's engine entry
  ``run_config(cfg, "cpu")``;
* **hostile** — hostile values (±inf, NaN, 10⁴⁰⁰, digit bombs, wrong types, deep nesting,
  ragged / huge / string point sets …) put into random fields through every entry path:
  ``config_from_dict`` of one field (presets), the panel's own parser of typed text
  (``parse_value``, then the run's validation), a view edit merged into the whole
  config (``MainWindow.edit_config``), a session file (``Session.from_json`` +
  ``restore_config``) and the CLI (``--set FIELD=VALUE`` text).

Each case ends as ``ok`` (accepted and valid, or the run returned finite results), ``clear``
(a ``ValueError``/``FileNotFoundError`` the project raised on purpose with a short readable
message: the strict rule of :mod:`tests.fuzz.classify`), ``crash`` (any other exception:
a ValueError from numpy/torch/the standard library included), ``nan`` (a run that returned non-finite numbers where its result should
be finite, without an error or a note) or ``hung`` (a run past :data:`RUN_SECONDS`). Goal: no
crash, no nan, no hung. The table also gives, per lab, the longest step a run took without a
progress report (the app's runner interrupts such a step on cancel, ``app.runner``).

    python -m tests.fuzz.full_run --runs 1000 --count 1000 [--labs regions,recon] [--seed 0]

runs the full count over at most two processes, resumably, and prints the table
(:mod:`tests.fuzz.full_run`); ``tests/fuzz/test_fuzz_small.py`` runs a small count in CI.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from collections import Counter
from typing import Any, Callable, Iterator

import numpy as np

from tests.fuzz.classify import classify_error, unclear_message

OUTCOMES = ("ok", "clear", "crash", "nan", "hung")
RUN_SECONDS = 60.0

#: Per lab: fields drawn from a smaller range than theirs, so a run takes about a second on
#: one core (gradient flow: t_max / lr ≤ 500 GD steps, and scales ≤ 10: at depth 3 an
#: initial scale of ~80 makes the adaptive GF reference stiff, ~9 000 reported steps, 80 s;
#: learned: the scale-equivariant CNN width, which sets the cost of its training and of the
#: scale-shift study).
CAPS = {
    "gradient-flow": {"dim": (1, 4), "depth": (1, 3), "n_init": (1, 16), "n_samples": (2, 20),
                      "frames": (2, 40), "t_max": (0.01, 5.0), "dt": (0.01, 1.0),
                      "lr": (1e-2, 100.0), "rtol": (1e-6, 1e-2), "init_scale": (1e-3, 10.0),
                      "teacher_norm": (0.01, 10.0)},
    "regions": {"n_points": (2, 16), "width": (1, 8), "steps": (1, 60), "n_seeds": (1, 2),
                "depth": (1, 2), "grid": (32, 48), "snapshots": (2, 4)},
    "diffusion": {"dim": (2, 16), "n_particles": (10, 100), "n_steps": (1, 10),
                  "n_trails": (0, 4), "record_every": (1, 3), "fit_components": (1, 4),
                  "cg_iters": (1, 5)},
    "recon": {"size": (16, 32), "slices": (1, 2), "n_views": (1, 12), "iters": (1, 6),
              "every": (1, 3), "diffusion_steps": (1, 3), "n_coils": (1, 4)},
    "learned": {"n_unrolls": (1, 3), "width": (2, 4), "depth": (2, 3), "cg_iters": (1, 3),
                "modules": (1, 3), "gleam_factor": (1, 2), "size": (16, 24), "n_coils": (1, 4),
                "steps": (1, 3), "batch": (1, 2), "eval_every": (1, 3), "se_width": (2, 6),
                "n_critic": (1, 3)},
    "convex-duals": {"vo_n": (3, 16), "vo_width": (1, 20), "vo_seeds": (1, 2),
                     "vo_dim": (2, 5), "vo_patterns": (1, 16),
                     "vo_steps": (10, 60), "bn_n": (3, 12), "bn_width": (1, 20),
                     "bn_seeds": (1, 2), "bn_steps": (10, 60), "den_crops": (1, 2),
                     "den_size": (8, 12), "den_patterns": (4, 24), "den_seeds": (1, 2),
                     "den_steps": (10, 60), "att_samples": (8, 20), "att_tokens": (2, 4),
                     "att_heads": (1, 6), "att_seeds": (1, 2), "att_steps": (10, 60),
                     "wgan_samples": (10, 40), "wgan_seeds": (1, 2), "wgan_steps": (10, 200)},
}
#: Per lab: the chance a run draws a size its shipped networks need instead of ``CAPS``'s
#: (recon: the slice priors and the unrolled net exist for 64² slices; at 16–32² the
#: diffusion-prior methods and the unrolled net are only ever skipped, never run).
SHIPPED_SIZE = {"recon": ("size", 64, 0.25)}
#: Per lab: the chance a run draws its optional study (the diffusion step-budget study runs
#: six more solver runs of up to 200 steps: drawn in one run in ten).
STUDY_CHANCE = {"diffusion": ("budget_study", 0.1)}
#: Per lab: result paths (``results_io.flatten_result`` keys) that must hold finite numbers.
PRIMARY = {"gradient-flow": r"w|loss|t",
           "regions": r"outputs|convex_output|runs/\d+/(objective|w_out|layers/\d+)",
           "diffusion": r"(recording|compare|lab/runs/\d+)/(x|final)",
           "recon": r"truth|runs/\d+/volume",
           "learned": r"truth|runs/\d+/(strip|recon)",
           "convex-duals": r"outcome/(convex_objective|certificate|arrays/(?!gd_)(?!.*_path$).*)"}
#: Free-text fields: values a user would type.
TEXT = {"widths": ("", "4", "4, 8", "2,3"), "also": ("", "fbp", "tv", "cg, fbp"),
        "path": ("",), "prior_path": ("",)}
#: Choices left out of random runs (they need a file the fuzzer does not have).
SKIP_CHOICES = {"source": ("file",), "data_source": ("opened volume",)}


def hostile_values() -> list:
    """Values no field accepts as they are (or only some do): the hostile catalogue."""
    deep = []
    for _ in range(60):
        deep = [deep]
    return [math.inf, -math.inf, math.nan, 10 ** 400, -10 ** 400, 1e308, -1e308, 2 ** 63,
            -1, 0, 0.5, -0.0, True, False, None, "", "abc", "1e999", "Infinity", "NaN",
            "9" * 5000, "x" * 10_000, " 3 ", [], [1], [1, 2, 3], {}, {"a": 1}, deep,
            [[1, 2, 3], [4, 5]], [[0, 1], [2, 3], [4, 5]], [["a", 1, 2]],
            [[1e300, 0, 1], [0, 1, -1]], [[0.1, 0.2, 1.0]] * 100_000, "[[1, 2, 3]]",
            [[math.nan, 0, 1]], [[1, 2, 3, 4]], [7, 8, 9], [[True, 1, 2]]]


# -- random valid configs -------------------------------------------------------------------
def random_config(cls, lab: str, rng: np.random.Generator):
    """A valid config of ``cls`` with every field drawn (sizes capped by :data:`CAPS`, one
    run in four at the shipped networks' size, :data:`SHIPPED_SIZE`); for recon, three
    times in four the methods are drawn among those of the drawn modality (else most runs
    would only test the mismatch message)."""
    kw = {f.name: _draw(f, lab, rng) for f in dataclasses.fields(cls)}
    if lab in SHIPPED_SIZE and rng.random() < SHIPPED_SIZE[lab][2]:
        kw[SHIPPED_SIZE[lab][0]] = SHIPPED_SIZE[lab][1]
    if lab in STUDY_CHANCE:
        name, chance = STUDY_CHANCE[lab]
        kw[name] = bool(rng.random() < chance)
    if lab == "diffusion" and kw["prior"] != "mcgdiff":
        kw["dim"] = int(rng.integers(2, 4))        # the other priors exist in 2-D and 3-D
    if lab == "learned":
        _learned_valid(kw, rng)
    if lab == "recon" and rng.random() < 0.75:
        from engine.recon.methods import methods_for
        valid = methods_for(kw["modality"])
        kw["method_a"] = valid[rng.integers(len(valid))]
        kw["method_b"] = (("none",) + valid)[rng.integers(len(valid) + 1)]
        kw["also"] = ""
    return cls(**kw)


def _learned_valid(kw: dict, rng: np.random.Generator) -> None:
    """Learned configs that run: nothing to resume (no checkpoint in the fuzzer's folder)
    and GLEAM modules that divide its K = n_unrolls × gleam_factor unrolls."""
    kw["resume"] = False
    k = kw["n_unrolls"] * kw["gleam_factor"]
    divisors = [m for m in range(1, k + 1) if k % m == 0]
    kw["modules"] = divisors[rng.integers(len(divisors))]


def _draw(f: dataclasses.Field, lab: str, rng: np.random.Generator) -> Any:
    meta, default = f.metadata, f.default
    if meta.get("choices") is not None:
        options = [c for c in meta["choices"] if c not in SKIP_CHOICES.get(f.name, ())]
        return options[rng.integers(len(options))]
    if meta.get("points") is not None:
        spec = meta["points"]
        cols = spec.cols[rng.integers(len(spec.cols))]
        rows = int(rng.integers(0, min(spec.max_rows, 20) + 1))     # small sizes
        pts = rng.normal(size=(rows, cols))
        if rng.random() < 0.25:                     # extremes: up to the accepted bound
            pts *= 10 ** rng.uniform(-3, math.log10(spec.bound) - 0.5)
        if lab == "regions":
            pts[:, 2] = np.sign(pts[:, 2]) + (pts[:, 2] == 0)
        return tuple(tuple(round(float(v), 4) for v in row) for row in pts)
    if isinstance(default, bool):
        return bool(rng.integers(2))
    if isinstance(default, str):
        return TEXT.get(f.name, (default,))[rng.integers(len(TEXT.get(f.name, (default,))))]
    if not isinstance(default, (int, float)):
        return default
    lo, hi = CAPS.get(lab, {}).get(f.name, (meta.get("min"), meta.get("max")))
    lo = max(lo, meta.get("min", lo)) if lo is not None else default
    hi = min(hi, meta.get("max", hi)) if hi is not None else max(default, lo) * 2 + 1
    if isinstance(default, int):
        return int(rng.integers(int(lo), int(hi) + 1))
    if meta.get("log") and lo > 0:
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return float(rng.uniform(lo, hi))


def run_case(run: Callable, cfg, lab: str = "", gaps: list | None = None) -> tuple[str, str]:
    """Run ``cfg`` to the end; (outcome, detail). ``gaps`` gets ``(seconds, where)`` of the
    longest step without a progress report."""
    from engine.core.results_io import flatten_result
    t0 = last = time.perf_counter()
    gap, where, message = 0.0, "start", "start"
    try:
        gen = run(cfg, "cpu")
        while True:
            item = next(gen)
            now = time.perf_counter()
            if now - last > gap:
                gap, where = now - last, f"after {message!r}"
            last, message = now, getattr(item, "message", "")
            if now - t0 > RUN_SECONDS:
                gen.close()
                return "hung", (f"{now - t0:.0f} s in all; longest step without a report "
                                f"{gap:.1f} s {where}")
    except StopIteration as stop:
        result = stop.value
    except Exception as err:  # noqa: BLE001 - clear only when raised on purpose (classify)
        return classify_error(err)
    finally:
        end = time.perf_counter() - last
        if gaps is not None:
            gaps.append(max((gap, where), (end, f"after {message!r} (to the end)")))
    arrays, _ = flatten_result(result)
    noted = _noted_nonfinite(lab, result)
    bad = [k for k, a in arrays.items() if k not in noted and _silently_nonfinite(lab, k, a)]
    return ("nan", ", ".join(bad[:4])) if bad else ("ok", "")


def _noted_nonfinite(lab: str, result) -> set:
    """Result paths whose NaN is explained to the user: the objective of a regions run after
    its noted divergence (``NonconvexRun.note``; finite up to the diverged step); a
    convex-duals model's GDA/GD paths (``*_path``, NaN after the stop) when a note says a
    seed diverged."""
    if lab == "convex-duals":
        notes = " ".join(getattr(getattr(result, "outcome", None), "notes", ()) or ())
        arrays = getattr(getattr(result, "outcome", None), "arrays", {}) or {}
        return ({f"outcome/arrays/{k}" for k in arrays if k.endswith("_path")}
                if "diverged" in notes else set())
    if lab != "regions":
        return set()
    noted = set()
    for i, r in enumerate(getattr(result, "runs", None) or []):
        k = getattr(r, "diverged_step", None)
        if k is not None and r.note and np.isfinite(r.objective[:k]).all():
            noted.add(f"runs/{i}/objective")
    return noted


def _silently_nonfinite(lab: str, key: str, array: np.ndarray) -> bool:
    """A non-finite value in one of the lab's main outputs (:data:`PRIMARY`; other arrays
    use NaN on purpose for "not measured" / padding)."""
    if array.dtype.kind not in "fc" or not re.fullmatch(PRIMARY.get(lab, ".*"), key):
        return False
    return not bool(np.isfinite(array).all())


# -- hostile values through every entry path ------------------------------------------------
def hostile_cases(cls, rng: np.random.Generator, count: int,
                  start: int = 0) -> Iterator[tuple[str, Any]]:
    """``count`` (field, value) pairs: every hostile value (from the ``start``-th of the
    catalogue on, cyclically) on random fields."""
    fields = [f.name for f in dataclasses.fields(cls)]
    values = hostile_values()
    for i in range(start, start + count):
        yield fields[rng.integers(len(fields))], values[i % len(values)]


def through_dict(cls, name: str, value: Any) -> tuple[str, str]:
    """``config_from_dict`` of one field — a panel edit and a preset's config."""
    from engine.core import config_from_dict, validate
    return _judge(lambda: validate(config_from_dict(cls, {name: value})))


def through_panel(cls, name: str, value: Any) -> tuple[str, str]:
    """The value typed into the field's editor of the parameter panel (its text), parsed
    by the panel (``widgets.parameter_fields.parse_value``); what the panel accepts must
    be a config the run takes or refuses with a clear message. Hidden fields have no
    editor (``ok``)."""
    from widgets.parameter_fields import field_kind, parse_value
    from engine.core import validate
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    if field.metadata.get("hidden"):
        return "ok", "no editor"
    kind = field_kind(field, getattr(cls(), name))
    text = value if isinstance(value, str) else _typed(value)
    try:
        parsed, error = parse_value(field, kind, text)
    except Exception as err:  # noqa: BLE001
        return "crash", f"panel parser: {classify_error(err)[1]}"
    if error is not None:
        why = unclear_message(error)
        return ("clear", error) if why is None else ("crash", f"panel: {error[:200]} [{why}]")
    return _judge(lambda: validate(dataclasses.replace(cls(), **{name: parsed})))


def _typed(value: Any) -> str:
    """What a user would type for ``value``."""
    try:
        return json.dumps(value)
    except (ValueError, RecursionError):
        return repr(value)[:20_000]


def through_view(cls, name: str, value: Any) -> tuple[str, str]:
    """A view's edit (``sigConfigEdit``) as ``MainWindow.edit_config`` applies it: the value
    merged into the whole current config (here the defaults), then ``config_from_dict``."""
    from engine.core import config_from_dict, config_to_dict, validate
    return _judge(lambda: validate(config_from_dict(cls, {**config_to_dict(cls()),
                                                          name: value})))


def through_session(cls, name: str, value: Any) -> tuple[str, str]:
    """A session file holding the value, opened and restored (never raises)."""
    from app.session import Session
    try:
        text = json.dumps({"format": "flowscope-session", "version": 1, "current_lab": "x",
                           "labs": {"x": {"config": {name: value}, "preset": None}}})
    except (ValueError, RecursionError):
        return "ok", "not writable as JSON"
    try:
        session = Session.from_json(text)
    except Exception as err:  # noqa: BLE001 - a SessionError raised on purpose is clear
        return classify_error(err)
    from engine.core import validate
    return _judge(lambda: validate(session.lab_config("x", cls)[0]), restore=True)


def through_cli(cls, name: str, value: Any) -> tuple[str, str]:
    """``--set FIELD=VALUE`` as the command line gives it (JSON text of the value)."""
    from app.headless import parse_overrides
    from engine.core import config_from_dict, validate
    try:
        text = value if isinstance(value, str) else json.dumps(value)
    except (ValueError, RecursionError):
        return "ok", "not writable as text"
    return _judge(lambda: validate(config_from_dict(cls, parse_overrides(
        [f"{name}={text}"], cls))))


def _judge(action: Callable, restore: bool = False) -> tuple[str, str]:
    try:
        action()
    except Exception as err:  # noqa: BLE001 - clear only when raised on purpose (classify)
        if restore and isinstance(err, ValueError):
            return "crash", f"restore gave an invalid config: {classify_error(err)[1]}"
        return classify_error(err)
    return "ok", ""


PATHS = {"dict": through_dict, "panel": through_panel, "view": through_view,
         "session": through_session, "cli": through_cli}


# -- driver ---------------------------------------------------------------------------------
def fuzz_lab(lab: str, count: int, runs: int, seed: int = 0, log=None) -> dict:
    """Counts per outcome for ``lab``: ``{"runs": Counter, "hostile": Counter, "examples":
    {outcome: [detail, ...]}}`` (examples of crash / nan / hung only)."""
    from app.registry import LABS
    spec = LABS[lab]
    cls, run = spec.config_class(), spec.run_entry()
    rng = np.random.default_rng([seed, sum(map(ord, lab))])
    out = {"runs": Counter(), "hostile": Counter(), "examples": {}, "gap": (0.0, "")}
    for _ in range(runs):
        cfg = random_config(cls, lab, rng)
        gaps: list = []
        outcome, detail = run_case(run, cfg, lab, gaps)
        _count(out, "runs", outcome, f"{detail} ← {_brief(cfg)}")
        if gaps and gaps[0][0] > out["gap"][0]:
            out["gap"] = (gaps[0][0], f"{gaps[0][1]} ← {_brief(cfg)}")
    for name, value in hostile_cases(cls, rng, count):
        for path, check in PATHS.items():
            outcome, detail = check(cls, name, value)
            _count(out, "hostile", outcome, f"{path} {name}={_short(value)}: {detail}")
    if log:
        log(f"{lab}: runs {dict(out['runs'])} hostile {dict(out['hostile'])}")
    return out


def _count(out: dict, part: str, outcome: str, detail: str) -> None:
    out[part][outcome] += 1
    if outcome in ("crash", "nan", "hung") or (part == "runs" and outcome == "clear"):
        out["examples"].setdefault(outcome, []).append(detail)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 50 else text[:47] + "..."


def _brief(cfg) -> str:
    return _short({k: v for k, v in dataclasses.asdict(cfg).items() if k != "custom_points"})


def table(results: dict) -> str:
    """The ok / clear error / crash / silent NaN / hung table, one row per lab and part."""
    head = (f"{'lab':15} {'part':8} " + " ".join(f"{o:>6}" for o in OUTCOMES)
            + "  longest step without a report")
    rows = [head, "-" * len(head)]
    for lab, out in results.items():
        for part in ("runs", "hostile", "cli"):
            if part == "cli" and not sum(out.get(part, {}).values()):
                continue
            gap = f"  {out['gap'][0]:.1f} s" if part == "runs" and "gap" in out else ""
            rows.append(f"{lab:15} {part:8} "
                        + " ".join(f"{out[part][o]:6d}" for o in OUTCOMES) + gap)
    return "\n".join(rows)


def main(argv=None) -> int:
    """The full-count command line (:func:`tests.fuzz.full_run.main`)."""
    from tests.fuzz.full_run import main as full_main
    return full_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
