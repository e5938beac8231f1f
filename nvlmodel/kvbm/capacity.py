"""KV capacity: the seed's ``compute_kv_capacity`` (lines 193-225) as written, and
:func:`kv_capacity` under either preset (datasheet: HBM visible to software, derived parameters,
NVFP4 at 4.5 bits, KV heads replicated beyond TP = KV heads)."""

from __future__ import annotations

from ..document import B200_CONFIG, FORMAT_FOR, LLAMA_405B_CONFIG, NVL72_CONFIG, SESSION_TOKENS, WORKSPACE_BYTES
from dataclasses import dataclass

from ..fp4 import get_format
from ..hardware import PRESETS, GPUSpec, get_gpu
from ..models import ModelArch, get_model
from ..premises import Premises, as_premises
from ..units import GB, TB, require_choice, require_positive, require_positive_int


def compute_kv_capacity(model_config: dict, gpu_config: dict, rack_config: dict) -> dict:
    """The seed's ``compute_kv_capacity`` (lines 193-225), unchanged but validated: HBM (GB,
    decimal) minus this GPU's share of the weights minus 3 GB of workspace, divided by the KV bytes
    per token; and the rack totals."""
    for key in ("total_params", "weight_dtype_bytes", "num_layers", "num_kv_heads", "head_dim", "kv_dtype_bytes"):
        if key not in model_config:
            raise KeyError(f"model_config lacks {key!r}")
        require_positive(f"model_config[{key!r}]", model_config[key])
    require_positive("gpu_config['hbm_gb']", gpu_config["hbm_gb"])
    for key in ("tp_degree", "num_gpus"):
        require_positive(f"rack_config[{key!r}]", rack_config[key])
    kv_bytes_per_token = (2 * model_config["num_layers"] * model_config["num_kv_heads"]
                          * model_config["head_dim"] * model_config["kv_dtype_bytes"])
    weight_per_gpu = model_config["total_params"] * model_config["weight_dtype_bytes"] / rack_config["tp_degree"]
    kv_budget_per_gpu = gpu_config["hbm_gb"] * 1e9 - weight_per_gpu - WORKSPACE_BYTES  # 3 GB workspace (line 211)
    if kv_budget_per_gpu <= 0:
        raise ValueError(f"the weights ({weight_per_gpu / 1e9:.1f} GB per GPU) and workspace leave no room for KV")
    tokens_per_gpu = kv_budget_per_gpu / kv_bytes_per_token
    total_gpus = rack_config["num_gpus"]
    total_tokens = tokens_per_gpu * total_gpus
    return {
        "kv_bytes_per_token": kv_bytes_per_token,
        "kv_budget_per_gpu_gb": kv_budget_per_gpu / 1e9,
        "tokens_per_gpu": int(tokens_per_gpu),
        "total_kv_budget_tb": kv_budget_per_gpu * total_gpus / 1e12,
        "total_tokens": int(total_tokens),
        "total_context_windows_128k": int(total_tokens / SESSION_TOKENS),  # 128_000 (line 224)
    }


#: The seed's inputs (lines 227-236), from :mod:`nvlmodel.document`.
SEED_LLAMA_405B, SEED_B200, SEED_NVL72 = LLAMA_405B_CONFIG, B200_CONFIG, NVL72_CONFIG


@dataclass(frozen=True)
class KVCapacity:
    """What :func:`kv_capacity` finds, in SI units (bytes, tokens, sessions)."""

    gpu: str
    hbm_bytes: float  # HBM counted per GPU (visible, or marketed under the seed's premise)
    weight_bytes_per_gpu: float
    kv_bytes_per_token: float  # a whole token's KV (all KV heads)
    kv_budget_bytes_per_gpu: float
    tokens_per_gpu: float  # the seed's meaning: budget / a whole token's KV
    tokens_per_replica: float  # what one TP group holds
    total_kv_budget_bytes: float
    total_tokens: float  # what num_gpus / tp replicas hold
    sessions: float  # total_tokens / session_tokens


