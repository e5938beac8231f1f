"""One figure style, stable figure files, and every figure of the book.

Every figure the book shows is drawn by a function here (notebooks only call them) under the
book's style, applied in a context (:func:`style`; importing this module changes no global
matplotlib setting), and saved by :func:`savefig` as ``<figures_dir>/<chapter>-<name>.svg`` and
``.png``, with fixed metadata so that the same inputs give the same files. A figure has one name:
its files are ``<chapter>-<name>.*`` and its label in the book is ``fig-<chapter>-<name>``
(:func:`figure_label`); :func:`savefig` records both in ``<figures_dir>/manifest.json``, which the
book's Figures page reads.
"""

from __future__ import annotations

import functools
import json
import re
from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from .topology import NVL72Topology
from .units import GB, require_choice

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "legend.frameon": False,
    "svg.hashsalt": "nvlmodel",
    "svg.fonttype": "none",
}


@contextmanager
def style():
    """The book's figure style for the duration of a ``with`` block: only the keys of :data:`STYLE`
    are set and restored afterwards (``plt.rc_context`` would also restore ``interactive``, which
    stops Jupyter's inline backend from showing later figures)."""
    saved = {k: plt.rcParams[k] for k in STYLE}
    plt.rcParams.update(STYLE)
    try:
        yield
    finally:
        plt.rcParams.update(saved)


def _axes(ax, n: int = 1, **subplots):
    """The figure and axes a plot function draws on: ``ax`` (one Axes, or a sequence of ``n``) when the
    caller gives it, else a new figure with ``n`` axes in a row (``plt.subplots`` keywords)."""
    if ax is None:
        return plt.subplots(1, n, **subplots)
    axes = np.atleast_1d(np.asarray(ax, dtype=object))
    if axes.size != n:
        raise ValueError(f"this figure draws on {n} axes, got {axes.size}")
    return axes.flat[0].figure, (axes if n > 1 else axes.flat[0])


def _styled(fn):
    """Draw ``fn``'s figure under :func:`style`."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with style():
            return fn(*args, **kwargs)
    return wrapper

#: Colours by preset, used by every chapter.
PRESET_COLORS = {"seed": "#c44e52", "datasheet": "#4c72b0"}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def figure_path(figures_dir: str | Path, chapter: str, name: str, ext: str = "svg") -> Path:
    """The stable path of a figure: ``<figures_dir>/<chapter>-<name>.<ext>``."""
    for what, v in (("chapter", chapter), ("figure name", name)):
        if not _SLUG.match(v):
            raise ValueError(f"{what} {v!r} must be lower-case letters, digits and dashes")
    require_choice("figure format", ext, ("svg", "png"))
    return Path(figures_dir) / f"{chapter}-{name}.{ext}"


def figure_label(chapter: str, name: str) -> str:
    """The figure's label in the book (for ``{numref}``): ``fig-<chapter>-<name>``, the same name as its files."""
    figure_path(".", chapter, name)  # validates both
    return f"fig-{chapter}-{name}"


MANIFEST = "manifest.json"


def savefig(fig: plt.Figure, figures_dir: str | Path, chapter: str, name: str) -> list[Path]:
    """Save ``fig`` as SVG and PNG under stable names (deterministic metadata, the book's style),
    record it in ``<figures_dir>/manifest.json`` (stem -> chapter, name, label, files) and return
    the paths."""
    paths = []
    Path(figures_dir).mkdir(parents=True, exist_ok=True)
    with style():
        for ext, meta in (("svg", {"Date": None, "Creator": "nvlmodel"}), ("png", {"Software": "nvlmodel"})):
            path = figure_path(figures_dir, chapter, name, ext)
            fig.savefig(path, metadata=meta, bbox_inches="tight")
            paths.append(path)
    manifest = Path(figures_dir) / MANIFEST
    entries = json.loads(manifest.read_text()) if manifest.exists() else {}
    entries[f"{chapter}-{name}"] = {"chapter": chapter, "name": name, "label": figure_label(chapter, name),
                                    "files": [p.name for p in paths]}
    manifest.write_text(json.dumps(dict(sorted(entries.items())), indent=1) + "\n")
    return paths


