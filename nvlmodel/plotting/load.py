"""Figures of chapter 9 (Dynamo under load): latency distributions and goodput against offered load."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib import ticker
import numpy as np

from .style import _axes, _styled

_COLORS = ("#55a868", "#dd8452", "#4c72b0", "#c44e52", "#8172b2")


@_styled
def plot_latency_cdfs(runs: dict, ttft_limit_s: float | None = None, tpot_limit_s: float | None = None,
                      axes=None) -> plt.Figure:
    """Empirical CDFs of TTFT (left) and TPOT (right), one line per entry of ``runs`` (label ->
    per-request frame of :class:`nvlmodel.serve.SimResult`), with dotted SLA limits."""
    fig, axes = _axes(axes, 2, figsize=(9.2, 3.3))
    for (label, r), c in zip(runs.items(), _COLORS):
        for ax, col in zip(axes, ("ttft_s", "tpot_s")):
            x = np.sort(r[col].dropna().to_numpy())
            ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", color=c, lw=1.2, label=label)
    for ax, lim, name in zip(axes, (ttft_limit_s, tpot_limit_s), ("TTFT (s)", "TPOT (s)")):
        if lim:
            ax.axvline(lim, color="0.5", ls=":", lw=0.8)
        ax.set(xscale="log", xlabel=name, ylim=(0, 1.01))
        # labelled ticks at 1, 2 and 5 per decade, as plain numbers: a TPOT range inside one decade
        # otherwise gets crowded "3 x 10^-2" minor labels that overlap
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    axes[0].set_ylabel("fraction of requests")
    # below both panels: inside one, the legend sat on the slowest deployment's curves
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig


@_styled
def plot_goodput(table, ax=None) -> plt.Figure:
    """Output tokens/s per GPU (dashed) and goodput, the tokens of requests that met the SLA
    (solid), against offered load in requests/s per GPU, one colour per ``system`` label of
    ``table`` (rows of :func:`nvlmodel.serve.sweep.sweep`)."""
    fig, ax = _axes(ax, 1, figsize=(5.2, 3.4))
    for (label, g), c in zip(table.groupby("label", sort=False), _COLORS):
        g = g.sort_values("load")
        ax.plot(g.load, g.output_tokens_per_s_per_gpu, color=c, lw=1.0, ls="--")
        ax.plot(g.load, g.goodput_tokens_per_s_per_gpu, color=c, lw=1.6, marker="o", ms=3, label=label)
    ax.set(xlabel="offered load (requests/s per GPU)", ylabel="output tokens/s per GPU")
    ax.legend(fontsize=7, title="solid: within SLA; dashed: all", title_fontsize=7)
    fig.tight_layout()
    return fig
