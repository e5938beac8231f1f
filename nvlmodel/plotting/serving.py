"""Figures of chapter 8 (MoE and disaggregated serving): the Pareto frontiers of the deployment search."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .style import _axes, _styled

_COLORS = {"H100 HGX": "#55a868", "B200 HGX": "#c44e52", "GB200 NVL72": "#dd8452"}


@_styled
def plot_frontiers(frontiers: dict, min_tok_s_per_user: float | None = None, axes=None) -> plt.Figure:
    """Output tokens/s per GPU against tokens/s per user, one panel per entry of ``frontiers``
    (title -> :func:`nvlmodel.search.best` frame), one line per system, disaggregated points
    filled and aggregated hollow; a dotted line at ``min_tok_s_per_user``."""
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
        if min_tok_s_per_user:
            ax.axvline(min_tok_s_per_user, color="0.5", ls=":", lw=0.8)
        ax.set(yscale="log", xlabel="tokens/s per user (1 / TPOT)", title=title)
        ax.legend(fontsize=7, title="filled: disaggregated", title_fontsize=7)
    axes[0].set_ylabel("output tokens/s per GPU")
    fig.tight_layout()
    return fig
