"""The calibrated step model of one serving configuration: :class:`Config`, :class:`Calibration`,
the per-engine memory rules, the KV fit test, and TPOT/TTFT predicted from the roofline, the
engine's measured TP all-reduce and five fitted parameters (see :mod:`nvlmodel.calibrate`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..collectives import engine_allreduce, moe_alltoall
from ..hardware import MEASURED_SYSTEMS, NIC_BANDWIDTH, GPUSpec, get_gpu
from ..document import WORKSPACE_BYTES
from ..kvbm import CHUNK_LATENCY_S, kv_capacity
from ..models import ModelArch, get_model
from ..roofline import Efficiency, _attention_dtype, decode_step, prefill, require_parallel
from ..units import require_choice, require_positive, require_positive_int


#: Measured system -> nvlmodel GPU. TP all-reduce comes from the system's own measured curves of
#: the row's engine (:func:`nvlmodel.collectives.engine_allreduce`).
SYSTEMS: dict[str, str] = MEASURED_SYSTEMS
CALIBRATION_SYSTEMS: tuple[str, ...] = ("h100_sxm", "h200_sxm")
#: Measured precision -> weight format of :mod:`nvlmodel.fp4`.
WEIGHT_FORMAT: dict[str, str] = {"bf16": "fp16", "fp8": "fp8", "fp4": "nvfp4"}
#: Models whose routed experts ship in another format than the rest: (model, precision) -> expert format.
#: gpt-oss-120b's checkpoint holds MXFP4 experts and BF16 attention (REFERENCE.md, Models).
EXPERT_FORMAT: dict[tuple[str, str], tuple[str, str]] = {("gpt-oss-120b", "fp4"): ("fp16", "mxfp4")}
MODES: tuple[str, ...] = ("agg", "disagg")
#: How a disaggregated deployment moves a prompt's KV cache from its prefill to its decode worker,
#: per GPU stream (bytes/s): over NVLink inside an NVL72 rack, over one 400 Gb/s RDMA NIC per GPU
#: between HGX nodes (NIXL; line rate assumed).
KV_TRANSFER_LINK: dict[str, str] = {"gb200": "nvlink", "h100_sxm": "rdma", "h200_sxm": "rdma", "b200_sxm": "rdma"}
#: KV-cache dtypes a row may state, and their bytes per element.
KV_DTYPES: dict[str, float] = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0}


@dataclass(frozen=True)
class EngineMemory:
    """How an engine sizes its KV cache, by default: the KV dtype when none is asked for (of an
    unquantized checkpoint, and of an FP8 or NVFP4 one: ``kv_dtype_quantized``), and the fraction of
    memory it takes, applied to all of HBM (``of="capacity"``) or to what the weights leave free
    (``of="free"``)."""

    kv_dtype: str
    memory_fraction: float
    of: str
    source: str
    kv_dtype_quantized: str | None = None  # None: the same as kv_dtype

    def default_kv_dtype(self, precision: str, model: str) -> str:
        """The KV dtype the engine keeps for a ``precision`` checkpoint of ``model`` (MXFP4 ones,
        gpt-oss's, count as unquantized: their attention is BF16)."""
        quantized = precision in ("fp8", "fp4") and (model, precision) not in EXPERT_FORMAT
        return (self.kv_dtype_quantized or self.kv_dtype) if quantized else self.kv_dtype


#: Per-engine defaults (the measurements record neither KV dtype nor memory settings); a row's
#: ``kv_dtype`` column overrides them. vLLM and SGLang keep the model's dtype (``auto``: BF16);
#: TensorRT-LLM inherits the checkpoint's KV quantization, FP8 for NVIDIA's FP8 and NVFP4
#: checkpoints, as aiconfigurator assumes when it reproduces these measurements.
ENGINE_MEMORY: dict[str, EngineMemory] = {
    "vllm": EngineMemory("bf16", 0.90, "capacity", "vLLM gpu_memory_utilization default 0.9, of total HBM; "
                                                   "kv_cache_dtype auto = the model's dtype"),
    "trtllm": EngineMemory("bf16", 0.90, "free", "TensorRT-LLM KvCacheConfig free_gpu_memory_fraction default "
                                                  "0.9, of the memory left after weights; KV dtype auto = the "
                                                  "checkpoint's: FP8 for FP8/NVFP4 checkpoints (aiconfigurator's "
                                                  "quant-mode inference)", kv_dtype_quantized="fp8"),
    "sglang": EngineMemory("bf16", 0.88, "capacity", "SGLang mem_fraction_static, chosen by GPU size; 0.88 "
                                                     "assumed for 80-192 GB GPUs; kv_cache_dtype auto"),
}
METRICS: tuple[str, ...] = ("tpot", "ttft")
#: Where a step time comes from (:attr:`Calibration.step`).
STEP_MODELS: tuple[str, ...] = ("roofline", "kernels")
#: The step the static formula takes unless told otherwise: its fits, predictions and intervals, the
#: deployment search and the buyer's tables. The measured kernels, which the rule of
#: :func:`nvlmodel.serve.validate.pick_step` picks on both tables' calibration rows (a tie on the
#: dense table goes to them, and they err less on the serving table); the roofline stays the
#: explanation (chapter 7) and stands in, labelled, where no kernel table covers a configuration.
#: A hand-made :class:`Calibration` keeps the roofline (its fractions are what it states).
STATIC_STEP: str = "kernels"


def engine_backend(engine: str) -> str:
    """The serving backend of an engine id ``backend@campaign`` (``trtllm@serving`` -> ``trtllm``):
    the one place an engine id is parsed. Raises for an id without a campaign or with a backend
    of no :data:`ENGINE_MEMORY` entry."""
    backend, sep, campaign = str(engine).partition("@")
    if not sep or not campaign:
        raise ValueError(f"engine must be backend@campaign (e.g. trtllm@serving), got {engine!r}")
    return require_choice("engine backend", backend, tuple(ENGINE_MEMORY))


def engine_memory_table() -> "pd.DataFrame":  # noqa: F821
    """The per-engine KV memory defaults (:data:`ENGINE_MEMORY`), one row per engine."""
    import pandas as pd

    return pd.DataFrame([{"engine": k, "KV dtype": e.kv_dtype, "KV dtype, FP8/NVFP4 checkpoint":
                          e.kv_dtype_quantized or e.kv_dtype, "memory fraction": e.memory_fraction,
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
    #: what a step's compute and memory time come from: ``"roofline"`` (bytes and FLOPs at the
    #: fitted fractions of peak) or ``"kernels"`` (the engine's measured kernels,
    #: :func:`nvlmodel.kernels.step_time`; the fractions then serve only rows without kernel data)
    step: str = "roofline"
    #: s per kernel call in the engine (``step="kernels"``): replaces each call's fixed cost as
    #: measured alone (:attr:`nvlmodel.kernels.KernelTime.floor`)
    t_launch: float = 0.0
    #: s per MoE layer of every forward pass (decode step or prefill), beside the expert block the
    #: step's compute and memory time hold: what the engine runs around it (routing and top-k,
    #: token permutation and combine, their launches). Zero for dense models.
    t_moe: float = 0.0
    #: (``step="kernels"``) how much longer than the kernel tables say the engine's linear layers
    #: (projections, MLPs, MoE block, LM head; DeepSeek's MLA module, projections and all, counts as
    #: attention) took in the builds that ran the rows, at steps of
    #: 4,096 tokens per rank or more; 1 at 256 or fewer, log-linear between (:data:`KERNEL_SCALE_TOKENS`,
    #: :func:`kernel_scale_factor`). The tables were timed with other builds (TensorRT-LLM
    #: 1.3.0rc20, vLLM 0.24.0), and which kernel a build runs matters most where a step is
    #: compute-bound. Fitted on :data:`KERNEL_SCALE_GRID`.
    kernel_scale: float = 1.0
    #: the chance that each token a speculative decoder drafts is accepted, given the one before it
    #: was (:func:`accepted_tokens`; for configurations with ``spec_tokens`` > 0). Fitted on the
    #: calibration rows run with MTP, one value for all engines (:func:`nvlmodel.calibrate.fit_engines`).
    acceptance: float = 0.0
    #: s per MoE layer of every forward pass whose expert-parallel worker spans more than one NVLink
    #: domain (:meth:`Config.crosses_domains`: more than one 8-GPU HGX node), beside the all-to-all
    #: :func:`nvlmodel.collectives.moe_alltoall` models: what exchanging the tokens between nodes
    #: costs as the engines ran it (the measured rows' recipes force DeepEP's normal kernels over
    #: InfiniBand). Fitted on the calibration rows whose workers span nodes, one value for all
    #: engines: the network's and the all-to-all library's, not the engine's
    #: (:func:`nvlmodel.calibrate.fit.fit_internode`).
    t_xnode: float = 0.0
    #: s per tensor-parallel all-reduce whose group spans HGX nodes (TP 16 over two 8-GPU nodes:
    #: :meth:`Config.allreduces_across_nodes`), beside what :func:`comm_time` charges for it (NCCL
    #: inside each node as measured, the bytes through the NICs at line rate): the network's latency
    #: and NCCL's protocol between nodes. Fitted with :attr:`t_xnode` on the calibration rows whose
    #: workers span nodes, one value for all engines (:func:`nvlmodel.calibrate.fit.fit_internode`).
    t_xar: float = 0.0

    def __post_init__(self):
        Efficiency(self.compute, self.bandwidth, self.t_step)  # validates fractions and t_step
        if not 0 <= require_positive("acceptance", self.acceptance, allow_zero=True) < 1:
            raise ValueError(f"acceptance must be in [0, 1), got {self.acceptance}")
        require_positive("t_req", self.t_req, allow_zero=True)
        require_positive("q", self.q, allow_zero=True)
        require_choice("step", self.step, STEP_MODELS)
        require_positive("t_launch", self.t_launch, allow_zero=True)
        require_positive("t_moe", self.t_moe, allow_zero=True)
        require_positive("t_xnode", self.t_xnode, allow_zero=True)
        require_positive("t_xar", self.t_xar, allow_zero=True)
        require_positive("kernel_scale", self.kernel_scale)
        if self.step == "roofline" and self.kernel_scale != 1.0:
            raise ValueError(f"kernel_scale scales measured kernels: a roofline calibration takes 1.0, got {self.kernel_scale}")


#: Tokens per rank of a step (a decode step's sequences, a prompt's tokens) between which
#: :attr:`Calibration.kernel_scale` ramps in from 1 (log-linear): below the first a step's linear
#: layers are bound by reading their weights, from the second on by their FLOPs (Hopper's ridge is
#: about 300 tokens at BF16 and 600 at FP8). Chosen, not fitted.
KERNEL_SCALE_TOKENS: tuple[int, int] = (256, 4096)
#: The values :attr:`Calibration.kernel_scale` is fitted on (one per engine, with its other costs):
#: none below 1, since every build that ran a calibration row is older than the one that timed
#: the tables its engine reads (SGLang's are vLLM's on Hopper), and a step the model puts too slow
#: would be taken faster by a scale below 1 for reasons that are not the kernels' (the gap-analysis
#: rows' unknown protocol drove two engines' fits to 0.5 on a grid from 0.5:
#: ``scripts/tried_on_calibration.py``, variant ``kernel-scale-below-1``).
KERNEL_SCALE_GRID = np.round(np.arange(1.0, 2.5001, 0.1), 2)


def kernel_scale_factor(tokens, scale: float):
    """The factor on a step's linear-layer kernel time at ``tokens`` per rank (a number or an
    array) under :attr:`Calibration.kernel_scale` ``scale``: 1 up to the first of
    :data:`KERNEL_SCALE_TOKENS`, ``scale`` from the second on, log-linear between.

    >>> [round(float(kernel_scale_factor(n, 1.8)), 3) for n in (1, 256, 1024, 4096, 16384)]
    [1.0, 1.0, 1.4, 1.8, 1.8]
    """
    return 1.0 + (scale - 1.0) * _kernel_scale_ramp(tokens)


def _kernel_scale_ramp(tokens):
    """Where ``tokens`` per rank stand between the two ends of :data:`KERNEL_SCALE_TOKENS`: 0 up to
    the first, 1 from the second on, log-linear between (the share of the scale a step takes)."""
    lo, hi = KERNEL_SCALE_TOKENS
    return np.clip(np.log(np.maximum(np.asarray(tokens, float), 1.0) / lo) / np.log(hi / lo), 0.0, 1.0)


def accepted_tokens(acceptance, spec_tokens):
    """Tokens a sequence emits per decode step under speculative decoding that drafts
    ``spec_tokens`` tokens, each accepted with chance ``acceptance`` given the one before it was:
    the verified token and the accepted run of drafts, ``(1 - a^(k+1)) / (1 - a)`` (Leviathan et al.,
    2023, eq. 1); 1 without drafts. Scalars or arrays.

    >>> accepted_tokens(0.5, 3), accepted_tokens(0.8, 0), accepted_tokens(0.0, 3)
    (1.875, 1.0, 1.0)
    """
    a, k = np.asarray(acceptance, float), np.asarray(spec_tokens, float)
    out = (1.0 - a ** (k + 1)) / (1.0 - a)  # a in [0, 1): Calibration.acceptance
    return float(out) if np.ndim(out) == 0 else out


def exchange_spans_domains(tp: int, attention_dp: int, ep: int, domain_gpus: int) -> bool:
    """Whether a worker of ``tp x attention_dp`` GPUs with ``ep``-way expert parallelism exchanges
    its tokens in an all-to-all (attention data-parallel, experts expert-parallel: :func:`comm_time`)
    over more GPUs than one NVLink domain of ``domain_gpus`` joins (:attr:`Calibration.t_xnode`).

    >>> exchange_spans_domains(1, 16, 16, 8), exchange_spans_domains(16, 1, 16, 8), exchange_spans_domains(1, 16, 16, 72)
    (True, False, False)
    """
    return ep > 1 and attention_dp > 1 and tp * attention_dp > domain_gpus


def allreduces_spanning_domains(model: ModelArch, tp: int, attention_dp: int, ep: int, domain_gpus: int) -> int:
    """How many of a forward pass's all-reduces (:func:`comm_time`) run over more GPUs than one
    NVLink domain of ``domain_gpus`` joins, on a worker of ``model`` with that parallelism: where
    the TP group spans domains, the two per dense layer and the attention's one per MoE layer;
    where the expert output is all-reduced over the worker's GPUs (no expert all-to-all) and those
    span domains, one more per MoE layer (:attr:`Calibration.t_xar`). The search's reasons and
    :meth:`Config.allreduces_across_nodes` share it.

    >>> from nvlmodel.models import get_model
    >>> ds = get_model("deepseek-v3")  # 3 dense and 58 MoE layers
    >>> [allreduces_spanning_domains(ds, *shape, 8) for shape in ((16, 1, 16), (8, 1, 8), (1, 16, 16))]
    [122, 0, 0]
    """
    return sum(count for gpus, count, _ in _allreduce_groups(model, tp, attention_dp, ep) if gpus > domain_gpus)


def _allreduce_groups(model: ModelArch, tp: int, attention_dp: int, ep: int) -> list[tuple[int, int, int]]:
    """The all-reduces of one forward pass of a worker of ``model`` with that parallelism, as
    ``(GPUs in the group, all-reduces per pass, message in ranks' tokens)``: the TP group's two per
    dense layer and one per MoE layer's attention, each over one rank's tokens; and, where the
    expert output is summed over the worker's GPUs (attention TP, or experts not expert-parallel
    across attention-DP ranks), one per MoE layer over all ``attention_dp`` ranks' tokens. The one
    case analysis :func:`comm_time` and :func:`allreduces_spanning_domains` both read.

    >>> from nvlmodel.models import get_model
    >>> _allreduce_groups(get_model("deepseek-v3"), 8, 1, 8)
    [(8, 64, 1), (8, 58, 1)]
    >>> _allreduce_groups(get_model("deepseek-v3"), 1, 8, 8)  # attention DP, experts by all-to-all
    []
    """
    out = []
    if tp > 1:
        out.append((tp, 2 * model.n_dense_layers + model.moe_layers, 1))
    if model.is_moe and not (ep > 1 and attention_dp > 1) and tp * attention_dp > 1:
        out.append((tp * attention_dp, model.moe_layers, attention_dp))
    return out


@dataclass(frozen=True)
class Config:
    """One measured serving configuration. ``backend`` (vllm, trtllm, sglang) picks the engine's
    memory defaults (:data:`ENGINE_MEMORY`); ``kv_dtype`` and ``memory_fraction`` override them
    (None: the engine's default).

    A worker is ``tp x attention_dp`` GPUs with ``ep``-way expert parallelism (MoE models,
    :func:`nvlmodel.roofline.require_parallel`); ``concurrency`` requests are in flight over
    ``workers`` such workers. ``mode="agg"``: each worker prefills and decodes. ``mode="disagg"``:
    the ``tp``/``attention_dp``/``ep`` worker(s) decode, and ``prefill_workers`` workers of
    ``prefill_tp x prefill_attention_dp`` GPUs (``prefill_ep``) prefill. ``max_batch``: the decode
    seats per attention rank, where known (``batch_per_rank`` stops there; None: as many as clients).
    ``batch_wait_iters`` > 0: the engine holds new prompts back while sequences decode, as
    TensorRT-LLM's batch waiting does (``batch_wait_timeout_iters``), until that many steps have
    passed or the prompts and decoding sequences fill ``batch_wait_tokens`` tokens of a step
    (``batch_wait_max_tokens_ratio`` x ``max_num_tokens``; 0: no such threshold); see
    :func:`batch_wait_steps`. ``moe_kernel``: the routed experts' kernel where the benchmark
    selected one other than the engine's default (:data:`nvlmodel.kernels.MOE_KERNELS`; None: the
    default), for steps from measured kernels. ``recv_interval`` > 1: the engine takes new requests
    in only every that many decode steps while it decodes, as SGLang's ``--scheduler-recv-interval``
    does (see :func:`recv_wait_steps`; 0 or 1: at every step). ``spec_tokens`` > 0: the engine
    decodes speculatively, drafting that many tokens per step with a draft module of one
    transformer layer (DeepSeek-V3's multi-token prediction module, as InferenceMAX's MTP runs use
    it) and verifying them in the next step (see :func:`accepted_tokens`). ``redundant_experts``
    (``prefill_redundant_experts``): replicas of routed experts the decode (prefill) workers hold
    beside the experts, as expert-parallel load balancing (EPLB) deploys them, so that ``ep`` need
    only divide the slots (:meth:`nvlmodel.models.ModelArch.with_redundant_experts`; 0: none).

    Names are resolved once, here: ``arch`` is the model's :class:`~nvlmodel.models.ModelArch`
    (``model`` keeps its registry key, aliases resolved) and ``gpu_spec`` the system's
    :class:`~nvlmodel.hardware.GPUSpec`; everything below takes the objects."""

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
    mode: str = "agg"
    attention_dp: int = 1
    ep: int = 1
    workers: int = 1
    prefill_tp: int | None = None
    prefill_attention_dp: int = 1
    prefill_ep: int = 1
    prefill_workers: int = 1
    max_batch: int | None = None
    batch_wait_iters: int = 0
    batch_wait_tokens: float = 0.0
    moe_kernel: str | None = None
    recv_interval: int = 0
    spec_tokens: int = 0
    redundant_experts: int = 0
    prefill_redundant_experts: int = 0
    arch: ModelArch = field(init=False, repr=False, compare=False)
    gpu_spec: GPUSpec = field(init=False, repr=False, compare=False)
    _side_archs: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        require_choice("system", self.system, SYSTEMS)
        m = get_model(self.model)
        object.__setattr__(self, "model", m.key)
        object.__setattr__(self, "arch", m)
        require_choice("precision", self.precision, WEIGHT_FORMAT)
        require_choice("mode", self.mode, MODES)
        for what in ("tp", "concurrency", "isl", "osl", "attention_dp", "ep", "workers", "prefill_attention_dp",
                     "prefill_ep", "prefill_workers"):
            require_positive_int(what, getattr(self, what))
        if self.max_batch is not None:
            require_positive_int("max_batch", self.max_batch)
        require_batch_wait(self.batch_wait_iters, self.batch_wait_tokens)
        require_recv_interval(self.recv_interval)
        require_spec_tokens(self.spec_tokens)
        for what in ("redundant_experts", "prefill_redundant_experts"):
            _require_steps(what, getattr(self, what), "0: none")
        if self.moe_kernel is not None:
            from ..kernels import MOE_KERNELS
            require_choice("moe_kernel", self.moe_kernel, MOE_KERNELS)
        if self.prefill_tp is None:
            object.__setattr__(self, "prefill_tp", self.tp)
        require_positive_int("prefill_tp", self.prefill_tp)
        gpu = get_gpu(SYSTEMS[self.system])
        object.__setattr__(self, "gpu_spec", gpu)
        object.__setattr__(self, "_side_archs", (m.with_redundant_experts(self.redundant_experts),
                                                 m.with_redundant_experts(self.prefill_redundant_experts)))
        gpu.require_tp(self.tp, across_nodes=True)
        require_parallel(self.arch_of(), self.tp, self.attention_dp, self.ep)
        if self.mode == "disagg":
            gpu.require_tp(self.prefill_tp, across_nodes=True)
            require_parallel(self.arch_of(True), self.prefill_tp, self.prefill_attention_dp, self.prefill_ep)
        if self.system == "gb200" and max(self.gpus, self.prefill_gpus if self.mode == "disagg" else 0) > 72:
            raise ValueError("a worker of more than 72 GPUs does not fit in one GB200 NVL72 rack")
        engine = ENGINE_MEMORY[require_choice("backend", self.backend, ENGINE_MEMORY)]
        if self.kv_dtype is None:
            object.__setattr__(self, "kv_dtype", engine.default_kv_dtype(self.precision, m.key))
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
        return EXPERT_FORMAT.get((self.model, self.precision), (WEIGHT_FORMAT[self.precision],))[0]

    @property
    def expert_format(self) -> str:
        return EXPERT_FORMAT.get((self.model, self.precision), (None, WEIGHT_FORMAT[self.precision]))[1]

    @property
    def fp4_mode(self) -> str:
        """FP4 weights run W4A4 where the GPU has FP4 tensor cores, else as W4A16 (Hopper: weights
        dequantized to BF16, as vLLM's and TensorRT-LLM's MXFP4 kernels do there)."""
        return "w4a4" if self.gpu_spec.fp4_dense_flops else "w4a16"

    @property
    def gpus(self) -> int:
        """GPUs of one (decode, or aggregated) worker."""
        return self.tp * self.attention_dp

    def arch_of(self, prefill: bool = False) -> ModelArch:
        """The model as the decoding workers hold it (or with ``prefill`` the prefill pool's in
        disaggregated serving; the same workers in aggregated): with that side's redundant experts."""
        return self._side_archs[1 if prefill and self.mode == "disagg" else 0]

    def crosses_domains(self, prefill: bool = False) -> bool:
        """Whether the decoding (or with ``prefill`` the prefilling) workers' expert all-to-all
        (attention data-parallel, experts expert-parallel: :func:`comm_time`) runs over more GPUs
        than one NVLink domain joins (an HGX node's 8; a GB200 rack's 72), so that each MoE layer's
        tokens travel between nodes over the network (:attr:`Calibration.t_xnode`)."""
        return self.arch_of(prefill).is_moe and exchange_spans_domains(*self.shape(prefill),
                                                                       self.gpu_spec.nvlink_domain_gpus)

    def allreduces_across_nodes(self, prefill: bool = False) -> int:
        """How many of a forward pass's all-reduces (:func:`comm_time`) span HGX nodes on the
        decoding (or with ``prefill`` the prefilling) workers: where the TP group spans nodes, the
        two per dense layer and the attention's one per MoE layer; where the expert output is
        all-reduced over the worker's GPUs (no expert all-to-all) and those span nodes, one more per
        MoE layer (:attr:`Calibration.t_xar`). Zero within one NVLink domain."""
        return allreduces_spanning_domains(self.arch_of(prefill), *self.shape(prefill),
                                           self.gpu_spec.nvlink_domain_gpus)

    def shape(self, prefill: bool = False) -> tuple[int, int, int]:
        """(tp, attention_dp, ep) of the workers that decode, or with ``prefill`` of those that
        prefill: the prefill pool's in disaggregated serving, the same workers in aggregated."""
        if prefill and self.mode == "disagg":
            return self.prefill_tp, self.prefill_attention_dp, self.prefill_ep
        return self.tp, self.attention_dp, self.ep

    @property
    def prefill_gpus(self) -> int:
        return self.prefill_tp * self.prefill_attention_dp

    @property
    def total_gpus(self) -> int:
        return self.workers * self.gpus + (self.prefill_workers * self.prefill_gpus if self.mode == "disagg" else 0)

    @property
    def batch_per_rank(self) -> float:
        """Sequences each attention-DP rank of a (decode) worker holds: concurrency / (workers x
        attention_dp), at most ``max_batch`` (the engine's seats per rank, where the benchmark
        configuration names them: the clients beyond wait for a seat and do not decode)."""
        b = self.concurrency / (self.workers * self.attention_dp)
        return b if self.max_batch is None else min(b, float(self.max_batch))


def require_batch_wait(iters, tokens) -> None:
    """Validate a batch wait (:class:`Config`, :class:`nvlmodel.serve.Deployment`): ``iters`` an
    int >= 0 (0: none), ``tokens`` a number >= 0 (0: no token threshold)."""
    _require_steps("batch_wait_iters", iters, "0: no batch wait")
    require_positive("batch_wait_tokens", tokens, allow_zero=True)


def require_recv_interval(steps) -> None:
    """A receive interval (:func:`recv_wait_steps`) is an int >= 0 (0 or 1: every step)."""
    _require_steps("recv_interval", steps, "0 or 1: every step")


#: The most tokens :attr:`Config.spec_tokens` may draft per step (the engines' MTP runs draft 1 to 3).
MAX_SPEC_TOKENS = 8


def require_spec_tokens(tokens) -> None:
    """Validate the tokens a speculative decoder drafts per step (:class:`Config`,
    :class:`nvlmodel.serve.Deployment`): an int from 0 (no speculative decoding) to
    :data:`MAX_SPEC_TOKENS`."""
    if isinstance(tokens, bool) or not isinstance(tokens, (int, np.integer)) or not 0 <= tokens <= MAX_SPEC_TOKENS:
        raise ValueError(f"spec_tokens must be a whole number of drafted tokens from 0 (no speculative decoding) "
                         f"to {MAX_SPEC_TOKENS}, got {tokens!r}")


def _require_steps(what: str, steps, zero: str) -> None:
    """``steps`` (a count of decode steps named ``what``) is an int >= 0, not a bool; ``zero`` says
    what 0 means, in the error."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"{what} must be an int >= 0 ({zero}), got {steps!r}")


def recv_wait_steps(batch, interval: int):
    """Decode steps a new request waits, on average, for SGLang's scheduler to take it in under
    ``--scheduler-recv-interval`` ``interval`` (``SchedulerRecvSkipper``): while the engine
    decodes, it polls for new requests once every ``interval`` decode steps, and at once after a
    step that prefilled; a request arriving at a random point of that cycle waits half of it. A
    lone sequence (``batch <= 1``) never waits (an idle engine polls at once). Scalars or arrays.

    >>> float(recv_wait_steps(64, 30)), float(recv_wait_steps(1, 30)), float(recv_wait_steps(64, 1))
    (15.0, 0.0, 0.0)
    """
    b = np.asarray(batch, dtype=float)
    steps = np.where((b > 1) & (interval > 1), interval / 2.0, 0.0)
    return steps if b.ndim else float(steps)


def batch_wait_steps(batch, isl: int, osl: int, iters: int, tokens: float = 0.0):
    """Decode steps a new prompt waits, on average, under TensorRT-LLM's batch waiting
    (``PyExecutor._waiting_requests``): while a rank decodes, the prompts that arrive are held
    until ``iters`` steps have passed since the first of them came, or until they and the decoding
    sequences fill ``tokens`` tokens of a step (0: no threshold). ``batch`` sequences per rank
    cycle through ``osl`` decode steps, so new prompts arrive at ``r = batch / osl`` per step; a
    wait that opens with one prompt lasts ``W = iters`` steps, or until ``k - 1`` more prompts
    came (``W = (k - 1) / r``, ``k`` the prompts of ``isl`` tokens that reach the threshold beside
    the other sequences' one token each), whichever is shorter; the first prompt waits ``W``, the
    ``r W`` that join it half that on average. A lone sequence (``batch <= 1``) never waits: the
    rule applies only while some sequence decodes. Scalars or arrays (``batch``).

    >>> round(float(batch_wait_steps(4, 1024, 1024, 20)), 2)  # r = 1/256: (20 + 0.078 x 10) / 1.078
    19.28
    >>> round(float(batch_wait_steps(128, 1024, 1024, 20, 14745.6)), 2)  # r = 1/8: (20 + 2.5 x 10) / 3.5
    12.86
    >>> float(batch_wait_steps(4, 16000, 1024, 20, 14745.6))  # one prompt fills the step: no wait
    0.0
    """
    b = np.asarray(batch, dtype=float)
    if iters == 0:
        return np.zeros_like(b) if b.ndim else 0.0
    r = b / osl
    w = np.full_like(b, float(iters))
    if tokens > 0:
        k = np.ceil(np.maximum(tokens - b, 0.0) / max(isl - 1, 1))  # prompts that reach the threshold
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.minimum(w, np.where(r > 0, np.maximum(k - 1, 0.0) / r, w))
    steps = np.where(b > 1, (w + r * w * w / 2) / (1 + r * w), 0.0)
    return steps if b.ndim else float(steps)


def comm_time(config: Config, tokens, *, prefill: bool = False):
    """Communication of one forward step over ``tokens`` tokens per attention rank (scalar or
    array) of the decoding worker, or with ``prefill`` the prefilling one (:meth:`Config.shape`): two TP all-reduces per dense layer
    and one per MoE layer's attention (each timed by the row's engine's own measured kernel,
    :func:`nvlmodel.collectives.engine_allreduce`); per MoE layer, the expert all-to-all
    (:func:`nvlmodel.collectives.moe_alltoall`) where attention is data-parallel and experts
    expert-parallel (``attention_dp > 1``, ``ep > 1``: each rank's tokens travel to their experts'
    GPUs), else an all-reduce of the expert output over the worker's GPUs (attention TP: every GPU
    already holds every token after the attention all-reduce, computes its experts' share for all
    of them, and the shares are summed; TensorRT-LLM's TEP).

    >>> tep = Config("gb200", "deepseek-v3", "fp4", 8, 1, 1024, 1024, backend="trtllm", ep=8)
    >>> one = engine_allreduce("gb200", 8, "trtllm").time(7168 * 2.0)
    >>> round(comm_time(tep, 1) / one)  # 2 x 3 dense layers + 58 attention + 58 expert all-reduces, no all-to-all
    122
    """
    m = config.arch_of(prefill)
    tp, adp, ep = config.shape(prefill)
    tokens = np.asarray(tokens, dtype=float)
    msg = tokens * m.hidden * 2.0
    t = np.zeros_like(tokens)
    for gpus, count, ranks in _allreduce_groups(m, tp, adp, ep):
        t = t + count * engine_allreduce(config.system, gpus, config.backend).time(msg * ranks)
    if m.is_moe and ep > 1 and adp > 1:
        t = t + m.moe_layers * moe_alltoall(config.system, ep, m, config.precision).time(tokens)
    return float(t) if np.ndim(t) == 0 else t


def kv_transfer_time(config: Config) -> float:
    """Disaggregated serving: seconds to move one prompt's KV cache (``isl`` tokens, every layer)
    from its prefill worker to its decode worker. Each GPU's shard moves in parallel: KV heads
    split over min(prefill TP, decode TP, KV heads) streams; an MLA latent, whole on every GPU,
    moves once. A stream runs at one GPU's NVLink bandwidth per direction inside an NVL72 rack, or
    at one 400 Gb/s NIC between HGX nodes (:data:`KV_TRANSFER_LINK`), and its cache is paged by
    layer: one copy per layer (the prompt's blocks of a layer sent together), each paying
    chapter 4's per-copy latency (:data:`nvlmodel.kvbm.CHUNK_LATENCY_S`), as a paged block does
    (:func:`nvlmodel.kvbm.block_transfer`). Zero in aggregated serving."""
    if config.mode == "agg":
        return 0.0
    bytes_s, copies_s = kv_transfer_terms(config)
    return bytes_s + copies_s


def kv_transfer_terms(config: Config) -> tuple[float, float]:
    """The two terms of :func:`kv_transfer_time`: seconds for the prompt's bytes, and for its
    per-layer copies (:func:`kv_copies_time`, independent of the prompt's length)."""
    m = config.arch
    bytes_ = m.kv_bytes_per_sequence_per_gpu(config.isl, config.kv_bytes_per_element, 1)
    streams = 1 if m.mla is not None else max(1, min(config.prefill_tp, config.tp, m.kv_heads))
    link = (config.gpu_spec.nvlink_bw_per_direction if KV_TRANSFER_LINK[config.system] == "nvlink"
            else NIC_BANDWIDTH["connectx-7"])
    return float(bytes_ / (streams * link)), kv_copies_time(m)


def kv_copies_time(model: ModelArch) -> float:
    """Seconds of the copies of one paged KV transfer of ``model`` (a prompt to a decode worker, or
    a prefix onboarded from a tier or a peer): one copy per layer, each paying chapter 4's per-copy
    latency (:data:`nvlmodel.kvbm.CHUNK_LATENCY_S`)."""
    return float(model.layers * CHUNK_LATENCY_S)


#: Bytes of every GPU an engine keeps for itself besides weights and KV cache: activations of the
#: largest step, workspaces of its kernels and communication, CUDA graphs. The seed's 3 GB (line
#: 211; :data:`nvlmodel.kvbm.WORKSPACE_BYTES`), in line with what vLLM's profiling run reserves on
#: 80-192 GB GPUs (a few GB of activations plus under 1 GB of graphs).
ENGINE_WORKSPACE_BYTES: float = WORKSPACE_BYTES


def kv_capacity_of(config: Config, prefill: bool = False) -> "float | None":
    """Tokens of KV cache one (decode, or aggregated; with ``prefill`` the prefill) worker of
    ``config`` holds (:meth:`Config.shape`): the engine's
    memory fraction of the HBM software sees (``config.memory_fraction``), less this GPU's weights
    and the engine's workspace (:data:`ENGINE_WORKSPACE_BYTES`), at the config's KV dtype
    (:func:`nvlmodel.kvbm.kv_capacity`); None when the weights and workspace alone take the budget."""
    tp, adp, _ = config.shape(prefill)
    try:
        cap = kv_capacity(config.gpu_spec, config.arch_of(prefill), config.weight_format,
                          kv_bytes_per_element=config.kv_bytes_per_element, tp=tp, num_gpus=tp * adp,
                          workspace_bytes=ENGINE_WORKSPACE_BYTES, memory_fraction=config.memory_fraction,
                          fraction_of=config.memory_fraction_of, attention_dp=adp,
                          expert_format=config.expert_format)
    except ValueError:  # the weights alone take the budget (Config has validated everything else)
        return None
    return float(cap.tokens_per_replica)


def kv_fits(config: Config) -> bool:
    """Whether every in-flight sequence's KV cache at its final context fits in the memory the
    engine gives to KV (:func:`kv_capacity_of`)."""
    cap = kv_capacity_of(config)
    return cap is not None and bool(config.concurrency / config.workers * (config.isl + config.osl) <= cap)


def tpot_bound(config: Config) -> float:
    """The least time a decode step of ``config``'s batch can take (seconds): each rank reads its
    share of the weights and its sequences' KV caches (at their mean context, ``isl + osl/2``)
    once at the datasheet HBM bandwidth, or computes the step's FLOPs at the datasheet peak,
    whichever is longer; no communication, no fixed cost. A measured TPOT below it was not measured
    decoding that batch at once (the engine capped its batch, or decoded speculatively, and the row
    does not say). A speculative decoder (``spec_tokens`` k) emits at most k + 1 tokens per step:
    its bound is the step's over k + 1."""
    d = _decode_roofline(config, config.batch_per_rank)
    return float(max(d.t_memory, d.t_compute)) / (1 + config.spec_tokens)


def _decode_roofline(config: Config, batch):
    """The roofline's decode step (:func:`nvlmodel.roofline.decode_step`, efficiency 1) of
    ``config``'s decoding workers at ``batch`` sequences per rank and the mean context."""
    return decode_step(config.gpu_spec, config.arch_of(), config.weight_format, batch=batch,
                       context=config.isl + config.osl // 2, tp=config.tp, attention_dp=config.attention_dp,
                       ep=config.ep, kv_bytes_per_element=config.kv_bytes_per_element, fp4_mode=config.fp4_mode,
                       expert_format=config.expert_format)


#: The per-row terms of the model that do not depend on the calibration (seconds at efficiency 1;
#: ``dk``/``pk`` the decode step and prefill from measured kernels, NaN where none was measured).
TERMS: tuple[str, ...] = ("dm", "dc", "dkv", "da", "dcomm", "pm", "pc", "pkv", "pa", "pcomm", "mix", "queue", "xfer",
                          "load", "seat_load", "osl", "dk", "pk", "dkl", "pkl", "dkr", "pkr",
                          "kx", "dkn", "pkn", "nmoe", "dmoe", "hold", "dxn", "pxn", "dxar", "pxar")


def kernel_times(config: Config, batch=None) -> dict:
    """Decode step (``dk``: ``batch`` sequences per rank, default ``batch_per_rank``, a number or
    an array, at the mean context ``isl + osl/2``) and one prompt's prefill (``pk``) from the
    engine's measured kernels (:func:`nvlmodel.kernels.step_time`), seconds without communication,
    without fixed costs and without each call's fixed cost as measured alone; their linear layers'
    part (``dkl``, ``pkl``: all but attention) and where :attr:`Calibration.kernel_scale` stands on
    its ramp for each (``dkr``, ``pkr``: 0 to 1, :func:`kernel_scale_factor`); the kernel calls of
    each (``dkn``, ``pkn``), and whether either was extrapolated beyond the kernel tables (``kx``,
    0 or 1). NaN where the tables do not cover the configuration (the roofline stands in). With
    ``spec_tokens``, the speculative decoder's step, as :func:`_decode_terms` takes it."""
    from ..kernels import step_time

    b = config.batch_per_rank if batch is None else batch
    tp, adp, ep = config.shape()
    c = config
    k = c.spec_tokens

    def decode(batch):
        return step_time(c.system, c.backend, c.arch_of(), c.precision, phase="decode", batch=batch,
                         tokens=c.isl + c.osl // 2, kv_dtype=c.kv_dtype, tp=tp, attention_dp=adp, ep=ep,
                         moe_kernel=c.moe_kernel)

    def less_floor(t):
        return t.seconds - t.floor

    try:
        dp = decode(b)
        vp = decode(b * (k + 1)) if k else dp
        tp, adp, ep = c.shape(prefill=True)
        pp = step_time(c.system, c.backend, c.arch_of(True), c.precision, phase="prefill", batch=1, tokens=c.isl,
                       kv_dtype=c.kv_dtype, tp=tp, attention_dp=adp, ep=ep, moe_kernel=c.moe_kernel)
    except ValueError:
        return _no_kernels(np.shape(b))
    d, p = dp["total"], pp["total"]
    dl, vl, pl = (less_floor(parts["total"]) - less_floor(parts["attention"]) for parts in (dp, vp, pp))
    dk, dkn, kx = less_floor(d), d.calls, np.logical_or(d.extrapolated, p.extrapolated)
    if k:  # speculative decoding (_decode_terms): the verify pass's linear layers at b(k+1) tokens and
        # its sequences' attention as measured at b (each reads its KV once; the extra queries are
        # taken as free while decode attention is bound by reading the cache), and k draft passes of
        # one layer's share of the ordinary step
        share = k / c.arch.layers
        dk = vl + less_floor(dp["attention"]) + share * dk
        dl, dkn = vl + share * dl, vp["total"].calls + share * dkn
        kx = np.logical_or(kx, vp["total"].extrapolated)
    like_batch = float if np.ndim(b) == 0 else np.asarray  # a number for a number, an array for an array
    return {"dk": like_batch(dk), "pk": float(p.seconds - p.floor), "kx": like_batch(kx.astype(float)),
            "dkl": like_batch(dl), "pkl": float(pl),
            "dkr": like_batch(_kernel_scale_ramp(b * (k + 1))), "pkr": float(_kernel_scale_ramp(c.isl)),
            "dkn": float(dkn), "pkn": float(p.calls)}


def _no_kernels(shape) -> dict:
    """The kernel terms of a configuration the tables do not cover: NaN steps (the roofline stands
    in), no kernel calls, nothing extrapolated; numbers for ``shape=()``, else arrays of ``shape``."""
    if not shape:
        return {"dk": float("nan"), "pk": float("nan"), "kx": 0.0, "dkn": 0.0, "pkn": 0.0, "dkl": 0.0, "pkl": 0.0,
                "dkr": 0.0, "pkr": 0.0}
    return {"dk": np.full(shape, np.nan), "pk": float("nan"), "kx": np.zeros(shape), "dkn": 0.0, "pkn": 0.0,
            "dkl": np.zeros(shape), "pkl": 0.0, "dkr": np.zeros(shape), "pkr": 0.0}


def _unit_terms(config: Config, batch=None, kernels: bool = True) -> dict:
    """:func:`_unit_terms_at`, kept per configuration where ``batch`` is the config's own (the
    terms are functions of the configuration and the packaged tables alone, and the fits, the
    predictions and the replays of one chapter ask for the same rows' terms many times); a new dict
    each call. :func:`_unit_terms_of` ``.cache_clear()`` (and ``nvlmodel.kernels._step_time_of``'s,
    which keeps each kernel step) after replacing a function or table the terms read
    (``scripts/tried_on_calibration.py`` does before each score)."""
    if batch is None:
        return dict(_unit_terms_of(config, bool(kernels)))
    return _unit_terms_at(config, batch, kernels)


@lru_cache(maxsize=16384)
def _unit_terms_of(config: Config, kernels: bool) -> dict:
    return _unit_terms_at(config, None, kernels)


def _unit_terms_at(config: Config, batch=None, kernels: bool = True) -> dict:
    """Decode memory/compute/communication time, prefill memory/compute/communication time, all at
    efficiency 1 (with the KV bytes' and attention's parts of memory and compute, ``dkv``/``da`` and
    ``pkv``/``pa``, for the two phases of :func:`_steps`), and the same from measured kernels
    (:func:`kernel_times`); the MoE layers of a prefill's and of a decode step's forward passes
    (``nmoe``, ``dmoe``: the same but for a speculative decoder's drafts; 0 for a dense model) and
    those whose tokens travel between nodes (``pxn``, ``dxn``: :meth:`Config.crosses_domains`),
    prefills per output token (``mix``), the requests a new one may queue behind (``queue``), the
    decode steps it is held back by a batch wait or a receive interval (``hold``, :func:`batch_wait_steps`,
    :func:`recv_wait_steps`) and
    the KV transfer of disaggregated serving (``xfer``). ``batch`` (sequences per attention rank; a number or an array,
    default the config's ``batch_per_rank``) makes the decode terms arrays over batches: the search
    asks for many batches of one worker shape at once, and :func:`_steps` turns either into times.
    ``kernels=False`` leaves the kernel terms NaN (a roofline calibration does not read them).

    Aggregated: a decode step of ``batch_per_rank`` sequences at their mean context; each rank
    prefills its own requests, so ``mix = (batch_per_rank - 1) / osl`` and ``queue =
    batch_per_rank - 1`` (for one TP-only worker: concurrency - 1, as in chapter 7), both 0 where a
    rank holds one sequence or fewer (fewer clients than ranks).
    Disaggregated: decode without prefill interference (``mix = 0``, ``queue = 0``); ``load`` is
    the requests in flight per prefill rank, for :func:`disagg_wait`."""
    common = dict(kv_bytes_per_element=config.kv_bytes_per_element, fp4_mode=config.fp4_mode,
                  expert_format=config.expert_format)
    b = config.batch_per_rank if batch is None else batch
    tp, adp, ep = config.shape(prefill=True)
    p = prefill(config.gpu_spec, config.arch_of(True), config.weight_format, prompt=config.isl, tp=tp, attention_dp=adp, ep=ep,
                **common)
    g = config.gpu_spec
    attn_peak = g.peak_flops(_attention_dtype(config.kv_bytes_per_element))
    t = {**_decode_terms(config, b),
         "pm": p.t_memory, "pc": p.t_compute, "pkv": p.kv_bytes / g.hbm_bandwidth, "pa": p.attention_flops / attn_peak,
         "pcomm": comm_time(config, config.isl, prefill=True),
         "xfer": kv_transfer_time(config), "nmoe": float(config.arch.moe_layers),
         # a speculative decode step also runs its draft module's MoE layer once per drafted token
         "dmoe": float(config.arch.moe_layers + (config.spec_tokens if config.arch.moe_layers else 0)),
         **(kernel_times(config, batch) if kernels else _no_kernels(np.shape(b)))}
    # the same MoE layers, where that side's tokens travel between nodes (each side's own: a
    # disaggregated prefill pool may span nodes where its decode workers do not)
    t.update(dxn=t["dmoe"] if config.crosses_domains() else 0.0,
             pxn=t["nmoe"] if config.crosses_domains(prefill=True) else 0.0,
             # and the all-reduces whose TP group spans nodes (a speculative step's drafts, one layer
             # each, count as that share of a forward pass's, as in _decode_terms)
             dxar=config.allreduces_across_nodes() * (1 + config.spec_tokens / config.arch.layers),
             pxar=float(config.allreduces_across_nodes(prefill=True)))
    if config.mode == "agg":
        others = np.maximum(b - 1, 0.0)  # a rank's other sequences (none where it holds one or fewer)
        t.update(mix=others / config.osl, queue=others, load=0.0, seat_load=0.0, osl=float(config.osl),
                 hold=batch_wait_steps(b, config.isl, config.osl, config.batch_wait_iters, config.batch_wait_tokens)
                 + recv_wait_steps(b, config.recv_interval))
    else:
        ranks = config.prefill_workers * config.prefill_attention_dp
        seats = None if config.max_batch is None else config.max_batch * config.attention_dp * config.workers
        t.update(mix=0.0, queue=0.0, load=config.concurrency / ranks, osl=float(config.osl), hold=0.0,
                 seat_load=0.0 if seats is None else config.concurrency / seats)
    return t


def _decode_terms(config: Config, b) -> dict:
    """The roofline terms of one decode step of ``b`` sequences per rank (:func:`_unit_terms_at`:
    ``dm``, ``dc``, ``dkv``, ``da``, ``dcomm``). With ``spec_tokens`` k > 0, the step of a
    speculative decoder: a verify pass of k + 1 tokens per sequence through the weights (b(k+1)
    tokens of GEMMs and of attention queries, each sequence's KV read once) and k draft passes of
    the draft module, one transformer layer, charged as one layer's share of an ordinary step of
    ``b`` (and, in :func:`_steps`, the cost per MoE layer, :attr:`Calibration.t_moe`, once per
    draft: ``dmoe``)."""
    g = config.gpu_spec
    attn_peak = g.peak_flops(_attention_dtype(config.kv_bytes_per_element))

    def terms(tokens):
        d = _decode_roofline(config, tokens)
        return {"dm": d.t_memory, "dc": d.t_compute, "dkv": d.kv_bytes / g.hbm_bandwidth,
                "da": d.attention_flops / attn_peak, "dcomm": comm_time(config, tokens)}

    one, k = terms(b), config.spec_tokens
    if not k:
        return one
    verify = terms(b * (k + 1))
    verify["dm"] = verify["dm"] - verify["dkv"] + one["dkv"]  # each sequence's KV is read once
    verify["dkv"] = one["dkv"]
    share = k / config.arch.layers
    return {key: verify[key] + share * one[key] for key in verify}


#: Requests each benchmark client sends (InferenceMAX's client, the protocol chapter 9 replays the
#: rows with: ``nvlmodel.serve.validate.PROTOCOLS["inferencemax"]``; a test keeps the two equal).
BENCHMARK_REQUESTS_PER_CLIENT = 10


def startup_wave(load, service_s):
    """The mean wait of a closed-loop benchmark's first requests, which every client sends at once:
    ``load`` clients per server, each server taking one prompt of ``service_s`` at a time, so the
    j-th request of a server waits ``j x service_s`` (j < load), ``(load - 1) / 2 x service_s`` on
    average (exact for a whole number of clients per server; none for fewer clients than servers).
    Scalars or arrays. :meth:`nvlmodel.serve.validate.Protocol.startup_wait` spreads it over a
    protocol's requests.

    >>> startup_wave(4, 0.5)  # waits 0, 0.5, 1.0, 1.5 s
    0.75
    """
    return np.maximum(np.asarray(load, float) - 1.0, 0.0) / 2 * service_s if np.ndim(load) else \
        max(float(load) - 1.0, 0.0) / 2 * service_s


def disagg_wait(t, fill, tpot, per_client: int = BENCHMARK_REQUESTS_PER_CLIENT):
    """Queueing in disaggregated serving, as a closed-loop benchmark's mean over its requests:
    ``load`` requests per prefill rank cycle through prefill (``fill`` each) and ``osl`` decode
    steps (``tpot`` each), ``seat_load`` requests per decode seat where the benchmark configuration
    names the seats (:attr:`Config.max_batch`; 0 where it does not). When prefill is the bottleneck
    the loop's throughput is ranks / fill, when the seats are it is seats / (``osl`` x ``tpot``), so
    each request waits ``max(load x fill, seat_load x osl x tpot) - osl x tpot - fill`` (the asymptote
    of mean-value analysis of a closed network; for the seats, before its first token, its KV held
    by the prefill worker); otherwise it does not wait. The run's first requests, sent at once,
    wait for prefill as one wave (:func:`startup_wave`); one request in ``per_client`` is of that
    wave, and what it waits beyond the steady wait adds to the mean. (The deployment search asks for
    a service's steady state and leaves the wave out; it never offers more clients than seats.) Zero
    for aggregated rows (``load`` and ``seat_load`` are 0); scalars or arrays.

    >>> t = {"load": 2.0, "seat_load": 0.0, "osl": 1000.0}
    >>> round(float(disagg_wait(t, 0.1, 0.01, per_client=10**9)), 3)  # prefill 0.2 s < decode 10 s: no wait
    0.0
    >>> round(float(disagg_wait(dict(t, seat_load=2.0), 0.1, 0.01, per_client=10**9)), 3)  # 2 clients a seat
    9.9
    """
    decode = t["osl"] * tpot
    steady = np.maximum(np.maximum(t["load"] * fill, t["seat_load"] * decode) - decode - fill, 0.0)
    return steady + np.maximum(startup_wave(t["load"], fill) - steady, 0.0) / per_client


def _phases(t, m: str, c: str, kv: str, a: str, bandwidth, compute):
    """The memory and compute times of a step's two phases at the given efficiencies, ``((weights,
    GEMMs), (KV, attention))``, from the seconds (at efficiency 1) of memory ``m``, compute ``c``
    and their KV and attention parts ``kv`` and ``a`` (terms of :func:`_unit_terms`)."""
    return (((t[m] - t[kv]) / bandwidth, (t[c] - t[a]) / compute),
            (t[kv] / bandwidth, t[a] / compute))


def _two_phase(t, m: str, c: str, kv: str, a: str, bandwidth, compute):
    """A step of two phases that do not overlap: the weight GEMMs (weights read against GEMM
    FLOPs) and attention (KV read against attention FLOPs), each the slower of its memory and
    compute time (:func:`_phases`)."""
    gemm, attn = _phases(t, m, c, kv, a, bandwidth, compute)
    return np.maximum(*gemm) + np.maximum(*attn)


def _steps(t, bandwidth, compute, step: str = "roofline", t_launch=0.0, t_moe=0.0, kernel_scale=1.0, t_xnode=0.0,
           t_xar=0.0):
    """Decode step (without its fixed cost per step) and one prompt's prefill, from :func:`_unit_terms`
    at the given efficiencies (``step="roofline"``), or from the measured kernels where the
    tables cover the row (``"kernels"``, each call costing ``t_launch`` on top and the linear
    layers scaled on :attr:`Calibration.kernel_scale`'s ramp by ``kernel_scale``; the roofline
    elsewhere), each forward pass with ``t_moe`` per MoE layer, ``t_xnode`` per MoE layer whose
    tokens travel between nodes (``dxn``, ``pxn``) and ``t_xar`` per all-reduce whose TP group spans
    nodes (``dxar``, ``pxar``); scalars or arrays (broadcast), so that the fit shares it.

    The roofline's step has two phases, weight GEMMs then attention, each bound by its own memory
    or compute time (:func:`_two_phase`): the engines run them as separate kernels, so attention
    that is compute-bound at a large batch and long context cannot hide behind weight reads. (One
    bound over the whole step, as :func:`nvlmodel.roofline.decode_step` takes it, is the lower
    bound :func:`tpot_bound` keeps.) On the calibration rows the two phases err less than the
    whole-step bound or as little everywhere, most at concurrency >= 256 (TPOT bias of the serving
    table's rows -23 % against -19 %; ``scripts/tried_on_calibration.py`` at 68fb36c)."""
    decode = _two_phase(t, "dm", "dc", "dkv", "da", bandwidth, compute)
    fill = _two_phase(t, "pm", "pc", "pkv", "pa", bandwidth, compute)
    if step == "kernels":
        k = kernel_scale - 1.0
        decode = np.where(np.isfinite(t["dk"]), t["dk"] + k * t["dkr"] * t["dkl"] + t_launch * t["dkn"], decode)
        fill = np.where(np.isfinite(t["pk"]), t["pk"] + k * t["pkr"] * t["pkl"] + t_launch * t["pkn"], fill)
    return (decode + t_moe * t["dmoe"] + t_xnode * t["dxn"] + t_xar * t["dxar"] + t["dcomm"],
            fill + t_moe * t["nmoe"] + t_xnode * t["pxn"] + t_xar * t["pxar"] + t["pcomm"])


def step_times(config: Config, calibration: Calibration, batch=None):
    """The step time every prediction stands on: the decode step of ``batch`` sequences per
    attention rank (default the config's; a number or an array) with its communication and fixed
    cost per step, one prompt's prefill with its communication, and where they come from
    (``"kernels"``, ``"kernels, extrapolated"`` or ``"roofline"``; an array over batches for an
    array). The static model (:func:`components`), the deployment search (:mod:`nvlmodel.search`)
    and the fit (:func:`nvlmodel.calibrate.fit`, vectorised over rows) share :func:`_unit_terms`
    and :func:`_steps` through it."""
    return _step_times(_unit_terms(config, batch, calibration.step == "kernels"), calibration)


def _step_times(t: dict, c: Calibration):
    decode, fill = _steps(t, c.bandwidth, c.compute, c.step, c.t_launch, c.t_moe, c.kernel_scale, c.t_xnode, c.t_xar)
    kernels = c.step == "kernels" and np.isfinite(t["pk"])
    source = np.where(~(kernels & np.isfinite(t["dk"])), "roofline",
                      np.where(np.asarray(t["kx"]) > 0, "kernels, extrapolated", "kernels"))
    if np.ndim(decode) == 0:
        return float(decode) + c.t_step, float(fill), str(source)
    return decode + c.t_step, float(fill), source


def components(config: Config, calibration: Calibration) -> dict[str, float]:
    """The modelled parts of one configuration, in seconds: decode step (with its all-reduce and
    overhead), the fitted fixed costs it holds (``decode_fixed_s``: per step, per MoE layer, per MoE
    layer exchanged between nodes, per all-reduce between nodes and, on measured kernels, per kernel
    call), one prompt's prefill
    (with its all-reduce), the prefill interference per output token, the wait of a batch-waiting
    engine (``batch_wait_s``: :func:`batch_wait_steps` decode steps), the tokens a sequence emits
    per decode step (``accepted_tokens``: 1 unless it decodes speculatively,
    :func:`accepted_tokens`), and the predicted TPOT and TTFT."""
    c = calibration
    t = _unit_terms(config, kernels=c.step == "kernels")
    decode, fill, source = _step_times(t, c)
    interference = t["mix"] * fill
    per_token = decode / accepted_tokens(c.acceptance, config.spec_tokens)  # a step emits that many tokens
    wait = float(disagg_wait(t, fill, per_token + interference))
    held = float(t["hold"] * decode)  # the held steps decode without prefill
    return {"decode_step_s": decode, "step_source": source,  # no kernel calls (dkn 0) where the roofline stands in
            "decode_fixed_s": float(c.t_step + c.t_moe * t["dmoe"] + c.t_xnode * t["dxn"] + c.t_xar * t["dxar"]
                                    + c.t_launch * t["dkn"]),
            "decode_bottleneck": _bottleneck(t, "dm", "dc", "dkv", "da", c),
            "decode_comm_s": t["dcomm"], "prefill_s": fill,
            "prefill_bottleneck": _bottleneck(t, "pm", "pc", "pkv", "pa", c),
            "interference_s": interference, "kv_transfer_s": t["xfer"], "prefill_wait_s": wait,
            "batch_wait_s": held, "accepted_tokens": accepted_tokens(c.acceptance, config.spec_tokens),
            "tpot_s": per_token + interference,
            "ttft_s": c.t_req + t["xfer"] + wait + held + fill * (1 + c.q * t["queue"])}


def _bottleneck(t, m, c, kv, a, cal: Calibration) -> str:
    """What bounds the longer of a step's two phases (:func:`_two_phase`): ``memory`` or ``compute``."""
    gemm, attn = _phases(t, m, c, kv, a, cal.bandwidth, cal.compute)
    longer = gemm if max(gemm) >= max(attn) else attn
    return "compute" if longer[1] > longer[0] else "memory"


def predict(config: Config, calibration: Calibration) -> dict[str, float]:
    """Predicted TPOT and TTFT (seconds) of one configuration."""
    c = components(config, calibration)
    return {"tpot_s": c["tpot_s"], "ttft_s": c["ttft_s"]}
