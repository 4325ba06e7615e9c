"""The command line as a user runs it: ``main.py results --lab L --set FIELD=VALUE`` in a
subprocess, judged by :func:`tests.fuzz.classify.classify_cli` (issue #17).

The subprocess runs with ``FLOWSCOPE_DEBUG=1``: the CLI then prints the traceback of the
error it caught before its ``error: …`` line, so the strict rule of
:func:`tests.fuzz.classify.classify_error` (raised by a project ``raise``) applies to the
command line too: a handled error whose traceback ends outside the project's ``raise``
statements (numpy's own ValueError, a builtin's) is a crash. Other fields are set to the
smallest sizes of ``CAPS`` so an accepted value runs in seconds.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.fuzz.classify import REPO, classify_cli, is_project_file

CLI_SECONDS = 180.0
_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>.+)$')


def small_overrides(cls, lab: str) -> list[str]:
    """``FIELD=VALUE`` texts setting every capped field of ``lab`` to its lower cap (kept
    only when the whole config with them is valid)."""
    from engine.core import config_from_dict, validate
    from tests.fuzz.fuzz_configs import CAPS
    names = {f.name for f in dataclasses.fields(cls)}
    small = {k: lo for k, (lo, _) in CAPS.get(lab, {}).items() if k in names}
    try:
        validate(config_from_dict(cls, small))
    except ValueError:
        return []
    return [f"{k}={v}" for k, v in small.items()]


def last_raise_frame(stderr: str) -> tuple[str, str] | None:
    """``(file:line in function, source line)`` of the last frame of the (debug) traceback
    printed in ``stderr``; ``None`` without a traceback."""
    lines, found = stderr.splitlines(), None
    for i, line in enumerate(lines):
        match = _FRAME.match(line)
        if match:
            source = lines[i + 1].strip() if i + 1 < len(lines) else ""
            found = (match["file"], match["line"], match["name"], source)
    if found is None:
        return None
    file, line, name, source = found
    return f"{file}:{line} in {name}", source


def judge_cli_output(returncode: int, stdout: str, stderr: str) -> tuple[str, str]:
    """:func:`classify_cli` of the output without its debug traceback, then the strict origin
    rule on that traceback: a handled error must come from a project ``raise``."""
    debug, sep, rest = stderr.rpartition("\nerror: ")
    shown = ("error: " + rest) if sep else stderr
    if sep and "Traceback (most recent call last)" in rest:
        shown = stderr                               # a second, unhandled traceback
    outcome, detail = classify_cli(returncode, stdout, shown)
    if outcome != "clear" or not debug.strip():
        return outcome, detail
    frame = last_raise_frame(debug)
    if frame is None:
        return outcome, detail
    where, source = frame
    if is_project_file(where.split(":")[0]) and source.startswith("raise"):
        return outcome, detail
    return "crash", f"{detail} [raised outside the project's raise statements] @ {where}"


def through_cli_process(lab: str, cls, name: str, value: Any) -> tuple[str, str]:
    """``main.py results --lab lab --set name=value`` (small sizes) in a subprocess."""
    try:
        text = value if isinstance(value, str) else json.dumps(value)
    except (ValueError, RecursionError):
        return "ok", "not writable as text"
    if len(text) > 100_000:
        return "ok", "longer than a command line takes"
    with tempfile.TemporaryDirectory(prefix="flowscope-fuzz-cli-") as tmp:
        args = [sys.executable, str(REPO / "main.py"), "results", "--lab", lab,
                "--out", str(Path(tmp) / "r.npz")]
        for pair in small_overrides(cls, lab) + [f"{name}={text}"]:
            args += ["--set", pair]
        env = {**os.environ, "FLOWSCOPE_DEBUG": "1", "FLOWSCOPE_HOME": tmp,
               "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}
        try:
            done = subprocess.run(args, capture_output=True, text=True, cwd=REPO, env=env,
                                  timeout=CLI_SECONDS)
        except subprocess.TimeoutExpired:
            return "hung", f"main.py results past {CLI_SECONDS:.0f} s"
    return judge_cli_output(done.returncode, done.stdout, done.stderr)
