"""Figures of the KVBM chapter (capacity, routing, tiers)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import PRESET_COLORS, _axes, _styled


@_styled
def plot_kv_capacity(printed: dict, seed_table, ds_table, ax=None) -> plt.Figure:
    """Concurrent 128K-token sessions per configuration: as printed, by the document's formula, and
    with datasheet facts (tables from :func:`nvlmodel.kvbm.capacity_table`)."""
    labels = list(seed_table["configuration"])
    x = np.arange(len(labels))
    fig, ax = _axes(ax, figsize=(7.0, 3.6))
    ax.bar(x - 0.27, [printed[k] for k in labels], 0.26, color="0.6", label="as printed")
    ax.bar(x, seed_table["sessions_128k"], 0.26, color=PRESET_COLORS["seed"], label="document's formula (seed)")
    ax.bar(x + 0.27, ds_table["sessions_128k"], 0.26, color=PRESET_COLORS["datasheet"], label="datasheet")
    ax.set_yscale("log")
    ax.set_xticks(x, [s.replace(" (", "\n(") for s in labels], fontsize=7)
    ax.set_ylabel("concurrent 128K-token sessions")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


@_styled
def plot_routing(table, axes=None) -> plt.Figure:
    """Prefix hit rate and load imbalance by routing policy and cache size (from
    :func:`nvlmodel.kvbm.rack_table`)."""
    fig, axes = _axes(axes, 2, figsize=(9.0, 3.4))
    policies = list(dict.fromkeys(table["policy"]))
    sizes = list(dict.fromkeys(table["blocks_per_gpu"]))
    width = 0.8 / len(sizes)
    colors = plt.get_cmap("Blues")(np.linspace(0.45, 0.85, len(sizes)))
    for ax, col, label in ((axes[0], "hit_rate", "prefix hit rate (ratio of sums)"),
                           (axes[1], "load_imbalance", "load imbalance (max / mean prefill)")):
        for i, c in enumerate(sizes):
            vals = [table[(table.policy == p) & (table.blocks_per_gpu == c)][col].iloc[0] for p in policies]
            ax.bar(np.arange(len(policies)) + (i - (len(sizes) - 1) / 2) * width, vals, width, color=colors[i],
                   label=f"{c:,} blocks of memory per GPU")
        ax.set_xticks(np.arange(len(policies)), policies)
        ax.set_ylabel(label)
    axes[0].legend(fontsize=7)
    axes[1].axhline(1, color="0.5", lw=0.8)
    fig.tight_layout()
    return fig


@_styled
def plot_tiers(result, ax=None) -> plt.Figure:
    """Hit rate from local HBM alone, with the seed's hypothetical NVSwitch tier, and with prefix
    blocks fetched from peer GPUs' HBM over NVLink (one :class:`~nvlmodel.kvbm.RackResult`)."""
    fig, ax = _axes(ax, figsize=(6.0, 3.0))
    names = ["local HBM only", "+ NVSwitch tier\n(hypothetical)", "+ peer GPU HBM\nover NVLink"]
    vals = [result.hit_rate, result.switch_hit_rate, result.peer_hit_rate]
    ax.barh(names, vals, color=["0.6", PRESET_COLORS["seed"], PRESET_COLORS["datasheet"]])
    for i, v in enumerate(vals):
        ax.text(v, i, f" {v:.1%}", va="center", fontsize=8)
    ax.set_xlim(0, 1.05)
    ax.invert_yaxis()
    ax.set_xlabel(f"prefix hit rate, policy {result.policy}, {result.blocks_per_worker:,} blocks per worker\n({result.workers} TP{result.tp} workers)")
    fig.tight_layout()
    return fig
