"""Zero-cost scores of many architectures as a cached, resumable table (parquet + sidecar).

A table holds one dataset's scores, one column per proxy plus `seconds_<proxy>` (what scoring
that architecture cost). Computing again into the same file only fills what is missing, and
partial work is saved every minute and on interrupt, so a long job resumes where it stopped.

With `representatives`, each isomorphism class is scored once, on its canonical member
(`NB201Space().canonical`), and every member gets those scores: isomorphic cells compute the
same function, so they differ only by weight-initialization noise. `params` and `flops` are
always each string's own benchmark network (NAS-Bench-201's convention, dead edges counted).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hwnas.errors import BadInputError, DataError
from hwnas.nets import get_dataset
from hwnas.space.nb201 import NB201Space
from hwnas.tables.table import ARCH_INDEX, ARCH_STR, ArchTable, MetricInfo, load_table
from hwnas.zc.proxies import PROXIES, ScoreSettings, check_proxies, score_arch

TABLE_KIND = "zero-cost"
COMPUTED_ON = "computed_on"  # the arch string whose network was scored
PER_STRING_GROUPS = ("cost",)
SAVE_EVERY_S = 60.0


def seconds_column(proxy: str) -> str:
    return f"seconds_{proxy}"


@dataclass
class ComputeProgress:
    done: int  # networks scored so far in this call
    total: int  # networks this call has to score
    arch_str: str


def _metrics(proxies: Sequence[str], dataset: str) -> dict[str, MetricInfo]:
    metrics: dict[str, MetricInfo] = {}
    for name in proxies:
        unit = {"params": "count", "flops": "FLOPs"}.get(name, "score")
        metrics[name] = MetricInfo(unit, "zero-cost", dataset, description=PROXIES[name].description)
        metrics[seconds_column(name)] = MetricInfo("s", "cost", dataset, description=f"seconds to score {name}")
    return metrics


def _identity(settings: ScoreSettings, dataset: str, representatives: bool, eproxy: bool) -> dict[str, Any]:
    """What a table's scores depend on; a resumed computation must match it."""
    base = settings.to_dict()
    base.pop("eproxy")
    return {
        "kind": TABLE_KIND,
        "space": NB201Space.name,
        "dataset": dataset,
        "representatives": representatives,
        "settings": base,
        "eproxy": settings.eproxy.to_dict() if eproxy else None,
    }


def _check_compatible(table: ArchTable, wanted: dict[str, Any], path: Path) -> None:
    have = table.extra
    if have.get("kind") != TABLE_KIND:
        raise DataError(f"{path} is not a zero-cost score table; choose another --out")
    for key in ("space", "dataset", "representatives", "settings"):
        if have.get(key) != wanted[key]:
            raise DataError(
                f"{path} holds scores computed with {key}={have.get(key)!r}, not {wanted[key]!r}; "
                "use the same settings to resume, or another --out"
            )
    if wanted["eproxy"] is not None and have.get("eproxy") not in (None, wanted["eproxy"]):
        raise DataError(f"{path} holds eproxy scores of another Eproxy config; use another --out")


