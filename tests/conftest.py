"""Shared fixtures. Tests that need ../shared/data skip with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hwnas.paths import data_dir as resolve_data_dir

REQUIRED_FILES = (
    "nb201/accuracy.parquet",
    "hw-nas-bench/nb201_cifar10_latency.parquet",
    "hw-nas-bench-360/dataset.parquet",
)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read or write the developer's own cache or config from tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HWNAS_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    root = resolve_data_dir(os.environ.get("HWNAS_DATA_DIR"))
    missing = [f for f in REQUIRED_FILES if not (root / f).is_file()]
    if missing:
        pytest.skip(f"benchmark data not found under {root} (missing {', '.join(missing)}); set HWNAS_DATA_DIR")
    return root


@pytest.fixture(scope="session")
def catalog(shared_data_dir: Path):
    from hwnas.tables.catalog import Catalog

    return Catalog(shared_data_dir)


@pytest.fixture
def single_torch_thread():
    """Torch on one thread: small networks gain nothing from more, and on a loaded machine extra
    threads only spin (10x slower)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
