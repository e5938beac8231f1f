"""Links and KV tiers of the simulation: transfers that share a link by processor sharing
(:class:`_Link`), lower tiers as LRU stores that spill downwards (:class:`_Store`), and the
mixin that onboards prefixes from them and writes evicted entries to them. A mixin of
:class:`nvlmodel.serve.engine._Sim`: its state lives there."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from .events import _LINK

if TYPE_CHECKING:
    from .batcher import _Worker


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


class Links:
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
        self.transfer(link, w, rid, (best - h1) * self.tier_s_per_token[tier] + self.copies_s, t)

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
            self.enqueue(w, rid, t)  # a decode worker's first token leaves when it takes the request in

    def offload(self, w: _Worker, g: int, tokens: int) -> None:
        """An evicted prefix entry is written to the enabled lower tiers (asynchronously: off
        every request's critical path): the switch tier, and host memory (spilling to disk) or disk."""
        if "switch" in self.tiers:
            self.switch.put(g, tokens)
        store = w.host if w.host is not None else w.disk
        if store is not None:
            store.put(g, tokens)
