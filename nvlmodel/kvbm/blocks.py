"""Block managers: :class:`LocalBlockManager` (fixed-size blocks, reference counts, LRU eviction of
unreferenced blocks) and :class:`NVL72KVBManager` (one manager per GPU or worker and the rack
directory, block -> members holding it as an integer bitmask, kept equal to the union of the
managers on every allocation, eviction and transfer)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..hardware import get_system
from ..models import get_model
from ..topology import Fabric, NVL72Topology
from ..units import require_index, require_positive, require_positive_int

_RACK_GPUS = get_system("nvl72").num_gpus
#: KV bytes of one token of the seed's Llama 405B in FP8 (258,048, line 238): the default block prices.
_KV_405B_FP8 = get_model("llama-3.1-405b").kv_bytes_per_token(1.0)


class CapacityError(RuntimeError):
    """A GPU is full and every cached block is referenced: nothing can be evicted."""


class LocalBlockManager:
    """One GPU's KV blocks: reference counts, and LRU eviction among unreferenced blocks."""

    def __init__(self, capacity_blocks: int):
        require_positive_int("capacity_blocks", capacity_blocks)
        self.capacity = capacity_blocks
        self.refs: dict[int, int] = {}
        self.lru: OrderedDict[int, None] = OrderedDict()  # refcount-0 blocks, least recent first

    def __contains__(self, block_hash: int) -> bool:
        return block_hash in self.refs

    def __len__(self) -> int:
        return len(self.refs)

    def get_block(self, block_hash: int) -> int:
        """The reference count of a cached block; an unknown block raises ``KeyError``."""
        if block_hash not in self.refs:
            raise KeyError(f"unknown block {block_hash:#018x}: not cached on this GPU")
        return self.refs[block_hash]

    def allocate(self, block_hash: int, *, reference: bool = True) -> list[int]:
        """Cache ``block_hash`` (taking a reference unless ``reference=False``); a hit only adds
        the reference. Returns the blocks evicted to make room (LRU, unreferenced only)."""
        if block_hash in self.refs:
            if reference:
                if self.refs[block_hash] == 0:
                    del self.lru[block_hash]
                self.refs[block_hash] += 1
            elif self.refs[block_hash] == 0:
                self.lru.move_to_end(block_hash)
            return []
        evicted = []
        if len(self.refs) >= self.capacity:
            if not self.lru:
                raise CapacityError(f"GPU full: all {self.capacity} blocks are referenced, nothing is evictable")
            victim, _ = self.lru.popitem(last=False)
            del self.refs[victim]
            evicted.append(victim)
        self.refs[block_hash] = 1 if reference else 0
        if not reference:
            self.lru[block_hash] = None
        return evicted

    def release(self, block_hash: int) -> None:
        """Drop one reference; at zero the block stays cached and becomes evictable."""
        if self.get_block(block_hash) == 0:
            raise ValueError(f"block {block_hash:#018x} has no reference to release")
        self.refs[block_hash] -= 1
        if self.refs[block_hash] == 0:
            self.lru[block_hash] = None


def default_blocks_per_gpu(block_tokens: int = 16) -> int:
    """Blocks of ``block_tokens`` tokens that one GB200 GPU's KV budget holds for the seed's Llama 405B
    (NVFP4 weights, FP8 KV, TP8), under the datasheet premises."""
    from .capacity import kv_capacity

    return int(kv_capacity("gb200-b200", "llama-3.1-405b", "nvfp4").tokens_per_gpu) // block_tokens