def compute_scores(
    arch_strs: Sequence[str],
    proxies: Sequence[str],
    dataset: str,
    out: str | Path,
    settings: ScoreSettings | None = None,
    representatives: bool = True,
    arch_index: dict[str, int] | None = None,
    on_progress: Callable[[ComputeProgress], None] | None = None,
    save_every_s: float = SAVE_EVERY_S,
) -> ArchTable:
    """Score `arch_strs` with `proxies` into the table at `out`, computing only what is missing."""
    settings = settings or ScoreSettings()
    proxies = check_proxies(proxies)
    spec = get_dataset(dataset)
    out = Path(out)
    space = NB201Space()
    wanted = _identity(settings, spec.name, representatives, "eproxy" in proxies)
    table = load_table(out) if out.exists() else None
    if table is not None:
        _check_compatible(table, wanted, out)
        extra = dict(table.extra)
        if wanted["eproxy"] is not None:
            extra["eproxy"] = wanted["eproxy"]
        metrics = {**table.metrics, **_metrics(proxies, spec.name)}
        frame = table.frame
    else:
        extra = wanted
        metrics = _metrics(proxies, spec.name)
        frame = pd.DataFrame({ARCH_STR: pd.Series([], dtype=object), COMPUTED_ON: pd.Series([], dtype=object)})
    wanted_strs = list(dict.fromkeys(space.format(space.parse(a)) for a in arch_strs))
    existing = set(frame[ARCH_STR])
    new = [s for s in wanted_strs if s not in existing]
    if new:
        frame = pd.concat([frame, pd.DataFrame({ARCH_STR: new, COMPUTED_ON: [None] * len(new)})], ignore_index=True)
    for column in metrics:
        if column not in frame.columns:
            frame[column] = np.nan
    if arch_index:
        frame[ARCH_INDEX] = pd.array([arch_index.get(s) for s in frame[ARCH_STR]], dtype="Int64")
    frame = frame.set_index(ARCH_STR, drop=False)

    def target(arch_str: str) -> str:
        return space.format(space.canonical(space.parse(arch_str))) if representatives else arch_str

    # Which networks to score for which proxies: per class (or string), and per string for costs.
    work: dict[tuple[str, bool], set[str]] = {}
    members: dict[str, list[str]] = {}
    for arch_str in wanted_strs:
        row = frame.loc[arch_str]
        for name in proxies:
            if not math.isnan(row[name]):
                continue
            if PROXIES[name].group in PER_STRING_GROUPS:
                work.setdefault((arch_str, True), set()).add(name)
            else:
                rep = target(arch_str)
                work.setdefault((rep, False), set()).add(name)
                members.setdefault(rep, [])
                if arch_str not in members[rep]:
                    members[rep].append(arch_str)
    # Scored networks first, cheap per-string costs last.
    items = sorted(work.items(), key=lambda kv: kv[0][1])
    last_save = time.monotonic()
    current = ArchTable(f"zc-{spec.name}", frame.reset_index(drop=True), metrics, "hwnas proxies compute", 1, extra)
    try:
        for done, ((arch_str, per_string), names) in enumerate(items, start=1):
            result = score_arch(space.parse(arch_str), spec, sorted(names), settings)
            rows = [arch_str] if per_string else members[arch_str]
            for name in names:
                frame.loc[rows, name] = result.scores[name]
                frame.loc[rows, seconds_column(name)] = result.seconds[name]
            if not per_string:
                frame.loc[rows, COMPUTED_ON] = arch_str
            if on_progress is not None:
                on_progress(ComputeProgress(done, len(items), arch_str))
            if time.monotonic() - last_save > save_every_s:
                current = current.with_rows(frame)
                current.save(out)
                last_save = time.monotonic()
    finally:
        current = current.with_rows(frame)
        current.save(out)
    return current


def sample_archs(n: int, seed: int) -> list[str]:
    """`n` distinct architecture strings drawn uniformly; the same on every machine (no data needed),
    and nested: a smaller sample with the same seed is a subset of a larger one."""
    space = NB201Space()
    everything = [space.format(a) for a in space.enumerate()]
    if not 1 <= n <= len(everything):
        raise BadInputError(f"sample size {n} must be between 1 and {len(everything)}")
    picks = np.random.default_rng(seed).permutation(len(everything))[:n]
    return [everything[i] for i in sorted(picks)]


def all_archs() -> list[str]:
    space = NB201Space()
    return [space.format(a) for a in space.enumerate()]


def read_arch_file(path: str | Path) -> list[str]:
    """One architecture string per line (blank lines and # comments skipped), each validated."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read architecture file {path}: {exc}") from None
    space = NB201Space()
    out = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            out.append(space.format(space.parse(text)))
        except BadInputError as exc:
            raise BadInputError(f"{path}:{number}: {exc}") from None
    if not out:
        raise BadInputError(f"{path} lists no architectures")
    return out
