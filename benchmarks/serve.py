"""Simulation speed: simulated requests per wall-second of nvlmodel.serve on one GB200 NVL72 rack,
and the ratio to the static model's cost (chapter 7's formula, evaluated once per request in this
process), with peak memory.

The default scenario is the issue's target: 1,000,000 requests (Llama-3.1-70B FP4, nine TP8
workers, KV-aware routing, peer and host tiers, multi-turn chat, open loop at 85 % of the rack's
capacity) on one core. ``--requests 100000`` gives a quick reading.

    python benchmarks/serve.py [--requests 1000000]
"""

from __future__ import annotations

import argparse
import resource
import time

from nvlmodel.calibrate import Config, components
from nvlmodel.serve import Deployment, Workload, simulate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=1_000_000)
    p.add_argument("--rate", type=float, default=85.0, help="requests/s offered to the rack (default 85)")
    args = p.parse_args()
    d = Deployment("gb200", "llama-3.1-70b", "fp4", tp=8, workers=9, tiers=("peer", "host"))
    reqs = Workload(isl=1024, osl=256, spread=0.5, shape="chat", groups=5000).generate(args.requests, rate=args.rate)
    t0 = time.perf_counter()
    res = simulate(d, reqs, progress=True)
    sim_s = time.perf_counter() - t0
    s = res.summary()
    cfg = Config("gb200", "llama-3.1-70b", "fp4", 8, 64, 1024, 256, backend="trtllm")
    n_static = 2000
    t0 = time.perf_counter()
    for _ in range(n_static):
        components(cfg, d.calibration)
    static_per_req = (time.perf_counter() - t0) / n_static
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"{d.describe()}: {len(reqs):,} requests, {s['duration_s']:.0f} simulated s, "
          f"{s['output_tokens_per_s_per_gpu']:.0f} output tok/s/GPU, busy {s['busy_fraction']:.2f}")
    print(f"wall {sim_s:.1f} s: {len(reqs) / sim_s:,.0f} simulated requests per wall-second; peak memory {peak_gb:.2f} GB")
    print(f"static model: {1 / static_per_req:,.0f} requests per wall-second")
    print(f"cost_vs_static: {sim_s / len(reqs) / static_per_req:.2f}")


if __name__ == "__main__":
    main()
