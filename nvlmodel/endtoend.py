"""The seed's end-to-end comparison (lines 417-427): 8x H100 (FP8, TP8) against one TP8 replica
on an NVL72 (FP4), Llama 405B, composed from the section models.

``seed``
    Every cell by the document's own functions and inputs: ``estimate_prefill_throughput`` over the
    eight GPUs of a replica, ``compute_inference_throughput`` extended to a batch (weights read
    once per step), ``compute_kv_capacity``, and copy times over its NVLink figures. The model-swap
    row is the table's own model, Llama 405B, each GPU receiving its TP8 shard (the printed cells
    are Llama 70B copy times, see the ledger); the KV-block row is the document's 5.24 MB block.
``datasheet``
    Like with like: dense peaks, NVFP4 at 4.5 bits (W4A4), derived parameters, the HBM software
    sees, one-way NVLink, the same KV-cache dtype on both sides (FP8 by default, as the engines run
    FP8/FP4 models), KV reads at a stated context, attention at the KV dtype, the TP all-reduce of
    every layer from the engine's measured kernels (:func:`nvlmodel.collectives.engine_allreduce`),
    and a paged KV block moved as per-layer copies (:func:`nvlmodel.kvbm.block_transfer`). A decode
    batch whose KV does not fit is never reported as if it ran: the side runs the largest batch that
    fits (:func:`largest_batch`), and :func:`table` flags it. Efficiency factors are explicit
    parameters, 1 by default (the pure bound).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import collectives as col
from .fp4 import get_format
from .hardware import PRESETS, TP_DEGREES, get_gpu
from .kvbm import block_transfer, compute_kv_capacity, kv_capacity
from .models import MODEL_NAMES, get_model
from .document import FORMAT_FOR, KV_BLOCK_BYTES, QUANT_BYTES, SESSION_TOKENS
from .roofline import Efficiency, decode_step, estimate_prefill_throughput, prefill, seed_gpu_specs
from .units import MS, convert, require_choice, require_positive, require_positive_int

#: The metrics of the seed's table (lines 420-426), in order: the :class:`Cells` field (SI units),
#: the unit the table displays it in, and which way is better.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("prefill_tok_s", "tok/s", "higher"),
    ("decode_tok_s", "tok/s", "higher"),
    ("ttft_s", "ms", "lower"),
    ("tpot_s", "ms", "lower"),
    ("sessions_128k", "count", "higher"),
    ("swap_s", "ms", "lower"),
    ("kv_block_s", "us", "lower"),
)
LABELS = {
    "prefill_tok_s": "Prefill throughput (4K input)", "decode_tok_s": "Decode throughput (batch=256)",
    "ttft_s": "TTFT (4K input, 1 request)", "tpot_s": "Time per output token (batch=256)",
    "sessions_128k": "Max concurrent 128K sessions", "swap_s": "Model swap time (ModelExpress)",
    "kv_block_s": "KV block transfer (cross-GPU)",
}


@dataclass(frozen=True)
class Cells:
    """One side's cells of the table, in SI units (tokens/s, seconds, sessions); :func:`display` gives
    a metric in the unit the table shows."""

    prefill_tok_s: float
    decode_tok_s: float
    ttft_s: float  # one prompt's prefill
    tpot_s: float  # one decode step of the batch
    sessions_128k: float
    swap_s: float
    kv_block_s: float
    decode_batch: int  # the batch that runs (the requested one, or the largest that fits)


def label(metric: str, scenario: "Scenario | None" = None) -> str:
    """The table row's name for ``scenario``: the document's words (:data:`LABELS`) with its prompt
    length and batch replaced by the scenario's, so a rerun never shows "(batch=256)" for another batch."""
    require_choice("metric", metric, LABELS)
    s = Scenario() if scenario is None else scenario
    prompt = f"{s.prompt // 1024}K" if s.prompt % 1024 == 0 else f"{s.prompt:,}-token"
    return {"prefill_tok_s": f"Prefill throughput ({prompt} input)", "decode_tok_s": f"Decode throughput (batch={s.batch})",
            "ttft_s": f"TTFT ({prompt} input, 1 request)", "tpot_s": f"Time per output token (batch={s.batch})",
            }.get(metric, LABELS[metric])


def display(cells: Cells, metric: str) -> float:
    """A metric of ``cells`` in the unit the table shows it in (:data:`METRICS`)."""
    unit = dict((m, u) for m, u, _ in METRICS)[require_choice("metric", metric, LABELS)]
    return convert(getattr(cells, metric), unit)
SIDES = ("h100", "nvl72")


