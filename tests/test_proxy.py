from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.errors import BadInputError, DataError
from hwnas.proxy import Proxy, ProxyConfig
from hwnas.proxy.model import RankGauss, pairwise_hinge
from hwnas.space import NB201Space

SPACE = NB201Space()
FAST = ProxyConfig(batch_size=0, lr=3e-3, model_epochs=120)
# A synthetic landscape over the 6 edge ops: additive op values plus one interaction, and a
# positive, skewed latency that grows with conv ops.
OP_VALUE = np.array([-2.0, 0.3, 1.0, 1.6, 0.2])
OP_COST_MS = np.array([0.0, 0.1, 1.0, 3.0, 0.5])


def synthetic(archs):
    ops = np.array([a.op_indices for a in archs])
    acc = OP_VALUE[ops].sum(axis=1) + 0.8 * (ops[:, 0] == ops[:, 5])
    lat = 0.5 + OP_COST_MS[ops].sum(axis=1) ** 1.5
    return acc, lat


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(7)
    archs = SPACE.sample_distinct(rng, 500)
    return archs[:150], archs[150:]


@pytest.fixture(scope="module")
def fitted(split):
    train, _ = split
    acc, lat = synthetic(train)
    return Proxy(SPACE, FAST, seed=0).fit(train, acc, lat)


def test_proxy_learns_a_synthetic_function(fitted, split):
    _, test = split
    acc, lat = synthetic(test)
    corr = fitted.rank_correlation(test, acc, lat)
    assert corr["accuracy"]["spearman"] > 0.9
    assert corr["latency_ms"]["spearman"] > 0.9
    assert corr["accuracy"]["kendall"] > 0.7


def test_predictions_are_in_target_units(fitted, split):
    _, test = split
    acc, lat = synthetic(test)
    pred = fitted.predict(test)
    assert pred.accuracy.shape == pred.latency_ms.shape == (len(test),)
    assert acc.min() - 1 <= pred.accuracy.min() and pred.accuracy.max() <= acc.max() + 1
    assert np.median(np.abs(np.log(pred.latency_ms) - np.log(lat))) < 0.3


def test_fit_is_deterministic_under_seed(split):
    train, test = split
    acc, lat = synthetic(train)
    config = ProxyConfig(batch_size=16, model_epochs=3)
    a = Proxy(SPACE, config, seed=3).fit(train, acc, lat).predict(test)
    b = Proxy(SPACE, config, seed=3).fit(train, acc, lat).predict(test)
    c = Proxy(SPACE, config, seed=4).fit(train, acc, lat).predict(test)
    np.testing.assert_array_equal(a.accuracy, b.accuracy)
    assert not np.array_equal(a.accuracy, c.accuracy)


def test_latency_only_rows_train_the_latency_head(split):
    train, test = split
    acc, lat = synthetic(train)
    acc_partial = [None if i % 3 else a for i, a in enumerate(acc)]
    proxy = Proxy(SPACE, FAST, seed=0).fit(train, acc_partial, lat)
    test_acc, test_lat = synthetic(test)
    assert proxy.rank_correlation(test, test_acc, test_lat)["latency_ms"]["spearman"] > 0.9


def test_soft_inputs_pass_gradients(fitted):
    logits = torch.zeros(2, 6, 5, requires_grad=True)
    features, adjacency = SPACE.soft_encode(torch.softmax(logits, dim=-1))
    pred_acc, pred_lat = fitted.forward_standardized(features, adjacency)
    (pred_acc.sum() - pred_lat.sum()).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_save_load_round_trip(fitted, split, tmp_path):
    _, test = split
    path = fitted.save(tmp_path / "proxy.pt")
    loaded = Proxy.load(SPACE, path)
    np.testing.assert_allclose(loaded.predict(test).accuracy, fitted.predict(test).accuracy)
    np.testing.assert_allclose(loaded.predict(test).latency_ms, fitted.predict(test).latency_ms)
    assert loaded.config == fitted.config


def test_bad_inputs_say_what_is_wrong(tmp_path, split):
    train, _ = split
    with pytest.raises(DataError, match="not been fitted"):
        Proxy(SPACE).predict(train[:2])
    with pytest.raises(BadInputError, match="one accuracy and one latency per arch"):
        Proxy(SPACE).fit(train[:3], [1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(BadInputError, match="unknown proxy hyperparameter"):
        ProxyConfig.from_dict({"hidden": 3})
    with pytest.raises(BadInputError, match="accuracy_transform"):
        ProxyConfig(accuracy_transform="log")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="cannot read proxy state"):
        Proxy.load(SPACE, tmp_path / "junk.pt")


def test_pairwise_hinge_counts_only_misordered_pairs():
    target = torch.tensor([0.0, 1.0, 2.0])
    assert float(pairwise_hinge(torch.tensor([0.0, 1.0, 2.0]), target, 0.1)) == 0.0
    # one pair (2 over 1) predicted reversed by 0.5: hinge 0.6 averaged over 3 ordered pairs
    assert float(pairwise_hinge(torch.tensor([0.0, 1.5, 1.0]), target, 0.1)) == pytest.approx(0.2)


def test_rank_gauss_is_monotone_and_invertible():
    values = np.array([10.0, 91.0, 90.0, 90.0, 85.0])
    scale = RankGauss.fit(values)
    scores = scale.forward(values)
    assert scores[0] < scores[4] < scores[2] == scores[3] < scores[1]
    np.testing.assert_allclose(scale.inverse(scores), values)
