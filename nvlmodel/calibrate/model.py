"""The calibrated step model of one serving configuration: :class:`Config`, :class:`Calibration`,
the per-engine memory rules, the KV fit test, and TPOT/TTFT predicted from the roofline, the
engine's measured TP all-reduce and five fitted parameters (see :mod:`nvlmodel.calibrate`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..collectives import engine_allreduce, tp_step_allreduce_time
from ..hardware import get_gpu
from ..kvbm import kv_capacity
from ..models import get_model
from ..roofline import Efficiency, decode_step, prefill
from ..units import require_choice, require_positive, require_positive_int


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
    return bool(config.concurrency * (config.isl + config.osl) <= cap.tokens_per_replica)


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