def read_manifest(figures_dir: str | Path) -> dict:
    """The figures :func:`savefig` recorded under ``figures_dir`` (empty when none)."""
    manifest = Path(figures_dir) / MANIFEST
    return json.loads(manifest.read_text()) if manifest.exists() else {}


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
    colors = plt.get_cmap("tab10").colors
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
                ax.add_patch(Rectangle((0.6 + c * 5.8, y + 0.15), 5.2, h - 0.3, fc="0.6", ec="0.3", lw=0.5))
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
            ax.text(x0 + 0.9, y + h / 2, f"Grace {s}", ha="center", va="center", fontsize=5.5)
            for j, gpu in enumerate(real.gpus_of_superchip(s)):
                d = seed.domain_of(gpu)
                ax.add_patch(Rectangle((x0 + 1.85 + j * 1.75, y + 0.18), 1.6, h - 0.36,
                                       fc=colors[d % 10], ec="0.2", lw=0.4, alpha=0.85))
                ax.text(x0 + 2.65 + j * 1.75, y + h / 2, f"GPU {gpu}", ha="center", va="center",
                        fontsize=5.5, color="white")
    handles = [Rectangle((0, 0), 1, 1, fc=colors[d % 10], alpha=0.85) for d in range(seed.num_domains)]
    ax.legend(handles, [f"domain {d}" for d in range(seed.num_domains)], title="seed's NVSwitch domain",
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, title_fontsize=7)
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


@_styled
def plot_e2m1_rounding(ax=None) -> plt.Figure:
    """E2M1 encode-decode as a staircase over [-7, 7]: nearest value, ties to even, saturation."""
    from . import fp4

    x = np.linspace(-7, 7, 4001, dtype=np.float32)
    y = fp4.e2m1_decode(fp4.e2m1_encode(x))
    fig, ax = _axes(ax, figsize=(6.4, 3.6))
    ax.plot(x, x, color="0.75", lw=0.8, label="identity")
    ax.step(x, y, where="mid", color=PRESET_COLORS["datasheet"], lw=1.4, label="E2M1(x)")
    grid = np.unique(fp4.E2M1_VALUES)
    ax.scatter(grid, grid, s=14, color="k", zorder=3, label="representable values")
    for m in (0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0):
        ax.axvline(m, color="0.85", lw=0.6, ls=":")
    ax.set_xlabel("input x (dimensionless, after block scaling)")
    ax.set_ylabel("decoded E2M1 value")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


@_styled
def plot_quantization_error(report, ax=None) -> plt.Figure:
    """SQNR (dB) of each format on each synthetic weight distribution (from
    :func:`nvlmodel.fp4.quantization_report`)."""
    kinds = list(dict.fromkeys(report["weights"]))
    fmts = list(dict.fromkeys(report["format"]))
    width = 0.8 / len(fmts)
    colors = plt.get_cmap("tab10").colors
    fig, ax = _axes(ax, figsize=(6.4, 3.4))
    for i, f in enumerate(fmts):
        vals = [report[(report["weights"] == k) & (report["format"] == f)]["sqnr_db"].iloc[0] for k in kinds]
        bits = report[report["format"] == f]["bits_per_element"].iloc[0]
        ax.bar(np.arange(len(kinds)) + (i - (len(fmts) - 1) / 2) * width, vals, width,
               label=f"{f} ({bits:g} bits)", color=colors[i])
    ax.set_xticks(np.arange(len(kinds)), kinds)
    ax.set_ylabel("SQNR (dB, higher is better)")
    ax.set_xlabel("synthetic weight distribution")
    ax.legend(ncol=3, fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


@_styled
def plot_roofline(curves, context: int, ax=None) -> plt.Figure:
    """Decode tokens/s per GPU against batch (from :func:`nvlmodel.roofline.roofline_curves`):
    seed dashed, datasheet solid, one colour per GPU and precision."""
    fig, ax = _axes(ax, figsize=(6.4, 4.2))
    colors = plt.get_cmap("tab10").colors
    keys = list(dict.fromkeys(zip(curves["gpu"], curves["quantization"])))
    for i, (gpu, quant) in enumerate(keys):
        for preset, ls in (("seed", "--"), ("datasheet", "-")):
            c = curves[(curves["gpu"] == gpu) & (curves["quantization"] == quant) & (curves["preset"] == preset)]
            ax.plot(c["batch"], c["tokens_per_s"], ls=ls, color=colors[i], lw=1.3,
                    label=f"{gpu.upper()} {quant} ({preset})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch (concurrent sequences)")
    ax.set_ylabel("decode throughput per GPU (tokens/s)")
    ax.set_title(f"seed: weights only; datasheet: + KV read at {context:,} tokens", fontsize=8)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="major", color="0.92")
    fig.tight_layout()
    return fig


