"""Block identity as Dynamo computes it (lib/kv-router): block hash = XXH3-64 (seed 1337) of the
little-endian u32 tokens of one full block (a partial last block is ignored); the first sequence
hash is the first block hash, each next one XXH3-64 (seed 1337) of the little-endian pair (parent
sequence hash, block hash). Equal prefixes give equal sequence hashes on every GPU."""

from __future__ import annotations

import numpy as np
import xxhash

from ..units import require_positive_int

XXH3_SEED = 1337


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
