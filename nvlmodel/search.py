"""Best deployment under an SLA: enumerate deployments of one model on H100 HGX nodes, B200 HGX
nodes and one GB200 NVL72 rack, predict each with the calibrated step model, keep those that meet
the SLA and fit in memory, and return the Pareto frontier of output tokens/s per GPU against
tokens/s per user.

A deployment (:func:`search`):

* **aggregated**: one worker of ``tp x attention_dp`` GPUs (``ep``-way expert parallelism for MoE
  models) holding ``batch`` sequences per attention rank; TPOT = decode step + the prefills of
  the rank's other requests spread over ``osl`` steps; TTFT = per-request cost + one prefill +
  the ``q`` share of the rank's other prefills (:mod:`nvlmodel.calibrate`'s model, same
  parameters).
* **disaggregated**: ``n_p`` prefill workers and ``n_d`` decode workers, each with its own
  parallelism; TPOT = decode step (no prefill interference); TTFT = per-request cost + one
  prefill + the prompt's KV moved to the decode worker + the wait for a prefill rank at the pool's
  utilisation (:func:`prefill_wait`: M/D/c, Poisson arrivals at the served rate); the pool sizes
  by rate matching (aiconfigurator): the (n_p, n_d) maximising min(0.90 x prefill rate x n_p,
  0.92 x decode rate x n_d) per GPU, within the GPU budget, among those that meet the TTFT limit
  when any does (a pool run at 90 % queues: a prompt waits 4.5 prefills on one rank). This TTFT
  is the service's steady state: a benchmark whose clients all start at once reports a higher
  mean, by the first wave's wait (:func:`simulate_frontier` measures both; chapter 8).

Every step time comes from the calibrated step model (:func:`nvlmodel.calibrate.model.step_times`,
arrays over the batch grid): the engines' measured kernels (:mod:`nvlmodel.kernels`) by default
(:data:`nvlmodel.calibrate.STATIC_STEP`), the roofline (:func:`nvlmodel.roofline.decode_step`,
:func:`~nvlmodel.roofline.prefill`) with ``--step roofline`` and wherever no kernel table covers a
deployment (``step_source`` says which), the engines' measured all-reduce and all-to-all curves
(:func:`nvlmodel.calibrate.comm_time`) and one engine's calibration fitted on H100/H200 rows of
the serving table (:func:`fitted_serving`). Memory: weights plus ``batch x (isl + osl)`` tokens of
KV per rank within the engine's KV budget (:func:`nvlmodel.kvbm.kv_capacity`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from . import energy
from .calibrate import STATIC_STEP, Calibration, Config, beyond_envelope, fitted
from .calibrate.model import (allreduces_spanning_domains, engine_backend, exchange_spans_domains, kv_capacity_of,
                              kv_transfer_time, step_times)
from .hardware import TP_DEGREES, get_gpu
from .models import get_model
from .units import require_choice, require_positive, require_positive_int

#: Systems a deployment may use -> (label, GPUs available: one NVL72 rack, or nine 8-GPU HGX nodes).
SEARCH_SYSTEMS: dict[str, tuple[str, int]] = {"h100_sxm": ("H100 HGX", 72), "h200_sxm": ("H200 HGX", 72),
                                              "b200_sxm": ("B200 HGX", 72), "gb200": ("GB200 NVL72", 72)}
#: The systems :func:`search` compares unless told otherwise (the document's comparison and B200 HGX).
DEFAULT_SYSTEMS: tuple[str, ...] = ("h100_sxm", "b200_sxm", "gb200")
#: Default weight precision per system: the lowest each runs natively (Hopper has no FP4 tensor cores).
DEFAULT_PRECISION: dict[str, str] = {"h100_sxm": "fp8", "h200_sxm": "fp8", "b200_sxm": "fp4", "gb200": "fp4"}
#: Batch sizes (sequences per attention rank) the search tries.
BATCHES = np.unique(np.round(np.geomspace(1, 1024, 31))).astype(float)
#: aiconfigurator's rate-matching derating of prefill and decode throughput.
PREFILL_DERATE, DECODE_DERATE = 0.90, 0.92
MAX_WORKERS = 16
ENGINE = "trtllm@serving"


def fitted_serving(step: str = STATIC_STEP) -> dict[str, Calibration]:
    """Each engine's calibration fitted on the H100/H200 rows of the serving table (chapter 8), with
    step times from measured kernels (the default, :data:`nvlmodel.calibrate.STATIC_STEP`) or from the
    roofline (:data:`nvlmodel.calibrate.STEP_MODELS`): :func:`nvlmodel.calibrate.fitted` of that table
    (cached there)."""
    return fitted(step, table="serving")


def _engine_calibration(engine: str, calibrations: dict[str, Calibration] | None) -> Calibration:
    """``engine``'s calibration from ``calibrations`` (default :func:`fitted_serving`), checked."""
    cal_all = fitted_serving() if calibrations is None else calibrations
    return cal_all[require_choice("engine", engine, cal_all)]


