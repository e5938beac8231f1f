"""The seed's end-to-end comparison (lines 417-427): 8x H100 (FP8, TP8) against one TP8 replica
on an NVL72 (FP4), Llama 405B, composed from the section models.

``seed``
    Every cell by the document's own functions and inputs: ``estimate_prefill_throughput`` over the
    eight GPUs of a replica, ``compute_inference_throughput`` extended to a batch (weights read
    once per step), ``compute_kv_capacity``, the ModelExpress and KV-block copy times.
``datasheet``
    Dense peaks, NVFP4 at 4.5 bits, derived parameters, usable HBM, one-way NVLink, KV reads at a
    stated context, and the TP all-reduce of every layer from the NCCL fits (H100 measured on 8
    GPUs; GB200 measured on 4 and scaled to 8 like H100). Efficiency factors are explicit parameters,
    1 by default (the pure bound).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import collectives as col
from .hardware import PRESETS, get_gpu
from .kvbm import compute_kv_capacity, kv_capacity
from .models import get_model
from .roofline import FORMAT_FOR, Efficiency, decode_step, estimate_prefill_throughput, prefill, seed_gpu_specs
from .units import require_choice, require_positive, require_positive_int

#: The metrics of the seed's table (lines 420-426), in order, with their unit and which way is better.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("prefill_tok_s", "tok/s", "higher"),
    ("decode_tok_s", "tok/s", "higher"),
    ("ttft_ms", "ms", "lower"),
    ("tpot_ms", "ms", "lower"),
    ("sessions_128k", "count", "higher"),
    ("swap_ms", "ms", "lower"),
    ("kv_block_us", "us", "lower"),
)
LABELS = {
    "prefill_tok_s": "Prefill throughput (4K input)", "decode_tok_s": "Decode throughput (batch=256)",
    "ttft_ms": "TTFT (4K input, 1 request)", "tpot_ms": "Time per output token (batch=256)",
    "sessions_128k": "Max concurrent 128K sessions", "swap_ms": "Model swap time (ModelExpress)",
    "kv_block_us": "KV block transfer (cross-GPU)",
}
SIDES = ("h100", "nvl72")
_BLOCK = 5.24e6  # the seed's KV block (line 304)


@dataclass(frozen=True)
class Scenario:
    """What is compared. Defaults are the seed's: Llama 405B, TP8, 4K prompt, decode batch 256."""

    model: str = "llama-3.1-405b"
    tp: int = 8
    prompt: int = 4096
    batch: int = 256
    context: int = 4096  # KV tokens each decoding sequence reads (datasheet only)
    efficiency: Efficiency = Efficiency()

    def __post_init__(self):
        for what in ("tp", "prompt", "batch"):
            require_positive_int(what, getattr(self, what))
        require_positive("context", self.context, allow_zero=True)
        get_model(self.model)


_SIDE = {  # gpu, seed quantization, datasheet weight format, KV bytes, ModelExpress model format
    "h100": ("h100", "FP8", "fp8", 2.0, "fp8"),
    "nvl72": ("gb200-b200", "FP4", "nvfp4", 1.0, "nvfp4"),
}


def _seed_cells(side: str, s: Scenario) -> dict[str, float]:
    gpu, quant, _, kv_bytes, _ = _SIDE[side]
    m = get_model(s.model)
    # a replica: the peaks and HBM bandwidth of its tp GPUs together
    specs = {k: v * s.tp for k, v in seed_gpu_specs("b200" if side == "nvl72" else gpu).items()}
    p = m.params("seed")
    pre = estimate_prefill_throughput(specs, p, quant, s.prompt, 1)
    bpp = {"FP8": 1.0, "FP4": 0.5}[quant]
    # the seed's decode function extended to a batch: weights read once per step, 2 x params per token
    step = decode_step("b200" if side == "nvl72" else gpu, s.model, FORMAT_FOR["seed"][quant], batch=s.batch,
                       tp=s.tp, preset="seed").time
    cfg = {"total_params": p, "weight_dtype_bytes": bpp, "num_layers": m.layers, "num_kv_heads": m.kv_heads,
           "head_dim": m.head_dim, "kv_dtype_bytes": kv_bytes}
    cap = compute_kv_capacity(cfg, {"hbm_gb": get_gpu(gpu, "seed").hbm_bytes / 1e9},
                              {"num_gpus": s.tp, "tp_degree": s.tp})
    g = get_gpu(gpu, "seed")
    swap_bytes = get_model("llama-70b").params("seed") * bpp  # the document swaps Llama 70B (lines 108-112)
    return {
        "prefill_tok_s": pre["throughput_tokens_per_sec"], "decode_tok_s": s.batch / step,
        "ttft_ms": pre["prefill_time_ms"], "tpot_ms": step * 1e3,
        "sessions_128k": cap["total_tokens"] / 128_000,
        "swap_ms": swap_bytes / g.nvlink_bw_per_direction * 1e3,
        "kv_block_us": _BLOCK / g.nvlink_bw_per_direction * 1e6,
    }


def _comm(side: str, tokens: int, s: Scenario) -> float:
    """TP all-reduce time of one step from the NCCL fits (:func:`nvlmodel.collectives.system_fit`)."""
    if s.tp == 1:
        return 0.0
    fit = col.system_fit("h100_sxm" if side == "h100" else "gb200", s.tp)
    return col.tp_step_allreduce_time(s.model, tokens, fit.time)


