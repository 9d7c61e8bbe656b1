"""Pinning the measurement to CPUs: parsed strictly, applied to this process, refused when impossible."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from hwnas.cli import main
from hwnas.errors import BadInputError
from hwnas.profiling.machine import affinity, pin_cpus


@pytest.fixture
def restore_affinity():
    before = os.sched_getaffinity(0)
    yield
    os.sched_setaffinity(0, before)


def test_pinning_restricts_this_process_to_the_given_cpus(restore_affinity):
    last = affinity()[-1]
    assert pin_cpus(str(last)) == [last]
    assert affinity() == [last]


@pytest.mark.parametrize("spec", ["", "one", "1-", "0,x", "99999"])
def test_impossible_cpu_lists_are_bad_input(spec, restore_affinity):
    with pytest.raises(BadInputError, match="--cpus"):
        pin_cpus(spec)


def test_profile_run_refuses_cpus_the_machine_lacks(tmp_path):
    args = ["profile", "run", "--device", "local-ort", "--sample", "1", "--cpus", "99999"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "t.parquet")])
    assert result.exit_code == 2
    assert "may use CPUs" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "t.parquet").exists()
