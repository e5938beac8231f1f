"""The cost of one engine step, for the simulation: the calibrated step model of
:mod:`nvlmodel.calibrate` taken apart into tables over the step's token count and linear terms in
the context it reads, so that a step of any mix of decode and prefill costs a few additions.

A step of one worker that decodes ``B`` sequences (their KV caches holding ``C`` tokens in all,
after this step's token is appended) and prefills chunks ``(c_i, p_i)`` (``p_i`` new tokens after
``c_i`` already cached) processes ``T = B + sum p_i`` tokens and takes

    t_step + max(W[T], G[T]) + max(k_m (C + sum (c_i + p_i)),  k_a C + sum A(c_i, p_i)) + comm[T]

with ``W[T]`` the weights read (MoE: the experts ``T`` tokens touch), ``G[T]`` the weight GEMMs,
``k_m`` the HBM time of one token of KV, ``k_a`` the attention time of one decode token's context
token, ``A`` a chunk's causal attention (``k_chunk`` per chunk, ``k_tok`` per new token and
``k_pair`` per (query, key) pair), and ``comm[T]`` the step's TP all-reduces and expert
all-to-all (:func:`nvlmodel.calibrate.comm_time`), all at the engine's calibrated fractions of peak
(:class:`nvlmodel.calibrate.Calibration`): the calibrated model's two phases, weight GEMMs and
attention, each bound by its own memory or compute time (``nvlmodel.calibrate.model._steps``). A
worker with attention data parallelism (``a`` ranks) spreads a step's tokens evenly over its ranks,
with one exception. A prompt's chunk runs on one rank and the ranks step together, so a prefill-only
step (a disaggregated prefill worker, or an idle one) takes its busiest rank's time: that rank holds
``x = max(max p_i, sum p_i / a)`` tokens (each chunk on a rank of its own while there are ranks for
them), and the dense GEMMs (:func:`nvlmodel.roofline.dense_gemm_time`; everything but the routed
experts, which serve the worker's ``T`` tokens together), the largest chunk's attention and the
collectives take that rank's time: ``G[T] + D[a x] - D[T]``, ``a`` times that chunk's attention,
``comm[a x]``, with ``D[T]`` the dense GEMMs at ``T / a`` tokens per rank. One chunk per rank is the
even split. A step that also decodes keeps the even split: the engines can gather prompts across
ranks (TensorRT-LLM's attention-DP balancing), and on the H200 calibration rows of aggregated
attention-DP workers the even split's TPOT errs from -8 to +34 % where the busiest rank's errs from
+8 to +89 %. One decode step of ``B`` sequences at context ``L`` is exactly the calibrated model's
(:func:`nvlmodel.calibrate.step_times`, from :func:`nvlmodel.roofline.decode_step`'s terms), and a
lone prompt's prefill exactly its prefill, plus ``t_step``. Sliding-window layers (gpt-oss) are
linearised at a reference context (their KV and attention stop growing at the window).

A calibration whose steps come from measured kernels (``Calibration(step="kernels")``) gets tables
of the same form from the kernels (:func:`kernel_step_cost`): ``G[T]`` the measured linear layers,
decode attention a part per step and per sequence (``k_dfix + k_seq B``: MLA's projections do not
read the cache) beside the part per context token, no memory terms; the roofline stands in where
the kernel tables do not cover the worker, as in :func:`nvlmodel.calibrate.step_times`.

The tables run to the largest step a worker could take and are filled a block of token counts
at a time, on first read (:class:`TokenTable`): a run reads a few thousand of their entries.

A worker that decodes speculatively (``spec_tokens`` k > 0, :class:`SpeculativeStepCost`) runs
each decode step as the static model does (:func:`nvlmodel.calibrate.model._decode_terms`): a
verify pass of ``B (k + 1)`` tokens and k draft passes of one layer's share of an ordinary step of
``B``. The simulation still counts one token per sequence per step, so a decode step is charged
per token: its time over the tokens a sequence emits per step
(:func:`nvlmodel.calibrate.accepted_tokens`), which keeps each sequence's time to its last token
and its KV growth per token. A step that also prefills advances its decoding sequences by one
token too, so it is charged the same per token for its decode part (the step without its prefill
chunks) plus what its chunks add: the decoding sequences' times are kept, and the chunks finish
that decode part's (1 - 1 / accepted tokens) earlier than in the engine, which runs the whole
step before its chunks are done. (Charged whole, as this module first did, every step that
prefilled put the decoding sequences a step behind: aggregated workers under load decoded too slowly.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from functools import partial

import numpy as np

from ..calibrate import Calibration, Config, accepted_tokens, comm_time, kernel_scale_factor
from ..calibrate.fit import _nnls_relative
from ..roofline import Efficiency, _attention_dtype, decode_step, dense_gemm_time
from ..units import require_positive, require_positive_int


class TokenTable(dict):
    """Seconds by the tokens ``T`` of a step, ``T`` = 0 (nothing: 0 s) to ``n``, each computed on its
    first read with the :attr:`BLOCK` around it: ``fill(T)`` gives the values at an array of token
    counts >= 1. A worker's tables span every step it could take (a decode worker of 48
    attention-DP ranks beside prefill workers of 131,072 tokens a step: 6.3 million token counts,
    11-16 s to fill for that one deployment), and a run reads a few thousand of them. ``fill`` must
    give each ``T`` from that ``T`` alone, so that a block holds what one call over every ``T``
    would (a test checks it); the engine's reads are a dict's."""

    BLOCK = 2048

    def __init__(self, n: int, fill):
        super().__init__()
        self.n, self.fill = require_positive_int("n", n), fill
        self[0] = 0.0

    def __missing__(self, t):
        if not (isinstance(t, (int, np.integer)) and 0 <= t <= self.n):
            raise IndexError(f"a step holds 0..{self.n} tokens; no entry for {t!r}")
        start = int(t) // self.BLOCK * self.BLOCK  # the block holding t (T = 0 is no step: kept at 0 s)
        lo, hi = max(1, start), min(start + self.BLOCK, self.n + 1)
        values = np.broadcast_to(np.asarray(self.fill(np.arange(lo, hi, dtype=float)), dtype=float), (hi - lo,))
        self.update(zip(range(lo, hi), values.tolist()))
        return self[t]

    def __len__(self) -> int:
        return self.n + 1

    def __iter__(self):  # the values, T = 0..n, as the list it stands for
        return (self[t] for t in range(self.n + 1))

    def __reduce__(self):  # what it is, not what has been read
        return (type(self), (self.n, self.fill))


def _zeros(tokens: np.ndarray) -> np.ndarray:
    return np.zeros_like(tokens)


@dataclass(frozen=True)
class StepCost:
    """Step-time tables of one worker shape (see the module docstring); build with :func:`step_cost`."""

    t_step: float
    weights: TokenTable  # W[T], s, T = tokens in the step (0: none)
    gemm: TokenTable  # G[T], s
    comm: TokenTable  # comm[T], s
    k_mem: float  # s per context token read or written (whole worker, spread over ranks)
    k_attn: float  # s per context token attended by one decode token
    k_pair: float  # s per (query, key) pair of prefill attention (spread over ranks)
    max_tokens: int
    ranks: int = 1  # attention-DP ranks of the worker
    dense: "TokenTable | None" = None  # D[T], s: the dense GEMMs (all but the routed experts) at T / ranks per rank
    k_tok: float = 0.0  # s per prefill token of attention's part linear in the prompt (spread over ranks)
    k_chunk: float = 0.0  # s per prefill chunk of attention's fixed part (spread over ranks)
    #: decode attention's parts that do not grow with the context (measured kernels only, whose memory
    #: terms are zero): s per decoding sequence (MLA's projections; spread over ranks) and s per step
    k_seq: float = 0.0
    k_dfix: float = 0.0

    def __post_init__(self):
        if (self.k_seq or self.k_dfix) and self.k_mem:
            raise ValueError("k_seq and k_dfix belong to steps from measured kernels, whose memory terms are zero")

    def step(self, decode: int, context: float, chunks=()) -> float:
        """Seconds of one step: ``decode`` sequences whose caches hold ``context`` tokens after
        this step's token, and prefill ``chunks`` of ``(cached, new)`` tokens."""
        tokens = decode
        mem = self.k_mem * context
        att = self.k_attn * context + (self.k_dfix + self.k_seq * decode if decode else 0.0)
        big = top = 0
        for c, p in chunks:
            tokens += p
            mem += self.k_mem * (c + p)
            a_c = self.k_chunk + self.k_tok * p + self.k_pair * (p * c + p * (p - 1) / 2)
            att += a_c
            big, top = max(big, p), max(top, a_c)
        if not 0 < tokens <= self.max_tokens:
            raise ValueError(f"a step processes 1..{self.max_tokens} tokens, got {tokens}")
        if self.ranks == 1 or not chunks or decode:  # the even split (see the module docstring)
            return self.t_step + max(self.weights[tokens], self.gemm[tokens]) + max(mem, att) + self.comm[tokens]
        a = self.ranks  # a prefill-only step: the busiest rank holds the largest chunk
        busiest = min(max(a * big, tokens), self.max_tokens)  # a x its tokens
        gemm = self.gemm[tokens] + self.dense[busiest] - self.dense[tokens]
        att = max(att, self.k_attn * context + a * top)
        return self.t_step + max(self.weights[tokens], gemm) + max(mem, att) + self.comm[busiest]

    def decode_run(self, batch: int, context: float, steps: int) -> float:
        """Seconds of ``steps`` decode steps of ``batch`` sequences whose caches hold ``context``
        tokens before the first (each step appends one token to each): the sum of
        ``step(batch, context + batch * (j + 1))`` for j < steps, in closed form (the attention
        phase, the larger of two times proportional to the context, grows by a constant a step)."""
        if steps <= 0:
            return 0.0
        fixed, a, b = self._run(batch, context)
        return steps * fixed + steps * a + b * (steps - 1) * steps / 2

    def decode_steps_within(self, batch: int, context: float, budget: float) -> int:
        """The fewest decode steps (as :meth:`decode_run`) whose total time reaches ``budget``
        seconds (at least 1): the step boundary at or after ``budget``. Steps only grow longer
        (each reads one more token per sequence), so ``budget`` over the first step's time is
        already enough steps; the answer is searched below it."""
        if budget <= 0:
            return 1
        fixed, a, b = self._run(batch, context)

        def total(n):  # decode_run(batch, context, n)
            return n * fixed + n * a + b * (n - 1) * n / 2

        first = total(1)
        if first >= budget:  # the common case: the running step ends after the budget
            return 1
        lo, hi = 2, max(2, math.ceil(budget / first))
        while total(hi) < budget:  # (rounding) not enough after all
            lo, hi = hi + 1, hi * 2
        if hi > lo and total(hi - 1) < budget:
            return hi  # steps of nearly equal length: the estimate is the answer
        while lo < hi:
            mid = (lo + hi) // 2
            if total(mid) >= budget:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _run(self, batch: int, context: float) -> tuple[float, float, float]:
        """Decode step j of ``batch`` sequences from ``context`` as ``fixed + a + b j``: the step's
        fixed cost, collectives and weight phase (``fixed``), and its attention phase, whose
        memory and compute times are both proportional to the context read (``a + b j``)."""
        if not 0 < batch <= self.max_tokens:
            raise ValueError(f"a step processes 1..{self.max_tokens} tokens, got {batch}")
        k = max(self.k_mem, self.k_attn)
        return (self.t_step + self.comm[batch] + max(self.weights[batch], self.gemm[batch])
                + self.k_dfix + self.k_seq * batch, k * (context + batch), k * batch)


