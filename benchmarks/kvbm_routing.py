"""KV-aware routing: the seed's route_request as written against nvlmodel's, same decisions.

Requests reach the index as uint64 arrays of sequence hashes (``kvbm.sequence_hashes_array``), the
form a hasher can hand over without a Python int per block; the ratio from Python-int lists is
printed too. Routes 100 requests of 32K tokens (block size 16: 2,048 blocks each) over 72 GPUs with a warm
directory in the seed's form (block hash -> (gpu, local block id)), checks that both algorithms pick
the same GPU for every request, and prints as its last line ``speedup_vs_seed: <ratio>``.
With ``--rack N`` it also times the rack simulation (dynamo policy, 9 TP8 workers) at 1,000, 10,000,
... up to N requests, streamed (``kvbm.iter_requests``: never all in memory), printing requests per
second and the peak resident memory after each size, against the rate at 1,000 requests in the same
run. Conversations end after 8 turns by default (request length stays bounded); ``--growing`` keeps
them going, so requests grow with the run.

    python benchmarks/kvbm_routing.py [--requests 100] [--tokens 32768] [--rack 0] [--growing]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from nvlmodel import kvbm


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=100)
    p.add_argument("--tokens", type=int, default=32_768)
    p.add_argument("--rack", type=int, default=0, help="also time simulate_rack at 1k, 10k, ... up to this many requests")
    p.add_argument("--growing", action="store_true", help="conversations never end (requests grow with the run)")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    gpus, bs = 72, 16
    # A warm directory: 64 shared 32K-token documents cached across the rack, one GPU each (the seed
    # keeps one location per block), with partial copies of the tails on other GPUs.
    docs = [kvbm.sequence_hashes(rng.integers(0, 128_256, args.tokens, dtype=np.uint32), bs) for _ in range(64)]
    directory: dict[int, tuple[int, int]] = {}
    for d, hashes in enumerate(docs):
        home = d % gpus
        for i, h in enumerate(hashes):
            directory[h] = ((home + (i * 7 // len(hashes))) % gpus, i)
    owner = {h: loc[0] for h, loc in directory.items()}
    load = rng.integers(0, 1000, gpus)

    def least_loaded() -> int:
        return int(np.argmin(load))

    reqs = []
    for r in range(args.requests):  # most requests reuse a document's prefix; some are new
        base = docs[int(rng.integers(len(docs)))]
        keep = int(rng.integers(0, len(base) + 1)) if r % 5 else 0
        extra = kvbm.chain(kvbm.block_hashes(rng.integers(0, 128_256, (len(base) - keep) * bs, dtype=np.uint32), bs),
                           base[keep - 1] if keep else None)
        reqs.append(base[:keep] + extra)

    def best(fn, repeats):
        """The fastest of ``repeats`` runs (as timeit advises: slower runs measure the machine)."""
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        return out, min(times)

    seed, t_seed = best(lambda: [kvbm.seed_route_request(directory, h, gpus, least_loaded) for h in reqs], 2)
    t = time.perf_counter()
    index = kvbm.OwnerIndex(owner, gpus)  # the warm directory's snapshot, built once
    t_index = time.perf_counter() - t
    arrays = [kvbm.sequence_hashes_array(h) for h in reqs]  # requests as the hasher hands them over
    fast, t_fast = best(lambda: [index.route(a, least_loaded) for a in arrays], 7)
    from_lists, t_lists = best(lambda: [index.route(h, least_loaded) for h in reqs], 3)
    if from_lists != fast:
        raise SystemExit("routing from lists and from arrays disagree")
    counted, t_counter = best(lambda: [kvbm.fast_route_request(owner, h, least_loaded) for h in reqs], 3)
    if counted != seed:
        raise SystemExit("the Counter-based router disagrees with the seed")
    if seed != fast:
        raise SystemExit(f"decisions differ on {sum(a != b for a, b in zip(seed, fast))} requests")
    print(f"{args.requests} requests x {len(reqs[0])} blocks over {gpus} GPUs: same GPU for every request")
    print(f"seed route_request: {t_seed * 1e3:.1f} ms; nvlmodel OwnerIndex: {t_fast * 1e3:.2f} ms "
          f"(+ {t_index * 1e3:.1f} ms once to index {len(owner):,} cached blocks; "
          f"{t_seed / (t_fast + t_index):.0f}x including it; from Python-int lists {t_seed / t_lists:.0f}x) "
          f"(dict + Counter, as the rack simulation routes: {t_counter * 1e3:.1f} ms, "
          f"{t_seed / t_counter:.0f}x)")
    if args.rack:
        workload = kvbm.Workload(max_turns=None if args.growing else 8)
        sizes = [n for n in (1_000, 10_000, 100_000, 1_000_000, 10_000_000) if n <= args.rack] or [args.rack]
        base = None
        for n in sizes:
            t = time.perf_counter()
            r = kvbm.simulate_rack(kvbm.iter_requests(n, workload, rng_seed=1), "dynamo")
            t_sim = time.perf_counter() - t
            rate = n / t_sim
            base = base or rate
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"rack simulation ({'growing' if args.growing else 'conversations of <= 8 turns'}): "
                  f"{n:>9,} requests generated and routed in {t_sim:6.1f} s = {rate:8,.0f} requests/s "
                  f"({rate / base:.2f}x the rate at {sizes[0]:,}); hit rate {r.hit_rate:.3f}; peak RSS {rss:,.0f} MB")
    print(f"speedup_vs_seed: {t_seed / t_fast:.1f}")


if __name__ == "__main__":
    main()
