"""``flowscope sweep``: run a lab over a grid of parameters and seeds from the terminal.

    flowscope sweep --lab L [--preset P] --axis FIELD=VALUES ... [--seeds N] [--metric M]
                    [--set FIELD=VALUE] [--scheduler ADDRESS | --workers N] --out FOLDER
                    [--resume]

Values are ``1,2,3``, ``lin:a:b:n`` or ``log:a:b:n``. The default executor is an embedded
Dask LocalCluster of ``--workers`` processes (``--workers 0`` runs in this process);
``--scheduler tcp://host:8786`` uses a running cluster (docs/SWEEPS.md). Every failure is one
``error: …`` line and exit status 2; Ctrl-C stops, keeping the finished points for
``--resume``.
"""
from __future__ import annotations

import json
import sys
import time

import resources

PRESETS_FILE = resources.path("presets") / "sweeps.json"
BAR = 24


def load_sweep_presets() -> dict:
    """Sweep presets: name → {"title", "description", "lab", "config", "axes", "seeds",
    "metrics"} (``resources/presets/sweeps.json``)."""
    return json.loads(PRESETS_FILE.read_text(encoding="utf-8"))


def add_sweep_parser(commands) -> None:
    """The ``sweep`` sub-command's options."""
    p = commands.add_parser("sweep", help="run a lab over a grid of parameters and seeds",
                            description="Run a lab over a grid of parameters and seeds, on "
                                        "this machine or a Dask cluster; results go to a "
                                        "Parquet folder (pandas.read_parquet).")
    p.add_argument("--lab", help="lab to sweep: gradient-flow, gradient-flow/reduced, regions, "
                                 "diffusion, recon (default: the preset's)")
    p.add_argument("--preset", help="sweep preset: " + ", ".join(load_sweep_presets()))
    p.add_argument("--axis", action="append", default=[], metavar="FIELD=VALUES",
                   help="an axis: FIELD=1,2,3 or FIELD=lin:a:b:n or FIELD=log:a:b:n")
    p.add_argument("--seeds", type=int, help="seeds per point (default 1 or the preset's)")
    p.add_argument("--metric", action="append", default=[], help="metric to keep (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a base config field")
    p.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:port)")
    p.add_argument("--workers", type=int, default=2,
                   help="local worker processes (default 2; 0 runs in this process)")
    p.add_argument("--out", required=True, help="output folder (a Parquet dataset)")
    p.add_argument("--resume", action="store_true", help="finish the sweep in --out")


def _pairs(items, option: str) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{option} expects FIELD=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _typed(cls, overrides: dict) -> dict:
    """``--set`` texts as their fields' types where that is not plain text (booleans)."""
    import dataclasses
    kinds = {f.name: f.default for f in dataclasses.fields(cls)}
    words = {"true": True, "yes": True, "on": True, "1": True,
             "false": False, "no": False, "off": False, "0": False}
    return {k: words.get(v.lower(), v) if isinstance(kinds.get(k), bool) else v
            for k, v in overrides.items()}


def build_sweep(args):
    """The :class:`engine.sweeps.Sweep` the arguments describe (``ValueError`` if unclear)."""
    from engine.sweeps import Sweep, target
    preset = {}
    if args.preset:
        presets = load_sweep_presets()
        if args.preset not in presets:
            raise ValueError(f"no sweep preset {args.preset!r}: expected one of "
                             f"{', '.join(presets)}")
        preset = presets[args.preset]
    lab = args.lab or preset.get("lab")
    if not lab:
        raise ValueError("name a lab (--lab) or a sweep preset (--preset)")
    if preset and lab != preset["lab"]:
        raise ValueError(f"preset {args.preset!r} sweeps the {preset['lab']} lab, not {lab}")
    cls = target(lab).config_class()
    config = {**preset.get("config", {}), **_typed(cls, _pairs(args.set, "--set"))}
    axes = {**preset.get("axes", {}), **_pairs(args.axis, "--axis")}
    if not axes:
        raise ValueError("name at least one --axis FIELD=VALUES")
    metrics = args.metric or preset.get("metrics") or []
    seeds = args.seeds if args.seeds is not None else preset.get("seeds", 1)
    return Sweep(lab=lab, config=config, axes=axes, seeds=seeds, metrics=metrics)


def executor_of(args) -> str:
    if args.scheduler:
        return args.scheduler
    if args.workers < 0:
        raise ValueError(f"--workers must be 0 or more, got {args.workers}")
    return "dask" if args.workers > 0 else "local"


def run_sweep_command(args) -> int:
    """Run the sweep with a progress line on stderr; 0 when done, 2 on bad input, 130 when
    interrupted (the finished points stay for ``--resume``)."""
    from app.headless import _fail
    try:
        from engine.sweeps import prepare_sweep, run_sweep
        sweep = build_sweep(args)
        executor = executor_of(args)
        prep = prepare_sweep(sweep, args.out, args.resume)   # refuse bad input first
    except ValueError as err:
        return _fail(err)
    gen = run_sweep(sweep, executor=executor, workers=max(args.workers, 1), store=args.out,
                    resume=args.resume)
    try:
        table = _follow(gen, len(prep.plan.points))
    except KeyboardInterrupt:
        gen.close()
        print(f"\ninterrupted: finished points are in {args.out}; rerun with --resume",
              file=sys.stderr)
        return 130
    except ValueError as err:
        gen.close()
        print(file=sys.stderr)
        return _fail(err)
    failed = int((table["error"] != "").sum())
    print(f"wrote {len(table)} points to {args.out}" + (f" ({failed} failed: see the "
                                                         "'error' column)" if failed else ""))
    return 0


def _follow(gen, total: int):
    """Drain ``gen`` drawing ``[#####.....] message`` on one terminal line."""
    shown, last = "", 0.0
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            print(file=sys.stderr)
            return stop.value
        now = time.monotonic()
        if p.partial is None and now - last < 0.5:
            continue
        last = now
        filled = int(round(BAR * min(max(p.fraction, 0.0), 1.0)))
        line = f"\r[{'#' * filled}{'.' * (BAR - filled)}] {p.message}"
        if p.partial and p.partial.get("dashboard") and "dashboard" not in shown:
            print(f"Dask dashboard: {p.partial['dashboard']}", file=sys.stderr)
            shown += "dashboard"
        print(line.ljust(79), end="", file=sys.stderr, flush=True)

