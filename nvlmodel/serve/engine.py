"""The discrete-event simulation of a Dynamo deployment: workers with continuous batching, a
KV-aware router, KV tiers and disaggregated prefill/decode pools (see :mod:`nvlmodel.serve`)."""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict, deque
from functools import lru_cache
from dataclasses import dataclass, field, replace

import numpy as np

from ..calibrate import Calibration, Config, fitted
from ..calibrate.model import ENGINE_WORKSPACE_BYTES, KV_TRANSFER_LINK, kv_capacity_of, kv_transfer_time
from ..gang import make_scheduler
from ..hardware import MODELEXPRESS_RDMA_PER_RANK, PCIE5_X16_BANDWIDTH, get_superchip
from ..kvbm.routing import POLICIES
from ..units import GB, require_choice, require_positive, require_positive_int
from .cost import StepCost, step_cost
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
    (chunked prefill) and ``max_seqs`` sequences, with KV blocks of ``block_size`` tokens in the
    memory :func:`nvlmodel.kvbm.kv_capacity` gives it. ``policy`` routes requests over workers
    (:data:`nvlmodel.kvbm.routing.POLICIES`); ``tiers`` enables KV tiers below HBM (:data:`TIERS`),
    with ``host_gb_per_gpu`` and ``disk_gb_per_gpu`` of capacity per GPU (assumptions)."""

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
    host_gb_per_gpu: float = 100.0
    disk_gb_per_gpu: float = 1000.0
    calibration: Calibration | None = field(default=None, compare=False)

    def __post_init__(self):
        engine = self.engine or default_engine(self.model)
        object.__setattr__(self, "engine", engine)
        backend = engine.split("@")[0]
        require_choice("routing policy", self.policy, POLICIES)
        tiers = tuple(self.tiers)
        for t in tiers:
            require_choice("KV tier", t, TIERS)
        object.__setattr__(self, "tiers", tiers)
        for what in ("block_size", "token_budget", "max_seqs"):
            require_positive_int(what, getattr(self, what))
        for what in ("overlap_weight", "host_gb_per_gpu", "disk_gb_per_gpu"):
            require_positive(what, getattr(self, what), allow_zero=True)
        if self.calibration is None:
            cal = calibrations()
            object.__setattr__(self, "calibration", cal[require_choice("engine", engine, cal)])
        cfg = Config(self.system, self.model, self.precision, self.tp, 1, 1, 1, backend=backend,
                     kv_dtype=self.kv_dtype, memory_fraction=self.memory_fraction, mode=self.mode,
                     attention_dp=self.attention_dp, ep=self.ep, workers=self.workers, prefill_tp=self.prefill_tp,
                     prefill_attention_dp=self.prefill_attention_dp, prefill_ep=self.prefill_ep,
                     prefill_workers=self.prefill_workers)
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
        tp = c.shape(prefill)[0]
        cap = kv_capacity_of(c, prefill)
        if cap is None:
            what = "prefill_tp" if prefill else "tp"
            raise ValueError(f"{what}={tp}: a worker too small for {c.model} in {c.precision}: its weights and the "
                             f"engine's {ENGINE_WORKSPACE_BYTES / 1e9:.0f} GB workspace leave no room for KV") from None
        blocks = int(cap // self.block_size)
        if blocks < 1:
            raise ValueError(f"{'prefill_tp' if prefill else 'tp'}={tp}: no room for one KV block of {c.model}")
        return blocks

    def describe(self) -> str:
        c = self.config
        par = f"TP{c.tp}" + (f"xDP{c.attention_dp}" if c.attention_dp > 1 else "") + (f" EP{c.ep}" if c.ep > 1 else "")
        s = f"{c.system} {c.model} {c.precision} {c.workers}x {par}"
        if c.mode == "disagg":
            s += f" decode + {c.prefill_workers}x TP{c.prefill_tp} prefill"
        return s


# ----------------------------------------------------------------------------------------------
# Simulation state
# ----------------------------------------------------------------------------------------------

class _Link:
    """A link shared by processor sharing: every active transfer gets an equal share. Work is in
    seconds at the full rate."""

    __slots__ = ("active", "t", "version")

    def __init__(self):
        self.active: dict[int, float] = {}
        self.t = 0.0
        self.version = 0

    def advance(self, t: float) -> None:
        n = len(self.active)
        if n:
            d = (t - self.t) / n
            for k in self.active:
                self.active[k] -= d
        self.t = t


class _Store(OrderedDict):
    """A lower KV tier of one worker (or the rack): group -> tokens, least recently used first,
    at most ``cap`` tokens; what it evicts goes to ``below`` (or is dropped)."""

    def __init__(self, cap: int, below: "_Store | None" = None):
        super().__init__()
        self.cap, self.below, self.total = cap, below, 0

    def put(self, g: int, tokens: int) -> None:
        have = self.get(g, 0)
        if have >= tokens:
            self.move_to_end(g)
            return
        self[g] = tokens
        self.move_to_end(g)
        self.total += tokens - have
        while self.total > self.cap and self:
            v, tok = self.popitem(last=False)
            self.total -= tok
            if self.below is not None:
                self.below.put(v, tok)


class _Worker:
    __slots__ = ("i", "prefill_only", "decode_only", "cost", "pool", "used", "cached", "entries", "waiting",
                 "prefilling", "run", "fin", "cnt", "B", "C", "n", "busy", "version", "plan", "busy_time", "node",
                 "links", "host", "disk")

    def __init__(self, i, cost, pool, bs, node, prefill_only=False, decode_only=False):
        self.i, self.cost, self.pool, self.node = i, cost, pool, node
        self.prefill_only, self.decode_only = prefill_only, decode_only
        self.used = 0  # blocks held by admitted requests
        self.cached = 0  # blocks held by prefix entries
        self.entries: OrderedDict[int, list] = OrderedDict()  # group -> [tokens, refs], LRU first
        self.waiting: deque[int] = deque()
        self.prefilling: list[list] = []  # [rid, cached tokens, remaining]
        self.run: dict[int, tuple[int, int]] = {}  # rid -> (step counter at join, cache tokens at join)
        self.fin: list[tuple[int, int, int]] = []  # (finish counter, rid, epoch)
        self.cnt = [0] * bs  # running sequences needing a new block at counter = residue (mod bs)
        self.B = 0
        self.C = 0
        self.n = 0
        self.busy = False
        self.version = 0
        self.plan = None
        self.busy_time = 0.0
        self.links: dict[str, _Link] = {}
        self.host: _Store | None = None
        self.disk: _Store | None = None


_DISPATCH, _STEP, _LINK, _CLIENT = 0, 1, 2, 3


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


def _closed_loop_means(deployment: Deployment, requests: Requests, concurrency: int) -> tuple[float, float, int]:
    """Mean TTFT and TPOT (s) and preemptions of ``simulate(deployment, requests, concurrency=...)``
    without building its table: the replay of a measured row needs only these (and runs
    thousands of times in a fit)."""
    sim = _Sim(deployment, requests, concurrency, 0.0, 0, False)
    sim.run(False)
    _, _, ttft, tpot = sim.latencies()
    tpot = tpot[np.array(sim.osl) > 1]  # what a table's mean skips: requests of one token have no TPOT
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


class _Sim:
    def __init__(self, d: Deployment, reqs: Requests, concurrency, think_s, seed, check):
        self.d, self.check = d, check
        c = d.config
        cal = d.calibration
        self.bs = bs = d.block_size
        self.t_req = cal.t_req
        max_tokens = max(d.token_budget, d.max_seqs)
        m = c.arch
        # seconds per token of one GPU's KV shard over each tier's link; tier capacities in tokens
        shard = m.kv_bytes_per_token_per_gpu(c.kv_bytes_per_element, c.tp)
        # workers, placed by the gang scheduler of chapter 5
        sched = make_scheduler("fabric" if c.system == "gb200" else "seed")
        self.workers: list[_Worker] = []
        self.decode_pool: list[int] = []
        self.entry_pool: list[int] = []  # where requests are routed first
        groups = [(False, c.workers)] + ([(True, c.prefill_workers)] if c.mode == "disagg" else [])
        for prefill, count in groups:
            tp, adp, _ = c.shape(prefill)
            cost = _step_cost(c, replace(cal, t_req=0.0, q=0.0), prefill, max_tokens)
            pool = d.pool_blocks(prefill)
            for _ in range(count):
                i = len(self.workers)
                gpus = _place(sched, i, tp * adp)
                node = 0 if c.system == "gb200" else gpus[0] // 8
                w = _Worker(i, cost, pool, bs, node, prefill_only=prefill and c.mode == "disagg",
                            decode_only=(not prefill) and c.mode == "disagg")
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
        self.xfer_s_per_token = kv_transfer_time(replace(c, isl=1024)) / 1024 if c.mode == "disagg" else 0.0
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
        self.seq = 0
        self.now = 0.0
        self.done = 0
        self.next_req = 0
        self.in_system = 0
        self.area = 0.0
        self.t_area = 0.0
        self.loads = [0.0] * len(self.workers)  # router's load per worker: prompt blocks in flight

    # -- events ---------------------------------------------------------------------------
    def push(self, t, kind, obj, version=0):
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, obj, version))

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

    # -- routing and tiers ------------------------------------------------------------------
    def dispatch(self, rid, t):
        pool = self.entry_pool
        bs = self.bs
        blocks = self._prompt_blocks(rid)
        g = self.group[rid]
        holders = self.directory.get(g, {}) if g >= 0 else {}
        pol = self.d.policy
        if len(pool) == 1:
            w = pool[0]
        elif pol == "random":
            w = pool[int(self.rng.integers(len(pool)))]
        elif pol == "least-loaded" or (pol == "seed" and not holders):
            w = self._least_loaded(pool)
        elif not holders:  # dynamo, nothing cached: the cost is the load alone
            w = self._tie(pool, [self.loads[i] for i in pool])
        else:
            want = self.prefix[rid]
            ovp = [min(holders[i], want) // bs if i in holders else 0 for i in pool]  # cached blocks per worker
            if pol == "seed":
                top = max(ovp)
                w = pool[ovp.index(top)] if top > 0 else self._least_loaded(pool)
            else:
                ow, loads = self.d.overlap_weight, self.loads
                w = self._tie(pool, [ow * (blocks - o) + loads[i] for i, o in zip(pool, ovp)])
        self.where[rid] = w
        self.loads[w] += blocks
        self.onboard(rid, w, t)

    def _prompt_blocks(self, rid) -> int:
        """The router's load of a request on its worker: its prompt's blocks."""
        return -(-self.isl[rid] // self.bs)

    # Routing over a handful of workers: Python lists (numpy's per-call cost was a quarter of a
    # routed run); the first minimum, as numpy's argmin, and the same draws from the rng on ties.
    def _least_loaded(self, pool):
        return min(pool, key=self.loads.__getitem__)

    def _tie(self, pool, cost):
        low = min(cost)
        ties = [k for k, c in enumerate(cost) if c == low]
        return pool[ties[0] if len(ties) == 1 else ties[int(self.rng.integers(len(ties)))]]

    def onboard(self, rid, w, t):
        """Find the request's shared prefix below or beside this worker's HBM; fetch it if that
        beats what G1 holds, then queue the request on the worker."""
        g = self.group[rid]
        want = self.prefix[rid] // self.bs * self.bs
        worker = self.workers[w]
        if g < 0 or want == 0 or not self.tiers:
            return self.enqueue(w, rid, t)
        e = worker.entries.get(g)
        h1 = min(e[0], want) if e else 0
        best, tier = h1, None
        if "peer" in self.tiers:
            for h, tok in self.directory.get(g, {}).items():
                if h != w and self.workers[h].node == worker.node and min(tok, want) > best:
                    best, tier = min(tok, want), "peer"
        for name, store in (("switch", self.switch), ("host", worker.host), ("disk", worker.disk)):
            if name in self.tiers and g in store and min(store[g], want) > best:
                best, tier = min(store[g], want), name
                store.move_to_end(g)
        if tier is None:
            return self.enqueue(w, rid, t)
        self.staged[rid] = best
        self.staged_tier[rid] = tier
        link = worker.links.setdefault(self.link_of[tier], _Link())
        self.transfer(link, w, rid, (best - h1) * self.tier_s_per_token[tier], t)

    def transfer(self, link, w, rid, work, t):
        link.advance(t)
        link.active[rid] = work
        self._reschedule_link(link, w, t)

    def _reschedule_link(self, link, w, t):
        link.version += 1
        if link.active:
            self.push(t + min(link.active.values()) * len(link.active), _LINK, (link, w), link.version)

    def link_done(self, obj, t):
        link, w = obj
        link.advance(t)
        done = [k for k, v in link.active.items() if v <= 1e-12]
        if not done:  # rounding: finish the smallest
            done = [min(link.active, key=link.active.get)]
        for k in done:
            del link.active[k]
        self._reschedule_link(link, w, t)
        for rid in done:
            if self.workers[w].decode_only:
                self.t_first[rid] = t  # the first token leaves once the decode worker has the KV
            self.enqueue(w, rid, t)

    # -- the engine -------------------------------------------------------------------------
    def enqueue(self, w, rid, t):
        worker = self.workers[w]
        first = not worker.waiting
        worker.waiting.append(rid)
        if not worker.busy:
            self.schedule(worker, t)
        elif first and worker.plan is not None and worker.plan[0] == "decode":
            self.cut(worker, t)

    def cut(self, w: _Worker, t):
        """A request arrived while ``w`` runs a multi-step decode: end it at the next step boundary."""
        _, t0, k, B, C0, _ = w.plan
        j = w.cost.decode_steps_within(B, C0, t - t0)
        if j < k:
            w.version += 1
            w.plan = ("decode", t0, j, B, C0, self.new_blocks(w, j))
            self.push(t0 + w.cost.decode_run(B, C0, j), _STEP, w, w.version)

    def new_blocks(self, w: _Worker, k: int) -> int:
        """Blocks the running sequences need for ``k`` more decode steps."""
        bs = self.bs
        if k == 1:  # the common case: the sequences whose next token starts a block
            return w.cnt[w.n % bs]
        full, part = divmod(k, bs)
        s = w.B * full
        n, cnt = w.n, w.cnt
        for i in range(part):
            s += cnt[(n + i) % bs]
        return s

    def steps_fitting(self, w: _Worker, free: int, limit: int) -> int:
        """The most decode steps (<= ``limit``) whose new blocks fit in ``free``."""
        bs = self.bs
        if w.B == 0:
            return limit
        full = min(free // w.B, limit // bs)
        k = full * bs
        left = free - full * w.B
        n, cnt = w.n, w.cnt
        while k < limit:
            need = cnt[(n + k) % bs]
            if need > left:
                break
            left -= need
            k += 1
        return k

    def free(self, w: _Worker) -> int:
        return w.pool - w.used - w.cached

    def evict(self, w: _Worker, need: int) -> None:
        """Drop unreferenced prefix entries, least recently used first, until ``need`` blocks are
        free (offloading them to the enabled lower tiers)."""
        short = need - self.free(w)
        if short <= 0 or not w.cached:
            return
        victims = []
        for g, e in w.entries.items():  # least recently used first; stop once enough is found
            if e[1] == 0:
                victims.append(g)
                short -= e[0] // self.bs
                if short <= 0:
                    break
        for g in victims:
            tokens = w.entries.pop(g)[0]
            w.cached -= tokens // self.bs
            del self.directory[g][w.i]
            self.offload(w, g, tokens)

    def trim(self, w: _Worker, g: int, e: list, keep: int) -> None:
        """Cut group ``g``'s entry on ``w`` to its first ``keep`` tokens: the one request that
        references it uses only those, and the rest is an unreferenced cache like any other, which
        gives way to a request that needs the room (written to the lower tiers first, as an
        eviction). Without this an idle worker whose entry a new request only partly shares kept it
        pinned whole, and a request that fits the pool alone waited forever."""
        self.offload(w, g, e[0])
        freed = e[0] // self.bs - keep // self.bs
        e[0] = keep
        w.cached -= freed
        self.directory[g][w.i] = keep

    def offload(self, w: _Worker, g: int, tokens: int) -> None:
        """An evicted prefix entry is written to the enabled lower tiers (asynchronously: off
        every request's critical path): the switch tier, and host memory (spilling to disk) or disk."""
        if "switch" in self.tiers:
            self.switch.put(g, tokens)
        store = w.host if w.host is not None else w.disk
        if store is not None:
            store.put(g, tokens)

    def admit(self, w: _Worker, rid: int, reserve: int) -> bool:
        """Give ``rid`` its blocks, keeping ``reserve`` free for the running sequences' next step;
        False if they do not fit even after evicting unreferenced prefix entries. A fresh request
        prefills its prompt past what its group's G1 entry (shared, referenced) or an onboarded
        copy holds; a preempted one recomputes its prompt and emitted tokens; in disaggregated
        decode a request that received its KV joins the batch."""
        bs = self.bs
        g = self.group[rid]
        fresh = self.emitted[rid] == 0
        received = w.decode_only and self.preempt[rid] == 0
        total = self.isl[rid] if fresh or received else self.isl[rid] + self.emitted[rid]
        h1 = 0
        e = w.entries.get(g) if g >= 0 and fresh else None
        if e is not None:
            # a prompt found whole in the cache still computes its last token (for its logits), as
            # the engines do: the hit stops at the last whole block before it
            h1 = min(e[0], self.prefix[rid] // bs * bs, (total - 1) // bs * bs)
        blocks = -(-total // bs) - h1 // bs  # its own: what the shared entry does not hold
        need = blocks + reserve + (1 if received else 0)  # a received sequence may need a block at once
        if h1:
            e[1] += 1  # referenced (and so pinned) before anything is evicted to make room
        if need > self.free(w):
            self.evict(w, need)
            if need > self.free(w) and h1 and e[1] == 1 and e[0] > h1:
                self.trim(w, g, e, h1)
            if need > self.free(w):
                if h1:
                    e[1] -= 1
                return False
        w.used += blocks
        self.shared[rid] = h1
        if h1:
            w.entries.move_to_end(g)
            self.hits["g1"][rid] = h1
        if received:
            if self.emitted[rid] >= self.osl[rid]:
                self.release(w, rid, total, keep=False)
                self.complete(w, rid, self.now)
            else:
                self.join(w, rid, total)
            return True
        start = h1
        if fresh and min(self.staged[rid], total - 1) > h1:
            start = min(self.staged[rid], total - 1)
            self.hits[self.staged_tier[rid]][rid] = start - h1
        w.prefilling.append([rid, start, total - start])
        return True

    def join(self, w: _Worker, rid: int, cache: int) -> None:
        """``rid`` starts decoding on ``w`` with ``cache`` tokens of KV."""
        w.run[rid] = (w.n, cache)
        w.cnt[(w.n - cache) % self.bs] += 1
        w.B += 1
        w.C += cache
        heapq.heappush(w.fin, (w.n + self.osl[rid] - self.emitted[rid], rid, self.epoch[rid]))

    def schedule(self, w: _Worker, t):
        """Plan ``w``'s next step at ``t``: decode every running sequence, fill the token budget with
        prefill chunks (partial prompts first, then new requests while blocks and seats last); a
        step without prefill runs as many decode steps as nothing else can change."""
        d = self.d
        if w.B:  # the running sequences first: blocks for their next step, by eviction or preemption
            if self.new_blocks(w, 1) > self.free(w):
                self.evict(w, self.new_blocks(w, 1))
            while w.B and self.new_blocks(w, 1) > self.free(w):
                self.preempt_newest(w)
        reserve = self.new_blocks(w, 1) if w.B else 0
        budget = d.token_budget - w.B
        chunks = []
        if budget > 0:
            for item in w.prefilling:
                p = min(item[2], budget)
                if p > 0:
                    chunks.append((item, p))
                    budget -= p
                if budget <= 0:
                    break
            while budget > 0 and w.waiting and w.B + len(w.prefilling) < d.max_seqs:
                rid = w.waiting[0]
                if not self.admit(w, rid, reserve):
                    break
                w.waiting.popleft()
                if w.decode_only and self.preempt[rid] == 0:
                    reserve = self.new_blocks(w, 1) if w.B else 0
                    continue
                item = w.prefilling[-1]
                p = min(item[2], budget)
                chunks.append((item, p))
                budget -= p
        if chunks:
            dur = w.cost.step(w.B, w.C + w.B, [(item[1], p) for item, p in chunks])
            w.plan = ("mixed", t, 1, w.B, w.C, self.new_blocks(w, 1) if w.B else 0, chunks)
        elif w.B:
            while w.fin and w.fin[0][2] != self.epoch[w.fin[0][1]]:  # drop preempted entries
                heapq.heappop(w.fin)
            k = w.fin[0][0] - w.n
            km = self.steps_fitting(w, self.free(w), k)
            if km < k and w.cached:
                self.evict(w, self.new_blocks(w, k))
                km = self.steps_fitting(w, self.free(w), k)
            k = max(1, km)
            dur = w.cost.decode_run(w.B, w.C, k)
            w.plan = ("decode", t, k, w.B, w.C, self.new_blocks(w, k))
        else:
            w.busy = False
            w.plan = None
            return
        w.busy = True
        w.version += 1
        self.push(t + dur, _STEP, w, w.version)

    def leave(self, w: _Worker, rid: int, n0: int, cache0: int) -> int:
        """``rid`` (joined at counter ``n0`` with ``cache0`` tokens, already out of ``w.run``) stops
        decoding on ``w``: the tokens it emitted since are counted; returns its KV tokens now."""
        cache = cache0 + (w.n - n0)
        self.emitted[rid] += w.n - n0
        w.B -= 1
        w.C -= cache
        w.cnt[(n0 - cache0) % self.bs] -= 1
        return cache

    def preempt_newest(self, w: _Worker):
        """Recompute preemption: the most recently joined sequence gives back its blocks and goes
        back to the head of the queue, to prefill its prompt and the tokens it has emitted."""
        rid, (n0, cache0) = w.run.popitem()
        cache = self.leave(w, rid, n0, cache0)
        self.epoch[rid] += 1
        self.release(w, rid, cache, keep=False)
        self.preempt[rid] += 1
        w.waiting.appendleft(rid)

    def release(self, w: _Worker, rid, cache, keep: bool):
        """Free ``rid``'s blocks on ``w``; with ``keep`` its reusable tokens become (or extend) its
        group's prefix entry."""
        bs = self.bs
        own = -(-cache // bs) - self.shared[rid] // bs
        g = self.group[rid]
        e = w.entries.get(g) if g >= 0 else None
        if self.shared[rid]:
            e[1] -= 1
            self.shared[rid] = 0
        if keep and g >= 0:
            k = min(self.keep[rid], cache) // bs * bs
            have = e[0] if e is not None else 0
            if k > have:
                grow = k // bs - have // bs
                grow = min(grow, own)  # the request's own blocks become the entry's
                if e is None:
                    e = w.entries[g] = [0, 0]
                e[0] = have + grow * bs
                w.cached += grow
                self.directory.setdefault(g, {})[w.i] = e[0]
            if e is not None:
                w.entries.move_to_end(g)
        w.used -= own

    def step_end(self, w: _Worker, t):
        plan = w.plan
        kind, t0, k, B, C0, blocks = plan[:6]
        w.busy_time += t - t0
        if B:
            w.n += k
            w.C += B * k
            w.used += blocks
        if kind == "mixed":
            for item, p in plan[6]:
                rid = item[0]
                item[1] += p
                item[2] -= p
                self.prefilled[rid] += p
                if item[2] == 0:
                    w.prefilling.remove(item)
                    self.prefill_done(w, rid, item[1], t)
        while w.fin and w.fin[0][0] <= w.n:
            _, rid, ep = heapq.heappop(w.fin)
            if ep != self.epoch[rid]:
                continue
            cache = self.leave(w, rid, *w.run.pop(rid))
            self.release(w, rid, cache, keep=True)
            self.complete(w, rid, t)
        self.schedule(w, t)

    def prefill_done(self, w: _Worker, rid, cache, t):
        self.emitted[rid] += 1
        if self.emitted[rid] == 1 and not w.prefill_only:
            self.t_first[rid] = t
        if w.prefill_only:
            self.release(w, rid, cache, keep=True)
            blocks = self._prompt_blocks(rid)
            self.loads[w.i] -= blocks
            dw = self._least_loaded(self.decode_pool)
            self.where[rid] = dw
            self.loads[dw] += blocks
            link = self.workers[dw].links.setdefault(self.kv_link, _Link())
            return self.transfer(link, dw, rid, self.isl[rid] * self.xfer_s_per_token, t)
        if self.emitted[rid] >= self.osl[rid]:
            self.release(w, rid, cache, keep=True)
            return self.complete(w, rid, t)
        self.join(w, rid, cache)

    def complete(self, w: _Worker, rid, t):
        self.t_done[rid] = t
        self.loads[w.i] -= self._prompt_blocks(rid)
        self.done += 1
        self._count(t, -1)
        if self.closed:
            if self.think:
                self.push(t + self.think, _CLIENT, None)
            else:  # the client's next request leaves now: what an event at t would do, one heap push and pop sooner
                self.arrive(t)

    # -- checks and results -----------------------------------------------------------------
    def verify(self):
        for w in self.workers:
            assert 0 <= w.used and 0 <= w.cached and w.used + w.cached <= w.pool, (w.i, w.used, w.cached, w.pool)
            assert w.cached == sum(e[0] // self.bs for e in w.entries.values())
            assert w.B == len(w.run)
            if not w.busy:  # between steps the blocks held equal what the admitted requests own
                bs = self.bs
                own = sum(-(-(c0 + w.n - n0) // bs) - self.shared[r] // bs for r, (n0, c0) in w.run.items())
                own += sum(-(-(it[1] + it[2]) // bs) - self.shared[it[0]] // bs for it in w.prefilling)
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