@dataclass(frozen=True)
class SpeculativeStepCost(StepCost):
    """The :class:`StepCost` of a worker that decodes speculatively (see the module docstring): its
    tables run to ``max_tokens`` = the verify pass's tokens, ``spec`` tokens drafted per step,
    ``per_step`` tokens each decoding sequence emits per step, ``share`` the draft passes' share of
    an ordinary step (``spec`` over the model's layers)."""

    spec: int = 1
    per_step: float = 1.0
    share: float = 0.0

    def step(self, decode: int, context: float, chunks=()) -> float:
        draft = self._draft(decode, context) if decode else 0.0
        # the verify pass: B (k + 1) tokens through the linear layers, B sequences' attention
        whole = StepCost.step(self, decode * (1 + self.spec), context, chunks) - self.k_seq * decode * self.spec + draft
        if not (chunks and decode):
            return whole if chunks else whole / self.per_step
        # a step that also prefills: its decode part per token emitted, like a decode step's, and the
        # prefill's addition whole (see the module docstring)
        alone = StepCost.step(self, decode * (1 + self.spec), context) - self.k_seq * decode * self.spec + draft
        return whole - alone + alone / self.per_step

    def _draft(self, decode: int, context: float) -> float:
        return self.share * (max(self.weights[decode], self.gemm[decode]) + self.comm[decode]
                             + max(self.k_mem, self.k_attn) * context + self.k_dfix + self.k_seq * decode)

    def _run(self, batch: int, context: float) -> tuple[float, float, float]:
        fixed = (StepCost._run(self, batch * (1 + self.spec), context)[0]  # the verify pass's weights, collectives
                 - self.k_seq * batch * self.spec  # (its attention: the B sequences')
                 + self.share * (max(self.weights[batch], self.gemm[batch]) + self.comm[batch]  # and the drafts'
                                 + self.k_dfix + self.k_seq * batch))
        k = max(self.k_mem, self.k_attn) * (1 + self.share)  # each reads every sequence's cache once
        return fixed / self.per_step, k * (context + batch) / self.per_step, k * batch / self.per_step


