"""Units: one place for every scale factor, and the validation helpers.

The package computes in SI base units -- bytes, bytes/s, FLOP/s, seconds, watts -- and converts
only when formatting. Decimal and binary prefixes have different names: ``GB = 1e9`` while
``GiB = 2**30``; bandwidths are always decimal (NVIDIA quotes TB/s = 1e12 bytes/s).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterable

# Decimal byte prefixes (memory sizes as NVIDIA quotes them, and all bandwidths).
KB = 1e3
MB = 1e6
GB = 1e9
TB = 1e12
PB = 1e15

# Binary byte prefixes (software allocators; the seed's ``128 * 1024**3``).
KiB = 2**10
MiB = 2**20
GiB = 2**30
TiB = 2**40

# Rates.
GB_PER_S = GB
TB_PER_S = TB
TFLOPS = 1e12  # FLOP/s
PFLOPS = 1e15  # FLOP/s

# Time.
NS = 1e-9
US = 1e-6
MS = 1e-3

# Counts.
BILLION = 1e9

#: Display units understood by :func:`scale` and the claims ledger, with their SI factor.
UNIT_SCALES: dict[str, float] = {
    "1": 1.0,
    "hops": 1.0,
    "x": 1.0,
    "count": 1.0,
    "thousand": 1e3,
    "million": 1e6,
    "bits": 1.0,
    "B/param": 1.0,
    "tok/s": 1.0,
    "B/s": 1.0,
    "FLOP/param": 1.0,
    "sequences": 1.0,
    "billion": BILLION,
    "W": 1.0,
    "B": 1.0,
    "KB": KB,
    "MB": MB,
    "GB": GB,
    "TB": TB,
    "KiB": KiB,
    "MiB": MiB,
    "GiB": GiB,
    "TiB": TiB,
    "GB/s": GB_PER_S,
    "TB/s": TB_PER_S,
    "TFLOP/s": TFLOPS,
    "PFLOP/s": PFLOPS,
    "ns": NS,
    "us": US,
    "ms": MS,
    "s": 1.0,
}


def scale(unit: str) -> float:
    """Return the SI factor of a display unit, e.g. ``scale("TB/s") == 1e12``."""
    return UNIT_SCALES[require_choice("unit", unit, UNIT_SCALES)]


def convert(value_si: float, unit: str) -> float:
    """Convert a value in SI base units into ``unit`` (``convert(8e12, "TB/s") == 8.0``)."""
    return value_si / scale(unit)


@functools.lru_cache(maxsize=None)
def curated_table(name: str):
    """A curated table of ``nvlmodel/data`` (a CSV the curation scripts write), read once and shared:
    callers must not modify it."""
    import pandas as pd
    from importlib import resources

    with resources.files("nvlmodel.data").joinpath(name).open() as f:
        return pd.read_csv(f)


def no_faster_when_larger(t, axes: "tuple[int, ...] | None" = None) -> "np.ndarray":  # noqa: F821
    """A measured latency grid (or curve) made non-decreasing along ``axes`` (default: all): each cell takes
    the fastest time measured at a shape at least as large in every one of those dimensions.

    A kernel of fewer tokens, sequences or bytes can run as a larger measured one, padded (the
    engines do: vLLM and TensorRT-LLM replay CUDA graphs captured at a few batch sizes and pad a
    decode batch up to the next), so its time is at most that one's. The tables break this where a
    timing caught a slow tile choice or a noisy run: vLLM's FP8 GEMMs on B200 take up to 6.9x
    longer at one token count than at the next larger (:func:`nvlmodel.kernels.monotonicity_table`). Works on
    seconds or log seconds alike (the minimum commutes with the logarithm).

    >>> no_faster_when_larger([30.5, 19.2, 15.0, 35.4, 15.9]).tolist()
    [15.0, 15.0, 15.0, 15.9, 15.9]
    """
    import numpy as np

    out = np.asarray(t, float)
    if out.ndim == 0 or out.size == 0:
        raise ValueError(f"no_faster_when_larger needs a curve or grid of times, got shape {out.shape}")
    axes = tuple(range(out.ndim)) if axes is None else tuple(axes)
    bad = [ax for ax in axes if not -out.ndim <= ax < out.ndim]
    if bad:
        raise ValueError(f"axes {bad} out of range for a grid of {out.ndim} dimensions (valid: 0 to {out.ndim - 1})")
    for ax in axes:
        out = np.flip(np.minimum.accumulate(np.flip(out, ax), axis=ax), ax)
    return out


def require_choice(what: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise raise ``ValueError`` listing them."""
    options = list(choices)
    if value not in options:
        raise ValueError(f"unknown {what} {value!r}; valid choices: {', '.join(map(str, options))}")
    return value


