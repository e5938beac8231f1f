"""ModelExpress: where a model's shards live, how to move them, and what a model swap costs.

The seed's ``BlackwellModelExpress`` (lines 115-188) sorts source GPUs by distance to the target
and moves each shard at the bandwidth of its distance (1.8 / 1.6 / 1.2 TB/s), treating parallel
transfers as independent. Here:

* :meth:`BlackwellModelExpress.plan_transfer` builds a :class:`TransferPlan` that moves every byte
  of every shard the target lacks exactly once, from the nearest source holding it, or says why it
  cannot (a shard no source holds, a target without room);
* :func:`simulate` executes a plan with the constraint the seed leaves out: all transfers into one
  GPU share its NVLink ingress (per direction), out of one GPU its egress, fairly (max-min
  processor sharing, as Dynamo's mocker models shared links), after a per-transfer latency;
* :data:`PATHS` lists the other ways weights arrive (RDMA, local storage, object storage, a cold
  download) with sourced per-GPU bandwidths;
* :func:`simulate_sharing` runs several models on a pool of GPUs, swapping on demand.

The real ModelExpress moves weights GPU-to-GPU over NIXL/RDMA between *nodes*, not over NVLink
(ai-dynamo/modelexpress docs/BENCHMARKS.md); the NVLink planner here is the seed's design, made to
work and measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .fp4 import get_format
from .hardware import MODELEXPRESS_RDMA_PER_RANK, NIC_BANDWIDTH, PRESETS, get_gpu
from .models import ModelArch, get_model
from .topology import SEED_BANDWIDTH_BY_DISTANCE, Fabric, NVL72Topology
from .units import GB, require_choice, require_index, require_positive, require_positive_int


@dataclass(frozen=True)
class Shard:
    """One tensor-parallel shard of a model: rank ``rank`` of ``tp`` on ``gpu``."""

    model_id: str
    rank: int
    tp: int
    nbytes: float
    gpu: int


@dataclass(frozen=True)
class Transfer:
    """One copy of one shard: bytes, hops and bandwidth under the planner's view."""

    src: int
    dst: int
    rank: int
    nbytes: float
    hops: int
    bandwidth: float  # bytes/s for this transfer alone

    @property
    def estimated_time_s(self) -> float:
        """bytes / bandwidth, as the seed's ``transfer_time`` (line 153)."""
        return self.nbytes / self.bandwidth


@dataclass
class TransferPlan:
    """Transfers that bring a model to ``target``; ``feasible`` is False with a ``reason`` when no
    plan can (then ``transfers`` is empty)."""

    model_id: str
    target: int
    transfers: list[Transfer] = field(default_factory=list)
    feasible: bool = True
    reason: str = ""
    already_on_target: list[int] = field(default_factory=list)  # ranks the target holds

    def add_transfer(self, t: Transfer) -> None:
        self.transfers.append(t)

    @property
    def total_bytes(self) -> float:
        return float(sum(t.nbytes for t in self.transfers))

    @property
    def independent_parallel_time_s(self) -> float:
        """The seed's assumption: parallel transfers do not slow one another (max of their times)."""
        return max((t.estimated_time_s for t in self.transfers), default=0.0)

    @property
    def serial_time_s(self) -> float:
        return float(sum(t.estimated_time_s for t in self.transfers))