def fixed_step_cost(config: Config, calibration: Calibration, prefill: bool = False) -> float:
    """Seconds every step (forward pass) of ``config``'s decoding workers (or with ``prefill`` its
    prefilling ones) pays whatever its tokens: the calibration's cost per step, its cost per MoE
    layer (:attr:`Calibration.t_moe`), where that side's experts span nodes its cost per MoE
    layer exchanged between them (:attr:`Calibration.t_xnode`), and where its TP group spans nodes
    its cost per all-reduce between them (:attr:`Calibration.t_xar`), as the static model's steps
    (:func:`nvlmodel.calibrate.step_times`) do."""
    return (require_positive("t_step", calibration.t_step, allow_zero=True)
            + _moe_layer_cost(config, calibration, prefill) * config.arch.moe_layers
            + calibration.t_xar * config.allreduces_across_nodes(prefill))


def _moe_layer_cost(config: Config, calibration: Calibration, prefill: bool) -> float:
    """What one MoE layer of a forward pass costs beside its kernels: :attr:`Calibration.t_moe`, and
    :attr:`Calibration.t_xnode` where that side's experts span nodes."""
    return calibration.t_moe + (calibration.t_xnode if config.crosses_domains(prefill) else 0.0)


def step_cost(config: Config, calibration: Calibration, *, prefill: bool = False, max_tokens: int = 8192,
              reference_context: int = 4096) -> StepCost:
    """The :class:`StepCost` of ``config``'s decoding workers (or with ``prefill`` its prefill
    workers, :meth:`nvlmodel.calibrate.Config.shape`) at ``calibration``, for steps of up to
    ``max_tokens`` tokens. ``reference_context`` linearises sliding-window layers (and, for a
    calibration whose steps come from measured kernels, attention: :func:`kernel_step_cost`)."""
    require_positive_int("max_tokens", max_tokens)
    require_positive_int("reference_context", reference_context)
    if not isinstance(calibration, Calibration):
        raise TypeError(f"calibration must be a nvlmodel.calibrate.Calibration, got {type(calibration).__name__}")
    k = config.spec_tokens
    if k and not (prefill and config.mode == "disagg"):  # a worker that decodes speculatively
        base = step_cost(replace(config, spec_tokens=0), calibration, prefill=prefill,
                         max_tokens=max_tokens * (1 + k), reference_context=reference_context)
        parts = {f.name: getattr(base, f.name) for f in fields(StepCost)}
        if config.arch.moe_layers:  # each draft runs the draft module's MoE layer: its cost per MoE layer
            parts["t_step"] += _moe_layer_cost(config, calibration, prefill) * k
        # and, where the TP group spans nodes, one layer's share of the all-reduces between them (as the static model)
        parts["t_step"] += calibration.t_xar * config.allreduces_across_nodes(prefill) * k / config.arch.layers
        return SpeculativeStepCost(**parts, spec=k, per_step=accepted_tokens(calibration.acceptance, k),
                                   share=k / config.arch.layers)
    if calibration.step == "kernels":
        kc = kernel_step_cost(config, calibration, prefill=prefill, max_tokens=max_tokens,
                              reference_context=reference_context)
        if kc is not None:
            return kc
    tp, adp, ep = config.shape(prefill)
    m, g = config.arch_of(prefill), config.gpu_spec
    eff = Efficiency(calibration.compute, calibration.bandwidth)
    roof = partial(_roofline_linear, config, eff, prefill)
    dense = TokenTable(max_tokens, partial(_roofline_dense, config, eff, prefill)) if adp > 1 else None
    kvb = config.kv_bytes_per_element
    bw = g.hbm_bandwidth * calibration.bandwidth
    attn_peak = g.peak_flops(_attention_dtype(kvb)) * calibration.compute
    L = float(reference_context)
    k_mem = float(m.kv_bytes_per_sequence_per_gpu(L, kvb, tp)) / L / bw / adp
    k_attn = float(m.attention_flops_per_token(L, "decode")) / L / tp / attn_peak / adp
    k_pair = float(m.attention_flops_per_token(L, "prefill")) / L / tp / attn_peak / adp
    return StepCost(t_step=fixed_step_cost(config, calibration, prefill),
                    weights=TokenTable(max_tokens, partial(roof, "t_memory")),
                    gemm=TokenTable(max_tokens, partial(roof, "t_compute")),
                    comm=TokenTable(max_tokens, partial(_comm, config, prefill)),
                    k_mem=k_mem, k_attn=k_attn, k_pair=k_pair, max_tokens=max_tokens, ranks=adp, dense=dense)