@dataclass(frozen=True)
class SLA:
    """Limits a deployment must meet: time to first token and time per output token, seconds."""

    ttft_s: float
    tpot_s: float

    def __post_init__(self):
        require_positive("ttft_s", self.ttft_s)
        require_positive("tpot_s", self.tpot_s)


def redundant_experts_for(model, ep: int) -> int:
    """The fewest redundant experts (replicas beside the experts, as expert-parallel load balancing
    deploys them) that let ``ep`` ranks hold ``model``'s routed experts evenly: 0 where ``ep``
    divides them, else the slots up to the next multiple of ``ep`` (DeepSeek's 256 experts over 72
    GPUs: 32, 288 slots, as SGLang's GB200 runs held over 24 and 48; over 48: 32; over 24: 8). The
    search and its re-checks deploy an expert-parallel worker so.

    >>> m = get_model("deepseek-v3")
    >>> redundant_experts_for(m, 72), redundant_experts_for(m, 48), redundant_experts_for(m, 64)
    (32, 32, 0)
    """
    m = model if not isinstance(model, str) else get_model(model)
    require_positive_int("ep", ep)
    return (-m.experts) % ep if m.is_moe else 0


def parallel_configs(system: str, model: str, max_gpus: int) -> list[tuple[int, int, int]]:
    """Worker shapes (tp, attention_dp, ep) of ``model`` on ``system`` with at most ``max_gpus``
    GPUs: TP within one NVLink domain, or over two whole HGX nodes
    (:attr:`nvlmodel.hardware.GPUSpec.max_tp`), and dividing the heads; dense models TP only; MoE models
    attention TP or attention DP, with EP over all the worker's GPUs or none (where the GPUs do not
    divide the experts, with :func:`redundant_experts_for` replicas: DeepSeek over a 72-GPU rack)."""
    m = get_model(model)
    gpu = get_gpu(_gpu(system))
    sizes = [g for g in TP_DEGREES if g <= max_gpus]
    out = []
    for g in sizes:
        for tp in (t for t in TP_DEGREES if g % t == 0 and t <= gpu.max_tp and m.heads % t == 0):
            adp = g // tp
            if not m.is_moe:
                if adp == 1:
                    out.append((tp, 1, 1))
                continue
            if adp not in (1, g):  # attention all TP or all DP, as the engines run it
                continue
            for ep in {1, g}:
                if not (ep == 1 and adp > 1):
                    out.append((tp, adp, ep))
    return out


def _gpu(system: str) -> str:
    from .calibrate import SYSTEMS

    return SYSTEMS[require_choice("system", system, SEARCH_SYSTEMS)]


def _worker(system, model, precision, shape, isl, osl, cal: Calibration, backend: str):
    """Decode TPOT over :data:`BATCHES` (array), prefill time of one prompt, the largest batch per
    rank that fits in memory, and the aggregated TPOT/TTFT arrays, for one worker shape; None
    where the weights and the engine's workspace do not fit. Step times are the calibrated
    model's own (:func:`nvlmodel.calibrate.model.step_times`: the roofline or measured kernels, as
    ``cal`` says), and so is the memory check (:func:`nvlmodel.calibrate.kv_capacity_of`)."""
    tp, adp, ep = shape
    cfg = Config(system, model, precision, tp, 1, isl, osl, backend=backend, attention_dp=adp, ep=ep,
                 redundant_experts=redundant_experts_for(model, ep))
    cap = kv_capacity_of(cfg)
    if cap is None:
        return None
    b = BATCHES
    decode, fill, source = step_times(cfg, cal, b)
    fits = b * (isl + osl) <= cap / adp
    return {"cfg": cfg, "decode": decode, "fill": fill, "fits": fits, "source": source,
            "agg_tpot": _agg_tpot(decode, fill, b, osl), "agg_ttft": cal.t_req + fill * (1 + cal.q * (b - 1))}


