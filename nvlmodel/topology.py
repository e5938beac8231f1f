"""GPU fabrics as graphs: the GB200 NVL72 rack (two views) and an 8-GPU HGX H100 node.

GPU numbering in the NVL72 follows the seed's own code: superchip ``g // 2``, compute tray
``g // 4`` (two superchips per tray), NVSwitch domain ``g // 8`` (``NVL72GangScheduler._is_same_domain``).

Views
-----
``seed``
    The document's picture (lines 114-170, 315-376): 9 NVSwitch domains of 8 GPUs. Two GPUs of
    one superchip are "distance 0" (1.8 TB/s, via NVLink-C2C), two GPUs of one domain are
    distance 1 (1.6 TB/s, one switch), others distance 2 (1.2 TB/s, two switches) --
    ``BlackwellModelExpress._get_bandwidth``.
``datasheet``
    The real fabric (shared/REFERENCE.md): each GPU has 18 NVLink 5 links, one to each of the 18
    NVSwitch ASICs of the 9 switch trays; every pair of GPUs is one switch hop apart at up to
    900 GB/s per direction, also inside a superchip (C2C joins CPU and GPU, not GPU to GPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from .hardware import get_system
from .premises import Premises
from .units import NS, TB, require_choice, require_index, require_positive

if TYPE_CHECKING:  # networkx is imported where a graph is built (90 ms; most callers never build one)
    import networkx as nx

VIEWS: tuple[str, ...] = ("seed", "datasheet")

#: The seed's effective bandwidth by distance (``BlackwellModelExpress._get_bandwidth``), bytes/s.
SEED_BANDWIDTH_BY_DISTANCE: dict[int, float] = {0: 1.8 * TB, 1: 1.6 * TB, 2: 1.2 * TB}
#: The seed's "~500ns of latency per hop" (line 114).
SEED_LATENCY_PER_HOP_S = 500 * NS


@dataclass(frozen=True)
class Link:
    """A path between two GPUs under one view."""

    hops: int  # switch hops (seed view: the document's 0/1/2 distance)
    bandwidth: float  # bytes/s, one direction, one transfer alone on the path

    def transfer_time(self, nbytes: float, per_hop_latency_s: float = 0.0) -> float:
        """Seconds to move ``nbytes`` alone on this path: ``hops * latency + nbytes / bandwidth``.

        The seed computes copy times as bytes / bandwidth with no latency term (line 304); pass
        ``per_hop_latency_s`` (e.g. :data:`SEED_LATENCY_PER_HOP_S`) to add one."""
        require_positive("nbytes", nbytes, allow_zero=True)
        require_positive("per_hop_latency_s", per_hop_latency_s, allow_zero=True)
        return self.hops * per_hop_latency_s + nbytes / self.bandwidth


class Fabric:
    """What every GPU fabric answers: the link between two GPUs, and matrices over all pairs.
    Subclasses set ``num_gpus`` and implement ``_link(a, b)`` for two valid, distinct GPU ids."""

    num_gpus: int

    def _link(self, a: int, b: int) -> Link:
        raise NotImplementedError

    def _gpu(self, gpu: int) -> int:
        return require_index("GPU id", gpu, self.num_gpus)

    def link(self, src: int, dst: int) -> Link:
        """Hops and one-direction bandwidth between two distinct GPUs."""
        a, b = self._gpu(src), self._gpu(dst)
        if a == b:
            raise ValueError(f"src and dst are the same GPU ({a}); a link joins two distinct GPUs")
        return self._link(a, b)

    def hops(self, src: int, dst: int) -> int:
        return self.link(src, dst).hops

    def bandwidth(self, src: int, dst: int) -> float:
        """Bytes/s one way from ``src`` to ``dst`` for a single transfer."""
        return self.link(src, dst).bandwidth

    def matrix(self, quantity: str = "bandwidth") -> np.ndarray:  # noqa: F821
        """``num_gpus`` x ``num_gpus`` matrix of ``bandwidth`` (bytes/s) or ``hops``; NaN diagonal."""
        import numpy as np

        require_choice("quantity", quantity, ("bandwidth", "hops"))
        m = np.full((self.num_gpus, self.num_gpus), np.nan)
        for a in range(self.num_gpus):
            for b in range(self.num_gpus):
                if a != b:
                    m[a, b] = getattr(self._link(a, b), quantity)
        return m


class NVL72Topology(Fabric):
    """The GB200 NVL72 rack: 18 compute trays, 36 superchips, 72 GPUs, 36 Grace CPUs and the
    NVLink switch trays, under the ``seed`` (9 domains of 8) or ``datasheet`` (one hop) view."""

    GPUS_PER_SUPERCHIP = 2
    SUPERCHIPS_PER_TRAY = 2
    SEED_DOMAIN_SIZE = 8

    def __init__(self, view: "str | Premises" = "datasheet"):
        if isinstance(view, Premises):  # the fabric is one premise: 8-GPU switch domains, or one hop
            view = "seed" if view.switch_domains else "datasheet"
        self.view = require_choice("topology view", view, VIEWS)
        self.system = get_system("nvl72", view)
        self.num_gpus = self.system.num_gpus
        self.num_superchips = self.system.num_superchips
        self.num_trays = self.system.compute_trays
        self.num_switch_trays = self.system.switch_trays
        self.num_domains = self.num_gpus // self.SEED_DOMAIN_SIZE if view == "seed" else 1

    def __repr__(self) -> str:
        return f"NVL72Topology(view={self.view!r})"

    # -- placement ---------------------------------------------------------------------------
    def superchip_of(self, gpu: int) -> int:
        """Superchip (0..35) holding ``gpu``; its Grace CPU has the same index."""
        return self._gpu(gpu) // self.GPUS_PER_SUPERCHIP

    def tray_of(self, gpu: int) -> int:
        """Compute tray (0..17) holding ``gpu``."""
        return self.superchip_of(gpu) // self.SUPERCHIPS_PER_TRAY

    def domain_of(self, gpu: int) -> int:
        """NVSwitch domain of ``gpu``: ``gpu // 8`` in the seed view (9 domains); 0 in the
        datasheet view, where the whole rack is one NVLink domain."""
        g = self._gpu(gpu)
        return g // self.SEED_DOMAIN_SIZE if self.view == "seed" else 0

    def gpus_of_superchip(self, superchip: int) -> list[int]:
        s = require_index("superchip id", superchip, self.num_superchips)
        return [s * self.GPUS_PER_SUPERCHIP + i for i in range(self.GPUS_PER_SUPERCHIP)]

    def gpus_of_domain(self, domain: int) -> list[int]:
        d = require_index("domain id", domain, self.num_domains)
        return [g for g in range(self.num_gpus) if self.domain_of(g) == d]

    # -- paths -------------------------------------------------------------------------------
    def _link(self, a: int, b: int) -> Link:
        if self.view == "seed":
            if self.superchip_of(a) == self.superchip_of(b):
                d = 0
            elif self.domain_of(a) == self.domain_of(b):
                d = 1
            else:
                d = 2
            return Link(hops=d, bandwidth=SEED_BANDWIDTH_BY_DISTANCE[d])
        return Link(hops=1, bandwidth=self.system.gpu.nvlink_bw_per_direction)

    # -- the graph ---------------------------------------------------------------------------
    @cached_property
    def graph(self) -> nx.Graph:
        """Nodes ``gpu:i``, ``cpu:i``, ``superchip:i``, ``tray:i``, ``switch_tray:i``, ``switch:i``
        (attribute ``kind``); edges with ``kind`` (``nvlink``, ``c2c``, ``contains``) and, for links,
        ``bandwidth`` per direction. Seed view: one switch per domain, GPUs of a superchip joined
        directly. Datasheet view: 9 switch trays x 2 ASICs, each GPU linked once to every ASIC."""
        import networkx as nx

        g = nx.Graph(view=self.view)
        sc = self.system.superchip
        for t in range(self.num_trays):
            g.add_node(f"tray:{t}", kind="tray")
        for s in range(self.num_superchips):
            g.add_node(f"superchip:{s}", kind="superchip")
            g.add_node(f"cpu:{s}", kind="cpu")
            g.add_edge(f"tray:{s // self.SUPERCHIPS_PER_TRAY}", f"superchip:{s}", kind="contains")
            g.add_edge(f"superchip:{s}", f"cpu:{s}", kind="contains")
            for gpu in self.gpus_of_superchip(s):
                g.add_node(f"gpu:{gpu}", kind="gpu")
                g.add_edge(f"superchip:{s}", f"gpu:{gpu}", kind="contains")
                g.add_edge(f"cpu:{s}", f"gpu:{gpu}", kind="c2c", bandwidth=sc.c2c_bw_total / 2)
        for t in range(self.num_switch_trays):
            g.add_node(f"switch_tray:{t}", kind="switch_tray")
        if self.view == "seed":
            for d in range(self.num_domains):
                g.add_node(f"switch:{d}", kind="switch")
                g.add_edge(f"switch_tray:{d}", f"switch:{d}", kind="contains")
                for gpu in self.gpus_of_domain(d):
                    g.add_edge(f"switch:{d}", f"gpu:{gpu}", kind="nvlink",
                               bandwidth=SEED_BANDWIDTH_BY_DISTANCE[1])
                for d2 in range(d):
                    g.add_edge(f"switch:{d2}", f"switch:{d}", kind="nvlink",
                               bandwidth=SEED_BANDWIDTH_BY_DISTANCE[2])
            for s in range(self.num_superchips):
                a, b = self.gpus_of_superchip(s)
                g.add_edge(f"gpu:{a}", f"gpu:{b}", kind="nvlink", bandwidth=SEED_BANDWIDTH_BY_DISTANCE[0])
        else:
            chips = self.system.switch_chips
            per_tray = chips // self.num_switch_trays
            link_bw = self.system.gpu.nvlink_bw_per_direction / self.system.gpu.nvlink_links
            for c in range(chips):
                g.add_node(f"switch:{c}", kind="switch")
                g.add_edge(f"switch_tray:{c // per_tray}", f"switch:{c}", kind="contains")
                for gpu in range(self.num_gpus):
                    g.add_edge(f"switch:{c}", f"gpu:{gpu}", kind="nvlink", bandwidth=link_bw)
        return g

    def nvlink_graph(self) -> nx.Graph:
        """The GPU/switch NVLink subgraph (what a transfer can traverse)."""
        import networkx as nx

        h = nx.Graph(view=self.view)  # built in the parent's edge order: deterministic across processes
        h.add_edges_from((u, v, d) for u, v, d in self.graph.edges(data=True) if d["kind"] == "nvlink")
        return h

    def switch_hops_in_graph(self, src: int, dst: int) -> int:
        """Switches on the shortest NVLink path between two GPUs, counted on :attr:`graph`."""
        import networkx as nx

        path = nx.shortest_path(self.nvlink_graph(), f"gpu:{self._gpu(src)}", f"gpu:{self._gpu(dst)}")
        return sum(1 for n in path if n.startswith("switch:"))


class HGXTopology(Fabric):
    """An 8-GPU HGX baseboard (H100 by default): every GPU links to every NVSwitch chip on the
    board (H100: its 18 links split 5/4/4/5 over 4 chips; B200: 9/9 over 2), so every pair is one
    switch hop apart at the GPU's NVLink rate per direction."""

    LINKS_PER_SWITCH = {"h100": (5, 4, 4, 5), "b200": (9, 9)}

    def __init__(self, gpu: str = "h100", preset: str = "datasheet"):
        require_choice("HGX GPU", gpu, ("h100", "b200"))
        self.system = get_system(f"hgx-{gpu}", preset)
        self.view = preset
        self.num_gpus = self.system.num_gpus

    def __repr__(self) -> str:
        return f"HGXTopology(gpu={self.system.gpu.key!r}, preset={self.view!r})"

    def _link(self, a: int, b: int) -> Link:
        return Link(hops=1, bandwidth=self.system.gpu.nvlink_bw_per_direction)

    def domain_of(self, gpu: int) -> int:
        self._gpu(gpu)
        return 0

    @cached_property
    def graph(self) -> nx.Graph:
        import networkx as nx

        g = nx.Graph(view=self.view)
        gpu = self.system.gpu
        per_link = gpu.nvlink_bw_per_direction / gpu.nvlink_links
        for c, links in enumerate(self.LINKS_PER_SWITCH[gpu.key]):
            g.add_node(f"switch:{c}", kind="switch")
            for i in range(self.num_gpus):
                g.add_node(f"gpu:{i}", kind="gpu")
                g.add_edge(f"switch:{c}", f"gpu:{i}", kind="nvlink", links=links, bandwidth=links * per_link)
        return g


def nvl72(view: str = "datasheet") -> NVL72Topology:
    """Shorthand for :class:`NVL72Topology`."""
    return NVL72Topology(view)


__all__ = [
    "SEED_BANDWIDTH_BY_DISTANCE",
    "SEED_LATENCY_PER_HOP_S",
    "VIEWS",
    "Fabric",
    "HGXTopology",
    "Link",
    "NVL72Topology",
    "nvl72",
]
