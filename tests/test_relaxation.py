from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.search.relaxation import (
    RelaxationConfig,
    RelaxedSearch,
    binary_concrete,
    gumbel_softmax,
    latin_hypercube_logits,
    temperature,
)
from hwnas.space import NB201Space
from hwnas.space.base import Relaxation

SPACE = NB201Space()
WEIGHTS = torch.tensor(np.random.default_rng(0).normal(size=(6, 5)), dtype=torch.float32)
SHORT = RelaxationConfig(search_epochs=150, lr_alpha=0.05)


def linear_scorer(ops, edges):
    return (ops * WEIGHTS).sum(dim=(-1, -2))


def test_samples_are_valid_architectures():
    search = RelaxedSearch(SPACE.relaxation, SHORT, seed=1).optimize(linear_scorer)
    draws = search.sample(20, np.random.default_rng(0))
    assert draws.ops.shape == (5, 20, 6) and draws.edges is None
    for ops in draws.ops.reshape(-1, 6):
        arch = SPACE.from_choices(ops)
        assert SPACE.parse(SPACE.format(arch)) == arch


def test_gumbel_samples_concentrate_as_temperature_falls():
    logits = torch.zeros(4000, 5)
    gen = torch.Generator().manual_seed(0)
    peak = {tau: gumbel_softmax(logits, tau, gen, straight_through=False).max(dim=-1).values for tau in (0.7, 0.2)}
    assert peak[0.2].mean() > peak[0.7].mean() + 0.1
    assert (peak[0.2] > 0.9).float().mean() > (peak[0.7] > 0.9).float().mean() + 0.2
    config = RelaxationConfig()
    temps = [temperature(e, config) for e in range(config.search_epochs)]
    assert temps[0] == pytest.approx(0.7) and temps[-1] == pytest.approx(0.2)
    assert bool(np.all(np.diff(temps) < 0))


@pytest.mark.parametrize("straight_through", [True, False])
def test_search_concentrates_on_the_scorers_optimum(straight_through):
    config = RelaxationConfig(search_epochs=150, lr_alpha=0.05, straight_through=straight_through)
    search = RelaxedSearch(SPACE.relaxation, config, seed=2)
    before = search.probabilities()[0].max(axis=-1).mean()
    search.optimize(linear_scorer)
    probs = search.probabilities()[0]
    assert probs.max(axis=-1).mean() > before + 0.4
    assert (probs.argmax(axis=-1) == WEIGHTS.argmax(dim=-1).numpy()).mean() > 0.9
    assert np.mean(search.history[-20:]) > np.mean(search.history[:20])


@pytest.mark.parametrize("straight_through", [True, False])
def test_gradients_reach_the_logits(straight_through):
    logits = torch.zeros(3, 6, 5, requires_grad=True)
    sample = gumbel_softmax(logits, 0.5, torch.Generator().manual_seed(0), straight_through)
    linear_scorer(sample, None).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    log_odds = torch.zeros(3, 4, requires_grad=True)
    edges = binary_concrete(log_odds, 0.5, torch.Generator().manual_seed(0), straight_through)
    (edges * torch.tensor([1.0, -1.0, 2.0, 0.5])).sum().backward()
    assert log_odds.grad is not None and log_odds.grad.abs().sum() > 0


def test_straight_through_feeds_one_hot_samples():
    sample = gumbel_softmax(torch.zeros(10, 5), 0.7, torch.Generator().manual_seed(0), straight_through=True)
    assert torch.equal(sample.detach().sum(dim=-1), torch.ones(10))
    assert set(sample.detach().unique().tolist()) == {0.0, 1.0}


def test_binary_concrete_is_unbiased():
    log_odds = torch.tensor([-1.5, 0.0, 2.0]).expand(20000, 3)
    hard = binary_concrete(log_odds, 0.7, torch.Generator().manual_seed(0), straight_through=True).detach()
    np.testing.assert_allclose(hard.mean(dim=0).numpy(), torch.sigmoid(log_odds[0]).numpy(), atol=0.02)


def test_latin_hypercube_init_spreads_groups_within_bounds():
    logits = latin_hypercube_logits((5, 6, 5), 0.9, 0.1, seed=0)
    assert logits.shape == (5, 6, 5)
    assert logits.min() >= 0.9 and logits.max() <= 1.0
    # one group per stratum [0.9 + 0.02 k, 0.9 + 0.02 (k + 1)) in every coordinate
    strata = np.floor((logits - 0.9) / 0.02).reshape(5, -1)
    assert all(sorted(col) == [0, 1, 2, 3, 4] for col in strata.T)


def test_search_is_deterministic_under_seed():
    def run(seed):
        search = RelaxedSearch(SPACE.relaxation, RelaxationConfig(search_epochs=30), seed=seed).optimize(linear_scorer)
        return search.sample(5, np.random.default_rng(seed)).ops

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


# A small space with searchable topology: 3 op nodes on a 5-node DAG whose upper-triangular
# edges are variables; the scorer wants edges 0->1, 1->4 and 2->4 and no other edge, and op 2 everywhere.
EDGE_MASK = np.triu(np.ones((5, 5), dtype=bool), k=1)
WANTED = np.zeros((5, 5), dtype=bool)
WANTED[0, 1] = WANTED[1, 4] = WANTED[2, 4] = True
WANTED_EDGES = torch.tensor(np.where(WANTED[EDGE_MASK], 1.0, -1.0), dtype=torch.float32)
TOPOLOGY = Relaxation(op_nodes=3, op_names=("a", "b", "c"), edge_mask=EDGE_MASK)


def topology_scorer(ops, edges):
    return ops[..., 2].sum(dim=-1) + (edges * WANTED_EDGES).sum(dim=-1)


def test_edge_logits_learn_a_topology():
    config = RelaxationConfig(search_epochs=300, lr_alpha=0.05, lr_beta=0.05, o_epochs=15, t_epochs=15, groups=3)
    search = RelaxedSearch(TOPOLOGY, config, seed=0)
    assert search.beta is not None and search.beta.shape == (3, int(EDGE_MASK.sum()))
    search.optimize(topology_scorer)
    ops, edges = search.probabilities()
    assert edges is not None
    np.testing.assert_array_equal(edges > 0.5, np.broadcast_to(WANTED[EDGE_MASK], edges.shape))
    assert (ops.argmax(axis=-1) == 2).all()
    draws = search.sample(50, np.random.default_rng(0))
    assert draws.edges is not None and draws.edges.shape == (3, 50, int(EDGE_MASK.sum()))
    assert (draws.edges == WANTED[EDGE_MASK]).mean() > 0.8


def test_alpha_and_beta_alternate():
    config = RelaxationConfig(search_epochs=10, lr_alpha=0.1, lr_beta=0.1, o_epochs=10, t_epochs=10, groups=2)
    search = RelaxedSearch(TOPOLOGY, config, seed=0)
    beta_before = search.beta.detach().clone()
    search.optimize(topology_scorer)
    # all 10 epochs fall in the alpha interval: beta has not moved
    assert torch.equal(search.beta.detach(), beta_before)
