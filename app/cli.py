"""Command line: open the app, or render a lab headless to a PNG or a movie.

    python main.py [--lab NAME] [--session FILE] [--preset NAME]
    python main.py screenshot --lab NAME [--preset NAME] --out FILE.png
    python main.py export --lab NAME [--preset NAME] --out FILE.mp4|.gif
    python main.py results --lab NAME [--preset NAME] --out FILE.npz

``results`` runs the lab and writes every array of its result (weights, trajectories,
volumes …) to an ``.npz`` (``np.load``). ``screenshot``, ``export`` and ``results`` also take ``--set FIELD=VALUE`` (repeatable) to override
config fields after the preset.
"""
from __future__ import annotations

import argparse
import logging
import sys

ALL_LAB_NAMES = ("gradient-flow", "regions", "diffusion", "recon")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="main.py", description="Flowscope desktop lab")
    p.add_argument("--lab", help="lab to open: " + ", ".join(ALL_LAB_NAMES))
    p.add_argument("--session", help="session file (JSON) to open")
    p.add_argument("--preset", help="preset of the lab to load and run")
    p.add_argument("--device", help="compute device, e.g. cpu or cuda:0")
    return p


def _render_parser(command: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"main.py {command}")
    p.add_argument("--lab", required=True, help="lab to render")
    p.add_argument("--preset", help="preset to load before running")
    p.add_argument("--out", required=True, help="output file")
    p.add_argument("--device", help="compute device, e.g. cpu or cuda:0")
    p.add_argument("--size", default="1600x1000", help="window size WxH (default 1600x1000)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field after the preset, e.g. --set dim=3")
    if command == "export":
        p.add_argument("--fps", type=int, default=30)
    return p


def check_lab(name: str | None) -> str | None:
    """Return ``name`` if that lab exists; exit with a clear message otherwise."""
    from app.registry import LABS
    if name is None or name in LABS:
        return name
    known = ", ".join(LABS)
    pending = [n for n in ALL_LAB_NAMES if n not in LABS]
    extra = f" ({', '.join(pending)} not built yet)" if pending else ""
    sys.exit(f"error: unknown lab {name!r}; available: {known}{extra}")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if argv and argv[0] in ("screenshot", "export", "results"):
        args = _render_parser(argv[0]).parse_args(argv[1:])
        check_lab(args.lab)
        from app.headless import render
        return render(argv[0], args)
    args = _parser().parse_args(argv)
    check_lab(args.lab)
    from app.gui import run_gui
    return run_gui(args)