def _prefill_service(fill, cal: Calibration):
    """Seconds a disaggregated prefill rank spends per prompt: one prompt per attention rank per
    step (as the measured deployments were configured), each step paying the engine's fixed cost
    (the simulation charges it too)."""
    return fill + cal.t_step


def _agg_tpot(decode, fill, batch, osl: int):
    """An aggregated worker's TPOT: its decode step plus the prefills that share its steps, one per
    request, spread over the ``osl`` tokens of the other ``batch - 1`` sequences."""
    return decode + (batch - 1) / osl * fill


def prefill_wait(rate, servers, service_s):
    """Mean wait before a prompt's prefill starts in a pool of ``servers`` prefill ranks, each
    prefilling one prompt of ``service_s`` at a time, under Poisson arrivals at ``rate`` requests/s
    (arrays broadcast): the Kingman-Sakasegawa approximation of the G/G/c queue (Hopp and Spearman,
    *Factory Physics*), ``(c_a^2 + c_s^2)/2 x u^(sqrt(2(c+1)) - 1) / (c (1 - u)) x t_s`` with
    ``c_a^2 = 1`` (Poisson), ``c_s^2 = 0`` (deterministic prefill) and ``u = rate t_s / c``: exact
    for one rank (M/D/1), within a few percent of Erlang C halved beyond. Infinite at or above
    saturation.

    >>> round(float(prefill_wait(0.9, 1, 1.0)), 3)  # M/D/1 at 90 %: rho / (2 mu (1 - rho)) = 4.5 s
    4.5
    """
    lam, c, s = np.broadcast_arrays(np.asarray(rate, float), np.asarray(servers, float), np.asarray(service_s, float))
    u = lam * s / c
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        wait = 0.5 * u ** (np.sqrt(2 * (c + 1)) - 1) / (c * (1 - u)) * s
    wait = np.where(u < 1, wait, np.inf)
    return wait if wait.ndim else float(wait)


#: The columns of :func:`search`'s rows before the derived ones (the order of its table).
SEARCH_COLUMNS: tuple[str, ...] = ("system", "system_key", "precision", "mode", "decode_shape", "prefill_shape",
                                   "batch", "prefill_workers", "decode_workers", "gpus", "ttft_s", "tpot_s",
                                   "tok_s_per_gpu", "step_source")


def _aggregated_rows(workers: dict) -> tuple[list[dict], int]:
    """One row per aggregated deployment whose KV fits (one worker of each shape, every batch of
    :data:`BATCHES`) of one system's ``workers`` (:func:`_worker` by shape), and how many were evaluated."""
    rows = []
    for shape, w in workers.items():
        g = w["cfg"].gpus
        for i in np.flatnonzero(w["fits"]):
            b = BATCHES[i]
            rows.append({"mode": "agg", "decode_shape": shape, "prefill_shape": None, "batch": b, "prefill_workers": 0,
                         "decode_workers": 0, "gpus": g, "ttft_s": w["agg_ttft"][i], "tpot_s": w["agg_tpot"][i],
                         "tok_s_per_gpu": b * shape[1] / w["agg_tpot"][i] / g, "step_source": str(w["source"][i])})
    return rows, len(workers) * len(BATCHES)


