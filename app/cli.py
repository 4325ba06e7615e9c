"""Command line: open the app, or render a lab headless to a PNG, a movie or an ``.npz``.

    flowscope [--lab NAME] [--session FILE] [--preset NAME] [--device DEV]
    flowscope screenshot --lab NAME [--preset NAME] --out FILE.png
    flowscope export --lab NAME [--preset NAME] --out FILE.mp4|.gif
    flowscope results --lab NAME [--preset NAME] --out FILE.npz
    flowscope sweep --lab NAME [--preset NAME] --axis FIELD=VALUES ... --out FOLDER
    flowscope --version

``python main.py …`` is the same entry point from a checkout: both call :func:`main`, which
prepares the process (thread pools) before NumPy or torch load. ``results`` runs the lab and
writes every array of its result (weights, trajectories, volumes …) to an ``.npz``
(``np.load``). ``screenshot``, ``export`` and ``results`` also take ``--set FIELD=VALUE``
(repeatable) to override config fields after the preset.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path

ALL_LAB_NAMES = ("gradient-flow", "regions", "diffusion", "recon", "learned", "convex-duals")
DISTRIBUTION = "flowscope"
RENDER_COMMANDS = {
    "screenshot": "run a lab headless and save the window as a PNG",
    "export": "run a lab headless and save its playback as an MP4 or GIF",
    "results": "run a lab headless and save its result arrays as an .npz",
}


def prepare_process() -> None:
    """Leave one core to the GUI: BLAS threads = cores − 1 (set before NumPy/torch load)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(max(1, (os.cpu_count() or 1) - 1)))


def package_version() -> str:
    """Version of the running code: a checkout's ``pyproject.toml`` when the app runs from
    one (an installed copy's metadata may be older), else the installed distribution's."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        text = pyproject.read_text(encoding="utf-8")
        if re.search(rf'^name\s*=\s*"{DISTRIBUTION}"', text, re.MULTILINE):
            found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
            if found:
                return found.group(1)
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


def _add_render_options(p: argparse.ArgumentParser, command: str) -> None:
    p.add_argument("--lab", required=True, help="lab to render: " + ", ".join(ALL_LAB_NAMES))
    p.add_argument("--preset", help="preset to load before running")
    p.add_argument("--out", required=True, help="output file")
    p.add_argument("--device", help="compute device, e.g. cpu or cuda:0")
    p.add_argument("--size", default="1600x1000", help="window size WxH (default 1600x1000)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field after the preset, e.g. --set dim=3")
    if command == "export":
        p.add_argument("--fps", type=int, default=30)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: GUI options at the top, one sub-command per headless task."""
    p = argparse.ArgumentParser(
        usage="%(prog)s [-h] [--version] [--lab LAB] [--session FILE] [--preset NAME] "
              "[--device DEV] [COMMAND ...]",
        description="Flowscope desktop lab. Without a command, opens the window.")
    p.add_argument("--version", action="version",
                   version=f"{DISTRIBUTION} {package_version()}")
    p.add_argument("--lab", help="lab to open: " + ", ".join(ALL_LAB_NAMES))
    p.add_argument("--session", help="session file (JSON) to open")
    p.add_argument("--preset", help="preset of the lab to load and run")
    p.add_argument("--device", help="compute device, e.g. cpu or cuda:0")
    commands = p.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    for command, summary in RENDER_COMMANDS.items():
        sub = commands.add_parser(command, help=summary, description=summary[0].upper()
                                  + summary[1:] + ".")
        _add_render_options(sub, command)
    from app.sweep_cli import add_sweep_parser
    add_sweep_parser(commands)
    return p


def check_lab(name: str | None) -> str | None:
    """Return ``name`` if that lab exists; exit with a clear message otherwise."""
    from app.registry import LABS
    if name is None or name in LABS:
        return name
    known = ", ".join(LABS)
    pending = [n for n in ALL_LAB_NAMES if n not in LABS]
    extra = f" ({', '.join(pending)} not built yet)" if pending else ""
    print(f"error: unknown lab {name!r}; available: {known}{extra}", file=sys.stderr)
    sys.exit(2)                      # like every other refused argument (argparse, render)


def main(argv=None) -> int:
    """Entry point of ``flowscope`` and ``python main.py``."""
    prepare_process()
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "sweep":
        from app.sweep_cli import run_sweep_command
        return run_sweep_command(args)
    check_lab(args.lab)
    if args.command in RENDER_COMMANDS:
        from app.headless import render
        return render(args.command, args)
    from app.gui import run_gui
    return run_gui(args)