def _roofline_linear(config: Config, eff: Efficiency, prefill: bool, part: str, tokens: np.ndarray) -> np.ndarray:
    """The roofline's decode step over ``tokens`` tokens of the worker (spread over its ranks): its
    weights' memory time (``part="t_memory"``) or its GEMMs' compute time (``"t_compute"``)."""
    tp, adp, ep = config.shape(prefill)
    d = decode_step(config.gpu_spec, config.arch_of(prefill), config.weight_format, batch=tokens / adp, context=0,
                    tp=tp, attention_dp=adp, ep=ep, kv_bytes_per_element=config.kv_bytes_per_element,
                    fp4_mode=config.fp4_mode, expert_format=config.expert_format, efficiency=eff)
    return getattr(d, part)


def _roofline_dense(config: Config, eff: Efficiency, prefill: bool, tokens: np.ndarray) -> np.ndarray:
    """The roofline's dense GEMMs (all but the routed experts) at ``tokens`` / ranks per rank."""
    tp, adp, _ = config.shape(prefill)
    return dense_gemm_time(config.gpu_spec, config.arch_of(prefill), config.weight_format, tokens=tokens / adp, tp=tp,
                           efficiency=eff, fp4_mode=config.fp4_mode)


def _comm(config: Config, prefill: bool, tokens: np.ndarray) -> np.ndarray:
    """A step's collectives over ``tokens`` tokens of the worker (:func:`nvlmodel.calibrate.comm_time`)."""
    return np.asarray(comm_time(config, tokens / config.shape(prefill)[1], prefill=prefill), dtype=float)


