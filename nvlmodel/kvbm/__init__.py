"""KVBM across the rack, one module per concern:

* :mod:`~nvlmodel.kvbm.capacity`: the seed's ``compute_kv_capacity`` and :func:`kv_capacity`;
* :mod:`~nvlmodel.kvbm.hashing`: Dynamo's block and sequence hashes;
* :mod:`~nvlmodel.kvbm.blocks`: block managers and the rack directory;
* :mod:`~nvlmodel.kvbm.routing`: the seed's ``route_request``, :class:`OwnerIndex` and the policies of
  :class:`Router` (registered in :data:`POLICIES`);
* :mod:`~nvlmodel.kvbm.tiers`: paged block transfers, the real tiers and the seed's hypothetical
  NVSwitch memory;
* :mod:`~nvlmodel.kvbm.simulation`: the rack workload simulation.

Everything public is importable from ``nvlmodel.kvbm`` directly.
"""

from .blocks import CapacityError, LocalBlockManager, NVL72KVBManager, members
from .capacity import (CAPACITY_ROWS, SEED_B200, SEED_LLAMA_405B, SEED_NVL72, WORKSPACE_BYTES, capacity_table,
                       compute_kv_capacity, kv_capacity, KVCapacity)
from .hashing import XXH3_SEED, block_hashes, chain, sequence_hashes, sequence_hashes_array
from .routing import POLICIES, OwnerIndex, Router, fast_route_request, seed_route_request
from .simulation import RackResult, Workload, generate_requests, iter_requests, rack_table, simulate_rack
from .tiers import CHUNK_LATENCY_S, BlockTransfer, NVSwitchMemoryTier, block_transfer, block_transfer_table, tier_table

__all__ = ["CAPACITY_ROWS", "CHUNK_LATENCY_S", "SEED_B200", "SEED_LLAMA_405B", "SEED_NVL72", "WORKSPACE_BYTES",
           "XXH3_SEED", "POLICIES", "BlockTransfer", "CapacityError", "KVCapacity", "LocalBlockManager", "NVL72KVBManager",
           "NVSwitchMemoryTier", "OwnerIndex", "RackResult", "Router", "Workload", "block_hashes",
           "block_transfer", "block_transfer_table", "capacity_table", "chain", "compute_kv_capacity",
           "fast_route_request", "generate_requests", "iter_requests", "kv_capacity", "members", "rack_table",
           "seed_route_request", "sequence_hashes", "sequence_hashes_array", "simulate_rack", "tier_table"]
