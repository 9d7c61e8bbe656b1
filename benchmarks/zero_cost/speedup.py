"""Speed-up over regularized evolution, as ProxyBO's Table 3 measures it, from a suite's runs.csv:

    python benchmarks/zero_cost/speedup.py [--suite main] [--searchers proxybo,optiproxy]

speed-up = (queries REA needs for its own mean best feasible accuracy at 200 queries) / (queries
the searcher needs until its mean over seeds first reaches that value). REA's side is at most
200 (the first query where REA's own mean curve reaches its 200-query mean). Writes speedup.md
and speedup.json next to this file.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

from hwnas.atomic import atomic_write_json, atomic_write_text
from hwnas.bench.report import RUNS_CSV, parse_curve, read_rows

HERE = Path(__file__).resolve().parent
QUERIES = 200
BASELINE = "rea"


def mean_curves(rows: dict, queries: int) -> dict[tuple[str, str], np.ndarray]:
    """(setting, label) -> mean over seeds of the best feasible accuracy after each query
    (NaN while some seed has found nothing feasible yet)."""
    curves: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)
    for row in rows.values():
        if int(row["queries"]) == queries and row["status"] in ("finished", "exhausted"):
            curves[(row["setting"], row["label"])].append(parse_curve(row["curve"], queries))
    return {key: np.mean(np.stack(c), axis=0) for key, c in curves.items()}


def first_reaching(curve: np.ndarray, target: float) -> int | None:
    hits = np.flatnonzero(curve >= target - 1e-9)
    return int(hits[0]) + 1 if len(hits) else None


def speedups(rows: dict, searchers: list[str], queries: int = QUERIES) -> dict:
    curves = mean_curves(rows, queries)
    settings = sorted({s for s, label in curves if label == BASELINE})
    out: dict = {}
    for setting in settings:
        target = float(curves[(setting, BASELINE)][-1])
        rea_needs = first_reaching(curves[(setting, BASELINE)], target)
        entry = {"rea_mean_at_200": target, "rea_queries": rea_needs, "searchers": {}}
        for searcher in searchers:
            curve = curves.get((setting, searcher))
            if curve is None:
                continue
            needs = first_reaching(curve, target)
            entry["searchers"][searcher] = {
                "queries": needs,
                "speedup": rea_needs / needs if needs else None,
                "mean_at_200": float(curve[-1]),
            }
        out[setting] = entry
    return out


def summarize(table: dict, searchers: list[str]) -> dict:
    out = {}
    for searcher in searchers:
        values = [e["searchers"][searcher] for e in table.values() if searcher in e["searchers"]]
        reached = [v["speedup"] for v in values if v["speedup"] is not None]
        out[searcher] = {
            "settings": len(values),
            "reached": len(reached),
            "median_speedup": statistics.median(reached) if reached else None,
            "geomean_speedup": float(np.exp(np.mean(np.log(reached)))) if reached else None,
            "min_speedup": min(reached) if reached else None,
            "max_speedup": max(reached) if reached else None,
        }
    return out


def report(suite: str, table: dict, summary: dict, searchers: list[str]) -> str:
    lines = [
        f"# Speed-up over REA (suite `{suite}`)",
        "",
        "Written by `python benchmarks/zero_cost/speedup.py`. As ProxyBO's Table 3: queries REA needs to reach its "
        "own 200-query mean best feasible accuracy, divided by the queries a searcher needs until its mean over "
        "seeds reaches the same value ('-' = not reached within 200). ProxyBO reports 2.67x-5.41x on "
        "NAS-Bench-201 (unconstrained; CIFAR-10 75, CIFAR-100 37, ImageNet16-120 46 queries vs REA's 200).",
        "",
        "| setting | REA mean@200 | REA queries | "
        + " | ".join(f"{s} queries | {s} speed-up" for s in searchers)
        + " |",
        "|---|---|---|" + "---|---|" * len(searchers),
    ]
    for setting, entry in table.items():
        cells = []
        for s in searchers:
            v = entry["searchers"].get(s)
            if v is None:
                cells += ["", ""]
            else:
                cells += [str(v["queries"] or "-"), f"{v['speedup']:.2f}x" if v["speedup"] else "-"]
        lines.append(
            f"| {setting} | {entry['rea_mean_at_200']:.2f} | {entry['rea_queries']} | " + " | ".join(cells) + " |"
        )
    lines += ["", "| searcher | settings reached | median | geometric mean | range |", "|---|---|---|---|---|"]
    for s, v in summary.items():
        if v["reached"]:
            lines.append(
                f"| {s} | {v['reached']} of {v['settings']} | {v['median_speedup']:.2f}x | {v['geomean_speedup']:.2f}x "
                f"| {v['min_speedup']:.2f}x-{v['max_speedup']:.2f}x |"
            )
        else:
            lines.append(f"| {s} | 0 of {v['settings']} | - | - | - |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="main")
    parser.add_argument("--root", type=Path, default=HERE.parent / "results")
    parser.add_argument("--searchers", default="proxybo,optiproxy")
    args = parser.parse_args()
    searchers = [s.strip() for s in args.searchers.split(",") if s.strip()]
    rows = read_rows(args.root / args.suite / RUNS_CSV)
    table = speedups(rows, searchers)
    summary = summarize(table, searchers)
    atomic_write_json(HERE / "speedup.json", {"suite": args.suite, "settings": table, "summary": summary})
    atomic_write_text(HERE / "speedup.md", report(args.suite, table, summary, searchers))
    print(report(args.suite, table, summary, searchers))


if __name__ == "__main__":
    main()
