"""TVM: ORT and TVM agree on a network, ARM cross-compilation, an RPC farm that loses a board."""

from __future__ import annotations

import shutil
import struct
import time

import numpy as np
import pytest
import torch
from torch import nn

from hwnas.devices.registry import parse_device
from hwnas.export.onnx_export import export_onnx
from hwnas.profiling.backends import make_backend
from hwnas.profiling.farm import loopback_farm
from hwnas.profiling.models import ArchModel
from hwnas.profiling.profile import profile_device
from hwnas.profiling.protocol import MeasureProtocol
from hwnas.tables.table import load_table
from hwnas.tvm.build import build_onnx
from hwnas.tvm.targets import RASPI4, target_spec

QUICK = MeasureProtocol(warmup_runs=2, warmup_min_s=0.0, min_repeats=5, block=5, time_cap_s=0.2)
SMALL_ARCH = "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
EM_AARCH64 = 183
FARM_ARCHS = [
    SMALL_ARCH,
    "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|avg_pool_3x3~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|skip_connect~2|",
    "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|",
]


def test_ort_and_tvm_run_the_same_onnx_model_with_agreeing_outputs(tmp_path):
    model = ArchModel(SMALL_ARCH, "cifar10", tmp_path)
    ort_backend, tvm_backend = make_backend("onnxruntime", "local-ort"), make_backend("tvm", "local-tvm")
    ort_out, tvm_out = ort_backend.run(model), tvm_backend.run(model)
    assert ort_out.shape == tvm_out.shape == (1, 10)
    assert np.abs(ort_out - tvm_out).max() <= 1e-4
    ort_stats = ort_backend.open_workers()[0].measure(model, QUICK)
    tvm_stats = tvm_backend.open_workers()[0].measure(model, QUICK)  # reuses the library built by run()
    assert ort_stats.median_ms > 0 and tvm_stats.median_ms > 0 and tvm_stats.repeats >= QUICK.min_repeats
    assert tvm_backend.info().runtime == "tvm" and ort_backend.info().threads == 1


def test_cli_target_strings_are_refused_with_the_dict_form_suggested():
    from hwnas.errors import BadInputError

    with pytest.raises(BadInputError, match="dict/JSON form"):
        target_spec("llvm -mcpu=native")
    assert target_spec("raspi4") == RASPI4 and target_spec('{"kind": "llvm"}') == {"kind": "llvm"}


def test_cross_compiled_library_is_an_aarch64_elf(tmp_path):
    if shutil.which("aarch64-linux-gnu-gcc") is None:
        pytest.skip("cross linker aarch64-linux-gnu-gcc absent (apt-get install -y gcc-aarch64-linux-gnu)")
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    onnx_path = export_onnx(net, torch.randn(1, 3, 8, 8), tmp_path / "tiny.onnx", dynamic_batch=False)
    lib = build_onnx(onnx_path, "raspi4", tmp_path / "tiny.so")
    header = lib.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[4] == 2  # 64-bit ELF
    assert struct.unpack("<H", header[18:20])[0] == EM_AARCH64


# -- RPC farm ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_rpc_farm_spreads_work_and_requeues_the_archs_of_a_lost_board(tmp_path):
    with loopback_farm("farm", 2, tmp_path / "logs") as farm:
        device = parse_device({
            "name": "farm",
            "latency": {"source": "live", "backend": "tvm-rpc",
                        "options": {"tracker": farm.tracker, "key": "farm", "target": "native"}},
        })  # fmt: skip
        started = time.monotonic()
        result, path = profile_device(
            device, "cifar10", FARM_ARCHS, out=tmp_path / "farm.parquet", protocol=QUICK,
            on_progress=lambda event: farm.stop_server(1),  # a board goes away after the first result
        )  # fmt: skip
    assert time.monotonic() - started < 300
    assert result.measured == len(FARM_ARCHS) and result.failed == {}
    assert len(result.lost_workers) == 1, "the killed board's worker must be reported lost"
    assert sum(result.per_worker.values()) == len(FARM_ARCHS)
    table = load_table(path).frame
    assert sorted(table["arch_str"]) == sorted(FARM_ARCHS)  # every arch exactly once
    assert set(table["worker"]) <= {"farm-0", "farm-1"}
