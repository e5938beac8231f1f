"""KVBM: capacity pinned by hand, Dynamo hashing, a hypothesis state machine over the block
managers and the rack directory, routing on hand-built cases."""

import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from nvlmodel import kvbm
from nvlmodel.topology import NVL72Topology


def test_seed_capacity_by_hand():
    c = kvbm.compute_kv_capacity(kvbm.SEED_LLAMA_405B, kvbm.SEED_B200, kvbm.SEED_NVL72)
    per_token = 2 * 126 * 8 * 128 * 1  # 258,048 bytes (line 238)
    budget = 192e9 - 405e9 * 0.5 / 8 - 3e9  # 163.6875 GB (line 239)
    assert c["kv_bytes_per_token"] == per_token == 258_048
    assert c["kv_budget_per_gpu_gb"] == pytest.approx(budget / 1e9)
    assert c["tokens_per_gpu"] == int(budget / per_token) == 634_329
    assert c["total_tokens"] == int(budget / per_token * 72)
    assert c["total_context_windows_128k"] == 356


def test_capacity_table_seed_and_datasheet_by_hand():
    seed = kvbm.capacity_table("seed").set_index("configuration")
    h = seed.loc["8x H100 (FP8 weights, FP16 KV)"]
    assert h.kv_budget_per_gpu_gb == pytest.approx(80 - 405 / 8 - 3)  # 26.375 GB, not the printed 42.5
    assert h.tokens_cached == pytest.approx(8 * 26.375e9 / 516_096)
    assert h.sessions_128k == pytest.approx(h.tokens_cached / 128_000)
    ds = kvbm.capacity_table("datasheet").set_index("configuration").loc["72x B200 NVL72 (FP4 weights, FP8 KV)"]
    weights = 405_853_388_800 * 0.5625 / 8
    assert ds.kv_budget_per_gpu_gb == pytest.approx((189_471 * 2**20 - weights - 3e9) / 1e9)


def test_capacity_bad_input():
    with pytest.raises(ValueError, match="no room for KV"):
        kvbm.kv_capacity("h100", "llama-405b", "fp16", tp=2)
    with pytest.raises(ValueError, match="tp must be a positive int"):
        kvbm.kv_capacity("b200", tp=0)
    with pytest.raises(ValueError, match="no room for KV"):
        kvbm.compute_kv_capacity(kvbm.SEED_LLAMA_405B, {"hbm_gb": 20}, kvbm.SEED_NVL72)


def test_dynamo_block_hashes_by_hand():
    tokens = np.arange(40, dtype=np.uint32)
    blocks = kvbm.block_hashes(tokens, 16)
    assert len(blocks) == 2  # the partial last block (8 tokens) is ignored
    assert blocks[0] == xxhash.xxh3_64_intdigest(np.arange(16, dtype="<u4").tobytes(), seed=1337)
    seq = kvbm.sequence_hashes(tokens, 16)
    assert seq[0] == blocks[0]
    assert seq[1] == xxhash.xxh3_64_intdigest(seq[0].to_bytes(8, "little") + blocks[1].to_bytes(8, "little"), seed=1337)


def test_equal_prefixes_give_equal_hashes_and_diverge_after():
    a = np.arange(64, dtype=np.uint32)
    b = a.copy()
    b[40] = 999
    ha, hb = kvbm.sequence_hashes(a), kvbm.sequence_hashes(b)
    assert ha[:2] == hb[:2] and ha[2] != hb[2] and ha[3] != hb[3]  # block 3 differs through its prefix


def test_hashing_bad_input():
    with pytest.raises(ValueError, match="empty token list"):
        kvbm.block_hashes([])
    with pytest.raises(ValueError, match="u32"):
        kvbm.block_hashes([-1, 2])
    with pytest.raises(TypeError, match="integers"):
        kvbm.block_hashes([1.5, 2.0])
    with pytest.raises(ValueError, match="block_size"):
        kvbm.block_hashes([1, 2], 0)


