"""Turn the profiling benchmark outputs into results.md, CSV summaries and plots.

    python benchmarks/profiling/report.py

Reads `tables/*` (written by measure.py) and `predictor*.csv` (written by predictor.py).
Measurement conditions come from each run's `.run.json` (scheduler, CPU pinning, load).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from hwnas.atomic import atomic_write_text

HERE = Path(__file__).resolve().parent
TABLES = HERE / "tables"
# label -> (what it is, how it ran)
CONDITIONS = {
    "shared": "1 sweep per pass; pinned to CPU 1, normal priority, machine shared with other jobs",
    "isolated": "1 sweep per pass; pinned to CPU 1, SCHED_FIFO real-time priority above the other jobs",
    "sweeps": "median of 3 sweeps per pass (each in its own order); pinned to CPU 1, SCHED_FIFO",
    "idle": "1 sweep per pass; not pinned, normal priority, nothing else running on the machine",
}
TARGET_SPEARMAN, TARGET_CV = 0.98, 0.03


def run_info(name: str) -> dict:
    return json.loads((TABLES / f"{name}.run.json").read_text())


def pass_frame(label: str, pass_name: str) -> tuple[pd.DataFrame, list[dict]] | None:
    """Per-arch median latency of a pass (median over its sweeps) and the sweeps' run records."""
    single = TABLES / f"{label}-{pass_name}.parquet"
    paths = [single] if single.exists() else sorted(TABLES.glob(f"{label}-{pass_name}[0-9].parquet"))
    if not paths:
        return None
    frames = [pd.read_parquet(p).set_index("arch_str") for p in paths]
    latency = pd.concat([f["latency_ms"] for f in frames], axis=1).median(axis=1)
    cv = pd.concat([f["cv"] for f in frames], axis=1)
    load = pd.concat([f["load_1m"] for f in frames])
    out = pd.DataFrame({"latency_ms": latency, "cv_median": cv.median(axis=1)})
    out.attrs["load"] = (float(load.min()), float(load.max()))
    out.attrs["sweeps"] = len(frames)
    out.attrs["all_cv"] = cv.to_numpy().ravel()
    return out, [run_info(p.stem) for p in paths]


def stability() -> tuple[list[dict], dict[str, pd.DataFrame]]:
    rows, pairs = [], {}
    for label, how in CONDITIONS.items():
        a, b = pass_frame(label, "a"), pass_frame(label, "b")
        if a is None or b is None:
            continue
        (fa, runs_a), (fb, runs_b) = a, b
        fb = fb.loc[fa.index]
        ratio = fb["latency_ms"] / fa["latency_ms"]
        runs = runs_a + runs_b
        rows.append({
            "condition": label, "how": how, "archs": len(fa), "sweeps_per_pass": fa.attrs["sweeps"],
            "spearman": stats.spearmanr(fa["latency_ms"], fb["latency_ms"]).statistic,
            "median_cv": float(np.median(np.concatenate([fa.attrs["all_cv"], fb.attrs["all_cv"]]))),
            "median_abs_diff": float(np.median(np.abs(ratio - 1))),
            "within_5": float(np.mean(np.abs(ratio - 1) <= 0.05)),
            "within_10": float(np.mean(np.abs(ratio - 1) <= 0.10)),
            "noisy_rows": sum(r["noisy"] for r in runs),
            "load_1m_min": min(fa.attrs["load"][0], fb.attrs["load"][0]),
            "load_1m_max": max(fa.attrs["load"][1], fb.attrs["load"][1]),
            "scheduler": "/".join(sorted({r.get("scheduler", "other") for r in runs})),
            "archs_per_hour": float(np.mean([r["archs_per_hour"] for r in runs])),
        })  # fmt: skip
        pairs[label] = pd.DataFrame({"a_ms": fa["latency_ms"], "b_ms": fb["latency_ms"]})
    return rows, pairs


def throughput(stab: list[dict]) -> list[dict]:
    rows = []
    for row in stab:
        load = f"{row['load_1m_min']:.1f}-{row['load_1m_max']:.1f}"
        rows.append({"setup": f"ORT, 1 process, 1 thread ({row['condition']})", "workers": 1,
                     "archs_per_hour": row["archs_per_hour"], "load_1m": load, "per_worker": "-"})  # fmt: skip
    for servers in (1, 2):
        path = TABLES / f"rpc-{servers}.run.json"
        if path.exists():
            r = json.loads(path.read_text())
            rows.append({
                "setup": f"TVM RPC, {servers} loopback server(s), untuned llvm, {r['measured']} archs",
                "workers": servers, "archs_per_hour": r["archs_per_hour"],
                "load_1m": f"{r['load_1m_before']:.1f}-{r['load_1m_after']:.1f}",
                "per_worker": json.dumps(r["per_worker"]),
            })  # fmt: skip
    return rows


