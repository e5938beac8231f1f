"""Gang scheduling of tensor-parallel groups on NVL72, and fragmentation under churn.

``NVL72GangScheduler`` (seed lines 316-376)
    9 "NVSwitch domains" of 8 GPUs; a TP group of 2, 4 or 8 goes to the domain with the most free
    GPUs, or :class:`ResourceExhaustedError`. The seed allocates with a bump pointer
    (``base = domain * 8 + used``) and has no release; with a release, a bump pointer hands out
    GPUs that are still in use (see :func:`seed_bump_pointer_overlap`). This class keeps the seed's
    rule -- which domain -- but tracks free GPUs, so release is safe.
``FabricScheduler``
    The real NVL72 fabric is one hop between any two GPUs, so any free GPUs form a group. It still
    prefers locality that matters physically -- whole compute trays (4 GPUs), then whole GB200
    superchips (2 GPUs) -- and refuses only when fewer than ``tp`` GPUs are free.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from dataclasses import dataclass

import numpy as np

from .topology import NVL72Topology
from .units import require_choice, require_positive, require_positive_int

TP_SIZES: tuple[int, ...] = (1, 2, 4, 8)


class ResourceExhaustedError(RuntimeError):
    """No placement satisfies the request."""


def _tp(tp_degree: int) -> int:
    if isinstance(tp_degree, bool) or not isinstance(tp_degree, int | np.integer) or tp_degree not in TP_SIZES:
        raise ValueError(f"unknown TP size {tp_degree!r}; valid choices: {', '.join(map(str, TP_SIZES))}")
    return int(tp_degree)


class _Scheduler:
    """Book-keeping shared by the schedulers: groups by id, the owner of every GPU."""

    num_gpus = 72
    name = "base"

    def __init__(self):
        self.groups: dict[object, list[int]] = {}
        self.owner: list[object | None] = [None] * self.num_gpus
        self.n_free = self.num_gpus  # kept as groups come and go: no scan per event
        self._ids = itertools.count()

    @property
    def free_gpus(self) -> list[int]:
        return [g for g, o in enumerate(self.owner) if o is None]

    def _taken(self, gpus: list[int]) -> None:
        """Hook: ``gpus`` were just allocated (subclasses keep their own free lists)."""

    def _freed(self, gpus: list[int]) -> None:
        """Hook: ``gpus`` were just released."""

    def _pick(self, tp: int) -> list[int] | None:
        raise NotImplementedError

    def allocate_tp_group(self, model_id: object, tp_degree: int) -> list[int]:
        """Place a TP group of ``tp_degree`` GPUs for ``model_id``; returns the GPU ids. The group is
        released with :meth:`release` (``model_id`` must be unique among live groups)."""
        tp = _tp(tp_degree)
        if model_id in self.groups:
            raise ValueError(f"group {model_id!r} is already allocated; release it first or use another id")
        gpus = self._pick(tp)
        if gpus is None:
            raise ResourceExhaustedError(self._refusal(tp))
        for g in gpus:
            self.owner[g] = model_id
        self.n_free -= len(gpus)
        self._taken(gpus)
        self.groups[model_id] = gpus
        return list(gpus)

    def release(self, model_id: object) -> list[int]:
        """Free the GPUs of a group; an unknown id raises ``KeyError`` naming the live groups."""
        if model_id not in self.groups:
            live = ", ".join(map(repr, list(self.groups)[:10])) or "none"
            raise KeyError(f"no live group {model_id!r}; live groups: {live}")
        gpus = self.groups.pop(model_id)
        for g in gpus:
            self.owner[g] = None
        self.n_free += len(gpus)
        self._freed(gpus)
        return gpus

    def _refusal(self, tp: int) -> str:
        return f"no placement for {tp} GPUs ({self.n_free} free)"


class NVL72GangScheduler(_Scheduler):
    """The seed's scheduler: a TP group lives inside one of 9 domains of 8 GPUs (``gpu // 8``);
    it goes to the domain with the most free GPUs (lowest id on ties), on its lowest free GPUs.
    ``policy="best-fit"`` keeps the domains but picks the domain with the *fewest* free GPUs that
    still fit, to separate the cost of the domain constraint from the cost of spreading."""

    NUM_SWITCHES = 9
    GPUS_PER_SWITCH = 8
    POLICIES = ("most-free", "best-fit")

    def __init__(self, policy: str = "most-free"):
        super().__init__()
        self.policy = require_choice("policy", policy, self.POLICIES)
        self.name = "seed domains" + (", best fit" if policy == "best-fit" else "")
        self._used = [0] * self.NUM_SWITCHES

    @property
    def domain_utilization(self) -> list[int]:
        """Used GPUs per domain, as the seed's ``domain_utilization`` counter."""
        return list(self._used)

    def _taken(self, gpus: list[int]) -> None:
        for g in gpus:
            self._used[g // self.GPUS_PER_SWITCH] += 1

    def _freed(self, gpus: list[int]) -> None:
        for g in gpus:
            self._used[g // self.GPUS_PER_SWITCH] -= 1

    def _pick(self, tp: int) -> list[int] | None:
        used = self._used
        best, best_free = None, -1
        for d in range(self.NUM_SWITCHES):  # the seed's loop, lines 341-346
            free = self.GPUS_PER_SWITCH - used[d]
            if free >= tp and free > best_free:
                best, best_free = d, free
        if best is None:
            return None
        if self.policy == "best-fit":
            best = min((self.GPUS_PER_SWITCH - used[d], d) for d in range(self.NUM_SWITCHES)
                       if self.GPUS_PER_SWITCH - used[d] >= tp)[1]
        lo = best * self.GPUS_PER_SWITCH
        return [g for g in range(lo, lo + self.GPUS_PER_SWITCH) if self.owner[g] is None][:tp]

    def _refusal(self, tp: int) -> str:
        return f"No NVSwitch domain has {tp} free GPUs ({self.n_free} free in the rack)"

    def is_same_domain(self, gpu_ids: list[int]) -> bool:
        """The seed's ``_is_same_domain``: all GPUs share ``gpu // 8``."""
        return len({g // self.GPUS_PER_SWITCH for g in gpu_ids}) == 1


class FabricScheduler(_Scheduler):
    """Any free GPUs, since the fabric is one hop; prefers whole trays, then whole superchips, then
    the fullest partly used tray (best fit), so large groups keep finding whole trays."""

    name = "real fabric"

    def __init__(self):
        super().__init__()
        self.topology = NVL72Topology("datasheet")
        self._tray = [self.topology.tray_of(g) for g in range(self.num_gpus)]
        self._chip = [self.topology.superchip_of(g) for g in range(self.num_gpus)]
        trays = 1 + max(self._tray)  # numbered 0..trays-1
        self._tray_free: list[list[int]] = [[] for _ in range(trays)]  # tray -> its free GPUs, ascending, per event
        for g in range(self.num_gpus):
            self._tray_free[self._tray[g]].append(g)
        self._tray_size = max(map(len, self._tray_free))
        self._counts = [len(free) for free in self._tray_free]  # free GPUs per tray
        self._orders: dict[tuple[int, ...], list[int]] = {}  # a tray's free GPUs -> whole superchips first

    def _taken(self, gpus: list[int]) -> None:
        free, tray, counts = self._tray_free, self._tray, self._counts
        for g in gpus:
            t = tray[g]
            free[t].remove(g)
            counts[t] -= 1

    def _freed(self, gpus: list[int]) -> None:
        free, tray, counts = self._tray_free, self._tray, self._counts
        for g in gpus:
            t = tray[g]
            bisect.insort(free[t], g)
            counts[t] += 1

    def _superchips_first(self, gpus: list[int]) -> list[int]:
        """``gpus`` of one tray with those whole superchips first (stable: ascending otherwise);
        remembered per set of free GPUs, of which a tray has few."""
        key = tuple(gpus)
        out = self._orders.get(key)
        if out is None:
            pairs: dict[int, list[int]] = {}
            for g in gpus:
                pairs.setdefault(self._chip[g], []).append(g)
            out = self._orders[key] = [g for _, p in sorted(pairs.items(), key=lambda kv: -len(kv[1])) for g in p]
        return out

    def _pick(self, tp: int) -> list[int] | None:
        if self.n_free < tp:
            return None
        by_tray, size = self._tray_free, self._tray_size  # read only: what a pick takes from a tray is copied
        counts = self._counts[:]  # what this pick leaves of each tray
        left: dict[int, list[int]] = {}  # tray -> what this pick leaves of it
        chosen: list[int] = []
        # 1. whole free trays (the lowest first) while at least a tray's worth is still needed
        tray = -1
        for _ in range(min(tp // size, counts.count(size))):
            tray = counts.index(size, tray + 1)
            chosen += by_tray[tray]
            left[tray] = []
            counts[tray] = 0
        # 2. the rest from the tray whose free count fits the remainder most tightly (ties: the lowest
        #    tray), whole superchips first; then from the fullest remaining trays (ties: the lowest)
        need = tp - len(chosen)
        while need:
            for n in range(need, size + 1):
                if n in counts:
                    tray = counts.index(n)
                    break
            else:
                tray = counts.index(max(counts))
            gpus = left.get(tray, by_tray[tray])
            take = self._superchips_first(gpus)[:need]
            chosen += take
            need -= len(take)
            if need:
                left[tray] = [g for g in gpus if g not in take]
                counts[tray] = len(left[tray])
        return sorted(chosen)


SCHEDULERS = {
    "seed": NVL72GangScheduler,
    "seed-best-fit": lambda: NVL72GangScheduler("best-fit"),
    "fabric": FabricScheduler,
}


def make_scheduler(name: str) -> _Scheduler:
    """A fresh scheduler: ``seed`` (9 domains of 8, most-free domain first), ``seed-best-fit``
    (same domains, fullest domain that fits) or ``fabric`` (any GPUs, tray-aware)."""
    return SCHEDULERS[require_choice("scheduler", name, SCHEDULERS)]()


def seed_bump_pointer_overlap() -> tuple[list[int], list[int]]:
    """Replay the seed's literal allocation with a naive release: in one domain allocate A (TP4) and
    B (TP4), release A by decrementing the counter, allocate C (TP4). The bump pointer gives C the
    GPUs ``domain * 8 + used`` = 4..7, which B still holds. Returns (B, C)."""
    util = [0] * 9

    def allocate(tp: int) -> list[int]:
        d = max(range(9), key=lambda i: (8 - util[i] >= tp, 8 - util[i], -i))
        base = d * 8 + util[d]
        util[d] += tp
        return list(range(base, base + tp))

    for d in range(1, 9):  # fill the other domains so that A, B and C all land in domain 0
        util[d] = 8
    allocate(4)  # A
    b = allocate(4)
    util[0] -= 4  # release A
    return b, allocate(4)


@dataclass(frozen=True)
class ChurnResult:
    scheduler: str
    arrivals: int
    refused: int
    refused_with_enough_free: int  # refused although at least tp GPUs were free
    mean_busy_gpus: float

    @property
    def refusal_rate(self) -> float:
        return self.refused / self.arrivals

    @property
    def fragmentation_rate(self) -> float:
        """Fraction of arrivals refused although enough GPUs were free in the rack."""
        return self.refused_with_enough_free / self.arrivals


def simulate_churn(scheduler: str, *, load: float = 0.8, arrivals: int = 5000, rng_seed: int = 0,
                   tp_mix: dict[int, float] | None = None, mean_lifetime: float = 1.0) -> ChurnResult:
    """Groups of mixed TP sizes arrive (Poisson) and leave (exponential lifetimes); ``load`` is the
    offered GPU demand as a fraction of the 72 GPUs. Refused groups are dropped. Seeded and
    deterministic: the same arguments give the same result for any scheduler, which sees the same
    arrival sequence."""
    require_positive("load", load)
    require_positive("mean_lifetime", mean_lifetime)
    require_positive_int("arrivals", arrivals)
    mix = tp_mix or {1: 0.1, 2: 0.3, 4: 0.3, 8: 0.3}
    for tp in mix:
        _tp(tp)
    sizes = np.array(list(mix), dtype=int)
    probs = np.array(list(mix.values()), dtype=float)
    if (probs < 0).any() or probs.sum() <= 0:
        raise ValueError("tp_mix weights must be >= 0 and not all zero")
    probs = probs / probs.sum()
    mean_gpus = float((sizes * probs).sum())
    rate = load * 72 / (mean_gpus * mean_lifetime)  # arrivals per unit time
    rng = np.random.default_rng(rng_seed)
    tps = rng.choice(sizes, size=arrivals, p=probs)
    gaps = rng.exponential(1 / rate, size=arrivals)
    lives = rng.exponential(mean_lifetime, size=arrivals)

    sched = make_scheduler(scheduler)
    departures: list[tuple[float, int]] = []
    t = busy_area = last = 0.0
    refused = frag = 0
    for i in range(arrivals):
        t += gaps[i]
        while departures and departures[0][0] <= t:
            when, gid = heapq.heappop(departures)
            busy_area += (72 - sched.n_free) * (when - last)
            last = when
            sched.release(gid)
        busy_area += (72 - sched.n_free) * (t - last)
        last = t
        try:
            sched.allocate_tp_group(i, int(tps[i]))
            heapq.heappush(departures, (t + lives[i], i))
        except ResourceExhaustedError:
            refused += 1
            frag += sched.n_free >= tps[i]
    return ChurnResult(sched.name, arrivals, refused, frag, busy_area / t if t > 0 else 0.0)


def churn_table(loads=(0.5, 0.7, 0.8, 0.9, 1.0, 1.2), arrivals: int = 4000, rng_seed: int = 0) -> "pd.DataFrame":  # noqa: F821
    """Refusal and fragmentation rates of both schedulers over a range of offered loads."""
    import pandas as pd

    rows = []
    for load in loads:
        for name in SCHEDULERS:
            r = simulate_churn(name, load=load, arrivals=arrivals, rng_seed=rng_seed)
            rows.append({"load": load, "scheduler": r.scheduler, "refusal_rate": r.refusal_rate,
                         "fragmentation_rate": r.fragmentation_rate, "mean_busy_gpus": r.mean_busy_gpus})
    return pd.DataFrame(rows)