class BlackwellModelExpress:
    """The seed's ModelExpress planner on a GPU fabric (:class:`~nvlmodel.topology.NVL72Topology`
    by default). ``register`` records where a model's TP shards live; ``plan_transfer`` plans
    bringing all of them to one GPU."""

    def __init__(self, topology: Fabric | None = None, preset: str = "datasheet"):
        self.preset = require_choice("preset", preset, PRESETS)
        self.topology = topology if topology is not None else NVL72Topology(preset)
        self.shards: dict[str, list[Shard]] = {}

    def register(self, model_id: str, model: str | ModelArch, weight_format: str, gpus: list[int]) -> list[Shard]:
        """Place ``model`` in ``weight_format`` as len(gpus) TP shards, rank i on gpus[i]."""
        m = model if isinstance(model, ModelArch) else get_model(model)
        if not gpus:
            raise ValueError("gpus must list at least one GPU")
        for g in gpus:
            require_index("GPU id", g, self.topology.num_gpus)
        if len(set(gpus)) != len(gpus):
            raise ValueError(f"a GPU holds one shard of a model; duplicates in {gpus}")
        per_shard = m.params(self.preset) * get_format(weight_format).bytes_per_element / len(gpus)
        self.shards[model_id] = [Shard(model_id, r, len(gpus), per_shard, g) for r, g in enumerate(gpus)]
        return list(self.shards[model_id])

    def _shards(self, model_id: str) -> list[Shard]:
        if model_id not in self.shards:
            known = ", ".join(self.shards) or "none registered"
            raise KeyError(f"unknown model {model_id!r}; registered: {known}")
        return self.shards[model_id]

    def _bandwidth(self, hops: int) -> float:
        """The seed's ``_get_bandwidth`` under the seed view; the fabric's link otherwise."""
        return SEED_BANDWIDTH_BY_DISTANCE[hops]

    def plan_transfer(self, model_id: str, source_gpus: list[int], target_gpu: int,
                      target_free_bytes: float | None = None) -> TransferPlan:
        """Plan moving every shard of ``model_id`` that ``target_gpu`` lacks from the listed sources,
        nearest first (seed lines 126-162). A shard held by several sources moves once, from the
        nearest; a shard no source holds, or a target with less than ``target_free_bytes`` room,
        makes the plan infeasible with the reason."""
        shards = self._shards(model_id)
        target = require_index("GPU id", target_gpu, self.topology.num_gpus)
        for g in source_gpus:
            require_index("GPU id", g, self.topology.num_gpus)
        plan = TransferPlan(model_id, target)
        held = {s.gpu: s for s in shards}
        plan.already_on_target = [held[target].rank] if target in held else []
        candidates = []
        for g in set(source_gpus) - {target}:
            if g in held:
                link = self.topology.link(g, target)
                candidates.append((link.hops, g, held[g], link))
        candidates.sort(key=lambda c: (c[0], c[1]))  # sources by proximity, as the seed
        chosen: dict[int, tuple] = {}
        for hops, g, shard, link in candidates:
            chosen.setdefault(shard.rank, (hops, g, shard, link))
        missing = sorted({s.rank for s in shards} - set(chosen) - set(plan.already_on_target))
        if missing:
            plan.feasible, plan.reason = False, f"no listed source holds rank(s) {missing} of {model_id!r}"
            return plan
        need = sum(c[2].nbytes for c in chosen.values() if c[2].rank not in plan.already_on_target)
        if target_free_bytes is not None and need > require_positive("target_free_bytes", target_free_bytes,
                                                                    allow_zero=True):
            plan.feasible = False
            plan.reason = f"target GPU {target} has {target_free_bytes / GB:.1f} GB free, the plan needs {need / GB:.1f} GB"
            return plan
        for hops, g, shard, link in sorted(chosen.values(), key=lambda c: (c[0], c[1])):
            if shard.rank in plan.already_on_target:
                continue
            bw = self._bandwidth(hops) if self.topology.view == "seed" and isinstance(
                self.topology, NVL72Topology) else link.bandwidth
            plan.add_transfer(Transfer(g, target, shard.rank, shard.nbytes, hops, bw))
        return plan


@dataclass(frozen=True)
class TimelineEntry:
    src: int
    dst: int
    rank: int
    nbytes: float
    start_s: float
    end_s: float


