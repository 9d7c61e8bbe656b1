"""Export: ONNX parity on every dataset shape, minimal graphs, metadata round-trip, CLI errors."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner

from hwnas.cli import main
from hwnas.errors import BadInputError
from hwnas.export.arch_export import KnownFigures, export_arch
from hwnas.export.metadata import read_metadata
from hwnas.export.onnx_export import export_onnx
from hwnas.export.verify import VerificationError, verify_onnx
from hwnas.export.weights import random_network
from hwnas.nets import get_dataset
from hwnas.space.nb201 import NB201Space, parse_arch
from hwnas.tables.catalog import Catalog

ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
# nodes 1 and 2 are computed by the benchmark cell but never reach node 3
DEAD_NODES = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|none~2|"
SKELETON_CONVS = 7  # stem + 2 reduction blocks x 3 convolutions: present whatever the cell
CELLS = 15


def _convs(path) -> int:
    return sum(node.op_type == "Conv" for node in onnx.load(str(path)).graph.node)


def _export(arch_str: str, dataset: str, out, tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir(exist_ok=True)
    return export_arch(parse_arch(arch_str), dataset, out, catalog=Catalog(empty), measure_latency=False)


@pytest.mark.slow
def test_onnx_matches_pytorch_for_random_archs_on_every_dataset_shape(tmp_path, single_torch_thread):
    space = NB201Space()
    rng = np.random.default_rng(2026)
    for dataset in ("cifar10", "cifar100", "ImageNet16-120"):
        spec = get_dataset(dataset)
        for i in range(10):
            arch_str = space.format(space.sample(rng))
            result = _export(arch_str, dataset, tmp_path / f"{dataset}-{i}", tmp_path)
            assert result.verification.passed and result.verification.max_abs_diff <= 1e-4, arch_str
            assert result.metadata.num_classes == spec.num_classes
            graph_input = onnx.load(str(result.onnx_path)).graph.input[0]
            dims = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
            assert dims == ["batch", *spec.input_shape]


def test_all_none_network_still_runs_and_outputs_the_same_logits_for_any_input(tmp_path):
    result = _export(ALL_NONE, "cifar10", tmp_path / "none", tmp_path)
    assert result.verification.max_abs_diff <= 1e-4
    assert _convs(result.onnx_path) == SKELETON_CONVS  # no cell computation at all
    import onnxruntime as ort

    session = ort.InferenceSession(str(result.onnx_path), providers=["CPUExecutionProvider"])
    a, b = (session.run(None, {"input": np.random.default_rng(s).standard_normal((2, 3, 32, 32), np.float32)})[0]
            for s in (0, 1))  # fmt: skip
    assert a.shape == (2, 10) and np.allclose(a, b)


def test_exported_graphs_are_minimal_skip_only_and_dead_nodes(tmp_path):
    skip = _export(ALL_SKIP, "cifar10", tmp_path / "skip", tmp_path)
    assert skip.verification.max_abs_diff <= 1e-4 and _convs(skip.onnx_path) == SKELETON_CONVS
    dead = _export(DEAD_NODES, "ImageNet16-120", tmp_path / "dead", tmp_path)
    assert dead.verification.max_abs_diff <= 1e-4
    assert _convs(dead.onnx_path) == SKELETON_CONVS + CELLS  # only the 1x1 conv on 0->3 per cell


def test_random_init_without_batchnorm_calibration_is_why_calibration_exists():
    arch = parse_arch(ALL_SKIP)
    torch.manual_seed(0)
    from hwnas.nets import build_network

    raw = build_network(arch, "cifar10", prune=True).eval()
    calibrated = random_network(arch, get_dataset("cifar10"))
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert raw(x).abs().max() > 1e5 and calibrated(x).abs().max() < 100


def test_verification_fails_loudly_when_onnx_and_pytorch_differ(tmp_path):
    spec = get_dataset("cifar10")
    model = random_network(parse_arch(ALL_SKIP), spec, seed=0)
    other = random_network(parse_arch(DEAD_NODES), spec, seed=1)
    path = export_onnx(model, torch.zeros(1, *spec.input_shape), tmp_path / "m.onnx")
    with pytest.raises(VerificationError, match=r"differ by .* above the tolerance"):
        verify_onnx(other, path, spec.input_shape)


def test_metadata_round_trips_through_the_file_and_the_cli(tmp_path):
    known = KnownFigures(
        accuracy=91.25, accuracy_source="nb201:c10valid_val_200", accuracy_is_estimate=False, budget_ms=12.5
    )
    result = export_arch(parse_arch(DEAD_NODES), "cifar100", tmp_path / "m", known=known, catalog=Catalog(tmp_path))
    read = read_metadata(result.onnx_path)
    assert read == result.metadata
    assert read.accuracy == 91.25 and read.budget_ms == 12.5 and read.input_shape == (3, 32, 32)
    assert read.num_classes == 100 and read.weights == "random-init" and read.latency_ms > 0
    assert read.torch_version == torch.__version__ and read.onnx_version == onnx.__version__
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["metadata"] == read.to_dict() and manifest["verification"]["passed"] is True
    assert manifest["files"]["model.onnx"]["bytes"] == result.onnx_path.stat().st_size
    shown = CliRunner().invoke(main, ["model", "show", str(result.onnx_path), "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout) == json.loads(json.dumps(read.to_dict()))


def test_export_cli_writes_a_verified_model(tmp_path):
    out = tmp_path / "cli"
    args = ["export", ALL_SKIP, "--dataset", "ImageNet16-120", "--out", str(out), "--no-latency", "--json"]
    result = CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verification"]["max_abs_diff"] <= 1e-4 and (out / "manifest.json").is_file()
    assert read_metadata(out / "model.onnx").dataset == "ImageNet16-120"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "|bogus~0|", "--out", "{tmp}/o"], "error: "),
        (["export", ALL_SKIP, "--out", "{tmp}/o", "--dataset", "mnist"], "unknown dataset"),
        (["export", ALL_SKIP, "--out", "{tmp}/o", "--budget-ms", "5"], "--budget-ms needs --device"),
        (["export", ALL_SKIP, "--out", "{tmp}/o", "--weights", "{tmp}/missing.pt"], "checkpoint"),
        (["export", ALL_SKIP, "--out", "{tmp}/o", "--tune-trials", "3"], "add --tvm"),
        (["model", "show", "{tmp}/missing.onnx"], "not found"),
        (["model", "show", "{tmp}/junk.onnx"], "not a readable ONNX model"),
        (["model", "show", "{tmp}/plain.onnx"], "no hwnas export metadata"),
        (["compile", "{tmp}/missing.onnx", "--out", "{tmp}/t"], "not found"),
        (["compile", "{tmp}/plain.onnx", "--out", "{tmp}/t", "--target", "llvm -mcpu=native"], "dict/JSON form"),
        (["train", ALL_SKIP, "--data", "{tmp}/images.csv", "--out", "{tmp}/c.pt"], ".npz"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(tmp_path, args, message):
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten())
    export_onnx(net, torch.zeros(1, 3, 8, 8), tmp_path / "plain.onnx")
    result = CliRunner().invoke(main, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_a_checkpoint_of_another_arch_is_refused(tmp_path):
    from hwnas.train.checkpoint import Checkpoint, save_checkpoint

    spec = get_dataset("cifar10")
    state = random_network(parse_arch(ALL_SKIP), spec).state_dict()
    save_checkpoint(Checkpoint(ALL_SKIP, "cifar10", state, {}, 1, {}, {"data": "digits"}, []), tmp_path / "c.pt")
    with pytest.raises(BadInputError, match=r"holds .* not"):
        export_arch(parse_arch(DEAD_NODES), "cifar10", tmp_path / "o", weights=tmp_path / "c.pt")


def test_a_live_remeasurement_over_budget_is_printed_not_only_stored(tmp_path, capsys):
    from hwnas.cli.export import report_export
    from hwnas.devices.registry import DeviceRegistry

    known = KnownFigures(budget_ms=1e-3)  # no network runs in a microsecond: the re-measurement is over
    result = export_arch(
        parse_arch(ALL_SKIP),
        "cifar10",
        tmp_path / "m",
        known=known,
        device=DeviceRegistry().get("local-ort"),
        catalog=Catalog(tmp_path),
        enforce_budget=False,
    )
    assert any("over the budget of 0.001 ms" in w for w in result.manifest["warnings"])
    report_export(result, as_json=False)
    assert "warning:" in capsys.readouterr().err
