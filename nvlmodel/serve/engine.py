"""The discrete-event simulation of a Dynamo deployment: workers with continuous batching, a
KV-aware router, KV tiers and disaggregated prefill/decode pools (see :mod:`nvlmodel.serve`).

This module holds the deployment (:class:`Deployment`), the entry point (:func:`simulate`), the
results and the event loop (``_Sim``: state, clients, the loop, checks). What each event does lives
by concern beside it: :mod:`~nvlmodel.serve.router` (where a request goes),
:mod:`~nvlmodel.serve.links` (links and KV tiers), :mod:`~nvlmodel.serve.kvpool` (a worker's blocks
and prefix entries), :mod:`~nvlmodel.serve.batcher` (a worker's steps); the step costs in
:mod:`~nvlmodel.serve.cost`."""

from __future__ import annotations

import heapq
import itertools
import math
from functools import lru_cache
from dataclasses import dataclass, field, replace

import numpy as np

from ..calibrate import Calibration, Config, fitted
from ..calibrate.model import (ENGINE_WORKSPACE_BYTES, KV_TRANSFER_LINK, engine_backend, kv_capacity_of,
                               kv_copies_time, kv_transfer_terms, require_batch_wait,
                               require_recv_interval, require_spec_tokens)
from ..gang import make_scheduler
from ..hardware import MODELEXPRESS_RDMA_PER_RANK, PCIE5_X16_BANDWIDTH, get_superchip
from ..kvbm.routing import POLICIES
from ..units import GB, require_choice, require_positive, require_positive_int
from .. import recorded
from .batcher import Batcher, _Worker
from .cost import StepCost, step_cost
from .events import _DISPATCH, _LINK, _STEP
from .kvpool import KVPool
from .links import Links, _Store
from .router import Router
from .workload import Requests

#: KV tiers below a worker's own HBM (G1) that a deployment may enable: ``peer`` (another worker's
#: HBM over NVLink: the whole NVL72 rack, or the same 8-GPU HGX node), ``host`` (G2: Grace
#: LPDDR5X over NVLink-C2C on GB200, host DRAM over PCIe on HGX), ``disk`` (G3: local NVMe) and
#: ``switch`` (the seed's NVSwitch memory, a labelled hypothesis: no NVLink switch has memory).
TIERS: tuple[str, ...] = ("peer", "switch", "host", "disk")
#: Where a prompt's shared prefix was found, in the order the result table reports them.
HIT_TIERS: tuple[str, ...] = ("g1",) + TIERS
#: One GPU's share of local NVMe reads (the ModelExpress disk estimate of :func:`nvlmodel.kvbm.tier_table`).
DISK_PER_GPU = MODELEXPRESS_RDMA_PER_RANK * 11 / 70
#: The seed's switch tier: 128 GiB on each of 9 switch trays (lines 430-467).
SWITCH_BYTES = 9 * 128 * 1024**3


def default_engine(model: str, backend: str = "trtllm") -> str:
    """The calibration a deployment uses unless told: the dense campaign's engine for the dense
    Llama rows (chapter 7), the serving table's (chapter 8) for every other model."""
    if model.startswith("llama-3.1") and backend in ("trtllm", "vllm"):
        return f"{backend}@2026-04-06"
    return f"{backend}@serving"


def calibrations() -> dict[str, Calibration]:
    """Every fitted engine calibration, dense (chapter 7) and serving (chapter 8) tables."""
    from ..search import fitted_serving

    return {**fitted(), **fitted_serving()}