@_styled
def plot_allreduce(panels, sizes=None, axes=None, ax=None) -> plt.Figure:
    """All-reduce time against message size, one panel per fabric (``panels`` from
    :func:`nvlmodel.collectives.allreduce_panels`): measured NCCL points (hollow where a stand-in
    system's), the alpha-beta fit and, on GB200, the seed's formula."""
    from .collectives import seed_allreduce_time

    sizes = np.logspace(3, 9.3, 60) if sizes is None else np.asarray(sizes)
    colors = plt.get_cmap("tab10").colors
    fig, axes = _axes(axes, len(panels), figsize=(9.6, 4.0), sharey=True)
    for ax, (system, rows) in zip(axes, panels):
        for i, r in enumerate(rows):
            n = r["n"]
            ax.scatter(r["bytes"], r["latency_s"] * 1e6, s=10, zorder=3, facecolors=colors[i] if r["own"] else "none",
                       edgecolors=colors[i], label=f"{n} GPUs, NCCL measured" + ("" if r["own"] else " on HGX B200"))
            ax.plot(sizes, r["fit"].time(sizes) * 1e6, color=colors[i], lw=1.2, label=f"{n} GPUs, alpha-beta fit")
            if system == "gb200":  # the seed's formula describes NVL72 only
                ax.plot(sizes, [seed_allreduce_time(s, n) * 1e6 for s in sizes], color=colors[i], lw=1.0,
                        ls="--", label=f"TP{n}, seed formula (no latency term)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(1, None)
        ax.set_xlabel("message size (bytes)")
        ax.set_title({"h100_sxm": "H100 SXM (NVLink 4)", "gb200": "GB200 (NVLink 5)"}.get(system, system))
        ax.grid(True, color="0.92")
        ax.legend(fontsize=6.5)
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


@_styled
def plot_advantage(table, printed: dict, ax=None) -> plt.Figure:
    """NVL72-replica advantage over 8x H100 per metric: as printed, by the document's method (seed)
    and with datasheet facts (``table`` from :func:`nvlmodel.endtoend.table`)."""
    y = np.arange(len(table))
    fig, ax = _axes(ax, figsize=(7.0, 4.0))
    ax.barh(y - 0.27, [printed[m] for m in table["metric"]], 0.26, color="0.6", label="as printed")
    ax.barh(y, table["advantage (seed)"], 0.26, color=PRESET_COLORS["seed"], label="document's method (seed)")
    ax.barh(y + 0.27, table["advantage (datasheet)"], 0.26, color=PRESET_COLORS["datasheet"], label="datasheet")
    ax.axvline(1, color="0.5", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, table["metric"], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("NVL72 replica advantage over 8x H100 (x, log scale)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


@_styled
def plot_advantage_grid(grid, ax=None) -> plt.Figure:
    """Datasheet decode advantage against context length, one line per batch size (from
    :func:`nvlmodel.endtoend.advantage_grid`)."""
    fig, ax = _axes(ax, figsize=(6.4, 3.8))
    colors = plt.get_cmap("viridis")(np.linspace(0.1, 0.85, grid["batch"].nunique()))
    for c, (b, g) in zip(colors, grid.groupby("batch")):
        ax.plot(g["context"], g["advantage"], marker="o", ms=3, color=c, label=f"batch {b}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context per sequence (tokens)")
    ax.set_ylabel("decode advantage, NVL72 replica / 8x H100")
    ax.grid(True, color="0.92")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


_SYSTEM_COLORS = {"h100_sxm": "#55a868", "h200_sxm": "#8172b2", "b200_sxm": "#c44e52"}
_PRECISION_MARKERS = {"bf16": "s", "fp8": "o", "fp4": "^"}


@_styled
def plot_predicted_vs_measured(pred, metric: str, axes=None) -> plt.Figure:
    """Predicted against measured ``metric`` ("tpot" or "ttft"), log-log, one panel per system,
    marker by precision, hollow markers for rows whose KV cache does not fit; the diagonal and a
    +/-15 % (TPOT) or +/-30 % (TTFT) band."""
    require_choice("metric", metric, ("tpot", "ttft"))
    band = 0.15 if metric == "tpot" else 0.30
    systems = [s for s in _SYSTEM_COLORS if s in set(pred.system)]
    fig, axes = _axes(axes, len(systems), figsize=(3.0 * len(systems), 3.1), sharex=True, sharey=True)
    axes = np.atleast_1d(axes)
    x_all, y_all = pred[f"{metric}_ms"].to_numpy(), pred[f"{metric}_pred_ms"].to_numpy()
    lo, hi = min(x_all.min(), y_all.min()) / 1.3, max(x_all.max(), y_all.max()) * 1.3
    line = np.array([lo, hi])
    for ax, system in zip(axes, systems):
        d = pred[pred.system == system]
        ax.fill_between(line, line * (1 - band), line * (1 + band), color="0.9", lw=0)
        ax.plot(line, line, color="0.4", lw=0.8)
        for precision, marker in _PRECISION_MARKERS.items():
            for fits in (True, False):
                s = d[(d.precision == precision) & (d.kv_fits == fits)]
                if s.empty:
                    continue
                ax.scatter(s[f"{metric}_ms"], s[f"{metric}_pred_ms"], s=12, marker=marker, lw=0.7,
                           facecolors=_SYSTEM_COLORS[system] if fits else "none", edgecolors=_SYSTEM_COLORS[system],
                           alpha=0.75, label=f"{precision}{'' if fits else ', KV does not fit'}")
        split = "held out" if d.split.iloc[0] == "held-out" else "calibration"
        ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), title=f"{system} ({split})",
               xlabel=f"measured {metric.upper()} (ms)")
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel(f"predicted {metric.upper()} (ms)")
    fig.tight_layout()
    return fig


@_styled
def plot_error_by(pred, by: str, axes=None) -> plt.Figure:
    """Median signed relative error of TPOT and TTFT (percent) against ``by`` (a column of the
    predictions), one line per system, precision and backend (solid vLLM, dashed TensorRT-LLM,
    dotted SGLang), rows whose KV fits only."""
    if by not in pred.columns:
        raise ValueError(f"cannot plot against {by!r}; try concurrency, tp, isl or osl")
    fig, axes = _axes(axes, 2, figsize=(9, 3), sharex=True)
    d = pred[pred.kv_fits]
    styles = {"vllm": "-", "trtllm": "--", "sglang": ":"}
    for ax, metric in zip(axes, ("tpot", "ttft")):
        for (system, precision, backend), g in d.groupby(["system", "precision", "backend"]):
            m = g.groupby(by)[f"{metric}_err_pct"].median()
            ax.plot(m.index, m.values, marker=_PRECISION_MARKERS[precision], color=_SYSTEM_COLORS[system],
                    ls=styles.get(backend, "-"), ms=4, lw=1, label=f"{system} {precision} {backend}")
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set(xscale="log", xlabel=by, ylabel=f"median {metric.upper()} error (%)", title=metric.upper())
        ticks = sorted(d[by].unique())
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_locator(plt.NullLocator())
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    return fig


@_styled
def plot_headline(table, measured: dict | None = None, measured_label: str = "measured", ax=None) -> plt.Figure:
    """The document's per-GPU B200-FP4-over-H100-FP8 ratios against the calibrated ones, and
    ``measured`` ratios (point -> ratio) as diamonds where the measurements cover a point."""
    fig, ax = _axes(ax, figsize=(6, 2.6))
    y = np.arange(len(table))
    ax.barh(y + 0.2, table.printed_ratio, height=0.4, color=PRESET_COLORS["seed"], label="document (printed)")
    ax.barh(y - 0.2, table.calibrated_ratio, height=0.4, color=PRESET_COLORS["datasheet"],
            label="calibrated model (Hopper-fitted TensorRT-LLM)")
    for yy, v in zip(y - 0.2, table.calibrated_ratio):
        ax.text(v + 0.05, yy, f"{v:.1f}x", va="center", fontsize=8)
    for yy, v in zip(y + 0.2, table.printed_ratio):
        ax.text(v + 0.05, yy, f"{v:.2g}x", va="center", fontsize=8)
    for point, v in (measured or {}).items():
        if point not in set(table.point):
            raise ValueError(f"unknown point {point!r}; points: {', '.join(table.point)}")
        yy = float(y[list(table.point).index(point)] - 0.2)
        ax.plot([v], [yy], marker="D", color="black", ms=6, ls="none", label=measured_label)
    ax.set_yticks(y, table.point)
    ax.invert_yaxis()
    ax.set_xlabel("B200 FP4 over H100 FP8, tokens/s per GPU")
    ax.set_xlim(0, 1.15 * max(table.printed_ratio.max(), table.calibrated_ratio.max()))
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    fig.tight_layout()
    return fig


_WATERFALL_COLORS = {"printed": "0.6", "seed": PRESET_COLORS["seed"], "bound": PRESET_COLORS["datasheet"],
                     "calibrated": "#55a868", "measured": "0.15"}


@_styled
def plot_waterfall(steps: list, axes=None) -> plt.Figure:
    """Per-GPU headline waterfalls, one panel per frame of :func:`nvlmodel.premises.waterfall`:
    totals (printed, document's method, datasheet bound, calibrated, measured) as full bars, each
    corrected premise as a floating bar from the ratio before it to the ratio after it."""
    fig, axes = _axes(axes, len(steps), figsize=(4.6 * len(steps), 4.6), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, w in zip(axes, steps):
        y = np.arange(len(w))[::-1]
        prev = None
        for yi, r in zip(y, w.itertuples()):
            if r.kind == "premise":
                lo, hi = sorted((prev, r.ratio))
                color = "#dd8452" if r.ratio < prev - 1e-9 else ("#8172b3" if r.ratio > prev + 1e-9 else "0.8")
                ax.barh(yi, max(hi - lo, 0.01), left=lo, color=color, height=0.6)
                label = f"{r.ratio - prev:+.2f}" if abs(r.ratio - prev) > 5e-3 else "no effect"
                x = max(r.ratio, prev)
            else:
                ax.barh(yi, r.ratio, color=_WATERFALL_COLORS[r.kind], height=0.6)
                label = f"{r.ratio:.2f}x" + (f" ({r.note})" if r.note else "")
                x = r.ratio
            ax.text(x + 0.06, yi, label, va="center", fontsize=8)
            prev = r.ratio
        ax.set_yticks(y, list(w.step))
        ax.set_xlim(0, max(w.ratio) * 1.45)
        ax.axvline(1, color="0.7", lw=0.8)
        ax.set_xlabel("B200 FP4 / H100 FP8, output tokens/s per GPU")
        ax.set_title(w.attrs.get("point", ""), fontsize=10)
        ax.grid(True, axis="x", color="0.92")
    fig.tight_layout()
    return fig
