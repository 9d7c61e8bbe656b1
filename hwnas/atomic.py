"""Atomic writes: a reader sees the old file (or directory) or the new one, never half of one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)`, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide exported models and tables from other users
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


STAGING_TAG = ".staging-"
OLD_TAG = ".old-"


@contextmanager
def staged_directory(final: str | Path) -> Iterator[Path]:
    """Build a directory's whole content in a sibling folder; it replaces `final` as a whole only
    when the block succeeds. A failure or a kill leaves `final` as it was (a kill's leftovers are
    removed, or a half-done swap undone, by the next call for the same `final`)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    recover_directory(final)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}{STAGING_TAG}", dir=final.parent))
    os.chmod(staging, 0o777 & ~_umask())
    try:
        yield staging
        _swap_in(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def recover_directory(final: str | Path) -> None:
    """Undo what a killed `staged_directory` left: stale staging folders, an unfinished swap."""
    final = Path(final)
    if not final.parent.is_dir():
        return
    for stale in final.parent.glob(f".{final.name}{STAGING_TAG}*"):
        shutil.rmtree(stale, ignore_errors=True)
    olds = sorted(final.parent.glob(f".{final.name}{OLD_TAG}*"))
    if olds and not final.exists():
        os.rename(olds[-1], final)  # killed between the two renames: the old content comes back
        olds = olds[:-1]
    for old in olds:
        shutil.rmtree(old, ignore_errors=True)


def _swap_in(staging: Path, final: Path) -> None:
    if final.exists():
        old = final.parent / f".{final.name}{OLD_TAG}{os.getpid()}"
        os.rename(final, old)
        os.rename(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
