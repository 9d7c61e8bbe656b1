"""Live latency for searches: committed table through representatives, else measure and cache."""

from __future__ import annotations

import pytest

from hwnas.devices.registry import DeviceRegistry
from hwnas.profiling.live import LiveLatency
from hwnas.profiling.profile import device_backend, table_meta
from hwnas.profiling.protocol import MeasureProtocol
from hwnas.profiling.store import ProfileStore
from hwnas.search.problem import build_problem
from hwnas.search.runner import run_search
from hwnas.space.nb201 import NB201Space

SPACE = NB201Space()
DEVICE = DeviceRegistry().get("local-ort")
QUICK = MeasureProtocol(time_cap_s=0.3)
# a member of a 5-arch class and its representative (the dead edges read `none`)
MEMBER = "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
REP = SPACE.format(SPACE.canonical(SPACE.parse(MEMBER)))


def committed_table(folder, values: dict[str, float], fingerprint_change: dict | None = None) -> None:
    backend = device_backend(DEVICE)
    meta = table_meta(DEVICE, "cifar10", backend, MeasureProtocol(), "local-ort")
    meta.fingerprint.update(fingerprint_change or {})
    with ProfileStore(folder / "local-ort.parquet", meta) as store:
        for arch, ms in values.items():
            store.add(arch, {"latency_ms": ms, "worker": "local", "measured_at": "2026-01-01T00:00:00+00:00"})


@pytest.fixture
def no_measuring(monkeypatch):
    def refuse(self, rep):
        raise AssertionError(f"measured {rep}")

    monkeypatch.setattr(LiveLatency, "_measure", refuse)


def test_members_are_looked_up_through_their_representative(tmp_path, no_measuring):
    assert MEMBER != REP
    committed_table(tmp_path, {REP: 0.42})
    live = LiveLatency(DEVICE, "cifar10", cache_dir=tmp_path / "cache", tables_dirs=[tmp_path])
    assert live.latency_ms(MEMBER) == 0.42 and live.latency_ms(SPACE.parse(REP)) == 0.42
    members = [a for a, r in ((a, SPACE.canonical(a)) for a in SPACE.enumerate()) if SPACE.format(r) == REP]
    assert set(live.known_values()) == {SPACE.format(a) for a in members}
    assert live.table_path == tmp_path / "local-ort.parquet" and live.warnings == []


def test_a_table_from_another_machine_is_not_used(tmp_path):
    committed_table(tmp_path, {REP: 0.42}, {"cpu_model": "Some Other CPU"})
    live = LiveLatency(DEVICE, "cifar10", cache_dir=tmp_path / "cache", tables_dirs=[tmp_path], protocol=QUICK)
    assert live.table_values == {} and "cpu_model" in live.warnings[0]
    assert live.lookup(MEMBER) is None


def test_unknown_archs_are_measured_once_and_cached(tmp_path):
    live = LiveLatency(DEVICE, "cifar10", cache_dir=tmp_path, tables_dirs=[], protocol=QUICK)
    first = live.latency_ms(MEMBER)
    assert first > 0 and live.measured_now == 1
    assert live.latency_ms(REP) == first and live.measured_now == 1  # same class: not measured again
    again = LiveLatency(DEVICE, "cifar10", cache_dir=tmp_path, tables_dirs=[])
    assert again.lookup(MEMBER) == first and again.cache_path == live.cache_path


@pytest.mark.slow
def test_a_live_search_on_a_fresh_cache_measures_what_it_needs(tmp_path, catalog, monkeypatch):
    monkeypatch.setattr("hwnas.profiling.live.latency_tables_dirs", lambda: [])
    problem = build_problem(DEVICE, "cifar10", 50.0, catalog, live_cache_dir=str(tmp_path / "cache"))
    assert isinstance(problem.latency, LiveLatency)
    problem.latency.protocol = QUICK
    result = run_search(problem, "random", seed=0, queries=4, out_dir=tmp_path / "run")
    assert problem.latency.measured_now == len({SPACE.canonical(SPACE.parse(t.arch_str)) for t in result.trials})
    assert problem.latency.cache_path.exists()
