from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnas.errors import ArchParseError, HwnasError
from hwnas.space import NB201Arch, NB201Space, parse_arch
from hwnas.space.nb201 import EDGES, OPS

SPACE = NB201Space()
EXAMPLE = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def test_enumeration_is_complete_and_round_trips():
    archs = list(SPACE.enumerate())
    assert len(archs) == 15625 == SPACE.size()
    assert len(set(archs)) == 15625
    for arch in archs:
        assert parse_arch(str(arch)) == arch
    assert [a.ordinal for a in archs[:7]] == list(range(7))


def test_arch_is_immutable_and_hashable():
    arch = parse_arch(EXAMPLE)
    assert {arch: 1}[parse_arch(EXAMPLE)] == 1
    with pytest.raises(AttributeError):
        arch.ops = ("none",) * 6  # type: ignore[misc]
    assert arch.ops == ("avg_pool_3x3", "nor_conv_1x1", "skip_connect", "nor_conv_1x1", "skip_connect", "skip_connect")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "source node '1'; expected ~0"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 has 1 edge(s)"),
        ("|none~0|+|none~0|none~1|", "2 node group(s)"),
        ("|none~0|x+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end with '|'"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "not of the form op~source"),
        ("", "empty architecture string"),
    ],
)
def test_parse_errors_name_the_problem(text, needle):
    with pytest.raises(ArchParseError) as info:
        parse_arch(text)
    assert needle in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("|+~0123_nonecskipavgpolr3x1 ")), max_size=80) | st.text(max_size=60))
def test_parser_only_raises_its_own_error(text):
    try:
        arch = parse_arch(text)
    except HwnasError:
        return
    assert parse_arch(str(arch)) == arch


def test_sampling_is_seeded_and_covers_ops():
    a = [SPACE.sample(np.random.default_rng(7)) for _ in range(3)]
    b = [SPACE.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a == b
    rng = np.random.default_rng(0)
    counts = np.zeros((6, 5))
    for _ in range(5000):
        for k, i in enumerate(SPACE.sample(rng).op_indices):
            counts[k, i] += 1
    assert np.all(np.abs(counts / 5000 - 0.2) < 0.03)


def test_sample_distinct_respects_exclusions():
    rng = np.random.default_rng(1)
    taken = set(SPACE.sample_distinct(rng, 100))
    more = SPACE.sample_distinct(rng, 50, exclude=taken)
    assert len(taken) == 100 and len(set(more)) == 50 and not taken & set(more)


def test_neighbours_are_one_edge_mutations():
    arch = parse_arch(EXAMPLE)
    nbrs = SPACE.neighbours(arch)
    assert len(nbrs) == len(set(nbrs)) == 24
    for n in nbrs:
        assert sum(x != y for x, y in zip(n.ops, arch.ops, strict=True)) == 1


def test_canonical_form_partitions_into_6466_classes():
    classes = SPACE.canonical_classes()
    assert len(classes) == 6466
    assert sum(len(m) for m in classes.values()) == 15625
    for rep, members in classes.items():
        assert SPACE.canonical(rep) == rep
        assert all(SPACE.canonical(m) == rep for m in members)


def test_canonical_examples_follow_nb201_convention():
    # A skip edge passes its input through: conv(skip(x)) == conv(x).
    a = parse_arch("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|")
    b = parse_arch("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|")
    assert SPACE.canonical(a) == SPACE.canonical(b)
    # Whatever is fed only by `none` is zero, so ops after it do not matter.
    c = parse_arch("|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|")
    assert SPACE.canonical(b) == SPACE.canonical(c)
    # Different ops are different functions.
    d = parse_arch("|none~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|skip_connect~2|")
    assert SPACE.canonical(b) != SPACE.canonical(d)


def test_canonical_partition_matches_hw_nas_bench_360(catalog):
    frame = catalog.get("hw-nas-bench-360").frame
    reps = dict(zip(frame["arch_str"], frame["rep_arch_index"].astype(int), strict=True))
    index = dict(zip(frame["arch_str"], frame["arch_index"].astype(int), strict=True))
    lowest: dict[NB201Arch, int] = {}
    for arch_str, i in index.items():
        rep = SPACE.canonical(parse_arch(arch_str))
        lowest[rep] = min(i, lowest.get(rep, i))
    mismatches = [s for s in index if lowest[SPACE.canonical(parse_arch(s))] != reps[s]]
    assert not mismatches
    assert len(set(reps.values())) == 6466


def test_encoding_and_soft_encoding_agree():
    arch = parse_arch(EXAMPLE)
    enc = SPACE.encode(arch)
    assert enc.features.shape == (8, 8) and enc.adjacency.shape == (8, 8)
    assert enc.features[:, :7].sum() == 8 and enc.features[1:7, 7].tolist() == [1, 1, 1, 1, 1, 1]
    onehot = torch.eye(len(OPS))[list(arch.op_indices)].unsqueeze(0)
    feats, adj = SPACE.soft_encode(onehot)
    assert np.array_equal(feats[0].numpy(), enc.features)
    assert np.array_equal(adj[0].numpy(), enc.adjacency)
    # input feeds the three edges out of node 0; the three edges into node 3 feed the output
    assert enc.adjacency[0].sum() == 3 and enc.adjacency[:, 7].sum() == 3
    assert np.all(np.triu(enc.adjacency, 1) == enc.adjacency)


def test_live_flag_marks_exactly_the_edges_on_an_input_to_output_path():
    # Independent oracle: graph reachability over the edges whose op is not `none`.
    for arch in SPACE.enumerate():
        kept = [edge for edge, op in zip(EDGES, arch.ops, strict=True) if op != "none"]

        def path(a: int, b: int, kept: list = kept) -> bool:
            return a == b or any(src == a and path(dst, b) for src, dst in kept)

        live = SPACE.encode(arch).features[1:7, 7]
        expected = [
            op != "none" and path(0, src) and path(dst, 3) for (src, dst), op in zip(EDGES, arch.ops, strict=True)
        ]
        assert live.tolist() == expected, str(arch)


def test_soft_live_flag_is_differentiable_and_exact_on_one_hot_inputs():
    rng = np.random.default_rng(0)
    archs = SPACE.sample_distinct(rng, 200)
    onehot = torch.eye(len(OPS))[[list(a.op_indices) for a in archs]]
    feats, _ = SPACE.soft_encode(onehot)
    assert np.array_equal(feats.numpy(), np.stack([SPACE.encode(a).features for a in archs]))
    logits = torch.zeros(1, 6, len(OPS), requires_grad=True)
    feats, _ = SPACE.soft_encode(torch.softmax(logits, -1))
    feats[..., 7].sum().backward()
    assert logits.grad is not None and logits.grad[..., 0].abs().min() > 0  # `none` lowers liveness


def test_choices_round_trip():
    arch = parse_arch(EXAMPLE)
    ops, edges = SPACE.choices(arch)
    assert edges is None and SPACE.from_choices(ops) == arch