def kernel_step_cost(config: Config, calibration: Calibration, *, prefill: bool = False, max_tokens: int = 8192,
                     reference_context: int = 4096) -> "StepCost | None":
    """The :class:`StepCost` of a calibration whose steps come from measured kernels
    (:func:`nvlmodel.kernels.step_time`), or None where the kernel tables do not cover the worker
    (the roofline then stands in, as in the static model). ``gemm[T]`` holds the step's linear
    layers (projections, MLPs or the MoE block, LM head) over ``T`` tokens, each kernel call's lone
    fixed cost replaced by the calibration's ``t_launch`` (attention's calls too); decode attention
    is a fixed part, a part per sequence and one per context token read (``k_dfix``, ``k_seq``,
    ``k_attn``), fitted to the measured kernel over batches and contexts
    (:func:`_decode_attention_terms`); a prefill chunk's attention is a fixed part, a part per new
    token and one per (query, key) pair (``k_chunk``, ``k_tok``, ``k_pair``), fitted to the measured
    kernel over prompt lengths (:func:`_prefill_attention_terms`). ``reference_context`` linearises
    sliding-window layers. Weights and KV bytes are inside the kernel times, so the memory terms are
    zero. A lone decode step of ``B`` sequences, and a lone prompt, match the static model's kernel
    step (:func:`nvlmodel.calibrate.step_times`) within those fits (a test: 10 %)."""
    from ..kernels import attention_time, mla_gemm_type, mla_time

    tp, adp, ep = config.shape(prefill)
    m = config.arch_of(prefill)
    measured = _KernelLinear(config, calibration, prefill, reference_context)
    linear = TokenTable(max_tokens, measured.linear)
    try:
        linear[1]  # the tables cover the worker's linear layers (else ValueError)
        L = float(reference_context)
        if m.mla is not None:
            one = dict(heads=m.heads // tp, kv_dtype=config.kv_dtype, gemm_type=mla_gemm_type(config.precision))

            def attention(phase, batch, n):
                return _fitted(mla_time(config.system, config.backend, phase, batch=batch, tokens=n, **one) * m.layers,
                               calibration)
        else:
            one = dict(head_dim=m.head_dim, heads=m.heads / tp, kv_heads=m.kv_heads_per_gpu(tp), kv_dtype=config.kv_dtype)
            layers = float(m._attended(L)) / L  # sliding-window layers count as a fraction of a full one at L

            def attention(phase, batch, n):
                return _fitted(attention_time(config.system, config.backend, phase, batch=batch, tokens=n, **one)
                               * layers, calibration)
        k_dfix, k_seq, k_ctx = _decode_attention_terms(lambda bb, n: attention("decode", bb, n))
        k_chunk, k_tok, k_pair = _prefill_attention_terms(lambda n: attention("prefill", 1, n))
    except ValueError:
        return None
    dense = TokenTable(max_tokens, measured.dense) if adp > 1 else None
    return StepCost(t_step=fixed_step_cost(config, calibration, prefill),
                    weights=TokenTable(max_tokens, _zeros), gemm=linear,
                    comm=TokenTable(max_tokens, partial(_comm, config, prefill)),
                    k_mem=0.0, k_attn=k_ctx / adp, k_pair=k_pair / adp, max_tokens=max_tokens,
                    ranks=adp, dense=dense, k_tok=k_tok / adp, k_chunk=k_chunk / adp, k_seq=k_seq / adp, k_dfix=k_dfix)


def _fitted(kt, calibration: Calibration, scale=1.0):
    """Measured kernel time with each call's lone fixed cost replaced by the calibration's
    ``t_launch``, as the static model charges it (the linear layers scaled by ``scale``)."""
    return (kt.seconds - kt.floor) * scale + calibration.t_launch * kt.calls


class _KernelLinear:
    """The measured linear layers of a worker's steps over blocks of token counts (spread over its
    ranks): projections, MLPs or the MoE block, LM head (:meth:`linear`), and all but the routed
    experts (:meth:`dense`), scaled on :attr:`Calibration.kernel_scale`'s ramp. One kernel lookup
    serves both for a block: the last few blocks' are kept (a step reads both tables, at its tokens
    and at its busiest rank's)."""

    KEEP = 4

    def __init__(self, config: Config, calibration: Calibration, prefill: bool, reference_context: int):
        self.config, self.calibration, self.prefill, self.reference_context = config, calibration, prefill, reference_context
        self._kept: dict = {}

    def linear(self, tokens: np.ndarray) -> np.ndarray:
        return self._both(tokens)[0]

    def dense(self, tokens: np.ndarray) -> np.ndarray:
        return self._both(tokens)[1]

    def _both(self, tokens: np.ndarray) -> tuple:
        key = (float(tokens[0]), float(tokens[-1]), len(tokens))
        if key not in self._kept:
            from ..kernels import step_time

            c = self.config
            tp, adp, ep = c.shape(self.prefill)
            parts = step_time(c.system, c.backend, c.arch_of(self.prefill), c.precision, phase="decode",
                              batch=tokens / adp, tokens=self.reference_context, kv_dtype=c.kv_dtype, tp=tp,
                              attention_dp=adp, ep=ep, moe_kernel=c.moe_kernel)
            scaled = kernel_scale_factor(tokens / adp, self.calibration.kernel_scale)  # per rank's tokens
            dense = parts["gemm"] + parts["lm_head"]  # all but the routed experts: per rank
            linear = dense + parts["moe"] if "moe" in parts else dense
            if len(self._kept) >= self.KEEP:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = (_fitted(linear, self.calibration, scaled), _fitted(dense, self.calibration, scaled))
        return self._kept[key]

    def __getstate__(self):  # what it is, not what it has kept
        return {**self.__dict__, "_kept": {}}


#: Prompt lengths at which a measured prefill attention kernel is fitted (:func:`_prefill_attention_terms`).
PREFILL_FIT_TOKENS: tuple[int, ...] = (512, 1024, 2048, 4096, 8192, 16384)
#: Sequences per rank and contexts at which a measured decode attention kernel is fitted
#: (:func:`_decode_attention_terms`): the batches and contexts the serving rows decode at.
DECODE_FIT_BATCHES: tuple[int, ...] = (1, 4, 16, 64, 256)
DECODE_FIT_CONTEXTS: tuple[int, ...] = (1024, 2048, 4096, 8192, 16384)


def _nonnegative_relative_fit(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The non-negative coefficients ``c`` that make ``x @ c`` (one row per measured point, one
    column per term) err least against ``t`` in squared relative error: the calibration's own
    non-negative least squares (:func:`nvlmodel.calibrate.fit._nnls_relative`) at one point."""
    y = np.asarray(t, float)[None, :]
    return np.array([c[0] for c in _nnls_relative(y, y, *(col[None, :] for col in np.asarray(x, float).T))])


def _decode_attention_terms(seconds) -> tuple[float, float, float]:
    """A measured decode attention kernel (per rank, ``seconds(b, L)`` for ``b`` sequences at ``L``
    tokens of context) as ``k_fix + k_seq x b + k_ctx x b x L``: a fixed part per step, a part per
    sequence (MLA's projections, which do not read the cache) and one per context token read, each
    >= 0, fitted in relative error at :data:`DECODE_FIT_BATCHES` x :data:`DECODE_FIT_CONTEXTS`.
    One time at one batch and context scaled by the context read alone (this module's earlier
    linearisation, at 32 sequences of 4,096 tokens) put DeepSeek's MLA module on B200 at 137
    sequences of 8,704 tokens at 4x its measured time.

    >>> f, s, c = _decode_attention_terms(lambda b, n: 1e-4 + 2e-5 * b + 3e-9 * b * n)
    >>> round(f * 1e4, 6), round(s * 1e5, 6), round(c * 1e9, 6)
    (1.0, 2.0, 3.0)
    """
    b, n = (a.ravel() for a in np.meshgrid(np.array(DECODE_FIT_BATCHES, float), np.array(DECODE_FIT_CONTEXTS, float)))
    t = np.array([seconds(bb, nn) for bb, nn in zip(b, n)], dtype=float)
    c = _nonnegative_relative_fit(np.column_stack([np.ones_like(b), b, b * n]), t)
    return float(c[0]), float(c[1]), float(c[2])


def _prefill_attention_terms(seconds) -> tuple[float, float, float]:
    """A measured prefill attention kernel as ``k_chunk + k_tok x p + k_pair x p^2 / 2`` for a
    prompt (chunk) of ``p`` tokens (``seconds(p)``, at :data:`PREFILL_FIT_TOKENS`): a fixed part, a
    part linear in the prompt (MLA's projections, the kernel's per-token work) and one per (query,
    key) pair, each >= 0, fitted in relative error (the measured MLA and GQA kernels on H200 and
    B200 within 10 %). Scaling the kernel at one length by its pairs alone misses the first two:
    DeepSeek's MLA at 1,024 tokens would be a quarter of its measured time.

    >>> c, a, b = _prefill_attention_terms(lambda p: 5e-5 + 2e-6 * p + 1e-9 * p * p / 2)
    >>> round(c * 1e5, 6), round(a * 1e6, 6), round(b * 1e9, 6)
    (5.0, 2.0, 1.0)
    """
    p = np.array(PREFILL_FIT_TOKENS, dtype=float)
    t = np.array([seconds(n) for n in PREFILL_FIT_TOKENS], dtype=float)
    c = _nonnegative_relative_fit(np.column_stack([np.ones_like(p), p, p * p / 2]), t)
    return float(c[0]), float(c[1]), float(c[2])
