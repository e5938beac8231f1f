"""Topology queries pinned to hand calculations; invariants over all GPU pairs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nvlmodel.topology import HGXTopology, NVL72Topology

SEED, REAL = NVL72Topology("seed"), NVL72Topology("datasheet")
gpu_ids = st.integers(min_value=0, max_value=71)


def test_placement_by_hand():
    # GPU 13: superchip 13 // 2 = 6, tray 13 // 4 = 3, seed domain 13 // 8 = 1
    assert (SEED.superchip_of(13), SEED.tray_of(13), SEED.domain_of(13)) == (6, 3, 1)
    assert REAL.domain_of(13) == 0
    assert SEED.gpus_of_superchip(6) == [12, 13]
    assert SEED.gpus_of_domain(8) == list(range(64, 72))
    assert (SEED.num_domains, REAL.num_domains) == (9, 1)
    assert (REAL.num_trays, REAL.num_superchips, REAL.num_gpus) == (18, 36, 72)


def test_seed_distances_and_bandwidths():
    assert SEED.link(12, 13).hops == 0 and SEED.bandwidth(12, 13) == 1.8e12  # same superchip
    assert SEED.link(8, 15).hops == 1 and SEED.bandwidth(8, 15) == 1.6e12  # same domain
    assert SEED.link(7, 8).hops == 2 and SEED.bandwidth(7, 8) == 1.2e12  # neighbours, other domain


def test_real_fabric_is_one_hop_at_900():
    assert REAL.link(12, 13).hops == 1 and REAL.bandwidth(12, 13) == 900e9
    assert REAL.link(0, 71).hops == 1 and REAL.bandwidth(0, 71) == 900e9


@given(gpu_ids, gpu_ids)
def test_links_are_symmetric_and_match_the_graph(a, b):
    if a == b:
        return
    for t in (SEED, REAL):
        assert t.link(a, b) == t.link(b, a)
    # Graph-derived switch hops agree with the closed form under the real view ...
    assert REAL.switch_hops_in_graph(a, b) == 1
    # ... and with the seed's distance (superchip pairs 0, same domain 1, else 2).
    assert SEED.switch_hops_in_graph(a, b) == SEED.hops(a, b)


def test_graph_counts():
    g = REAL.graph
    kinds = [k for _, k in g.nodes(data="kind")]
    assert kinds.count("gpu") == 72 and kinds.count("cpu") == 36 and kinds.count("tray") == 18
    assert kinds.count("switch_tray") == 9 and kinds.count("switch") == 18
    nvlinks = [e for e in g.edges(data="kind") if e[2] == "nvlink"]
    assert len(nvlinks) == 72 * 18
    # A GPU's links add up to its per-direction NVLink bandwidth.
    assert sum(d["bandwidth"] for _, _, d in g.edges("gpu:5", data=True) if d["kind"] == "nvlink") == pytest.approx(900e9)
    seed_kinds = [k for _, k in SEED.graph.nodes(data="kind")]
    assert seed_kinds.count("switch") == 9


def test_matrix():
    m = SEED.matrix("bandwidth")
    assert m.shape == (72, 72)
    assert m[0, 1] == 1.8e12 and m[0, 2] == 1.6e12 and m[0, 8] == 1.2e12
    h = REAL.matrix("hops")
    assert set(h[~np.isnan(h)].ravel()) == {1.0}


def test_hgx_h100():
    hgx = HGXTopology("h100")
    assert hgx.num_gpus == 8 and hgx.hops(0, 7) == 1 and hgx.bandwidth(0, 7) == 450e9
    # 18 links split 5/4/4/5 over 4 NVSwitch chips, 25 GB/s per link per direction.
    per_gpu = [d["bandwidth"] for _, _, d in hgx.graph.edges("gpu:0", data=True)]
    assert sorted(per_gpu) == pytest.approx([100e9, 100e9, 125e9, 125e9])
    with pytest.raises(ValueError, match="0..7"):
        hgx.link(0, 8)


@pytest.mark.parametrize("bad", [-1, 72, 100])
def test_gpu_out_of_range(bad):
    with pytest.raises(ValueError, match="GPU id must be in 0..71"):
        SEED.superchip_of(bad)
    with pytest.raises(ValueError, match="GPU id must be in 0..71"):
        REAL.link(0, bad)


def test_bad_view_and_self_link():
    with pytest.raises(ValueError, match="valid choices: seed, datasheet"):
        NVL72Topology("physical")
    with pytest.raises(ValueError, match="same GPU"):
        REAL.link(3, 3)
    with pytest.raises(ValueError, match="valid choices: bandwidth, hops"):
        REAL.matrix("latency")


def test_transfer_time_by_hand():
    # The seed's KV block: 5.24 MB over 1.8 TB/s = 2.911 us (line 304 prints 2.9 us).
    assert SEED.link(0, 1).transfer_time(5.24e6) == pytest.approx(5.24e6 / 1.8e12)
    # One direction of NVLink 5 is 900 GB/s: the same block takes twice as long.
    assert REAL.link(0, 1).transfer_time(5.24e6) == pytest.approx(5.24e6 / 0.9e12)
    # With the seed's 500 ns per hop, a cross-domain copy of 1.2 MB: 2 x 0.5 us + 1 us.
    assert SEED.link(0, 8).transfer_time(1.2e6, per_hop_latency_s=500e-9) == pytest.approx(2e-6)
    assert REAL.link(0, 1).transfer_time(0) == 0


@pytest.mark.parametrize("nbytes", [-1, -5.24e6, float("nan"), float("inf")])
def test_negative_or_nonfinite_sizes_raise(nbytes):
    with pytest.raises(ValueError, match="nbytes must be a finite number >= 0"):
        REAL.link(0, 1).transfer_time(nbytes)
    with pytest.raises(ValueError, match="per_hop_latency_s"):
        REAL.link(0, 1).transfer_time(1.0, per_hop_latency_s=-1e-9)