def _disaggregated_rows(workers: dict, budget: int, cal: Calibration, sla: SLA, isl: int, osl: int,
                        disagg: Config) -> tuple[list[dict], int]:
    """One row per (prefill shape, decode shape, batch) of one system's ``workers`` whose decode
    KV fits, its pools sized by :func:`_match_pools` within ``budget`` GPUs, and how many
    candidates were evaluated (every pool size counted). ``disagg``: the system's disaggregated
    :class:`~nvlmodel.calibrate.Config`, its shapes set per pair for the KV transfer."""
    rows, evaluated = [], 0
    n = np.arange(1, MAX_WORKERS + 1, dtype=float)
    npp, ndd = np.meshgrid(n, n, indexing="ij")
    for (ps, pw), (ds, dw) in itertools.product(workers.items(), workers.items()):
        gpus = npp * pw["cfg"].gpus + ndd * dw["cfg"].gpus
        evaluated += len(BATCHES) * gpus.size
        within = gpus <= budget
        if not within.any():
            continue
        p_service = _prefill_service(pw["fill"], cal)  # the pool's service time per prompt
        xfer = kv_transfer_time(replace(disagg, tp=ds[0], attention_dp=ds[1], ep=ds[2], prefill_tp=ps[0],
                                        prefill_attention_dp=ps[1], prefill_ep=ps[2],
                                        redundant_experts=redundant_experts_for(disagg.model, ds[2]),
                                        prefill_redundant_experts=redundant_experts_for(disagg.model, ps[2])))
        for i in np.flatnonzero(dw["fits"]):
            b, tpot = BATCHES[i], dw["decode"][i]
            k, ttft, per_gpu = _match_pools(npp, ndd, gpus, within, ps[1] / p_service, b * ds[1] / (osl * tpot),
                                            p_service, ps[1], cal.t_req + p_service + xfer, sla, osl)
            rows.append({"mode": "disagg", "decode_shape": ds, "prefill_shape": ps, "batch": b,
                         "prefill_workers": int(npp[k]), "decode_workers": int(ndd[k]), "gpus": int(gpus[k]),
                         "ttft_s": ttft, "tpot_s": tpot, "tok_s_per_gpu": per_gpu, "step_source": str(dw["source"][i])})
    return rows, evaluated


def _match_pools(npp, ndd, gpus, within, p_rate: float, d_rate: float, p_service: float, p_ranks: int,
                 ttft_unloaded: float, sla: SLA, osl: int) -> tuple[tuple, float, float]:
    """The prefill and decode pool sizes (grids ``npp`` x ``ndd`` of workers, ``gpus`` each, ``within``
    the budget) that serve the most output tokens/s per GPU among those meeting the TTFT limit (all
    pools where none does): each pool serves at its derated rate (``p_rate`` and ``d_rate``
    requests/s per worker), the deployment at the slower one, and a prompt waits for the prefill
    pool's ``p_ranks`` ranks per worker at that rate (:func:`prefill_wait`) beyond
    ``ttft_unloaded``. Returns the grid index, its TTFT and its tokens/s per GPU."""
    served = np.minimum(PREFILL_DERATE * p_rate * npp, DECODE_DERATE * d_rate * ndd)
    ttft = ttft_unloaded + prefill_wait(served, npp * p_ranks, p_service)
    per_gpu = np.where(within, served * osl / gpus, -np.inf)
    ok = within & (ttft <= sla.ttft_s)  # the pools that meet the TTFT limit, if any do
    k = np.unravel_index(np.argmax(np.where(ok, per_gpu, -np.inf) if ok.any() else per_gpu), per_gpu.shape)
    return k, float(ttft[k]), per_gpu[k]


def search(model: str, isl: int, osl: int, sla: SLA, *, systems: tuple[str, ...] = DEFAULT_SYSTEMS,
           precision: dict[str, str] | None = None, engine: str = ENGINE, max_gpus: int = 72,
           calibrations: dict[str, Calibration] | None = None,
           price_per_gpu_hour: float | None = None) -> "pd.DataFrame":  # noqa: F821
    """Every memory-feasible deployment of ``model`` for prompts of ``isl`` and outputs of ``osl``
    tokens on each of ``systems`` (at most ``max_gpus`` GPUs), predicted with ``engine``'s
    calibration, with whether it meets ``sla``. One row per candidate: system, mode, shapes,
    batch per rank, pool sizes, GPUs, TTFT, TPOT, tokens/s per user (1 / TPOT), output
    tokens/s per GPU, where its step time came from (``step_source``: measured kernels or the
    roofline), whether it is ``extrapolated`` (its batch per rank or context beyond every measured
    serving row of this model on this system, :func:`nvlmodel.calibrate.beyond_envelope`), and per
    output token its energy and GPU time (:func:`nvlmodel.energy.add_columns`:
    tokens per joule at system and at GPU power, GPU-hours per million, and the cost at
    ``price_per_gpu_hour`` when given). ``df.attrs["candidates"]`` counts every candidate evaluated (feasible or not).
    ``systems``: any of :data:`SEARCH_SYSTEMS` (default :data:`DEFAULT_SYSTEMS`), each once."""
    import pandas as pd

    model = get_model(model).key  # validates; aliases (deepseek-r1) resolve
    require_positive_int("isl", isl)
    require_positive_int("osl", osl)
    require_positive_int("max_gpus", max_gpus)
    if not isinstance(sla, SLA):
        raise TypeError("sla must be an nvlmodel.search.SLA(ttft_s, tpot_s)")
    cal = _engine_calibration(engine, calibrations)
    backend = engine_backend(engine)
    for system in systems:
        require_choice("system", system, SEARCH_SYSTEMS)
    if len(set(systems)) != len(systems):
        raise ValueError(f"systems must name each system once, got {list(systems)}")
    rows, evaluated = [], 0
    for system in systems:
        prec = (precision or {}).get(system, DEFAULT_PRECISION[system])
        budget = min(max_gpus, SEARCH_SYSTEMS[system][1])
        workers = {}
        for shape in parallel_configs(system, model, budget):
            w = _worker(system, model, prec, shape, isl, osl, cal, backend)
            if w is not None:
                workers[shape] = w
        base = {"system": SEARCH_SYSTEMS[system][0], "system_key": system, "precision": prec}
        agg, n_agg = _aggregated_rows(workers)
        dis, n_dis = _disaggregated_rows(workers, budget, cal, sla, isl, osl,
                                         Config(system, model, prec, 1, 1, isl, osl, backend=backend, mode="disagg"))
        rows += [{**base, **r} for r in agg + dis]
        evaluated += n_agg + n_dis
    out = pd.DataFrame(rows, columns=SEARCH_COLUMNS)
    out["extrapolated"] = False
    for s_ in systems:
        here = (out.system_key == s_).to_numpy()
        out.loc[here, "extrapolated"] = beyond_envelope(s_, model, out.batch[here].to_numpy(), isl + osl)
    out["tok_s_per_user"] = 1.0 / out.tpot_s
    out["meets_sla"] = (out.ttft_s <= sla.ttft_s) & (out.tpot_s <= sla.tpot_s)
    out = energy.add_columns(out, price_per_gpu_hour=price_per_gpu_hour)
    out.attrs["candidates"] = evaluated
    return out


def pareto(points: "pd.DataFrame", x: str = "tok_s_per_user", y: str = "tok_s_per_gpu") -> "pd.DataFrame":  # noqa: F821
    """The rows no other row beats on both ``x`` and ``y`` (higher is better), sorted by ``x``."""
    if points.empty:
        return points
    d = points.sort_values([x, y], ascending=[False, False])
    best, keep = -np.inf, []
    for idx, v in zip(d.index, d[y].to_numpy()):
        if v > best:
            keep.append(idx)
            best = v
    return points.loc[keep].sort_values(x)


def best(model: str, isl: int, osl: int, sla: SLA, **kw) -> "pd.DataFrame":  # noqa: F821
    """The Pareto frontier per system of :func:`search`'s deployments that meet ``sla``. Empty with
    ``attrs["why"]`` saying so when none does."""
    import pandas as pd

    allc = search(model, isl, osl, sla, **kw)
    ok = allc[allc.meets_sla]
    frames = [pareto(g) for _, g in ok.groupby("system", sort=False)]
    out = pd.concat(frames) if frames else allc.iloc[0:0]
    out.attrs["candidates"] = allc.attrs["candidates"]
    if out.empty:
        if allc.empty:
            why = "no deployment fits in memory"
        else:
            why = (f"no deployment meets the SLA (TTFT <= {sla.ttft_s * 1e3:.0f} ms, TPOT <= {sla.tpot_s * 1e3:.1f} ms); "
                   f"the fastest TTFT is {allc.ttft_s.min() * 1e3:.0f} ms and the fastest TPOT "
                   f"{allc.tpot_s.min() * 1e3:.1f} ms") + _all_cross_nodes(allc, model, kw)
        out.attrs["why"] = why
    return out.reset_index(drop=True)


