"""Simulation speed: simulated requests per wall-second of nvlmodel.serve on one GB200 NVL72 rack,
and the ratio to the static model's cost (chapter 7's formula, evaluated once per request in this
process), with peak memory.

The default scenario is the issue's target: 1,000,000 requests (Llama-3.1-70B FP4, nine TP8
workers, KV-aware routing, peer and host tiers, multi-turn chat, open loop at 85 % of the rack's
capacity) on one core. ``--requests 100000`` gives a quick reading.

``--replay`` times instead what chapter 9 spends most of its time on: replaying measured
closed-loop rows (every calibration row of the dense table at one compute fraction, lockstep
protocol), the way the package does it (means straight from the simulation's lists, step-cost
tables kept per worker shape) against the previous way (``simulate(...).requests`` as a table,
step costs rebuilt per row); then the dense table's replay in one process against two local Dask
processes (``replay(workers=2)``), and, when the record of runs is this package's, that replay read
from it (``nvlmodel.recorded``). Same means (checked); prints seconds and the ratios.

``--tables`` times the step-cost tables of the serving table's slowest replay (DeepSeek-R1 FP4 on
GB200, SGLang, disaggregated: a prefill pool of six TP4 workers at 131,072 tokens a step beside a
decode worker of 48 attention-DP ranks, whose tables span 6.3 million token counts): built as the
package builds them, each block of token counts filled on its first read
(``nvlmodel.serve.cost.TokenTable``), against every count filled at once (the previous way); then
that row's replay. Same entries (checked).

    python benchmarks/serve.py [--requests 1000000]
    python benchmarks/serve.py --replay
    python benchmarks/serve.py --tables
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from nvlmodel.calibrate import Config, components
from nvlmodel.serve import Deployment, Workload, simulate


def replay_benchmark() -> None:
    from dataclasses import replace

    from nvlmodel.calibrate import calibration_rows, fitted
    from nvlmodel.calibrate.data import _measurements
    from nvlmodel.serve import engine
    from nvlmodel.recorded import ignored as recorded_ignored
    from nvlmodel.serve.validate import PROTOCOLS, _replay_inputs, replay_row

    rows = list(calibration_rows(_measurements()).itertuples())  # the dense table: aggregated rows
    static = fitted()
    cals = {e: replace(c, compute=0.7, t_req=0.0) for e, c in static.items()}

    def previous(row):  # the table of every request, and step costs built for each row
        engine._step_cost.cache_clear()
        d, reqs, c, skip = _replay_inputs(row, cals[row.engine], PROTOCOLS["lockstep"])  # the replay's deployment
        r = simulate(d, reqs, concurrency=c).requests.iloc[skip:]
        return float(r.ttft_s.mean() * 1e3), float(r.tpot_s.mean() * 1e3)

    t0 = time.perf_counter()
    old = [previous(r) for r in rows]
    t_old = time.perf_counter() - t0
    engine._step_cost.cache_clear()
    t0 = time.perf_counter()
    with recorded_ignored():  # simulated, whatever the record holds
        new = [replay_row(r, cals[r.engine], protocol="lockstep") for r in rows]
    t_new = time.perf_counter() - t0
    assert old == [(x["ttft_sim_ms"], x["tpot_sim_ms"]) for x in new], "the two ways must give the same means"
    print(f"replay of {len(rows)} calibration rows at one compute fraction: previous {t_old:.2f} s, "
          f"now {t_new:.2f} s; ratio {t_old / t_new:.2f}x")

    from nvlmodel import recorded
    from nvlmodel.serve.validate import replay  # the book's replay: one process against two Dask processes

    with recorded.ignored():  # both simulate every row
        t0 = time.perf_counter()
        one = replay(fits_only=True)
        t_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        two = replay(fits_only=True, workers=2)
        t_two = time.perf_counter() - t0
    assert one.ttft_sim_ms.tolist() == two.ttft_sim_ms.tolist(), "Dask must give the same means"
    print(f"replay of the dense table's {len(one)} rows (default protocol): one process {t_one:.2f} s, "
          f"two Dask processes {t_two:.2f} s; ratio {t_one / t_two:.2f}x")
    if not recorded.fresh():
        print("the record of runs is stale (another package wrote it): no reading from it to time")
        return
    t0 = time.perf_counter()
    read = replay(fits_only=True)
    t_read = time.perf_counter() - t0
    assert one.ttft_sim_ms.tolist() == read.ttft_sim_ms.tolist(), "the record must give the same means"
    print(f"the same rows read from the record of runs (nvlmodel.recorded): {t_read:.2f} s; "
          f"ratio to simulating them {t_one / t_read:.1f}x")


def tables_benchmark() -> None:
    from dataclasses import replace

    from nvlmodel.calibrate import load_measurements
    from nvlmodel.recorded import ignored as recorded_ignored
    from nvlmodel.serve import engine
    from nvlmodel.serve.cost import step_cost
    from nvlmodel.search import fitted_serving
    from nvlmodel.serve.validate import PROTOCOL, PROTOCOLS, SIM_STEPS, _replay_inputs, _replayed_means

    d = load_measurements(table="serving")
    row = next(d[d.source_id == "2026_04_06_deepseek_r1_gb200_sglang_fp4_disagg_8192x1024_c2048_tp4_ep1_1703"]
               .itertuples())
    cal = fitted_serving(SIM_STEPS["serving"])  # the simulation's step of record for the serving table
    inputs = _replay_inputs(row, cal[row.engine], PROTOCOLS[PROTOCOL])
    dep = inputs[0]
    c, sim_cal = dep.config, replace(dep.calibration, t_req=0.0, q=0.0)
    n = 131072 * 48  # the replay's tables: the largest budget times the widest side's ranks

    def build():
        return [step_cost(c, sim_cal, prefill=p, max_tokens=n) for p in (False, True)]

    t0 = time.perf_counter()
    costs = build()
    reads = [1, 43, 2064, 8192, 131072]  # a decode step, a full decode worker, prefill chunks
    lazy = [[getattr(sc, f)[t] for t in reads] for sc in costs for f in ("gemm", "comm")]
    t_lazy = time.perf_counter() - t0
    t0 = time.perf_counter()
    whole = []
    for sc in build():
        every = np.arange(1, n + 1, dtype=float)
        for f in ("gemm", "comm"):
            v = np.broadcast_to(getattr(sc, f).fill(every), every.shape).tolist()
            whole.append([v[t - 1] for t in reads])
    t_whole = time.perf_counter() - t0
    assert lazy == whole, "a block read must hold what the whole fill gives"
    print(f"step-cost tables of {n:,} token counts, two worker shapes: every count filled {t_whole:.2f} s, "
          f"filled a block at a time as read {t_lazy:.2f} s; ratio {t_whole / t_lazy:.1f}x")
    engine._step_cost.cache_clear()
    t0 = time.perf_counter()
    with recorded_ignored():
        out = _replayed_means(*inputs)
    print(f"that row's replay ({row.concurrency} clients, {len(inputs[1].isl):,} requests): "
          f"{time.perf_counter() - t0:.2f} s, TTFT {out['ttft_sim_ms']:.0f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=1_000_000)
    p.add_argument("--rate", type=float, default=85.0, help="requests/s offered to the rack (default 85)")
    p.add_argument("--replay", action="store_true", help="time the replay of measured rows instead")
    p.add_argument("--tables", action="store_true", help="time the step-cost tables of the slowest replay instead")
    args = p.parse_args()
    if args.replay:
        return replay_benchmark()
    if args.tables:
        return tables_benchmark()
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
