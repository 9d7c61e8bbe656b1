from __future__ import annotations

import contextlib
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwnas.errors import DataError, HwnasError
from hwnas.space import NB201Space
from hwnas.tables.catalog import Catalog
from hwnas.tables.readers import (
    HWNB_PICKLE_DATASETS,
    HWNB_PICKLE_METRICS,
    read_help_latency_list,
    read_hwnasbench_pickle,
    read_user_table,
)
from hwnas.tables.table import ArchTable, MetricInfo, load_table

SPACE = NB201Space()
ARCHS = [str(a) for a in SPACE.sample_distinct(np.random.default_rng(0), 12)]


def make_hwnb_pickle(path: Path, n: int = 12, drop_metric: str | None = None) -> dict:
    """A small file of exactly the upstream HW-NAS-Bench-v1_0.pickle structure."""
    rng = np.random.default_rng(1)
    nb = {}
    for dataset in HWNB_PICKLE_DATASETS:
        section = {m: {i: float(rng.uniform(1, 10)) for i in range(n)} for m in HWNB_PICKLE_METRICS if m != drop_metric}
        classes = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}[dataset]
        section["config"] = {
            i: {"name": "infer.tiny", "C": 16, "N": 5, "arch_str": ARCHS[i], "num_classes": classes} for i in range(n)
        }
        nb[dataset] = section
    fbnet = {
        "edgegpu_latency": {"ConvBlock_H32_W32_Cin16_Cout16_exp1_kernel3_stride1_group1": 0.12},
        "raspi4_latency": {"ConvBlock_H32_W32_Cin16_Cout16_exp1_kernel3_stride1_group1": 1.5},
    }
    data = {"nasbench201": nb, "fbnet": fbnet}
    path.write_bytes(pickle.dumps(data))
    return data


def test_hwnasbench_pickle_reader(tmp_path):
    data = make_hwnb_pickle(tmp_path / "hw.pickle")
    parsed = read_hwnasbench_pickle(tmp_path / "hw.pickle")
    assert set(parsed.nb201) == set(HWNB_PICKLE_DATASETS)
    table = parsed.nb201["cifar100"]
    assert len(table) == 12 and set(table.metrics) == set(HWNB_PICKLE_METRICS)
    assert table.value(ARCHS[3], "edgegpu_latency") == data["nasbench201"]["cifar100"]["edgegpu_latency"][3]
    assert table.metrics["eyeriss_energy"].unit == "mJ" and table.metrics["edgetpu_latency"].device == "edgetpu"
    assert parsed.fbnet["raspi4_latency"]["ConvBlock_H32_W32_Cin16_Cout16_exp1_kernel3_stride1_group1"] == 1.5


def test_pickle_with_a_missing_metric_names_it(tmp_path):
    make_hwnb_pickle(tmp_path / "hw.pickle", drop_metric="fpga_energy")
    with pytest.raises(DataError, match="lacks metric 'fpga_energy'"):
        read_hwnasbench_pickle(tmp_path / "hw.pickle")


def test_truncated_pickle_is_a_data_error(tmp_path):
    make_hwnb_pickle(tmp_path / "hw.pickle")
    raw = (tmp_path / "hw.pickle").read_bytes()
    (tmp_path / "cut.pickle").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_hwnasbench_pickle(tmp_path / "cut.pickle")


def test_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil.pickle").write_bytes(pickle.dumps({"nasbench201": Evil()}))
    with pytest.raises(DataError):
        read_hwnasbench_pickle(tmp_path / "evil.pickle")


def test_catalog_finds_the_upstream_pickle(tmp_path):
    (tmp_path / "hw-nas-bench").mkdir()
    make_hwnb_pickle(tmp_path / "hw-nas-bench" / "HW-NAS-Bench-v1_0.pickle")
    cat = Catalog(tmp_path, measured_dirs=[])
    assert cat.has("hw-nas-bench-pickle/ImageNet16-120")
    assert len(cat.get("hw-nas-bench-pickle/ImageNet16-120")) == 12
    assert not cat.has("nb201")
    with pytest.raises(DataError, match=r"table nb201 not found: expected nb201/accuracy\.parquet"):
        cat.get("nb201")


def test_measured_table_round_trip(tmp_path):
    frame = pd.DataFrame({"arch_str": ARCHS[:5], "latency_ms": [1.0, 2.0, 3.0, 4.0, 5.0]})
    meta = {"latency_ms": MetricInfo("ms", "latency", "cifar10", "local-ort", "onnxruntime 1.32")}
    table = ArchTable("local-ort", frame, meta, source="measured", extra={"threads": 1})
    table.save(tmp_path / "local-ort.parquet")
    back = load_table(tmp_path / "local-ort.parquet")
    assert back.metrics == meta and back.extra == {"threads": 1} and back.batch_size == 1
    assert back.value(ARCHS[2], "latency_ms") == 3.0 and back.value(ARCHS[7], "latency_ms") is None