@dataclass(frozen=True)
class Scenario:
    """What is compared. Defaults are the seed's: Llama 405B, TP8, 4K prompt, decode batch 256;
    under ``datasheet`` both sides keep a ``kv_bytes_per_element`` KV cache (1: FP8) and pay the TP
    all-reduce of ``engine``'s measured kernels (trtllm, vllm, sglang or nccl)."""

    model: str = "llama-3.1-405b"
    tp: int = 8
    prompt: int = 4096
    batch: int = 256
    context: int = 4096  # KV tokens each decoding sequence reads (datasheet only)
    efficiency: Efficiency = Efficiency()
    kv_bytes_per_element: float = 1.0  # datasheet, both sides
    engine: str = "trtllm"  # whose TP all-reduce kernels (datasheet)
    block_tokens: int = 16  # tokens per paged KV block (datasheet)

    def __post_init__(self):
        for what in ("tp", "prompt", "batch", "block_tokens"):
            require_positive_int(what, getattr(self, what))
        require_positive("context", self.context, allow_zero=True)
        require_positive("kv_bytes_per_element", self.kv_bytes_per_element)
        require_choice("engine", self.engine, col.ENGINE_KERNELS)
        get_model(self.model)
        for side in SIDES:
            get_gpu(_SIDE[side][0]).require_tp(self.tp)
        reason = _no_room(self.model, self.tp, self.kv_bytes_per_element)
        if reason:
            domain = min(get_gpu(_SIDE[side][0]).nvlink_domain_gpus for side in SIDES)  # require_tp's bound
            fit_tp = [t for t in TP_DEGREES if t <= domain and not _no_room(self.model, t, self.kv_bytes_per_element)]
            fit_models = [m for m in MODEL_NAMES if not _no_room(m, self.tp, self.kv_bytes_per_element)]
            raise ValueError(
                f"{self.model} at tp={self.tp} leaves no room for KV in one replica: {reason}. "
                f"tp that fit: {', '.join(map(str, fit_tp)) or 'none (one 8-GPU HGX node cannot hold it)'}; "
                f"models that fit at tp={self.tp}: {', '.join(fit_models)}")


_SIDE = {  # gpu, seed quantization, datasheet weight format, seed KV bytes, measured system of its fabric
    "h100": ("h100", "FP8", "fp8", 2.0, "h100_sxm"),
    "nvl72": ("gb200-b200", "FP4", "nvfp4", 1.0, "gb200"),
}


def _seed_capacity(side: str, model: str, tp: int) -> dict:
    """One replica's KV capacity on ``side`` by the seed's own sketch (``compute_kv_capacity``)."""
    gpu, quant, _, kv_bytes, _ = _SIDE[side]
    m = get_model(model)
    cfg = {"total_params": m.params("seed"), "weight_dtype_bytes": QUANT_BYTES[quant], "num_layers": m.layers,
           "num_kv_heads": m.kv_heads, "head_dim": m.head_dim, "kv_dtype_bytes": kv_bytes}
    return compute_kv_capacity(cfg, {"hbm_gb": get_gpu(gpu, "seed").hbm_bytes / 1e9}, {"num_gpus": tp, "tp_degree": tp})


def _datasheet_capacity(side: str, model: str, tp: int, kv_bytes_per_element: float):
    """One replica's KV capacity on ``side`` under ``datasheet`` (a :class:`~nvlmodel.kvbm.KVCapacity`)."""
    gpu, _, fmt, _, _ = _SIDE[side]
    return kv_capacity(gpu, model, fmt, kv_bytes_per_element=kv_bytes_per_element, tp=tp, num_gpus=tp)


def _no_room(model: str, tp: int, kv_bytes_per_element: float) -> str | None:
    """Why ``model``'s weights at ``tp`` leave no KV budget on a side under a preset (None: they fit)."""
    for side in SIDES:
        try:
            _seed_capacity(side, model, tp)
        except ValueError as e:
            return f"{side} side, seed: {e}"
        try:
            _datasheet_capacity(side, model, tp, kv_bytes_per_element)
        except ValueError as e:
            return f"{side} side, datasheet: {e}"
    return None


def swap_seconds(model: str, gpu: str, weight_format: str, tp: int, preset: str) -> float:
    """Time for a TP group to receive a model over NVLink: each GPU its 1/tp shard over its own link,
    one direction, all in parallel (the document's ModelExpress model, lines 108-112)."""
    g = get_gpu(gpu, preset)
    return get_model(model).params(preset) * get_format(weight_format).bytes_per_element / tp / g.nvlink_bw_per_direction


