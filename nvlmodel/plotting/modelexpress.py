"""Figures of the ModelExpress chapter (transfer timelines, swap times, temporal sharing)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..units import GB
from .style import PRESET_COLORS, _axes, _styled


@_styled
def plot_transfer_timelines(timelines: dict, ax=None) -> plt.Figure:
    """Gantt chart of shard transfers into one GPU: one row per transfer, one block per scenario
    (``{label: [TimelineEntry, ...]}``)."""
    fig, ax = _axes(ax, figsize=(7.2, 0.35 * sum(len(v) + 1 for v in timelines.values()) + 1.0))
    colors = plt.get_cmap("tab10").colors
    y, ticks, labels = 0, [], []
    for i, (label, tl) in enumerate(timelines.items()):
        for e in tl:
            ax.barh(y, (e.end_s - e.start_s) * 1e3, left=e.start_s * 1e3, height=0.7, color=colors[i])
            ticks.append(y)
            labels.append(f"GPU {e.src} -> {e.dst} (rank {e.rank})")
            y += 1
        ax.text(max(e.end_s for e in tl) * 1e3, y - 1, f"  {label}: {max(e.end_s for e in tl) * 1e3:.1f} ms",
                va="center", fontsize=7, color=colors[i])
        y += 1
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.margins(x=0.35)
    fig.tight_layout()
    return fig


@_styled
def plot_swap_times(sizes_gb, paths: dict, ax=None) -> plt.Figure:
    """Time to bring one GPU's shard against its size, one line per load path
    (``paths``: name -> :class:`~nvlmodel.modelexpress.LoadPath`)."""
    sizes = np.asarray(sizes_gb, dtype=float)
    fig, ax = _axes(ax, figsize=(6.4, 4.0))
    colors = plt.get_cmap("tab10").colors
    for i, (name, p) in enumerate(paths.items()):
        ax.plot(sizes, [p.load_time(s * GB) for s in sizes], color=colors[i % 10],
                ls="--" if name.endswith("seed") else "-", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("weights per GPU (GB)")
    ax.set_ylabel("load time (s)")
    ax.grid(True, which="major", color="0.92")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


@_styled
def plot_sharing(sweep, markers: dict, ax=None) -> plt.Figure:
    """Mean wait before service against swap time for shared and dedicated GPUs (from
    :func:`nvlmodel.modelexpress.sharing_sweep`), with the swap times of named paths marked."""
    fig, ax = _axes(ax, figsize=(6.4, 4.0))
    for policy, color in (("shared", PRESET_COLORS["datasheet"]), ("dedicated", "0.4")):
        d = sweep[sweep.policy == policy]
        ax.plot(d.swap_s, d.mean_wait_s, marker="o", ms=3, color=color, label=f"{policy} GPUs")
    for name, x in markers.items():
        ax.axvline(x, color="0.8", lw=0.8, ls=":")
        ax.text(x, 0.02, f" {name}", rotation=90, fontsize=6.5, va="bottom",
                transform=ax.get_xaxis_transform(), color="0.35")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("model swap time (s)")
    ax.set_ylabel("mean wait before service (s)")
    ax.grid(True, which="major", color="0.92")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