def test_truncated_parquet_is_a_data_error(tmp_path):
    frame = pd.DataFrame({"arch_str": ARCHS[:5], "latency_ms": [1.0] * 5})
    ArchTable("t", frame, {"latency_ms": MetricInfo("ms", "latency")}).save(tmp_path / "t.parquet")
    raw = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "t.parquet").write_bytes(raw[:-40])
    with pytest.raises(DataError, match=r"t\.parquet is not a readable parquet file"):
        load_table(tmp_path / "t.parquet")


def test_missing_sidecar_is_named(tmp_path):
    pd.DataFrame({"arch_str": ARCHS[:2]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(DataError, match=r"x\.json not found"):
        load_table(tmp_path / "x.parquet")


def test_user_csv_by_string_and_by_index(tmp_path):
    index_map = dict(enumerate(ARCHS))
    (tmp_path / "a.csv").write_text(
        "arch,latency_ms,top1\n" + "".join(f"{a},{i}.5,{90 - i}\n" for i, a in enumerate(ARCHS[:4]))
    )
    table = read_user_table(tmp_path / "a.csv", index_to_arch=index_map)
    assert table.metrics["latency_ms"].unit == "ms" and table.metrics["top1"].unit == "unknown"
    assert table.value(ARCHS[1], "latency_ms") == 1.5 and int(table.frame["arch_index"].iloc[1]) == 1
    (tmp_path / "b.csv").write_text("arch_index,energy_mj\n3,0.5\n5,0.7\n")
    table = read_user_table(tmp_path / "b.csv", index_to_arch=index_map)
    assert table.value(ARCHS[5], "energy_mj") == 0.7


def test_user_csv_errors_name_the_row(tmp_path):
    (tmp_path / "bad.csv").write_text("arch,latency_ms\n" + ARCHS[0] + ",1\n|none~0|+oops,2\n")
    with pytest.raises(DataError, match="row 1"):
        read_user_table(tmp_path / "bad.csv")
    (tmp_path / "noarch.csv").write_text("name,latency_ms\nx,1\n")
    with pytest.raises(DataError, match="has no arch column"):
        read_user_table(tmp_path / "noarch.csv")
    (tmp_path / "idx.csv").write_text("arch_index,latency_ms\n99999,1\n")
    with pytest.raises(DataError, match="not an NB201 index"):
        read_user_table(tmp_path / "idx.csv", index_to_arch=dict(enumerate(ARCHS)))


def test_help_style_list(tmp_path):
    index_map = dict(enumerate(ARCHS))
    (tmp_path / "lat.txt").write_text("\n".join(str(i + 0.25) for i in range(len(ARCHS))))
    table = read_help_latency_list(tmp_path / "lat.txt", "raspi4", index_map)
    assert table.value(ARCHS[4], "latency_ms") == 4.25
    (tmp_path / "short.txt").write_text("1\n2\n")
    with pytest.raises(DataError, match="expected one per NB201 arch"):
        read_help_latency_list(tmp_path / "short.txt", "raspi4", index_map)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_user_table_reader_only_raises_its_own_error(tmp_path, blob):
    for name in ("f.csv", "f.parquet"):
        path = tmp_path / name
        path.write_bytes(blob)
        with contextlib.suppress(HwnasError):
            read_user_table(path, index_to_arch=dict(enumerate(ARCHS)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_pickle_reader_only_raises_its_own_error(tmp_path, blob):
    path = tmp_path / "p.pickle"
    path.write_bytes(blob)
    with pytest.raises(HwnasError):
        read_hwnasbench_pickle(path)


def test_shared_tables_load_with_known_values(catalog):
    hw = catalog.get("hw-nas-bench")
    nb = catalog.get("nb201")
    arch0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert hw.value(arch0, "raspi4_latency") == pytest.approx(10.481976820010459, abs=1e-12)
    assert nb.series("c10valid_val_200").max() == pytest.approx(91.607, abs=1e-3)
    h360 = catalog.get("hw-nas-bench-360")
    assert len(h360) == 15625 and h360.metrics["pi5_onnx_cifar100_latency"].unit == "ms"
    np.testing.assert_allclose(
        h360.series("cifar100_accuracy").sort_index(), nb.series("c100_test_200").sort_index(), atol=1e-6
    )


def test_collapse_isomorphic_gives_members_the_representatives_values(catalog):
    table = catalog.get("hw-nas-bench")
    canonical = {str(a): str(SPACE.canonical(a)) for a in SPACE.enumerate()}
    collapsed = table.collapse_isomorphic(canonical)
    members = [a for a, r in canonical.items() if a != r][:5]
    for member in members:
        assert collapsed.value(member, "raspi4_latency") == table.value(canonical[member], "raspi4_latency")
    assert table.frame["raspi4_latency"].nunique() > collapsed.frame["raspi4_latency"].nunique()
