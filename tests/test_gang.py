"""Schedulers: hand-checked placements and hypothesis-driven allocate/release sequences."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvlmodel import gang

ops = st.lists(st.tuples(st.sampled_from(["alloc", "release"]), st.sampled_from(gang.TP_SIZES),
                         st.integers(0, 40)), max_size=80)


def test_seed_placement_by_hand():
    s = gang.NVL72GangScheduler()
    assert s.allocate_tp_group("a", 8) == list(range(0, 8))   # all domains free: domain 0
    assert s.allocate_tp_group("b", 4) == [8, 9, 10, 11]       # domain 1 has the most free (8)
    assert s.allocate_tp_group("c", 4) == [16, 17, 18, 19]     # domain 2 now has the most free
    assert s.domain_utilization[:3] == [8, 4, 4]
    assert s.is_same_domain([8, 9, 10, 11]) and not s.is_same_domain([7, 8])


def test_seed_refuses_when_no_domain_fits_though_gpus_are_free():
    s = gang.NVL72GangScheduler()
    for d in range(9):  # leave 4 GPUs free in every domain: 36 free, no domain with 8
        s.allocate_tp_group(f"x{d}", 4)
    assert len(s.free_gpus) == 36
    with pytest.raises(gang.ResourceExhaustedError, match="No NVSwitch domain has 8 free GPUs"):
        s.allocate_tp_group("big", 8)
    assert len(gang.FabricScheduler().free_gpus) == 72


def test_fabric_prefers_whole_trays_and_superchips():
    f = gang.FabricScheduler()
    assert f.allocate_tp_group("a", 8) == list(range(8))       # trays 0 and 1
    assert f.allocate_tp_group("b", 2) == [8, 9]               # one superchip
    assert f.allocate_tp_group("c", 4) == [12, 13, 14, 15]     # a whole tray, not the 2 left in tray 2
    assert f.allocate_tp_group("d", 2) == [10, 11]             # best fit: the tray with exactly 2 free


def test_bump_pointer_of_the_seed_overlaps_after_release():
    b, c = gang.seed_bump_pointer_overlap()
    assert set(b) & set(c) == {4, 5, 6, 7}


@settings(max_examples=150, deadline=None)
@given(ops, st.sampled_from(list(gang.SCHEDULERS)))
def test_invariants_under_any_sequence(seq, name):
    s = gang.make_scheduler(name)
    live = {}
    for op, tp, key in seq:
        if op == "release":
            if key in live:
                freed = s.release(key)
                assert all(s.owner[g] is None for g in freed)  # released GPUs are free
                del live[key]
            continue
        if key in live:
            continue
        free_before = set(s.free_gpus)
        if isinstance(s, gang.NVL72GangScheduler):
            should_fit = any(8 - u >= tp for u in s.domain_utilization)  # the seed's rule
        else:
            should_fit = len(free_before) >= tp
        try:
            gpus = s.allocate_tp_group(key, tp)
        except gang.ResourceExhaustedError:
            assert not should_fit
            continue
        assert should_fit
        assert len(gpus) == tp and len(set(gpus)) == tp and set(gpus) <= free_before
        if isinstance(s, gang.NVL72GangScheduler):
            assert s.is_same_domain(gpus)
        live[key] = gpus
    owned = [g for gpus in live.values() for g in gpus]
    assert len(owned) == len(set(owned))  # no GPU in two groups
    assert sorted(owned) == sorted(g for g, o in enumerate(s.owner) if o is not None)


def test_churn_is_deterministic_and_the_fabric_never_fragments():
    a = gang.simulate_churn("seed", load=0.8, arrivals=800, rng_seed=3)
    assert a == gang.simulate_churn("seed", load=0.8, arrivals=800, rng_seed=3)
    f = gang.simulate_churn("fabric", load=0.8, arrivals=800, rng_seed=3)
    assert f.refused_with_enough_free == 0
    assert a.fragmentation_rate > f.fragmentation_rate


@pytest.mark.parametrize("tp", [3, 16, 0, -2, 2.0, True])
def test_bad_tp_sizes(tp):
    with pytest.raises(ValueError, match="valid choices: 1, 2, 4, 8"):
        gang.NVL72GangScheduler().allocate_tp_group("g", tp)


def test_bad_release_and_duplicates():
    s = gang.FabricScheduler()
    s.allocate_tp_group("g", 2)
    with pytest.raises(KeyError, match="no live group 'h'; live groups: 'g'"):
        s.release("h")
    with pytest.raises(ValueError, match="already allocated"):
        s.allocate_tp_group("g", 2)
    with pytest.raises(ValueError, match="valid choices: seed, seed-best-fit, fabric"):
        gang.make_scheduler("random")
    with pytest.raises(ValueError, match="valid choices: most-free, best-fit"):
        gang.NVL72GangScheduler("worst-fit")
    with pytest.raises(ValueError, match="load"):
        gang.simulate_churn("seed", load=0)


def test_fabric_free_lists_kept_per_event_match_a_fresh_scan():
    """The fabric scheduler keeps each tray's free GPUs as groups come and go; rebuilding them from
    a scan of all 72 GPUs before every placement must give the same decisions."""
    from unittest import mock

    class Scanning(gang.FabricScheduler):
        def _pick(self, tp):
            fresh: list[list[int]] = [[] for _ in range(18)]
            for g in self.free_gpus:
                fresh[self.topology.tray_of(g)].append(g)
            assert self._tray_free == fresh  # the incremental lists are exactly the free GPUs, ascending
            assert self._counts == [len(f) for f in fresh]
            return super()._pick(tp)

    for load in (0.7, 1.2):
        with mock.patch.dict(gang.SCHEDULERS, {"scan": Scanning}):
            a = gang.simulate_churn("scan", load=load, arrivals=1500, rng_seed=3)
        b = gang.simulate_churn("fabric", load=load, arrivals=1500, rng_seed=3)
        assert (a.refused, a.refused_with_enough_free, a.mean_busy_gpus) == (b.refused, b.refused_with_enough_free,
                                                                             b.mean_busy_gpus)
    sched = gang.make_scheduler("seed")  # the seed's counters are kept per event too
    sched.allocate_tp_group("x", 8)
    assert sched.n_free == 64 and sched.domain_utilization[0] == 8
    sched.release("x")
    assert sched.n_free == 72 and sched.domain_utilization == [0] * 9
