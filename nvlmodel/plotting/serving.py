"""Figures of chapter 8 (MoE and disaggregated serving): the Pareto frontiers of the deployment search."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from .style import _axes, _require_columns, _styled

_COLORS = {"H100 HGX": "#55a868", "H200 HGX": "#8172b2", "B200 HGX": "#c44e52", "GB200 NVL72": "#dd8452"}


@_styled
def plot_frontiers(frontiers: dict, min_tok_s_per_user: float | None = None, axes=None) -> plt.Figure:
    """Output tokens/s per GPU against tokens/s per user, one panel per entry of ``frontiers``
    (title -> :func:`nvlmodel.search.best` frame), one line per system, disaggregated points
    filled and aggregated hollow, extrapolated points (an ``extrapolated`` column) crossed; a
    dotted line at ``min_tok_s_per_user``."""
    fig, axes = _axes(axes, len(frontiers), figsize=(4.6 * len(frontiers), 3.4))
    axes = np.atleast_1d(axes)
    for ax, (title, f) in zip(axes, frontiers.items()):
        for system, g in f.groupby("system", sort=False):
            g = g.sort_values("tok_s_per_user")
            c = _COLORS.get(system, "0.3")
            ax.plot(g.tok_s_per_user, g.tok_s_per_gpu, color=c, lw=1.2, label=system)
            for mode, face in (("disagg", c), ("agg", "none")):
                s = g[g["mode"] == mode]
                ax.scatter(s.tok_s_per_user, s.tok_s_per_gpu, s=14, facecolors=face, edgecolors=c, lw=0.8)
            if "extrapolated" in g:
                x = g[g.extrapolated.astype(bool)]
                ax.scatter(x.tok_s_per_user, x.tok_s_per_gpu, s=18, marker="x", color="k", lw=0.8, zorder=3)
        if min_tok_s_per_user:
            ax.axvline(min_tok_s_per_user, color="0.5", ls=":", lw=0.8)
        ax.set(yscale="log", xlabel="tokens/s per user (1 / TPOT)", title=title)
        crossed = "extrapolated" in f and bool(f.extrapolated.astype(bool).any())
        ax.legend(fontsize=7, title="filled: disaggregated" + ("\nx: extrapolated" if crossed else ""),
                  title_fontsize=7)
    axes[0].set_ylabel("output tokens/s per GPU")
    fig.tight_layout()
    return fig


@_styled
def plot_tokens_per_joule(best: "pd.DataFrame", ax=None) -> plt.Figure:  # noqa: F821
    """Output tokens per joule of each system's best deployment, grouped by model: bars at system
    power (value labelled), a black tick at GPU power only. ``best`` has columns model, system,
    tok_per_joule, tok_per_joule_gpu_only (:func:`nvlmodel.search.best_per_gpu` frames, concatenated)."""
    _require_columns(best, ("model", "system", "tok_per_joule", "tok_per_joule_gpu_only"))
    fig, ax = _axes(ax, figsize=(6.8, 3.2))
    models = list(dict.fromkeys(best.model))
    systems = [s for s in _COLORS if s in set(best.system)] + sorted(set(best.system) - set(_COLORS))
    width = 0.8 / len(systems)
    for j, system in enumerate(systems):
        for i, model in enumerate(models):
            row = best[(best.model == model) & (best.system == system)]
            if row.empty:
                continue
            x = i + (j - (len(systems) - 1) / 2) * width
            v, g = float(row.tok_per_joule.iloc[0]), float(row.tok_per_joule_gpu_only.iloc[0])
            ax.bar(x, v, width * 0.9, color=_COLORS.get(system, "0.5"), label=system if i == 0 else None)
            ax.plot([x - width * 0.4, x + width * 0.4], [g, g], color="black", lw=1.2,
                    label="GPU TDP only" if i == 0 and j == 0 else None)
            ax.annotate(f"{v:.2g}", (x, v), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                        fontsize=8)
    top = float(np.nanmax(best[["tok_per_joule", "tok_per_joule_gpu_only"]].to_numpy()))
    ax.set(xticks=range(len(models)), xticklabels=models, yscale="log", ylim=(None, top * 1.5),
           ylabel="output tokens per joule")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.legend(fontsize=8, ncols=len(systems) + 1, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig
