"""Power and cost per output token: tokens per joule and GPU-hours (and, at a price the reader
states, money) per million output tokens, from a per-GPU serving rate.

Two power bases, because neither alone is the truth:

``system``
    the whole system's maximum input power shared over its GPUs (CPUs, memory, NICs, NVLink
    switches and fans included; :data:`nvlmodel.hardware.SYSTEM_POWER`): tokens per joule *at
    the wall*, a lower bound on efficiency, since a serving system rarely draws its maximum;
``gpu``
    the GPU's board power (TDP) alone: an upper bound, everything else left out.

Cost has no default price: a price per GPU-hour depends on who buys, where and when, so
:func:`cost_per_million` requires one and everything else reports GPU-hours, which a reader
multiplies by their own price.

>>> round(tokens_per_joule(1000.0, "nvl72"), 3)   # 1,000 tok/s per GPU over 120 kW / 72 GPUs
0.6
>>> round(gpu_hours_per_million(1000.0), 4)      # 1e6 tokens / (1,000 tok/s x 3,600 s/h)
0.2778
"""

from __future__ import annotations

import numpy as np

from .hardware import SYSTEM_POWER, get_gpu
from .units import require_choice, require_positive

BASES: tuple[str, ...] = ("system", "gpu")
#: Names the package's other modules use for the same systems (calibration and search keys).
SYSTEM_ALIASES: dict[str, str] = {"h100_sxm": "hgx-h100", "h200_sxm": "hgx-h200", "b200_sxm": "hgx-b200",
                                  "gb200": "nvl72"}
_GPU_OF = {"hgx-h100": "h100", "hgx-h200": "h200", "hgx-b200": "b200", "nvl72": "gb200-b200"}
#: Column headers in words, with units, for the columns :func:`add_columns` writes.
LABELS: dict[str, str] = {
    "tok_s_per_gpu": "output tokens/s per GPU",
    "tok_per_joule": "output tokens per joule (system power)",
    "tok_per_joule_gpu_only": "output tokens per joule (GPU TDP only)",
    "gpu_h_per_mtok": "GPU-hours per million output tokens",
    "cost_per_mtok": "cost per million output tokens (at your price)",
}
SECONDS_PER_HOUR = 3600.0
MILLION = 1e6


def system_key(system: str) -> str:
    """The power registry's key for ``system`` (``nvl72``, ``hgx-h100``, ``hgx-h200``, ``hgx-b200``,
    or a calibration/search key such as ``gb200`` or ``h100_sxm``)."""
    key = SYSTEM_ALIASES.get(system, system)
    require_choice("system", key if key in SYSTEM_POWER else system, tuple(SYSTEM_POWER) + tuple(SYSTEM_ALIASES))
    return key


def watts_per_gpu(system: str, basis: str = "system") -> float:
    """Power per GPU, W: the system's maximum input over its GPUs (``basis="system"``) or the GPU's
    TDP (``basis="gpu"``, datasheet preset)."""
    key = system_key(system)
    require_choice("basis", basis, BASES)
    if basis == "gpu":
        return float(get_gpu(_GPU_OF[key], "datasheet").tdp_watts)
    watts, gpus, _ = SYSTEM_POWER[key]
    return watts / gpus


def _rate(tok_s_per_gpu):
    rate = np.asarray(tok_s_per_gpu, dtype=float)
    if not np.all(np.isfinite(rate)) or np.any(rate <= 0):
        raise ValueError(f"tok_s_per_gpu must be positive and finite tokens/s per GPU, got {tok_s_per_gpu!r}")
    return rate if rate.ndim else float(rate)


def tokens_per_joule(tok_s_per_gpu, system: str, basis: str = "system"):
    """Output tokens per joule: tokens/s per GPU over W per GPU (:func:`watts_per_gpu`)."""
    return _rate(tok_s_per_gpu) / watts_per_gpu(system, basis)


def gpu_hours_per_million(tok_s_per_gpu):
    """GPU-hours to serve a million output tokens at ``tok_s_per_gpu`` (multiply by a price per
    GPU-hour for the cost)."""
    return MILLION / (_rate(tok_s_per_gpu) * SECONDS_PER_HOUR)


def cost_per_million(tok_s_per_gpu, price_per_gpu_hour: float):
    """Cost of a million output tokens at ``price_per_gpu_hour`` (the reader's price, any currency;
    no default: it is not a fact this package can state)."""
    require_positive("price_per_gpu_hour", price_per_gpu_hour)
    return gpu_hours_per_million(tok_s_per_gpu) * price_per_gpu_hour


def add_columns(frame: "pd.DataFrame", *, system_col: str = "system_key", rate_col: str = "tok_s_per_gpu",  # noqa: F821
                price_per_gpu_hour: float | None = None) -> "pd.DataFrame":  # noqa: F821
    """``frame`` with ``tok_per_joule`` (system power), ``tok_per_joule_gpu_only`` (GPU TDP) and
    ``gpu_h_per_mtok`` columns, and ``cost_per_mtok`` when a price is given. Rows whose rate is
    not positive get NaN."""
    import pandas as pd

    for col in (system_col, rate_col):
        if col not in frame.columns:
            raise KeyError(f"column {col!r} not in the frame; it has {', '.join(map(str, frame.columns))}")
    out = frame.copy()
    rate = out[rate_col].astype(float)
    ok = np.isfinite(rate) & (rate > 0)
    safe = rate.where(ok, 1.0)
    for col, basis in (("tok_per_joule", "system"), ("tok_per_joule_gpu_only", "gpu")):
        watts = out[system_col].map({s: watts_per_gpu(s, basis) for s in out[system_col].unique()})
        out[col] = (safe / watts).where(ok)
    out["gpu_h_per_mtok"] = pd.Series(gpu_hours_per_million(safe.to_numpy()), index=out.index).where(ok)
    if price_per_gpu_hour is not None:
        require_positive("price_per_gpu_hour", price_per_gpu_hour)
        out["cost_per_mtok"] = out["gpu_h_per_mtok"] * price_per_gpu_hour
    return out


def readable(frame: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    """``frame`` with the energy columns renamed to :data:`LABELS` (words and units) for display."""
    return frame.rename(columns=LABELS)


def power_table() -> "pd.DataFrame":  # noqa: F821
    """The power facts used: per system, its power, GPUs, W per GPU on both bases, and the source."""
    import pandas as pd

    rows = []
    for key, (watts, gpus, source) in SYSTEM_POWER.items():
        rows.append({"system": key, "system power (kW)": watts / 1e3, "GPUs": gpus,
                     "W per GPU (system)": watts / gpus, "W per GPU (GPU TDP)": watts_per_gpu(key, "gpu"),
                     "source": str(source)})
    return pd.DataFrame(rows)
