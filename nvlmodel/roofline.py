"""Inference rooflines: the seed's two functions as written, and a fuller decode/prefill model.

The seed's model (lines 46-80, 387-416)
    ``compute_inference_throughput``: decode at batch 1 reads every weight once per token:
    tokens/s = min(HBM bandwidth / weight bytes, peak FLOP/s / (2 x params)), with 2, 1 and 0.5
    bytes per parameter for FP16, FP8 and FP4/INT4 and the printed (2:4-sparse) peaks.
    ``estimate_prefill_throughput``: max(compute, weight read) time for seq_len x batch tokens.

The fuller model (:func:`decode_step`, :func:`prefill`)
    A decode step of a batch of B sequences at context L, on one GPU of a TP group of size t:

    .. math::

        t_\\text{step} = \\max\\Big(\\frac{W/t + B\\,L\\,k/t}{\\eta_b\\,\\beta},\\;
                         \\frac{B\\,F(L)/t}{\\eta_c\\,P}\\Big) + t_\\text{comm} + t_0

    with W the weight bytes (from the weight format, scale overhead included), k the KV bytes per
    token held by one GPU (``max(kv_heads / t, 1)`` heads: beyond t = kv_heads the KV heads are
    replicated, so k stops shrinking), F(L)/P the compute time of one token -- the weight GEMMs
    (2 x matmul params) at the dense peak of the weight format's compute dtype, plus attention's
    Q.K^T and A.V at the peak of the attention dtype (BF16, or FP8 with an FP8 KV cache) --, beta
    the HBM bandwidth, eta_b and eta_c the achieved fractions (1 = the pure bound, until
    calibrated), t_comm the tensor-parallel communication per step (0 here; see
    :mod:`nvlmodel.collectives`) and t_0 a fixed per-step overhead.

    FP4 weights run as NVFP4 weights *and* activations (W4A4, ``fp4_mode="w4a4"``): what
    TensorRT-LLM and vLLM run for NVFP4 checkpoints, at the FP4 tensor peak. ``fp4_mode="w4a8"``
    keeps FP4 weights with FP8 activations (the seed's runner sketch, lines 483-505), which run at
    the FP8 peak. A tensor-parallel group spans one NVLink domain, or at most two whole HGX nodes
    (:meth:`nvlmodel.hardware.GPUSpec.require_tp` with ``across_nodes``: the bounds hold no
    communication, which the calibrated model adds, between nodes too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .document import FORMAT_FOR, QUANT_BYTES
from .fp4 import FORMATS, get_format
from .hardware import PRESETS, GPUSpec, get_gpu
from .premises import Premises, as_premises
from .models import ModelArch, get_model
from .units import TFLOPS, require_choice, require_positive, require_positive_int

#: The seed's quantization names and its bytes per parameter (lines 53-60).
SEED_QUANTIZATIONS = QUANT_BYTES


# --------------------------------------------------------------------------------------------
# The seed's functions, as written (validated)
# --------------------------------------------------------------------------------------------

def _spec(gpu_specs: Mapping[str, float], key: str) -> float:
    if key not in gpu_specs:
        raise KeyError(f"gpu_specs lacks {key!r}; it needs hbm_bandwidth (bytes/s) and fp16/fp8/fp4_tflops")
    return require_positive(key, gpu_specs[key])


def seed_gpu_specs(gpu: str) -> dict[str, float]:
    """A GPU's ``seed`` preset in the dict form the document's functions take (line 82-83)."""
    g = get_gpu(gpu, "seed")
    specs = {"hbm_bandwidth": g.hbm_bandwidth, "fp16_tflops": g.fp16_dense_flops / TFLOPS,
             "fp8_tflops": g.fp8_dense_flops / TFLOPS}
    if g.fp4_dense_flops:
        specs["fp4_tflops"] = g.fp4_dense_flops / TFLOPS
    return specs


def compute_inference_throughput(gpu_specs: Mapping[str, float], model_params: float,
                                 quantization: str) -> dict[str, float | str]:
    """The seed's decode estimate at batch 1 (lines 46-80), unchanged: bandwidth-bound and
    compute-bound tokens/s and the smaller of the two. ``quantization``: FP16, FP8, FP4 or INT4
    (INT4 uses the FP16 peak, as in the seed's ``else`` branch)."""
    require_choice("quantization", quantization, SEED_QUANTIZATIONS)
    require_positive("model_params", model_params)
    weight_bytes = model_params * SEED_QUANTIZATIONS[quantization]
    bw_tokens_per_sec = _spec(gpu_specs, "hbm_bandwidth") / weight_bytes
    flops_per_token = 2 * model_params
    key = {"FP4": "fp4_tflops", "FP8": "fp8_tflops"}.get(quantization, "fp16_tflops")
    compute_tokens_per_sec = _spec(gpu_specs, key) * 1e12 / flops_per_token
    actual = min(bw_tokens_per_sec, compute_tokens_per_sec)
    return {
        "bandwidth_bound": bw_tokens_per_sec,
        "compute_bound": compute_tokens_per_sec,
        "actual": actual,
        "bottleneck": "memory" if bw_tokens_per_sec < compute_tokens_per_sec else "compute",
    }


def estimate_prefill_throughput(gpu_specs: Mapping[str, float], model_params: float, quant: str,
                                seq_len: int, batch_size: int) -> dict[str, float | str]:
    """The seed's prefill estimate (lines 387-416), unchanged: time = max(tokens x 2 x params /
    peak, weight bytes / bandwidth); FP4 and FP8 use their peaks, anything else FP16."""
    require_choice("quant", quant, SEED_QUANTIZATIONS)
    require_positive("model_params", model_params)
    require_positive("seq_len", seq_len)
    require_positive("batch_size", batch_size)
    tokens = seq_len * batch_size
    key = {"FP4": "fp4_tflops", "FP8": "fp8_tflops"}.get(quant, "fp16_tflops")
    peak_flops = _spec(gpu_specs, key) * 1e12
    weight_bytes = model_params * {"FP4": 0.5, "FP8": 1.0}.get(quant, 2.0)
    compute_time = tokens * 2 * model_params / peak_flops
    memory_time = weight_bytes / _spec(gpu_specs, "hbm_bandwidth")
    prefill_time = max(compute_time, memory_time)
    return {
        "prefill_time_ms": prefill_time * 1000,
        "throughput_tokens_per_sec": tokens / prefill_time,
        "bottleneck": "compute" if compute_time > memory_time else "memory",
    }


#: The rows of the seed's decode table (lines 96-102).
SEED_DECODE_ROWS: tuple[tuple[str, str], ...] = (
    ("h100", "FP16"), ("h100", "FP8"), ("b200", "FP16"), ("b200", "FP8"), ("b200", "FP4"))


def seed_decode_table(model: str = "llama-70b") -> "pd.DataFrame":  # noqa: F821
    """The seed's single-GPU decode table (Llama 70B, batch 1), every column, by its own function."""
    import pandas as pd

    params = get_model(model).params("seed")
    rows = []
    for gpu, quant in SEED_DECODE_ROWS:
        r = compute_inference_throughput(seed_gpu_specs(gpu), params, quant)
        rows.append({"configuration": f"{get_gpu(gpu, 'seed').name.split()[0]}, {quant}",
                     "gpu": gpu, "quantization": quant,
                     "bw_bound_tok_s": r["bandwidth_bound"], "compute_bound_tok_s": r["compute_bound"],
                     "actual_tok_s": r["actual"], "bottleneck": str(r["bottleneck"]).capitalize()})
    return pd.DataFrame(rows)


def seed_crossover_batch(gpu: str, quantization: str, model: str = "llama-70b") -> float:
    """Batch at which the seed's own decode model turns compute-bound: its compute-bound rate
    over its bandwidth-bound rate (each sequence adds 2 x params FLOPs per step while the weights
    are read once per step)."""
    r = compute_inference_throughput(seed_gpu_specs(gpu), get_model(model).params("seed"), quantization)
    return r["compute_bound"] / r["bandwidth_bound"]


# --------------------------------------------------------------------------------------------
# The fuller model
# --------------------------------------------------------------------------------------------

#: Weight format -> tensor-core dtype whose peak bounds its matmuls (weight-only INT4 runs FP16).
COMPUTE_DTYPE: dict[str, str] = {"fp16": "fp16", "fp8": "fp8", "fp4-seed": "fp4", "mxfp4": "fp4", "nvfp4": "fp4",
                                 "int4-g32": "fp16", "int4-g128": "fp16"}
#: FP4 execution modes: the tensor-core dtype of the weight GEMMs when the weights are FP4 (W4A16:
#: weights dequantized to BF16, as on GPUs without FP4 tensor cores).
FP4_MODES: dict[str, str] = {"w4a4": "fp4", "w4a8": "fp8", "w4a16": "fp16"}
#: Attention (Q.K^T, A.V) dtype by KV-cache bytes per element: FP8 attention with an FP8 cache, else BF16.
ATTENTION_DTYPE: dict[float, str] = {1.0: "fp8", 2.0: "bf16"}


def gemm_dtype(weight_format: str, fp4_mode: str = "w4a4") -> str:
    """Tensor-core dtype of the weight GEMMs of ``weight_format`` (FP4 formats: by ``fp4_mode``)."""
    require_choice("fp4_mode", fp4_mode, FP4_MODES)
    dtype = COMPUTE_DTYPE[require_choice("weight format", weight_format, COMPUTE_DTYPE)]
    return FP4_MODES[fp4_mode] if dtype == "fp4" else dtype


def _attention_dtype(kv_bytes_per_element: float, override: str | None = None) -> str:
    """The dtype attention's matmuls run in: ``override`` if given (bf16, fp16, fp8), else FP8 with a
    1-byte KV cache and BF16 otherwise."""
    if override is not None:
        return require_choice("attention_dtype", override, ("bf16", "fp16", "fp8"))
    return ATTENTION_DTYPE.get(float(kv_bytes_per_element), "bf16")




@dataclass(frozen=True)
class Efficiency:
    """Achieved fractions of peak compute and HBM bandwidth, and a fixed overhead per step.
    The defaults are the pure roofline bound; calibration against measurements fits them."""

    compute: float = 1.0
    bandwidth: float = 1.0
    step_overhead_s: float = 0.0

    def __post_init__(self):
        for name in ("compute", "bandwidth"):
            v = require_positive(f"efficiency.{name}", getattr(self, name))
            if v > 1:
                raise ValueError(f"efficiency.{name} is a fraction of peak and must be <= 1, got {v}")
        require_positive("efficiency.step_overhead_s", self.step_overhead_s, allow_zero=True)


@dataclass(frozen=True)
class StepTime:
    """One forward step on one GPU of a TP group: what it moves, computes, and how long it takes.
    Fields are floats, or arrays when the step was asked for an array of batch sizes."""

    tokens: float  # tokens produced (decode: batch) or processed (prefill: batch x prompt), per attention rank
    weight_bytes: float  # per GPU
    kv_bytes: float  # per GPU, read (decode) or written (prefill)
    flops: float  # per GPU, weight GEMMs + attention
    attention_flops: float  # per GPU, the part of ``flops`` in Q.K^T and A.V
    t_memory: float  # s
    t_compute: float  # s
    t_comm: float  # s, tensor-parallel communication
    t_overhead: float  # s

    @property
    def time(self) -> float:
        """Seconds per step: the slower of memory and compute, plus communication and overhead."""
        t = np.maximum(self.t_memory, self.t_compute) + self.t_comm + self.t_overhead
        return float(t) if np.ndim(t) == 0 else t

    @property
    def bottleneck(self) -> str:
        if np.ndim(self.t_compute):
            return np.where(self.t_compute > self.t_memory, "compute", "memory")
        return "compute" if self.t_compute > self.t_memory else "memory"

    @property
    def tokens_per_s(self) -> float:
        """Tokens per second of one attention rank of the TP group (decode: the batch's output rate)."""
        return self.tokens / self.time


def _resolve(gpu: str | GPUSpec, model: str | ModelArch, weight_format: str, premises: "str | Premises", tp: int,
             attention_dp: int = 1, ep: int = 1):
    p = as_premises(premises)
    g = gpu if isinstance(gpu, GPUSpec) else get_gpu(gpu, p)
    m = model if isinstance(model, ModelArch) else get_model(model)
    f = get_format(weight_format)
    if f.name not in COMPUTE_DTYPE:
        raise ValueError(f"no compute dtype for format {f.name!r}; valid: {', '.join(COMPUTE_DTYPE)}")
    g.require_tp(tp, across_nodes=True)
    require_parallel(m, tp, attention_dp, ep)
    return g, m, f, p


def require_parallel(model: ModelArch, tp: int, attention_dp: int = 1, ep: int = 1) -> int:
    """Check a worker's parallelism and return its GPU count ``tp x attention_dp``: attention is split
    ``tp`` ways and replicated ``attention_dp`` times; a MoE model's routed experts are split over
    all of the worker's GPUs, ``ep`` ways by expert and ``tp x attention_dp / ep`` ways within each
    expert. A dense model takes ``attention_dp = ep = 1``."""
    for what, v in (("tp", tp), ("attention_dp", attention_dp), ("ep", ep)):
        require_positive_int(what, v)
    gpus = tp * attention_dp
    if not model.is_moe and (attention_dp, ep) != (1, 1):
        raise ValueError(f"{model.name} is dense: attention_dp and ep must be 1 (got {attention_dp}, {ep})")
    if model.is_moe and model.expert_slots % ep:
        raise ValueError(f"ep={ep} does not divide the {model.expert_slots} experts of {model.name}"
                         + ("" if model.redundant_experts else " (redundant experts can make it: "
                            "ModelArch.with_redundant_experts)"))
    if model.is_moe and gpus % ep:
        raise ValueError(f"ep={ep} does not divide the worker's {gpus} GPUs (tp x attention_dp)")
    if model.heads % tp:
        raise ValueError(f"tp={tp} does not divide the {model.heads} attention heads of {model.name}")
    return gpus


def _weights_and_gemm_flops(m: ModelArch, f, fe, premises: Premises, tp: int, attention_dp: int, ep: int, tokens):
    """Weight bytes one GPU reads in a step, and its GEMM FLOPs in the dense part and in the routed
    experts, for ``tokens`` tokens per attention rank (scalar or array). Dense part (attention,
    dense MLPs, shared experts, LM head): ``1/tp`` of it, every step. Routed experts: the experts
    the worker's ``tokens x attention_dp`` tokens touch among this GPU's ``E / ep`` (expected,
    uniform routing), each ``ep / (tp x attention_dp)`` of an expert; their FLOPs spread evenly
    over the worker. Under nominal parameter counts (the seed) everything is dense."""
    routed = m.moe_layers * m.experts_active * m.expert_params if m.is_moe and not premises.nominal_params else 0
    dense = m.matmul_params(premises) - routed
    weights = dense * f.bytes_per_element / tp
    dense_flops = tokens * 2.0 * dense / tp
    if not routed:
        return weights, dense_flops, 0.0 * dense_flops
    gpus = tp * attention_dp
    touched = m.expected_experts_touched(tokens * attention_dp, ep)
    weights = weights + m.moe_layers * touched * m.expert_params * fe.bytes_per_element * ep / gpus
    return weights, dense_flops, tokens * attention_dp * 2.0 * routed / gpus


def dense_gemm_time(gpu: str | GPUSpec, model: str | ModelArch, weight_format: str = "nvfp4", *, tokens,
                    tp: int = 1, premises: "str | Premises" = "datasheet", efficiency: Efficiency = Efficiency(),
                    fp4_mode: str = "w4a4") -> "float | np.ndarray":
    """Seconds of one GPU's dense weight GEMMs (attention projections, dense MLPs, shared experts,
    LM head: everything but the routed experts) over ``tokens`` tokens of its attention rank, at the
    achieved peak of the format's compute dtype: the part of a step that the busiest attention rank
    sets when a worker's ranks carry unequal loads (the routed experts' part depends on the worker's
    total tokens). It is the dense term of :func:`decode_step`'s compute time.

    >>> m = get_model("deepseek-v3"); dense = m.matmul_params() - m.moe_layers * m.experts_active * m.expert_params
    >>> t = dense_gemm_time("b200", m, "fp8", tokens=1024, tp=1)
    >>> round(t / (1024 * 2 * dense / get_gpu("b200").peak_flops("fp8")), 12)
    1.0
    """
    g, m, f, p = _resolve(gpu, model, weight_format, premises, tp)
    _, dense_flops, _ = _weights_and_gemm_flops(m, f, f, p, tp, 1, 1, _require_batch(tokens))
    return dense_flops / (g.peak_flops(gemm_dtype(f.name, fp4_mode)) * efficiency.compute)


def _step(g: GPUSpec, m: ModelArch, f, premises: Premises, tp: int, *, tokens, kv, attn_flops, attn_dtype: str,
          fp4_mode: str, efficiency: Efficiency, comm_s: float, attention_dp: int = 1, ep: int = 1,
          expert_format: str | None = None, gemm_flops=None) -> StepTime:
    """What decode and prefill share: this GPU's share of the weights read once (MoE: the experts
    the step touches), plus ``kv`` bytes, over the achieved HBM bandwidth; the weight GEMMs at the
    achieved peak of their format's compute dtype (experts: ``expert_format``'s) and attention at
    the achieved peak of ``attn_dtype``. ``gemm_flops`` replaces the GEMM FLOPs (the seed's
    weights-only count)."""
    require_positive("comm_s", comm_s, allow_zero=True)
    fe = f if expert_format is None else get_format(expert_format)
    weights, dense_flops, expert_flops = _weights_and_gemm_flops(m, f, fe, premises, tp, attention_dp, ep, tokens)
    if gemm_flops is not None:
        dense_flops, expert_flops = gemm_flops, 0.0

    def peak(fmt) -> float:
        return g.peak_flops(gemm_dtype(fmt.name, fp4_mode)) * efficiency.compute

    return StepTime(tokens=tokens, weight_bytes=weights, kv_bytes=kv, flops=dense_flops + expert_flops + attn_flops,
                    attention_flops=attn_flops,
                    t_memory=(weights + kv) / (g.hbm_bandwidth * efficiency.bandwidth),
                    t_compute=dense_flops / peak(f) + expert_flops / peak(fe)
                    + attn_flops / (g.peak_flops(attn_dtype) * efficiency.compute),
                    t_comm=comm_s, t_overhead=efficiency.step_overhead_s)


def _require_batch(batch):
    if isinstance(batch, np.ndarray):
        if batch.size == 0 or not np.all(np.isfinite(batch)) or np.any(batch <= 0):
            raise ValueError("batch must hold finite numbers > 0")
        return batch.astype(float)
    return require_positive("batch", batch)


def decode_step(gpu: str | GPUSpec, model: str | ModelArch, weight_format: str = "nvfp4", *,
                batch=1, context: int = 0, kv_bytes_per_element: float = 1.0, tp: int = 1,
                premises: "str | Premises" = "datasheet", efficiency: Efficiency = Efficiency(),
                comm_s: float = 0.0, fp4_mode: str = "w4a4", attention_dtype: str | None = None,
                attention_dp: int = 1, ep: int = 1, expert_format: str | None = None) -> StepTime:
    """One decode step: each of ``batch`` sequences (per attention rank; a number or an array) at
    ``context`` tokens emits one token.

    Weights are read once per step; each sequence's KV cache
    (``model.kv_bytes_per_sequence_per_gpu(context, kv_bytes_per_element, tp)``) is read once, unless the
    ``no_kv_reads`` premise holds. Under ``seed`` the weight bytes use every parameter and FLOPs are
    ``2 x params`` per token at the weight format's peak, so at batch 1 and context 0 this is exactly
    :func:`compute_inference_throughput`. Otherwise attention runs at ``attention_dtype`` (default:
    FP8 with a 1-byte KV cache, else BF16) and the weight GEMMs at the format's peak (FP4: by
    ``fp4_mode``, W4A4 or W4A8). ``premises`` is a preset name or any
    :class:`~nvlmodel.premises.Premises`.

    Mixture-of-experts models: a worker of ``tp x attention_dp`` GPUs with ``ep``-way expert
    parallelism (:func:`require_parallel`) reads, per step, only the routed experts its tokens touch
    (:meth:`~nvlmodel.models.ModelArch.expected_experts_touched`); ``expert_format`` is the routed
    experts' weight format where it differs (gpt-oss: MXFP4 experts, BF16 attention).
    """
    g, m, f, p = _resolve(gpu, model, weight_format, premises, tp, attention_dp, ep)
    batch = _require_batch(batch)
    require_positive("context", context, allow_zero=True)
    kv = 0.0 if p.no_kv_reads else batch * m.kv_bytes_per_sequence_per_gpu(context, kv_bytes_per_element, tp)
    gemm = None
    if p.weights_only_flops:
        gemm, attn = batch * m.flops_per_token(premises=p) / tp, 0.0 * batch
    else:
        attn = batch * m.attention_flops_per_token(context, "decode") / tp
    return _step(g, m, f, p, tp, tokens=batch, kv=kv, attn_flops=attn, gemm_flops=gemm,
                 attn_dtype=_attention_dtype(kv_bytes_per_element, attention_dtype), fp4_mode=fp4_mode,
                 efficiency=efficiency, comm_s=comm_s, attention_dp=attention_dp, ep=ep, expert_format=expert_format)


def prefill(gpu: str | GPUSpec, model: str | ModelArch, weight_format: str = "nvfp4", *,
            prompt: int, batch: int = 1, kv_bytes_per_element: float = 1.0, tp: int = 1,
            premises: "str | Premises" = "datasheet", efficiency: Efficiency = Efficiency(), comm_s: float = 0.0,
            fp4_mode: str = "w4a4", attention_dtype: str | None = None, attention_dp: int = 1, ep: int = 1,
            expert_format: str | None = None) -> StepTime:
    """Prefill of ``batch`` prompts of ``prompt`` tokens (per attention rank) in one pass: weights
    read once (MoE: the experts the prompt tokens touch, nearly all of them), the new KV written
    once, causal attention FLOPs (token i attends to i earlier tokens) at the attention dtype
    (datasheet). Its ``time`` is the TTFT of a request that arrives alone on a worker without
    attention DP; with ``attention_dp`` ranks it is a step in which every rank prefills its own
    prompts (the routed experts serve all ranks' tokens: a busy worker's step, longer than a lone
    prompt's on one rank, which the simulation charges to that rank, :mod:`nvlmodel.serve.cost`)."""
    g, m, f, p = _resolve(gpu, model, weight_format, premises, tp, attention_dp, ep)
    require_positive("prompt", prompt)
    require_positive("batch", batch)
    kv = 0.0 if p.no_kv_reads else batch * m.kv_bytes_per_sequence_per_gpu(prompt, kv_bytes_per_element, tp)
    gemm = None
    if p.weights_only_flops:
        gemm, attn = batch * m.prefill_flops(prompt, p) / tp, 0.0
    else:
        attn = batch * m.prefill_attention_flops(prompt) / tp
    return _step(g, m, f, p, tp, tokens=batch * prompt, kv=kv, attn_flops=attn, gemm_flops=gemm,
                 attn_dtype=_attention_dtype(kv_bytes_per_element, attention_dtype), fp4_mode=fp4_mode,
                 efficiency=efficiency, comm_s=comm_s, attention_dp=attention_dp, ep=ep, expert_format=expert_format)


def attention_share_table(gpu: str = "gb200-b200", model: str = "llama-3.1-405b", weight_format: str = "nvfp4", *,
                          prompts=(4096, 32768, 131072), tp: int = 8) -> "pd.DataFrame":  # noqa: F821
    """Prefill compute time of one prompt when attention runs at its own dtype (BF16 or FP8) against
    every FLOP at the weight format's peak (what a roofline that ignores the attention dtype does).
    Attention's share of FLOPs grows with the prompt, so the difference does too."""
    import pandas as pd

    rows = []
    for p in prompts:
        bf16 = prefill(gpu, model, weight_format, prompt=p, tp=tp, kv_bytes_per_element=2.0)
        fp8 = prefill(gpu, model, weight_format, prompt=p, tp=tp, kv_bytes_per_element=1.0)
        g = get_gpu(gpu) if isinstance(gpu, str) else gpu
        all_at_weight_peak = bf16.flops / g.peak_flops(gemm_dtype(weight_format))
        rows.append({"prompt (tokens)": p, "attention share of FLOPs": bf16.attention_flops / bf16.flops,
                     "all FLOPs at weight peak (s)": all_at_weight_peak, "attention at FP8 (s)": fp8.t_compute,
                     "attention at BF16 (s)": bf16.t_compute,
                     "BF16 / all at weight peak": bf16.t_compute / all_at_weight_peak})
    return pd.DataFrame(rows)


def crossover_batch(gpu: str | GPUSpec, model: str | ModelArch, weight_format: str = "nvfp4", *,
                    context: int = 0, kv_bytes_per_element: float = 1.0, tp: int = 1,
                    premises: "str | Premises" = "datasheet", efficiency: Efficiency = Efficiency()) -> float:
    """Batch at which a decode step turns compute-bound: W / beta = B (F/P - k L / beta).
    Returns ``inf`` when each added sequence costs more memory time than compute time (long
    contexts), so that decode never becomes compute-bound."""
    one = decode_step(gpu, model, weight_format, batch=1, context=context,
                      kv_bytes_per_element=kv_bytes_per_element, tp=tp, premises=premises, efficiency=efficiency)
    seconds_per_byte = one.t_memory / (one.weight_bytes + one.kv_bytes)
    per_seq_memory = one.kv_bytes * seconds_per_byte  # memory time each added sequence costs
    if one.t_compute <= per_seq_memory:
        return math.inf
    return one.weight_bytes * seconds_per_byte / (one.t_compute - per_seq_memory)


def weight_memory_table(models: tuple[str, ...] = ("llama-3.1-70b", "llama-3.1-405b"),
                        formats: tuple[str, ...] = ("fp16", "fp8", "fp4-seed", "mxfp4", "nvfp4")
                        ) -> "pd.DataFrame":  # noqa: F821
    """Weight bytes (GB) of each model in each format, derived parameters (datasheet) and the seed's
    round count beside them."""
    import pandas as pd

    rows = []
    for name in models:
        m = get_model(name)
        for fmt in formats:
            f = FORMATS[require_choice("format", fmt, FORMATS)]
            rows.append({"model": m.name, "format": fmt, "bits_per_param": f.bits_per_element,
                         "seed_params_gb": m.params("seed") * f.bytes_per_element / 1e9,
                         "derived_params_gb": m.params("datasheet") * f.bytes_per_element / 1e9})
    return pd.DataFrame(rows)


#: The curves of the roofline figure: (GPU, seed quantization name).
ROOFLINE_CURVES: tuple[tuple[str, str], ...] = (("h100", "FP8"), ("b200", "FP16"), ("b200", "FP8"), ("b200", "FP4"))


def roofline_curves(model: str = "llama-3.1-70b", batches=None, *, context: int = 4096,
                    kv_bytes_per_element: float = 1.0,
                    curves: tuple[tuple[str, str], ...] = ROOFLINE_CURVES) -> "pd.DataFrame":  # noqa: F821
    """Decode tokens/s per GPU against batch for each (GPU, quantization) under both presets.

    ``seed``: the document's method at every batch (weights only, printed peaks, its bytes per
    parameter and round parameter count); ``datasheet``: dense peaks, format bytes with scales,
    derived parameters and each sequence's KV cache read at ``context`` tokens."""
    import numpy as np
    import pandas as pd

    batches = np.unique(np.round(np.logspace(0, 11, 45, base=2))).astype(int) if batches is None else batches
    rows = []
    for gpu, quant in curves:
        for preset in PRESETS:
            for b in batches:
                s = decode_step(gpu, model, FORMAT_FOR[preset][quant], batch=int(b),
                                context=context, kv_bytes_per_element=kv_bytes_per_element, premises=preset)
                rows.append({"gpu": gpu, "quantization": quant, "preset": preset, "batch": int(b),
                             "tokens_per_s": s.tokens_per_s, "bottleneck": s.bottleneck})
    return pd.DataFrame(rows)