def predictor_tables() -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    path, curve = HERE / "predictor.csv", HERE / "predictor_curve.csv"
    if not path.exists():
        return None, None
    frame = pd.read_csv(path)
    summary = (
        frame.groupby(["device", "dataset", "model"], sort=False)
        .agg(
            networks=("networks", "first"),
            seeds=("seed", "count"),
            within_10=("within_10", "mean"),
            within_10_min=("within_10", "min"),
            rmse_ms=("rmse_ms", "mean"),
            spearman=("spearman", "mean"),
            chosen=("chosen", lambda c: "/".join(sorted(set(c)))),
            fit_s=("fit_seconds", "mean"),
        )
        .reset_index()
    )
    return summary, pd.read_csv(curve) if curve.exists() else None


def plots(pairs: dict[str, pd.DataFrame], curve: pd.DataFrame | None) -> list[str]:
    made = []
    if pairs:
        fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 4), squeeze=False)
        for ax, (label, pair) in zip(axes[0], pairs.items(), strict=True):
            ax.loglog(pair["a_ms"], pair["b_ms"], ".", ms=4)
            lo, hi = pair.min().min(), pair.max().max()
            ax.plot([lo, hi], [lo, hi], "k-", lw=0.5)
            rho = stats.spearmanr(pair["a_ms"], pair["b_ms"]).statistic
            ax.set(title=f"{label}: Spearman {rho:.3f}", xlabel="pass A latency (ms)", ylabel="pass B latency (ms)")
        fig.tight_layout()
        fig.savefig(HERE / "stability.png", dpi=110)
        plt.close(fig)
        made.append("stability.png")
    if curve is not None and len(curve):
        fig, ax = plt.subplots(figsize=(6, 4))
        for device, part in curve.groupby("device", sort=False):
            ax.plot(part["train_size"], part["within_10"], "o-", label=device)
        ax.axhline(0.95, color="k", lw=0.5, ls="--")
        ax.set(xscale="log", xlabel="training networks", ylabel="share within +-10% (held out)",
               title=f"Learning curve ({curve['model'].iloc[0]} model)")  # fmt: skip
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(HERE / "predictor_curve.png", dpi=110)
        plt.close(fig)
        made.append("predictor_curve.png")
    return made


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    return frame.to_markdown(index=False, floatfmt=f".{digits}f")


def main() -> None:
    stab, pairs = stability()
    thr = throughput(stab)
    summary, curve = predictor_tables()
    pd.DataFrame(stab).to_csv(HERE / "stability.csv", index=False, float_format="%.5g")
    pd.DataFrame(thr).to_csv(HERE / "throughput.csv", index=False, float_format="%.5g")
    if summary is not None:
        summary.to_csv(HERE / "predictor_summary.csv", index=False, float_format="%.5g")
    images = plots(pairs, curve)
    parts = ["# Profiling benchmarks (generated by report.py; commentary in README.md)\n"]
    if stab:
        cols = ["condition", "archs", "sweeps_per_pass", "spearman", "median_cv", "median_abs_diff", "within_5",
                "within_10", "noisy_rows", "load_1m_min", "load_1m_max", "scheduler"]  # fmt: skip
        parts += ["## (a) Stability: two passes over 200 representatives, ORT 1 thread\n",
                  f"Targets: Spearman >= {TARGET_SPEARMAN}, median CV <= {TARGET_CV:.0%}.\n",
                  markdown_table(pd.DataFrame(stab)[cols], 4), "",
                  *[f"- `{k}`: {v}" for k, v in CONDITIONS.items() if k in pairs], ""]  # fmt: skip
    if thr:
        parts += ["## (b) Throughput (export + measurement, per hour)\n", markdown_table(pd.DataFrame(thr), 0), ""]
    if summary is not None:
        parts += ["## (c) Predictor: 500 training networks, the rest held out\n",
                  "Mean over seeds (`within_10_min`: worst seed). `networks`: distinct measured networks of "
                  "the table (tables that copy a representative's value to its members are reduced to "
                  "representatives).\n",
                  markdown_table(summary, 3), ""]  # fmt: skip
    twins = HERE / "predictor_twins.csv"
    if twins.exists():
        parts += ["### Measurement ceiling: exact twins (`predictor.py --twins-only`)\n",
                  "Strings that run the same computation (isomorphic and the same ops on their six edges); "
                  "the share within +-10% of their twins' median is about the best any predictor can do.\n",
                  markdown_table(pd.read_csv(twins), 4), ""]  # fmt: skip
    if curve is not None:
        parts += ["### Learning curve (seed 0)\n", markdown_table(curve[["device", "train_size", "model", "n",
                  "within_10", "rmse_ms", "spearman"]], 3), ""]  # fmt: skip
    parts += [f"![{name}]({name})" for name in images]
    atomic_write_text(HERE / "results.md", "\n".join(parts) + "\n")
    print((HERE / "results.md").read_text())


if __name__ == "__main__":
    main()
