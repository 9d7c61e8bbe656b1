"""Zero-cost scores as an accuracy source for search: an *estimate*, never a measured accuracy.

Scores come from a committed or cached score table when one covers the architecture (the
table of all 15,625 cifar10 networks ships in `benchmarks/zero_cost/`), otherwise they are
computed on the spot (seconds per architecture on a CPU) and remembered for the session.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from pathlib import Path

from hwnas.errors import BadInputError, DataError
from hwnas.nets import get_dataset
from hwnas.paths import cache_dir, repo_root
from hwnas.space.nb201 import NB201Space
from hwnas.tables.table import ArchTable, load_table
from hwnas.zc.proxies import PROXIES, ScoreSettings, score_arch
from hwnas.zc.table import TABLE_KIND

# The proxy a search falls back to when no accuracy table exists: data-free, the fastest of the
# accurate ones (see the zero-cost benchmark in benchmarks/zero_cost/README.md).
DEFAULT_OFFLINE_PROXY = "synflow"


def zero_cost_dirs() -> list[Path]:
    """Where score tables are looked for: the project's committed ones, then the user cache."""
    dirs = []
    root = repo_root()
    if root is not None:
        dirs.append(root / "benchmarks" / "zero_cost")
    dirs.append(cache_dir() / "zero_cost")
    return dirs


def score_table_path(dataset: str) -> Path | None:
    """The first score table for `dataset` (`zc-<dataset>.parquet`) found in `zero_cost_dirs()`."""
    name = f"zc-{get_dataset(dataset).name}.parquet"
    for folder in zero_cost_dirs():
        if (folder / name).is_file():
            return folder / name
    return None


def load_score_table(dataset: str) -> ArchTable | None:
    path = score_table_path(dataset)
    if path is None:
        return None
    table = load_table(path)
    if table.extra.get("kind") != TABLE_KIND:
        raise DataError(f"{path} is not a zero-cost score table")
    return table


class ZeroCostAccuracy:
    """`AccuracySource` giving a proxy's score (larger = predicted more accurate).

    `is_estimate` is True and `unit` is "score": searches, summaries and exports label it as a
    zero-cost estimate. Lookups hit the table first; misses are computed with `settings`.
    """

    is_estimate = True
    unit = "score"

    def __init__(
        self,
        proxy: str,
        dataset: str,
        table: ArchTable | None = None,
        settings: ScoreSettings | None = None,
    ) -> None:
        if proxy not in PROXIES:
            raise BadInputError(f"unknown proxy {proxy!r}; known: {', '.join(PROXIES)}")
        self.proxy = proxy
        self.spec = get_dataset(dataset)
        self.settings = settings or ScoreSettings()
        self.space = NB201Space()
        self.name = f"zero-cost:{proxy} (estimate)"
        self._values: dict[str, float] = {}
        if table is not None and proxy in table.metrics:
            self._values.update(table.series(proxy).to_dict())
        self.computed = 0  # scores computed on the spot (not found in the table)

    def _key(self, arch: Hashable) -> str:
        return arch if isinstance(arch, str) else self.space.format(arch)

    def accuracy(self, arch: Hashable) -> float:
        key = self._key(arch)
        value = self._values.get(key)
        if value is None:
            parsed = self.space.parse(key)
            value = score_arch(parsed, self.spec, [self.proxy], self.settings).scores[self.proxy]
            if not math.isfinite(value):
                raise DataError(f"proxy {self.proxy} gave {value} for {key}")
            self._values[key] = value
            self.computed += 1
        return value

    def known_values(self) -> Mapping[str, float]:
        return self._values


def zero_cost_source(proxy: str, dataset: str) -> ZeroCostAccuracy:
    """The source for `proxy` on `dataset`, backed by the score table when one is found."""
    return ZeroCostAccuracy(proxy, dataset, load_score_table(dataset))


def committed_source(proxy: str, dataset: str) -> ZeroCostAccuracy:
    """A table-backed source for searchers that score hundreds of candidates per step (ProxyBO).

    Uses the dataset's own score table, else the cifar10 one (same cells; only the classifier
    width differs, see benchmarks/zero_cost/README.md). Raises when neither exists, since
    scoring every candidate on the spot would take minutes per step on a CPU.
    """
    spec = get_dataset(dataset)
    for name in dict.fromkeys((spec.name, "cifar10")):
        table = load_score_table(name)
        if table is not None and proxy in table.metrics:
            source = ZeroCostAccuracy(proxy, name, table)
            if name != spec.name:
                source.name = f"zero-cost:{proxy}@{name} (estimate)"
            return source
    where = " or ".join(str(d) for d in zero_cost_dirs())
    raise DataError(
        f"no zero-cost table with {proxy} for {spec.name} (looked in {where}); compute one with "
        f"`hwnas proxies compute --dataset {spec.name} --out {zero_cost_dirs()[-1]}/zc-{spec.name}.parquet`"
    )


def search_scorer(proxy: str, scorers: Mapping[str, object], dataset: str) -> object:
    """A searcher's scorer for `proxy`: the one its context provides, else the committed table's column."""
    if proxy in scorers:
        return scorers[proxy]
    return committed_source(proxy, dataset)
