"""Benchmark tables and plots: `runs.csv` (one row per run), `summary.md`, one PNG per setting."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.atomic import atomic_write, atomic_write_text
from hwnas.bench.suite import SUITE_SETTINGS
from hwnas.errors import DataError

RUNS_CSV = "runs.csv"
SUMMARY_MD = "summary.md"
PLOTS_DIR = "plots"
ROW_KEY = ("setting", "label", "seed", "queries")
_SETTING_ORDER = {s.id: i for i, s in enumerate(SUITE_SETTINGS)}


def row_key(row: dict[str, Any]) -> tuple[str, str, int, int]:
    return (str(row["setting"]), str(row["label"]), int(row["seed"]), int(row["queries"]))


def read_rows(path: Path) -> dict[tuple, dict[str, Any]]:
    """Rows of an existing `runs.csv` keyed by (setting, label, seed, queries); {} when absent."""
    if not path.is_file():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
        missing = [c for c in ROW_KEY if records and c not in records[0]]
        if missing:
            raise DataError(f"{path} lacks column(s) {', '.join(missing)}; move it aside to rebuild it")
        return {row_key(r): r for r in records}
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        raise DataError(f"{path} is not a readable runs table ({exc}); move it aside to rebuild it") from None


def _sort_key(key: tuple) -> tuple:
    setting, label, seed, queries = key
    return (_SETTING_ORDER.get(setting, len(_SETTING_ORDER)), setting, label, queries, seed)


def write_rows(path: Path, rows: dict[tuple, dict[str, Any]]) -> None:
    ordered = [rows[k] for k in sorted(rows, key=_sort_key)]
    columns: list[str] = []
    for row in ordered:
        columns.extend(c for c in row if c not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in ordered:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    atomic_write_text(path, buffer.getvalue())


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def _num(value: Any) -> float:
    if value is None or value == "":
        return math.nan
    if value in ("True", "False"):
        return float(value == "True")
    return float(value)


def aggregate(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (setting, searcher label, queries): mean ± std best feasible accuracy, regret, hit rate,
    queries to the optimum (over the seeds that reached it), searcher overhead per query."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((str(row["setting"]), str(row["label"]), int(row["queries"])), []).append(row)
    out = []
    for (setting, label, queries), group in sorted(groups.items(), key=lambda kv: _sort_key((*kv[0][:2], 0, kv[0][2]))):
        best = np.array([_num(r["best_accuracy"]) for r in group])
        hits = np.array([_num(r["hit_optimum"]) for r in group])
        reached = [_num(r["queries_to_optimum"]) for r in group if _num(r["hit_optimum"]) == 1.0]
        found = best[~np.isnan(best)]
        out.append(
            {
                "setting": setting,
                "label": label,
                "queries": queries,
                "runs": len(group),
                "seeds_with_feasible": len(found),
                "best_accuracy_mean": float(found.mean()) if len(found) else None,
                "best_accuracy_std": float(found.std(ddof=0)) if len(found) else None,
                "optimum_accuracy": _num(group[0]["optimum_accuracy"]),
                "regret_mean": _nanmean([_num(r["regret"]) for r in group]),
                "hit_rate": float(np.nanmean(hits)) if not np.isnan(hits).all() else None,
                "queries_to_optimum_mean": float(np.mean(reached)) if reached else None,
                "searcher_ms_per_query": _nanmean([1000 * _num(r["searcher_time_per_query_s"]) for r in group]),
                "derived": any(str(r.get("derived_from", "")) not in ("", "nan") for r in group),
            }
        )
    return out


def _nanmean(values: list[float]) -> float | None:
    arr = np.array(values, dtype=float)
    return None if np.isnan(arr).all() else float(np.nanmean(arr))


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def summary_markdown(suite: str, rows: dict[tuple, dict[str, Any]]) -> str:
    stats = aggregate(rows.values())
    labels = sorted({s["label"] for s in stats})
    budgets = sorted({s["queries"] for s in stats})
    settings = sorted({s["setting"] for s in stats}, key=lambda s: (_SETTING_ORDER.get(s, 99), s))
    by = {(s["setting"], s["label"], s["queries"]): s for s in stats}
    seeds = sorted({int(r["seed"]) for r in rows.values()})
    lines = [
        f"# Benchmark suite `{suite}`",
        "",
        f"{len(rows)} runs: {len(settings)} settings x {len(labels)} searchers x seeds "
        f"{_ranges(seeds)} x query budgets {', '.join(map(str, budgets))}. Written by `hwnas bench`; "
        "one row per run in `runs.csv`, best-feasible-so-far curves in `plots/`.",
        "",
        "Settings are METHOD.md §8: HW-NAS-Bench cifar10 latency tables (search on `nb201:c10valid_val_200`) "
        "and HW-NAS-Bench-360 cifar100 tables (search on `nb201:c100_test_200`). Accuracy is the best "
        "*feasible* (within budget) accuracy found; the optimum is the best feasible architecture of the "
        "whole table; every over-budget query counts.",
    ]
    derived = sorted({str(r["label"]) for r in rows.values() if str(r.get("derived_from", "")) not in ("", "nan")})
    if derived:
        lines += [
            "",
            f"Rows of {', '.join(derived)} with fewer queries than their longest run are that run's first k "
            "queries, not separate runs: these searchers' first k proposals do not depend on the query budget "
            "(`tests/test_search_runner.py::test_first_queries_do_not_depend_on_the_query_budget`).",
        ]
    tables = (
        ("Best feasible accuracy, mean ± std over seeds (%)", _acc_cell, True),
        ("Regret to the constrained optimum, mean (points)", lambda s: _fmt(s["regret_mean"], 3), False),
        ("Optimum hit rate (share of seeds)", lambda s: _fmt(s["hit_rate"], 1), False),
        ("Queries to reach the optimum, mean over the seeds that did", _reach_cell, False),
    )
    for queries in budgets:
        for title, cell, with_optimum in tables:
            lines += ["", f"## {title} — {queries} queries", ""]
            head = ["setting", *(["optimum"] if with_optimum else []), *labels]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for setting in settings:
                cells = [by.get((setting, lab, queries)) for lab in labels]
                present = [c for c in cells if c is not None]
                if not present:
                    continue
                optimum = [_fmt(present[0]["optimum_accuracy"])] if with_optimum else []
                lines.append("| " + " | ".join([setting, *optimum, *(cell(c) if c else "" for c in cells)]) + " |")
            lines.append("| " + " | ".join(_mean_row(stats, labels, queries, title, with_optimum)) + " |")
    lines += [
        "",
        "## Searcher overhead per query (ms, mean over all runs)",
        "",
        "| searcher | ms per query |",
        "|---|---|",
    ]
    for label in labels:
        ms = _nanmean([s["searcher_ms_per_query"] or math.nan for s in stats if s["label"] == label])
        lines.append(f"| {label} | {_fmt(ms, 3)} |")
    return "\n".join(lines) + "\n"


def _acc_cell(s: dict[str, Any]) -> str:
    text = f"{_fmt(s['best_accuracy_mean'])} ± {_fmt(s['best_accuracy_std'])}"
    if s["seeds_with_feasible"] < s["runs"]:
        text += f" ({s['runs'] - s['seeds_with_feasible']} seeds found none)"
    return text


def _reach_cell(s: dict[str, Any]) -> str:
    hits = round((s["hit_rate"] or 0) * s["runs"])
    return f"{_fmt(s['queries_to_optimum_mean'], 1)} ({hits}/{s['runs']})" if hits else f"- (0/{s['runs']})"


def _mean_row(stats: list[dict[str, Any]], labels: list[str], queries: int, title: str, with_optimum: bool) -> list:
    key = {
        "Best": "best_accuracy_mean",
        "Regret": "regret_mean",
        "Optimum": "hit_rate",
        "Queries": "queries_to_optimum_mean",
    }[title.split()[0]]
    cells = ["**mean over settings**", *([""] if with_optimum else [])]
    for label in labels:
        values = [s[key] for s in stats if s["label"] == label and s["queries"] == queries and s[key] is not None]
        cells.append(_fmt(float(np.mean(values)) if values else None, 3 if key == "regret_mean" else 2))
    return cells


def _ranges(values: list[int]) -> str:
    if values and values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}-{values[-1]}"
    return ",".join(map(str, values))


def parse_curve(text: str, queries: int) -> np.ndarray:
    """Best feasible accuracy after each of `queries` queries (NaN before the first feasible)."""
    out = np.full(queries, np.nan)
    for pair in str(text).split():
        q, acc = pair.split(":")
        out[int(q) - 1 :] = float(acc)
    return out


def plot_settings(rows: dict[tuple, dict[str, Any]], folder: Path) -> list[Path]:
    """One PNG per setting: mean best-feasible-so-far accuracy of each searcher vs queries."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    by_setting: dict[str, list[dict[str, Any]]] = {}
    for row in rows.values():
        by_setting.setdefault(str(row["setting"]), []).append(row)
    paths = []
    for setting, group in sorted(by_setting.items()):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        optimum = _num(group[0]["optimum_accuracy"])
        lowest = []
        for label in sorted({str(r["label"]) for r in group}):
            runs = [r for r in group if r["label"] == label]
            longest = max(int(r["queries"]) for r in runs)
            curves = np.array([parse_curve(r["curve"], longest) for r in runs if int(r["queries"]) == longest])
            complete = ~np.isnan(curves).any(axis=0)  # draw from the query where every seed has a feasible
            if not complete.any():
                continue
            start = int(np.argmax(complete))
            mean = curves[:, start:].mean(axis=0)
            ax.plot(np.arange(start + 1, longest + 1), mean, label=f"{label} ({len(curves)} seeds)")
            lowest.append(float(np.percentile(mean, 5)))
        if not math.isnan(optimum):
            ax.axhline(optimum, color="black", linestyle="--", linewidth=1, label=f"optimum {optimum:.2f}")
            if lowest:
                ax.set_ylim(max(min(lowest), optimum - 8) - 0.2, optimum + 0.3)
        first = group[0]
        ax.set_title(f"{first['device']} / {first['dataset']}, budget {_num(first['budget_ms']):g} ms")
        ax.set_xlabel("queries")
        ax.set_ylabel("best feasible accuracy so far (%, mean over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        path = folder / f"{setting}.png"
        atomic_write(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=110))
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(root: Path, suite: str, rows: dict[tuple, dict[str, Any]]) -> list[Path]:
    """`runs.csv`, `summary.md` and the plots under `root` (all rewritten atomically)."""
    write_rows(root / RUNS_CSV, rows)
    atomic_write_text(root / SUMMARY_MD, summary_markdown(suite, rows))
    return [root / RUNS_CSV, root / SUMMARY_MD, *plot_settings(rows, root / PLOTS_DIR)]
