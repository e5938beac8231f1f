"""Deployment search speed: candidates per second of nvlmodel.search, and its ratio against a scalar
baseline (the same rate matching written as Python loops over the pool sizes) run in this process.

Searches DeepSeek-V3/R1 at ISL 1024 / OSL 1024 over H100 HGX, B200 HGX and GB200 NVL72, prints the
number of candidates evaluated and the rate, then times the scalar baseline on one system's
disaggregated candidates and prints as its last line ``speedup_vs_scalar: <ratio>``.

    python benchmarks/search.py [--model deepseek-v3] [--isl 1024] [--osl 1024]
"""

from __future__ import annotations

import argparse
import itertools
import time

from nvlmodel import search


def scalar_rate_matching(system: str, model: str, isl: int, osl: int) -> int:
    """The disaggregated rate matching of :func:`nvlmodel.search.search` for one system, as loops."""
    cal = search.fitted_serving()[search.ENGINE]
    prec = search.DEFAULT_PRECISION[system]
    workers = {s: w for s in search.parallel_configs(system, model, 72)
               if (w := search._worker(system, model, prec, s, isl, osl, cal, "trtllm")) is not None}
    n = 0
    for (ps, pw), (ds, dw) in itertools.product(workers.items(), workers.items()):
        for i, b in enumerate(search.BATCHES):
            if not dw["fits"][i]:
                n += search.MAX_WORKERS ** 2
                continue
            best = -1.0
            for n_p in range(1, search.MAX_WORKERS + 1):
                for n_d in range(1, search.MAX_WORKERS + 1):
                    n += 1
                    gpus = n_p * pw["cfg"].gpus + n_d * dw["cfg"].gpus
                    if gpus > 72:
                        continue
                    served = min(0.9 * ps[1] / pw["fill"] * n_p, 0.92 * b * ds[1] / (osl * dw["decode"][i]) * n_d)
                    best = max(best, served * osl / gpus)
    return n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="deepseek-v3")
    p.add_argument("--isl", type=int, default=1024)
    p.add_argument("--osl", type=int, default=1024)
    args = p.parse_args()
    sla = search.SLA(2.0, 0.05)
    search.search(args.model, args.isl, args.osl, sla)  # warm: calibration fit and curve tables
    t0 = time.perf_counter()
    out = search.search(args.model, args.isl, args.osl, sla)
    dt = time.perf_counter() - t0
    n = out.attrs["candidates"]
    print(f"candidates: {n:,} in {dt:.2f} s: {n / dt:,.0f} candidates/s")
    t0 = time.perf_counter()
    one = search.search(args.model, args.isl, args.osl, sla, systems=("gb200",)).attrs["candidates"]
    vec = one / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    m = scalar_rate_matching("gb200", args.model, args.isl, args.osl)
    scalar = m / (time.perf_counter() - t0)
    print(f"gb200 only: vectorised {vec:,.0f} candidates/s, scalar loops {scalar:,.0f} candidates/s")
    print(f"speedup_vs_scalar: {vec / scalar:.1f}")


if __name__ == "__main__":
    main()
