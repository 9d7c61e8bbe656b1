"""Where hwnas finds data, device descriptions and its own measured tables."""

from __future__ import annotations

import os
from pathlib import Path

import hwnas

DATA_DIR_ENV = "HWNAS_DATA_DIR"
CACHE_DIR_ENV = "HWNAS_CACHE_DIR"


def repo_root() -> Path | None:
    """The source checkout hwnas runs from (editable install), or `None` when installed elsewhere."""
    root = Path(hwnas.__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").exists() else None


def cache_dir() -> Path:
    """Per-user cache: downloads, measured latencies of live searches, runs of `make demo`."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hwnas"


def data_dir(explicit: str | Path | None = None) -> Path:
    """`--data-dir`, else `$HWNAS_DATA_DIR`, else `../shared/data` beside the checkout, else the cache."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    root = repo_root()
    if root is not None and (root.parent / "shared" / "data").is_dir():
        return root.parent / "shared" / "data"
    return cache_dir() / "data"


def data_roots(explicit: str | Path | None = None) -> list[Path]:
    """Folders searched for benchmark files: the data dir, then the download cache."""
    roots = [data_dir(explicit), cache_dir() / "data"]
    return list(dict.fromkeys(p.resolve() for p in roots))


def devices_dirs() -> list[Path]:
    """Shipped device descriptions, then the user's own (`$HWNAS_DEVICES_DIR`, ~/.config/hwnas/devices)."""
    dirs = []
    root = repo_root()
    if root is not None:
        dirs.append(root / "devices")
    if os.environ.get("HWNAS_DEVICES_DIR"):
        dirs.extend(Path(p).expanduser() for p in os.environ["HWNAS_DEVICES_DIR"].split(os.pathsep) if p)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    dirs.append(Path(config) / "hwnas" / "devices")
    return dirs


def latency_tables_dirs() -> list[Path]:
    """The project's committed tables (`latency_tables/`), then tables measured into the cache."""
    dirs = []
    root = repo_root()
    if root is not None:
        dirs.append(root / "latency_tables")
    dirs.append(cache_dir() / "latency_tables")
    return dirs
