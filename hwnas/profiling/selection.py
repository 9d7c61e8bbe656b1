"""Which architectures a profiling run measures: all, isomorphism representatives, a sample, a list."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwnas.errors import ArchParseError, BadInputError
from hwnas.space.nb201 import NB201Space


def read_arch_list(items: list[str]) -> list[str]:
    """Architecture strings given directly or as `@file` (one per line, `#` comments)."""
    out: list[str] = []
    for item in items:
        if item.startswith("@"):
            path = Path(item[1:])
            if not path.is_file():
                raise BadInputError(f"architecture list {path} not found")
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError as exc:
                raise BadInputError(
                    f"architecture list {path} is not UTF-8 text (byte {exc.start}); give one arch string per line"
                ) from None
            out.extend(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
        else:
            out.append(item)
    return out


def select_archs(
    space: NB201Space,
    representatives: bool = False,
    sample: int | None = None,
    seed: int = 0,
    archs: list[str] | None = None,
) -> list[str]:
    """Architecture strings to measure, in a seeded random order.

    `archs` (strings or `@file`) restricts the pool, else every architecture; `representatives`
    replaces each by its isomorphism representative (6,466 cover all 15,625 NB201 cells);
    `sample` draws that many without replacement. The order is shuffled with `seed` so that a
    partial table is a uniform sample and slow drifts in machine load do not follow structure.
    """
    if archs:
        pool = []
        for text in read_arch_list(archs):
            try:
                pool.append(space.parse(text))
            except ArchParseError as exc:
                raise BadInputError(f"bad architecture in list: {exc}") from None
    else:
        pool = list(space.enumerate())
    if representatives:
        pool = [space.canonical(a) for a in pool]
    strings = list(dict.fromkeys(space.format(a) for a in pool))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(strings))
    strings = [strings[i] for i in order]
    if sample is not None:
        if sample < 1:
            raise BadInputError(f"--sample must be at least 1, got {sample}")
        strings = strings[:sample]
    return strings
