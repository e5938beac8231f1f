"""Figures of the hardware chapter (spec ratios, the rack, the fabric views, bandwidth matrices)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from ..topology import NVL72Topology
from ..units import GB
from .style import PRESET_COLORS, _axes, _styled


@_styled
def plot_spec_ratios(table_seed, table_datasheet, label_a: str, label_b: str, ax=None) -> plt.Figure:
    """Horizontal bars of ``a / b`` per spec row under both presets. The tables come from
    :func:`nvlmodel.hardware.spec_table` and hold the same rows in the same order (labels may
    differ, e.g. visible HBM); rows without a ratio under either preset are left out."""
    if len(table_seed) != len(table_datasheet):
        raise ValueError("the two spec tables must hold the same rows")
    keep = (table_seed["ratio"].notna() & table_datasheet["ratio"].notna()).to_numpy()
    rows, ds = table_seed[keep], table_datasheet[keep]
    y = np.arange(len(rows))
    fig, ax = _axes(ax, figsize=(6.4, 0.32 * len(rows) + 1.2))
    ax.barh(y + 0.2, rows["ratio"], height=0.38, color=PRESET_COLORS["seed"], label="seed (as printed)")
    ax.barh(y - 0.2, ds["ratio"], height=0.38, color=PRESET_COLORS["datasheet"], label="datasheet")
    ax.axvline(1, color="0.5", lw=0.8)
    ax.set_yticks(y, rows["specification"])
    ax.invert_yaxis()
    ax.set_xlabel(f"ratio {label_a} / {label_b} (dimensionless)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    fig.tight_layout()
    return fig


@_styled
def plot_rack(topology: NVL72Topology | None = None, ax=None) -> plt.Figure:
    """Schematic NVL72 rack: 18 compute trays (2 GB200 superchips each: a Grace CPU and two GPUs)
    around 9 NVLink switch trays (2 switch ASICs each). GPUs are coloured by the seed document's
    NVSwitch domain (``gpu // 8``), which does not exist in the hardware."""
    seed = NVL72Topology("seed")
    real = topology or NVL72Topology("datasheet")
    # nine domain colours, none grey (the switch trays are grey) and none too pale for its label
    colors = [plt.get_cmap("tab10").colors[i] for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]

    def ink(fc):  # black on light fills, white on dark: readable labels
        r, g, b = fc[:3]
        return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"

    order = [("compute", t) for t in range(10)] + [("switch", s) for s in range(real.num_switch_trays)] + [
        ("compute", t) for t in range(10, real.num_trays)]
    fig, ax = _axes(ax, figsize=(6.4, 8.2))
    h, gap = 1.0, 0.18
    for row, (kind, idx) in enumerate(order):
        y = -row * (h + gap)
        if kind == "switch":
            ax.add_patch(Rectangle((0, y), 12, h, fc="0.85", ec="0.3", lw=0.6))
            per_tray = real.system.switch_chips // real.num_switch_trays
            for c in range(per_tray):
                ax.add_patch(Rectangle((0.6 + c * 5.8, y + 0.15), 5.2, h - 0.3, fc="0.35", ec="0.2", lw=0.5))
                ax.text(3.2 + c * 5.8, y + h / 2, f"NVSwitch ASIC {idx * per_tray + c}", ha="center",
                        va="center", fontsize=6.5, color="white")
            ax.text(-0.3, y + h / 2, f"switch tray {idx}", ha="right", va="center", fontsize=7)
            continue
        ax.add_patch(Rectangle((0, y), 12, h, fc="white", ec="0.3", lw=0.6))
        ax.text(-0.3, y + h / 2, f"compute tray {idx}", ha="right", va="center", fontsize=7)
        for k in range(real.SUPERCHIPS_PER_TRAY):
            s = idx * real.SUPERCHIPS_PER_TRAY + k
            x0 = 0.3 + k * 6
            ax.add_patch(Rectangle((x0, y + 0.1), 5.4, h - 0.2, fc="none", ec="0.5", lw=0.5, ls="--"))
            ax.add_patch(Rectangle((x0 + 0.15, y + 0.18), 1.5, h - 0.36, fc="#dddddd", ec="0.4", lw=0.4))
            ax.text(x0 + 0.9, y + h / 2, f"Grace {s}", ha="center", va="center", fontsize=6.5)
            for j, gpu in enumerate(real.gpus_of_superchip(s)):
                d = seed.domain_of(gpu)
                fc = colors[d % len(colors)]
                ax.add_patch(Rectangle((x0 + 1.85 + j * 1.75, y + 0.18), 1.6, h - 0.36, fc=fc, ec="0.2", lw=0.4))
                ax.text(x0 + 2.65 + j * 1.75, y + h / 2, f"GPU {gpu}", ha="center", va="center",
                        fontsize=6.5, color=ink(fc))
    handles = [Rectangle((0, 0), 1, 1, fc=colors[d % len(colors)]) for d in range(seed.num_domains)]
    ax.legend(handles, [f"domain {d}" for d in range(seed.num_domains)], title="seed's NVSwitch domain",
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, title_fontsize=8)
    ax.set_xlim(-3.2, 12.2)
    ax.set_ylim(-len(order) * (h + gap) + gap - 0.1, h + 0.1)
    ax.set_axis_off()
    fig.tight_layout()
    return fig


@_styled
def plot_fabric_views(axes=None) -> plt.Figure:
    """NVLink connectivity under the two views: the seed's 9 switches of 8 GPUs each (joined to
    one another) against the real fabric, where each of 18 switch ASICs links to all 72 GPUs."""
    fig, axes = _axes(axes, 2, figsize=(9.6, 3.6), sharey=True)
    for ax, view in zip(axes, ("seed", "datasheet")):
        topo = NVL72Topology(view)
        g = topo.nvlink_graph()
        switches = sorted((n for n in g if n.startswith("switch:")), key=lambda n: int(n.split(":")[1]))
        gx = {f"gpu:{i}": i for i in range(topo.num_gpus)}
        sx = {n: (k + 0.5) * topo.num_gpus / len(switches) - 0.5 for k, n in enumerate(switches)}
        segs_gpu, segs_sw = [], []
        for u, v in g.edges():
            a, b = sorted((u, v), key=lambda n: n.startswith("gpu:"))
            if a.startswith("switch:") and b.startswith("gpu:"):
                segs_gpu.append([(sx[a], 1.0), (gx[b], 0.0)])
            elif a.startswith("switch:"):
                segs_sw.append((a, b))
        alpha = 0.5 if view == "seed" else 0.06
        ax.add_collection(LineCollection(segs_gpu, colors=PRESET_COLORS[view], linewidths=0.6, alpha=alpha))
        if segs_sw:  # the seed's inter-domain paths: draw the switch-to-switch mesh as a bus
            ax.plot([min(sx.values()), max(sx.values())], [1.12, 1.12], color="0.3", lw=1.2)
            for x in sx.values():
                ax.plot([x, x], [1.0, 1.12], color="0.3", lw=0.8)
            ax.text(np.mean(list(sx.values())), 1.17, "switch-to-switch (seed: 2 hops, 1.2 TB/s)",
                    ha="center", fontsize=7)
        pairs = [(u, v) for u, v in g.edges() if u.startswith("gpu:") and v.startswith("gpu:")]
        for u, v in pairs:  # the seed's superchip pairs
            ax.plot([gx[u], gx[v]], [-0.06, -0.06], color="k", lw=1.2)
        if pairs:
            ax.text(topo.num_gpus / 2, -0.17, "superchip pairs joined directly (seed: distance 0, 1.8 TB/s)",
                    ha="center", fontsize=7)
        ax.scatter(list(gx.values()), [0.0] * len(gx), s=6, color="k", zorder=3)
        ax.scatter(list(sx.values()), [1.0] * len(sx), s=40, marker="s", color="0.35", zorder=3)
        title = ("seed view: 9 NVSwitch domains of 8 GPUs" if view == "seed"
                 else "datasheet: 18 switch ASICs, each linked to all 72 GPUs")
        ax.set_title(title)
        ax.set_xlabel("GPU id (switches above, GPUs below)")
        ax.set_xlim(-2, topo.num_gpus + 1)
        ax.set_ylim(-0.22, 1.25)
        ax.set_yticks([0, 1], ["GPUs", "switches"])
    fig.tight_layout()
    return fig


@_styled
def plot_bandwidth_matrices(axes=None) -> plt.Figure:
    """Per-direction bandwidth between every pair of the 72 GPUs, seed view against datasheet."""
    fig, axes = _axes(axes, 2, figsize=(9.0, 4.0), constrained_layout=True)
    mats = {v: NVL72Topology(v).matrix("bandwidth") / GB for v in ("seed", "datasheet")}
    vmax = max(np.nanmax(m) for m in mats.values())
    for ax, (view, m) in zip(axes, mats.items()):
        im = ax.imshow(m, cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{view}: one-way bandwidth between GPUs")
        ax.set_xlabel("destination GPU id")
        ax.set_ylabel("source GPU id")
    fig.colorbar(im, ax=axes, label="bandwidth per direction (GB/s)", shrink=0.85)
    return fig