def require_positive(what: str, value: float, *, allow_zero: bool = False) -> float:
    """Return ``value`` if it is a finite number > 0 (>= 0 with ``allow_zero``); else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{what} must be a finite number {bound}, got {value!r}")
    return value


def require_positive_int(what: str, value: int) -> int:
    """Return ``value`` if it is a Python int >= 1 (not a bool); otherwise raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return value


def require_index(what: str, value: int, size: int) -> int:
    """Return ``value`` if it is an int in ``range(size)``; otherwise raise naming the range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if not 0 <= value < size:
        raise ValueError(f"{what} must be in 0..{size - 1}, got {value}")
    return int(value)


def fmt_value(v: float | None) -> str:
    """Format a number for tables: integers with thousands separators, else 4 significant digits.

    Not applicable (None, NaN) is a dash; no scientific notation below 1e15.

    >>> fmt_value(18000.0), fmt_value(2.2739), fmt_value(None), fmt_value(4.567e7)
    ('18,000', '2.274', '—', '45,670,000')
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if abs(v) >= 1e15:
        return f"{v:.4g}"
    if abs(v) >= 1e7:
        return f"{v:,.0f}"
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"


def with_interval(value: float, lo: float, hi: float, unit: str = "") -> str:
    """``value (lo-hi)``, each to the precision the interval supports: rounded to the power of ten
    nearest a quarter of the interval's width (two or three significant figures, not five). A
    ``unit`` follows the value (the book's one form for ratios: ``3.0x (2.6-3.5)``).

    >>> with_interval(7822.4, 5931.0, 9310.2)
    '7,800 (5,900-9,300)'
    >>> with_interval(1.194, 0.93, 1.52, "x")
    '1.2x (0.9-1.5)'
    """
    for what, v in (("value", value), ("lo", lo), ("hi", hi)):
        if not math.isfinite(v):
            raise ValueError(f"{what} must be finite, got {v!r}")
    step = 10.0 ** math.floor(math.log10(max((hi - lo) / 4, abs(value) * 1e-3, 1e-12)))

    def r(x: float) -> str:
        x = round(x / step) * step
        if step >= 1:
            return f"{x:,.0f}"
        return f"{x:,.{-int(math.floor(math.log10(step)))}f}"

    return f"{r(value)}{unit} ({r(lo)}-{r(hi)})"


#: Unit suffixes of column names and how a reader reads them (longest first).
_SUFFIXES = (("_per_gpu_gb", " per GPU (GB)"), ("_gb_per_gpu", " (GB per GPU)"), ("_tok_s", " (tokens/s)"),
             ("_pct_err", " error (%)"), ("_GBps", " (GB/s)"), ("_MiB", " (MiB)"), ("_bytes", " (bytes)"),
             ("_128k", " of 128K tokens"), ("_pct", " (%)"), ("_ms", " (ms)"), ("_us", " (us)"), ("_GB", " (GB)"),
             ("_gb", " (GB)"), ("_tb", " (TB)"), ("_s", " (s)"))
