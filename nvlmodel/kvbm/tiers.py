"""KV tiers: moving a paged KV block (per-layer copies with a per-copy latency), the tiers that exist
from one NVL72 GPU (Dynamo KVBM's G1-G4 and peer HBM), and the seed's ``NVSwitchMemoryTier``
(lines 430-467), implemented as specified and clearly hypothetical (NVLink switch ASICs have no
memory)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..hardware import MODELEXPRESS_RDMA_PER_RANK, get_gpu, get_superchip
from ..models import ModelArch, get_model
from ..units import GB, require_positive, require_positive_int
from .blocks import _KV_405B_FP8


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


class NVSwitchMemoryTier:
    """The seed's hypothetical switch-memory tier (lines 430-467), implemented as specified:
    a block read by 3 or more GPUs of the switch's domain is promoted; LRU eviction; 128 GiB
    (``128 * 1024**3`` bytes, as the seed's code) by default. NVLink switch ASICs have no memory:
    this models what the document proposes, not hardware that exists."""

    HYPOTHETICAL = True

    def __init__(self, switch_id: int, capacity_bytes: float = 128 * 1024**3, block_bytes: float = 16 * _KV_405B_FP8):
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
        ("G3: local disk (per GPU, estimate)", None, MODELEXPRESS_RDMA_PER_RANK * 11 / 70 / GB, "exists",
         "modelexpress-benchmarks"),
        ("G4: remote / object storage (per GPU, estimate)", None, MODELEXPRESS_RDMA_PER_RANK * 11 / 196 / GB, "exists",
         "modelexpress-benchmarks"),
        ("NVSwitch HBM (seed, 9 x 128 GB)", 9 * 128.0, None, "does not exist", "seed"),
    ]
    return pd.DataFrame(rows, columns=["tier", "capacity_GB", "bandwidth_GBps", "status", "source"])
