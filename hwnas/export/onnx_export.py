"""PyTorch -> ONNX for NB201 networks.

The TorchScript-based exporter (`dynamo=False`) is used: with torch 2.13 it is ~8x faster than
the dynamo exporter on these networks (0.25 s vs 2 s) and gives graphs with identical ONNX
Runtime latency, which matters when thousands of networks are profiled.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch

from hwnas.atomic import atomic_write

OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def export_onnx(
    model: torch.nn.Module,
    example: torch.Tensor,
    path: str | Path,
    opset: int = OPSET,
    dynamic_batch: bool = True,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Export `model` in eval mode, check the graph, attach `metadata_props`, write atomically."""
    model = model.eval()
    dynamic_axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None

    def write(tmp: Path) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                str(tmp),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes=dynamic_axes,
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto)
        if metadata:
            onnx.helper.set_model_props(proto, {str(k): str(v) for k, v in metadata.items()})
            onnx.save(proto, str(tmp))

    return atomic_write(path, write)