def test_local_manager_lru_and_refs():
    m = kvbm.LocalBlockManager(2)
    m.allocate(1), m.allocate(2)
    with pytest.raises(kvbm.CapacityError, match="nothing is evictable"):
        m.allocate(3)
    m.release(1)
    assert m.allocate(3) == [1]  # 1 was the only unreferenced block
    with pytest.raises(KeyError, match="unknown block"):
        m.get_block(1)
    m.release(2)
    with pytest.raises(ValueError, match="no reference to release"):
        m.release(2)


def test_rack_allocation_is_all_or_nothing():
    kv = kvbm.NVL72KVBManager(blocks_per_gpu=4)
    kv.allocate(0, [1, 2, 3])
    with pytest.raises(kvbm.CapacityError, match="cannot take 2 new blocks"):
        kv.allocate(0, [4, 5])
    assert set(kv.gpu_managers[0].refs) == {1, 2, 3}
    kv.check()


def test_transfer_block_time_by_hand():
    kv = kvbm.NVL72KVBManager(blocks_per_gpu=8, block_bytes=5.24e6, topology=NVL72Topology("seed"))
    kv.allocate(0, [7])
    assert kv.transfer_block(7, 0, 1) == pytest.approx(5.24e6 / 1.8e12)  # the seed's 2.9 us
    assert kv.lookup_block(7) == [0, 1]
    real = kvbm.NVL72KVBManager(blocks_per_gpu=8, block_bytes=5.24e6)
    real.allocate(0, [7])
    assert real.transfer_block(7, 0, 1) == pytest.approx(5.24e6 / 900e9)  # 5.8 us one way
    with pytest.raises(KeyError, match="unknown block"):
        real.transfer_block(8, 0, 1)


def test_directory_members_by_hand():
    assert kvbm.members(0) == []
    assert kvbm.members(0b1011) == [0, 1, 3]
    assert kvbm.members(1 << 71 | 1 << 5) == [5, 71]
    kv = kvbm.NVL72KVBManager(blocks_per_gpu=4)
    kv.allocate(71, [9])
    kv.allocate(2, [9, 8])
    assert kv.directory == {9: 1 << 71 | 1 << 2, 8: 1 << 2} and kv.lookup_block(9) == [2, 71]
    assert kv.prefix_overlap([9, 8, 7]).tolist() == [0, 0, 2] + [0] * 68 + [1]


class RackMachine(RuleBasedStateMachine):
    """Random allocate / release / transfer sequences keep every invariant."""

    def __init__(self):
        super().__init__()
        self.kv = kvbm.NVL72KVBManager(blocks_per_gpu=6)
        self.held: list[tuple[int, list[int]]] = []

    @rule(gpu=st.integers(0, 3), blocks=st.lists(st.integers(0, 15), min_size=1, max_size=5, unique=True))
    def allocate(self, gpu, blocks):
        before = {g: dict(m.refs) for g, m in enumerate(self.kv.gpu_managers[:4])}
        try:
            self.kv.allocate(gpu, blocks)
        except kvbm.CapacityError:
            assert {g: dict(m.refs) for g, m in enumerate(self.kv.gpu_managers[:4])} == before  # nothing changed
            return
        self.held.append((gpu, blocks))

    @precondition(lambda self: self.held)
    @rule(i=st.integers(0, 100))
    def release(self, i):
        gpu, blocks = self.held.pop(i % len(self.held))
        self.kv.release(gpu, blocks)

    @rule(src=st.integers(0, 3), dst=st.integers(0, 3), block=st.integers(0, 15))
    def transfer(self, src, dst, block):
        if src == dst or block not in self.kv.gpu_managers[src]:
            return
        try:
            self.kv.transfer_block(block, src, dst)
        except kvbm.CapacityError:
            pass

    @invariant()
    def consistent(self):
        self.kv.check()  # directory == union of managers, capacity, no negative references
        query = [3, 1, 4, 15, 9, 2, 6, 5]  # prefix overlap from the directory's bitmasks = from each manager
        want = [next((i for i, b in enumerate(query) if b not in m), len(query)) for m in self.kv.gpu_managers]
        assert self.kv.prefix_overlap(query).tolist() == want
        for gpu, blocks in self.held:  # nothing a live request holds was lost
            assert all(b in self.kv.gpu_managers[gpu] for b in blocks)
        for g, m in enumerate(self.kv.gpu_managers[:4]):  # references equal the live requests holding each block
            want: dict[int, int] = {}
            for gpu, blocks in self.held:
                if gpu == g:
                    for b in blocks:
                        want[b] = want.get(b, 0) + 1
            assert {b: r for b, r in m.refs.items() if r} == want


RackMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestRack = RackMachine.TestCase


def _kv_with(blocks_on: dict[int, list[int]]):
    kv = kvbm.NVL72KVBManager(blocks_per_gpu=64)
    for g, hs in blocks_on.items():
        kv.allocate(g, hs)
    return kv


def test_routing_policies_on_hand_built_cases():
    kv = _kv_with({3: [1, 2, 3], 5: [1, 2], 7: [9]})
    req = [1, 2, 3, 4]
    active = np.zeros(72, dtype=int)
    active[3] = 10
    assert list(kv.prefix_overlap(req)[[3, 5, 7]]) == [3, 2, 0]
    assert kvbm.Router("seed").route(kv, req, active) == 3  # most cached blocks
    # Dynamo: cost = 1 x (4 - overlap) + active: GPU 3 -> 1 + 10 = 11, GPU 5 -> 2, idle GPUs -> 4
    assert kvbm.Router("dynamo").route(kv, req, active) == 5
    # weight 20: GPU 3 -> 20 x 1 + 10 = 30, GPU 5 -> 20 x 2 = 40, idle GPUs -> 80
    assert kvbm.Router("dynamo", overlap_weight=20).route(kv, req, active) == 3
    assert kvbm.Router("least-loaded").route(kv, req, active) == 0
    assert kvbm.Router("seed").route(kv, [42], active) == 0  # no hit: least loaded
    r = kvbm.Router("random", rng_seed=1)
    assert 0 <= r.route(kv, req, active) < 72
    with pytest.raises(ValueError, match="valid choices: seed, dynamo, least-loaded, random"):
        kvbm.Router("round-robin")
    with pytest.raises(ValueError, match="at least one full block"):
        kvbm.Router("seed").route(kv, [], active)


def test_seed_and_fast_routers_agree():
    rng = np.random.default_rng(3)
    owner = {int(h): int(rng.integers(72)) for h in rng.integers(1, 2**63, 3000)}
    directory = {h: (g, i) for i, (h, g) in enumerate(owner.items())}
    index = kvbm.OwnerIndex(owner)
    keys = list(owner)
    for _ in range(30):
        req = [keys[int(i)] for i in rng.integers(0, len(keys), 50)] + [int(x) for x in rng.integers(1, 2**63, 5)]
        want = kvbm.seed_route_request(directory, req, 72, lambda: 71)
        assert kvbm.fast_route_request(owner, req, lambda: 71) == want == index.route(req, lambda: 71)
    assert kvbm.seed_route_request({}, [1, 2], 72, lambda: 9) == 9


def test_nvswitch_tier_as_specified():
    t = kvbm.NVSwitchMemoryTier(0, capacity_bytes=3, block_bytes=1)
    assert t.HYPOTHETICAL and t.capacity_blocks == 3
    assert not t.should_promote(1, {1: [0, 1, 1]}) and t.should_promote(1, {1: [0, 1, 2]})
    for b in (1, 2, 3):
        t.promote_block(b)
    assert t.read_block(1)  # 1 becomes most recent
    assert t.promote_block(4) == [2]
    assert not t.read_block(2)
    assert kvbm.NVSwitchMemoryTier(0).capacity == 128 * 1024**3  # the seed's code, not 128 GB


