"""Figures of the end-to-end chapter (advantage by metric and context, the premise waterfall)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from .style import PRESET_COLORS, _axes, _styled


@_styled
def plot_advantage(table, printed: dict, ax=None) -> plt.Figure:
    """NVL72-replica advantage over 8x H100 per metric: as printed, by the document's method (seed)
    and with datasheet facts (``table`` from :func:`nvlmodel.endtoend.table`)."""
    y = np.arange(len(table))
    fig, ax = _axes(ax, figsize=(7.0, 4.6))
    groups = ((-0.27, [printed[m] for m in table["metric"]], "0.6", "as printed"),
              (0.0, table["advantage (seed)"], PRESET_COLORS["seed"], "document's method (seed)"),
              (0.27, table["advantage (datasheet)"], PRESET_COLORS["datasheet"], "datasheet"))
    for dy, values, color, name in groups:
        bars = ax.barh(y + dy, values, 0.26, color=color, label=name)
        ax.bar_label(bars, labels=[f"{v:.2g}x" for v in values], fontsize=7.5, padding=2)
    ax.axvline(1, color="0.5", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlim(right=ax.get_xlim()[1] * 2.5)  # room for the value labels
    ax.set_yticks(y, table["metric"], fontsize=8.5)
    ax.invert_yaxis()
    ax.set_xlabel("NVL72 replica advantage over 8x H100 (x, log scale)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.4, 1.12), ncols=3)
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


_WATERFALL_COLORS = {"printed": "0.6", "seed": PRESET_COLORS["seed"], "bound": PRESET_COLORS["datasheet"],
                     "calibrated": "#55a868", "measured": "0.15"}


@_styled
def plot_waterfall(steps: list, axes=None) -> plt.Figure:
    """Per-GPU headline waterfalls, one panel per frame of :func:`nvlmodel.calibrate.waterfall`:
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
