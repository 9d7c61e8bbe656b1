"""Checks shared by the bad-input tests: a CLI call fails cleanly and leaves its output alone.

"Cleanly" is what the README promises for every bad input: exit code 1 or 2, no traceback, and
one line on stderr that says what was wrong. "Leaves its output alone" means no file under the
output path was created, changed or removed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from click.testing import CliRunner, Result

from hwnas.cli import main
from hwnas.cli.common import DEBUG_ENV


def invoke(args: Sequence[str], input: str | bytes | None = None) -> Result:
    """Run the `hwnas` command in-process; stdout and stderr are kept apart, and an unexpected
    exception propagates (HWNAS_DEBUG) so the test sees it instead of the one-line report."""
    return CliRunner(env={DEBUG_ENV: "1"}).invoke(main, [str(a) for a in args], input=input)


def snapshot(path: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `path` (or of `path` itself); {} when absent."""
    path = Path(path)
    if path.is_file():
        return {".": hashlib.sha256(path.read_bytes()).hexdigest()}
    if not path.is_dir():
        return {}
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(path.rglob("*"))
    }


def assert_clean_failure(result: Result, codes: Sequence[int] = (1, 2)) -> str:
    """Exit code in `codes`, no traceback, exactly one non-empty stderr line; returns that line."""
    described = f"exit {result.exit_code}; stdout={result.stdout!r}; stderr={result.stderr!r}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception!r}; {described}")
    assert result.exit_code in codes, described
    assert "Traceback" not in result.stdout + result.stderr, described
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, described
    return lines[0]
