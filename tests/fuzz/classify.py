"""The fuzzer's strict rule for an exception: a **clear** error or a **crash** (issue #17).

An exception counts as a clear error only when the project raised it on purpose:

* its type is ``ValueError`` or ``FileNotFoundError`` (subclasses included, e.g.
  ``app.session_files.SessionError``);
* the frame that raised it — the last frame of its traceback — is a ``raise`` statement in
  the repository's own code (``engine/``, ``app/``, ``widgets/`` or ``main.py``), not in a
  third-party package (numpy, torch, scipy …) nor the standard library (json, …), and not a
  project line where a builtin raised (``int("abc")``);
* its message is short and readable: not empty, under :data:`MAX_MESSAGE` characters, no raw
  ``repr`` of arrays / tensors / objects.

Anything else is a **crash**, reported with its message and the last project frame (where
the input got in), so the case can be rerun by hand. The command line (``main.py``, run as
a subprocess) is clear only when it exits with status 2 after one ``error: …`` line, with no
traceback (:func:`classify_cli`).
"""
from __future__ import annotations

import re
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROJECT_DIRS = ("engine", "app", "widgets")
CLEAR_TYPES = (ValueError, FileNotFoundError)
MAX_MESSAGE = 500
#: Raw reprs a user should never read: arrays, tensors, default object reprs, tracebacks.
UNREADABLE = re.compile(r"\b(array|tensor)\(|dtype=|<[\w.]+ object at 0x|Traceback \(most")


def is_project_file(filename: str) -> bool:
    """Whether ``filename`` is the project's own code (not a package installed in a venv)."""
    path = Path(filename).resolve()
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return False
    if path == REPO / "main.py":
        return True
    return any(path.is_relative_to(REPO / d) for d in PROJECT_DIRS)


def last_project_frame(err: BaseException) -> str:
    """``file:line in function`` of the innermost project frame of ``err``'s traceback (where
    the input reached the code that failed), or ``"no project frame"``."""
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        if is_project_file(frame.filename):
            name = Path(frame.filename).resolve().relative_to(REPO)
            return f"{name}:{frame.lineno} in {frame.name}"
    return "no project frame"


def raised_on_purpose(err: BaseException) -> bool:
    """Whether the last frame of ``err``'s traceback is a ``raise`` in the project's code."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return False
    last = frames[-1]
    return is_project_file(last.filename) and (last.line or "").lstrip().startswith("raise")


def unclear_message(text: str) -> str | None:
    """Why ``text`` is not a readable message (``None`` when it is)."""
    if not text.strip():
        return "empty message"
    if len(text) >= MAX_MESSAGE:
        return f"message of {len(text)} characters"
    if UNREADABLE.search(text):
        return "raw repr in the message"
    return None


def classify_error(err: BaseException) -> tuple[str, str]:
    """``("clear", message)`` for an error the project raised on purpose with a readable
    message, else ``("crash", "Type: message [why] @ last project frame")``."""
    text = str(err)
    if isinstance(err, CLEAR_TYPES):
        why = ("raised outside the project's own raise statements"
               if not raised_on_purpose(err) else unclear_message(text))
        if why is None:
            return "clear", text
    else:
        why = "not a ValueError / FileNotFoundError"
    return "crash", (f"{type(err).__name__}: {text[:300]} [{why}] "
                     f"@ {last_project_frame(err)}")


def classify_cli(returncode: int, stdout: str, stderr: str) -> tuple[str, str]:
    """The command line's answer: ``ok`` (exit 0), ``clear`` (exit 2, one ``error: …`` line
    with a readable message, no traceback) or ``crash`` (anything else)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    if returncode == 0 and not errors and "Traceback" not in stderr:
        return "ok", stdout.strip()[-200:]
    if "Traceback (most recent call last)" in stderr:
        return "crash", f"traceback (exit {returncode}): {stderr.strip()[-600:]}"
    if returncode != 2 or len(errors) != 1:
        return "crash", f"exit {returncode}, stderr: {stderr.strip()[-600:]}"
    message = errors[0][len("error: "):]
    why = unclear_message(message)
    if why is None and re.match(r"[A-Z]\w*(Error|Exception)\b: ", message) \
            and not message.startswith(("ValueError", "FileNotFoundError")):
        why = "an unexpected exception type"
    return ("clear", message) if why is None else ("crash", f"{message[:300]} [{why}]")
