"""ModelExpress planning and simulation: hand calculations and hypothesis invariants."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvlmodel import modelexpress as mx
from nvlmodel.topology import NVL72Topology


def _express(view="datasheet", gpus=(0, 1, 8, 9), fmt="fp8"):
    e = mx.BlackwellModelExpress(preset=view)
    e.register("m", "llama-70b", fmt, list(gpus))
    return e


def test_seed_transfer_times_by_hand():
    # Lines 108-112: 70 GB / 900 GB/s = 77.8 ms, 70 GB / 1.8 TB/s = 38.9 ms, 35 GB / 1.8 TB/s = 19.4 ms
    assert mx.get_path("nvlink-seed").load_time(35e9) == pytest.approx(35e9 / 1.8e12)
    e = _express("seed", gpus=(0,), fmt="fp4-seed")
    p = e.plan_transfer("m", [0], 1)  # same superchip: distance 0 at 1.8 TB/s
    assert p.transfers[0].hops == 0 and p.transfers[0].estimated_time_s * 1e3 == pytest.approx(19.444, abs=1e-3)


def test_plan_sorted_by_proximity_with_seed_bandwidths():
    p = _express("seed").plan_transfer("m", [9, 8, 1, 0], 2)
    # target 2: GPUs 0, 1 share its domain (1 hop, 1.6 TB/s); 8, 9 are in domain 1 (2 hops, 1.2 TB/s)
    assert [(t.src, t.hops, t.bandwidth) for t in p.transfers] == [
        (0, 1, 1.6e12), (1, 1, 1.6e12), (8, 2, 1.2e12), (9, 2, 1.2e12)]
    assert p.total_bytes == pytest.approx(70e9)
    assert p.independent_parallel_time_s == pytest.approx(17.5e9 / 1.2e12)


def test_ingress_sharing_by_hand():
    p = _express("datasheet").plan_transfer("m", [0, 1, 8, 9], 2)
    tl = mx.simulate(p, ingress_bw=900e9, latency_s=2e-6)
    shard = 70_553_706_496 / 4
    # Four equal flows share 900 GB/s into GPU 2: all end together at latency + 4 x shard / 900 GB/s
    assert mx.makespan(tl) == pytest.approx(2e-6 + 4 * shard / 900e9)
    assert p.independent_parallel_time_s == pytest.approx(shard / 900e9)  # the seed's assumption


def test_infeasible_plans_say_why():
    e = _express("datasheet")
    p = e.plan_transfer("m", [0, 1], 2)
    assert not p.feasible and "rank(s) [2, 3]" in p.reason and p.transfers == []
    p = e.plan_transfer("m", [0, 1, 8, 9], 2, target_free_bytes=10e9)
    assert not p.feasible and "has 10.0 GB free" in p.reason
    with pytest.raises(ValueError, match="infeasible"):
        mx.simulate(p, ingress_bw=900e9)


def test_target_holding_a_shard_moves_only_the_rest():
    p = _express("datasheet").plan_transfer("m", [0, 1, 8, 9], 8)
    assert p.already_on_target == [2] and sorted(t.rank for t in p.transfers) == [0, 1, 3]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 71), min_size=1, max_size=8, unique=True), st.integers(0, 71),
       st.sampled_from(["seed", "datasheet"]), st.floats(0, 1e-5))
def test_each_shard_moves_once_and_makespan_is_bounded(gpus, target, view, latency):
    e = mx.BlackwellModelExpress(preset=view)
    shards = e.register("m", "llama-3.1-8b", "nvfp4", gpus)
    p = e.plan_transfer("m", gpus + gpus[:1], target)  # a repeated source must not move twice
    assert p.feasible
    moved = {}
    for t in p.transfers:
        moved[t.rank] = moved.get(t.rank, 0) + t.nbytes
    for s in shards:
        assert moved.get(s.rank, 0) == (0 if s.gpu == target else s.nbytes)
    ingress = NVL72Topology(view).system.gpu.nvlink_bw_per_direction
    span = mx.makespan(mx.simulate(p, ingress_bw=ingress, latency_s=latency))
    if p.transfers:
        assert span >= latency + p.total_bytes / ingress * (1 - 1e-9)
        assert span <= latency + sum(t.nbytes / min(t.bandwidth, ingress) for t in p.transfers) * (1 + 1e-9)


def test_paths_and_swap_table():
    assert mx.get_path("rdma-400g").per_gpu_bandwidth == 50e9
    assert mx.get_path("local-storage").per_gpu_bandwidth == pytest.approx(14e9 * 11 / 70)
    t = mx.swap_time_table().set_index(["model", "format", "path"])
    assert t.loc[("Llama 3.1 70B", "nvfp4", "nvlink"), "seconds"] == pytest.approx(70_553_706_496 * 0.5625 / 900e9)


def test_sharing_is_deterministic_and_cheap_swaps_pay():
    a = mx.simulate_sharing(swap_s=0.05, requests=1500, rng_seed=2)
    assert a == mx.simulate_sharing(swap_s=0.05, requests=1500, rng_seed=2)
    d = mx.simulate_sharing(swap_s=0.05, policy="dedicated", requests=1500, rng_seed=2)
    assert d.swaps == 0 and a.mean_wait_s < d.mean_wait_s
    slow = mx.simulate_sharing(swap_s=100.0, requests=1500, rng_seed=2)
    assert slow.mean_wait_s > d.mean_wait_s


def test_bad_input():
    e = _express()
    with pytest.raises(KeyError, match="unknown model 'x'; registered: m"):
        e.plan_transfer("x", [0], 1)
    with pytest.raises(ValueError, match="GPU id must be in 0..71"):
        e.plan_transfer("m", [0, 72], 1)
    with pytest.raises(ValueError, match="duplicates"):
        e.register("n", "llama-70b", "fp8", [3, 3])
    with pytest.raises(ValueError, match="ingress_bw must be a finite number > 0"):
        mx.simulate(e.plan_transfer("m", [0, 1, 8, 9], 2), ingress_bw=0)
    with pytest.raises(ValueError, match="valid choices: .*rdma-800g"):
        mx.get_path("carrier-pigeon")
    with pytest.raises(ValueError, match="shard_bytes"):
        mx.get_path("nvlink").load_time(-1)
    with pytest.raises(ValueError, match="valid choices: shared, dedicated"):
        mx.simulate_sharing(swap_s=1, policy="random")


def test_offered_utilisation_by_hand():
    from nvlmodel import modelexpress as mx

    # Zipf(1) over 8 models: the top model has 1 / H_8 = 1 / 2.7179 of the requests; at pool load 0.5
    # its dedicated GPU is offered 0.5 x 8 / 2.7179 = 1.4717: no steady state
    h8 = sum(1 / k for k in range(1, 9))
    u = mx.offered_utilisation(8, 8, load=0.5)
    assert u[0] == pytest.approx(0.5 * 8 / h8) and u.sum() == pytest.approx(0.5 * 8)
    assert mx.stable_load(8, 8) == pytest.approx(h8 / 8)
    assert (mx.offered_utilisation(8, 8, load=0.5, policy="shared") == 0.5).all()


def test_sharing_crossover_is_a_property_of_the_load_not_the_run():
    """At a load where every dedicated GPU is below saturation the dedicated wait and the crossover
    stay put as the run grows; at the overloaded load the dedicated wait grows with the run (the
    artefact the earlier chapter plotted)."""
    from nvlmodel import modelexpress as mx

    grid = {f"{x:.3g}": float(x) for x in np.logspace(-3, 2, 16)}
    stable = {n: mx.sharing_sweep(grid, load=0.25, requests=n) for n in (3000, 12000)}
    a, b = (mx.crossover_swap_s(stable[n]) for n in (3000, 12000))
    assert 1 / 1.5 < a / b < 1.5
    ded = {n: s[s.policy == "dedicated"].mean_wait_s.iloc[0] for n, s in stable.items()}
    assert 1 / 1.35 < ded[3000] / ded[12000] < 1.35
    assert max(s[s.policy == "dedicated"].busiest_utilisation.max() for s in stable.values()) < 0.8
    over = {n: mx.simulate_sharing(swap_s=0.01, policy="dedicated", load=0.5, requests=n).mean_wait_s
            for n in (1000, 12000)}
    assert over[12000] > 3 * over[1000]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(0.1, 10.0)), min_size=1, max_size=25),
       st.floats(0.5, 20.0), st.floats(0.5, 20.0))
def test_max_min_rates_match_progressive_filling(spec, ingress, egress):
    from nvlmodel.modelexpress import _max_min_rates, _progressive_filling_rates as _reference_max_min

    flows = list(range(len(spec)))
    caps = {f: c for f, (_, c) in enumerate(spec)}
    uses = {f: (("in", 0), ("out", src)) for f, (src, _) in enumerate(spec)}
    capacity = {r: (ingress if r[0] == "in" else egress) for u in uses.values() for r in u}
    fast, ref = _max_min_rates(flows, caps, uses, capacity), _reference_max_min(flows, caps, uses, capacity)
    assert fast.keys() == ref.keys()
    for f in flows:
        assert fast[f] == pytest.approx(ref[f], rel=1e-9)
    for r, c in capacity.items():  # feasible: no resource over its capacity, no flow over its cap
        assert sum(fast[f] for f in flows if r in uses[f]) <= c * (1 + 1e-9)
    assert all(fast[f] <= caps[f] * (1 + 1e-12) for f in flows)
