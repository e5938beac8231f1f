"""Measurements and splits: the curated rows (or a reader's CSV), each with its engine, split
(calibration: H100/H200; held-out: the rest) and whether its KV cache fits."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from ..units import require_choice
from .model import CALIBRATION_SYSTEMS, Config, kv_fits, tpot_bound


#: Columns a measurement table must have (``nvlmodel/data/measurements.csv`` has more).
REQUIRED_COLUMNS: tuple[str, ...] = ("system", "backend", "campaign", "model", "precision", "isl", "osl",
                                     "concurrency", "tp", "ttft_ms", "tpot_ms")


#: Latencies a measured row may state, ms: above zero and below a day (1e300 or -300 are typos).
LATENCY_RANGE_MS: tuple[float, float] = (0.0, 24 * 60 * 60 * 1e3)
_INT_COLUMNS = ("isl", "osl", "concurrency", "tp")


def _check_values(d: "pd.DataFrame", source: str) -> None:  # noqa: F821
    """Every row's latencies are finite numbers in :data:`LATENCY_RANGE_MS` and its counts positive
    integers (the parallel columns too, where given); else ``ValueError`` naming the line (of a CSV
    with a header) and the column."""
    import numpy as np
    import pandas as pd

    lo, hi = LATENCY_RANGE_MS
    for col in ("ttft_ms", "tpot_ms"):
        v = pd.to_numeric(d[col], errors="coerce").to_numpy(float)
        bad = ~(np.isfinite(v) & (v > lo) & (v < hi))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{source} line {i + 2}: {col} must be a number of ms in ({lo:g}, {hi:.0f}), "
                             f"got {d[col].iloc[i]}")
    for col in _INT_COLUMNS + tuple(c for c in PARALLEL_COLUMNS if c in d.columns):
        raw = d[col]
        v = pd.to_numeric(raw, errors="coerce").to_numpy(float)
        # the count columns must be given; a parallel column may be left blank
        given = (np.ones(len(d), bool) if col in _INT_COLUMNS
                 else raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy())
        bad = given & ~(np.isfinite(v) & (v >= 1) & (np.mod(v, 1) == 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{source} line {i + 2}: {col} must be a positive integer, got {raw.iloc[i]}")


#: Why a row whose TPOT beats :func:`nvlmodel.calibrate.tpot_bound` of its recorded batch is left out.
BELOW_BOUND = ("TPOT below the hardware bound of the recorded batch (weights and KV read once at full HBM "
               "bandwidth): not decoded at that batch (an unrecorded batch cap or speculative decoding)")


def _prepare(d: "pd.DataFrame", strict: bool = True) -> "pd.DataFrame":  # noqa: F821
    """Add ``engine``, ``split``, ``kv_fits`` and ``left_out`` (why a row cannot be modelled: the
    table's own reason, the configuration's error, or a TPOT faster than the hardware allows for its
    recorded batch, :data:`BELOW_BOUND`; rows whose KV does not fit are modelled and
    flagged by ``kv_fits``, and left out of fits and error tables). ``strict``: a row that cannot be modelled
    raises instead (the dense table, where every row must be valid)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in d.columns]
    if missing:
        raise ValueError(f"measurements lack columns {missing}; required: {', '.join(REQUIRED_COLUMNS)}")
    d = d.copy()
    d["engine"] = d.backend + "@" + d.campaign.astype(str)
    if "mode" not in d.columns:
        d["mode"] = "agg"
    d["split"] = np.where(d.system.isin(CALIBRATION_SYSTEMS), "calibration", "held-out")
    reasons = list(d["left_out"].fillna("").astype(str)) if "left_out" in d.columns else [""] * len(d)
    fits = []
    for i, r in enumerate(d.itertuples()):
        if reasons[i]:
            fits.append(False)
            continue
        try:
            cfg = _config(r)  # validates the row
        except ValueError as exc:
            if strict:
                raise
            reasons[i] = str(exc)
            fits.append(False)
            continue
        if r.tpot_ms / 1e3 < tpot_bound(cfg):
            reasons[i] = BELOW_BOUND
            fits.append(False)
        else:
            fits.append(kv_fits(cfg))
    d["kv_fits"] = fits
    d["left_out"] = reasons
    return d


#: The curated tables: ``dense`` (chapter 7: Llama-3.1 8B/70B, aggregated, H100/H200/B200) and
#: ``serving`` (chapter 8: Qwen3-32B, DeepSeek-V3/R1, Qwen3-235B-A22B, gpt-oss-120b, aggregated
#: and disaggregated, H100/H200/B200/GB200).
TABLES: dict[str, str] = {"dense": "measurements.csv", "serving": "serving.csv"}


