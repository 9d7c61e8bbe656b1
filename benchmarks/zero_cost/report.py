"""Zero-cost proxy benchmark report: rank agreement with NAS-Bench-201 accuracies next to ProxyBO's
Table 1, cost per architecture, and the checks behind the committed table. Reads the score
tables this folder holds (see README.md for the commands that produce them) and writes
results.md and results.json here.

    python benchmarks/zero_cost/report.py [--tables DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import numpy as np
from scipy import stats

from hwnas.atomic import atomic_write_json, atomic_write_text
from hwnas.space.nb201 import NB201Space
from hwnas.tables.catalog import Catalog
from hwnas.tables.table import ArchTable, load_table
from hwnas.zc.evaluate import rank_agreement
from hwnas.zc.table import COMPUTED_ON, sample_archs, seconds_column

HERE = Path(__file__).resolve().parent
DATASETS = {  # dataset -> the accuracy column it is judged by
    "cifar10": "c10valid_val_200",
    "cifar100": "c100_test_200",
    "ImageNet16-120": "in16_test_200",
}
# ProxyBO (Shen et al. 2023) Table 1, NAS-Bench-201: Spearman over all (top-10%) architectures.
PUBLISHED = {
    "snip": {"cifar10": (0.60, -0.36), "cifar100": (0.64, -0.09), "ImageNet16-120": (0.58, 0.13)},
    "synflow": {"cifar10": (0.72, 0.12), "cifar100": (0.71, 0.42), "ImageNet16-120": (0.70, 0.55)},
    "jacob_cov": {"cifar10": (0.74, 0.15), "cifar100": (0.76, 0.06), "ImageNet16-120": (0.75, 0.06)},
}
CHEAP = ("synflow", "snip", "grad_norm", "jacob_cov", "naswot", "params", "flops")
SAMPLE_SIZE, SAMPLE_SEED = 1000, 0
# Eproxy trains its barrier network for every architecture (~4 s of CPU each), so it is scored on the
# first EPROXY_SIZE architectures of the sample (`eproxy-archs.txt`); the cheap proxies are shown on
# the same subset next to it.
EPROXY_SIZE = 200


def sample_table(tables: Path, dataset: str, variant: str = "") -> ArchTable | None:
    path = tables / f"sample{SAMPLE_SIZE}-{dataset}{variant}.parquet"
    return load_table(path) if path.exists() else None


def scores_of(table: ArchTable, proxy: str, archs: list[str]) -> dict[str, float]:
    series = table.series(proxy)
    return {a: float(series[a]) for a in archs if a in series.index}


def seconds_per_network(table: ArchTable, proxy: str, archs: list[str]) -> dict[str, float] | None:
    frame = table.frame.set_index("arch_str").loc[archs]
    frame = frame[frame[proxy].notna()]
    if proxy not in ("params", "flops"):
        frame = frame.drop_duplicates(COMPUTED_ON)
    seconds = frame[seconds_column(proxy)].dropna()
    if seconds.empty:
        return None
    return {"median_s": float(seconds.median()), "mean_s": float(seconds.mean()), "networks": len(seconds)}


def main(tables: Path, out_dir: Path) -> None:
    catalog = Catalog()
    accuracy = catalog.get("nb201")
    archs = sample_archs(SAMPLE_SIZE, SAMPLE_SEED)
    results: dict = {"sample": {"size": SAMPLE_SIZE, "seed": SAMPLE_SEED}, "agreement": {}, "cost": {}, "checks": {}}
    for dataset, metric in DATASETS.items():
        truth = accuracy.series(metric).to_dict()
        for variant, names in (("", CHEAP), ("-eproxy", ("eproxy",)), ("-eproxy-dps", ("eproxy",))):
            table = sample_table(tables, dataset, variant)
            if table is None:
                continue
            for proxy in names:
                if proxy not in table.metrics:
                    continue
                scores = scores_of(table, proxy, archs)
                if len(scores) < SAMPLE_SIZE:
                    continue  # still being computed
                label = proxy + ("+DPS" if variant.endswith("dps") else "")
                results["agreement"].setdefault(label, {})[dataset] = rank_agreement(scores, truth).to_dict()
                results["cost"].setdefault(label, {})[dataset] = seconds_per_network(table, proxy, archs)
        subset = eproxy_subset(tables, dataset, archs[:EPROXY_SIZE], truth)
        if subset:
            results.setdefault("eproxy_subset", {})[dataset] = subset
    results["checks"] = checks(catalog, tables, archs)
    results["machine"] = {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()}
    atomic_write_json(out_dir / "results.json", results)
    atomic_write_text(out_dir / "results.md", report(results))


def eproxy_subset(tables: Path, dataset: str, archs: list[str], truth: dict[str, float]) -> dict:
    """Eproxy (default and DPS settings) and the cheap proxies on the same architectures."""
    out: dict = {}
    for variant, names in (("-eproxy", ("eproxy",)), ("-eproxy-dps", ("eproxy",)), ("", CHEAP)):
        table = sample_table(tables, dataset, variant)
        if table is None:
            continue
        for proxy in names:
            scores = scores_of(table, proxy, archs) if proxy in table.metrics else {}
            if len(scores) < len(archs):
                continue
            label = proxy + ("+DPS" if variant.endswith("dps") else "")
            out[label] = {
                "agreement": rank_agreement(scores, truth).to_dict(),
                "cost": seconds_per_network(table, proxy, archs),
            }
    return out if any(k.startswith("eproxy") for k in out) else {}


def checks(catalog: Catalog, tables: Path, archs: list[str]) -> dict:
    """Evidence for the shortcuts the committed tables take."""
    out: dict = {}
    accuracy = catalog.get("nb201")
    full_path = tables / "zc-cifar10.parquet"
    per_string = sample_table(tables, "cifar10")
    if full_path.exists():
        full = load_table(full_path)
        truth = accuracy.series("c10valid_val_200").to_dict()
        complete = {p: scores_of(full, p, list(truth)) for p in CHEAP if p in full.metrics}
        out["full_table_agreement"] = {
            p: rank_agreement(s, truth).to_dict() for p, s in complete.items() if len(s) == len(truth)
        }
        if per_string is not None:
            out["representatives"] = representative_check(full, per_string, archs, truth)
    c10, c100 = sample_table(tables, "cifar10"), sample_table(tables, "cifar100")
    if c10 is not None and c100 is not None:
        truth = accuracy.series("c100_test_200").to_dict()
        out["cifar10_networks_for_cifar100"] = {
            p: {
                "cifar10_networks": rank_agreement(scores_of(c10, p, archs), truth).spearman,
                "cifar100_networks": rank_agreement(scores_of(c100, p, archs), truth).spearman,
            }
            for p in ("synflow", "snip", "jacob_cov", "naswot")
            if len(scores_of(c10, p, archs)) == len(scores_of(c100, p, archs)) == SAMPLE_SIZE
        }
    return out


def representative_check(full: ArchTable, per_string: ArchTable, archs: list[str], truth: dict[str, float]) -> dict:
    """Scoring each isomorphism class once (its representative) vs every string's own network:
    how well the two agree per architecture, and whether the accuracy correlation moves."""
    space = NB201Space()
    members = [a for a in archs if space.format(space.canonical(space.parse(a))) != a]
    out: dict = {"non_representatives_in_sample": len(members)}
    for proxy in ("synflow", "snip", "grad_norm", "jacob_cov", "naswot"):
        own = scores_of(per_string, proxy, archs)
        mapped = scores_of(full, proxy, archs)
        if len(own) < len(archs) or len(mapped) < len(archs):
            continue
        a = np.asarray([own[x] for x in members])
        b = np.asarray([mapped[x] for x in members])
        out[proxy] = {
            "members_spearman_own_vs_mapped": float(stats.spearmanr(a, b).statistic),
            "spearman_own": rank_agreement(own, truth).spearman,
            "spearman_mapped": rank_agreement(mapped, truth).spearman,
        }
    return out


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report(results: dict) -> str:
    agreement = results["agreement"]
    datasets = list(DATASETS)
    lines = [
        "# Zero-cost proxies on NAS-Bench-201: rank agreement and cost",
        "",
        f"Written by `python benchmarks/zero_cost/report.py`. Fixed sample of {SAMPLE_SIZE:,} architectures "
        f"(`sample_archs({SAMPLE_SIZE}, {SAMPLE_SEED})`), every string scored on its own network built for each "
        "dataset (input shape, classes), weights from seed 0, one batch of 64 crops of scikit-learn's sample "
        "photos. Accuracy columns: cifar10 `c10valid_val_200`, cifar100 `c100_test_200`, ImageNet16-120 "
        "`in16_test_200`. Zero-cost scores are estimates of accuracy, never accuracies.",
        "",
        "## Spearman rho (all architectures / within the true top 10%), next to ProxyBO Table 1",
        "",
        "| proxy | " + " | ".join(f"{d} ours | {d} ProxyBO" for d in datasets) + " |",
        "|---|" + "---|---|" * len(datasets),
    ]
    for proxy, per_dataset in agreement.items():
        cells = []
        for d in datasets:
            r = per_dataset.get(d)
            ours = f"{fmt(r['spearman'])} ({fmt(r['spearman_top10'])})" if r else "-"
            pub = PUBLISHED.get(proxy, {}).get(d)
            cells += [ours, f"{pub[0]:.2f} ({pub[1]:.2f})" if pub else ""]
        lines.append(f"| {proxy} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Kendall tau and top-10% retrieval (share of the true top 10% that the proxy ranks in its top 10%)",
        "",
        "| proxy | " + " | ".join(f"{d} tau | {d} top-10%" for d in datasets) + " |",
        "|---|" + "---|---|" * len(datasets),
    ]
    for proxy, per_dataset in agreement.items():
        cells = []
        for d in datasets:
            r = per_dataset.get(d)
            cells += [fmt(r["kendall"]) if r else "-", fmt(r["top10_retrieval"]) if r else "-"]
        lines.append(f"| {proxy} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Cost per network on this machine (seconds, median / mean, 1 torch thread)",
        "",
        "Shared passes are charged to each proxy they produce (snip, grad_norm, jacob_cov and naswot come out "
        "of one forward pass). Measured on a shared 2-core machine while other jobs ran; unloaded timings "
        "are about 2-3x lower.",
        "",
        "| proxy | " + " | ".join(datasets) + " |",
        "|---|" + "---|" * len(datasets),
    ]
    for proxy, per_dataset in results["cost"].items():
        cells = []
        for d in datasets:
            c = per_dataset.get(d)
            cells.append(f"{c['median_s']:.3f} / {c['mean_s']:.3f}" if c else "-")
        lines.append(f"| {proxy} | " + " | ".join(cells) + " |")
    for dataset, subset in results.get("eproxy_subset", {}).items():
        lines += [
            "",
            f"## Eproxy with and without DPS ({dataset}, the first {EPROXY_SIZE} architectures of the sample)",
            "",
            "Eproxy trains a frozen-barrier network for a few steps per architecture, so it is scored on a subset; "
            "DPS searched the Eproxy settings on 20 other architectures (`dps-archs.txt`, `dps-cifar10.json`). "
            "The cheap proxies on the same subset for reference.",
            "",
            "| proxy | Spearman | Kendall tau | top-10% retrieval | seconds per network (median) |",
            "|---|---|---|---|---|",
        ]
        for proxy, r in subset.items():
            a, c = r["agreement"], r["cost"]
            lines.append(
                f"| {proxy} | {fmt(a['spearman'])} | {fmt(a['kendall'])} | {fmt(a['top10_retrieval'])} | "
                f"{fmt(c['median_s'], 3) if c else '-'} |"
            )
    checks = results["checks"]
    if "full_table_agreement" in checks:
        lines += [
            "",
            "## The committed cifar10 table (`zc-cifar10.parquet`, all 15,625 architectures)",
            "",
            "Scored once per isomorphism class (6,466 networks) and mapped to every member; `params`/`flops` "
            "per string. Against `c10valid_val_200` over all 15,625:",
            "",
            "| proxy | Spearman | Kendall tau | top-10% retrieval |",
            "|---|---|---|---|",
        ]
        for proxy, r in checks["full_table_agreement"].items():
            lines.append(f"| {proxy} | {fmt(r['spearman'])} | {fmt(r['kendall'])} | {fmt(r['top10_retrieval'])} |")
    if "representatives" in checks:
        rep = checks["representatives"]
        lines += [
            "",
            "### Does scoring one network per isomorphism class change anything?",
            "",
            f"On the {SAMPLE_SIZE:,}-architecture sample ({rep['non_representatives_in_sample']} strings are not "
            "their class representative): per-string scores vs the representative's, and each version's "
            "Spearman with `c10valid_val_200`.",
            "",
            "| proxy | Spearman(own, representative's) over non-representatives | Spearman own | Spearman mapped |",
            "|---|---|---|---|",
        ]
        for proxy, r in rep.items():
            if isinstance(r, dict):
                lines.append(
                    f"| {proxy} | {fmt(r['members_spearman_own_vs_mapped'], 3)} | {fmt(r['spearman_own'], 3)} | "
                    f"{fmt(r['spearman_mapped'], 3)} |"
                )
    if checks.get("cifar10_networks_for_cifar100"):
        lines += [
            "",
            "### cifar10 networks' scores for cifar100 searches",
            "",
            "ProxyBO falls back to the cifar10 table when a dataset has none (the cells are the same; only the "
            "classifier width differs). Spearman with `c100_test_200` on the sample:",
            "",
            "| proxy | cifar10 networks | cifar100 networks |",
            "|---|---|---|",
        ]
        for proxy, r in checks["cifar10_networks_for_cifar100"].items():
            lines.append(f"| {proxy} | {fmt(r['cifar10_networks'], 3)} | {fmt(r['cifar100_networks'], 3)} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Zero-cost proxy benchmark report")
    parser.add_argument("--tables", type=Path, default=HERE, help="folder with the score tables")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for results.md and results.json")
    args = parser.parse_args()
    main(args.tables, args.out)
    print(f"wrote {args.out / 'results.md'}")
