"""What every command shares: error handling, JSON output, the data-dir option, the console."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from hwnas.errors import HwnasError

console = Console()
err_console = Console(stderr=True)


# Set to see the traceback of an unexpected error instead of its one-line report (tests set it).
DEBUG_ENV = "HWNAS_DEBUG"


class HwnasGroup(click.Group):
    """Turns every error into one line on stderr and an exit code: 2 for bad usage or input
    (project errors say which), 1 for a failure, 130 for Ctrl-C."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HwnasError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except click.exceptions.Exit:
            raise
        except click.UsageError as exc:
            # click prints usage + hint + message on three lines; one line is the contract.
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: what was finished is saved; rerun the same command to continue", err=True)
            ctx.exit(130)
        except OSError as exc:
            if exc.strerror is None:
                raise
            where = f" {exc.filename}" if exc.filename else ""
            click.echo(f"error:{where}: {exc.strerror}; check the path, its permissions and free space", err=True)
            ctx.exit(2)
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            message = " ".join(str(exc).split())
            click.echo(
                f"error: unexpected {type(exc).__name__}: {message}; this is a bug in hwnas, "
                f"rerun with {DEBUG_ENV}=1 for the traceback and report it",
                err=True,
            )
            ctx.exit(1)


def data_dir_option(func: Callable) -> Callable:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Folder with the benchmark files (default: $HWNAS_DATA_DIR, ../shared/data, the user cache).",
    )(func)


def json_option(func: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")(func)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(_clean(data), indent=2, default=str) + "\n")


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"