def _max_min_rates(flows: list[int], caps: dict[int, float], uses: dict[int, tuple], capacity: dict) -> dict:
    """Max-min fair rates: each flow ``f`` is capped at ``caps[f]`` and shares the resources in
    ``uses[f]`` (capacities in ``capacity``) with the other flows on them (progressive filling).

    The water level rises until a flow reaches its cap or a resource fills (its remaining capacity
    over its unfrozen flows is the lowest share); those flows freeze at that level. Flow caps and
    resource shares sit in two heaps (a share re-pushed when a flow on it freezes, stale entries
    skipped), so one call costs O(flows log flows) for flows on a bounded number of resources."""
    import heapq

    rates: dict[int, float] = {}
    left = dict(capacity)
    n = dict.fromkeys(capacity, 0)
    on: dict = {r: [] for r in capacity}
    for f in flows:
        for r in uses[f]:
            n[r] += 1
            on[r].append(f)
    cap_heap = [(caps[f], f) for f in flows]
    heapq.heapify(cap_heap)
    version = dict.fromkeys(capacity, 0)
    share_heap = [(left[r] / n[r], 0, i, r) for i, r in enumerate(capacity) if n[r]]
    heapq.heapify(share_heap)
    order = {r: i for i, r in enumerate(capacity)}

    def freeze(f, level):
        rates[f] = level
        for r in uses[f]:
            left[r] -= level
            n[r] -= 1
            version[r] += 1
            if n[r]:
                heapq.heappush(share_heap, (max(left[r], 0.0) / n[r], version[r], order[r], r))

    while len(rates) < len(flows):
        while cap_heap and cap_heap[0][1] in rates:
            heapq.heappop(cap_heap)
        while share_heap and (share_heap[0][1] != version[share_heap[0][3]] or not n[share_heap[0][3]]):
            heapq.heappop(share_heap)
        cap_level = cap_heap[0][0] if cap_heap else float("inf")
        share_level = share_heap[0][0] if share_heap else float("inf")
        level = min(cap_level, share_level)
        if share_level <= cap_level:  # a resource fills: every unfrozen flow on it stops here
            r = heapq.heappop(share_heap)[3]
            for f in on[r]:
                if f not in rates:
                    freeze(f, level)
        else:  # a flow reaches its own cap
            freeze(heapq.heappop(cap_heap)[1], level)
    return rates


def _progressive_filling_rates(flows: list[int], caps: dict[int, float], uses: dict[int, tuple],
                               capacity: dict) -> dict:
    """The same max-min fair rates as :func:`_max_min_rates`, written plainly: every resource
    rescanned each round (O(flows^2 x resources) per call). Kept as the reference the heap version is
    tested and benchmarked against."""
    rates, left, todo = {}, dict(capacity), set(flows)
    while todo:
        share = {}
        for r in left:
            n = sum(1 for f in todo if r in uses[f])
            if n:
                share[r] = left[r] / n
        cand = {f: min([caps[f]] + [share[r] for r in uses[f]]) for f in todo}
        level = min(cand.values())
        for f in [f for f in todo if cand[f] <= level * (1 + 1e-12)]:
            rates[f] = level
            todo.discard(f)
            for r in uses[f]:
                left[r] -= level
    return rates