def kv_capacity(gpu: "str | GPUSpec", model: str | ModelArch = "llama-3.1-405b", weight_format: str = "nvfp4", *,
                kv_bytes_per_element: float = 1.0, tp: int = 8, num_gpus: int = 72,
                premises: "str | Premises" = "datasheet",
                workspace_bytes: float = WORKSPACE_BYTES, session_tokens: int = SESSION_TOKENS,
                memory_fraction: float = 1.0, fraction_of: str = "capacity", attention_dp: int = 1,
                expert_format: str | None = None) -> dict:
    """KV capacity per GPU and in total: (HBM x ``memory_fraction`` - weights / tp - workspace) per
    GPU, divided by the KV bytes of one token on one GPU of the TP group.

    ``seed``: marketed HBM and the round parameter count; ``datasheet``: the HBM bytes software
    sees and the derived count. A TP group holds each token's KV spread over its GPUs, with at least
    one whole KV head per GPU (:meth:`~nvlmodel.models.ModelArch.kv_bytes_per_token_per_gpu`): at
    TP above the KV-head count the heads are replicated and capacity stops growing with TP.
    Returns a :class:`KVCapacity` in SI units. ``tokens_per_gpu`` keeps the seed's meaning (budget / a whole token's KV); ``tokens_per_replica``
    is what one TP group holds; ``total_tokens`` what ``num_gpus / tp`` replicas hold.
    ``fraction_of="free"`` applies ``memory_fraction`` to what the weights and workspace leave
    (TensorRT-LLM's ``free_gpu_memory_fraction``) instead of to all of HBM (vLLM's
    ``gpu_memory_utilization``, SGLang's ``mem_fraction_static``).
    Mixture-of-experts models: a worker of ``tp x attention_dp`` GPUs holds 1/tp of the dense
    weights on each GPU and spreads the routed experts (in ``expert_format``, default the weight
    format) over all its GPUs; each attention-DP rank keeps the KV of its own sequences, so
    ``tokens_per_replica`` is what the whole worker holds.
    Raises ``ValueError`` when the weights do not fit or ``tp`` spans more than one NVLink domain
    or two whole HGX nodes (:meth:`~nvlmodel.hardware.GPUSpec.require_tp`: memory is per GPU,
    wherever the group's all-reduces run)."""
    p = as_premises(premises)
    g = gpu if isinstance(gpu, GPUSpec) else get_gpu(gpu, p)
    m = model if isinstance(model, ModelArch) else get_model(model)
    for what, v in (("tp", tp), ("num_gpus", num_gpus), ("session_tokens", session_tokens)):
        require_positive_int(what, v)
    g.require_tp(tp, across_nodes=True)
    require_positive("workspace_bytes", workspace_bytes, allow_zero=True)
    if not 0 < require_positive("memory_fraction", memory_fraction) <= 1:
        raise ValueError(f"memory_fraction is a fraction of HBM in (0, 1], got {memory_fraction}")
    hbm = g.hbm_visible_bytes  # under the marketed_hbm premise (the seed) the marketed figure
    require_positive_int("attention_dp", attention_dp)
    routed = m.routed_expert_params if m.is_moe and not p.nominal_params else 0
    weights = ((m.params(p) - routed) * get_format(weight_format).bytes_per_element / tp
               + routed * get_format(expert_format or weight_format).bytes_per_element / (tp * attention_dp))
    require_choice("fraction_of", fraction_of, ("capacity", "free"))
    if fraction_of == "capacity":
        budget = hbm * memory_fraction - weights - workspace_bytes
    else:
        budget = (hbm - weights - workspace_bytes) * memory_fraction
    if budget <= 0:
        raise ValueError(f"{m.name} in {weight_format} over TP{tp} takes {weights / GB:.1f} GB per GPU: no room "
                         f"for KV in {hbm * memory_fraction / GB:.0f} GB")
    per_token = m.kv_bytes_per_token(kv_bytes_per_element)
    per_replica = budget / m.kv_bytes_per_token_per_gpu(kv_bytes_per_element, tp) * attention_dp
    total = per_replica * num_gpus / (tp * attention_dp)
    return KVCapacity(gpu=g.name, hbm_bytes=hbm, weight_bytes_per_gpu=weights, kv_bytes_per_token=per_token,
                      kv_budget_bytes_per_gpu=budget, tokens_per_gpu=budget / per_token, tokens_per_replica=per_replica,
                      total_kv_budget_bytes=budget * num_gpus, total_tokens=total, sessions=total / session_tokens)


#: The rows of the seed's capacity table (lines 244-248): label, GPU, weight precision, KV bytes, GPUs.
CAPACITY_ROWS: tuple[tuple[str, str, str, float, int], ...] = (
    ("8x H100 (FP8 weights, FP16 KV)", "h100", "FP8", 2.0, 8),
    ("72x H100 (FP8 weights, FP16 KV)", "h100", "FP8", 2.0, 72),
    ("72x B200 NVL72 (FP4 weights, FP8 KV)", "gb200-b200", "FP4", 1.0, 72),
)


def capacity_table(preset: str = "seed", model: str = "llama-405b") -> "pd.DataFrame":  # noqa: F821
    """The seed's H100-vs-NVL72 capacity table (every column) by :func:`kv_capacity` under ``preset``."""
    import pandas as pd

    rows = []
    for label, gpu, prec, kvb, n in CAPACITY_ROWS:
        c = kv_capacity(gpu, model, FORMAT_FOR[require_choice("preset", preset, PRESETS)][prec],
                        kv_bytes_per_element=kvb, tp=8, num_gpus=n, premises=preset)
        rows.append({"configuration": label, "GPUs": n, "kv_budget_per_gpu_gb": c.kv_budget_bytes_per_gpu / GB,
                     "total_kv_budget_tb": c.total_kv_budget_bytes / TB, "sessions_128k": c.sessions,
                     "tokens_cached": c.total_tokens})
    return pd.DataFrame(rows)