def test_rack_simulation_is_deterministic_and_sane():
    reqs = kvbm.generate_requests(600, rng_seed=4)
    a = kvbm.simulate_rack(reqs, "dynamo", blocks_per_gpu=64)
    assert a == kvbm.simulate_rack(reqs, "dynamo", blocks_per_gpu=64)
    assert 0 <= a.hit_rate <= a.peer_hit_rate <= 1
    lo = kvbm.simulate_rack(reqs, "least-loaded", blocks_per_gpu=64)
    assert a.hit_rate > lo.hit_rate  # KV-aware routing finds more prefix hits
    # Workers are TP groups: 405B at TP8 on 72 GPUs is 9 workers, at TP4 18, at TP1 72.
    assert (a.tp, a.workers) == (8, 9)
    assert kvbm.simulate_rack(reqs[:50], "dynamo", tp=4).workers == 18
    assert kvbm.simulate_rack(reqs[:50], "dynamo", tp=1).workers == 72
    with pytest.raises(ValueError, match="whole number of TP5 workers"):
        kvbm.simulate_rack(reqs[:5], "dynamo", tp=5)
    with pytest.raises(ValueError, match="NVLink domain"):
        kvbm.simulate_rack(reqs[:5], "dynamo", tp=144, num_gpus=144)


def test_requests_land_only_on_workers():
    reqs = kvbm.generate_requests(200, rng_seed=5)
    kv_seen = set()
    for policy in kvbm.POLICIES:
        r = kvbm.simulate_rack(reqs, policy, tp=8, blocks_per_gpu=32)
        kv_seen.add(r.workers)
        assert 0 <= r.hit_rate <= r.peer_hit_rate <= 1 and r.load_imbalance >= 1
    assert kv_seen == {9}
    with pytest.raises(ValueError, match="frac_system"):
        kvbm.Workload(frac_system=0.8, frac_multiturn=0.5)


def test_capacity_with_replicated_kv_heads():
    # 405B NVFP4 on GB200 at TP16: 16 GPUs, each holds 1/16 of the weights but one whole KV head of 8.
    weights = 405_853_388_800 * 0.5625 / 16
    budget = 189_471 * 2**20 - weights - 3e9
    per_gpu_token = 2 * 126 * 1 * 128 * 1.0  # one KV head per GPU, FP8
    c = kvbm.kv_capacity("gb200-b200", "llama-3.1-405b", "nvfp4", tp=16, num_gpus=64)
    assert c.tokens_per_replica == pytest.approx(budget / per_gpu_token)
    assert c.total_tokens == pytest.approx(4 * budget / per_gpu_token)  # 64 / 16 = 4 replicas
    # Without replication a TP16 group would hold twice as many tokens: it does not.
    assert c.total_tokens < 0.51 * 64 * budget / (2 * 126 * 8 * 128 / 16)
    with pytest.raises(ValueError, match="NVLink domain"):  # memory is per GPU over two nodes; not over four
        kvbm.kv_capacity("h100", "llama-3.1-405b", "fp8", tp=32, num_gpus=32)
    with pytest.raises(ValueError, match="capacity, free"):
        kvbm.kv_capacity("h100", "llama-3.1-70b", "fp8", tp=8, num_gpus=8, fraction_of="all")


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.integers(0, 2**64 - 1), st.integers(0, 71), max_size=300),
       st.lists(st.integers(0, 2**64 - 1), max_size=50), st.integers(0, 3))
def test_owner_index_agrees_with_the_dict(owner, extra, top_bits):
    # Force collisions: many keys share their top bits, so look-ups must probe past other keys.
    owner = {(k >> top_bits * 8) if top_bits else k: v for k, v in owner.items()}
    index = kvbm.OwnerIndex(owner, 72)
    queries = list(owner)[:100] + extra
    want = [owner.get(q, -1) for q in queries]
    assert list(index.owners(queries)) == want
    assert list(index.owners(kvbm.sequence_hashes_array(queries))) == want
    if queries:
        assert index.route(queries, lambda: -7) == kvbm.fast_route_request(owner, queries, lambda: -7)


