"""The findings page's figure: each headline claim's values against the printed number."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from .style import _axes, _require_columns, _styled

#: Marker, colour and label of each kind of value (the document's method, then the corrections).
KINDS = (("seed", "o", "0.45", "document's own method"), ("datasheet", "s", "#4c72b0", "datasheet bound"),
         ("calibrated", "D", "#dd8452", "calibrated (fitted on Hopper)"),
         ("simulated", "^", "#8172b3", "simulated under load"), ("measured", "|", "#55a868", "measured"))


@_styled
def plot_findings(items, ax=None) -> plt.Figure:
    """Every :class:`nvlmodel.findings.Finding` as one row: its values relative to the printed
    number (1 = as printed, below 1 = worse for the reader than printed; times inverted), log scale;
    a measured range as a bar, a calibrated value's 80 % interval as a line through it."""
    if not items:
        raise ValueError("no findings to plot")
    fig, ax = _axes(ax, figsize=(7.0, 0.55 * len(items) + 1.5))
    y = np.arange(len(items))[::-1]
    seen = set()
    for yi, f in zip(y, items):
        for kind, marker, color, label in KINDS:
            lab = None if kind in seen else label
            if kind == "measured":
                if f.measured is None:
                    continue
                lo, hi = sorted(f.relative(v) for v in f.measured)
                ax.plot([lo, hi], [yi, yi], color=color, lw=9, solid_capstyle="butt", label=lab, alpha=0.5, zorder=1)
                ax.plot([lo, hi], [yi, yi], ls="none", marker="|", ms=14, mew=2, color=color, zorder=1)
            else:
                v = getattr(f, kind)
                if v is None:
                    continue
                if kind == "calibrated" and getattr(f, "calibrated_interval", None) is not None:
                    lo, hi = sorted(f.relative(b) for b in f.calibrated_interval)  # its 80 % interval
                    ax.plot([lo, hi], [yi, yi], color=color, lw=1.5, zorder=2)
                ax.plot(f.relative(v), yi, ls="none", marker=marker, ms=7, color=color,
                        mfc="none" if kind == "seed" else color, label=lab, zorder=3)
            seen.add(kind)
    ax.axvline(1.0, color="black", lw=0.8, ls="--")
    ax.set(xscale="log", yticks=y, yticklabels=[textwrap.fill(f.finding, 34) for f in items],
           ylim=(-0.6, len(items) - 0.4), xlabel="relative to the printed number (1 = as printed)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.tick_params(axis="y", labelsize=8.5)
    ax.legend(fontsize=8.5, loc="lower center", bbox_to_anchor=(0.3, 1.0), ncols=3)
    fig.tight_layout()
    return fig


@_styled
def plot_ratio_curve(curve, ax=None) -> plt.Figure:
    """Per-GPU throughput ratios against interactivity (:func:`nvlmodel.buyer.ratio_curve`): one
    line per ratio with its 80 % band, log scale, a dotted line at 1 (parity); hollow markers where
    a side is beyond the measured serving rows."""
    _require_columns(curve, ("ratio", "tok_s_per_user", "per_gpu", "per_gpu_lo", "per_gpu_hi", "extrapolated"))
    fig, ax = _axes(ax, figsize=(6.4, 3.6))
    colors = ("#55a868", "#c44e52", "#8172b2", "#dd8452")
    for (label, g), c in zip(curve.groupby("ratio", sort=False), colors):
        g = g.sort_values("tok_s_per_user")
        ax.fill_between(g.tok_s_per_user, g.per_gpu_lo, g.per_gpu_hi, color=c, alpha=0.18, lw=0)
        ax.plot(g.tok_s_per_user, g.per_gpu, color=c, lw=1.4, label=label)
        for ext, face in ((False, c), (True, "none")):
            s = g[g.extrapolated == ext]
            ax.scatter(s.tok_s_per_user, s.per_gpu, s=16, facecolors=face, edgecolors=c, lw=0.8, zorder=3)
    ax.axhline(1.0, color="0.4", ls=":", lw=0.9)
    ax.set(yscale="log", xlabel="tokens/s per user (at least)", ylabel="output tokens/s per GPU, ratio")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.legend(fontsize=8, title="80 % band; hollow: beyond measured rows", title_fontsize=7.5, loc="best")
    fig.tight_layout()
    return fig
