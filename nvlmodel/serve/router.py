"""The router of the simulation: where a request goes (KV-aware policies of
:mod:`nvlmodel.kvbm.routing`: the worker with the most of its prefix cached, the least loaded, or
at random), what it onboards from lower tiers and peers on the way. A mixin of
:class:`nvlmodel.serve.engine._Sim`: its state lives there."""

from __future__ import annotations


class Router:
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