def members(mask: int) -> list[int]:
    """The member ids a directory bitmask holds (bit ``g`` set: member ``g``), lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class NVL72KVBManager:
    """The seed's rack-scale KV manager (lines 252-312), working: 72 block managers and a directory
    ``block hash -> bitmask of GPUs`` (bit ``g``: GPU ``g`` holds the block; :func:`members` lists
    them) kept equal to their union. ``blocks_per_gpu`` is the capacity in
    blocks (the seed's 640,000 counts tokens, see the ledger; by default, the 16-token blocks of Llama
    405B's FP8 KV that a GB200 GPU's KV budget holds at TP8, :func:`default_blocks_per_gpu`);
    ``block_bytes`` prices transfers."""

    def __init__(self, num_gpus: int = 72, blocks_per_gpu: int | None = None, *, block_bytes: float = 16 * _KV_405B_FP8,
                 topology: Fabric | None = None):
        require_positive_int("num_gpus", num_gpus)
        if topology is None and num_gpus == _RACK_GPUS:
            topology = NVL72Topology("datasheet")
        self.topology = topology  # None: the members are workers (TP groups), not single GPUs
        if topology is not None and num_gpus != topology.num_gpus:
            raise ValueError(f"num_gpus={num_gpus} but the topology has {topology.num_gpus} GPUs")
        self.num_gpus = num_gpus
        self.block_bytes = require_positive("block_bytes", block_bytes)
        if blocks_per_gpu is None:
            blocks_per_gpu = default_blocks_per_gpu()
        self.gpu_managers = [LocalBlockManager(blocks_per_gpu) for _ in range(num_gpus)]
        self.directory: dict[int, int] = {}  # block hash -> bitmask of the members holding it

    def _gpu(self, gpu: int) -> int:
        return require_index("GPU id", gpu, self.num_gpus)

    def _evicted(self, gpu: int, evicted: list[int]) -> None:
        directory, keep = self.directory, ~(1 << gpu)
        for h in evicted:
            where = directory[h] & keep
            if where:
                directory[h] = where
            else:
                del directory[h]

    def allocate(self, gpu: int, hashes: list[int], *, reference: bool = True) -> int:
        """Cache ``hashes`` on ``gpu`` (a request's blocks); returns how many were already there.
        All or nothing: raises :class:`CapacityError` before changing anything when the blocks
        cannot fit even after evicting every unreferenced block."""
        m = self.gpu_managers[self._gpu(gpu)]
        directory, bit = self.directory, 1 << gpu
        if not reference:
            hits = 0
            for h in hashes:
                hits += h in m
                self._evicted(gpu, m.allocate(h, reference=False))
                directory[h] = directory.get(h, 0) | bit
            return hits
        refs, lru = m.refs, m.lru
        uniq = dict.fromkeys(hashes)
        new, pinned, held = [], [], []  # one pass: not cached / cached unreferenced / cached (all references taken)
        for h in uniq:
            r = refs.get(h)
            if r is None:
                new.append(h)
            else:
                refs[h] = r + 1
                held.append(h)
                if not r:
                    pinned.append(h)  # refcount 0: in the LRU, evictable until now
        over = len(refs) + len(new) - m.capacity
        if over > len(lru) - len(pinned):
            for h in held:  # nothing changes: give the references back
                refs[h] -= 1
            raise CapacityError(f"GPU {gpu} cannot take {len(new)} new blocks: {m.capacity - len(refs)} free, "
                                f"{len(lru) - len(pinned)} evictable")
        for h in pinned:  # hits on unreferenced blocks: no longer evictable
            del lru[h]
        keep = ~bit
        for _ in range(max(over, 0)):
            victim, _ = lru.popitem(last=False)
            del refs[victim]
            where = directory[victim] & keep
            if where:
                directory[victim] = where
            else:
                del directory[victim]
        for h in new:
            refs[h] = 1
            directory[h] = directory.get(h, 0) | bit
        return len(held)

    def release(self, gpu: int, hashes: list[int]) -> None:
        """Drop one reference per block (each listed once per reference taken)."""
        m = self.gpu_managers[self._gpu(gpu)]
        refs, lru = m.refs, m.lru
        for h in dict.fromkeys(hashes):
            r = refs.get(h)
            if r is None:
                raise KeyError(f"unknown block {h:#018x}: not cached on GPU {gpu}")
            if r == 0:
                raise ValueError(f"block {h:#018x} has no reference to release on GPU {gpu}")
            refs[h] = r - 1
            if r == 1:
                lru[h] = None

    def lookup_block(self, block_hash: int) -> list[int]:
        """GPUs holding ``block_hash`` (empty when none), lowest id first."""
        return members(self.directory.get(block_hash, 0))

    def prefix_overlap(self, hashes: list[int]) -> np.ndarray:
        """Per GPU, how many leading blocks of ``hashes`` it holds (a prefix match). Work grows with
        the matched prefix: a GPU is touched only when it drops out of the match."""
        out = np.zeros(self.num_gpus, dtype=int)
        get = self.directory.get
        alive = get(hashes[0], 0) if hashes else 0
        if not alive:
            return out
        for i in range(1, len(hashes)):
            nxt = alive & get(hashes[i], 0)
            if nxt != alive:
                for g in members(alive ^ nxt):
                    out[g] = i
                alive = nxt
                if not alive:
                    return out
        for g in members(alive):
            out[g] = len(hashes)
        return out

    def transfer_block(self, block_hash: int, source_gpu: int, target_gpu: int) -> float:
        """Copy a block from ``source_gpu`` to ``target_gpu`` (cached, unreferenced) and return the
        copy time: ``block_bytes`` over the link between them under the topology's view."""
        if source_gpu == target_gpu:
            raise ValueError("source and target are the same GPU")
        if self.topology is None:
            raise ValueError("this manager's members are workers without a topology; price transfers with "
                             "nvlmodel.kvbm.block_transfer")
        self.gpu_managers[self._gpu(source_gpu)].get_block(block_hash)
        seconds = self.topology.link(source_gpu, target_gpu).transfer_time(self.block_bytes)
        self.allocate(target_gpu, [block_hash], reference=False)
        return seconds

    def check(self) -> None:
        """Raise ``AssertionError`` unless the directory equals the union of the managers."""
        union: dict[int, int] = {}
        for g, m in enumerate(self.gpu_managers):
            assert len(m) <= m.capacity, f"GPU {g} over capacity"
            assert all(r >= 0 for r in m.refs.values()), f"GPU {g} has a negative reference count"
            assert all(h in m.lru for h, r in m.refs.items() if r == 0), f"GPU {g}: an unreferenced block not in its LRU"
            for h in m.refs:
                union[h] = union.get(h, 0) | 1 << g
        assert union == self.directory, "directory differs from the union of the block managers"
