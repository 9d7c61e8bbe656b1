"""Resumable profiling: the append-only log, the atomic table, re-queueing lost workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from hwnas.errors import RunError
from hwnas.profiling.backends.base import Worker, WorkerLost
from hwnas.profiling.protocol import MeasureProtocol, summarize
from hwnas.profiling.runner import AllWorkersLost, profile_archs
from hwnas.profiling.store import ProfileStore, TableMeta
from hwnas.space.nb201 import NB201Space
from hwnas.tables.table import load_table

SPACE = NB201Space()


def fast_archs(n: int) -> list[str]:
    """Representatives with few, cheap edges: sub-millisecond networks."""
    reps = sorted({SPACE.canonical(a) for a in SPACE.enumerate()})
    cheap = [a for a in reps if "nor_conv_3x3" not in a.ops and sum(op != "none" for op in a.ops) <= 2]
    return [SPACE.format(a) for a in cheap[:n]]


def meta(fingerprint: dict | None = None) -> TableMeta:
    return TableMeta("t", "fake", "cifar10", "fake 1", "test table", fingerprint or {"backend": "fake"})


class FakeWorker(Worker):
    """Answers instantly with a latency derived from the arch; can lose its board after `lose_after` jobs."""

    def __init__(self, name: str, lose_after: int | None = None) -> None:
        self.name = name
        self.lose_after = lose_after
        self.measured: list[str] = []

    def measure(self, model, protocol):
        if self.lose_after is not None and len(self.measured) >= self.lose_after:
            raise WorkerLost(f"{self.name} disconnected")
        self.measured.append(model.key)
        time.sleep(0.01)
        return summarize([1e-3 * (1 + len(model.key) % 7)] * 5, protocol)

    def onnx_free(self):
        return True


@pytest.fixture(autouse=True)
def no_export(monkeypatch):
    """Fake workers never need the ONNX file."""
    monkeypatch.setattr("hwnas.profiling.models.ArchModel.discard", lambda self: None)


def test_rows_survive_a_crash_and_a_torn_last_line(tmp_path):
    path = tmp_path / "t.parquet"
    store = ProfileStore(path, meta(), flush_every=1000)
    store.open()
    archs = fast_archs(3)
    for i, arch in enumerate(archs[:2]):
        store.add(arch, {"latency_ms": 1.0 + i, "worker": "w", "measured_at": "now"})
    # crash: no close(), the parquet was never written; the next write was torn half-way
    with open(store.log_path, "a", encoding="utf-8") as handle:
        handle.write('{"arch_str": "' + archs[2][:10])
    store._log.close()
    store._lock_handle.close()
    assert not path.exists()
    with ProfileStore(path, meta()) as again:
        assert again.done == set(archs[:2])
        again.add(archs[2], {"latency_ms": 3.0, "worker": "w", "measured_at": "now"})
    table = load_table(path)
    assert sorted(table.frame["arch_str"]) == sorted(archs)
    assert not store.log_path.exists()  # folded into the parquet


def test_a_table_measured_under_other_settings_is_not_extended(tmp_path):
    path = tmp_path / "t.parquet"
    with ProfileStore(path, meta({"threads": 1})) as store:
        store.add(fast_archs(1)[0], {"latency_ms": 1.0, "worker": "w", "measured_at": "now"})
    with pytest.raises(RunError, match=r"threads: table 1, now 2"):
        ProfileStore(path, meta({"threads": 2})).open()


def test_two_runs_cannot_write_one_table(tmp_path):
    with ProfileStore(tmp_path / "t.parquet", meta()), pytest.raises(RunError, match="another hwnas profile"):
        ProfileStore(tmp_path / "t.parquet", meta()).open()


def test_a_lost_worker_requeues_its_arch_and_nothing_is_measured_twice(tmp_path):
    archs = fast_archs(30)
    steady, flaky = FakeWorker("a"), FakeWorker("b", lose_after=4)
    with ProfileStore(tmp_path / "t.parquet", meta()) as store:
        result = profile_archs(archs, "cifar10", [steady, flaky], store, MeasureProtocol())
    assert result.measured == len(archs) and "b" in result.lost_workers
    assert sorted(steady.measured + flaky.measured) == sorted(archs)  # each exactly once
    assert result.per_worker == {"a": len(steady.measured), "b": 4}
    assert len(load_table(tmp_path / "t.parquet")) == len(archs)


def test_when_every_worker_is_lost_the_measured_rows_are_kept(tmp_path):
    archs = fast_archs(10)
    with ProfileStore(tmp_path / "t.parquet", meta()) as store, pytest.raises(AllWorkersLost, match="rerun"):
        profile_archs(archs, "cifar10", [FakeWorker("a", 3), FakeWorker("b", 2)], store, MeasureProtocol())
    assert len(load_table(tmp_path / "t.parquet")) == 5


def test_limit_measures_only_that_many_new_archs(tmp_path):
    archs = fast_archs(6)
    with ProfileStore(tmp_path / "t.parquet", meta()) as store:
        first = profile_archs(archs, "cifar10", [FakeWorker("a")], store, MeasureProtocol(), limit=4)
        second = profile_archs(archs, "cifar10", [FakeWorker("a")], store, MeasureProtocol())
    assert (first.measured, first.remaining, first.stopped_early) == (4, 2, True)
    assert (second.measured, second.already_measured, second.remaining) == (2, 4, 0)


def _log_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "arch_str" in record:
            rows.append(record)
    return rows


@pytest.mark.slow
def test_interrupted_hwnas_profile_resumes_without_measuring_an_arch_twice(tmp_path):
    """Kill a real `hwnas profile run` (ONNX Runtime) mid-run, rerun it, compare the rows."""
    archs = fast_archs(7)
    (tmp_path / "archs.txt").write_text("\n".join(archs) + "\n")
    out = tmp_path / "local.parquet"
    log = out.with_suffix(".log.jsonl")
    archs_file = f"@{tmp_path / 'archs.txt'}"
    command = [
        sys.executable, "-m", "hwnas", "profile", "run", "--device", "local-ort", "--archs", archs_file,
        "--out", str(out), "--time-cap-s", "0.3", "--json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(_log_rows(log)) < 3 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    before = {r["arch_str"]: r for r in _log_rows(log)}
    assert 3 <= len(before) < len(archs), "the first run must be interrupted mid-way"
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["already_measured"] == len(before)
    assert summary["measured"] == len(archs) - len(before) and summary["remaining"] == 0
    table = load_table(out).frame.set_index("arch_str")
    assert sorted(table.index) == sorted(archs)
    for arch, row in before.items():  # first-run rows kept as they were, not re-measured
        assert table.at[arch, "measured_at"] == row["measured_at"]
        assert table.at[arch, "latency_ms"] == pytest.approx(row["latency_ms"])
    assert isinstance(table["latency_ms"], pd.Series) and (table["latency_ms"] > 0).all()


def test_runner_threads_all_finish(tmp_path):
    with ProfileStore(tmp_path / "t.parquet", meta()) as store:
        profile_archs(fast_archs(3), "cifar10", [FakeWorker("a"), FakeWorker("b")], store, MeasureProtocol())
    assert not [t for t in threading.enumerate() if t.name.startswith("hwnas-")]


def test_noisy_rows_are_remeasured_and_the_lower_cv_measurement_is_kept(tmp_path):
    archs = fast_archs(3)
    path = tmp_path / "t.parquet"
    with ProfileStore(path, meta()) as store:
        store.add(archs[0], {"latency_ms": 9.0, "cv": 0.5, "noisy": True, "worker": "w", "measured_at": "t0"})
        store.add(archs[1], {"latency_ms": 9.0, "cv": 0.0, "noisy": True, "worker": "w", "measured_at": "t0"})
        result = profile_archs(archs, "cifar10", [FakeWorker("a")], store, MeasureProtocol(), remeasure=set(archs[:2]))
    assert (result.measured, result.remeasured, result.replaced, result.already_measured) == (1, 2, 1, 2)
    table = load_table(path).frame.set_index("arch_str")
    assert table.at[archs[0], "latency_ms"] != 9.0  # FakeWorker's CV 0 beats 0.5: replaced
    assert table.at[archs[1], "latency_ms"] == 9.0  # not beaten: kept
    with ProfileStore(path, meta()) as again, pytest.raises(RunError, match="nothing to replace"):
        again.add(archs[2] + "x", {"latency_ms": 1.0}, replace=True)


def test_a_replacement_in_the_log_wins_over_the_saved_row(tmp_path):
    arch = fast_archs(1)[0]
    path = tmp_path / "t.parquet"
    with ProfileStore(path, meta()) as store:
        store.add(arch, {"latency_ms": 5.0, "worker": "w", "measured_at": "t0"})
    store = ProfileStore(path, meta(), flush_every=1000)
    store.open()
    store.add(arch, {"latency_ms": 2.0, "worker": "w", "measured_at": "t1"}, replace=True)
    store._log.close()  # crash before the parquet is rewritten
    store._lock_handle.close()
    with ProfileStore(path, meta()) as again:
        assert again.rows[arch]["latency_ms"] == 2.0
