"""The append-only trial log (`trials.jsonl`): one JSON trial per line.

Each line goes to disk in one `os.write` on an O_APPEND descriptor followed by fsync, so a
killed process leaves either the whole line or a torn tail, never a line spliced into another.
A torn or unparsable last line is reported (and moved aside only when asked); a bad line
anywhere else means the file was edited, and is never repaired silently.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from hwnas.atomic import atomic_write_bytes
from hwnas.errors import RunError
from hwnas.search.base import Trial

LOG_NAME = "trials.jsonl"


class TrialLog:
    """Appends trials to `path`; use as a context manager or call `close()`."""

    def __init__(self, path: str | Path, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def append(self, trial: Trial) -> None:
        line = (json.dumps(trial.to_json(), separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
        written = os.write(self._fd, line)
        if written != len(line):
            raise RunError(f"{self.path}: short write ({written} of {len(line)} bytes); is the disk full?")
        if self.fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> TrialLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _parse(line: bytes) -> Trial:
    data = json.loads(line.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return Trial.from_json(data)


def read_trials(path: str | Path, repair: bool = False) -> list[Trial]:
    """Every trial in the log; a torn last line raises `RunError` unless `repair` moves it aside."""
    path = Path(path)
    if not path.is_file():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    tail = lines.pop()  # bytes after the last newline: empty for a clean log
    trials: list[Trial] = []
    bad_last: bytes | None = None
    for i, line in enumerate(lines):
        try:
            trials.append(_parse(line))
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            if i < len(lines) - 1 or tail:
                raise RunError(
                    f"{path} line {i + 1} is not a trial ({exc}); the log was edited or damaged: "
                    "restore it or start a new run directory"
                ) from None
            bad_last = line + b"\n"
    if tail:
        bad_last = tail
    if bad_last is None:
        return trials
    line_no = len(trials) + 1
    if not repair:
        raise RunError(
            f"{path} line {line_no} is incomplete or corrupt (the process was probably killed while writing it); "
            "rerun with --repair to move it to trials.jsonl.corrupt and continue from the trials before it"
        )
    aside = path.with_name(path.name + ".corrupt")
    with open(aside, "ab") as handle:
        handle.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%S')} line {line_no}\n".encode() + bad_last + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    atomic_write_bytes(path, raw[: len(raw) - len(bad_last)])
    return trials
