"""hwnas compile: TVM builds of exported models run and match ONNX Runtime; tuning settings."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from hwnas.cli import main
from hwnas.errors import BadInputError
from hwnas.export.arch_export import export_arch
from hwnas.export.tvm_build import static_batch
from hwnas.space.nb201 import parse_arch
from hwnas.tables.catalog import Catalog

ARCH = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("compile")
    result = export_arch(parse_arch(ARCH), "ImageNet16-120", out / "m", catalog=Catalog(out), measure_latency=False)
    return result.onnx_path


def test_host_build_runs_and_matches_onnx_runtime(exported, tmp_path):
    from hwnas.export.verify import ort_session, run_ort
    from hwnas.tvm.run import LoadedModel

    result = CliRunner().invoke(main, ["compile", str(exported), "--target", "host", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["parity"]["max_abs_diff"] <= 1e-4 and report["tuning"] is None
    assert json.loads((tmp_path / "tvm.json").read_text())["library"] == report["library"]
    inputs = np.random.default_rng(7).standard_normal((1, 3, 16, 16)).astype(np.float32)
    got = LoadedModel(report["library"]).run(inputs)
    assert got.shape == (1, 120)
    assert np.abs(got - run_ort(ort_session(exported), inputs)).max() <= 1e-4


def test_the_tuned_path_applies_a_database_and_still_matches(exported, tmp_path):
    from hwnas.export.tvm_build import compile_model

    report = compile_model(exported, "host", tmp_path, trials=0, database_dir=tmp_path / "db")
    assert report["tuning"]["tasks"] > 0 and report["tuning"]["records_total"] == 0
    assert report["parity"]["max_abs_diff"] <= 1e-4


def test_static_batch_fixes_only_the_symbolic_batch_axis(exported):
    fixed = static_batch(onnx.load(str(exported)))
    dims = [d.dim_value for d in fixed.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 16, 16]
    assert onnx.load(str(exported)).graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_tuning_a_board_target_here_is_refused():
    from hwnas.tvm.tune import tuning_target

    with pytest.raises(BadInputError, match="tune on the board"):
        tuning_target("raspi4")
    assert tuning_target("host")["num-cores"] == 1


def test_raspberry_pi_build_is_cross_compiled(exported, tmp_path):
    if shutil.which("aarch64-linux-gnu-gcc") is None:
        pytest.skip("cross linker aarch64-linux-gnu-gcc absent (apt-get install -y gcc-aarch64-linux-gnu)")
    result = CliRunner().invoke(
        main, ["compile", str(exported), "--target", "raspi4", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["parity"] is None and report["target"]["mcpu"] == "cortex-a72"
    assert (tmp_path / "model.so").read_bytes()[:4] == b"\x7fELF"
