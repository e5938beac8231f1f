"""Figures of the gang-scheduling chapter (measured all-reduce, fragmentation)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import _axes, _styled


@_styled
def plot_allreduce(panels, sizes=None, axes=None) -> plt.Figure:
    """All-reduce time against message size, one panel per fabric (``panels`` from
    :func:`nvlmodel.collectives.allreduce_panels`): measured NCCL points (hollow where a stand-in
    system's), the alpha-beta fit and, on GB200, the seed's formula."""
    from ..collectives import seed_allreduce_time

    sizes = np.logspace(3, 9.3, 60) if sizes is None else np.asarray(sizes)
    colors = plt.get_cmap("tab10").colors
    fig, axes = _axes(axes, len(panels), figsize=(9.6, 4.4), sharey=True)
    from matplotlib.lines import Line2D

    for ax, (system, rows) in zip(axes, panels):
        stand_in = False
        for i, r in enumerate(rows):
            n = r["n"]
            stand_in |= not r["own"]
            ax.scatter(r["bytes"], r["latency_s"] * 1e6, s=12, zorder=3, facecolors=colors[i] if r["own"] else "none",
                       edgecolors=colors[i])
            ax.plot(sizes, r["fit"].time(sizes) * 1e6, color=colors[i], lw=1.2)
            if system == "gb200":  # the seed's formula describes NVL72 only
                ax.plot(sizes, [seed_allreduce_time(s, n) * 1e6 for s in sizes], color=colors[i], lw=1.0, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(1, None)
        ax.set_xlabel("message size (bytes)")
        ax.set_title({"h100_sxm": "H100 SXM (NVLink 4)", "gb200": "GB200 (NVLink 5)"}.get(system, system))
        ax.grid(True, color="0.92")
        # one legend for colour (GPUs), one for what a mark is: nine entries in two short lists
        gpus = ax.legend([Line2D([], [], color=colors[i], lw=2) for i in range(len(rows))],
                         [f"{r['n']} GPUs" for r in rows], fontsize=8, loc="upper left", title="group",
                         title_fontsize=8)
        ax.add_artist(gpus)
        kinds = [(Line2D([], [], ls="none", marker="o", color="0.3", ms=4), "NCCL measured")]
        if stand_in:
            kinds.append((Line2D([], [], ls="none", marker="o", mfc="none", color="0.3", ms=4),
                          "measured on HGX B200 (stand-in)"))
        kinds.append((Line2D([], [], color="0.3", lw=1.2), "alpha-beta fit"))
        if system == "gb200":
            kinds.append((Line2D([], [], color="0.3", lw=1.0, ls="--"), "seed formula (no latency term)"))
        ax.legend(*zip(*kinds), fontsize=8, loc="upper left", bbox_to_anchor=(0.2, 1.0))
    axes[0].set_ylabel("all-reduce time (us)")
    fig.tight_layout()
    return fig


@_styled
def plot_fragmentation(table, axes=None) -> plt.Figure:
    """Refused TP groups against offered load for each scheduler (from
    :func:`nvlmodel.gang.churn_table`): all refusals, and those with enough free GPUs in the rack."""
    fig, axes = _axes(axes, 2, figsize=(9.0, 3.6), sharey=True)
    colors = plt.get_cmap("tab10").colors
    for ax, col, title in ((axes[0], "refusal_rate", "all refusals"),
                           (axes[1], "fragmentation_rate", "refused although enough GPUs were free")):
        for i, (name, g) in enumerate(table.groupby("scheduler", sort=False)):
            ax.plot(g["load"], g[col] * 100, marker="o", ms=3, color=colors[i], label=name)
        ax.set_title(title)
        ax.set_xlabel("offered load (fraction of 72 GPUs)")
        ax.grid(True, color="0.92")
    axes[0].set_ylabel("TP groups refused (%)")
    axes[0].legend()
    fig.tight_layout()
    return fig
