"""Measured kernel latencies, and the forward step they add up to.

The serving engines' own kernels (TensorRT-LLM 1.3.0rc20, vLLM 0.24.0), measured one at a time on
one GPU of H100 SXM, H200 SXM, B200 SXM and GB200 by aiconfigurator's collectors, reduced to small
tables by ``scripts/curate_kernels.py`` (``nvlmodel/data/kernel_*.csv``; source and licence in the
README there):

* :func:`gemm_time`: a dense GEMM of ``m`` tokens by an ``n x k`` weight, by dtype (bfloat16, fp8
  per-tensor, fp8_block, nvfp4), interpolated log-linearly in (m, n, k) on a power-of-two grid;
* :func:`attention_time`: grouped-query attention, decode (one new token per sequence over its
  cache) and prefill (causal over the prompt), by head_dim, query heads per KV head and KV dtype;
* :func:`moe_time`: the fused MoE block of a known MoE model by tokens, dtype and MoE TP x EP;
* :func:`mla_time`: DeepSeek-V3's whole MLA attention module (projections included).

A shape outside a table is taken from the nearest measured point and scaled by FLOPs (GEMM, MoE:
tokens beyond the largest measured) or clamped (below the smallest, where fixed costs dominate),
and the result says so (``extrapolated``). HGX B200 and GB200, one die measured in two campaigns,
read the faster of their two timings of a kernel at a shape where those lie more than
:data:`SAME_SILICON_SPREAD` apart (:data:`SAME_SILICON`, :func:`same_silicon_table`).

:func:`step_time` sums one forward step of a worker from them, per layer: the weight GEMMs at the
checkpoint's dtype (:func:`gemm_dtype_for`), attention, the MoE block, the LM head. Communication
(:func:`nvlmodel.calibrate.comm_time`) and the engine's fixed costs come on top, fitted where they
are not measured (:mod:`nvlmodel.calibrate`). Not in the tables, so not in ``step_time``: norms,
rotary embedding, activation quantization, sampling: per-token costs the fitted overheads absorb.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .models import ModelArch, get_model
from .units import (curated_table as _table, no_faster_when_larger, require_choice, require_positive,
                    require_positive_int)

#: Systems with measured kernels.
KERNEL_SYSTEMS: tuple[str, ...] = ("h100_sxm", "h200_sxm", "b200_sxm", "gb200")
#: Serving engine -> the engine whose kernels it runs (on Blackwell, :data:`KERNEL_BACKEND_BLACKWELL`
#: first). SGLang is not in the op database; on Hopper it runs FlashInfer/FlashAttention and
#: CUTLASS/DeepGEMM kernels as vLLM does, so vLLM's tables stand in (an assumption).
KERNEL_BACKEND: dict[str, str] = {"trtllm": "trtllm", "vllm": "vllm", "sglang": "vllm"}
#: Systems whose engines pick Blackwell kernels.
BLACKWELL_SYSTEMS: tuple[str, ...] = ("b200_sxm", "gb200")
#: On Blackwell, SGLang runs TensorRT-LLM's kernels: its attention backend defaults to TensorRT-LLM's
#: there (``trtllm_mla`` for DeepSeek's MLA, ``trtllm_mha`` otherwise; SGLang's "Attention Backend"
#: documentation, automatic selection), and InferenceMAX's SGLang DeepSeek-R1 runs on B200 set it
#: and TensorRT-LLM's MoE kernels through FlashInfer (``--attention-backend trtllm_mla
#: --moe-runner-backend flashinfer_trtllm`` in ``benchmarks/single_node/dsr1_fp{4,8}_b200.sh`` of
#: SemiAnalysisAI/InferenceX, every version from 2026-01 to 2026-04), so TensorRT-LLM's tables stand in.
KERNEL_BACKEND_BLACKWELL: dict[str, str] = {"sglang": "trtllm"}
GEMM_DTYPES: tuple[str, ...] = ("bfloat16", "fp8", "fp8_block", "nvfp4")
#: GEMM tables whose timings are the host's, not the GPU's, and the engine whose kernels of the same
#: dtype stand in: (backend, dtype) -> backend. vLLM's block-scaled FP8 GEMM was timed with a fixed
#: cost per call of 56 us on H100/H200 and 152-255 us on B200/GB200 (its fastest call; every other
#: table's is 2-12 us): on Hopper, once that cost is taken off, 56-71 % of its points at 1-64 tokens
#: on weights of 16 M elements or more take less than their weights' HBM time, which no GPU kernel
#: can; on Blackwell its 1-token calls take a median 33-64x that time (every other table: 1.3-6x).
#: An engine replaying CUDA graphs does not pay a host's cost per call, so these timings say nothing
#: of the GPU's, and TensorRT-LLM's block-scaled FP8 GEMM (fastest call 4-5 us) stands in
#: (:func:`host_bound_tables` recomputes the evidence).
GEMM_STAND_IN: dict[tuple[str, str], str] = {("vllm", "fp8_block"): "trtllm"}
#: GEMM dtype -> the weight format of :mod:`nvlmodel.fp4` it reads.
_WEIGHT_FORMAT: dict[str, str] = {"bfloat16": "fp16", "fp8": "fp8", "fp8_block": "fp8", "nvfp4": "nvfp4"}
PHASES: tuple[str, ...] = ("decode", "prefill")
#: Checkpoint precisions (as :mod:`nvlmodel.calibrate` names them).
PRECISIONS: tuple[str, ...] = ("bf16", "fp8", "fp4")
#: KV-cache dtype (as :mod:`nvlmodel.calibrate` names it) -> the tables' name.
KV_DTYPE: dict[str, str] = {"bf16": "bfloat16", "fp16": "bfloat16", "fp8": "fp8"}
#: Checkpoints whose linear layers are block-scaled FP8 (128 x 128 scales) rather than per-tensor:
#: DeepSeek-V3/R1 and the Qwen3 FP8 releases (REFERENCE.md, Models).
FP8_BLOCK_MODELS: frozenset[str] = frozenset({"deepseek-v3", "qwen3-32b", "qwen3-235b-a22b"})
#: MoE dtype of the routed experts by (model, precision); default: the GEMM dtype of the precision.
#: gpt-oss's MXFP4 experts run with BF16 activations (W4A16) on Hopper and in vLLM; TensorRT-LLM
#: on Blackwell runs them with MXFP8 activations (W4A8), its default there.
MOE_DTYPE: dict[tuple[str, str], str] = {("gpt-oss-120b", "fp4"): "w4a16_mxfp4"}
MOE_DTYPE_BLACKWELL_TRTLLM: dict[tuple[str, str], str] = {("gpt-oss-120b", "fp4"): "w4a8_mxfp4_mxfp8"}
#: MoE kernels a benchmark may select instead of its engine's default (the ``moe_kernel`` column of the
#: measured rows, from their scripts) -> how a measured table prices it: (the engine whose table timed
#: it, None: the row's own; its dtype, None: the checkpoint's as that engine runs it; the small-batch
#: kernel it switches to at few tokens, :data:`MOE_SMALL_BATCH`: True the table engine's own, False
#: none, or another engine's), or None where no table timed it and the engine's default stands in.
#:
#: vLLM's FlashInfer MXFP4 x MXFP8 experts (``VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8``) call the
#: TensorRT-LLM-gen block-scale MoE kernels that TensorRT-LLM runs for gpt-oss on Blackwell, so
#: TensorRT-LLM's W4A8 table prices them (vLLM's table measured its default, BF16 activations). vLLM's
#: Marlin W4A16 experts (``VLLM_MXFP4_USE_MARLIN``) were not measured: vLLM's table (OpenAI's Triton
#: kernels, its Hopper default, also W4A16) stands in. TensorRT-LLM's ``moe_config: backend: TRITON``
#: is the backend its own Hopper table timed (aiconfigurator's collector, ``collector/trtllm/
#: collect_moe.py`` at 095f58a51, runs gpt-oss's experts on Hopper with TensorRT-LLM's Triton backend,
#: the one its serving picks there), so that table prices it; vLLM's table of the same Triton kernels,
#: tried in its place on the H200 rows (calibration rows), puts the experts split by tensor
#: parallelism 16-30 % faster than split by expert, where the rows measured both ways differ by a
#: median 0.1 % (``scripts/tried_on_calibration.py``, variant ``triton-moe-from-vllm``).
#:
#: SGLang's ``--moe-runner-backend flashinfer_trtllm`` (``--enable-flashinfer-trtllm-moe`` before)
#: runs FlashInfer's TensorRT-LLM-gen block-scale MoE, the call vLLM's Blackwell table timed for
#: DeepSeek's FP8 and NVFP4 experts (its kernel sources name FlashInfer's TensorRT-LLM experts), at
#: every token count. TensorRT-LLM's own tables of DeepSeek on Blackwell timed other backends
#: (aiconfigurator's collector, as above): DeepGEMM for FP8 block-scaled experts, and for NVFP4 CUTLASS,
#: with the TensorRT-LLM-gen min-latency kernel apart (up to 128 tokens, :data:`MOE_SMALL_BATCH`). So
#: TensorRT-LLM's ``moe_config: backend: TRTLLM`` is priced by vLLM's table of the TensorRT-LLM-gen
#: kernels and, in NVFP4, TensorRT-LLM's own min-latency kernel up to 128 tokens; ``CUTLASS`` by
#: TensorRT-LLM's CUTLASS table alone; ``DEEPGEMM`` by TensorRT-LLM's FP8 table, its default.
MOE_KERNELS: dict[str, "tuple[str | None, str | None, bool | str] | None"] = {
    "flashinfer_mxfp4_mxfp8": ("trtllm", "w4a8_mxfp4_mxfp8", True),
    "flashinfer_trtllm": ("vllm", None, True),
    "trtllm_gen": ("vllm", None, "trtllm"),
    "cutlass": (None, None, False),
    "deepgemm": None,
    "marlin_mxfp4": None,
    "triton_mxfp4": None,
}
#: (kernel tables, MoE dtype) -> the most tokens at which the engine runs its small-batch MoE kernel
#: (``kernel == "min_latency"`` in the table): TensorRT-LLM's NVFP4 ``moe_torch_flow_min_latency``
#: for gated MoE at 128 tokens or fewer, as aiconfigurator reads the tables it measured (aic-core
#: ``operators/moe.rs``; ``scripts/curate_kernels.py`` keeps that kernel apart).
MOE_SMALL_BATCH: dict[tuple[str, str], int] = {("trtllm", "nvfp4"): 128}
#: Systems whose GPUs are one die (REFERENCE.md: the B200 GPU, in HGX B200 at 1,000 W and in GB200 at
#: 1,200 W), measured by the same engine builds in two campaigns. Where their tables time the same
#: kernel at the same shape more than :data:`SAME_SILICON_SPREAD` apart, the slower timing cannot be
#: a property of the silicon (the faster one ran on it), so both systems take the faster one
#: (:func:`same_silicon_table` counts the cells; without it a ratio between the two systems would
#: rest on which campaign caught a slow tactic: TensorRT-LLM's NVFP4 MoE block of DeepSeek-R1 split
#: four, eight or sixteen ways by expert takes 1.7-1.8x as long in the HGX B200 table, split two ways
#: 1.04x; vLLM's MLA module takes a median 1.7x as long in the GB200 table).
SAME_SILICON: tuple[str, str] = ("b200_sxm", "gb200")
#: The ratio beyond which two timings of one kernel, shape and die are reconciled. In TensorRT-LLM's
#: GEMM, attention and MLA tables the timings the two systems share differ by a median 0.99-1.05x,
#: nine in ten of them by 0.87-1.14x (``same_silicon_table``; the test of this module checks it).
SAME_SILICON_SPREAD: float = 1.25


def _time_columns(t) -> list[str]:
    return [c for c in t.columns if c.startswith("t") and c[1:].isdigit()]


def _same_silicon(t, spread: float):
    """``t`` (a kernel table) with the cells of :data:`SAME_SILICON` reconciled, the shared cells'
    ratios (first system over second, one row per shared shape), and the masks of the cells each
    system took from the other."""
    import pandas as pd

    tcols = _time_columns(t)
    keys = [c for c in t.columns if c not in tcols and c not in ("system", "source")]
    # a shape's key as a lookup reads it: the MoE table's default kernel has no name ("")
    keyed = t.assign(**{k: t[k].fillna("") for k in keys if not pd.api.types.is_numeric_dtype(t[k])})
    a, b = SAME_SILICON
    ta, tb = (keyed[keyed.system == s_].set_index(keys) for s_ in SAME_SILICON)
    if ta.index.has_duplicates or tb.index.has_duplicates:
        raise ValueError(f"a kernel table holds one shape twice on {a} or {b}; rerun scripts/curate_kernels.py")
    shared = ta.index.intersection(tb.index)
    va, vb = ta.loc[shared, tcols].to_numpy(float), tb.loc[shared, tcols].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = va / vb
    take_b, take_a = r > spread, r < 1 / spread  # NaN compares False: a cell one table lacks stays as it is
    out = t.copy()
    for s_, frame, v, mask, other in ((a, ta, va, take_b, vb), (b, tb, vb, take_a, va)):
        idx = t.index[t.system == s_][frame.index.get_indexer(shared)]
        out.loc[idx, tcols] = np.where(mask, other, v)
    return out, pd.DataFrame(r, index=shared, columns=tcols), take_b, take_a


@lru_cache(maxsize=None)
def _measured(name: str):
    """A curated kernel table as every lookup reads it: :data:`SAME_SILICON` reconciled (the curated
    CSV stays as measured; :func:`same_silicon_table` shows what changed)."""
    return _same_silicon(_table(name), SAME_SILICON_SPREAD)[0]


#: The curated kernel tables, by what they time.
KERNEL_TABLES: dict[str, str] = {"gemm": "kernel_gemm.csv", "attention_decode": "kernel_attention_decode.csv",
                                 "attention_prefill": "kernel_attention_prefill.csv", "mla": "kernel_mla.csv",
                                 "moe": "kernel_moe.csv"}


def same_silicon_ratios(what: str) -> "pd.DataFrame":  # noqa: F821
    """HGX B200's timings over GB200's, as measured, for every shape both measured in one kernel
    table (:data:`KERNEL_TABLES`): one row per shape (indexed by the table's key columns, the MoE
    table's default kernel named ""), one column per ``t<N>`` (NaN where either lacks it)."""
    require_choice("table", what, tuple(KERNEL_TABLES))
    return _same_silicon(_table(KERNEL_TABLES[what]), SAME_SILICON_SPREAD)[1]


def same_silicon_table(spread: float = SAME_SILICON_SPREAD) -> "pd.DataFrame":  # noqa: F821
    """Per kernel table and engine: the timings HGX B200 and GB200 share (``cells``), the median and
    the 5th-95th percentiles of B200 over GB200, and how many cells each system takes from the other
    (``b200_takes_gb200``, ``gb200_takes_b200``) because the two lie more than ``spread`` apart
    (:data:`SAME_SILICON`)."""
    import pandas as pd

    if not (isinstance(spread, (int, float)) and spread > 1):
        raise ValueError(f"spread must be a ratio above 1, got {spread!r}")
    rows = []
    for what, name in KERNEL_TABLES.items():
        _, r, take_b, take_a = _same_silicon(_table(name), float(spread))
        for backend in sorted(set(r.index.get_level_values("backend"))):
            sel = np.asarray(r.index.get_level_values("backend") == backend)
            v = r.to_numpy()[sel]
            ok = np.isfinite(v)
            rows.append({"table": what, "backend": backend, "cells": int(ok.sum()),
                         "b200_over_gb200": float(np.median(v[ok])), "p5": float(np.percentile(v[ok], 5)),
                         "p95": float(np.percentile(v[ok], 95)), "b200_takes_gb200": int(take_b[sel].sum()),
                         "gb200_takes_b200": int(take_a[sel].sum())})
    return pd.DataFrame(rows)


def _interp(axes, cube: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Multilinear interpolation of ``cube`` (one axis per entry of ``axes``, each increasing) at
    ``pts`` (N x d), clamped to the grid."""
    idx, w = [], []
    for d, ax in enumerate(axes):
        x = np.clip(pts[:, d], ax[0], ax[-1])
        i = np.clip(np.searchsorted(ax, x) - 1, 0, len(ax) - 2)
        idx.append(i)
        w.append((x - ax[i]) / (ax[i + 1] - ax[i]))
    out = np.zeros(len(pts))
    for corner in itertools.product((0, 1), repeat=len(axes)):
        wt = np.ones(len(pts))
        at = []
        for d, c in enumerate(corner):
            wt = wt * (w[d] if c else 1 - w[d])
            at.append(idx[d] + c)
        out = out + wt * cube[tuple(at)]
    return out


def _fill_holes(grid: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complete a (rows x cols) latency grid whose largest shapes were not all measured: along the
    rows (batch or streams: independent work), a missing cell beyond the last measured row takes
    that row's time scaled linearly, and one before the first measured row the first's time (an
    upper bound). Columns with nothing measured are dropped."""
    grid = grid.copy()
    keep = np.isfinite(grid).any(axis=0)
    grid, cols = grid[:, keep], cols[keep]
    for j in range(grid.shape[1]):
        ok = np.flatnonzero(np.isfinite(grid[:, j]))
        first, last = ok[0], ok[-1]
        grid[:first, j] = grid[first, j]
        grid[last + 1:, j] = grid[last, j] * rows[last + 1:] / rows[last]
        hole = ~np.isfinite(grid[:, j])
        if hole.any():  # a gap between measured rows: log-log between its neighbours
            grid[hole, j] = np.exp(np.interp(np.log(rows[hole]), np.log(rows[~hole]), np.log(grid[~hole, j])))
    return grid, cols


def _cols(t) -> np.ndarray:
    """The token (or context) counts of a table's ``t<N>`` columns, increasing, whatever their order
    in the file (the MLA table lists the prefill lengths after the decode ones)."""
    return np.sort([float(c[1:]) for c in _time_columns(t)])


@dataclass(frozen=True)
class KernelTime:
    """Seconds (a float, or an array over the tokens asked for) of ``calls`` kernel calls, whether
    any part was extrapolated beyond the measured shapes (a bool, or a bool array), and ``floor``:
    the part of ``seconds`` that is each call's fixed cost as measured alone (the op's fastest
    measured call), which an engine replaying CUDA graphs with fused quantization pays otherwise
    (:mod:`nvlmodel.calibrate` replaces it by a fitted cost per call)."""

    seconds: "float | np.ndarray"
    extrapolated: "bool | np.ndarray"
    calls: float = 1.0
    floor: float = 0.0

    def __add__(self, other: "KernelTime") -> "KernelTime":
        return KernelTime(self.seconds + other.seconds, np.logical_or(self.extrapolated, other.extrapolated),
                          self.calls + other.calls, self.floor + other.floor)

    def __mul__(self, k: float) -> "KernelTime":
        """``k`` calls of the same kernel."""
        return KernelTime(self.seconds * k, self.extrapolated, self.calls * k, self.floor * k)

    __rmul__ = __mul__


def _positive_array(what: str, x) -> tuple[np.ndarray, bool]:
    """``x`` (scalar or array) as a 1-D float array, and whether it was a scalar; raises unless every
    value is finite and > 0."""
    scalar = np.ndim(x) == 0
    a = np.atleast_1d(np.asarray(x, float))
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{what} must be finite and > 0")
    return a, scalar


def _result(seconds, extrapolated, scalar: bool, floor: float) -> KernelTime:
    if scalar:
        return KernelTime(float(np.asarray(seconds).reshape(-1)[0]), bool(np.asarray(extrapolated).reshape(-1)[0]),
                          1.0, floor)
    return KernelTime(np.asarray(seconds, float), np.asarray(extrapolated, bool), 1.0, floor)


def _backend(backend: str, system: str) -> str:
    """The engine whose kernel tables ``backend`` runs on ``system`` (:data:`KERNEL_BACKEND`,
    :data:`KERNEL_BACKEND_BLACKWELL`).

    >>> _backend("sglang", "h200_sxm"), _backend("sglang", "gb200"), _backend("vllm", "b200_sxm")
    ('vllm', 'trtllm', 'vllm')
    """
    be = require_choice("backend", backend, KERNEL_BACKEND)
    if system in BLACKWELL_SYSTEMS and be in KERNEL_BACKEND_BLACKWELL:
        return KERNEL_BACKEND_BLACKWELL[be]
    return KERNEL_BACKEND[be]


# ---- GEMM ----------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _gemm_cube(system: str, backend: str, dtype: str, envelope: bool = True, same_silicon: bool = True):
    """Token counts, n and k of a GEMM table, and its log seconds on that (m, n, k) grid, holes
    filled; with ``envelope`` (as every lookup reads it) made non-decreasing in tokens
    (:func:`nvlmodel.units.no_faster_when_larger`), with ``same_silicon`` (as every lookup reads it)
    reconciled across :data:`SAME_SILICON`."""
    t = _measured("kernel_gemm.csv") if same_silicon else _table("kernel_gemm.csv")
    t = t[(t.system == system) & (t.backend == backend) & (t.dtype == dtype)]
    if t.empty:
        raise ValueError(f"no {dtype} GEMM measured on {system} with {backend}")
    ms = _cols(t)
    ns, ks = np.sort(t.n.unique()), np.sort(t.k.unique())
    cube = np.full((len(ms), len(ns), len(ks)), np.nan)
    vals = t[[f"t{int(m)}" for m in ms]].to_numpy(float)
    for (n, k), v in zip(zip(t.n, t.k), vals):
        cube[:, np.searchsorted(ns, n), np.searchsorted(ks, k)] = v
    # The largest shapes (n or k = 65536 at many tokens) were not all measured: such a cell takes its
    # neighbour's time at the next smaller n (then k), scaled by FLOPs (compute-bound there).
    for axis, sizes in ((1, ns), (2, ks)):
        for j in range(1, len(sizes)):
            hole = np.isnan(cube.take(j, axis=axis))
            if hole.any():
                src = cube.take(j - 1, axis=axis) * sizes[j] / sizes[j - 1]
                sl = [slice(None)] * 3
                sl[axis] = j
                cube[tuple(sl)] = np.where(hole, src, cube[tuple(sl)])
    if np.isnan(cube).any():
        raise ValueError(f"the {dtype} GEMM grid of {system}/{backend} has holes; rerun scripts/curate_kernels.py")
    return ms, ns, ks, np.log((no_faster_when_larger(cube, (0,)) if envelope else cube) * 1e-6)


@lru_cache(maxsize=None)
def cube_min(system: str, backend: str, dtype: str) -> float:
    """log seconds of the fastest measured GEMM of ``dtype`` (the call's fixed cost)."""
    return float(np.min(_gemm_cube(system, backend, dtype)[3]))


@lru_cache(maxsize=4096)
def _gemm_curve(system: str, backend: str, dtype: str, n: float, k: float):
    """log seconds over the measured m grid for one (n, k) within the grid, and the FLOP scale of
    an (n, k) beyond it."""
    ms, ns, ks, cube = _gemm_cube(system, backend, dtype)
    nc, kc = min(max(n, ns[0]), ns[-1]), min(max(k, ks[0]), ks[-1])
    scale = max(n / nc, 1.0) * max(k / kc, 1.0)  # beyond the largest measured: FLOPs scale
    outside = (n, k) != (nc, kc)
    pts = np.array([[np.log(m), np.log(nc), np.log(kc)] for m in ms])
    return ms, _interp((np.log(ms), np.log(ns), np.log(ks)), cube, pts), scale, outside


def gemm_time(system: str, backend: str, dtype: str, m, n: int, k: int) -> KernelTime:
    """Measured latency of a GEMM of ``m`` tokens (scalar or array; fractions allowed, at least 1)
    by an ``n x k`` weight, in ``dtype`` (:data:`GEMM_DTYPES`; nvfp4 on Blackwell only), with
    ``backend``'s kernels (:data:`KERNEL_BACKEND`) on ``system`` (:data:`KERNEL_SYSTEMS`).

    Log-linear in (m, n, k) between measured points. Beyond the largest measured n or k (65,536)
    the GEMM is timed as blocks of the largest (the nearest point's time scaled by FLOPs), below
    the smallest (256) as the smallest (an upper bound: launch-bound there); beyond the largest m
    (32,768 tokens) likewise scaled by FLOPs, and that is flagged ``extrapolated``.

    >>> t = gemm_time("h100_sxm", "trtllm", "fp8", 4096, 8192, 8192)
    >>> round(2 * 4096 * 8192 * 8192 / t.seconds / 1e12), t.extrapolated  # achieved TFLOP/s
    (1231, False)
    """
    require_choice("system", system, KERNEL_SYSTEMS)
    require_choice("dtype", dtype, GEMM_DTYPES)
    require_positive("n", n)
    require_positive("k", k)
    m, scalar = _positive_array("m (tokens)", m)
    be = _gemm_backend(backend, dtype, system)
    ms, curve, scale, outside = _gemm_curve(system, be, dtype, float(n), float(k))
    mc = np.clip(m, ms[0], ms[-1])
    t = np.exp(np.interp(np.log(mc), np.log(ms), curve)) * scale * np.maximum(m / mc, 1.0)
    return _result(t, m > ms[-1], scalar, float(np.exp(cube_min(system, be, dtype))))


def _gemm_backend(backend: str, dtype: str, system: str) -> str:
    """The kernel tables a ``backend``'s ``dtype`` GEMM is looked up in (:data:`GEMM_STAND_IN`)."""
    be = _backend(backend, system)
    return GEMM_STAND_IN.get((be, dtype), be)


def host_bound_tables(min_elements: int = 2**24) -> "pd.DataFrame":  # noqa: F821
    """The evidence behind :data:`GEMM_STAND_IN`, per GEMM table (system, backend, dtype): its
    fastest call (``floor_us``, the fixed cost per call :func:`gemm_time` reports), the median over
    weights of ``min_elements`` or more of a 1-token call's time over its weights' time at datasheet
    HBM bandwidth (``t1_over_hbm``), and the share of its 1-, 8- and 64-token points on those
    weights that take less than that HBM time once the fixed cost is taken off
    (``below_hbm_after_floor``: a GPU kernel cannot; a host-bound timing can)."""
    import pandas as pd

    from .fp4 import get_format
    from .hardware import MEASURED_SYSTEMS, get_gpu

    require_positive_int("min_elements", min_elements)
    t = _table("kernel_gemm.csv")
    rows = []
    for (system, backend, dtype), g in t.groupby(["system", "backend", "dtype"], sort=True):
        g = g[g.n * g.k >= min_elements]
        floor = float(np.exp(np.min(_gemm_cube(system, backend, dtype, same_silicon=False)[3]))) * 1e6
        hbm = (g.n * g.k * get_format(_WEIGHT_FORMAT[dtype]).bytes_per_element
               / get_gpu(MEASURED_SYSTEMS[system]).hbm_bandwidth * 1e6)
        below = np.mean([((g[f"t{m}"] - floor) < hbm).mean() for m in (1, 8, 64)])
        rows.append({"system": system, "backend": backend, "dtype": dtype, "floor_us": floor,
                     "t1_over_hbm": float(np.median(g.t1 / hbm)), "below_hbm_after_floor": float(below)})
    return pd.DataFrame(rows)


def monotonicity_table(drop: float = 0.10) -> "pd.DataFrame":  # noqa: F821
    """The evidence behind reading every kernel table through :func:`nvlmodel.units.no_faster_when_larger`,
    per GEMM table (system, backend, dtype) as measured (holes filled, before the envelope): the share
    of the steps from one measured token count to the next where the time falls by more than
    ``drop`` (``share_falling``: a larger GEMM measured faster than a smaller one), the largest such
    ratio (``worst_ratio``: the smaller GEMM's time over the larger's), and the mean and largest
    reduction the envelope makes to a measured time (``mean_cut``, ``max_cut``, fractions)."""
    import pandas as pd

    if not 0 < drop < 1:
        raise ValueError(f"drop must be in (0, 1), got {drop}")
    t = _table("kernel_gemm.csv")
    rows = []
    for system, backend, dtype in sorted(set(zip(t.system, t.backend, t.dtype))):
        raw = np.exp(_gemm_cube(system, backend, dtype, envelope=False, same_silicon=False)[3])
        ratio = raw[1:] / raw[:-1]
        cut = 1 - no_faster_when_larger(raw, (0,)) / raw
        rows.append({"system": system, "backend": backend, "dtype": dtype,
                     "share_falling": float(np.mean(ratio < 1 - drop)), "worst_ratio": float(1 / ratio.min()),
                     "mean_cut": float(cut.mean()), "max_cut": float(cut.max())})
    return pd.DataFrame(rows)


# ---- attention -----------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _attention_grid(system: str, backend: str, phase: str, head_dim: int, group: int, kv_dtype: str):
    t = _measured(f"kernel_attention_{phase}.csv")
    t = t[(t.system == system) & (t.backend == backend) & (t.kv_dtype == kv_dtype)]
    shapes = sorted(set(zip(t.head_dim, t.group)))
    if not shapes:
        raise ValueError(f"no {phase} attention with a {kv_dtype} cache measured on {system} with {backend}")
    # the measured (head_dim, group) nearest in head_dim, then in group (log)
    hd, g = min(shapes, key=lambda s: (abs(np.log(s[0] / head_dim)), abs(np.log(s[1] / group))))
    t = t[(t.head_dim == hd) & (t.group == g)].sort_values("streams")
    toks = _cols(t)
    grid = t[[f"t{int(x)}" for x in toks]].to_numpy(float)
    streams = t.streams.to_numpy(float)
    grid, toks = _fill_holes(grid, streams, toks)
    return streams, toks, np.log(no_faster_when_larger(grid) * 1e-6), (hd, g)


def attention_time(system: str, backend: str, phase: str, *, head_dim: int, heads: float, kv_heads: float,
                   kv_dtype: str, batch, tokens) -> KernelTime:
    """Measured latency of one layer's grouped-query attention on one GPU holding ``heads`` query
    and ``kv_heads`` KV heads: ``phase="decode"``, ``batch`` sequences each appending one token to a
    cache of ``tokens`` (after it); ``"prefill"``, ``batch`` prompts of ``tokens`` each (causal).
    ``batch`` (scalar or array) and ``tokens`` (scalar) may be fractional. ``kv_dtype``: bf16, fp16
    or fp8 (prefill attention runs in FP8 with an FP8 cache where the engine measured it).

    The kernel's work is its streams (decode: batch x KV heads; prefill: batch x query heads) times
    the tokens: the tables hold the median over measured shapes of equal streams and tokens, and
    are interpolated log-linearly in both. A head_dim or group size (heads per KV head) not
    measured takes the nearest measured one, scaled by head_dim (flagged)."""
    require_choice("system", system, KERNEL_SYSTEMS)
    require_choice("phase", phase, PHASES)
    require_positive_int("head_dim", head_dim)
    require_positive("heads", heads)
    require_positive("kv_heads", kv_heads)
    kvd = KV_DTYPE[require_choice("kv_dtype", kv_dtype, KV_DTYPE)]
    require_positive("tokens", tokens)
    batch, scalar = _positive_array("batch", batch)
    group = max(1, int(round(heads / kv_heads)))
    streams, toks, grid, (hd, g) = _attention_grid(system, _backend(backend, system), phase, head_dim, group, kvd)
    s = batch * (kv_heads if phase == "decode" else heads)
    sc = np.clip(s, streams[0], streams[-1])
    tc = min(max(float(tokens), toks[0]), toks[-1])
    pts = np.column_stack([np.log(sc), np.full_like(sc, np.log(tc))])
    t = np.exp(_interp((np.log(streams), np.log(toks)), grid, pts))
    work = tokens / tc if phase == "decode" else (tokens / tc) ** 2  # beyond the tables: linear / quadratic
    t = t * np.maximum(s / sc, 1.0) * max(work, 1.0) * head_dim / hd
    extrap = (s > streams[-1]) | (tokens > toks[-1]) | ((hd, g) != (head_dim, group))
    return _result(t, extrap, scalar, float(np.exp(grid.min())))


# ---- MoE and MLA ---------------------------------------------------------------------------

def moe_time(system: str, backend: str, model: str, dtype: str, tokens, *, tp: int, ep: int,
             small_batch: "bool | str" = True, slots: int | None = None) -> KernelTime:
    """Measured latency of one MoE layer's fused expert block (routing, grouped GEMMs, activation;
    not the all-to-all) of ``model`` over ``tokens`` tokens (scalar or array: every token the
    worker's MoE layer processes), its experts split ``ep`` ways by expert and ``tp`` ways within
    each. ``dtype``: the experts' (bfloat16, fp8, fp8_block, nvfp4, w4a16_mxfp4, ...). Log-log in
    tokens; beyond the largest measured count, linear (flagged). A (tp, ep) split not measured
    takes a measured one over as many GPUs, nearest in ep (flagged). ``small_batch``: where the
    engine runs a small-batch kernel at few tokens (:data:`MOE_SMALL_BATCH`), True takes the table
    engine's own, False none, an engine name that engine's (measured at this split, or one as wide).

    ``slots``: the expert slots spread over the ``ep`` ranks where they are more than the model's
    experts E (redundant replicas, :meth:`nvlmodel.models.ModelArch.with_redundant_experts`), or
    where ``ep`` is not a measured split: a GPU then holds ``slots / ep`` experts and gets ``k x
    tokens / ep`` of the tokens' expert assignments. The tables measured E experts; the block is
    read at the split that holds as many experts per GPU, ``ep' = E x ep / slots``, over the tokens
    that give its GPUs as many assignments, ``tokens x E / slots``, log-interpolated between the
    measured splits around ``ep'`` (flagged).

    >>> a = moe_time("gb200", "trtllm", "deepseek-v3", "nvfp4", 512, tp=1, ep=32)
    >>> b = moe_time("gb200", "trtllm", "deepseek-v3", "nvfp4", 512, tp=1, ep=32, slots=256)
    >>> a.seconds == b.seconds, a.extrapolated
    (True, False)
    >>> c = moe_time("gb200", "trtllm", "deepseek-v3", "nvfp4", 512, tp=1, ep=48, slots=288)  # 6 experts a GPU
    >>> lo = moe_time("gb200", "trtllm", "deepseek-v3", "nvfp4", 512 * 256 / 288, tp=1, ep=32)
    >>> hi = moe_time("gb200", "trtllm", "deepseek-v3", "nvfp4", 512 * 256 / 288, tp=1, ep=64)
    >>> min(lo.seconds, hi.seconds) <= c.seconds <= max(lo.seconds, hi.seconds), c.extrapolated
    (True, True)
    """
    require_choice("system", system, KERNEL_SYSTEMS)
    m = get_model(model)
    require_positive_int("tp", tp)
    require_positive_int("ep", ep)
    be = _backend(backend, system)
    x, scalar = _positive_array("tokens", tokens)
    if slots is not None:
        require_positive_int("slots", slots)
        if slots < m.experts or slots % ep:
            raise ValueError(f"slots must be at least the {m.experts} experts of {m.name} and divisible by ep={ep}, "
                             f"got {slots}")
    eps = _measured_eps(system, be, m.key, dtype, tp) if slots is not None else ()
    if slots is None or (slots == m.experts and ep in eps):
        out, extrap, floor = _moe_at(system, be, m.key, dtype, x, tp, ep, small_batch)
        return _result(out, extrap, scalar, floor)
    ep_eq, xe = m.experts * ep / slots, x * m.experts / slots
    below, above = [e for e in eps if e <= ep_eq], [e for e in eps if e >= ep_eq]
    if not below or not above:
        raise ValueError(f"no measured {dtype} MoE split of {m.name} at moe tp={tp} around ep={ep_eq:.1f} "
                         f"({slots} slots over {ep} GPUs); measured ep: {list(eps)}")
    lo, hi = max(below), min(above)
    a, _, floor = _moe_at(system, be, m.key, dtype, xe, tp, lo, small_batch)
    if hi == lo:
        return _result(a, np.ones(np.shape(a), bool), scalar, floor)
    b, _, _ = _moe_at(system, be, m.key, dtype, xe, tp, hi, small_batch)
    w = np.log(ep_eq / lo) / np.log(hi / lo)
    return _result(np.exp((1 - w) * np.log(a) + w * np.log(b)), np.ones(np.shape(a), bool), scalar, floor)


@lru_cache(maxsize=None)
def _measured_eps(system: str, backend: str, model: str, dtype: str, tp: int) -> tuple[int, ...]:
    """The expert-parallel sizes measured for ``model``'s MoE block in ``dtype`` at moe tp ``tp``."""
    t = _measured("kernel_moe.csv")
    r = t[(t.system == system) & (t.backend == backend) & (t.model == model) & (t.dtype == dtype) & (t.tp == tp)
          & (t.kernel.fillna("") == "")]
    return tuple(sorted(int(e) for e in set(r.ep)))


def _moe_at(system: str, be: str, key: str, dtype: str, x: np.ndarray, tp: int, ep: int, small_batch):
    """Seconds of the MoE block at a (tp, ep) split over ``x`` tokens (array), whether each is
    extrapolated, and the dtype's fastest call (:func:`moe_time`)."""
    toks, v, floor, stand_in = _moe_curve(system, be, key, dtype, tp, ep)
    xc = np.clip(x, toks[0], toks[-1])
    out = np.exp(np.interp(np.log(xc), np.log(toks), v)) * np.maximum(x / xc, 1.0)
    extrap = (x > toks[-1]) | stand_in
    sbe = be if small_batch is True else (_backend(small_batch, system) if small_batch else None)
    if (sbe, dtype) in MOE_SMALL_BATCH and np.any(x <= MOE_SMALL_BATCH[(sbe, dtype)]):
        try:  # the small-batch kernel where the engine runs it (measured at this split, or one as wide)
            ltoks, lv, _, lstand = _moe_curve(system, sbe, key, dtype, tp, ep, "min_latency")
        except ValueError:
            pass
        else:
            small = x <= MOE_SMALL_BATCH[(sbe, dtype)]
            lc = np.clip(x, ltoks[0], ltoks[-1])
            out = np.where(small, np.exp(np.interp(np.log(lc), np.log(ltoks), lv)), out)
            extrap = np.where(small, lstand, extrap)
    return out, extrap, floor


@lru_cache(maxsize=None)
def _moe_curve(system: str, backend: str, model: str, dtype: str, tp: int, ep: int, kernel: str = ""):
    """log seconds over measured tokens of one MoE block (``kernel``: "" the default kernel,
    ``min_latency`` TensorRT-LLM's small-batch one), its fastest call of the dtype (s), and whether
    another (tp, ep) split over as many GPUs stands in."""
    t = _measured("kernel_moe.csv")
    rows = t[(t.system == system) & (t.backend == backend) & (t.model == model)
             & (t.kernel.fillna("") == kernel)]
    if rows.empty:
        raise ValueError(f"no measured MoE block for {get_model(model).name}; measured: {', '.join(sorted(set(t.model)))}")
    require_choice("moe dtype", dtype, tuple(sorted(set(rows.dtype))))
    rows = rows[rows.dtype == dtype]
    r = rows[(rows.tp == tp) & (rows.ep == ep)]
    stand_in = False
    if r.empty:  # the same GPUs split the other way (moe tp x ep equal): each GPU holds as many expert weights
        same = rows[rows.tp * rows.ep == tp * ep]
        if not same.empty:
            r = same.iloc[[int(np.argmin(np.abs(np.log(same.ep.to_numpy(float) / ep))))]]
            stand_in = True
    if r.empty:
        have = sorted(set(zip(rows.tp, rows.ep)))
        raise ValueError(f"no {dtype} MoE block of {get_model(model).name} measured at moe tp={tp}, ep={ep} on {system}; "
                         f"measured (tp, ep): {have}")
    cols = _time_columns(rows)
    toks = _cols(r)
    v = r[[f"t{int(x)}" for x in toks]].to_numpy(float)[0]
    ok = np.isfinite(v)
    floor = float(np.nanmin(rows[cols].to_numpy(float))) * 1e-6
    return toks[ok], np.log(no_faster_when_larger(v[ok]) * 1e-6), floor, stand_in


@lru_cache(maxsize=None)
def _mla_grid(system: str, backend: str, phase: str, kv_dtype: str, gemm_type: str, heads: int):
    t = _measured("kernel_mla.csv")
    t = t[(t.system == system) & (t.backend == backend) & (t.phase == phase) & (t.kv_dtype == kv_dtype)
          & (t.gemm_type == gemm_type) & (t.num_heads == heads)].sort_values("batch_size")
    if t.empty:
        raise ValueError(f"no {phase} MLA module measured on {system} with {backend} for {heads} heads per GPU, "
                         f"{kv_dtype} cache, {gemm_type} GEMMs")
    toks = _cols(t)
    bs = t.batch_size.to_numpy(float)
    grid, toks = _fill_holes(t[[f"t{int(x)}" for x in toks]].to_numpy(float), bs, toks)
    return bs, toks, np.log(no_faster_when_larger(grid) * 1e-6)


def mla_time(system: str, backend: str, phase: str, *, heads: int, kv_dtype: str, gemm_type: str, batch,
             tokens) -> KernelTime:
    """Measured latency of one DeepSeek-V3 MLA attention module (projections, RoPE, attention) on
    one GPU with ``heads`` of the 128 heads: decode of ``batch`` sequences at ``tokens`` of context,
    or prefill of ``batch`` prompts of ``tokens``. Interpolated log-linearly in batch and tokens."""
    require_choice("system", system, KERNEL_SYSTEMS)
    require_choice("phase", phase, PHASES)
    kvd = KV_DTYPE[require_choice("kv_dtype", kv_dtype, KV_DTYPE)]
    bs, toks, grid = _mla_grid(system, _backend(backend, system), phase, kvd, gemm_type, int(heads))
    require_positive("tokens", tokens)
    b, scalar = _positive_array("batch", batch)
    bc = np.clip(b, bs[0], bs[-1])
    tc = min(max(float(tokens), toks[0]), toks[-1])
    pts = np.column_stack([np.log(bc), np.full_like(bc, np.log(tc))])
    t = np.exp(_interp((np.log(bs), np.log(toks)), grid, pts)) * np.maximum(b / bc, 1.0)
    t = t * max(tokens / tc, 1.0) ** (1 if phase == "decode" else 2)
    return _result(t, (b > bs[-1]) | (tokens > toks[-1]), scalar, float(np.exp(grid.min())))


# ---- one forward step ----------------------------------------------------------------------

def gemm_dtype_for(model: str | ModelArch, precision: str, system: str) -> str:
    """The dtype of a checkpoint's linear layers (not routed experts): bf16 -> bfloat16; fp8 ->
    fp8_block for block-scaled checkpoints (:data:`FP8_BLOCK_MODELS`), else per-tensor fp8; fp4 ->
    nvfp4 on Blackwell. NVFP4 DeepSeek checkpoints keep attention in FP8 (its MLA module is looked up
    so); gpt-oss keeps everything but its experts in BF16. FP4 linear layers on Hopper (no FP4
    tensor cores) have no measured kernel: that raises."""
    m = model if isinstance(model, ModelArch) else get_model(model)
    require_choice("precision", precision, PRECISIONS)
    if precision == "bf16" or m.key == "gpt-oss-120b":
        return "bfloat16"
    if precision == "fp8":
        return "fp8_block" if m.key in FP8_BLOCK_MODELS else "fp8"
    if system in ("h100_sxm", "h200_sxm"):
        raise ValueError(f"no FP4 GEMM kernel on {system} (Hopper has no FP4 tensor cores)")
    return "nvfp4"


def mla_gemm_type(precision: str) -> str:
    """The GEMM dtype of the measured MLA module a checkpoint of ``precision`` runs: bfloat16 for
    BF16, else block-scaled FP8 (NVFP4 DeepSeek checkpoints keep attention in FP8)."""
    return "bfloat16" if require_choice("precision", precision, PRECISIONS) == "bf16" else "fp8_block"


def moe_dtype_for(model: ModelArch, precision: str, system: str, backend: str = "trtllm") -> str:
    """The routed experts' dtype in the MoE tables (gpt-oss: MXFP4 weights with BF16 activations,
    or MXFP8 ones in TensorRT-LLM on Blackwell; else the linear layers' dtype)."""
    key = (model.key, precision)
    if _backend(backend, system) == "trtllm" and system in BLACKWELL_SYSTEMS and key in MOE_DTYPE_BLACKWELL_TRTLLM:
        return MOE_DTYPE_BLACKWELL_TRTLLM[key]
    return MOE_DTYPE.get(key, gemm_dtype_for(model, precision, system))


def step_time(system: str, backend: str, model: str | ModelArch, precision: str, *, phase: str, batch, tokens: int,
              kv_dtype: str, tp: int = 1, attention_dp: int = 1, ep: int = 1,
              moe_kernel: str | None = None) -> dict[str, KernelTime]:
    """One forward step of one attention rank of a worker (``tp x attention_dp`` GPUs, ``ep``-way
    expert parallelism), from measured kernels, by part (``gemm``, ``attention``, ``moe``,
    ``lm_head``, and ``total``). ``phase="decode"``: ``batch`` sequences (scalar or array; per
    attention rank) at ``tokens`` of context emit one token each; ``"prefill"``: ``batch`` prompts
    of ``tokens`` each.

    Per layer: the attention block (GQA: QKV and output projections as GEMMs plus the attention
    kernel; MLA: the measured module), then the MLP: dense layers' gate/up and down projections,
    MoE layers' routed experts (``moe``: the MoE block over every token of the worker's attention
    ranks) plus shared experts and router (in ``gemm``: they run on the rank's own tokens). The LM head runs over the tokens that produce logits (decode:
    every sequence; prefill: the last token of each prompt). Excluded: communication and fixed
    costs (added by :mod:`nvlmodel.calibrate`). ``moe_kernel``: the routed experts' kernel where a
    benchmark selected one (:data:`MOE_KERNELS`; None: the engine's default, :func:`moe_dtype_for`)."""
    m = model if isinstance(model, ModelArch) else get_model(model)
    if np.ndim(batch) == 0:  # one step: kept (a prompt's prefill is asked for at every concurrency of its deployment)
        return dict(_step_time_of(system, backend, m, precision, phase, float(batch), tokens, kv_dtype, tp,
                                  attention_dp, ep, moe_kernel))
    return _step_time(system, backend, m, precision, phase=phase, batch=batch, tokens=tokens, kv_dtype=kv_dtype, tp=tp,
                      attention_dp=attention_dp, ep=ep, moe_kernel=moe_kernel)


@lru_cache(maxsize=16384)
def _step_time_of(system, backend, m, precision, phase, batch, tokens, kv_dtype, tp, attention_dp, ep, moe_kernel):
    return _step_time(system, backend, m, precision, phase=phase, batch=batch, tokens=tokens, kv_dtype=kv_dtype, tp=tp,
                      attention_dp=attention_dp, ep=ep, moe_kernel=moe_kernel)


def _step_time(system: str, backend: str, m: ModelArch, precision: str, *, phase: str, batch, tokens: int,
               kv_dtype: str, tp: int, attention_dp: int, ep: int, moe_kernel: str | None) -> dict[str, KernelTime]:
    if moe_kernel is not None:
        require_choice("moe_kernel", moe_kernel, MOE_KERNELS)
    require_choice("phase", phase, PHASES)
    for what, v in (("tp", tp), ("attention_dp", attention_dp), ("ep", ep)):
        require_positive_int(what, v)
    require_positive("tokens", tokens)
    be = _backend(backend, system)
    dt = gemm_dtype_for(m, precision, system)
    b = np.asarray(batch, float)
    rows = b if phase == "decode" else b * tokens  # tokens through the linear layers, per rank

    def gemm(n, k, count=1.0, dtype=dt, mm=rows):
        return gemm_time(system, be, dtype, mm, int(round(n)), int(round(k))) * count

    h = m.hidden
    parts: dict[str, KernelTime] = {}
    if m.mla is not None:
        if m.heads % tp:
            raise ValueError(f"tp={tp} does not divide the {m.heads} heads of {m.name}")
        parts["attention"] = mla_time(system, be, phase, heads=m.heads // tp, kv_dtype=kv_dtype,
                                      gemm_type=mla_gemm_type(precision), batch=b, tokens=tokens) * m.layers
        parts["gemm"] = KernelTime(0.0 * rows, np.zeros(np.shape(rows), bool), 0.0, 0.0)
    else:
        qh, kvh = m.heads / tp, m.kv_heads_per_gpu(tp)
        proj = gemm((qh + 2 * kvh) * m.head_dim, h, m.layers) + gemm(h, qh * m.head_dim, m.layers)
        parts["gemm"] = proj
        full = attention_time(system, be, phase, head_dim=m.head_dim, heads=qh, kv_heads=kvh, kv_dtype=kv_dtype,
                              batch=b, tokens=tokens)
        att = full * m.full_attention_layers
        if m.sliding_layers:  # attention over the last window of the context
            win = min(tokens, m.sliding_window)
            sw = attention_time(system, be, phase, head_dim=m.head_dim, heads=qh, kv_heads=kvh, kv_dtype=kv_dtype,
                                batch=b, tokens=win)
            if phase == "prefill":  # causal over a window: linear in the prompt beyond it
                sw = sw * (tokens / win)
            att = att + sw * m.sliding_layers
        parts["attention"] = att
    if m.n_dense_layers:
        parts["gemm"] = parts["gemm"] + gemm(2 * m.ffn / tp, h, m.n_dense_layers) + gemm(h, m.ffn / tp, m.n_dense_layers)
    if m.is_moe:
        gpus = tp * attention_dp
        worker_tokens = rows * attention_dp
        table, mdt, small = (moe_kernel and MOE_KERNELS[moe_kernel]) or (None, None, True)
        mbe = _backend(table, system) if table else be
        mdt = mdt or moe_dtype_for(m, precision, system, mbe)
        moe = moe_time(system, mbe, m.key, mdt, worker_tokens, tp=gpus // ep, ep=ep, small_batch=small,
                       slots=m.expert_slots if m.redundant_experts else None)
        parts["moe"] = moe * m.moe_layers  # the routed experts, over the worker's tokens
        # the router and the shared experts run on each rank's own tokens, as the dense layers do
        parts["gemm"] = parts["gemm"] + gemm(m.experts, h, m.moe_layers, dtype="bfloat16")
        if m.shared_experts:
            f = m.shared_experts * m.expert_ffn / tp
            parts["gemm"] = parts["gemm"] + gemm(2 * f, h, m.moe_layers) + gemm(h, f, m.moe_layers)
    parts["lm_head"] = gemm(m.vocab / tp, h, 1.0, dtype="bfloat16", mm=b)  # one row per sequence or prompt
    total = None
    for v in parts.values():
        total = v if total is None else total + v
    parts["total"] = total
    return parts


def achieved_table(dtypes: tuple[str, ...] = ("bfloat16", "fp8", "nvfp4"), backend: str = "trtllm",
                   n: int = 8192, k: int = 8192, tokens=(1, 8, 64, 512, 4096, 32768)) -> "pd.DataFrame":  # noqa: F821
    """Achieved fraction of each GPU's dense datasheet peak by GEMM dtype and tokens, at one weight
    shape (default 8192 x 8192, Llama-70B's hidden size): the measured counterpart of the single
    compute fraction the roofline calibration fits. Also the weight bytes/s at the smallest token
    count, as a fraction of datasheet HBM bandwidth."""
    import pandas as pd

    from .fp4 import get_format
    from .hardware import MEASURED_SYSTEMS, get_gpu

    peak_dtype = {"bfloat16": "bf16", "fp8": "fp8", "fp8_block": "fp8", "nvfp4": "fp4"}
    rows = []
    for system in KERNEL_SYSTEMS:
        g = get_gpu(MEASURED_SYSTEMS[system])
        for dtype in dtypes:
            try:
                t = gemm_time(system, backend, dtype, np.asarray(tokens, float), n, k).seconds
            except ValueError:
                continue
            flops = 2.0 * np.asarray(tokens, float) * n * k
            for x, s, f in zip(tokens, t, flops):
                rows.append({"system": system, "dtype": dtype, "tokens": int(x),
                             "achieved_TFLOPs": f / s / 1e12, "fraction_of_peak": f / s / g.peak_flops(peak_dtype[dtype]),
                             "weight_bandwidth_fraction": n * k * get_format(_WEIGHT_FORMAT[dtype]).bytes_per_element / s
                             / g.hbm_bandwidth})
    return pd.DataFrame(rows)