def _datasheet_cells(side: str, s: Scenario) -> dict[str, float]:
    gpu, _, fmt, kv_bytes, swap_fmt = _SIDE[side]
    pre = prefill(gpu, s.model, fmt, prompt=s.prompt, tp=s.tp, kv_bytes_per_element=kv_bytes,
                  efficiency=s.efficiency, comm_s=_comm(side, s.prompt, s))
    dec = decode_step(gpu, s.model, fmt, batch=s.batch, context=s.context, kv_bytes_per_element=kv_bytes, tp=s.tp,
                      efficiency=s.efficiency, comm_s=_comm(side, s.batch, s))
    cap = kv_capacity(gpu, s.model, fmt, kv_bytes_per_element=kv_bytes, tp=s.tp, num_gpus=s.tp)
    g = get_gpu(gpu, "datasheet")
    swap_bytes = get_model("llama-3.1-70b").params("datasheet") * {"fp8": 1.0, "nvfp4": 0.5625}[swap_fmt]
    return {
        "prefill_tok_s": pre.tokens_per_s, "decode_tok_s": dec.tokens_per_s, "ttft_ms": pre.time * 1e3,
        "tpot_ms": dec.time * 1e3, "sessions_128k": cap["sessions"],
        "swap_ms": swap_bytes / g.nvlink_bw_per_direction * 1e3,
        "kv_block_us": _BLOCK / g.nvlink_bw_per_direction * 1e6,
    }


def cells(preset: str = "seed", scenario: Scenario = Scenario()) -> dict[str, dict[str, float]]:
    """``{side: {metric: value}}`` for ``h100`` and ``nvl72`` under ``preset``."""
    require_choice("preset", preset, PRESETS)
    fn = _seed_cells if preset == "seed" else _datasheet_cells
    return {side: fn(side, scenario) for side in SIDES}


def advantage(metric: str, values: dict[str, dict[str, float]]) -> float:
    """NVL72 over H100 in the better direction (throughput ratio, or time ratio H100 / NVL72)."""
    better = dict((m, b) for m, _, b in METRICS)[require_choice("metric", metric, LABELS)]
    h, n = values["h100"][metric], values["nvl72"][metric]
    return n / h if better == "higher" else h / n


def table(scenario: Scenario = Scenario()) -> "pd.DataFrame":  # noqa: F821
    """The seed's table, every cell, under both presets, with the NVL72 advantage of each."""
    import pandas as pd

    both = {p: cells(p, scenario) for p in PRESETS}
    rows = []
    for metric, unit, _ in METRICS:
        row = {"metric": LABELS[metric], "unit": unit}
        for p, v in both.items():
            row[f"H100 ({p})"] = v["h100"][metric]
            row[f"NVL72 ({p})"] = v["nvl72"][metric]
            row[f"advantage ({p})"] = advantage(metric, v)
        rows.append(row)
    return pd.DataFrame(rows)


def rack_decode_tok_s(preset: str = "seed", scenario: Scenario = Scenario(), replicas: int = 9) -> float:
    """Decode tokens/s of the rack: ``replicas`` independent TP replicas (72 / 8 = 9)."""
    return replicas * cells(preset, scenario)["nvl72"]["decode_tok_s"]


def advantage_grid(contexts=(1024, 4096, 16384, 65536), batches=(1, 16, 64, 256)) -> "pd.DataFrame":  # noqa: F821
    """Datasheet decode-throughput advantage of an NVL72 replica over 8x H100 by context and batch."""
    import pandas as pd

    rows = []
    for c in contexts:
        for b in batches:
            try:
                v = cells("datasheet", Scenario(context=c, batch=b))
                rows.append({"context": c, "batch": b, "advantage": advantage("decode_tok_s", v),
                             "h100_tok_s": v["h100"]["decode_tok_s"], "nvl72_tok_s": v["nvl72"]["decode_tok_s"]})
            except ValueError:
                continue
    return pd.DataFrame(rows)


def kv_fit(scenario: Scenario = Scenario()) -> "pd.DataFrame":  # noqa: F821
    """Does the decode batch's KV cache fit? KV needed per GPU for ``batch`` sequences at ``context``
    tokens against the KV budget per GPU, for both sides under both presets."""
    import pandas as pd

    m = get_model(scenario.model)
    rows = []
    for side in SIDES:
        gpu, quant, fmt, kv_bytes, _ = _SIDE[side]
        for preset in PRESETS:
            f = fmt if preset == "datasheet" else {"FP8": "fp8", "FP4": "fp4-seed"}[quant]
            cap = kv_capacity(gpu, scenario.model, f, kv_bytes_per_element=kv_bytes, tp=scenario.tp,
                              num_gpus=scenario.tp, preset=preset)
            need = scenario.batch * scenario.context * m.kv_bytes_per_token(kv_bytes) / scenario.tp / 1e9
            rows.append({"side": side, "preset": preset, "kv_needed_gb_per_gpu": need,
                         "kv_budget_gb_per_gpu": cap["kv_budget_per_gpu_gb"],
                         "fits": need <= cap["kv_budget_per_gpu_gb"]})
    return pd.DataFrame(rows)