def simulate(plan: TransferPlan, *, ingress_bw: float, egress_bw: float | None = None,
             latency_s: float = 0.0) -> list[TimelineEntry]:
    """Execute ``plan``: every transfer starts after ``latency_s``; transfers share the target's
    ingress (``ingress_bw``, bytes/s) and each source's egress (``egress_bw``, default the same)
    max-min fairly, each also capped at its own path bandwidth. Returns start/end per transfer."""
    require_positive("ingress_bw", ingress_bw)
    egress_bw = ingress_bw if egress_bw is None else require_positive("egress_bw", egress_bw)
    require_positive("latency_s", latency_s, allow_zero=True)
    if not plan.feasible:
        raise ValueError(f"cannot simulate an infeasible plan: {plan.reason}")
    ts = plan.transfers
    remaining = {i: t.nbytes for i, t in enumerate(ts)}
    caps = {i: t.bandwidth for i, t in enumerate(ts)}
    uses = {i: (("in", t.dst), ("out", t.src)) for i, t in enumerate(ts)}
    capacity = {r: (ingress_bw if r[0] == "in" else egress_bw) for u in uses.values() for r in u}
    end = {}
    now = latency_s
    active = [i for i in remaining if remaining[i] > 0]
    for i in remaining:
        if remaining[i] <= 0:
            end[i] = now
    while active:
        rates = _max_min_rates(active, caps, uses, capacity)
        dt = min(remaining[i] / rates[i] for i in active)
        now += dt
        for i in list(active):
            remaining[i] -= rates[i] * dt
            if remaining[i] <= 1e-9 * ts[i].nbytes:
                end[i] = now
                active.remove(i)
    return [TimelineEntry(t.src, t.dst, t.rank, t.nbytes, latency_s, end[i]) for i, t in enumerate(ts)]


def makespan(timeline: list[TimelineEntry]) -> float:
    return max((e.end_s for e in timeline), default=0.0)


# --------------------------------------------------------------------------------------------
# Other paths for weights
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadPath:
    """A way for weights to reach a GPU, with the bandwidth one GPU (one TP rank) sees."""

    name: str
    per_gpu_bandwidth: float  # bytes/s
    source: str

    def load_time(self, shard_bytes: float, setup_s: float = 0.0) -> float:
        """Seconds to bring ``shard_bytes`` to one GPU (all ranks load in parallel)."""
        require_positive("shard_bytes", shard_bytes, allow_zero=True)
        require_positive("setup_s", setup_s, allow_zero=True)
        return setup_s + shard_bytes / self.per_gpu_bandwidth


# Measured by ModelExpress (docs/BENCHMARKS.md, DeepSeek-V4-Pro, TP8, 8 x B200, ConnectX-7): model
# loading 8 min 53 s cold from Hugging Face, 3 min 16 s S3 ModelStreamer, 1 min 10 s local storage,
# 11 s P2P over NIXL/RDMA. The page gives no model size, so the storage paths are scaled from the
# measured per-rank RDMA rate of the ModelExpress POC (~112 Gb/s per rank) by those time ratios.
_RDMA_MEASURED = MODELEXPRESS_RDMA_PER_RANK
_BENCH = {"p2p": 11.0, "local": 70.0, "s3": 196.0, "hf": 533.0}
PATHS: dict[str, LoadPath] = {p.name: p for p in (
    LoadPath("nvlink-seed", get_gpu("gb200-b200", "seed").nvlink_bw_per_direction,
             "seed lines 109-112: 1,800 GB/s per GPU (both directions added)"),
    LoadPath("nvlink", get_gpu("gb200-b200").nvlink_bw_per_direction, "NVLink 5, one direction per GPU (nvidia-nvlink)"),
    LoadPath("rdma-800g", NIC_BANDWIDTH["connectx-8"], "ConnectX-8 line rate, 800 Gb/s per GPU"),
    LoadPath("rdma-400g", NIC_BANDWIDTH["connectx-7"], "ConnectX-7 line rate, 400 Gb/s per GPU"),
    LoadPath("rdma-measured", _RDMA_MEASURED, "ModelExpress POC: Llama-3.1-70B TP8 at ~112 Gb/s per rank"),
    LoadPath("local-storage", _RDMA_MEASURED * _BENCH["p2p"] / _BENCH["local"],
             "estimate: RDMA measured x 11 s / 70 s (ModelExpress BENCHMARKS.md time ratio)"),
    LoadPath("object-storage", _RDMA_MEASURED * _BENCH["p2p"] / _BENCH["s3"],
             "estimate: RDMA measured x 11 s / 196 s (S3 ModelStreamer)"),
    LoadPath("cold-download", _RDMA_MEASURED * _BENCH["p2p"] / _BENCH["hf"],
             "estimate: RDMA measured x 11 s / 533 s (cold pull from Hugging Face)"),
)}