@lru_cache(maxsize=None)
def _measurements(table: str = "dense"):
    import pandas as pd

    with resources.files("nvlmodel.data").joinpath(TABLES[require_choice("table", table, TABLES)]).open() as f:
        d = pd.read_csv(f, dtype={"backend_version": str, "precision_note": str, "gemm_quant_mode": str,
                                  "campaign": str, "left_out": str})
    if table == "dense":  # the serving table's unusable rows carry their reasons (left_out) instead
        _check_values(d, TABLES[table])
    return _prepare(d, strict=table == "dense")


def load_measurements(path: "str | None" = None, *, table: str = "dense") -> "pd.DataFrame":  # noqa: F821
    """A curated table of measured rows (:data:`TABLES`; or your own CSV at ``path`` with
    :data:`REQUIRED_COLUMNS`, and optionally :data:`PARALLEL_COLUMNS`, ``mode`` and ``left_out``),
    with their ``engine`` (backend@campaign), ``split`` (calibration: H100/H200; held-out: the
    rest), whether their KV cache fits (``kv_fits``) and why a row is left out (``left_out``,
    empty for rows the model uses)."""
    if path is None:
        return _measurements(table).copy()
    import pandas as pd

    d = pd.read_csv(path, dtype={"campaign": str, "left_out": str}, index_col=False)
    missing = [c for c in REQUIRED_COLUMNS if c not in d.columns]
    if missing:
        raise ValueError(f"measurements lack columns {missing}; required: {', '.join(REQUIRED_COLUMNS)}")
    _check_values(d, str(path))
    return _prepare(d, strict=False)


#: Optional columns of a measurement table (disaggregated and expert-parallel deployments); absent
#: or empty: aggregated, one worker, no attention DP or EP.
PARALLEL_COLUMNS: tuple[str, ...] = ("attention_dp", "ep", "workers", "prefill_tp", "prefill_attention_dp",
                                     "prefill_ep", "prefill_workers")


def _given(row, column: str) -> bool:
    """Whether a measured row records ``column`` (not missing, NaN or empty)."""
    v = getattr(row, column, None)
    return v is not None and v == v and v != ""


def batch_wait_of(row) -> dict:
    """The batch wait a measured row's benchmark script configured, as :class:`Config` (and
    :class:`nvlmodel.serve.Deployment`) keywords: ``batch_wait_iters`` and ``batch_wait_tokens``
    (0 where the row names no threshold); empty for a row that names no batch wait."""
    if not _given(row, "batch_wait_iters"):
        return {}
    tokens = _number(row.batch_wait_tokens) if _given(row, "batch_wait_tokens") else 0.0
    if tokens != tokens:
        raise ValueError(f"batch_wait_tokens must be a number of tokens >= 0, got {row.batch_wait_tokens!r}")
    return {"batch_wait_iters": _step_count("batch_wait_iters", row.batch_wait_iters), "batch_wait_tokens": tokens}


def recv_interval_of(row) -> dict:
    """How often the engine of a measured row polls for new requests, as its benchmark script set
    it, as :class:`Config` (and :class:`nvlmodel.serve.Deployment`) keywords: ``recv_interval``;
    empty for a row that names none."""
    if not _given(row, "recv_interval"):
        return {}
    return {"recv_interval": _step_count("recv_interval", row.recv_interval)}


def spec_tokens_of(row) -> dict:
    """The tokens a measured row's engine drafted per decode step (MTP speculative decoding, as its
    benchmark configuration set it), as :class:`Config` keywords: ``spec_tokens``; empty for a row
    that names none (0: decoded one token per step)."""
    if not _given(row, "spec_tokens"):
        return {}
    return {"spec_tokens": _step_count("spec_tokens", row.spec_tokens, "drafted tokens")}


def engine_settings(row) -> dict:
    """What a measured row's benchmark configured of its engine beyond its parallelism and limits,
    as keywords :class:`Config` and :class:`nvlmodel.serve.Deployment` both take: its KV dtype
    (``kv_dtype``), batch wait (:func:`batch_wait_of`), receive interval (:func:`recv_interval_of`),
    MoE kernel (``moe_kernel``), draft tokens (:func:`spec_tokens_of`) and redundant experts
    (:func:`redundant_experts_of`). A setting the row does
    not name is absent (the engine's default). The static model (:func:`_config`) and the replay
    (:func:`nvlmodel.serve.validate.replay_row`) read a row's settings here alone, so that the two
    cannot disagree on what a row ran."""
    kv = getattr(row, "kv_dtype", None)
    out = {"kv_dtype": kv} if isinstance(kv, str) and kv else {}
    out.update(batch_wait_of(row))
    out.update(recv_interval_of(row))
    if _given(row, "moe_kernel"):
        out["moe_kernel"] = str(row.moe_kernel)
    out.update(spec_tokens_of(row))
    out.update(redundant_experts_of(row))
    return out


#: A row's columns of redundant experts (decode or aggregated workers, prefill workers).
REDUNDANT_COLUMNS: tuple[str, ...] = ("redundant_experts", "prefill_redundant_experts")


def redundant_experts_of(row) -> dict:
    """The redundant experts a row's workers held (:data:`REDUNDANT_COLUMNS`, as
    :class:`Config` takes them): the columns it gives above 0, each a whole number of experts.

    >>> from types import SimpleNamespace as R
    >>> redundant_experts_of(R(redundant_experts=32.0, prefill_redundant_experts=float("nan")))
    {'redundant_experts': 32}
    """
    out = {}
    for c in REDUNDANT_COLUMNS:
        if _given(row, c):
            n = _step_count(c, getattr(row, c), "experts")
            if n:
                out[c] = n
    return out


def _step_count(what: str, value, unit: str = "decode steps") -> int:
    """A row's count of decode steps (or other ``unit``): a whole number >= 0, else ``ValueError``
    naming ``what``."""
    v = _number(value)
    if not (v >= 0 and v == int(v)):
        raise ValueError(f"{what} must be a whole number of {unit} >= 0, got {value!r}")
    return int(v)


def _number(v) -> float:
    """``v`` as a float, NaN where it is not a number (a reader's CSV may hold any text)."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _config(row) -> Config:
    extra = {c: int(getattr(row, c)) for c in PARALLEL_COLUMNS if _given(row, c)}
    if _given(row, "decode_max_batch") and getattr(row, "mode", "agg") == "disagg":
        extra["max_batch"] = int(row.decode_max_batch)  # the decode seats a benchmark configuration names
    extra.update(engine_settings(row))  # and what else its benchmark configured of its engine
    return Config(row.system, row.model, row.precision, int(row.tp), int(row.concurrency), int(row.isl),
                  int(row.osl), backend=row.backend, mode=getattr(row, "mode", "agg") or "agg", **extra)


def calibration_rows(measurements: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    """The rows a fit may use: calibration systems only, and only those the model can describe
    (no ``left_out`` reason; their KV fits)."""
    ok = measurements.kv_fits
    if "left_out" in measurements.columns:
        ok = ok & (measurements.left_out.fillna("") == "")
    return measurements[measurements.system.isin(CALIBRATION_SYSTEMS) & ok]


@lru_cache(maxsize=1)
def _envelope() -> dict[tuple[str, str], np.ndarray]:
    points: dict[tuple[str, str], set] = {}
    for table in TABLES:
        d = _measurements(table)
        d = d[d.left_out.fillna("") == ""]
        for r in d.itertuples():
            points.setdefault((r.system, r.model), set()).add((_config(r).batch_per_rank, int(r.isl + r.osl)))
    return {k: np.array(sorted(v), dtype=float) for k, v in points.items()}


def serving_envelope(system: str, model: str) -> np.ndarray:
    """The measured serving envelope of ``model`` on ``system``: one (batch per attention rank,
    context isl + osl) point per modelled row of the curated tables, either split (an (n, 2) array,
    empty where nothing was measured). Batch per rank is concurrency over workers and attention-DP
    ranks (the decode side in disaggregated rows)."""
    from ..models import get_model

    return _envelope().get((system, get_model(model).key), np.zeros((0, 2)))


def beyond_envelope(system: str, model: str, batch, context) -> np.ndarray:
    """Whether each (``batch`` per rank, ``context``) lies beyond the measured envelope
    (:func:`serving_envelope`): no measured row of this model on this system had at least as many
    sequences per rank with at least as long a context. Arrays (broadcast) in, a bool array out.

    >>> bool(beyond_envelope("b200_sxm", "llama-3.1-70b", 1, 2048))
    False
    >>> bool(beyond_envelope("b200_sxm", "llama-3.1-70b", 10_000, 2048)), bool(beyond_envelope("gb200", "llama-3.1-8b", 1, 2))
    (True, True)
    """
    env = serving_envelope(system, model)
    b, c = np.broadcast_arrays(np.asarray(batch, float), np.asarray(context, float))
    if not len(env):
        return np.ones(b.shape, bool)
    covered = (env[:, 0][:, None] >= b.reshape(-1) * (1 - 1e-9)) & (env[:, 1][:, None] >= c.reshape(-1))
    return ~covered.any(axis=0).reshape(b.shape)
