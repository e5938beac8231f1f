"""Calibrate the roofline against measured serving data, and say how far off it is.

The measurements (``nvlmodel/data/measurements.csv``, built by ``scripts/curate_measurements.py``)
are aiconfigurator's end-to-end rows for dense Llama-3.1 8B and 70B in aggregated serving on
H100 SXM, H200 SXM and B200 SXM: a closed-loop client keeps ``concurrency`` requests of ``isl``
input and ``osl`` output tokens in flight against one ``tp``-GPU engine, and reports the mean time
to first token (TTFT) and time per output token (TPOT).

The model of one configuration (:func:`predict`), per GPU of the TP group:

* a decode step of the ``concurrency`` sequences at their mean context ``isl + osl/2``
  (:func:`nvlmodel.roofline.decode_step`: weights once, each sequence's KV once, FLOPs at the
  compute dtype's peak) plus two all-reduces per layer of the batch's hidden state, timed by the
  NCCL alpha-beta fit of the fabric (:mod:`nvlmodel.collectives`), plus a fixed per-step overhead
  ``t_step``;
* a prefill of one prompt of ``isl`` tokens (:func:`nvlmodel.roofline.prefill`) plus its
  all-reduces, ``P``;
* TPOT = decode step + (concurrency - 1) / osl x ``P``: with continuous batching, the prompts of
  the other requests are prefilled in steps shared with this request's decode; each of the
  ``concurrency - 1`` others turns over once in this request's ``osl`` steps;
* TTFT = ``t_req`` + ``P`` x (1 + ``q`` x (concurrency - 1)): a fixed per-request cost (HTTP,
  tokenisation, scheduling), this prompt's prefill, and the prefills of the other requests it queues
  behind, a fraction ``q`` of the others.

The five parameters (:class:`Calibration`) are physical: ``bandwidth`` and ``compute`` are the
achieved fractions of datasheet HBM bandwidth and dense tensor peak, ``t_step`` and ``t_req`` are
seconds, ``q`` a fraction. They are fitted per serving engine (vLLM, TensorRT-LLM, SGLang) on the
calibration split, H100 and H200 rows only (:data:`CALIBRATION_SYSTEMS`); B200 rows are the held-out
split and are predicted with the Hopper-fitted parameters, never refitted. Rows whose KV cache
cannot hold every in-flight sequence (:func:`kv_fits` is false) queue for memory, which this model
does not describe: they are flagged, left out of the fit, and reported separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from .collectives import engine_allreduce, tp_step_allreduce_time
from .hardware import get_gpu
from .kvbm import kv_capacity
from .models import get_model
from .roofline import Efficiency, decode_step, prefill
from .units import require_choice, require_positive, require_positive_int

#: Measured system -> nvlmodel GPU. TP all-reduce comes from the system's own measured curves of
#: the row's engine (:func:`nvlmodel.collectives.engine_allreduce`).
SYSTEMS: dict[str, str] = {"h100_sxm": "h100", "h200_sxm": "h200", "b200_sxm": "b200"}
CALIBRATION_SYSTEMS: tuple[str, ...] = ("h100_sxm", "h200_sxm")
#: Measured precision -> weight format of :mod:`nvlmodel.fp4`.
WEIGHT_FORMAT: dict[str, str] = {"bf16": "fp16", "fp8": "fp8", "fp4": "nvfp4"}
#: KV-cache dtypes a row may state, and their bytes per element.
KV_DTYPES: dict[str, float] = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0}


@dataclass(frozen=True)
class EngineMemory:
    """How an engine sizes its KV cache, by default: the KV dtype when none is asked for, and the
    fraction of memory it takes, applied to all of HBM (``of="capacity"``) or to what the weights
    leave free (``of="free"``)."""

    kv_dtype: str
    memory_fraction: float
    of: str
    source: str


#: Per-engine defaults (the measurements record neither KV dtype nor memory settings). Every engine
#: keeps a BF16 KV cache unless told otherwise; a row's ``kv_dtype`` column overrides it.
ENGINE_MEMORY: dict[str, EngineMemory] = {
    "vllm": EngineMemory("bf16", 0.90, "capacity", "vLLM gpu_memory_utilization default 0.9, of total HBM"),
    "trtllm": EngineMemory("bf16", 0.90, "free", "TensorRT-LLM KvCacheConfig free_gpu_memory_fraction default "
                                                  "0.9, of the memory left after weights"),
    "sglang": EngineMemory("bf16", 0.88, "capacity", "SGLang mem_fraction_static, chosen by GPU size; 0.88 "
                                                     "assumed for 80-192 GB GPUs"),
}
METRICS: tuple[str, ...] = ("tpot", "ttft")


def engine_memory_table() -> "pd.DataFrame":  # noqa: F821
    """The per-engine KV memory defaults (:data:`ENGINE_MEMORY`), one row per engine."""
    import pandas as pd

    return pd.DataFrame([{"engine": k, "KV dtype": e.kv_dtype, "memory fraction": e.memory_fraction,
                          "fraction of": "all HBM" if e.of == "capacity" else "HBM left after weights",
                          "source": e.source} for k, e in ENGINE_MEMORY.items()])


@dataclass(frozen=True)
class Calibration:
    """Efficiencies of one serving engine: fractions of peak, and fixed costs in seconds."""

    bandwidth: float = 1.0  # achieved fraction of datasheet HBM bandwidth
    compute: float = 1.0  # achieved fraction of dense tensor peak (compute dtype of the weights)
    t_step: float = 0.0  # s, fixed cost of every forward step (scheduling, launches, sampling)
    t_req: float = 0.0  # s, fixed cost of every request before its prefill (HTTP, tokenisation)
    q: float = 0.0  # fraction of the other in-flight requests' prefills a new request waits behind

    def __post_init__(self):
        Efficiency(self.compute, self.bandwidth, self.t_step)  # validates fractions and t_step
        require_positive("t_req", self.t_req, allow_zero=True)
        require_positive("q", self.q, allow_zero=True)


@dataclass(frozen=True)
class Config:
    """One measured serving configuration. ``backend`` (vllm, trtllm, sglang) picks the engine's
    memory defaults (:data:`ENGINE_MEMORY`); ``kv_dtype`` and ``memory_fraction`` override them
    (None: the engine's default)."""

    system: str
    model: str
    precision: str
    tp: int
    concurrency: int
    isl: int
    osl: int
    backend: str = "vllm"
    kv_dtype: str | None = None
    memory_fraction: float | None = None

    def __post_init__(self):
        require_choice("system", self.system, SYSTEMS)
        get_model(self.model)
        require_choice("precision", self.precision, WEIGHT_FORMAT)
        for what in ("tp", "concurrency", "isl", "osl"):
            require_positive_int(what, getattr(self, what))
        get_gpu(SYSTEMS[self.system]).require_tp(self.tp)
        engine = ENGINE_MEMORY[require_choice("backend", self.backend, ENGINE_MEMORY)]
        if self.kv_dtype is None:
            object.__setattr__(self, "kv_dtype", engine.kv_dtype)
        require_choice("kv_dtype", self.kv_dtype, KV_DTYPES)
        if self.memory_fraction is None:
            object.__setattr__(self, "memory_fraction", engine.memory_fraction)
        if not 0 < require_positive("memory_fraction", self.memory_fraction) <= 1:
            raise ValueError(f"memory_fraction must be in (0, 1], got {self.memory_fraction}")

    @property
    def kv_bytes_per_element(self) -> float:
        return KV_DTYPES[self.kv_dtype]

    @property
    def memory_fraction_of(self) -> str:
        """What the memory fraction applies to: all of HBM, or what the weights leave free."""
        return ENGINE_MEMORY[self.backend].of

    @property
    def gpu(self) -> str:
        return SYSTEMS[self.system]

    @property
    def weight_format(self) -> str:
        return WEIGHT_FORMAT[self.precision]


def comm_time(config: Config, tokens: int) -> float:
    """TP all-reduce time of one forward step over ``tokens`` tokens (0 at TP 1): two all-reduces
    per layer, each timed by the row's engine's own measured kernel on its system
    (:func:`nvlmodel.collectives.engine_allreduce`)."""
    if config.tp == 1:
        return 0.0
    return tp_step_allreduce_time(config.model, tokens, engine_allreduce(config.system, config.tp, config.backend).time)


def kv_fits(config: Config) -> bool:
    """Whether every in-flight sequence's KV cache at its final context fits in the memory the
    engine gives to KV: :func:`nvlmodel.kvbm.kv_capacity` of one TP group with the engine's memory
    fraction of the HBM software sees (``config.memory_fraction``), less this GPU's weights, at the
    config's KV dtype."""
    try:
        cap = kv_capacity(config.gpu, config.model, config.weight_format,
                          kv_bytes_per_element=config.kv_bytes_per_element, tp=config.tp, num_gpus=config.tp,
                          workspace_bytes=0.0, memory_fraction=config.memory_fraction,
                          fraction_of=config.memory_fraction_of)
    except ValueError:  # the weights alone take the budget (Config has validated everything else)
        return False
    return bool(config.concurrency * (config.isl + config.osl) <= cap["tokens_per_replica"])


#: The per-row terms of the model that do not depend on the calibration (seconds at efficiency 1).
TERMS: tuple[str, ...] = ("dm", "dc", "dcomm", "pm", "pc", "pcomm", "mix", "queue")


def _unit_terms(config: Config) -> dict[str, float]:
    """Decode memory/compute/all-reduce time, prefill memory/compute/all-reduce time, all at
    efficiency 1; prefills per output token (``mix``) and other requests in flight (``queue``)."""
    common = dict(kv_bytes_per_element=config.kv_bytes_per_element, tp=config.tp)
    d = decode_step(config.gpu, config.model, config.weight_format, batch=config.concurrency,
                    context=config.isl + config.osl // 2, **common)
    p = prefill(config.gpu, config.model, config.weight_format, prompt=config.isl, **common)
    return {"dm": d.t_memory, "dc": d.t_compute, "dcomm": comm_time(config, config.concurrency),
            "pm": p.t_memory, "pc": p.t_compute, "pcomm": comm_time(config, config.isl),
            "mix": (config.concurrency - 1) / config.osl, "queue": config.concurrency - 1}


def _steps(t, bandwidth, compute):
    """Decode step (without its fixed overhead) and one prompt's prefill, from :func:`_unit_terms`
    at the given efficiencies; scalars or arrays (broadcast), so that the fit shares it."""
    decode = np.maximum(t["dm"] / bandwidth, t["dc"] / compute) + t["dcomm"]
    fill = np.maximum(t["pm"] / bandwidth, t["pc"] / compute) + t["pcomm"]
    return decode, fill


def components(config: Config, calibration: Calibration) -> dict[str, float]:
    """The modelled parts of one configuration, in seconds: decode step (with its all-reduce and
    overhead), one prompt's prefill (with its all-reduce), the prefill interference per output
    token, and the predicted TPOT and TTFT."""
    c = calibration
    t = _unit_terms(config)
    decode, fill = (float(x) for x in _steps(t, c.bandwidth, c.compute))
    decode += c.t_step
    interference = t["mix"] * fill
    return {"decode_step_s": decode,
            "decode_bottleneck": "compute" if t["dc"] / c.compute > t["dm"] / c.bandwidth else "memory",
            "decode_comm_s": t["dcomm"], "prefill_s": fill,
            "prefill_bottleneck": "compute" if t["pc"] / c.compute > t["pm"] / c.bandwidth else "memory",
            "interference_s": interference, "tpot_s": decode + interference,
            "ttft_s": c.t_req + fill * (1 + c.q * t["queue"])}


def predict(config: Config, calibration: Calibration) -> dict[str, float]:
    """Predicted TPOT and TTFT (seconds) of one configuration."""
    c = components(config, calibration)
    return {"tpot_s": c["tpot_s"], "ttft_s": c["ttft_s"]}


# --------------------------------------------------------------------------------------------
# Measurements and splits
# --------------------------------------------------------------------------------------------


#: Columns a measurement table must have (``nvlmodel/data/measurements.csv`` has more).
REQUIRED_COLUMNS: tuple[str, ...] = ("system", "backend", "campaign", "model", "precision", "isl", "osl",
                                     "concurrency", "tp", "ttft_ms", "tpot_ms")


def _prepare(d: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    missing = [c for c in REQUIRED_COLUMNS if c not in d.columns]
    if missing:
        raise ValueError(f"measurements lack columns {missing}; required: {', '.join(REQUIRED_COLUMNS)}")
    d = d.copy()
    d["engine"] = d.backend + "@" + d.campaign.astype(str)
    d["split"] = np.where(d.system.isin(CALIBRATION_SYSTEMS), "calibration", "held-out")
    d["kv_fits"] = [kv_fits(_config(r)) for r in d.itertuples()]  # validates every row
    return d


@lru_cache(maxsize=1)
def _measurements():
    import pandas as pd

    with resources.files("nvlmodel.data").joinpath("measurements.csv").open() as f:
        d = pd.read_csv(f, dtype={"backend_version": str, "precision_note": str, "gemm_quant_mode": str,
                                  "campaign": str})
    return _prepare(d)


def load_measurements(path: "str | None" = None) -> "pd.DataFrame":  # noqa: F821
    """The curated measured rows (or your own CSV at ``path`` with :data:`REQUIRED_COLUMNS`), with
    their ``engine`` (backend@campaign), ``split`` (calibration: H100/H200; held-out: the rest)
    and whether their KV cache fits (``kv_fits``)."""
    if path is None:
        return _measurements().copy()
    import pandas as pd

    return _prepare(pd.read_csv(path, dtype={"campaign": str}))


def _config(row) -> Config:
    kv = getattr(row, "kv_dtype", None)
    return Config(row.system, row.model, row.precision, int(row.tp), int(row.concurrency), int(row.isl),
                  int(row.osl), backend=row.backend, kv_dtype=kv if isinstance(kv, str) and kv else None)


def calibration_rows(measurements: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    """The rows a fit may use: calibration systems only, and only those whose KV fits."""
    return measurements[measurements.system.isin(CALIBRATION_SYSTEMS) & measurements.kv_fits]


# --------------------------------------------------------------------------------------------
# Fit
# --------------------------------------------------------------------------------------------

#: The grid the efficiencies are searched on (fractions of peak): deterministic, no optimiser state.
GRID = np.round(np.arange(0.10, 1.0001, 0.01), 2)


def _terms(rows: "pd.DataFrame"):  # noqa: F821
    """:func:`_unit_terms` of every row as arrays, with the measured TPOT and TTFT (seconds), so
    that the grid search is array arithmetic."""
    per_row = [_unit_terms(_config(r)) for r in rows.itertuples()]
    t = {k: np.array([row[k] for row in per_row], dtype=float) for k in TERMS}
    t["tpot"] = rows.tpot_ms.to_numpy(float) / 1e3
    t["ttft"] = rows.ttft_ms.to_numpy(float) / 1e3
    return t


def _nnls_relative(y: np.ndarray, b: np.ndarray, *cols: np.ndarray) -> tuple[np.ndarray, ...]:
    """For every grid row, the non-negative x minimising sum_i((sum_k x_k cols_k[i]) / y_i - b_i / y_i)^2
    (one or two unknowns, closed form: the unconstrained solution if non-negative, else the best
    solution on a face). Arrays are (grid, rows); returns one (grid,) array per unknown."""
    a = [c / y for c in cols]
    r = b / y
    g = np.array([[np.sum(ai * aj, axis=-1) for aj in a] for ai in a])  # Gram matrix, (k, k, grid)
    h = np.array([np.sum(ai * r, axis=-1) for ai in a])  # (k, grid)
    if len(a) == 1:
        return (np.maximum(h[0] / g[0, 0], 0.0),)
    det = g[0, 0] * g[1, 1] - g[0, 1] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        both = ((g[1, 1] * h[0] - g[0, 1] * h[1]) / det, (g[0, 0] * h[1] - g[0, 1] * h[0]) / det)
    only0 = (np.maximum(h[0] / g[0, 0], 0.0), np.zeros_like(h[0]))
    only1 = (np.zeros_like(h[1]), np.maximum(h[1] / g[1, 1], 0.0))

    def loss(x):  # sum (a.x - r)^2 up to a constant: x'Gx - 2h'x
        return (x[0] ** 2 * g[0, 0] + 2 * x[0] * x[1] * g[0, 1] + x[1] ** 2 * g[1, 1]) - 2 * (x[0] * h[0] + x[1] * h[1])

    ok = (both[0] >= 0) & (both[1] >= 0) & np.isfinite(both[0]) & np.isfinite(both[1])
    face = np.where(loss(only0) <= loss(only1), 0, 1)
    x0 = np.where(ok, both[0], np.where(face == 0, only0[0], only1[0]))
    x1 = np.where(ok, both[1], np.where(face == 0, only0[1], only1[1]))
    return x0, x1


def _fit_terms(t) -> Calibration:
    """Grid over (bandwidth, compute); closed-form fixed costs and q at each point; the least total
    squared relative error of TPOT and TTFT. Vectorised over the compute axis."""
    ec = GRID[:, None]
    best = None
    for eb in GRID:
        decode, p = _steps(t, eb, ec)
        base = decode + t["mix"] * p
        (t_step,) = _nnls_relative(t["tpot"], t["tpot"] - base, np.ones_like(base))
        t_req, q = _nnls_relative(t["ttft"], t["ttft"] - p, np.ones_like(p), p * t["queue"])
        tpot = base + t_step[:, None]
        ttft = t_req[:, None] + p * (1 + q[:, None] * t["queue"])
        loss = np.sum((tpot / t["tpot"] - 1) ** 2, axis=1) + np.sum((ttft / t["ttft"] - 1) ** 2, axis=1)
        i = int(np.argmin(loss))
        if best is None or loss[i] < best[1]:
            best = (Calibration(float(eb), float(GRID[i]), float(t_step[i]), float(t_req[i]), float(q[i])),
                    float(loss[i]))
    return best[0]


def fit(rows: "pd.DataFrame") -> Calibration:  # noqa: F821
    """Fit one :class:`Calibration` to ``rows`` (measured TPOT and TTFT): for every (bandwidth,
    compute) on :data:`GRID`, the fixed costs and ``q`` that minimise the squared relative error
    in closed form; the grid point with the least total squared relative error of TPOT and TTFT.
    Refuses rows of a held-out system or whose KV cache does not fit."""
    if len(rows) < 5:
        raise ValueError(f"need at least 5 rows to fit 5 parameters, got {len(rows)}")
    held = sorted(set(rows.system) - set(CALIBRATION_SYSTEMS))
    if held:
        raise ValueError(f"refusing to fit on held-out systems {held}; calibration systems: "
                         f"{', '.join(CALIBRATION_SYSTEMS)}")
    if not rows.kv_fits.all():
        raise ValueError("refusing to fit rows whose KV cache does not fit (kv_fits is false)")
    return _fit_terms(_terms(rows))


def fit_engines(measurements: "pd.DataFrame") -> dict[str, Calibration]:  # noqa: F821
    """One :class:`Calibration` per engine (``backend@campaign``) that has calibration rows,
    fitted on those rows only (:func:`calibration_rows`): held-out rows never reach :func:`fit`."""
    rows = calibration_rows(measurements)
    return {e: fit(rows[rows.engine == e]) for e in sorted(set(rows.engine))}


@lru_cache(maxsize=1)
def _fitted() -> dict[str, Calibration]:
    return fit_engines(_measurements())


def fitted() -> dict[str, Calibration]:
    """The calibration of each engine (``backend@campaign``), fitted on its H100/H200 rows (cached)."""
    return dict(_fitted())


def calibration_table() -> "pd.DataFrame":  # noqa: F821
    """The fitted parameters per engine, in readable units, with the rows each was fitted on."""
    import pandas as pd

    rows = calibration_rows(_measurements())
    out = []
    for engine, c in fitted().items():
        sub = rows[rows.engine == engine]
        out.append({"engine": engine, "bandwidth_fraction": c.bandwidth, "compute_fraction": c.compute,
                    "t_step_ms": c.t_step * 1e3, "t_req_ms": c.t_req * 1e3, "q": c.q,
                    "fitted_on_rows": len(sub), "systems": ", ".join(sorted(set(sub.system)))})
    return pd.DataFrame(out)


def predictions(measurements: "pd.DataFrame | None" = None,
                calibrations: "dict[str, Calibration] | None" = None) -> "pd.DataFrame":  # noqa: F821
    """Every measured row with its predicted TPOT and TTFT (ms), the model's parts and the signed
    relative errors (pred / measured - 1, percent). By default the packaged rows and
    :func:`fitted`; for your own ``measurements`` (from :func:`load_measurements`), the engines
    are fitted on their calibration rows unless ``calibrations`` is given. An engine without a
    calibration raises."""
    d = _measurements() if measurements is None else measurements
    if calibrations is not None:
        cal = calibrations
    else:
        cal = fitted() if measurements is None else fit_engines(d)
    missing = sorted(set(d.engine) - set(cal))
    if missing:
        raise ValueError(f"no calibration for engines {missing}; calibrated: {', '.join(cal)}")
    parts = [components(_config(r), cal[r.engine]) for r in d.itertuples()]
    out = d.copy()
    for k in ("decode_step", "prefill", "interference", "decode_comm"):
        out[f"{k}_ms"] = [p[f"{k}_s"] * 1e3 for p in parts]
    out["decode_bottleneck"] = [p["decode_bottleneck"] for p in parts]
    for m in METRICS:
        out[f"{m}_pred_ms"] = [p[f"{m}_s"] * 1e3 for p in parts]
        out[f"{m}_err_pct"] = (out[f"{m}_pred_ms"] / out[f"{m}_ms"] - 1) * 100
    return out


def error_summary(pred: "pd.DataFrame", by: tuple[str, ...] = ("split",)) -> "pd.DataFrame":  # noqa: F821
    """Median and mean absolute percentage error and median signed error (bias) of TPOT and TTFT,
    grouped by ``by`` (columns of :func:`predictions`)."""
    import pandas as pd

    for col in by:
        if col not in pred.columns:
            raise ValueError(f"cannot group by {col!r}; columns include split, system, backend, precision, model")
    rows = []
    for key, g in pred.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        row["rows"] = len(g)
        for m in METRICS:
            e = g[f"{m}_err_pct"]
            row[f"{m}_MdAPE_pct"] = float(e.abs().median())
            row[f"{m}_MAPE_pct"] = float(e.abs().mean())
            row[f"{m}_bias_pct"] = float(e.median())
        rows.append(row)
    return pd.DataFrame(rows)


def bias_by_tp(pred: "pd.DataFrame", split: str = "held-out") -> "pd.DataFrame":  # noqa: F821
    """Median signed TPOT error (percent) per TP degree of ``split``'s rows whose KV fits: over all
    of them, and per precision and per engine (columns), so a tilt with TP shows where it lives."""
    import pandas as pd

    require_choice("split", split, ("calibration", "held-out"))
    d = pred[(pred.split == split) & pred.kv_fits]
    cols = {"all": d.groupby("tp").tpot_err_pct.median()}
    for by in ("precision", "engine"):
        for key, g in d.groupby(by):
            cols[key] = g.groupby("tp").tpot_err_pct.median()
    out = pd.DataFrame(cols)
    out.index.name = "tp"
    return out


#: The engine whose Hopper calibration restates the document's headline: the one campaign measured
#: on both Hopper and Blackwell with FP8 and FP4 (TensorRT-LLM, 2026-04-06 dump).
HEADLINE_ENGINE = "trtllm@2026-04-06"
#: The document's per-GPU claims the headline restates: (what, seed line, printed ratio, workload).
HEADLINE_POINTS: tuple[tuple[str, int, float, dict], ...] = (
    ("decode, batch 1", 103, 4.77, {"concurrency": 1, "isl": 1024, "osl": 1024}),
    ("decode, batch 64, 1K in / 1K out", 421, 3.6, {"concurrency": 64, "isl": 1024, "osl": 1024}),
    ("prefill, one 4K prompt", 420, 4.5, {"concurrency": 1, "isl": 4096, "osl": 1024}),
)


def smallest_tp(system: str, model: str, precision: str, backend: str = "vllm", **load) -> int:
    """The smallest TP degree (1, 2, 4, 8) at which ``load`` fits in ``backend``'s KV memory (:func:`kv_fits`)."""
    for tp in (1, 2, 4, 8):
        if kv_fits(Config(system, model, precision, tp, backend=backend, **load)):
            return tp
    raise ValueError(f"{model} {precision} with {load} does not fit on 8 GPUs of {system}")


def headline(model: str = "llama-3.1-70b", engine: str = HEADLINE_ENGINE,
             calibrations: "dict[str, Calibration] | None" = None) -> "pd.DataFrame":  # noqa: F821
    """B200 FP4 against H100 FP8, per GPU, with one engine's Hopper-fitted efficiencies applied to
    both GPUs, each at the smallest TP degree that holds the load (:func:`smallest_tp`): tokens/s
    per GPU of decode (batch / decode step) and of prefill (prompt / prefill time), at the points
    of :data:`HEADLINE_POINTS`, beside the ratio the document prints. The decode rate excludes the
    prefill interference of :func:`components`: it is the steady decode speed the document means.
    ``calibrations`` defaults to :func:`fitted`."""
    import pandas as pd

    cal = fitted() if calibrations is None else calibrations
    require_choice("engine", engine, cal)
    rows = []
    for what, line, printed, load in HEADLINE_POINTS:
        row = {"point": what, "seed_line": line, "printed_ratio": printed}
        for system, precision, label in (("h100_sxm", "fp8", "h100_fp8"), ("b200_sxm", "fp4", "b200_fp4")):
            backend = engine.split("@")[0]
            tp = smallest_tp(system, model, precision, backend, **load)
            c = components(Config(system, model, precision, tp, backend=backend, **load), cal[engine])
            rate = load["isl"] / c["prefill_s"] if what.startswith("prefill") else load["concurrency"] / c["decode_step_s"]
            row[f"{label}_tp"] = tp
            row[f"{label}_tok_s_per_gpu"] = rate / tp
        row["calibrated_ratio"] = row["b200_fp4_tok_s_per_gpu"] / row["h100_fp8_tok_s_per_gpu"]
        rows.append(row)
    return pd.DataFrame(rows)


def measured_per_gpu(isl: int = 1024, osl: int = 1024) -> "pd.DataFrame":  # noqa: F821
    """Measured output tokens/s per GPU (concurrency / TPOT / tp) at one ``isl``/``osl``, the best
    TP degree for each system, precision, engine and concurrency: what the rows themselves say."""
    d = _measurements()
    d = d[(d.isl == isl) & (d.osl == osl) & (d.model == "llama-3.1-70b")].copy()
    if d.empty:
        have = sorted(set(zip(_measurements().isl, _measurements().osl)))
        raise ValueError(f"no 70B rows at isl={isl}, osl={osl}; measured: {have}")
    d["tok_s_per_gpu"] = d.concurrency / (d.tpot_ms / 1e3) / d.tp
    best = d.loc[d.groupby(["system", "precision", "engine", "concurrency"]).tok_s_per_gpu.idxmax()]
    return best.pivot_table(index="concurrency", columns=["system", "precision", "engine"], values="tok_s_per_gpu")


#: The like-for-like measured comparison of the headline: one engine and campaign on both GPUs.
MEASURED_B200_FP4 = ("b200_sxm", "fp4", "vllm@2026-04-06")
MEASURED_H100_FP8 = ("h100_sxm", "fp8", "vllm@2026-04-06")


def measured_ratio(numerator: tuple[str, str, str] = MEASURED_B200_FP4,
                   denominator: tuple[str, str, str] = MEASURED_H100_FP8,
                   isl: int = 1024, osl: int = 1024) -> "pd.Series":  # noqa: F821
    """Measured per-GPU output rate of ``numerator`` over ``denominator`` (each (system, precision,
    engine)), per concurrency measured for both, from :func:`measured_per_gpu`."""
    table = measured_per_gpu(isl, osl)
    for side in (numerator, denominator):
        if tuple(side) not in set(table.columns):
            raise ValueError(f"no measured rows for {side}; measured: {sorted(table.columns)}")
    return (table[tuple(numerator)] / table[tuple(denominator)]).dropna()


__all__ = ["bias_by_tp", "ENGINE_MEMORY", "EngineMemory", "KV_DTYPES", "engine_memory_table", "CALIBRATION_SYSTEMS", "REQUIRED_COLUMNS", "SYSTEMS", "Calibration", "Config",
           "calibration_rows", "calibration_table", "components", "error_summary", "fit", "fit_engines", "fitted",
           "HEADLINE_ENGINE", "HEADLINE_POINTS", "headline", "measured_per_gpu", "measured_ratio", "smallest_tp", "kv_fits", "load_measurements", "predict", "predictions"]
