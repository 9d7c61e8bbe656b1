#!/usr/bin/env python3
"""Time every ONNX file of a folder with ONNX Runtime, on a board that has only onnxruntime + numpy.

    python3 ort_runner.py onnx/ --out results.csv [--threads 1] [--opt-level all]

Writes one CSV row per model as soon as it is measured (a rerun skips the files already in the
CSV) and a JSON sidecar saying what it ran on. Bring both back and import them on the host:
`hwnas profile import results.csv --device <name>`. The measurement protocol is hwnas's own
(`protocol.py`, copied beside this script by `hwnas profile kit`).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import platform
import socket
import sys
import time
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort

HERE = Path(__file__).resolve().parent
PROTOCOL_FILES = (HERE / "protocol.py", HERE.parent / "hwnas" / "profiling" / "protocol.py")
STAT_COLUMNS = ("median_ms", "mean_ms", "p90_ms", "iqr_ms", "cv", "repeats", "number", "warmup_runs",
                "first_run_ms", "outliers", "median_rse", "settled", "noisy", "duration_s")  # fmt: skip
COLUMNS = ("arch_str", "file", *STAT_COLUMNS, "load_1m", "measured_at")
OPT_LEVELS = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def load_protocol_module():
    """hwnas's protocol.py from the kit folder, else from the checkout this script sits in."""
    for path in PROTOCOL_FILES:
        if path.is_file():
            spec = importlib.util.spec_from_file_location("hwnas_protocol", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses look their module up by name
            spec.loader.exec_module(module)
            return module
    sys.exit(f"error: protocol.py not found beside {__file__}; make the kit with `hwnas profile kit`")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def session(path: Path, threads: int, opt_level: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = OPT_LEVELS[opt_level]
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def input_feed(sess: ort.InferenceSession) -> dict[str, np.ndarray]:
    """A random batch-1 input; none for networks whose output was folded into a constant."""
    graph_inputs = sess.get_inputs()
    if not graph_inputs:
        return {}
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in graph_inputs[0].shape]
    return {graph_inputs[0].name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="folder of .onnx files")
    parser.add_argument("--out", type=Path, default=Path("results.csv"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--opt-level", choices=sorted(OPT_LEVELS), default="all")
    parser.add_argument("--time-cap-s", type=float, default=3.0)
    args = parser.parse_args()
    files = sorted(args.folder.glob("*.onnx"))
    if not files:
        sys.exit(f"error: no .onnx files in {args.folder}")
    proto = load_protocol_module()
    protocol = proto.MeasureProtocol(time_cap_s=args.time_cap_s)
    done = set()
    if args.out.exists():
        with args.out.open(newline="") as handle:
            done = {row["file"] for row in csv.DictReader(handle)}
    sidecar = {
        "format": "hwnas-board-results",
        "runtime": "onnxruntime",
        "runtime_version": ort.__version__,
        "execution_provider": "CPUExecutionProvider",
        "threads": args.threads,
        "graph_optimization_level": args.opt_level,
        "cpu_model": cpu_model(),
        "host": socket.gethostname(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "batch_size": 1,
        "protocol": {f.name: getattr(protocol, f.name) for f in fields(protocol)},
    }
    args.out.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    new_file = not args.out.exists()
    with args.out.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        todo = [f for f in files if f.name not in done]
        start = time.monotonic()
        for i, path in enumerate(todo, start=1):
            sess = session(path, args.threads, args.opt_level)
            feed = input_feed(sess)
            stats = proto.measure_adaptive(proto.timed_block(lambda s=sess, f=feed: s.run(None, f)), protocol)
            arch = sess.get_modelmeta().custom_metadata_map.get("arch_str", path.stem)
            row = {"arch_str": arch, "file": path.name, **{c: getattr(stats, c) for c in STAT_COLUMNS}}
            row["load_1m"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            row["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            writer.writerow(row)
            handle.flush()
            os.fsync(handle.fileno())
            eta = (time.monotonic() - start) / i * (len(todo) - i)
            print(f"{i}/{len(todo)} {path.name} {stats.median_ms:.3f} ms  ETA {eta / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
