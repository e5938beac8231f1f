"""Every figure of the book, drawn by a function here (notebooks only call them), one module per
chapter beside :mod:`~nvlmodel.plotting.style` (the style context, the axes helper, stable files
and the figure manifest). Plot functions only draw: each takes the data it shows and an ``ax=``
(or ``axes=``) to draw on, and returns the figure. Everything is importable from
``nvlmodel.plotting`` directly.
"""

from .endtoend import plot_advantage, plot_advantage_grid, plot_waterfall
from .fp4 import plot_e2m1_rounding, plot_quantization_error, plot_roofline
from .findings import plot_findings, plot_ratio_curve
from .gang import plot_allreduce, plot_fragmentation
from .hardware import plot_bandwidth_matrices, plot_fabric_views, plot_rack, plot_spec_ratios
from .kvbm import plot_kv_capacity, plot_routing, plot_tiers
from .load import plot_goodput, plot_latency_cdfs
from .modelexpress import plot_sharing, plot_swap_times, plot_transfer_timelines
from .serving import plot_frontiers, plot_tokens_per_joule
from .style import (MANIFEST, PRESET_COLORS, STYLE, figure_label, figure_path, read_manifest, run_dir, run_dir_here,
                    savefig, show, style)
from .validation import plot_error_by, plot_headline, plot_kernel_efficiency, plot_predicted_vs_measured

__all__ = ["MANIFEST", "PRESET_COLORS", "STYLE", "figure_label", "figure_path", "plot_advantage",
           "plot_advantage_grid", "plot_allreduce", "plot_bandwidth_matrices", "plot_e2m1_rounding",
           "plot_error_by", "plot_fabric_views", "plot_fragmentation", "plot_findings", "plot_ratio_curve", "plot_frontiers", "plot_goodput", "plot_tokens_per_joule",
           "plot_latency_cdfs", "plot_headline", "plot_kernel_efficiency", "plot_kv_capacity",
           "plot_predicted_vs_measured", "plot_quantization_error", "plot_rack", "plot_roofline", "plot_routing",
           "plot_sharing", "plot_spec_ratios", "plot_swap_times", "plot_tiers", "plot_transfer_timelines",
           "plot_waterfall", "read_manifest", "run_dir", "run_dir_here", "savefig", "show", "style"]
