"""The rack workload simulation: seeded request mixes (shared system prompts, multi-turn
conversations, unique prompts) routed over the rack's workers, with prefix hit rates, load balance
and what peer-HBM fetches and the hypothetical switch tier would add."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..hardware import get_gpu
from ..models import ModelArch, get_model
from ..topology import NVL72Topology
from ..units import require_positive_int
from .blocks import CapacityError, NVL72KVBManager
from .hashing import block_hashes, chain, sequence_hashes
from .routing import POLICIES, Router
from .tiers import NVSwitchMemoryTier


@dataclass(frozen=True)
class Workload:
    """Request mix: shared system prompts, multi-turn conversations that extend their own prefix,
    and unique prompts. Sizes in tokens."""

    n_system_prompts: int = 16
    system_prompt_tokens: int = 2048
    frac_system: float = 0.5
    frac_multiturn: float = 0.3  # the rest are unique prompts
    n_conversations: int = 400
    turn_tokens: int = 256
    unique_tokens: int = 1024
    user_tokens: int = 128
    #: Turns after which a conversation ends and its slot starts a new one from its system prompt;
    #: None: conversations never end, so their requests grow without bound with the run.
    max_turns: int | None = None

    def __post_init__(self):
        if not 0 <= self.frac_system <= 1 or not 0 <= self.frac_multiturn <= 1 - self.frac_system:
            raise ValueError("frac_system and frac_multiturn must be >= 0 and add up to at most 1")
        if self.max_turns is not None:
            require_positive_int("max_turns", self.max_turns)


def generate_requests(n: int, workload: Workload = Workload(), *, block_size: int = 16, rng_seed: int = 0) -> list[list[int]]:
    """``n`` requests as lists of sequence hashes (seeded). System-prompt requests share one of the
    prompts and add a unique question; a conversation's next turn extends its previous request
    (until ``workload.max_turns``, when set); unique prompts share nothing."""
    return list(iter_requests(n, workload, block_size=block_size, rng_seed=rng_seed))


def iter_requests(n: int, workload: Workload = Workload(), *, block_size: int = 16, rng_seed: int = 0):
    """:func:`generate_requests` one request at a time (the same requests for the same seed), so a
    long run never holds them all: :func:`simulate_rack` takes any iterable."""
    require_positive_int("n", n)
    rng = np.random.default_rng(rng_seed)
    vocab = get_model("llama-3.1-405b").vocab

    def toks(k):
        return rng.integers(0, vocab, k, dtype=np.uint32)

    prompts = [sequence_hashes(toks(workload.system_prompt_tokens), block_size)
               for _ in range(workload.n_system_prompts)]
    popularity = 1 / np.arange(1, workload.n_system_prompts + 1)
    popularity /= popularity.sum()
    conv: dict[int, list[int]] = {}
    turns: dict[int, int] = {}
    kinds = rng.choice(3, size=n, p=[workload.frac_system, workload.frac_multiturn,
                                     1 - workload.frac_system - workload.frac_multiturn])
    for k in kinds:
        if k == 0:
            base = prompts[rng.choice(workload.n_system_prompts, p=popularity)]
            req = base + chain(block_hashes(toks(workload.user_tokens), block_size), base[-1])
        elif k == 1:
            c = int(rng.integers(workload.n_conversations))
            if workload.max_turns is not None and turns.get(c, 0) >= workload.max_turns:
                conv.pop(c, None)  # the conversation ended: the slot starts a new one
                turns[c] = 0
            base = conv.get(c) or prompts[c % workload.n_system_prompts]
            req = base + chain(block_hashes(toks(workload.turn_tokens), block_size), base[-1])
            conv[c] = req
            turns[c] = turns.get(c, 0) + 1
        else:
            req = sequence_hashes(toks(workload.unique_tokens), block_size)
        yield req


@dataclass(frozen=True)
class RackResult:
    policy: str
    tp: int  # GPUs per worker (one TP group serves one replica of the model)
    workers: int  # the rack's GPUs / tp: what the router chooses among
    blocks_per_gpu: int  # KV memory per GPU, in whole blocks
    blocks_per_worker: int  # blocks one worker caches (its GPUs' memory pooled)
    requests: int
    hit_rate: float  # sum of locally cached prefix blocks / sum of request blocks
    prefill_tokens_saved: int
    load_imbalance: float  # max / mean prefill blocks computed per worker
    peer_hit_rate: float  # hit rate if prefix blocks cached on other workers are fetched over NVLink
    blocks_transferred: int  # blocks such fetches would move
    switch_hit_rate: float  # hit rate with the seed's hypothetical NVSwitch tier (0 if disabled)


def simulate_rack(requests, policy: str = "dynamo", *, tp: int = 8, num_gpus: int = 72,
                  blocks_per_gpu: int = 512, model: str | ModelArch = "llama-3.1-405b", active_window: int = 288,
                  block_size: int = 16, nvswitch_tier: bool = False, switch_capacity_blocks: int = 8192,
                  rng_seed: int = 0) -> RackResult:
    """Route ``requests`` (sequence-hash lists) with ``policy`` over the rack's workers: one worker
    per TP group of ``tp`` GPUs (the seed's 405B at TP8 on 72 GPUs: 9 workers). ``blocks_per_gpu``
    is each GPU's KV memory counted in whole blocks; a worker pools its GPUs' memory and holds each
    block split over them by KV head, so it caches ``blocks_per_gpu x kv_heads / kv heads per GPU``
    blocks (``x tp`` while tp <= the model's KV heads; fewer beyond, where heads are replicated):
    the rack's memory is the same at every ``tp``. Each request holds its blocks for the next
    ``active_window`` arrivals (its decode), then releases them (they stay cached until evicted).
    Reports the local prefix hit rate and, counted on the same run, what fetches from other
    workers' HBM over NVLink and the hypothetical NVSwitch tier (one per 8-GPU domain of the seed,
    shared by the workers whose GPUs it holds) would add."""
    require_positive_int("tp", tp)
    require_positive_int("num_gpus", num_gpus)
    if num_gpus % tp:
        raise ValueError(f"num_gpus={num_gpus} is not a whole number of TP{tp} workers")
    get_gpu("gb200-b200").require_tp(tp)
    require_positive_int("blocks_per_gpu", blocks_per_gpu)
    m = model if isinstance(model, ModelArch) else get_model(model)
    workers = num_gpus // tp
    blocks_per_worker = int(blocks_per_gpu * m.kv_heads / m.kv_heads_per_gpu(tp))
    kv = NVL72KVBManager(workers, blocks_per_worker)  # 72 single-GPU workers get the rack's topology
    router = Router(policy, rng_seed=rng_seed)
    active = np.zeros(kv.num_gpus, dtype=int)
    live: deque[tuple[int, list[int]]] = deque()
    computed = np.zeros(kv.num_gpus, dtype=int)
    domain_size = NVL72Topology.SEED_DOMAIN_SIZE
    n_domains = -(-num_gpus // domain_size)
    switches = [NVSwitchMemoryTier(d, capacity_bytes=switch_capacity_blocks, block_bytes=1)
                for d in range(n_domains)] if nvswitch_tier else []
    readers: dict[tuple[int, int], set[int]] = {}  # (domain, block) -> workers of the domain that read it
    total = local = peer = moved = switch = count = 0
    for hashes in requests:  # any iterable of sequence-hash lists (iter_requests streams them)
        count += 1
        if not hashes:
            raise ValueError("every request needs at least one full block")
        overlaps = kv.prefix_overlap(hashes)
        g = router.route(kv, hashes, active, overlaps)
        mine, best = int(overlaps[g]), int(overlaps.max())
        total += len(hashes)
        local += mine
        peer += best
        moved += best - mine
        if switches:
            dom = g * tp // domain_size  # the domain of the worker's first GPU
            sw = switches[dom]
            extra = 0
            for h in hashes[mine:]:
                if not sw.read_block(h):
                    break
                extra += 1
            switch += mine + extra
            for h in hashes[:mine + extra]:
                who = readers.setdefault((dom, h), set())
                if g not in who:
                    who.add(g)
                    if len(who) == 3:  # the seed's rule: read by 3 or more GPUs of the domain
                        sw.promote_block(h)
        while len(live) >= active_window:
            og, oh = live.popleft()
            kv.release(og, oh)
            active[og] -= len(oh)
        try:
            kv.allocate(g, hashes)
        except CapacityError:  # the worker is full of live blocks: serve without caching this request
            pass
        else:
            live.append((g, hashes))
            active[g] += len(hashes)
        computed[g] += len(hashes) - mine
    return RackResult(policy, tp, workers, blocks_per_gpu, blocks_per_worker, count, local / total, local * block_size,
                      float(computed.max() / max(computed.mean(), 1e-9)), peer / total, moved,
                      switch / total if switches else 0.0)


def rack_table(requests: list[list[int]], policies=POLICIES, cache_sizes=(1024, 4096), **kw) -> "pd.DataFrame":  # noqa: F821
    """:func:`simulate_rack` for each policy and cache size (KV memory per GPU, in whole blocks)."""
    import pandas as pd

    return pd.DataFrame([simulate_rack(requests, p, blocks_per_gpu=c, **kw).__dict__
                         for c in cache_sizes for p in policies])
