"""Figures of the validation chapter (predicted vs measured, error by TP, the headline)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..units import _BACKENDS, require_choice, words
from .style import PRESET_COLORS, _axes, _require_columns, _styled


_SYSTEM_COLORS = {"h100_sxm": "#55a868", "h200_sxm": "#8172b2", "b200_sxm": "#c44e52", "gb200": "#dd8452"}
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
        ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), title=f"{words(system)} ({split})",
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
                    ls=styles.get(backend, "-"), ms=4, lw=1, label=f"{words(system)} {precision.upper()} {_BACKENDS.get(backend, backend)}")
        ax.axhline(0, color="0.4", lw=0.8)
        ax.set(xscale="log", xlabel=by, ylabel=f"median {metric.upper()} error (%)", title=metric.upper())
        ticks = sorted(d[by].unique())
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_locator(plt.NullLocator())
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    return fig


@_styled
def plot_headline(table, measured: dict | None = None, measured_label: str = "measured", ax=None, *,
                  calibrated_label: str = "calibrated model (Hopper-fitted TensorRT-LLM)", other=None,
                  other_label: str = "other step model") -> plt.Figure:
    """The document's per-GPU B200-FP4-over-H100-FP8 ratios against the calibrated ones, and
    ``measured`` ratios (point -> ratio) as diamonds where the measurements cover a point.
    ``other``: the same points' calibrated ratios by another step model (one per row of ``table``),
    drawn as open circles on the calibrated bars."""
    fig, ax = _axes(ax, figsize=(6, 2.6))
    y = np.arange(len(table))
    ax.barh(y + 0.2, table.printed_ratio, height=0.4, color=PRESET_COLORS["seed"], label="document (printed)")
    ax.barh(y - 0.2, table.calibrated_ratio, height=0.4, color=PRESET_COLORS["datasheet"], label=calibrated_label)
    for yy, v in zip(y - 0.2, table.calibrated_ratio):
        ax.text(v + 0.05, yy, f"{v:.1f}x", va="center", fontsize=8)
    for yy, v in zip(y + 0.2, table.printed_ratio):
        ax.text(v + 0.05, yy, f"{v:.2g}x", va="center", fontsize=8)
    xmax = max(table.printed_ratio.max(), table.calibrated_ratio.max())
    if other is not None:
        other = np.asarray(other, float)
        if other.shape != (len(table),) or not np.isfinite(other).all() or (other <= 0).any():
            raise ValueError(f"other must hold one positive ratio per point ({len(table)}), got {other.tolist()}")
        ax.plot(other, y - 0.2, marker="o", mfc="white", mec="black", ms=6, ls="none", label=other_label)
        xmax = max(xmax, other.max())
    for point, v in (measured or {}).items():
        if point not in set(table.point):
            raise ValueError(f"unknown point {point!r}; points: {', '.join(table.point)}")
        yy = float(y[list(table.point).index(point)] - 0.2)
        ax.plot([v], [yy], marker="D", color="black", ms=6, ls="none", label=measured_label)
    ax.set_yticks(y, table.point)
    ax.invert_yaxis()
    ax.set_xlabel("B200 FP4 over H100 FP8, tokens/s per GPU")
    ax.set_xlim(0, 1.15 * xmax)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    fig.tight_layout()
    return fig


_DTYPE_STYLES = {"bfloat16": "-", "fp8": "--", "fp8_block": "-.", "nvfp4": ":"}


@_styled
def plot_kernel_efficiency(table, axes=None) -> plt.Figure:
    """Measured GEMM kernels against their datasheet bounds, by GPU (colour) and dtype (line
    style), over tokens per GEMM (log): left, achieved FLOP/s as a fraction of the dense peak of the
    dtype; right, weight bytes read per second as a fraction of HBM bandwidth (what bounds a decode
    step's small GEMMs). ``table``: :func:`nvlmodel.kernels.achieved_table`."""
    _require_columns(table, ("system", "dtype", "tokens", "fraction_of_peak", "weight_bandwidth_fraction"))
    fig, axes = _axes(axes, 2, figsize=(8.2, 3.4))
    for (system, dtype), g in table.groupby(["system", "dtype"], sort=False):
        g = g.sort_values("tokens")
        style = dict(color=_SYSTEM_COLORS.get(system, "0.3"), ls=_DTYPE_STYLES.get(dtype, "-"), lw=1.2)
        axes[0].plot(g.tokens, g.fraction_of_peak, label=f"{words(system)}, {dtype}", **style)
        small = g[g.tokens <= 512]
        axes[1].plot(small.tokens, small.weight_bandwidth_fraction, **style)
    axes[0].set(xscale="log", ylim=(0, 1), xlabel="tokens per GEMM (m)", ylabel="fraction of dense peak FLOP/s")
    axes[1].set(xscale="log", ylim=(0, 1), xlabel="tokens per GEMM (m)",
                ylabel="weight bytes/s / HBM bandwidth")
    for ax in axes:
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axes[0].legend(fontsize=6.5, ncol=2, loc="upper left")
    fig.tight_layout()
    return fig
