from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import hwnas.zc.table as zc_table
from hwnas.cli import main
from hwnas.errors import DataError
from hwnas.space.nb201 import NB201Space
from hwnas.tables.table import load_table
from hwnas.zc.dps import DPSSettings, discrete_proxy_search, mutate, random_config
from hwnas.zc.proxies import ScoreSettings
from hwnas.zc.table import COMPUTED_ON, compute_scores, sample_archs

SPACE = NB201Space()
FAST = ScoreSettings(batch_size=4)
DATASET = "ImageNet16-120"


pytestmark = pytest.mark.usefixtures("single_torch_thread")


# Two strings of one isomorphism class (a `none` edge makes the other edge's op irrelevant).
TWINS = (
    "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
)


def test_samples_are_fixed_nested_and_distinct():
    small, large = sample_archs(10, 3), sample_archs(40, 3)
    assert len(set(large)) == 40 and set(small) <= set(large)
    assert sample_archs(10, 4) != small


def test_representatives_share_scores_but_keep_their_own_params(tmp_path):
    assert SPACE.canonical(SPACE.parse(TWINS[0])) == SPACE.canonical(SPACE.parse(TWINS[1]))
    table = compute_scores(TWINS, ["synflow", "params"], DATASET, tmp_path / "t.parquet", FAST)
    rows = table.frame.set_index("arch_str")
    assert rows.loc[TWINS[0], "synflow"] == rows.loc[TWINS[1], "synflow"]
    assert rows.loc[TWINS[0], COMPUTED_ON] == rows.loc[TWINS[1], COMPUTED_ON]
    assert rows.loc[TWINS[0], "params"] < rows.loc[TWINS[1], "params"]  # 1x1 vs 3x3 conv, both counted
    per_string = compute_scores(TWINS, ["synflow"], DATASET, tmp_path / "p.parquet", FAST, representatives=False)
    assert list(per_string.frame[COMPUTED_ON]) == list(TWINS)


def test_interrupted_computation_keeps_its_work_and_resumes(tmp_path, monkeypatch):
    archs = sample_archs(6, 0)
    out = tmp_path / "zc.parquet"
    real = zc_table.score_arch
    calls = []

    def failing(arch, *args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(SPACE.format(arch))
        return real(arch, *args, **kwargs)

    monkeypatch.setattr(zc_table, "score_arch", failing)
    with pytest.raises(KeyboardInterrupt):
        compute_scores(archs, ["synflow"], DATASET, out, FAST, representatives=False)
    saved = load_table(out)
    assert saved.frame["synflow"].notna().sum() == 3
    monkeypatch.setattr(
        zc_table, "score_arch", lambda arch, *a, **k: calls.append(SPACE.format(arch)) or real(arch, *a, **k)
    )
    done = compute_scores(archs, ["synflow"], DATASET, out, FAST, representatives=False)
    assert done.frame["synflow"].notna().all() and len(calls) == 6  # three before, three after
    assert len(set(calls)) == 6
    # adding a proxy later computes only that column
    calls.clear()
    compute_scores(archs, ["synflow", "snip"], DATASET, out, FAST, representatives=False)
    assert len(calls) == 6


def test_resume_refuses_other_settings(tmp_path):
    out = tmp_path / "zc.parquet"
    compute_scores(sample_archs(2, 0), ["params"], DATASET, out, FAST)
    with pytest.raises(DataError, match="settings"):
        compute_scores(sample_archs(2, 0), ["params"], DATASET, out, ScoreSettings(batch_size=8))
    with pytest.raises(DataError, match="dataset"):
        compute_scores(sample_archs(2, 0), ["params"], "cifar10", out, FAST)


def test_dps_evolves_deterministically_and_resumes(tmp_path, monkeypatch):
    import hwnas.zc.dps as dps

    scored = []

    def fitness(config, archs_accs, dataset, seed=0, image_seed=0):
        scored.append(config)
        return config.lr - abs(config.flops_alpha)  # best: lr 1.5, no FLOPs term

    monkeypatch.setattr(dps, "config_fitness", fitness)
    accs = {a: float(i) for i, a in enumerate(sample_archs(8, 0))}
    settings = DPSSettings(population=6, cycles=30, tournament=3, seed=1)
    first = discrete_proxy_search(accs, DATASET, tmp_path / "a.json", settings)
    assert first.best_fitness == max(h["fitness"] for h in first.history)
    assert len(first.history) == 36 and first.best_fitness > max(h["fitness"] for h in first.history[:6])
    again = discrete_proxy_search(accs, DATASET, tmp_path / "b.json", settings)
    assert [h["config"] for h in again.history] == [h["config"] for h in first.history]
    scored.clear()
    longer = discrete_proxy_search(accs, DATASET, tmp_path / "a.json", DPSSettings(6, 40, 3, 0.2, 1))
    assert len(longer.history) == 46 and 0 < len(scored) <= 10  # only the new cycles are scored
    assert json.loads((tmp_path / "a.json").read_text())["config"] == longer.best.to_dict()


def test_random_and_mutated_configs_are_valid():
    rng = np.random.default_rng(0)
    for _ in range(50):
        config = random_config(rng)
        child = mutate(config, rng, 0.5)
        assert all(b.features for b in child.branches) and 1 <= child.n_branches <= 3


@pytest.mark.needs_data
def test_cli_compute_then_eval(tmp_path, shared_data_dir):
    out = tmp_path / "zc.parquet"
    archs = tmp_path / "archs.txt"
    archs.write_text("\n".join(sample_archs(12, 0)) + "\n# a comment\n")
    runner = CliRunner()
    args = ["proxies", "compute", "--dataset", DATASET, "--archs", str(archs), "--proxies", "params,synflow"]
    result = runner.invoke(main, [*args, "--out", str(out), "--batch-size", "4", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["archs"] == 12 and summary["proxies"]["synflow"]["scored"] == 12
    result = runner.invoke(main, ["proxies", "eval", str(out), "--accuracy", "nb201:in16_test_200", "--json"])
    assert result.exit_code == 0, result.output
    results = json.loads(result.output)["results"]
    assert results["params"]["n"] == 12 and -1 <= results["synflow"]["spearman"] <= 1
    bad = runner.invoke(
        main, ["proxies", "eval", str(out), "--accuracy", "nb201:c10valid_val_200", "--proxies", "snip"]
    )
    assert bad.exit_code == 2 and "no column for snip" in bad.output
