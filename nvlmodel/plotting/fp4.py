"""Figures of the FP4 chapter (E2M1 rounding, quantization error, the decode roofline)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import PRESET_COLORS, _axes, _styled


@_styled
def plot_e2m1_rounding(ax=None) -> plt.Figure:
    """E2M1 encode-decode as a staircase over [-7, 7]: nearest value, ties to even, saturation."""
    from .. import fp4

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
