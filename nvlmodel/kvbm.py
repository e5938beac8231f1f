"""KVBM across the rack: KV capacity, prefix block identity, block managers, routing, tiers.

* Capacity: the seed's ``compute_kv_capacity`` (lines 193-225) as written, and :func:`kv_capacity`
  under either preset (datasheet: HBM visible to software, derived parameters, NVFP4 at 4.5 bits,
  KV heads replicated beyond TP = KV heads).
* Block identity as Dynamo computes it (lib/kv-router): block hash = XXH3-64 (seed 1337) of the
  little-endian u32 tokens of one full block (a partial last block is ignored); the first sequence
  hash is the first block hash, each next one XXH3-64 (seed 1337) of the little-endian pair
  (parent sequence hash, block hash). Equal prefixes give equal sequence hashes on every GPU.
* :class:`LocalBlockManager`: fixed-size blocks, reference counts, LRU eviction of unreferenced
  blocks; :class:`NVL72KVBManager`: 72 managers and the rack directory (block -> GPUs holding it),
  kept equal to the union of the managers on every allocation, eviction and transfer.
* Routing: the seed's ``route_request`` (overlap count, least-loaded fallback), Dynamo's cost
  (overlap weight x blocks to prefill + active blocks, lowest wins, optional temperature),
  least-loaded and random, behind one interface.
* The seed's ``NVSwitchMemoryTier`` (lines 430-467), implemented as specified and clearly
  hypothetical (NVLink switch ASICs have no memory), beside the tiers that exist.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from dataclasses import dataclass

import numpy as np
import xxhash

from .fp4 import get_format
from .hardware import PRESETS, get_gpu, get_superchip, get_system
from .models import ModelArch, get_model
from .topology import Fabric, NVL72Topology
from .units import GB, TB, require_choice, require_index, require_positive, require_positive_int

XXH3_SEED = 1337
_RACK_GPUS = get_system("nvl72").num_gpus


# --------------------------------------------------------------------------------------------
# Capacity
# --------------------------------------------------------------------------------------------

def compute_kv_capacity(model_config: dict, gpu_config: dict, rack_config: dict) -> dict:
    """The seed's ``compute_kv_capacity`` (lines 193-225), unchanged but validated: HBM (GB,
    decimal) minus this GPU's share of the weights minus 3 GB of workspace, divided by the KV bytes
    per token; and the rack totals."""
    for key in ("total_params", "weight_dtype_bytes", "num_layers", "num_kv_heads", "head_dim", "kv_dtype_bytes"):
        if key not in model_config:
            raise KeyError(f"model_config lacks {key!r}")
        require_positive(f"model_config[{key!r}]", model_config[key])
    require_positive("gpu_config['hbm_gb']", gpu_config["hbm_gb"])
    for key in ("tp_degree", "num_gpus"):
        require_positive(f"rack_config[{key!r}]", rack_config[key])
    kv_bytes_per_token = (2 * model_config["num_layers"] * model_config["num_kv_heads"]
                          * model_config["head_dim"] * model_config["kv_dtype_bytes"])
    weight_per_gpu = model_config["total_params"] * model_config["weight_dtype_bytes"] / rack_config["tp_degree"]
    kv_budget_per_gpu = gpu_config["hbm_gb"] * 1e9 - weight_per_gpu - 3e9  # 3 GB workspace
    if kv_budget_per_gpu <= 0:
        raise ValueError(f"the weights ({weight_per_gpu / 1e9:.1f} GB per GPU) and workspace leave no room for KV")
    tokens_per_gpu = kv_budget_per_gpu / kv_bytes_per_token
    total_gpus = rack_config["num_gpus"]
    total_tokens = tokens_per_gpu * total_gpus
    return {
        "kv_bytes_per_token": kv_bytes_per_token,
        "kv_budget_per_gpu_gb": kv_budget_per_gpu / 1e9,
        "tokens_per_gpu": int(tokens_per_gpu),
        "total_kv_budget_tb": kv_budget_per_gpu * total_gpus / 1e12,
        "total_tokens": int(total_tokens),
        "total_context_windows_128k": int(total_tokens / 128_000),
    }


#: The seed's inputs (lines 227-236).
SEED_LLAMA_405B = {"total_params": 405e9, "weight_dtype_bytes": 0.5, "num_layers": 126, "num_kv_heads": 8,
                   "head_dim": 128, "kv_dtype_bytes": 1}
SEED_B200 = {"hbm_gb": 192}
SEED_NVL72 = {"num_gpus": 72, "tp_degree": 8}
WORKSPACE_BYTES = 3e9


def kv_capacity(gpu: str, model: str | ModelArch = "llama-3.1-405b", weight_format: str = "nvfp4", *,
                kv_bytes_per_element: float = 1.0, tp: int = 8, num_gpus: int = 72, preset: str = "datasheet",
                workspace_bytes: float = WORKSPACE_BYTES, session_tokens: int = 128_000,
                memory_fraction: float = 1.0, fraction_of: str = "capacity") -> dict:
    """KV capacity per GPU and in total: (HBM x ``memory_fraction`` - weights / tp - workspace) per
    GPU, divided by the KV bytes of one token on one GPU of the TP group.

    ``seed``: marketed HBM and the round parameter count; ``datasheet``: the HBM bytes software
    sees and the derived count. A TP group holds each token's KV spread over its GPUs, with at least
    one whole KV head per GPU (:meth:`~nvlmodel.models.ModelArch.kv_bytes_per_token_per_gpu`): at
    TP above the KV-head count the heads are replicated and capacity stops growing with TP.
    ``tokens_per_gpu`` keeps the seed's meaning (budget / a whole token's KV); ``tokens_per_replica``
    is what one TP group holds; ``total_tokens`` what ``num_gpus / tp`` replicas hold.
    ``fraction_of="free"`` applies ``memory_fraction`` to what the weights and workspace leave
    (TensorRT-LLM's ``free_gpu_memory_fraction``) instead of to all of HBM (vLLM's
    ``gpu_memory_utilization``, SGLang's ``mem_fraction_static``).
    Raises ``ValueError`` when the weights do not fit or ``tp`` exceeds the NVLink domain."""
    require_choice("preset", preset, PRESETS)
    g = get_gpu(gpu, preset)
    m = model if isinstance(model, ModelArch) else get_model(model)
    for what, v in (("tp", tp), ("num_gpus", num_gpus), ("session_tokens", session_tokens)):
        require_positive_int(what, v)
    g.require_tp(tp)
    require_positive("workspace_bytes", workspace_bytes, allow_zero=True)
    if not 0 < require_positive("memory_fraction", memory_fraction) <= 1:
        raise ValueError(f"memory_fraction is a fraction of HBM in (0, 1], got {memory_fraction}")
    hbm = g.hbm_bytes if preset == "seed" else g.hbm_visible_bytes
    weights = m.params(preset) * get_format(weight_format).bytes_per_element / tp
    require_choice("fraction_of", fraction_of, ("capacity", "free"))
    if fraction_of == "capacity":
        budget = hbm * memory_fraction - weights - workspace_bytes
    else:
        budget = (hbm - weights - workspace_bytes) * memory_fraction
    if budget <= 0:
        raise ValueError(f"{m.name} in {weight_format} over TP{tp} takes {weights / GB:.1f} GB per GPU: no room "
                         f"for KV in {hbm * memory_fraction / GB:.0f} GB")
    per_token = m.kv_bytes_per_token(kv_bytes_per_element)
    per_replica = budget / m.kv_bytes_per_token_per_gpu(kv_bytes_per_element, tp)
    total = per_replica * num_gpus / tp
    return {"gpu": g.name, "hbm_gb": hbm / GB, "weights_per_gpu_gb": weights / GB, "kv_bytes_per_token": per_token,
            "kv_budget_per_gpu_gb": budget / GB, "tokens_per_gpu": budget / per_token,
            "tokens_per_replica": per_replica, "total_kv_budget_tb": budget * num_gpus / TB,
            "total_tokens": total, "sessions": total / session_tokens}


#: The rows of the seed's capacity table (lines 244-248): label, GPU, weight precision, KV bytes, GPUs.
CAPACITY_ROWS: tuple[tuple[str, str, str, float, int], ...] = (
    ("8x H100 (FP8 weights, FP16 KV)", "h100", "FP8", 2.0, 8),
    ("72x H100 (FP8 weights, FP16 KV)", "h100", "FP8", 2.0, 72),
    ("72x B200 NVL72 (FP4 weights, FP8 KV)", "gb200-b200", "FP4", 1.0, 72),
)
_FORMAT = {"seed": {"FP8": "fp8", "FP4": "fp4-seed"}, "datasheet": {"FP8": "fp8", "FP4": "nvfp4"}}


def capacity_table(preset: str = "seed", model: str = "llama-405b") -> "pd.DataFrame":  # noqa: F821
    """The seed's H100-vs-NVL72 capacity table (every column) by :func:`kv_capacity` under ``preset``."""
    import pandas as pd

    rows = []
    for label, gpu, prec, kvb, n in CAPACITY_ROWS:
        c = kv_capacity(gpu, model, _FORMAT[require_choice("preset", preset, PRESETS)][prec],
                        kv_bytes_per_element=kvb, tp=8, num_gpus=n, preset=preset)
        rows.append({"configuration": label, "GPUs": n, "kv_budget_per_gpu_gb": c["kv_budget_per_gpu_gb"],
                     "total_kv_budget_tb": c["total_kv_budget_tb"], "sessions_128k": c["sessions"],
                     "tokens_cached": c["total_tokens"]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Moving a paged KV block
# --------------------------------------------------------------------------------------------

#: Cost of one copy call between GPUs over NVLink, independent of its size for small copies:
#: ``cudaMemcpyAsync`` measured at 3.36 us on GB200 and 3.55 us on H100 for 1 B-64 KB (meta-pytorch
#: torchcomms PR 2195); ~2.3 us per call on H20 (taco-project FlexKV PR 193). Batched submission
#: (``cudaMemcpyBatchAsync``) or one gather kernel amortises it; an engine that issues one copy per
#: layer pays it per layer.
CHUNK_LATENCY_S = 3.4e-6


@dataclass(frozen=True)
class BlockTransfer:
    """One paged KV block moved between two TP groups: each of ``tp`` GPUs sends its shard
    (its KV heads) as ``chunks`` separate copies, one per layer (x ``chunks_per_layer``), in
    parallel with the other shards. Seconds = chunks x per-copy latency + shard bytes / link."""

    tokens: int
    tp: int
    chunks: int  # per shard
    chunk_bytes: float
    shard_bytes: float
    block_bytes: float  # all shards
    t_latency: float  # s
    t_bytes: float  # s

    @property
    def time(self) -> float:
        return self.t_latency + self.t_bytes

    @property
    def latency_share(self) -> float:
        """Fraction of the time spent in per-copy latency rather than moving bytes."""
        return self.t_latency / self.time


def block_transfer(model: str | ModelArch, link_bandwidth: float, *, block_tokens: int = 16,
                   kv_bytes_per_element: float = 1.0, tp: int = 1, chunks_per_layer: int = 1,
                   chunk_latency_s: float = CHUNK_LATENCY_S) -> BlockTransfer:
    """Time to move one paged KV block of ``block_tokens`` tokens over a link of ``link_bandwidth``
    bytes/s per GPU (one direction). Paged KV caches (vLLM, TensorRT-LLM) keep one tensor per layer,
    so a block is ``layers x chunks_per_layer`` separate pieces per TP shard (``chunks_per_layer=2``
    where K and V live apart), each a copy with its own latency."""
    m = model if isinstance(model, ModelArch) else get_model(model)
    for what, v in (("block_tokens", block_tokens), ("tp", tp), ("chunks_per_layer", chunks_per_layer)):
        require_positive_int(what, v)
    require_positive("link_bandwidth", link_bandwidth)
    require_positive("chunk_latency_s", chunk_latency_s, allow_zero=True)
    shard = block_tokens * m.kv_bytes_per_token_per_gpu(kv_bytes_per_element, tp)
    chunks = m.layers * chunks_per_layer
    return BlockTransfer(tokens=block_tokens, tp=tp, chunks=chunks, chunk_bytes=shard / chunks, shard_bytes=shard,
                         block_bytes=shard * tp, t_latency=chunks * chunk_latency_s, t_bytes=shard / link_bandwidth)


def block_transfer_table(model: str = "llama-3.1-405b", *, tp: int = 8, block_tokens: int = 16,
                         kv_bytes_per_element: float = 1.0,
                         chunk_latency_s: float = CHUNK_LATENCY_S) -> "pd.DataFrame":  # noqa: F821
    """One KV block of ``model`` fetched across the NVL72 four ways: as the document prices it (one
    contiguous copy at 1.8 TB/s), one contiguous copy at NVLink 5's 900 GB/s per direction, the
    paged layout from a peer GPU's HBM (per-layer copies, each shard over its own GPU's link), and
    the same paged block from the document's hypothetical switch tier granted infinite bandwidth
    (per-copy latency only): the most such a tier could save."""
    import pandas as pd

    seed_bw = get_gpu("gb200-b200", "seed").nvlink_bw_per_direction
    bw = get_gpu("gb200-b200", "datasheet").nvlink_bw_per_direction
    paged = block_transfer(model, bw, block_tokens=block_tokens, kv_bytes_per_element=kv_bytes_per_element, tp=tp,
                           chunk_latency_s=chunk_latency_s)
    rows = [
        ("seed: one copy at the document's 1.8 TB/s", 1, paged.block_bytes, 0.0, paged.block_bytes / seed_bw),
        ("one contiguous copy at 900 GB/s", 1, paged.block_bytes, 0.0, paged.block_bytes / bw),
        ("paged, from peer HBM over NVLink", paged.chunks, paged.shard_bytes, paged.t_latency, paged.t_bytes),
        ("paged, from a switch tier at infinite bandwidth (hypothetical)", paged.chunks, paged.shard_bytes,
         paged.t_latency, 0.0),
    ]
    out = pd.DataFrame(rows, columns=["path", "copies per GPU", "bytes per GPU", "latency_s", "bytes_s"])
    out["time_s"] = out.latency_s + out.bytes_s
    return out


# --------------------------------------------------------------------------------------------
# Block identity (Dynamo lib/kv-router)
# --------------------------------------------------------------------------------------------

def _tokens(tokens) -> np.ndarray:
    arr = np.asarray(tokens)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("tokens must be a non-empty 1-D sequence of token ids (got an empty token list)")
    if arr.dtype.kind not in "ui":
        raise TypeError(f"token ids must be integers, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= 2**32:
        raise ValueError("token ids must fit in u32 (0 .. 2**32 - 1)")
    return arr.astype("<u4", copy=False)


def block_hashes(tokens, block_size: int = 16) -> list[int]:
    """Local block hashes: XXH3-64 (seed 1337) of each full block's little-endian u32 tokens."""
    require_positive_int("block_size", block_size)
    t = _tokens(tokens)
    n = t.size // block_size
    raw = t[: n * block_size].tobytes()
    step = 4 * block_size
    return [xxhash.xxh3_64_intdigest(raw[i * step:(i + 1) * step], seed=XXH3_SEED) for i in range(n)]


def chain(block_hash_list: list[int], parent: int | None = None) -> list[int]:
    """Sequence hashes: the first is the first block hash (or chained to ``parent``), then
    XXH3-64 (seed 1337) of the little-endian pair (parent, block)."""
    out, prev = [], parent
    for b in block_hash_list:
        prev = b if prev is None else xxhash.xxh3_64_intdigest(
            prev.to_bytes(8, "little") + b.to_bytes(8, "little"), seed=XXH3_SEED)
        out.append(prev)
    return out


def sequence_hashes(tokens, block_size: int = 16) -> list[int]:
    """Sequence hashes of every full block of ``tokens``: block i's identity covers its prefix."""
    return chain(block_hashes(tokens, block_size))


def sequence_hashes_array(hashes) -> np.ndarray:
    """Sequence hashes as a uint64 array, the form :class:`OwnerIndex` routes fastest."""
    return np.fromiter(hashes, dtype=np.uint64, count=len(hashes))


# --------------------------------------------------------------------------------------------
# Block managers and the rack directory
# --------------------------------------------------------------------------------------------

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


class NVL72KVBManager:
    """The seed's rack-scale KV manager (lines 252-312), working: 72 block managers and a directory
    ``block hash -> set of GPUs`` kept equal to their union. ``blocks_per_gpu`` is the capacity in
    blocks (the seed's 640,000 counts tokens, see the ledger); ``block_bytes`` prices transfers."""

    def __init__(self, num_gpus: int = 72, blocks_per_gpu: int = 39_645, *, block_bytes: float = 16 * 258_048,
                 topology: Fabric | None = None):
        require_positive_int("num_gpus", num_gpus)
        if topology is None and num_gpus == _RACK_GPUS:
            topology = NVL72Topology("datasheet")
        self.topology = topology  # None: the members are workers (TP groups), not single GPUs
        if topology is not None and num_gpus != topology.num_gpus:
            raise ValueError(f"num_gpus={num_gpus} but the topology has {topology.num_gpus} GPUs")
        self.num_gpus = num_gpus
        self.block_bytes = require_positive("block_bytes", block_bytes)
        self.gpu_managers = [LocalBlockManager(blocks_per_gpu) for _ in range(num_gpus)]
        self.directory: dict[int, set[int]] = {}

    def _gpu(self, gpu: int) -> int:
        return require_index("GPU id", gpu, self.num_gpus)

    def _evicted(self, gpu: int, evicted: list[int]) -> None:
        for h in evicted:
            where = self.directory[h]
            where.discard(gpu)
            if not where:
                del self.directory[h]

    def allocate(self, gpu: int, hashes: list[int], *, reference: bool = True) -> int:
        """Cache ``hashes`` on ``gpu`` (a request's blocks); returns how many were already there.
        All or nothing: raises :class:`CapacityError` before changing anything when the blocks
        cannot fit even after evicting every unreferenced block."""
        m = self.gpu_managers[self._gpu(gpu)]
        if not reference:
            hits = 0
            for h in hashes:
                hits += h in m
                self._evicted(gpu, m.allocate(h, reference=False))
                self.directory.setdefault(h, set()).add(gpu)
            return hits
        refs, lru = m.refs, m.lru
        uniq = dict.fromkeys(hashes)
        new = [h for h in uniq if h not in refs]
        pinned = [h for h in uniq if h in lru]
        over = len(refs) + len(new) - m.capacity
        if over > len(lru) - len(pinned):
            raise CapacityError(f"GPU {gpu} cannot take {len(new)} new blocks: {m.capacity - len(refs)} free, "
                                f"{len(lru) - len(pinned)} evictable")
        for h in pinned:  # hits on unreferenced blocks: no longer evictable
            del lru[h]
        for h in uniq:
            if h in refs:
                refs[h] += 1
        directory = self.directory
        for _ in range(max(over, 0)):
            victim, _ = lru.popitem(last=False)
            del refs[victim]
            where = directory[victim]
            where.discard(gpu)
            if not where:
                del directory[victim]
        for h in new:
            refs[h] = 1
            directory.setdefault(h, set()).add(gpu)
        return len(uniq) - len(new)

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
        return sorted(self.directory.get(block_hash, ()))

    def prefix_overlap(self, hashes: list[int]) -> np.ndarray:
        """Per GPU, how many leading blocks of ``hashes`` it holds (a prefix match). Work grows with
        the matched prefix: a GPU is touched only when it drops out of the match."""
        out = np.zeros(self.num_gpus, dtype=int)
        d = self.directory
        first = d.get(hashes[0]) if hashes else None
        if not first:
            return out
        alive = set(first)
        for i in range(1, len(hashes)):
            where = d.get(hashes[i])
            nxt = alive & where if where else set()
            if len(nxt) != len(alive):
                for g in alive - nxt:
                    out[g] = i
                alive = nxt
                if not alive:
                    return out
        for g in alive:
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
        union: dict[int, set[int]] = {}
        for g, m in enumerate(self.gpu_managers):
            assert len(m) <= m.capacity, f"GPU {g} over capacity"
            assert all(r >= 0 for r in m.refs.values()), f"GPU {g} has a negative reference count"
            for h in m.refs:
                union.setdefault(h, set()).add(g)
        assert union == self.directory, "directory differs from the union of the block managers"


# --------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------

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


POLICIES: tuple[str, ...] = ("seed", "dynamo", "least-loaded", "random")


@dataclass
class Router:
    """One interface for every policy: ``route(kv, hashes, active_blocks) -> gpu``.

    ``seed``: most blocks cached on a GPU (any position), least-loaded when none;
    ``dynamo``: lowest ``overlap_weight x (blocks - prefix overlap) + active blocks``, ties at random,
    or sampled with p ~ exp(-normalised cost / temperature) when ``temperature > 0``;
    ``least-loaded``: fewest active blocks; ``random``: uniform."""

    policy: str
    overlap_weight: float = 1.0
    temperature: float = 0.0
    seed: int = 0

    def __post_init__(self):
        require_choice("routing policy", self.policy, POLICIES)
        require_positive("overlap_weight", self.overlap_weight, allow_zero=True)
        require_positive("temperature", self.temperature, allow_zero=True)
        self.rng = np.random.default_rng(self.seed)

    def route(self, kv: NVL72KVBManager, hashes: list[int], active_blocks: np.ndarray,
              overlaps: np.ndarray | None = None) -> int:
        """The GPU for a request of ``hashes``; ``overlaps`` may pass a precomputed
        :meth:`NVL72KVBManager.prefix_overlap`."""
        if not hashes:
            raise ValueError("a request needs at least one full block to route")
        least = int(np.argmin(active_blocks))
        if self.policy == "least-loaded":
            return least
        if self.policy == "random":
            return int(self.rng.integers(kv.num_gpus))
        if self.policy == "seed":
            return _most_blocks(Counter(g for h in hashes for g in kv.directory.get(h, ())), lambda: least)
        if overlaps is None:
            overlaps = kv.prefix_overlap(hashes)
        cost = self.overlap_weight * (len(hashes) - overlaps) + active_blocks
        if self.temperature == 0:
            ties = np.flatnonzero(cost == cost.min())
            return int(ties[0] if len(ties) == 1 else self.rng.choice(ties))
        span = float(cost.max() - cost.min()) or 1.0
        p = np.exp(-((cost - cost.min()) / span) / self.temperature)
        return int(self.rng.choice(kv.num_gpus, p=p / p.sum()))


# --------------------------------------------------------------------------------------------
# Tiers
# --------------------------------------------------------------------------------------------

class NVSwitchMemoryTier:
    """The seed's hypothetical switch-memory tier (lines 430-467), implemented as specified:
    a block read by 3 or more GPUs of the switch's domain is promoted; LRU eviction; 128 GiB
    (``128 * 1024**3`` bytes, as the seed's code) by default. NVLink switch ASICs have no memory:
    this models what the document proposes, not hardware that exists."""

    HYPOTHETICAL = True

    def __init__(self, switch_id: int, capacity_bytes: float = 128 * 1024**3, block_bytes: float = 16 * 258_048):
        self.switch_id = switch_id
        self.capacity = require_positive("capacity_bytes", capacity_bytes)
        self.block_bytes = require_positive("block_bytes", block_bytes)
        self.blocks: OrderedDict[int, None] = OrderedDict()
        self.access_counts: dict[int, int] = {}

    @property
    def capacity_blocks(self) -> int:
        return int(self.capacity // self.block_bytes)

    def should_promote(self, block_hash: int, access_pattern: dict[int, list[int]]) -> bool:
        """Promote when 3 or more distinct GPUs of the domain have read the block (line 449)."""
        return len(set(access_pattern.get(block_hash, []))) >= 3

    def promote_block(self, block_hash: int) -> list[int]:
        """Copy a block into switch memory, evicting LRU blocks when full; returns the evicted."""
        evicted = []
        if block_hash in self.blocks:
            self.blocks.move_to_end(block_hash)
            return evicted
        while len(self.blocks) >= self.capacity_blocks:
            victim, _ = self.blocks.popitem(last=False)
            self.access_counts.pop(victim, None)
            evicted.append(victim)
        self.blocks[block_hash] = None
        self.access_counts[block_hash] = 1
        return evicted

    def read_block(self, block_hash: int) -> bool:
        """Whether the block is in switch memory (counting the access and refreshing its LRU place)."""
        if block_hash not in self.blocks:
            return False
        self.access_counts[block_hash] = self.access_counts.get(block_hash, 0) + 1
        self.blocks.move_to_end(block_hash)
        return True


def tier_table() -> "pd.DataFrame":  # noqa: F821
    """KV tiers seen from one NVL72 GPU: those that exist (Dynamo KVBM's G1-G4 and peer HBM) and the
    seed's hypothetical NVSwitch memory, with capacity and the bandwidth one GPU gets."""
    import pandas as pd

    g = get_gpu("gb200-b200", "datasheet")
    sc = get_superchip("gb200", "datasheet")
    rows = [
        ("G1: local GPU HBM", g.hbm_visible_bytes / GB, g.hbm_bandwidth / GB, "exists", "nvidia-blackwell-brief"),
        ("peer GPU HBM over NVLink (71 GPUs)", 71 * g.hbm_visible_bytes / GB, g.nvlink_bw_per_direction / GB,
         "exists", "nvidia-nvlink"),
        ("G2: Grace LPDDR5X over NVLink-C2C (shared by 2 GPUs)", sc.cpu_memory_bytes / GB, sc.c2c_bw_total / 2 / GB,
         "exists", "nvidia-grace"),
        ("G3: local disk (per GPU, estimate)", None, 14e9 * 11 / 70 / GB, "exists", "modelexpress-benchmarks"),
        ("G4: remote / object storage (per GPU, estimate)", None, 14e9 * 11 / 196 / GB, "exists",
         "modelexpress-benchmarks"),
        ("NVSwitch HBM (seed, 9 x 128 GB)", 9 * 128.0, None, "does not exist", "seed"),
    ]
    return pd.DataFrame(rows, columns=["tier", "capacity_GB", "bandwidth_GBps", "status", "source"])


# --------------------------------------------------------------------------------------------
# The rack workload simulation
# --------------------------------------------------------------------------------------------

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

    def __post_init__(self):
        if not 0 <= self.frac_system <= 1 or not 0 <= self.frac_multiturn <= 1 - self.frac_system:
            raise ValueError("frac_system and frac_multiturn must be >= 0 and add up to at most 1")


def generate_requests(n: int, workload: Workload = Workload(), *, block_size: int = 16, seed: int = 0) -> list[list[int]]:
    """``n`` requests as lists of sequence hashes (seeded). System-prompt requests share one of the
    prompts and add a unique question; a conversation's next turn extends its previous request;
    unique prompts share nothing."""
    require_positive_int("n", n)
    rng = np.random.default_rng(seed)
    vocab = 128_256

    def toks(k):
        return rng.integers(0, vocab, k, dtype=np.uint32)

    prompts = [sequence_hashes(toks(workload.system_prompt_tokens), block_size)
               for _ in range(workload.n_system_prompts)]
    popularity = 1 / np.arange(1, workload.n_system_prompts + 1)
    popularity /= popularity.sum()
    conv: dict[int, list[int]] = {}
    out = []
    kinds = rng.choice(3, size=n, p=[workload.frac_system, workload.frac_multiturn,
                                     1 - workload.frac_system - workload.frac_multiturn])
    for k in kinds:
        if k == 0:
            base = prompts[rng.choice(workload.n_system_prompts, p=popularity)]
            req = base + chain(block_hashes(toks(workload.user_tokens), block_size), base[-1])
        elif k == 1:
            c = int(rng.integers(workload.n_conversations))
            base = conv.get(c) or prompts[c % workload.n_system_prompts]
            req = base + chain(block_hashes(toks(workload.turn_tokens), block_size), base[-1])
            conv[c] = req
        else:
            req = sequence_hashes(toks(workload.unique_tokens), block_size)
        out.append(req)
    return out


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


def simulate_rack(requests: list[list[int]], policy: str = "dynamo", *, tp: int = 8, num_gpus: int = 72,
                  blocks_per_gpu: int = 512, model: str | ModelArch = "llama-3.1-405b", active_window: int = 288,
                  block_size: int = 16, nvswitch_tier: bool = False, switch_capacity_blocks: int = 8192,
                  seed: int = 0) -> RackResult:
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
    kv = NVL72KVBManager(workers, blocks_per_worker, topology=None) if workers != _RACK_GPUS else \
        NVL72KVBManager(blocks_per_gpu=blocks_per_worker)
    router = Router(policy, seed=seed)
    active = np.zeros(kv.num_gpus, dtype=int)
    live: deque[tuple[int, list[int]]] = deque()
    computed = np.zeros(kv.num_gpus, dtype=int)
    domain_size = NVL72Topology.SEED_DOMAIN_SIZE
    n_domains = -(-num_gpus // domain_size)
    switches = [NVSwitchMemoryTier(d, capacity_bytes=switch_capacity_blocks, block_bytes=1)
                for d in range(n_domains)] if nvswitch_tier else []
    readers: dict[tuple[int, int], set[int]] = {}  # (domain, block) -> workers of the domain that read it
    total = local = peer = moved = switch = 0
    for hashes in requests:
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
    return RackResult(policy, tp, workers, blocks_per_gpu, blocks_per_worker, len(requests), local / total, local * block_size,
                      float(computed.max() / max(computed.mean(), 1e-9)), peer / total, moved,
                      switch / total if switches else 0.0)


def rack_table(requests: list[list[int]], policies=POLICIES, cache_sizes=(1024, 4096), **kw) -> "pd.DataFrame":  # noqa: F821
    """:func:`simulate_rack` for each policy and cache size (KV memory per GPU, in whole blocks)."""
    import pandas as pd

    return pd.DataFrame([simulate_rack(requests, p, blocks_per_gpu=c, **kw).__dict__
                         for c in cache_sizes for p in policies])


__all__ = ["CAPACITY_ROWS", "CapacityError", "LocalBlockManager", "NVL72KVBManager", "NVSwitchMemoryTier", "OwnerIndex",
           "POLICIES",
           "BlockTransfer", "CHUNK_LATENCY_S", "RackResult", "Router", "block_transfer", "block_transfer_table", "Workload", "XXH3_SEED", "block_hashes", "capacity_table", "chain",
           "compute_kv_capacity", "fast_route_request", "generate_requests", "kv_capacity", "rack_table",
           "seed_route_request", "sequence_hashes", "sequence_hashes_array", "simulate_rack", "tier_table"]