def test_workers_pool_their_gpus_memory():
    reqs = kvbm.generate_requests(20, rng_seed=6)
    # 405B has 8 KV heads: a TP8 worker holds 8x a GPU's blocks; at TP16 heads are replicated, so
    # the 16 GPUs of a worker hold what 8 unreplicated GPUs would.
    assert kvbm.simulate_rack(reqs, tp=8, blocks_per_gpu=100).blocks_per_worker == 800
    assert kvbm.simulate_rack(reqs, tp=1, blocks_per_gpu=100).blocks_per_worker == 100
    assert kvbm.simulate_rack(reqs, tp=16, num_gpus=64, blocks_per_gpu=100).blocks_per_worker == 800


def test_what_changed_sets_the_record_beside_live_values():
    from nvlmodel import changelog

    t = changelog.what_changed("01-hardware").set_index("quantity")
    row = t.loc["B200 HBM visible to software"]
    assert row["before"] == 180.0 and row["edition"] == "1ba107a"  # the previous edition read MLPerf's label as GB
    assert row["now"] == pytest.approx(183_359 * 2**20 / 1e9)
    assert {c.key for c in changelog.CHANGES} <= set(changelog.previous())  # every change has its record
    with pytest.raises(ValueError, match="01-hardware"):
        changelog.what_changed("03-modelexpress")


def test_every_what_changed_table_computes():
    from nvlmodel import changelog

    for chapter in changelog.CHAPTERS:
        t = changelog.what_changed(chapter)
        # every quantity has a value now, but a ratio one of whose systems meets the rate no longer
        # (DeepSeek-R1 on H100 HGX at 50 tok/s/user: its experts span nodes, chapter 8)
        gone = t.quantity.str.contains("GB200 NVL72 / H100 HGX")
        assert len(t) and t["now"][~gone].notna().all(), chapter
        assert changelog.what_changed_table(chapter)["now"].map(lambda v: v == "—" or v == v).all()
        shown = changelog.what_changed_table(chapter)  # each reason written once, its quantities under it
        assert len(shown) == len(t) and shown.index.names == ["why", "quantity"], chapter
        reasons = list(shown.index.get_level_values("why"))
        assert reasons == sorted(reasons, key=reasons.index), chapter  # one run per reason
        assert set(shown.index.get_level_values("quantity")) == set(t.quantity), chapter


def test_streamed_requests_give_the_same_rack_result_and_conversations_can_end():
    from nvlmodel import kvbm

    listed = kvbm.simulate_rack(kvbm.generate_requests(600, rng_seed=4), "dynamo", blocks_per_gpu=256)
    streamed = kvbm.simulate_rack(kvbm.iter_requests(600, rng_seed=4), "dynamo", blocks_per_gpu=256)
    assert listed == streamed and streamed.requests == 600
    # conversations that end after 3 turns: no request longer than a system prompt plus 3 turns
    w = kvbm.Workload(max_turns=3, frac_system=0.0, frac_multiturn=1.0, n_conversations=4)
    longest = max(len(r) for r in kvbm.iter_requests(400, w))
    assert longest == (w.system_prompt_tokens + 3 * w.turn_tokens) // 16
    grows = max(len(r) for r in kvbm.iter_requests(400, kvbm.Workload(frac_system=0.0, frac_multiturn=1.0,
                                                                        n_conversations=4)))
    assert grows > 10 * longest
    with pytest.raises(ValueError, match="max_turns"):
        kvbm.Workload(max_turns=0)


def test_every_changed_chapter_has_its_section_and_links_to_it():
    """A chapter with entries in the changelog has a note, a section on the changes page, and a link
    to that section at its head (a new entry for a chapter cannot stay unseen)."""
    from pathlib import Path

    from nvlmodel import changelog

    nb = Path(__file__).resolve().parents[1] / "notebooks"
    page = (nb / "91-changes.md").read_text()
    for chapter in changelog.CHAPTERS:
        assert chapter in changelog.NOTES, chapter
        assert f"(changes-{chapter})=" in page, chapter
        head = (nb / f"{chapter}.md").read_text()[:2000]
        assert f"changes-{chapter}" in head, chapter