def _all_cross_nodes(candidates: "pd.DataFrame", model: str, kw: dict) -> str:  # noqa: F821
    """Why no deployment is fast enough, where that is the reason: every candidate's decode worker
    spans more GPUs than one NVLink domain joins, spreading its experts over nodes (each decode step
    pays the exchange between them, :attr:`nvlmodel.calibrate.Calibration.t_xnode`) or its
    tensor-parallel group (each all-reduce between them pays
    :attr:`~nvlmodel.calibrate.Calibration.t_xar`); the least any of them pays a step; else ""."""
    if candidates.empty:
        return ""
    m = get_model(model)
    cal = (kw.get("calibrations") or fitted_serving())[kw.get("engine", ENGINE)]
    costs = {}  # what a decode step of each layout pays between nodes, by what it pays for
    for r in candidates.itertuples():
        domain = get_gpu(_gpu(r.system_key)).nvlink_domain_gpus
        if exchange_spans_domains(*r.decode_shape, domain):
            costs[r.decode_shape] = ("exchanging the tokens between them (Calibration.t_xnode)",
                                     cal.t_xnode * m.moe_layers)
        elif n := allreduces_spanning_domains(m, *r.decode_shape, domain):
            costs[r.decode_shape] = (f"its {n} all-reduces between them (Calibration.t_xar)", cal.t_xar * n)
        else:
            return ""
    what, least = min(costs.values(), key=lambda c: c[1])
    return (f"; every deployment that fits spans more than one node, and each decode step then pays at least "
            f"{least * 1e3:.0f} ms for {what}")


def simulate_frontier(frontier: "pd.DataFrame", model: str, isl: int, osl: int, *,  # noqa: F821
                      calibrations: dict[str, Calibration] | None = None, engine: str = ENGINE,
                      protocol="inferencemax", seed: int = 0, progress: bool = False) -> "pd.DataFrame":  # noqa: F821
    """Re-check frontier points (:func:`best`) with the request-level simulation: each point's
    deployment (the decode and prefill pools as chosen; prefill workers take one prompt per
    attention rank per step, as the search serves them) serves closed-loop clients at the load the
    search assumed (:func:`frontier_clients`) as a benchmark client would send them
    (``protocol``: a name of :data:`nvlmodel.serve.validate.PROTOCOLS` or a
    :class:`~nvlmodel.serve.validate.Protocol`; by default the one chapter 9 validates the replay
    with: lengths drawn in [0.8, 1] x ``isl`` and ``osl``, so that clients do not run in lockstep).
    Adds ``sim_ttft_s`` and ``sim_tpot_s`` (means over the counted requests: what the benchmark
    would report), ``sim_ttft_steady_s`` (the mean TTFT of the run's second half of requests sent:
    the service's steady state, after the start, when every client sent its first request at once,
    has drained), ``startup_s`` (disaggregated points: what that start adds to the benchmark's mean
    by hand, :meth:`~nvlmodel.serve.validate.Protocol.startup_wait` over the point's prefill ranks
    at the search's service time per prompt; aggregated: NaN), ``sim_prefill_util``
    (disaggregated points: the prefill pool's utilisation in that steady state, the rate requests
    were sent in the run's second half times the search's service time of a prompt of the run's
    mean length, over the pool's ranks; near 1 the closed loop has filled the pool, as it does
    when the simulated decode returns clients sooner than the search's TPOT says), ``sim_clients``
    (the concurrency simulated: :func:`frontier_clients`) and ``sim_status`` (``ok`` or why the
    point could not be simulated). ``progress``: a bar per large run (100,000 requests or more)."""
    from .serve import Deployment
    from .serve.validate import _protocol

    proto = _protocol(protocol)
    require_positive_int("isl", isl)
    require_positive_int("osl", osl)
    cal = _engine_calibration(engine, calibrations)
    backend = engine_backend(engine)
    out = frontier.copy()
    ttft, steady, startup, util, tpot, status, loads = [], [], [], [], [], [], []
    for r in frontier.itertuples():
        ds, ps = r.decode_shape, r.prefill_shape
        kw = dict(tp=ds[0], attention_dp=ds[1], ep=ds[2], engine=engine, calibration=cal,
                  redundant_experts=redundant_experts_for(model, ds[2]))
        if r.mode == "disagg":  # prefill workers as the search serves them: one prompt per rank per step
            kw.update(mode="disagg", workers=int(r.decode_workers), prefill_tp=ps[0], prefill_attention_dp=ps[1],
                      prefill_ep=ps[2], prefill_workers=int(r.prefill_workers), prefill_max_seqs=1,
                      prefill_redundant_experts=redundant_experts_for(model, ps[2]),
                      prefill_token_budget=isl)
        clients = frontier_clients(r, osl)
        loads.append(clients)
        wait, u = float("nan"), float("nan")
        reqs = proto.requests(isl, osl, clients, seed=seed)
        ranks = int(r.prefill_workers) * ps[1] if r.mode == "disagg" else 0
        if ranks:
            pw = _worker(r.system_key, model, r.precision, tuple(ps), isl, osl, cal, backend)
            if pw is not None:
                wait = proto.startup_wait(clients, ranks, _prefill_service(pw["fill"], cal))
        startup.append(wait)
        try:
            d = Deployment(r.system_key, model, r.precision, **kw)
            t1, t2, t3, preempted, rate = _simulated_point(d, reqs, clients, proto.warmup, progress)
            ttft.append(t1)
            steady.append(t2)
            tpot.append(t3)
            if ranks and np.isfinite(rate):
                mean_isl = max(1, int(round(float(np.mean(reqs.isl)))))
                pm = _worker(r.system_key, model, r.precision, tuple(ps), mean_isl, osl, cal, backend)
                if pm is not None:
                    u = rate * _prefill_service(pm["fill"], cal) / ranks
            status.append("ok" if preempted == 0 else f"ok, {int(preempted)} preemptions")
        except (ValueError, RuntimeError) as e:
            ttft.append(float("nan"))
            steady.append(float("nan"))
            tpot.append(float("nan"))
            status.append(str(e).splitlines()[0])
        util.append(u)
    out["sim_ttft_s"], out["sim_ttft_steady_s"], out["startup_s"], out["sim_prefill_util"] = ttft, steady, startup, util
    out["sim_tpot_s"], out["sim_status"] = tpot, status
    out["sim_clients"] = loads
    return out


