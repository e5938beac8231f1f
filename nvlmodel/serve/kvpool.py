"""The KV pool of one worker in the simulation: blocks held by admitted requests and by cached
prefix entries, eviction of unreferenced entries (least recently used first), trimming an entry to
what its one reference uses, admission of a request and release of its blocks. A mixin of
:class:`nvlmodel.serve.engine._Sim`: its state lives there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .state import PrefillJob

if TYPE_CHECKING:
    from .batcher import _Worker


class KVPool:
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
        w.prefilling.append(PrefillJob(rid, start, total - start))
        return True

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
