"""Gang scheduling and ModelExpress transfer simulation: how they grow, against baselines run in
the same process.

1. ``gang.churn_table``'s workload (six loads x 4,000 arrivals) per scheduler: the seed's domain
   scheduler, the real-fabric scheduler with free GPUs kept per tray as groups come and go, and the
   same fabric scheduler rescanning all 72 GPUs at every placement (the previous implementation).
   Same decisions (checked); prints the fastest of five interleaved runs and ratios, also per group
   placed (the fabric refuses fewer groups, so it places more).
2. ``modelexpress.simulate`` on plans of 8 to 256 transfers with distinct bandwidths (sources
   sharing egress, one target's ingress): the heap-based max-min fair sharing against plain
   progressive filling (every resource rescanned each round, the previous implementation), with
   links wide enough that the transfers' own bandwidths bind one at a time (the worst case). Same
   end times (checked); prints seconds and the growth exponent of each (slope of log time on log
   flows).

    python benchmarks/schedulers.py
"""

from __future__ import annotations

import time
from unittest import mock

import numpy as np

from nvlmodel import gang, modelexpress as mx


class ScanningFabric(gang.FabricScheduler):
    """The fabric scheduler as it was: group the free GPUs by tray from a scan of all 72 per placement."""

    def _pick(self, tp):
        free = self.free_gpus
        if len(free) < tp:
            return None
        saved = self._tray_free, self._counts
        self._tray_free = [[] for _ in saved[0]]
        for g in free:
            self._tray_free[self.topology.tray_of(g)].append(g)
        self._counts = [len(f) for f in self._tray_free]
        try:
            return super()._pick(tp)
        finally:
            self._tray_free, self._counts = saved


def churn(maker) -> tuple[float, list]:
    t = time.perf_counter()
    with mock.patch.dict(gang.SCHEDULERS, {"bench": maker}):
        out = [gang.simulate_churn("bench", load=load, arrivals=4000, rng_seed=0).__dict__
               for load in (0.5, 0.7, 0.8, 0.9, 1.0, 1.2)]
    return time.perf_counter() - t, out


def plan(n: int) -> mx.TransferPlan:
    rng = np.random.default_rng(n)
    p = mx.TransferPlan("bench", target=0)
    for i in range(n):  # sources 1..8 share their egress; every transfer its own path bandwidth
        p.add_transfer(mx.Transfer(src=1 + i % 8, dst=0, rank=i, nbytes=float(rng.uniform(1e8, 2e9)), hops=1,
                                   bandwidth=float(rng.uniform(1e11, 9e11))))
    return p


def main() -> None:
    times: dict[str, list[float]] = {}
    for _ in range(5):  # interleaved; the fastest run of each (slower runs measure the machine)
        for name, maker in (("seed", gang.NVL72GangScheduler), ("fabric", gang.FabricScheduler), ("scan", ScanningFabric)):
            t, out = churn(maker)
            times.setdefault(name, []).append(t)
            if name == "seed":
                seed = out
            elif name == "fabric":
                fab = out
            elif out != fab:
                raise SystemExit("the incremental fabric scheduler decides differently from the scanning one")
    t_seed, t_fab, t_scan = (min(times[k]) for k in ("seed", "fabric", "scan"))
    placed = {k: sum(r["arrivals"] - r["refused"] for r in v) for k, v in (("seed", seed), ("fabric", fab))}
    print(f"churn_table workload: seed domains {t_seed:.3f} s, fabric (incremental) {t_fab:.3f} s, "
          f"fabric (scanning, previous) {t_scan:.3f} s (fastest of 5)")
    print(f"fabric incremental / scanning speed-up: {t_scan / t_fab:.2f}x; fabric / seed time: {t_fab / t_seed:.2f} "
          f"(the fabric places {placed['fabric']:,} groups, the seed {placed['seed']:,}: per group placed and "
          f"released {(t_fab / placed['fabric']) / (t_seed / placed['seed']):.2f})")

    sizes, fast, slow = (8, 16, 32, 64, 128, 256), [], []
    for n in sizes:
        p = plan(n)
        t = time.perf_counter()
        a = mx.simulate(p, ingress_bw=1e14)  # wide links: per-transfer caps bind, one at a time
        fast.append(time.perf_counter() - t)
        with mock.patch.object(mx, "_max_min_rates", mx._progressive_filling_rates):
            t = time.perf_counter()
            b = mx.simulate(p, ingress_bw=1e14)
            slow.append(time.perf_counter() - t)
        if not np.allclose([e.end_s for e in a], [e.end_s for e in b], rtol=1e-9):
            raise SystemExit(f"end times differ at {n} flows")
        print(f"{n:4d} flows: heap {fast[-1] * 1e3:8.2f} ms, progressive filling {slow[-1] * 1e3:9.2f} ms, "
              f"ratio {slow[-1] / fast[-1]:6.1f}x")
    x = np.log(sizes[2:])
    print(f"growth exponent (time ~ flows^k, 32-256 flows): heap k = {np.polyfit(x, np.log(fast[2:]), 1)[0]:.2f}, "
          f"progressive filling k = {np.polyfit(x, np.log(slow[2:]), 1)[0]:.2f}")


if __name__ == "__main__":
    main()
