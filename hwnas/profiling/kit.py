"""Boards without TVM: a folder to copy to the board, and the import of what it measured.

`write_kit` exports the networks (ONNX, architecture string in the metadata) next to the
board-side runner and the measurement protocol it loads; `import_results` turns the runner's
CSV + JSON into a latency table, resumably and without duplicates (`ProfileStore`).
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from typing import Any

from hwnas.errors import ArchParseError, BadInputError, DataError
from hwnas.nets import get_dataset
from hwnas.paths import repo_root
from hwnas.profiling import protocol as protocol_module
from hwnas.profiling.models import ArchModel
from hwnas.profiling.store import METRIC, ROW_COLUMNS, ProfileStore, TableMeta
from hwnas.space.nb201 import parse_arch

RUNNER = "ort_runner.py"
BOARD_README = "README.md"


def board_files() -> dict[str, Path]:
    """Files a kit carries: the runner and its notes (from `profiling/`) and the protocol module."""
    root = repo_root()
    folder = root / "profiling" if root else None
    if folder is None or not (folder / RUNNER).is_file():
        raise DataError("the board-side runner profiling/ort_runner.py ships with the hwnas source checkout")
    return {
        RUNNER: folder / RUNNER,
        BOARD_README: folder / BOARD_README,
        "protocol.py": Path(protocol_module.__file__),
    }


def write_kit(arch_strs: list[str], dataset: str, out_dir: str | Path) -> dict[str, Any]:
    """Export each architecture's deployable network to `out_dir/onnx/` beside the runner."""
    out = Path(out_dir)
    onnx_dir = out / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    for name, source in board_files().items():
        shutil.copyfile(source, out / name)
    written = 0
    for arch in arch_strs:
        model = ArchModel(arch, dataset, onnx_dir)
        if not (onnx_dir / f"{model.arch.ordinal:05d}.onnx").exists():
            model.onnx_path()
            written += 1
    manifest = {"dataset": get_dataset(dataset).name, "archs": len(arch_strs), "batch_size": 1}
    (out / "kit.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return {"folder": str(out), "onnx_files": len(list(onnx_dir.glob("*.onnx"))), "written_now": written}


def _results_sidecar(results: Path) -> dict[str, Any]:
    side = results.with_suffix(".json")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{side}: the runner's sidecar is missing or not UTF-8 JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != "hwnas-board-results":
        raise DataError(f"{side} is not written by profiling/ort_runner.py")
    return meta


def _validated_rows(results: Path, host: str) -> dict[str, dict[str, Any]]:
    """arch string -> table row of every CSV line; one bad line (or a duplicate) refuses them all."""
    try:
        with results.open(newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
    except UnicodeDecodeError as exc:
        raise DataError(f"{results} is not UTF-8 text (byte {exc.start}); is it the runner's results.csv?") from None
    except csv.Error as exc:
        raise DataError(f"{results} is not a readable CSV ({exc})") from None
    rows: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    for line, record in enumerate(records, start=2):
        try:
            arch = str(parse_arch(record.get("arch_str") or ""))
        except ArchParseError as exc:
            raise DataError(f"{results} line {line}: {exc}; nothing was imported") from None
        if arch in rows:
            raise DataError(
                f"{results} lines {first_line[arch]} and {line} both measure {arch}; keep one and import again "
                "(nothing was imported)"
            )
        rows[arch] = _row(record, host, f"{results} line {line}")
        first_line[arch] = line
    if not rows:
        raise DataError(f"{results} has no measured rows; nothing was imported")
    return rows


def _row(record: dict[str, str], host: str, where: str) -> dict[str, Any]:
    try:
        row: dict[str, Any] = {METRIC: float(record["median_ms"])}
        if not 0 < row[METRIC] < math.inf:
            raise ValueError(f"median_ms {record['median_ms']!r} is not a positive finite latency")
        for column in ROW_COLUMNS:
            if column in (METRIC, "worker"):
                continue
            value = record[column]
            if column in ("settled", "noisy"):
                row[column] = value == "True"
            elif column in ("repeats", "number", "warmup_runs", "outliers"):
                row[column] = int(value)
            elif column == "measured_at":
                row[column] = value
            else:
                row[column] = float(value)
    except (KeyError, ValueError) as exc:
        raise DataError(
            f"{where}: bad or missing value ({exc}); nothing was imported. Is this a CSV from profiling/ort_runner.py?"
        ) from None
    row["worker"] = host
    return row


def import_results(
    results: str | Path, device: str, dataset: str, out: str | Path, arch_index: dict[str, int] | None = None
) -> dict[str, Any]:
    """Add the runner's rows to the table at `out` (rows already there are left as they are)."""
    results = Path(results)
    if not results.is_file():
        raise BadInputError(f"results file {results} not found")
    meta = _results_sidecar(results)
    spec = get_dataset(dataset)
    fingerprint = {
        "backend": "onnxruntime (board runner)",
        "runtime_version": meta.get("runtime_version"),
        "cpu_model": meta.get("cpu_model"),
        "options": {k: meta.get(k) for k in ("threads", "graph_optimization_level", "execution_provider")},
        "dataset": spec.name,
        "protocol": meta.get("protocol"),
    }
    extra = {k: v for k, v in meta.items() if k != "format"}
    extra["input_shape"] = [1, *spec.input_shape]
    extra["imported_from"] = results.name
    table_meta = TableMeta(
        name=Path(out).stem,
        device=device,
        dataset=spec.name,
        runtime=f"onnxruntime {meta.get('runtime_version')}",
        description=f"batch-1 latency on {device} ({meta.get('cpu_model')}), measured by profiling/ort_runner.py",
        fingerprint=fingerprint,
        extra=extra,
    )
    rows = _validated_rows(results, str(meta.get("host", device)))  # every row checked before anything is written
    added = skipped = 0
    with ProfileStore(out, table_meta, arch_index=arch_index) as store:
        for arch, row in rows.items():
            if arch in store.rows:
                skipped += 1
                continue
            store.add(arch, row)
            added += 1
    return {"table": str(out), "added": added, "already_there": skipped}