def get_path(name: str) -> LoadPath:
    return PATHS[require_choice("load path", name, PATHS)]


def swap_time_table(models: tuple[tuple[str, str, int], ...] = (
        ("llama-3.1-8b", "fp8", 1), ("llama-3.1-70b", "fp8", 1), ("llama-3.1-70b", "nvfp4", 1),
        ("llama-3.1-405b", "nvfp4", 8)), paths: tuple[str, ...] = tuple(PATHS)) -> "pd.DataFrame":  # noqa: F821
    """Time to load each (model, format, TP) by each path; every TP rank loads its shard in parallel."""
    import pandas as pd

    rows = []
    for name, fmt, tp in models:
        m = get_model(name)
        total = m.params("datasheet") * get_format(fmt).bytes_per_element
        for p in paths:
            rows.append({"model": m.name, "format": fmt, "tp": tp, "model_GB": total / GB,
                         "shard_GB": total / tp / GB, "path": p,
                         "seconds": get_path(p).load_time(total / tp)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Temporal sharing
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SharingResult:
    policy: str
    requests: int
    swaps: int
    mean_wait_s: float  # arrival to service start (queueing + swap): added to TTFT
    p99_wait_s: float
    swap_busy_fraction: float  # GPU time spent loading weights
    busiest_utilisation: float  # measured busy fraction (serving + loading) of the busiest GPU


def simulate_sharing(n_gpus: int = 8, n_models: int = 8, *, swap_s: float, policy: str = "shared",
                     requests: int = 4000, load: float = 0.5, service_mean_s: float = 1.0,
                     zipf_s: float = 1.0, rng_seed: int = 0) -> SharingResult:
    """``n_models`` models (one GPU each) on ``n_gpus`` GPUs. Requests arrive as a Poisson stream
    with Zipf(``zipf_s``) model popularity; ``load`` is the offered utilisation of the pool.

    ``shared`` (temporal sharing): each request starts where it can start first -- on a GPU holding
    its model when that GPU frees up, or on any GPU after swapping the model in (``swap_s``);
    ties favour the GPU already holding the model, then the least recently used.
    ``dedicated``: model m is pinned to GPU m % n_gpus and never moves (a GPU pinned to several
    models swaps among them). Seeded: the same arguments give the same result."""
    require_choice("policy", policy, ("shared", "dedicated"))
    require_positive("swap_s", swap_s, allow_zero=True)
    require_positive("load", load)
    require_positive("service_mean_s", service_mean_s)
    for what, v in (("n_gpus", n_gpus), ("n_models", n_models), ("requests", requests)):
        require_positive_int(what, v)
    rng = np.random.default_rng(rng_seed)
    pop = 1.0 / np.arange(1, n_models + 1) ** zipf_s
    pop /= pop.sum()
    rate = load * n_gpus / service_mean_s
    t_arr = np.cumsum(rng.exponential(1 / rate, requests))
    which = rng.choice(n_models, size=requests, p=pop)
    service = rng.exponential(service_mean_s, requests)

    free_at = [0.0] * n_gpus
    resident = [g % n_models if g < n_models else -1 for g in range(n_gpus)]
    last_used = [0.0] * n_gpus
    waits = np.empty(requests)
    swaps, loading = 0, 0.0
    busy = np.zeros(n_gpus)
    for i in range(requests):
        t, m = t_arr[i], int(which[i])
        gpus = [m % n_gpus] if policy == "dedicated" else range(n_gpus)
        g = min(gpus, key=lambda k: (max(t, free_at[k]) + (0.0 if resident[k] == m else swap_s),
                                     resident[k] != m, last_used[k], k))
        start = max(t, free_at[g])
        if resident[g] != m:
            start += swap_s
            swaps += 1
            loading += swap_s
            resident[g] = m
        waits[i] = start - t
        busy[g] += start + service[i] - max(t, free_at[g])
        free_at[g] = start + service[i]
        last_used[g] = free_at[g]
    horizon = float(t_arr[-1])  # the arrivals' span: a GPU busier than this is overloaded (> 1)
    return SharingResult(policy, requests, swaps, float(waits.mean()), float(np.quantile(waits, 0.99)),
                         float(loading / (n_gpus * horizon)), float(busy.max() / horizon))


def offered_utilisation(n_gpus: int = 8, n_models: int = 8, *, load: float = 0.5, zipf_s: float = 1.0,
                        policy: str = "dedicated") -> np.ndarray:
    """Offered utilisation of each GPU, swaps aside: ``load`` spread by Zipf(``zipf_s``) popularity
    over the models pinned to each GPU (``dedicated``), or ``load`` on every GPU (``shared``). A GPU
    at 1 or more has no steady state: its queue, and the mean wait, grow with the run."""
    require_choice("policy", policy, ("shared", "dedicated"))
    require_positive("load", load)
    for what, v in (("n_gpus", n_gpus), ("n_models", n_models)):
        require_positive_int(what, v)
    if policy == "shared":
        return np.full(n_gpus, float(load))
    pop = 1.0 / np.arange(1, n_models + 1) ** zipf_s
    pop /= pop.sum()
    per_gpu = np.zeros(n_gpus)
    np.add.at(per_gpu, np.arange(n_models) % n_gpus, pop)
    return load * n_gpus * per_gpu


def stable_load(n_gpus: int = 8, n_models: int = 8, *, zipf_s: float = 1.0) -> float:
    """The highest offered load of the pool at which every dedicated GPU stays below utilisation 1
    (the most popular model's GPU saturates first)."""
    return 1.0 / float(offered_utilisation(n_gpus, n_models, load=1.0, zipf_s=zipf_s).max())


def crossover_swap_s(sweep: "pd.DataFrame") -> float:  # noqa: F821
    """The swap time at which the shared pool's mean wait equals the dedicated GPUs' (log-linear
    interpolation between the points of :func:`sharing_sweep` that bracket the sign change); NaN
    when one policy wins everywhere."""
    d = sweep.pivot_table(index="swap_s", columns="policy", values="mean_wait_s").sort_index()
    diff = (d["shared"] - d["dedicated"]).to_numpy()
    x = np.log(d.index.to_numpy(dtype=float).clip(min=1e-12))
    for i in range(len(diff) - 1):
        if diff[i] < 0 <= diff[i + 1]:
            return float(np.exp(x[i] + (x[i + 1] - x[i]) * -diff[i] / (diff[i + 1] - diff[i])))
    return float("nan")


def sharing_sweep(swap_times: dict[str, float], **kwargs) -> "pd.DataFrame":  # noqa: F821
    """:func:`simulate_sharing` for both policies at each named swap time (same arrivals)."""
    import pandas as pd

    rows = []
    for label, sw in swap_times.items():
        for policy in ("shared", "dedicated"):
            r = simulate_sharing(swap_s=sw, policy=policy, **kwargs)
            rows.append({"swap": label, "swap_s": sw, "policy": policy, "swaps": r.swaps,
                         "mean_wait_s": r.mean_wait_s, "p99_wait_s": r.p99_wait_s,
                         "swap_busy_fraction": r.swap_busy_fraction, "busiest_utilisation": r.busiest_utilisation})
    return pd.DataFrame(rows)


__all__ = ["BlackwellModelExpress", "LoadPath", "PATHS", "Shard", "SharingResult", "TimelineEntry", "Transfer",
           "TransferPlan", "crossover_swap_s", "get_path", "makespan", "offered_utilisation", "sharing_sweep", "simulate",
           "simulate_sharing", "stable_load", "swap_time_table"]