def _seed_cells(side: str, s: Scenario) -> Cells:
    gpu, quant, _, _, _ = _SIDE[side]
    # a replica: the peaks and HBM bandwidth of its tp GPUs together
    specs = {k: v * s.tp for k, v in seed_gpu_specs("b200" if side == "nvl72" else gpu).items()}
    pre = estimate_prefill_throughput(specs, get_model(s.model).params("seed"), quant, s.prompt, 1)
    # the seed's decode function extended to a batch: weights read once per step, 2 x params per token
    step = decode_step("b200" if side == "nvl72" else gpu, s.model, FORMAT_FOR["seed"][quant], batch=s.batch,
                       tp=s.tp, premises="seed").time
    cap = _seed_capacity(side, s.model, s.tp)
    g = get_gpu(gpu, "seed")
    return Cells(prefill_tok_s=pre["throughput_tokens_per_sec"], decode_tok_s=s.batch / step,
                 ttft_s=pre["prefill_time_ms"] * MS, tpot_s=step,
                 sessions_128k=cap["total_tokens"] / SESSION_TOKENS,
                 swap_s=swap_seconds(s.model, gpu, FORMAT_FOR["seed"][quant], s.tp, "seed"),
                 kv_block_s=KV_BLOCK_BYTES / g.nvlink_bw_per_direction, decode_batch=s.batch)


def _comm(side: str, tokens: int, s: Scenario) -> float:
    """TP all-reduce time of one step from the engine's measured kernels on the side's fabric."""
    if s.tp == 1:
        return 0.0
    return col.tp_step_allreduce_time(s.model, tokens, col.engine_allreduce(_SIDE[side][4], s.tp, s.engine).time)


def _batch_fits(cap, context: int) -> int:
    """Sequences of ``context`` tokens whose KV one replica of capacity ``cap`` (a
    :class:`~nvlmodel.kvbm.KVCapacity`) holds."""
    return int(cap.tokens_per_replica // max(context, 1))


def _replica_capacity(side: str, s: Scenario):
    """One replica's KV capacity on ``side`` under ``datasheet``, with the scenario's KV dtype."""
    return _datasheet_capacity(side, s.model, s.tp, s.kv_bytes_per_element)


def largest_batch(side: str, scenario: Scenario = Scenario()) -> int:
    """The largest decode batch whose KV cache at ``context`` tokens fits in one replica's KV budget
    under ``datasheet`` (0 when not even one sequence fits)."""
    return _batch_fits(_replica_capacity(require_choice("side", side, SIDES), scenario), scenario.context)


def _datasheet_cells(side: str, s: Scenario) -> Cells:
    gpu, _, fmt, _, _ = _SIDE[side]
    kvb = s.kv_bytes_per_element
    cap = _replica_capacity(side, s)
    batch = min(s.batch, _batch_fits(cap, s.context))
    pre = prefill(gpu, s.model, fmt, prompt=s.prompt, tp=s.tp, kv_bytes_per_element=kvb,
                  efficiency=s.efficiency, comm_s=_comm(side, s.prompt, s))
    if batch >= 1:
        dec = decode_step(gpu, s.model, fmt, batch=batch, context=s.context, kv_bytes_per_element=kvb, tp=s.tp,
                          efficiency=s.efficiency, comm_s=_comm(side, batch, s))
        decode_tok_s, tpot_s = dec.tokens_per_s, dec.time
    else:
        decode_tok_s, tpot_s = 0.0, float("nan")
    g = get_gpu(gpu, "datasheet")
    block = block_transfer(s.model, g.nvlink_bw_per_direction, block_tokens=s.block_tokens,
                           kv_bytes_per_element=kvb, tp=s.tp)
    return Cells(prefill_tok_s=pre.tokens_per_s, decode_tok_s=decode_tok_s, ttft_s=pre.time, tpot_s=tpot_s,
                 sessions_128k=cap.sessions, swap_s=swap_seconds(s.model, gpu, fmt, s.tp, "datasheet"),
                 kv_block_s=block.time, decode_batch=batch)


def cells(preset: str = "seed", scenario: Scenario = Scenario()) -> dict[str, Cells]:
    """``{side: Cells}`` for ``h100`` and ``nvl72`` under ``preset``."""
    require_choice("preset", preset, PRESETS)
    fn = _seed_cells if preset == "seed" else _datasheet_cells
    return {side: fn(side, scenario) for side in SIDES}


def advantage(metric: str, values: dict[str, Cells]) -> float:
    """NVL72 over H100 in the better direction (throughput ratio, or time ratio H100 / NVL72)."""
    better = dict((m, b) for m, _, b in METRICS)[require_choice("metric", metric, LABELS)]
    h, n = getattr(values["h100"], metric), getattr(values["nvl72"], metric)
    return n / h if better == "higher" else h / n


def table(scenario: Scenario = Scenario()) -> "pd.DataFrame":  # noqa: F821
    """The seed's table, every cell, under both presets, with the NVL72 advantage of each, and a
    ``note`` where a side's decode batch does not fit and the largest one that does is shown."""
    import pandas as pd

    both = {p: cells(p, scenario) for p in PRESETS}
    rows = []
    for metric, unit, _ in METRICS:
        row = {"metric": label(metric, scenario), "unit": unit}
        for p, v in both.items():
            row[f"H100 ({p})"] = display(v["h100"], metric)
            row[f"NVL72 ({p})"] = display(v["nvl72"], metric)
            row[f"advantage ({p})"] = advantage(metric, v)
        notes = [f"{name} runs batch {both['datasheet'][side].decode_batch:,} ({scenario.batch:,} does not fit)"
                 for side, name in (("h100", "H100"), ("nvl72", "NVL72"))
                 if metric in ("decode_tok_s", "tpot_s") and both["datasheet"][side].decode_batch < scenario.batch]
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows)


