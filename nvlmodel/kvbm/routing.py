"""Routing a request to a worker: the seed's ``route_request`` (lines 275-300) as written, the same
decision in O(blocks) (:class:`OwnerIndex`), and the policies of :class:`Router`, registered by name
in :data:`POLICIES`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..units import require_choice, require_positive
from .blocks import NVL72KVBManager, members


def seed_route_request(directory: dict[int, tuple[int, int]], prefix_hashes: list[int], num_gpus: int,
                       least_loaded_gpu) -> int:
    """The seed's ``route_request`` (lines 275-300) as written: for every GPU, count the request's
    blocks whose directory entry ``(gpu, local_block_id)`` names that GPU; the first GPU with the
    highest count wins; with no hit anywhere, ``least_loaded_gpu()``. O(GPUs x blocks)."""
    gpu_scores = {}
    for gpu_id in range(num_gpus):
        overlap = 0
        for block_hash in prefix_hashes:
            location = directory.get(block_hash)
            if location and location[0] == gpu_id:
                overlap += 1
        gpu_scores[gpu_id] = overlap
    best_gpu = max(gpu_scores, key=gpu_scores.get)
    if gpu_scores[best_gpu] == 0:
        return least_loaded_gpu()
    return best_gpu


def fast_route_request(owner: dict[int, int], prefix_hashes: list[int], least_loaded_gpu) -> int:
    """The same decision as :func:`seed_route_request` in O(blocks): count owners with a Counter;
    ties go to the lowest GPU id, as ``max`` over the seed's dict does."""
    counts = Counter(map(owner.get, prefix_hashes))  # C-speed counting; misses count under None
    counts.pop(None, None)
    return _most_blocks(counts, least_loaded_gpu)


def _most_blocks(counts: Counter, fallback) -> int:
    """The seed's choice: the GPU with the most blocks, the lowest id on ties (``max`` over its dict
    of GPUs 0..71 keeps the first), or ``fallback()`` when no GPU has any."""
    if not counts:
        return fallback()
    best = max(counts.values())
    return min(g for g, c in counts.items() if c == best)


class OwnerIndex:
    """A read-only snapshot of a warm directory (block hash -> GPU) as an open-addressing hash table
    in numpy arrays (load at most 1/8, linear probing), so that routing one request is a few
    vectorised probes: the seed's decision in O(blocks) C work. Block hashes are XXH3-64 values,
    uniformly spread, so their top bits index the table directly."""

    LOAD = 8  # table slots per cached block, at least

    def __init__(self, owner: dict[int, int], num_gpus: int = 72):
        keys = np.fromiter(owner.keys(), dtype=np.uint64, count=len(owner))
        vals = np.fromiter(owner.values(), dtype=np.int64, count=len(owner))
        if len(vals) and (vals.min() < 0 or vals.max() >= num_gpus):
            raise ValueError(f"owners must be GPU ids in 0..{num_gpus - 1}")
        bits = max(4, int(np.ceil(np.log2(max(len(keys), 1) * self.LOAD))))
        self.num_gpus, self.size, self.shift = num_gpus, 1 << bits, np.uint64(64 - bits)
        self.keys = np.zeros(self.size, dtype=np.uint64)
        self.owner = np.full(self.size, -1, dtype=np.int64)  # -1: empty slot
        pending = np.arange(len(keys))
        slot = (keys >> self.shift).astype(np.int64)
        while len(pending):  # place what lands on a free slot (first of equals wins), probe on for the rest
            cand = slot[pending]
            free = self.owner[cand] < 0
            _, first = np.unique(cand[free], return_index=True)
            placed = pending[free][first]
            self.keys[slot[placed]] = keys[placed]
            self.owner[slot[placed]] = vals[placed]
            rest = np.setdiff1d(pending, placed, assume_unique=True)
            slot[rest] = (slot[rest] + 1) & (self.size - 1)
            pending = rest

    def owners(self, hashes) -> np.ndarray:
        """The GPU holding each of ``hashes`` (a uint64 array, or a list of ints), -1 where none."""
        q = hashes if isinstance(hashes, np.ndarray) and hashes.dtype == np.uint64 else \
            np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
        slot = (q >> self.shift).astype(np.int64)
        own = self.owner[slot]  # the first probe, on whole arrays: it settles ~94% of look-ups
        keys = self.keys[slot]
        found = np.where(keys == q, own, -1)
        todo = np.flatnonzero((keys != q) & (own >= 0))
        if not len(todo):
            return found
        mask = self.size - 1
        slot[todo] = (slot[todo] + 1) & mask
        while len(todo):
            s = slot[todo]
            own = self.owner[s]
            hit = (self.keys[s] == q[todo]) & (own >= 0)
            found[todo[hit]] = own[hit]
            more = ~hit & (own >= 0)  # an occupied slot with another key: probe the next one
            todo = todo[more]
            slot[todo] = (s[more] + 1) & mask
        return found

    def route(self, prefix_hashes, least_loaded_gpu) -> int:
        """Same decision as :func:`seed_route_request` on the directory this index was built from:
        the GPU owning most of the request's blocks, the lowest id on ties, else ``least_loaded_gpu()``.
        ``prefix_hashes`` is best a uint64 array (see :func:`sequence_hashes_array`)."""
        own = self.owners(prefix_hashes)
        counts = np.bincount(own[own >= 0], minlength=self.num_gpus)
        return least_loaded_gpu() if counts.max() == 0 else int(np.argmax(counts))