@dataclass(frozen=True)
class Deployment:
    """One deployment in one rack (<= 72 GPUs): ``workers`` workers of ``tp x attention_dp`` GPUs
    (``ep``-way expert parallel) of ``model`` at ``precision`` on ``system`` (a key of
    :data:`nvlmodel.calibrate.SYSTEMS`), aggregated (``mode="agg"``) or disaggregated, with
    ``prefill_workers`` prefill workers of ``prefill_tp x prefill_attention_dp`` GPUs.

    ``engine`` names a fitted calibration (:func:`calibrations`; default :func:`default_engine`),
    ``calibration`` overrides it. The engine schedules steps of at most ``token_budget`` tokens
    (chunked prefill) and ``max_seqs`` sequences per attention rank (a worker of ``attention_dp``
    ranks takes that many times both, as each rank schedules its own batch; a disaggregated
    deployment's prefill workers take ``prefill_token_budget`` and ``prefill_max_seqs`` when
    given), with KV blocks of ``block_size`` tokens in the memory :func:`nvlmodel.kvbm.kv_capacity`
    gives it. ``policy`` routes requests over workers (:data:`nvlmodel.kvbm.routing.POLICIES`);
    ``tiers`` enables KV tiers below HBM (:data:`TIERS`), with ``host_gb_per_gpu`` and
    ``disk_gb_per_gpu`` of capacity per GPU (assumptions).

    ``adp_balance_iters`` > 0 holds new prompts on a worker of several attention-DP ranks as
    TensorRT-LLM's attention-DP balance does (``attention_dp_config: enable_balance``, with that
    ``timeout_iters`` and no batching wait): each request is assigned to a rank when it arrives, as
    the engine assigns it (:meth:`nvlmodel.serve.batcher.Batcher.assign_rank`), and while every
    rank decodes, prompts start only once every rank has one of its own or when the balance's
    counter of steps reaches the timeout; the counter restarts whenever prompts are let in, and at
    the timeout whether any were waiting or not. An aggregated worker's rank then takes its prompts
    within its own share of ``token_budget`` and ``max_seqs`` (a disaggregated decode worker counts
    its waiting requests against its ranks as a whole). 0 (the default): prompts start as soon as
    the step has room.

    ``batch_wait_iters`` > 0 holds new prompts on a worker of one attention rank as TensorRT-LLM's
    batch waiting does (``batch_wait_timeout_iters``; ``batch_wait_tokens`` is its
    ``batch_wait_max_tokens_ratio`` x ``max_num_tokens``, 0: no token threshold): while sequences
    decode, waiting prompts start once that many steps have been held or once they and the decoding
    sequences fill ``batch_wait_tokens`` of a step; the count of held steps restarts whenever they
    start (:meth:`nvlmodel.serve.batcher.Batcher.batch_wait_holds`; the static model's mean,
    :func:`nvlmodel.calibrate.batch_wait_steps`). The engine turns it off with attention DP, and so
    does the simulation.

    ``moe_kernel``: the routed experts' kernel where the benchmark selected one other than the
    engine's default (:data:`nvlmodel.kernels.MOE_KERNELS`), for steps from measured kernels.

    ``recv_interval`` > 1 lets an aggregated worker take new requests in as SGLang's scheduler does
    under ``--scheduler-recv-interval``: while it decodes, once every that many decode steps (the
    count restarting at each poll), and at once after a step that prefilled or when it has nothing
    to decode (:meth:`nvlmodel.serve.batcher.Batcher.receive`; the static model's mean,
    :func:`nvlmodel.calibrate.recv_wait_steps`).

    ``spec_tokens`` > 0: the decoding workers decode speculatively, drafting that many tokens per
    step and emitting the calibration's accepted tokens per step on average
    (:class:`nvlmodel.serve.cost.SpeculativeStepCost`, charged per token).

    ``redundant_experts`` (``prefill_redundant_experts``): replicas of routed experts the decoding
    (prefill) workers hold beside the experts, as expert-parallel load balancing deploys them
    (:class:`nvlmodel.calibrate.Config`; 0: none)."""

    system: str = "gb200"
    model: str = "llama-3.1-70b"
    precision: str = "fp4"
    tp: int = 8
    workers: int = 1
    engine: str | None = None
    mode: str = "agg"
    attention_dp: int = 1
    ep: int = 1
    prefill_tp: int | None = None
    prefill_attention_dp: int = 1
    prefill_ep: int = 1
    prefill_workers: int = 1
    kv_dtype: str | None = None
    memory_fraction: float | None = None
    policy: str = "dynamo"
    overlap_weight: float = 1.0
    tiers: tuple[str, ...] = ()
    block_size: int = 16
    token_budget: int = 8192
    max_seqs: int = 1024
    prefill_token_budget: int | None = None
    prefill_max_seqs: int | None = None
    host_gb_per_gpu: float = 100.0
    disk_gb_per_gpu: float = 1000.0
    adp_balance_iters: int = 0
    batch_wait_iters: int = 0
    batch_wait_tokens: float = 0.0
    moe_kernel: str | None = None
    recv_interval: int = 0
    spec_tokens: int = 0
    redundant_experts: int = 0
    prefill_redundant_experts: int = 0
    calibration: Calibration | None = field(default=None, compare=False)

    def __post_init__(self):
        engine = self.engine or default_engine(self.model)
        object.__setattr__(self, "engine", engine)
        backend = engine_backend(engine)
        require_choice("routing policy", self.policy, POLICIES)
        tiers = tuple(self.tiers)
        for t in tiers:
            require_choice("KV tier", t, TIERS)
        object.__setattr__(self, "tiers", tiers)
        for what in ("block_size", "token_budget", "max_seqs"):
            require_positive_int(what, getattr(self, what))
        for what in ("prefill_token_budget", "prefill_max_seqs"):
            if getattr(self, what) is not None:
                require_positive_int(what, getattr(self, what))
        for what in ("overlap_weight", "host_gb_per_gpu", "disk_gb_per_gpu"):
            require_positive(what, getattr(self, what), allow_zero=True)
        if not (isinstance(self.adp_balance_iters, int) and self.adp_balance_iters >= 0):
            raise ValueError(f"adp_balance_iters must be an int >= 0 (0: no balance), got {self.adp_balance_iters!r}")
        require_batch_wait(self.batch_wait_iters, self.batch_wait_tokens)
        require_recv_interval(self.recv_interval)
        require_spec_tokens(self.spec_tokens)
        if self.calibration is None:
            cal = calibrations()
            object.__setattr__(self, "calibration", cal[require_choice("engine", engine, cal)])
        cfg = Config(self.system, self.model, self.precision, self.tp, 1, 1, 1, backend=backend,
                     kv_dtype=self.kv_dtype, memory_fraction=self.memory_fraction, mode=self.mode,
                     attention_dp=self.attention_dp, ep=self.ep, workers=self.workers, prefill_tp=self.prefill_tp,
                     prefill_attention_dp=self.prefill_attention_dp, prefill_ep=self.prefill_ep,
                     prefill_workers=self.prefill_workers, moe_kernel=self.moe_kernel,
                     recv_interval=self.recv_interval, spec_tokens=self.spec_tokens,
                     redundant_experts=self.redundant_experts, prefill_redundant_experts=self.prefill_redundant_experts)
        object.__setattr__(self, "prefill_tp", cfg.prefill_tp)
        if cfg.total_gpus > 72:
            raise ValueError(f"the deployment takes {cfg.total_gpus} GPUs; one simulated rack holds at most 72")
        if "switch" in tiers and self.system != "gb200":
            raise ValueError("the switch tier is the seed's NVL72 proposal: it needs system='gb200'")
        object.__setattr__(self, "_config", cfg)
        for prefill in ((False, True) if self.mode == "disagg" else (False,)):
            self.pool_blocks(prefill)  # a worker too small for the model fails here

    @property
    def config(self) -> Config:
        """The deployment as a :class:`nvlmodel.calibrate.Config` (one request in flight)."""
        return self._config

    @property
    def gpus(self) -> int:
        return self.config.total_gpus

    def pool_blocks(self, prefill: bool = False) -> int:
        """KV blocks of one decoding (or prefill) worker: the engine's memory defaults less weights and
        workspace, as :func:`nvlmodel.calibrate.kv_fits` (:func:`nvlmodel.calibrate.kv_capacity_of`)."""
        c = self.config
        tp, what = c.shape(prefill)[0], "prefill_tp" if prefill else "tp"
        cap = kv_capacity_of(c, prefill)
        if cap is None:
            raise ValueError(f"{what}={tp}: a worker too small for {c.model} in {c.precision}: its weights and the "
                             f"engine's {ENGINE_WORKSPACE_BYTES / 1e9:.0f} GB workspace leave no room for KV")
        blocks = int(cap // self.block_size)
        if blocks < 1:
            raise ValueError(f"{what}={tp}: no room for one KV block of {c.model}")
        return blocks

    def describe(self) -> str:
        c = self.config
        par = f"TP{c.tp}" + (f"xDP{c.attention_dp}" if c.attention_dp > 1 else "") + (f" EP{c.ep}" if c.ep > 1 else "")
        s = f"{c.system} {c.model} {c.precision} {c.workers}x {par}"
        if c.mode == "disagg":
            s += f" decode + {c.prefill_workers}x TP{c.prefill_tp} prefill"
        return s


# ----------------------------------------------------------------------------------------------
# Results, the entry point and the event loop (what each event does: router, links, kvpool, batcher)
# ----------------------------------------------------------------------------------------------

@dataclass
class SimResult:
    """What a simulation returns: ``requests`` (one row per request: arrival, TTFT, TPOT, end-to-end
    latency in seconds, worker, tokens emitted, preemptions, prompt tokens found in each KV tier and
    prefilled), the ``deployment``, wall ``duration`` (simulated seconds) and per-worker busy time."""

    requests: "pd.DataFrame"  # noqa: F821
    deployment: Deployment
    duration: float
    busy: np.ndarray
    in_system_area: float  # integral over time of requests in the system (Little's law)

    def summary(self, ttft_slo: float = 2.0, tpot_slo: float = 0.05) -> dict:
        """Throughput, goodput under the SLA (TTFT <= ``ttft_slo`` s and TPOT <= ``tpot_slo`` s),
        latency percentiles, KV hits by tier (ratio of sums: prompt tokens found / prompt tokens),
        GPU busy fraction and preemptions."""
        r = self.requests
        T = self.duration
        ok = (r.ttft_s <= ttft_slo) & (r.tpot_s.fillna(0) <= tpot_slo)
        gpus = self.deployment.gpus
        out = {"requests": len(r), "duration_s": T,
               "output_tokens_per_s": r.osl.sum() / T, "output_tokens_per_s_per_gpu": r.osl.sum() / T / gpus,
               "goodput_tokens_per_s_per_gpu": r.osl[ok].sum() / T / gpus, "sla_met": float(ok.mean()),
               "ttft_p50_s": r.ttft_s.median(), "ttft_p90_s": r.ttft_s.quantile(0.9),
               "ttft_p99_s": r.ttft_s.quantile(0.99), "tpot_p50_s": r.tpot_s.median(),
               "tpot_p90_s": r.tpot_s.quantile(0.9), "e2e_mean_s": r.e2e_s.mean(),
               "busy_fraction": float(self.busy.sum() / (T * len(self.busy))) if T > 0 else 0.0,
               "preemptions": int(r.preemptions.sum())}
        for t in HIT_TIERS:
            out[f"hit_{t}"] = r[f"hit_{t}"].sum() / r.isl.sum()
        return out


def simulate(deployment: Deployment, requests: Requests, *, concurrency: int | None = None, think_s: float = 0.0,
             seed: int = 0, progress: bool | None = None, check: bool = False) -> SimResult:
    """Serve ``requests`` on ``deployment``. Open loop when the requests carry arrival times;
    closed loop (``concurrency`` clients, each sending the next request ``think_s`` after its
    previous one completes) when they do not. ``seed`` breaks routing ties; the same inputs give
    the same result. ``progress`` shows a bar (default: for runs of 100,000 requests or more).
    ``check`` verifies the block pools after every event (slow; for tests)."""
    if not isinstance(deployment, Deployment):
        raise TypeError(f"deployment must be a nvlmodel.serve.Deployment, got {type(deployment).__name__}")
    if not isinstance(requests, Requests):
        raise TypeError(f"requests must be a nvlmodel.serve.Requests, got {type(requests).__name__}")
    if requests.closed:
        if concurrency is None:
            raise ValueError("closed-loop requests (no arrival times) need concurrency=N clients")
        require_positive_int("concurrency", concurrency)
    elif concurrency is not None:
        raise ValueError("concurrency applies to closed-loop requests; these carry arrival times (open loop)")
    require_positive("think_s", think_s, allow_zero=True)
    _require_fits(deployment, requests)
    sim = _Sim(deployment, requests, concurrency, think_s, seed, check)
    if progress is None:
        progress = len(requests) >= 100_000
    sim.run(progress)
    return sim.result()


def _require_fits(deployment: Deployment, requests: Requests) -> None:
    """Every request's whole sequence (prompt and output) fits one worker's KV pool (the smaller of
    the prefill and decode pools): else it could never run, so the error names it before the run."""
    pools = [deployment.pool_blocks(p) for p in ((False, True) if deployment.mode == "disagg" else (False,))]
    bs = deployment.block_size
    need = -(-(np.asarray(requests.isl) + np.asarray(requests.osl)) // bs)
    if len(need) and need.max() > min(pools):
        i = int(np.argmax(need))
        raise ValueError(f"request {i} needs {int(need[i]):,} KV blocks of {bs} tokens (isl {int(requests.isl[i]):,} + "
                         f"osl {int(requests.osl[i]):,}); a worker of {deployment.describe()} holds {min(pools):,}")


def closed_loop_means(deployment: Deployment, requests: Requests, concurrency: int,
                      skip: int = 0) -> tuple[float, float, int]:
    """Mean TTFT and TPOT (s) and preemptions of ``simulate(deployment, requests, concurrency=...)``
    without building its table: the replay of a measured row needs only these. The first ``skip``
    requests (a benchmark's warm-up) are simulated and not counted. A run recorded under this
    package (:mod:`~nvlmodel.recorded`) is read, not simulated again."""
    if not isinstance(deployment, Deployment):
        raise TypeError(f"deployment must be a nvlmodel.serve.Deployment, got {type(deployment).__name__}")
    if not isinstance(requests, Requests):
        raise TypeError(f"requests must be a nvlmodel.serve.Requests, got {type(requests).__name__}")
    require_positive_int("concurrency", concurrency)
    if not (isinstance(skip, (int, np.integer)) and 0 <= skip < len(requests.isl)):
        raise ValueError(f"skip must be an int from 0 to the {len(requests.isl)} requests less one, got {skip!r}")
    ttft, tpot, preemptions = recorded.recall(means_key(deployment, requests, concurrency, skip),
                                              lambda: _simulated_means(deployment, requests, concurrency, skip))
    return ttft, tpot, int(preemptions)


def means_key(deployment: Deployment, requests: Requests, concurrency: int, skip: int) -> str:
    """The record's key of one :func:`closed_loop_means` run (:func:`nvlmodel.recorded.run_key`)."""
    return recorded.run_key("closed-loop means", deployment, requests, concurrency, skip)


def _simulated_means(deployment: Deployment, requests: Requests, concurrency: int,
                     skip: int) -> tuple[float, float, int]:
    sim = _Sim(deployment, requests, concurrency, 0.0, 0, False)
    sim.run(False)
    _, _, ttft, tpot = sim.latencies()
    counted = np.arange(len(ttft)) >= skip
    ttft = ttft[counted]
    tpot = tpot[counted & (np.array(sim.osl) > 1)]  # what a table's mean skips: requests of one token have no TPOT
    return float(ttft.mean()), float(tpot.mean()) if len(tpot) else math.nan, int(sum(sim.preempt))


@lru_cache(maxsize=32)
def _step_cost(config, calibration, prefill: bool, max_tokens: int) -> StepCost:
    """:func:`step_cost`, kept for the deployments just simulated (a fit replays the same worker
    shapes at each candidate calibration; a :class:`StepCost` is read-only)."""
    return step_cost(config, calibration, prefill=prefill, max_tokens=max_tokens)


def _place(sched, worker: int, gpus: int) -> list[int]:
    """The GPUs of one worker from chapter 5's scheduler: one group of 1, 2, 4 or 8 GPUs, or a
    worker of 8k GPUs (attention data parallelism) as k groups of 8."""
    if gpus <= 8:
        return sched.allocate_tp_group(worker, gpus)
    if gpus % 8:
        raise ValueError(f"a worker of {gpus} GPUs: workers above 8 GPUs must be whole multiples of 8")
    return [g for k in range(gpus // 8) for g in sched.allocate_tp_group((worker, k), 8)]


def _nodes(c: Config, groups) -> list[int]:
    """The NVLink domain (node) of each worker, in the order the workers are built (decode, then
    prefill), placed by the gang scheduler of chapter 5 (GB200: the rack's fabric, one domain;
    HGX: the seed's scheduler over 8-GPU nodes) largest worker first: workers of 1, 2, 4 or 8
    GPUs (or whole nodes) then always pack when the deployment fits, as an operator would place
    them, where building order could strand a large worker behind scattered small ones."""
    sched = make_scheduler("fabric" if c.system == "gb200" else "seed")
    sizes = [int(np.prod(c.shape(prefill)[:2])) for prefill, count in groups for _ in range(count)]
    nodes = [0] * len(sizes)
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        gpus = _place(sched, i, sizes[i])
        nodes[i] = 0 if c.system == "gb200" else gpus[0] // 8
    return nodes


class _Sim(Router, Links, KVPool, Batcher):
    """The simulation's state and its event loop; what happens on each event is by concern in the
    mixins: :class:`~nvlmodel.serve.router.Router` (where a request goes),
    :class:`~nvlmodel.serve.links.Links` (transfers and KV tiers),
    :class:`~nvlmodel.serve.kvpool.KVPool` (blocks, prefix entries, eviction) and
    :class:`~nvlmodel.serve.batcher.Batcher` (steps, prefill chunks, preemption, completion)."""

    def __init__(self, d: Deployment, reqs: Requests, concurrency, think_s, seed, check):
        self.d, self.check = d, check
        c = d.config
        cal = d.calibration
        self.bs = bs = d.block_size
        self.t_req = cal.t_req
        # the token budget and the sequence cap hold per attention rank, as each rank schedules its own
        # batch: a worker of ``attention_dp`` ranks takes that many times both
        max_tokens = max(d.token_budget, d.max_seqs, d.prefill_token_budget or 0,
                         d.prefill_max_seqs or 0) * max(c.shape(p)[1] for p in (False, True))
        m = c.arch
        # seconds per token of one GPU's KV shard over each tier's link; tier capacities in tokens
        shard = m.kv_bytes_per_token_per_gpu(c.kv_bytes_per_element, c.tp)
        self.workers: list[_Worker] = []
        self.decode_pool: list[int] = []
        self.entry_pool: list[int] = []  # where requests are routed first
        groups = [(False, c.workers)] + ([(True, c.prefill_workers)] if c.mode == "disagg" else [])
        nodes = _nodes(c, groups)
        for prefill, count in groups:
            tp, adp, _ = c.shape(prefill)
            cost = _step_cost(c, replace(cal, t_req=0.0, q=0.0), prefill, max_tokens)
            pool = d.pool_blocks(prefill)
            for _ in range(count):
                i = len(self.workers)
                node = nodes[i]
                w = _Worker(i, cost, pool, bs, node, prefill_only=prefill and c.mode == "disagg",
                            decode_only=(not prefill) and c.mode == "disagg")
                budget, seats = d.token_budget, d.max_seqs
                if prefill and c.mode == "disagg":
                    budget, seats = d.prefill_token_budget or budget, d.prefill_max_seqs or seats
                w.budget, w.seats = budget * adp, seats * adp
                # the attention-DP balance: each prompt on one rank where the worker prefills (aggregated)
                w.set_balance(d.adp_balance_iters if adp > 1 and not (prefill and c.mode == "disagg") else 0, adp,
                              by_rank=c.mode == "agg")
                if adp == 1 and not (prefill and c.mode == "disagg"):  # TensorRT-LLM waits only without attention DP
                    w.hold, w.hold_tokens = d.batch_wait_iters, d.batch_wait_tokens
                if c.mode == "agg" and d.recv_interval > 1:  # SGLang polls for requests every so many steps
                    w.recv = d.recv_interval
                w.disk = _Store(int(d.disk_gb_per_gpu * GB / shard) * tp * adp) if "disk" in d.tiers else None
                w.host = _Store(int(d.host_gb_per_gpu * GB / shard) * tp * adp, w.disk) if "host" in d.tiers else None
                self.workers.append(w)
                (self.entry_pool if (prefill or c.mode == "agg") else self.decode_pool).append(i)
                if c.mode == "agg":
                    self.decode_pool.append(i)
        g = c.gpu_spec
        host_bw = get_superchip("gb200").c2c_bw_total / 4 if c.system == "gb200" else PCIE5_X16_BANDWIDTH
        self.tier_s_per_token = {"peer": shard / g.nvlink_bw_per_direction, "switch": shard / g.nvlink_bw_per_direction,
                                 "host": shard / host_bw, "disk": shard / DISK_PER_GPU}
        self.link_of = {"peer": "nvlink", "switch": "nvlink", "host": "host", "disk": "disk"}
        self.kv_link = "nvlink" if KV_TRANSFER_LINK[c.system] == "nvlink" else "rdma"
        # a prompt's transfer: its bytes (per token, at a 1,024-token prompt's rate) and one copy per layer;
        # onboarding from a tier or a peer pays the same copies
        self.copies_s = kv_copies_time(c.arch)
        self.xfer_s_per_token = kv_transfer_terms(replace(c, isl=1024))[0] / 1024 if c.mode == "disagg" else 0.0
        self.tiers = set(d.tiers)
        self.switch = _Store(int(SWITCH_BYTES / (shard * c.tp)))
        self.directory: dict[int, dict[int, int]] = {}  # group -> {worker: G1 tokens}
        # requests
        self.n = len(reqs)
        self.isl, self.osl = reqs.isl.tolist(), reqs.osl.tolist()
        self.group, self.prefix, self.keep = reqs.group.tolist(), reqs.prefix.tolist(), reqs.keep.tolist()
        self.arr = reqs.arrival.tolist() if not reqs.closed else None
        n = self.n
        nan = float("nan")
        self.t_arr, self.t_first, self.t_done = [nan] * n, [nan] * n, [nan] * n
        self.emitted, self.preempt, self.where = [0] * n, [0] * n, [-1] * n
        self.epoch = [0] * n
        self.shared = [0] * n  # G1 entry tokens the request references on its worker
        self.staged = [0] * n  # prompt tokens onboarded from a lower tier or a peer
        self.staged_tier: list[str | None] = [None] * n
        self.prefilled = [0] * n
        self.hits = {t: [0] * n for t in HIT_TIERS}
        self.closed = reqs.closed
        self.concurrency, self.think = concurrency, think_s
        self.rng = np.random.default_rng(seed)
        self.events: list = []
        self._seq = itertools.count(1)  # ties in time break by push order
        self.now = 0.0
        self.done = 0
        self.next_req = 0
        self.in_system = 0
        self.area = 0.0
        self.t_area = 0.0
        self.loads = [0.0] * len(self.workers)  # router's load per worker: prompt blocks in flight

    # -- events ---------------------------------------------------------------------------
    def push(self, t, kind, obj, version=0):
        heapq.heappush(self.events, (t, next(self._seq), kind, obj, version))

    def run(self, progress: bool):
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.n, unit="req", delay=2.0, mininterval=1.0)
        if self.closed:
            for _ in range(min(self.concurrency, self.n)):
                self.arrive(0.0)
        arr, i, n = self.arr, 0, self.n
        events = self.events
        last = 0
        while True:
            if arr is not None and i < n and (not events or arr[i] + self.t_req <= events[0][0]):
                self.next_req = i
                self.arrive(arr[i])
                i += 1
                continue
            if not events:
                break
            t, _, kind, obj, version = heapq.heappop(events)
            self.now = t
            if kind == _STEP:
                if version == obj.version:
                    self.step_end(obj, t)
            elif kind == _DISPATCH:
                self.dispatch(obj, t)
            elif kind == _LINK:
                if version == obj[0].version:
                    self.link_done(obj, t)
            else:  # _CLIENT: a closed-loop client's next request
                self.arrive(t)
            if self.check:
                self.verify()
            if bar is not None and self.done - last >= 10_000:
                bar.update(self.done - last)
                last = self.done
        if bar is not None:
            bar.update(self.done - last)
            bar.close()
        if self.done != self.n:
            raise RuntimeError(f"simulation stalled with {self.n - self.done} of {self.n} requests unfinished "
                               "(a prompt larger than a worker's KV pool?)")

    def _count(self, t, delta):
        self.area += self.in_system * (t - self.t_area)
        self.t_area = t
        self.in_system += delta

    def arrive(self, t):
        """A request reaches the frontend; the router sees it ``t_req`` later."""
        if self.closed:
            if self.next_req >= self.n:
                return
            rid = self.next_req
            self.next_req += 1
        else:
            rid = self.next_req
        self.t_arr[rid] = t
        self._count(t, 1)
        self.push(t + self.t_req, _DISPATCH, rid)

    # -- checks and results -----------------------------------------------------------------
    def verify(self):
        for w in self.workers:
            assert 0 <= w.used and 0 <= w.cached and w.used + w.cached <= w.pool, (w.i, w.used, w.cached, w.pool)
            assert w.cached == sum(e[0] // self.bs for e in w.entries.values())
            assert w.decoding == len(w.run)
            if not w.busy:  # between steps the blocks held equal what the admitted requests own
                bs = self.bs
                own = sum(-(-(c0 + w.steps - n0) // bs) - self.shared[r] // bs for r, (n0, c0) in w.run.items())
                own += sum(-(-(job.done + job.left) // bs) - self.shared[job.rid] // bs for job in w.prefilling)
                assert own == w.used, (w.i, own, w.used)

    def latencies(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per request: arrival, completion, TTFT and TPOT (NaN for a request of one output token), s."""
        t_arr, t_first, t_done = (np.array(x) for x in (self.t_arr, self.t_first, self.t_done))
        osl = np.array(self.osl)
        with np.errstate(invalid="ignore", divide="ignore"):
            tpot = np.where(osl > 1, (t_done - t_first) / np.maximum(osl - 1, 1), np.nan)
        return t_arr, t_done, t_first - t_arr, tpot

    def result(self) -> SimResult:
        import pandas as pd

        t_arr, t_done, ttft, tpot = self.latencies()
        df = pd.DataFrame({"arrival_s": t_arr, "isl": self.isl, "osl": self.osl, "group": self.group,
                           "worker": self.where, "ttft_s": ttft, "tpot_s": tpot, "e2e_s": t_done - t_arr,
                           "tokens": self.emitted, "preemptions": self.preempt, "prefilled": self.prefilled,
                           **{f"hit_{k}": v for k, v in self.hits.items()}})
        duration = float(np.nanmax(t_done) - np.nanmin(t_arr))
        self._count(float(np.nanmax(t_done)), 0)
        return SimResult(df, self.d, duration, np.array([w.busy_time for w in self.workers]), self.area)
