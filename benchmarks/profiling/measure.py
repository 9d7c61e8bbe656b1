"""Profiling benchmarks that measure: stability of two ORT passes, throughput on ORT and RPC farms.

Run every measuring step on an otherwise idle machine (no other CPU-bound job), one step
per quiet window:

    python benchmarks/profiling/measure.py stability a      # pass A over the 200-arch sample
    python benchmarks/profiling/measure.py stability b      # pass B, same archs, another order
    python benchmarks/profiling/measure.py rpc 1 --archs 16 # loopback TVM RPC farm, one server
    python benchmarks/profiling/measure.py rpc 2 --archs 16 # ... two servers
    python benchmarks/profiling/report.py                   # results.md / .csv / .png

Each step writes its table under `benchmarks/profiling/tables/` (resumable like any
`hwnas profile` run) and a JSON record of the run (archs per hour, load) beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from hwnas.atomic import atomic_write_text
from hwnas.devices.registry import DeviceRegistry, parse_device
from hwnas.profiling.farm import loopback_farm
from hwnas.profiling.machine import affinity, load_1m
from hwnas.profiling.profile import profile_device
from hwnas.profiling.selection import select_archs
from hwnas.space.nb201 import NB201Space

HERE = Path(__file__).resolve().parent
TABLES = HERE / "tables"
SAMPLE_SEED = 0  # which 200 representatives
PASS_SEEDS = {"a": 1, "b": 2}  # the order each pass measures them in


def sample(n: int) -> list[str]:
    return select_archs(NB201Space(), representatives=True, sample=n, seed=SAMPLE_SEED)


def record(name: str, result: dict, load_before: float, extra: dict) -> None:
    policy = {os.SCHED_OTHER: "other", os.SCHED_FIFO: "fifo", os.SCHED_RR: "rr"}.get(os.sched_getscheduler(0), "?")
    info = {
        **result,
        "load_1m_before": load_before,
        "load_1m_after": load_1m(),
        "cpu_affinity": affinity(),
        "scheduler": policy,
        "nice": os.nice(0),
        **extra,
    }
    atomic_write_text(TABLES / f"{name}.run.json", json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))


def stability(pass_name: str, n: int, label: str, rounds: int) -> None:
    """One pass = `rounds` sweeps over the sample, each in its own order and table.

    A sweep's per-network CV is ~2% but whole sweeps drift by 10-30% for some networks as the
    other core's load changes (shared L3 and memory on a 2-core VM); the report takes, per
    network, the median over a pass's sweeps.
    """
    archs = sample(n)
    device = DeviceRegistry().get("local-ort")
    for sweep in range(1, rounds + 1):
        name = f"{label}-{pass_name}" if rounds == 1 else f"{label}-{pass_name}{sweep}"
        order = select_archs(NB201Space(), seed=100 * PASS_SEEDS[pass_name] + sweep, archs=archs)
        load_before = load_1m()
        result, path = profile_device(
            device,
            "cifar10",
            order,
            out=TABLES / f"{name}.parquet",
            notes=f"benchmarks/profiling/measure.py stability {pass_name} --label {label} --rounds {rounds}",
        )
        record(name, result.to_dict(), load_before, {"table": str(path.relative_to(HERE))})


def rpc(servers: int, n: int) -> None:
    archs = sample(n)
    with tempfile.TemporaryDirectory(prefix="hwnas-farm-") as logs, loopback_farm("bench", servers, logs) as farm:
        device = parse_device({
            "name": "loopback-farm",
            "latency": {"source": "live", "backend": "tvm-rpc",
                        "options": {"tracker": farm.tracker, "key": "bench", "target": "native", "threads": 1}},
        })  # fmt: skip
        out = TABLES / f"rpc-{servers}.parquet"
        for stale in (out, out.with_suffix(".json")):
            stale.unlink(missing_ok=True)  # throughput of a fresh run, not of a resumed one
        load_before = load_1m()
        result, _ = profile_device(device, "cifar10", archs, out=out)
    record(f"rpc-{servers}", result.to_dict(), load_before, {"servers": servers, "archs": n})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    s = sub.add_parser("stability", help="one ORT pass over the sample")
    s.add_argument("pass_name", choices=sorted(PASS_SEEDS))
    s.add_argument("--archs", type=int, default=200)
    s.add_argument("--label", default="isolated", help="table name prefix: one label per measuring condition")
    s.add_argument("--rounds", type=int, default=1, help="sweeps over the sample in this pass")
    r = sub.add_parser("rpc", help="a loopback TVM RPC farm with this many servers")
    r.add_argument("servers", type=int)
    r.add_argument("--archs", type=int, default=16)
    args = parser.parse_args()
    TABLES.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if args.step == "stability":
        stability(args.pass_name, args.archs, args.label, args.rounds)
    else:
        rpc(args.servers, args.archs)


if __name__ == "__main__":
    main()