#: Words written in capitals or as their products spell them.
_WORDS = {"kv": "KV", "tpot": "TPOT", "ttft": "TTFT", "bw": "bandwidth", "busbw": "bus bandwidth", "abs": "absolute",
          "sxm": "SXM", "h100": "H100", "h200": "H200", "b200": "B200", "gb200": "GB200", "vllm": "vLLM",
          "trtllm": "TensorRT-LLM", "sglang": "SGLang", "nccl": "NCCL", "gpu": "GPU", "gpus": "GPUs", "tp": "TP",
          "mape": "MAPE", "mdape": "MdAPE", "req": "request", "sim": "simulated"}


#: Serving engines by the ``backend`` of an engine id (``backend@campaign``).
_BACKENDS = {"trtllm": "TensorRT-LLM", "vllm": "vLLM", "sglang": "SGLang"}
#: One-word system ids that :func:`words` writes as names wherever they stand (a bare ``tp`` or
#: ``sim`` stays as it is: only snake_case names are spelled out word by word).
_SYSTEM_IDS = frozenset({"gb200", "b200", "h100", "h200"})


def words(name):
    """A snake_case column name in words, its unit suffix in parentheses:
    ``kv_budget_per_gpu_gb`` -> ``KV budget per GPU (GB)``; anything else unchanged.

    A system id of one word is a name too (``gb200`` -> ``GB200``, as ``b200_sxm`` -> ``B200 SXM``).

    >>> words("kv_budget_per_gpu_gb"), words("ttft_sim_MdAPE_pct"), words("b200_sxm"), words("sessions (datasheet)")
    ('KV budget per GPU (GB)', 'TTFT simulated MdAPE (%)', 'B200 SXM', 'sessions (datasheet)')
    >>> words("gb200"), words("rows"), words("tp")
    ('GB200', 'rows', 'tp')

    An engine id (``backend@campaign``) is its engine's name and campaign:

    >>> words("trtllm@2026-04-06"), words("vllm@serving")
    ('TensorRT-LLM (2026-04-06)', 'vLLM (serving table)')
    """
    if isinstance(name, str) and name in _SYSTEM_IDS:
        return _WORDS[name]
    if isinstance(name, str) and "@" in name and name.split("@")[0] in _BACKENDS:
        backend, _, campaign = name.partition("@")
        return f"{_BACKENDS[backend]} ({'serving table' if campaign == 'serving' else campaign})"
    if not isinstance(name, str) or "_" not in name or " " in name:
        return name
    unit = ""
    for suffix, text in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name, unit = name[: -len(suffix)], text
            break
    return " ".join(_WORDS.get(w.lower(), w) for w in name.split("_")) + unit


#: The longest text cell a table shows whole (pandas cuts cells at 50 characters by default).
TEXT_CELL_CHARS = 300


def display_tables() -> None:
    """Set pandas' display options for the book's tables (every chapter calls it once, first):
    numbers as :func:`fmt_value` writes them, text cells whole up to :data:`TEXT_CELL_CHARS`
    characters instead of pandas' 50 with "..." (the findings table's scope, a ledger's reason)."""
    import pandas as pd

    pd.options.display.float_format = fmt_value
    pd.options.display.max_colwidth = TEXT_CELL_CHARS


def readable(frame):
    """``frame`` for a reader: column and index names in words with units (:func:`words`), numbers
    as :func:`fmt_value` writes them, "—" where a value does not apply (instead of NaN)."""
    import pandas as pd

    out = frame.rename(columns=words, index=words)
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = pd.MultiIndex.from_tuples([tuple(words(x) for x in t) for t in out.columns],
                                                names=[words(n) for n in out.columns.names])
    out.index = out.index.set_names([words(n) for n in out.index.names])
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]) or pd.api.types.is_integer_dtype(out[col]):  # bool is neither
            out[col] = out[col].map(fmt_value)  # counts too: 2,572,672 tokens, not 2572672
        elif out[col].isna().any():  # None in a column of text: not applicable
            out[col] = out[col].astype(object).where(out[col].notna(), "—")
    return out