def rack_decode_tok_s(preset: str = "seed", scenario: Scenario = Scenario(), replicas: int = 9) -> float:
    """Decode tokens/s of the rack: ``replicas`` independent TP replicas (72 / 8 = 9)."""
    return replicas * cells(preset, scenario)["nvl72"].decode_tok_s


def advantage_grid(contexts=(1024, 4096, 16384, 65536), batches=(1, 16, 64, 256),
                   scenario: Scenario = Scenario()) -> "pd.DataFrame":  # noqa: F821
    """Datasheet decode-throughput advantage of an NVL72 replica over 8x H100 by context and batch,
    for ``scenario``'s model, TP, KV dtype, engine and efficiencies. Each side runs the requested
    batch or, where its KV does not fit, the largest batch that does (``h100_batch``, ``nvl72_batch``)."""
    import pandas as pd

    rows = []
    for c in contexts:
        for b in batches:
            v = cells("datasheet", replace(scenario, context=c, batch=b))
            if min(v["h100"].decode_batch, v["nvl72"].decode_batch) < 1:
                continue
            rows.append({"context": c, "batch": b, "advantage": advantage("decode_tok_s", v),
                         "h100_tok_s": v["h100"].decode_tok_s, "nvl72_tok_s": v["nvl72"].decode_tok_s,
                         "h100_batch": v["h100"].decode_batch, "nvl72_batch": v["nvl72"].decode_batch})
    return pd.DataFrame(rows)


def kv_fit(scenario: Scenario = Scenario()) -> "pd.DataFrame":  # noqa: F821
    """Does the decode batch's KV cache fit? KV needed per GPU for ``batch`` sequences at ``context``
    tokens against the KV budget per GPU, for both sides under both presets (seed: each side's KV
    dtype as the document has it; datasheet: the scenario's), and the largest batch that fits."""
    import pandas as pd

    m = get_model(scenario.model)
    rows = []
    for side in SIDES:
        gpu, quant, fmt, seed_kv, _ = _SIDE[side]
        for preset in PRESETS:
            f = FORMAT_FOR[preset][quant]
            kvb = scenario.kv_bytes_per_element if preset == "datasheet" else seed_kv
            cap = kv_capacity(gpu, scenario.model, f, kv_bytes_per_element=kvb, tp=scenario.tp,
                              num_gpus=scenario.tp, premises=preset)
            per_gpu = m.kv_bytes_per_token_per_gpu(kvb, scenario.tp)
            need = scenario.batch * scenario.context * per_gpu / 1e9
            rows.append({"side": side, "preset": preset, "kv_dtype_bytes": kvb, "kv_needed_gb_per_gpu": need,
                         "kv_budget_per_gpu_gb": cap.kv_budget_bytes_per_gpu / 1e9,
                         "fits": need * 1e9 <= cap.kv_budget_bytes_per_gpu,
                         "largest_batch": _batch_fits(cap, scenario.context)})
    return pd.DataFrame(rows)


def energy(scenario: Scenario = Scenario(), price_per_gpu_hour: float | None = None) -> "pd.DataFrame":  # noqa: F821
    """Output tokens per joule and GPU-hours per million output tokens of each side's decode, under
    both presets (:mod:`nvlmodel.energy`: the HGX node's or the rack's maximum power shared per GPU,
    and the GPU's TDP alone), and the cost at ``price_per_gpu_hour`` when the reader gives one.
    Power facts are the datasheets' under both presets (the document states only TDPs)."""
    import pandas as pd

    from . import energy as en

    rows = []
    for preset in PRESETS:
        v = cells(preset, scenario)
        for side, name in (("h100", "8x H100 (HGX)"), ("nvl72", "NVL72 replica")):
            rows.append({"preset": preset, "side": name, "system_key": _SIDE[side][4],
                         "decode batch": v[side].decode_batch, "tok_s_per_gpu": v[side].decode_tok_s / scenario.tp})
    out = en.add_columns(pd.DataFrame(rows), price_per_gpu_hour=price_per_gpu_hour)
    return out.drop(columns="system_key")