def _route_seed(router: "Router", kv: NVL72KVBManager, hashes, active_blocks, overlaps) -> int:
    """Most blocks cached on a member (any position), least-loaded when none (the seed's rule)."""
    least = int(np.argmin(active_blocks))
    return _most_blocks(Counter(g for h in hashes for g in members(kv.directory.get(h, 0))), lambda: least)


def _route_dynamo(router: "Router", kv: NVL72KVBManager, hashes, active_blocks, overlaps) -> int:
    """Lowest ``overlap_weight x (blocks - prefix overlap) + active blocks``, ties at random, or
    sampled with p ~ exp(-normalised cost / temperature) when ``temperature > 0`` (Dynamo's router)."""
    if overlaps is None:
        overlaps = kv.prefix_overlap(hashes)
    cost = router.overlap_weight * (len(hashes) - overlaps) + active_blocks
    if router.temperature == 0:
        ties = np.flatnonzero(cost == cost.min())
        return int(ties[0] if len(ties) == 1 else router.rng.choice(ties))
    span = float(cost.max() - cost.min()) or 1.0
    p = np.exp(-((cost - cost.min()) / span) / router.temperature)
    return int(router.rng.choice(kv.num_gpus, p=p / p.sum()))


def _route_least_loaded(router: "Router", kv: NVL72KVBManager, hashes, active_blocks, overlaps) -> int:
    """Fewest active blocks (the lowest id on ties)."""
    return int(np.argmin(active_blocks))


def _route_random(router: "Router", kv: NVL72KVBManager, hashes, active_blocks, overlaps) -> int:
    """Uniformly at random."""
    return int(router.rng.integers(kv.num_gpus))


#: Routing policies by name: ``fn(router, kv, hashes, active_blocks, overlaps) -> member``. A new policy
#: is one entry here.
POLICIES: dict[str, Callable[..., int]] = {
    "seed": _route_seed,
    "dynamo": _route_dynamo,
    "least-loaded": _route_least_loaded,
    "random": _route_random,
}


@dataclass
class Router:
    """One interface for every policy of :data:`POLICIES`: ``route(kv, hashes, active_blocks) -> member``
    (a GPU, or a worker when the manager's members are TP groups)."""

    policy: str
    overlap_weight: float = 1.0
    temperature: float = 0.0
    rng_seed: int = 0  # random seed (ties, sampling); "seed" is the document's policy

    def __post_init__(self):
        require_choice("routing policy", self.policy, POLICIES)
        require_positive("overlap_weight", self.overlap_weight, allow_zero=True)
        require_positive("temperature", self.temperature, allow_zero=True)
        self.rng = np.random.default_rng(self.rng_seed)

    def route(self, kv: NVL72KVBManager, hashes: list[int], active_blocks: np.ndarray,
              overlaps: np.ndarray | None = None) -> int:
        """The member for a request of ``hashes``; ``overlaps`` may pass a precomputed
        :meth:`NVL72KVBManager.prefix_overlap`."""
        if not hashes:
            raise ValueError("a request needs at least one full block to route")
        return POLICIES[self.policy](self, kv, hashes, active_blocks, overlaps)
