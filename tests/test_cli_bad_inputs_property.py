"""Property: whatever bad input a user gives search, profile, import, export or train, the command
fails cleanly (exit 1 or 2, one stderr line, no traceback) and changes no file under its output."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from cli_checks import assert_clean_failure, invoke, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ARCH = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
BOUNDED = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

BAD_NUMBERS = ["nan", "inf", "-inf", "-1", "0", "abc", "1e400", ""]


def _bad_files(root: Path) -> dict[str, Path]:
    """Files a user might pass by mistake: missing, empty, not UTF-8, an object-array npz, a pickle."""
    files = {"missing": root / "missing.npz", "empty": root / "empty.npz", "binary": root / "binary.csv"}
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(b"\xff\xfe\x00arch,latency\n\x80\x81")
    files["objects"] = root / "objects.npz"
    np.savez(files["objects"], x=np.array([object()], dtype=object), y=np.array([1]))
    files["nan"] = root / "nan.npz"
    np.savez(files["nan"], x=np.full((4, 3, 32, 32), np.nan, dtype=np.float32), y=np.array([0, 1, 0, 1]))
    files["text"] = root / "notes.txt"
    files["text"].write_text("not an architecture\n")
    return files


def _check(args: list[str], out: Path, root: Path) -> None:
    before = snapshot(root)
    result = invoke(args)
    assert_clean_failure(result)
    assert snapshot(root) == before, f"{args} changed files under {root}"
    assert not out.exists() or (out.is_dir() and before.get(out.name) == "dir")


def _arch_and_options(bad: list[list[str]], root: str) -> tuple[str, list[str]]:
    """The architecture argument (a bad one when drawn) and the other bad options, paths filled in."""
    arch, options = ARCH, []
    for pair in bad:
        pair = [a.replace("{root}", root) for a in pair]
        if pair[0] == "--arch":
            arch = pair[1]
        else:
            options += pair
    return arch, options


search_bad = st.sampled_from([
    ["--budget-ms", b] for b in BAD_NUMBERS[:6]
] + [
    ["--queries", q] for q in ["0", "-3", "x"]
] + [
    ["--device", "nosuch"], ["--device", ""], ["--dataset", "mnist"], ["--searcher", "nosuch"],
    ["--param", "lr=nan"], ["--param", "nokey=1"], ["--param", "=3"], ["--param", "population_size=abc"],
    ["--accuracy", "nb201:nosuch"], ["--accuracy", "hw-nas-bench:raspi4_latency"], ["--accuracy", "garbage"],
    ["--accuracy", "zero-cost:nosuch"], ["--warm-start", "{root}/missing"], ["--seed", "abc"],
])  # fmt: skip


@BOUNDED
@given(bad=st.lists(search_bad, min_size=1, max_size=2))
def test_search_fails_cleanly_on_bad_input(shared_data_dir, bad):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out = root / "run"
        args = ["search", "--device", "raspi4", "--budget-ms", "16", "--queries", "5", "--searcher", "rea",
                "--out", str(out), "--data-dir", str(shared_data_dir)]
        for pair in bad:
            args += [a.replace("{root}", tmp) for a in pair]
        _check(args, out, root)


profile_bad = st.sampled_from([
    ["--option", "threads=abc"], ["--option", "threads=true"], ["--option", "nosuch=1"], ["--option", "novalue"],
    ["--limit", "-1"], ["--limit", "0"], ["--time-cap-s", "nan"], ["--time-cap-s", "-2"], ["--target-rse", "inf"],
    ["--sample", "-3"], ["--archs", "@{root}/missing.txt"], ["--archs", "@{root}/binary.csv"], ["--archs", "|bad|"],
    ["--dataset", "mnist"], ["--device", "raspi4"], ["--device", "nosuch"], ["--cpus", "99"], ["--cpus", "x"],
])  # fmt: skip


@BOUNDED
@given(bad=st.lists(profile_bad, min_size=1, max_size=2))
def test_profile_run_fails_cleanly_on_bad_input(bad):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _bad_files(root)
        out = root / "tables" / "t.parquet"
        args = ["profile", "run", "--device", "local-ort", "--sample", "1", "--out", str(out)]
        for pair in bad:
            args += [a.replace("{root}", tmp) for a in pair]
        _check(args, out, root)


@BOUNDED
@given(results=st.sampled_from(["missing", "empty", "binary", "objects", "text"]),
       device=st.sampled_from(["board", "../../outside", "a/b", ""]))  # fmt: skip
def test_profile_import_fails_cleanly_on_bad_input(results, device):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = _bad_files(root)
        out = root / "tables" / "t.parquet"
        _check(["profile", "import", str(files[results]), "--device", device, "--out", str(out)], out, root)


export_bad = st.sampled_from([
    ["--arch", "|bogus~0|"], ["--arch", "99999"], ["--arch", ""], ["--dataset", "mnist"], ["--budget-ms", "5"],
    ["--device", "nosuch"], ["--weights", "{root}/missing.npz"], ["--weights", "{root}/empty.npz"],
    ["--weights", "{root}/objects.npz"], ["--tune-trials", "3"], ["--tvm", '{"kind": 5}'],
    ["--device", "raspi4", "--budget-ms", "nan"], ["--device", "raspi4", "--budget-ms", "-1"],
])  # fmt: skip


@BOUNDED
@given(bad=st.lists(export_bad, min_size=1, max_size=2))
def test_export_fails_cleanly_on_bad_input(shared_data_dir, bad):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _bad_files(root)
        out = root / "model"
        arch, options = _arch_and_options(bad, tmp)
        _check(["export", arch, "--out", str(out), "--no-latency", "--data-dir", str(shared_data_dir), *options],
               out, root)


train_bad = st.sampled_from([
    ["--lr", "nan"], ["--lr", "-1"], ["--epochs", "0"], ["--epochs", "-2"], ["--batch-size", "0"],
    ["--val-fraction", "1.5"], ["--val-fraction", "nan"], ["--data", "{root}/missing.npz"],
    ["--data", "{root}/empty.npz"], ["--data", "{root}/objects.npz"], ["--data", "{root}/nan.npz"],
    ["--data", "{root}/binary.csv"], ["--dataset", "mnist"], ["--arch", "|bogus~0|"],
])  # fmt: skip


@BOUNDED
@given(bad=st.lists(train_bad, min_size=1, max_size=2))
def test_train_fails_cleanly_on_bad_input(bad):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _bad_files(root)
        out = root / "ckpt" / "c.pt"
        arch, options = _arch_and_options(bad, tmp)
        _check(["train", arch, "--out", str(out), "--epochs", "1", *options], out, root)
