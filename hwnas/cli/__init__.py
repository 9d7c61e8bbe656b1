"""The `hwnas` command: a thin layer over the Python API."""

from __future__ import annotations

import os
import sys

import click

from hwnas import __version__
from hwnas.cli.arch import arch
from hwnas.cli.bench import bench
from hwnas.cli.common import HwnasGroup
from hwnas.cli.data import data
from hwnas.cli.devices import devices
from hwnas.cli.export import compile_command, export, model
from hwnas.cli.predictor import predictor
from hwnas.cli.profile import profile
from hwnas.cli.proxies import proxies
from hwnas.cli.search import runs, search
from hwnas.cli.train import train_command


@click.group(cls=HwnasGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hwnas")
def main() -> None:
    """Hardware-aware NAS: search under a device latency budget, profile boards, export models."""


for command in (
    arch,
    data,
    devices,
    search,
    runs,
    bench,
    proxies,
    profile,
    predictor,
    export,
    model,
    train_command,
    compile_command,
):
    main.add_command(command)


def run() -> None:
    """The `hwnas` program: `main`, and on Ctrl-C an exit that native threads cannot abort.

    After Ctrl-C everything is already saved (logs are appended and synced as they grow, files
    replaced atomically), but a measurement thread may still be inside ONNX Runtime or TVM; a
    normal interpreter exit would then run C++ destructors under it and abort (exit 134). So the
    program leaves with `os._exit(130)` once its output is flushed.
    """
    try:
        main()
    except SystemExit as exc:
        if exc.code == 130:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        raise