def _simulated_point(d, reqs, clients: int, warmup: int, progress: bool) -> tuple[float, ...]:
    """One frontier point's closed-loop run (:func:`simulate_frontier`): the mean TTFT over the
    counted requests, over the run's second half, the mean TPOT, the preemptions, and the rate
    (requests/s) at which the second half was sent (NaN for fewer than two). Recorded under this
    package (:mod:`nvlmodel.recorded`)."""
    from . import recorded
    from .serve import simulate

    def run():
        res = simulate(d, reqs, concurrency=clients, progress=None if progress else False)
        n = len(res.requests)
        counted = res.requests.iloc[clients * warmup:]
        late = res.requests.iloc[max(clients * warmup, n // 2):]
        sent = np.sort(late.arrival_s.to_numpy())
        rate = (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 and sent[-1] > sent[0] else float("nan")
        return (float(counted.ttft_s.mean()), float(late.ttft_s.mean()), float(counted.tpot_s.mean()),
                int(res.requests.preemptions.sum()), rate)

    return recorded.recall(recorded.run_key("frontier point", d, reqs, clients, warmup), run)


def frontier_clients(point, osl: int) -> int:
    """The closed-loop clients that load a frontier point (a row of :func:`best`) as the search
    assumed it loaded. Aggregated: the worker's batch on every attention rank. Disaggregated: the
    search serves ``tok_s_per_gpu x gpus / osl`` requests/s, its pools derated below saturation
    (:data:`PREFILL_DERATE`, :data:`DECODE_DERATE`), so by Little's law ``rate x (TTFT + osl x
    TPOT)`` requests are in flight; filling every decode seat instead would push the prefill pool
    past the rate it was sized for, a different question."""
    adp = point.decode_shape[1]
    if point.mode != "disagg":
        return int(round(point.batch)) * adp
    rate = point.tok_s_per_gpu * point.gpus / osl
    return max(1, int(round(rate * (point.ttft_s + osl * point.tpot_s))))


def retime(points: "pd.DataFrame", model: str, isl: int, osl: int, *,  # noqa: F821
           calibrations: dict[str, Calibration] | None = None, engine: str = ENGINE) -> np.ndarray:
    """The TPOT (s) of each of ``points`` (rows of :func:`search` or :func:`best`) predicted again
    with ``calibrations`` (default :func:`fitted_serving`), the deployment unchanged: the decode
    step of its decode worker at its batch, plus in an aggregated worker the prefills that share
    its steps, as :func:`search` computes them. With the calibration the points were searched with,
    their own ``tpot_s``; with the other step model's, that model's answer for the same deployment."""
    model = get_model(model).key
    require_positive_int("isl", isl)
    require_positive_int("osl", osl)
    cal = _engine_calibration(engine, calibrations)
    backend = engine_backend(engine)
    out = np.empty(len(points))
    for i, r in enumerate(points.itertuples()):
        tp, adp, ep = r.decode_shape
        b = np.array([float(r.batch)])
        decode, fill, _ = step_times(Config(r.system_key, model, r.precision, tp, 1, isl, osl, backend=backend,
                                            attention_dp=adp, ep=ep, redundant_experts=redundant_experts_for(model, ep)),
                                     cal, b)
        out[i] = float(_agg_tpot(decode[0], fill, b[0], osl) if r.mode == "agg" else decode[0])
    return out


def best_per_gpu(frontier: "pd.DataFrame", min_tok_s_per_user: float) -> "pd.DataFrame":  # noqa: F821
    """Per system, the frontier point with the most tokens/s per GPU at at least
    ``min_tok_s_per_user`` tokens/s per user (the per-GPU question at a matched interactivity)."""
    require_positive("min_tok_s_per_user", min_tok_s_per_user)
    d = frontier[frontier.tok_s_per_user >= min_tok_s_per_user]
    return d.loc[d.groupby("system", sort=False).tok_s_per_gpu.idxmax()].reset_index(drop=True)


#: Restrictions :func:`what_buys` compares: name -> which candidates they keep.
VARIANTS: dict[str, str] = {
    "aggregated, EP <= 8": "agg only, every worker within 8 GPUs",
    "aggregated, any EP": "agg only",
    "disaggregated allowed, EP <= 8": "agg or disagg, every worker within 8 GPUs",
    "everything": "agg or disagg, any worker size",
}


def best_by_variant(model: str, isl: int, osl: int, sla: SLA, min_tok_s_per_user: float,
                    **kw) -> "pd.DataFrame":  # noqa: F821
    """The deployment with the most output tokens/s per GPU per system at ``min_tok_s_per_user``
    or more tokens/s per user, under ``sla``, for each restriction of :data:`VARIANTS`: rows of
    :func:`search` with a ``variant`` column (a system with no deployment of a kind has no row of
    it). ``kw`` as for :func:`search`."""
    import pandas as pd

    require_positive("min_tok_s_per_user", min_tok_s_per_user)
    allc = search(model, isl, osl, sla, **kw)
    ok = allc[allc.meets_sla & (allc.tok_s_per_user >= min_tok_s_per_user)]
    small = ok.decode_shape.map(lambda s: s[0] * s[1] <= 8) & ok.prefill_shape.map(
        lambda s: s is None or s[0] * s[1] <= 8)
    keep = {"aggregated, EP <= 8": (ok["mode"] == "agg") & small, "aggregated, any EP": ok["mode"] == "agg",
            "disaggregated allowed, EP <= 8": small, "everything": ok["mode"].notna()}
    parts = [ok[mask].loc[ok[mask].groupby("system", sort=False).tok_s_per_gpu.idxmax()].assign(variant=name)
             for name, mask in keep.items() if mask.any()]
    out = pd.concat(parts, ignore_index=True) if parts else ok.assign(variant=pd.Series(dtype=object))
    out.attrs["systems"] = [SEARCH_SYSTEMS[s][0] for s in kw.get("systems", DEFAULT_SYSTEMS)]
    return out


def variant_table(points: "pd.DataFrame", column: str = "tok_s_per_gpu") -> "pd.DataFrame":  # noqa: F821
    """``column`` of :func:`best_by_variant`'s ``points``, one row per system searched and one
    column per restriction of :data:`VARIANTS` (missing where no deployment of that kind meets
    the SLA)."""
    if "variant" not in points.columns or column not in points.columns:
        raise KeyError(f"points must be best_by_variant's rows with a {column!r} column")
    out = points.pivot(index="system", columns="variant", values=column).reindex(columns=list(VARIANTS))
    out.columns.name = None
    return out.reindex(points.attrs.get("systems", list(out.index)))


def what_buys(model: str, isl: int, osl: int, sla: SLA, min_tok_s_per_user: float, **kw) -> "pd.DataFrame":  # noqa: F821
    """Best output tokens/s per GPU per system at ``min_tok_s_per_user`` or more tokens/s per user,
    under ``sla``, for each restriction of :data:`VARIANTS`: what disaggregation and wide expert
    parallelism add on each system. NaN where no deployment of that kind meets the SLA
    (:func:`variant_table` of :func:`best_by_variant`)."""
    return variant_table(best_by_variant(model, isl, osl, sla, min_tok_s_per_user, **kw)).astype(float)
