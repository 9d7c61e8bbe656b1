from __future__ import annotations

import math

import pytest
import torch

from hwnas.errors import BadInputError
from hwnas.nets import get_dataset, network_cost
from hwnas.space.nb201 import NB201Space
from hwnas.zc.eproxy import Branch, EproxyConfig
from hwnas.zc.evaluate import rank_agreement, top_fraction_retrieval
from hwnas.zc.images import image_batch
from hwnas.zc.proxies import CHEAP_PROXIES, ScoreSettings, score_arch
from hwnas.zc.source import ZeroCostAccuracy

SPACE = NB201Space()
ALL_NONE = SPACE.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
ALL_CONV = SPACE.parse(
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
)
MIXED = SPACE.parse("|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|")
# ImageNet16-120 networks (16x16 input) and a small batch keep these tests fast.
FAST = ScoreSettings(batch_size=8)
DATASET = "ImageNet16-120"


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def test_scores_are_deterministic_and_do_not_touch_the_global_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = score_arch(MIXED, DATASET, CHEAP_PROXIES, FAST)
    after = torch.rand(1)
    b = score_arch(MIXED, DATASET, CHEAP_PROXIES, FAST)
    assert a.scores == b.scores
    assert before == after
    assert set(a.seconds) == set(CHEAP_PROXIES) and all(s >= 0 for s in a.seconds.values())
    other_init = score_arch(MIXED, DATASET, ["synflow", "snip"], ScoreSettings(seed=1, batch_size=8))
    assert other_init.scores["snip"] != a.scores["snip"]


def test_synflow_and_friends_rank_an_all_none_cell_below_a_conv_cell():
    empty = score_arch(ALL_NONE, DATASET, CHEAP_PROXIES, FAST).scores
    conv = score_arch(ALL_CONV, DATASET, CHEAP_PROXIES, FAST).scores
    assert empty["synflow"] == 0.0 and conv["synflow"] > 0.0
    for name in CHEAP_PROXIES:
        assert math.isfinite(empty[name]) and math.isfinite(conv[name])
        assert conv[name] > empty[name], name


def test_params_and_flops_baselines_equal_network_cost():
    for dataset in ("cifar10", "cifar100", DATASET):
        scores = score_arch(MIXED, dataset, ["params", "flops"], FAST).scores
        cost = network_cost(MIXED, get_dataset(dataset))
        assert scores == {"params": cost.params, "flops": cost.flops}


def test_unknown_proxy_is_a_bad_input():
    with pytest.raises(BadInputError, match="unknown proxy 'zen'"):
        score_arch(MIXED, DATASET, ["zen"], FAST)


def test_image_batch_is_fixed_by_its_seed_and_normalized():
    a, b, c = image_batch(16, 32, 0), image_batch(16, 32, 0), image_batch(16, 32, 1)
    assert a.shape == (16, 3, 32, 32)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert abs(float(a.mean())) < 1.0 and 0.3 < float(a.std()) < 3.0


def test_eproxy_is_deterministic_finite_and_reads_its_config():
    config = EproxyConfig(steps=3, batch_size=4, branches=(Branch(mid_channels=16, out_channels=16),) * 3)
    settings = ScoreSettings(eproxy=config)
    a = score_arch(MIXED, DATASET, ["eproxy"], settings).scores["eproxy"]
    b = score_arch(MIXED, DATASET, ["eproxy"], settings).scores["eproxy"]
    assert a == b and math.isfinite(a) and a < 0  # the negated loss
    waves = config.with_branch(0, features=("wave_low", "dot"))
    assert score_arch(MIXED, DATASET, ["eproxy"], ScoreSettings(eproxy=waves)).scores["eproxy"] != a


def test_eproxy_ignores_the_classifier_so_cifar10_and_cifar100_networks_score_the_same():
    config = EproxyConfig(steps=2, batch_size=4, init="xavier_uniform", branches=(Branch(mid_channels=16),) * 3)
    settings = ScoreSettings(eproxy=config)
    c10 = score_arch(MIXED, "cifar10", ["eproxy"], settings).scores["eproxy"]
    assert c10 == score_arch(MIXED, "cifar100", ["eproxy"], settings).scores["eproxy"]


def test_eproxy_config_round_trips_and_rejects_nonsense():
    config = EproxyConfig(n_branches=2, lr=0.7).with_branch(1, features=("cnn", "wave_high"), barrier_kernel=7)
    assert EproxyConfig.from_dict(config.to_dict()) == config
    with pytest.raises(BadInputError, match="unknown Eproxy setting"):
        EproxyConfig.from_dict({"learning_rate": 1})
    with pytest.raises(BadInputError, match="features"):
        Branch(features=("colour",))
    with pytest.raises(BadInputError, match="kernels"):
        Branch(barrier_kernel=5)


def test_rank_agreement_metrics():
    truth = {f"a{i}": float(i) for i in range(20)}
    same = rank_agreement({k: 2 * v for k, v in truth.items()}, truth)
    assert same.n == 20 and same.spearman == pytest.approx(1) and same.kendall == pytest.approx(1)
    assert same.top10_retrieval == 1.0 and same.spearman_top10 == pytest.approx(1)
    reverse = rank_agreement({k: -v for k, v in truth.items()}, truth)
    assert reverse.spearman == pytest.approx(-1) and reverse.top10_retrieval == 0.0
    # architectures missing on one side or with a non-finite score are left out
    partial = rank_agreement({**{k: v for k, v in truth.items() if k != "a3"}, "zz": 1.0, "a4": math.nan}, truth)
    assert partial.n == 18
    with pytest.raises(BadInputError, match="need at least 3"):
        rank_agreement({"a1": 1.0}, truth)


def test_top_fraction_retrieval_counts_the_overlap():
    import numpy as np

    truth = np.arange(20.0)
    scores = truth.copy()
    scores[19] = -1  # the best architecture falls out of the proxy's top 2
    assert top_fraction_retrieval(scores, truth) == 0.5


def test_zero_cost_source_is_an_estimate_and_computes_misses_once():
    source = ZeroCostAccuracy("params", DATASET)
    assert source.is_estimate and source.unit == "score" and "estimate" in source.name
    arch_str = SPACE.format(MIXED)
    assert source.accuracy(arch_str) == source.accuracy(MIXED) == network_cost(MIXED, get_dataset(DATASET)).params
    assert source.computed == 1
