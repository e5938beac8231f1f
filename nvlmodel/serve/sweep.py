"""Many scenarios through Dask: one simulation per scenario on a ``dask.distributed`` cluster (a
local one by default, or an existing one by scheduler address), gathered into one tidy table.

A scenario is a flat mapping (a row of a CSV): :class:`~nvlmodel.serve.Deployment` fields
(``system``, ``model``, ``precision``, ``tp``, ``workers``, ``mode``, ``policy``, ``tiers`` as
``peer+host``, ...), :class:`~nvlmodel.serve.Workload` fields (``isl``, ``osl``, ``spread``,
``shape``, ``groups``, ``prefix``), and the load: ``rate`` (requests/s, open loop) or
``concurrency`` (closed loop), ``requests`` and ``seed``; ``ttft_slo`` and ``tpot_slo`` (seconds)
set the goodput SLA."""

from __future__ import annotations

import dataclasses

from ..units import require_positive_int
from .engine import Deployment, simulate
from .workload import Workload

_DEPLOYMENT = {f.name for f in dataclasses.fields(Deployment)} - {"calibration"}
_WORKLOAD = {f.name for f in dataclasses.fields(Workload)}
_RUN = {"rate", "concurrency", "requests", "seed", "ttft_slo", "tpot_slo", "scenario"}
_INTS = {"tp", "workers", "attention_dp", "ep", "prefill_tp", "prefill_attention_dp", "prefill_ep", "prefill_workers",
         "block_size", "token_budget", "max_seqs", "isl", "osl", "groups", "prefix", "max_context", "concurrency",
         "requests", "seed"}


def _clean(scenario: dict) -> dict:
    """Drop empty cells (a CSV's blanks), cast integer fields, split ``tiers``; unknown keys raise."""
    out = {}
    for k, v in scenario.items():
        if v is None or (isinstance(v, float) and v != v) or v == "":
            continue
        if k not in _DEPLOYMENT | _WORKLOAD | _RUN:
            raise ValueError(f"unknown scenario field {k!r}; fields: {', '.join(sorted(_DEPLOYMENT | _WORKLOAD | _RUN))}")
        if k == "tiers":
            v = tuple(t for t in str(v).replace(",", "+").split("+") if t)
        elif k in _INTS:
            v = int(v)
        out[k] = v
    return out


def run_scenario(scenario: dict) -> dict:
    """Simulate one scenario; returns the scenario with :meth:`SimResult.summary` beside it."""
    s = _clean(scenario)
    d = Deployment(**{k: v for k, v in s.items() if k in _DEPLOYMENT})
    w = Workload(**{k: v for k, v in s.items() if k in _WORKLOAD})
    n = s.get("requests", 1000)
    if ("rate" in s) == ("concurrency" in s):
        raise ValueError("a scenario needs exactly one of rate (open loop) or concurrency (closed loop)")
    reqs = w.generate(n, rate=s.get("rate"), seed=s.get("seed", 0))
    res = simulate(d, reqs, concurrency=s.get("concurrency"), seed=s.get("seed", 0), progress=False)
    summary = res.summary(s.get("ttft_slo", 2.0), s.get("tpot_slo", 0.05))
    return {**scenario, "gpus": d.gpus, **{k: float(v) for k, v in summary.items()}}


def sweep(scenarios, *, scheduler: str | None = None, workers: int = 2, processes: bool = True,
          progress: bool = True) -> "pd.DataFrame":  # noqa: F821
    """Run ``scenarios`` (a list of mappings or a DataFrame, one row each) on a Dask cluster: an
    existing one at ``scheduler`` (``tcp://host:8786``), else a local cluster of ``workers``
    single-threaded processes (``processes=False``: one worker thread in this process, for a few short
    runs that would not repay starting processes on a machine already busy). Returns one row per
    scenario, in input order."""
    import pandas as pd
    from distributed import Client, LocalCluster, as_completed

    require_positive_int("workers", workers)
    rows = scenarios.to_dict("records") if isinstance(scenarios, pd.DataFrame) else [dict(s) for s in scenarios]
    if not rows:
        raise ValueError("no scenarios to run")
    for r in rows:
        _clean(r)  # fail before starting a cluster
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers if processes else 1, threads_per_worker=1, processes=processes,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = client.map(run_scenario, rows, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        out: list = [None] * len(rows)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(rows), unit="scenario")
        for f in as_completed(futures):
            out[index[f.key]] = f.result()
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return pd.DataFrame(out)
