"""Build the measured kernel tables nvlmodel's step time stands on (:mod:`nvlmodel.kernels`).

The engines' own kernel microbenchmarks (aiconfigurator-core 0.12.0's op database: TensorRT-LLM
1.3.0rc20 and vLLM 0.24.0 on H100 SXM, H200 SXM, B200 SXM and GB200), one kernel at a time on one
GPU, reduced to small wide tables (latency in microseconds, 4 significant digits):

* ``kernel_gemm.csv``: dense GEMM latency by GPU, engine and dtype (bfloat16, fp8 per-tensor,
  fp8_block, nvfp4 on Blackwell) on a power-of-two grid: ``n`` and ``k`` in 256..16384 and 65536,
  ``m`` (tokens) 1..32768 as columns. Interpolated log-linearly in (m, n, k) by
  :func:`nvlmodel.kernels.gemm_time`; on the shapes the grid leaves out (n or k = 768, 1536, 3072,
  5120, ...) that interpolation is within 1-4 % median, 4-11 % at the 90th percentile (printed
  below when the script runs).
* ``kernel_attention_decode.csv``: generation (decode) attention of grouped-query heads, by GPU,
  engine, head_dim, query heads per KV head (``group``), KV-cache dtype and ``streams`` = batch x
  KV heads per GPU, context lengths as columns. Rows of one (streams, context) with the same group
  differ by < 1 % median (the kernel's work is streams x context), so their median is kept.
* ``kernel_attention_prefill.csv``: context (prefill) attention likewise, ``streams`` = batch x
  query heads per GPU, prompt lengths as columns; attention in FP8 with an FP8 KV cache where the
  engine measured it (TensorRT-LLM), else BF16.
* ``kernel_moe.csv``: the fused MoE block (routing, grouped GEMMs, activation) of the MoE models
  nvlmodel knows, by GPU, engine, dtype, MoE TP x EP and ``kernel`` (TensorRT-LLM's small-batch
  NVFP4 kernel apart, :data:`MOE_MIN_LATENCY`), tokens as columns; expert load drawn from a power
  law (``power_law_1.01``, the collector's realistic setting) rather than perfectly balanced.
* ``kernel_mla.csv``: DeepSeek-V3's whole MLA attention module (projections and attention), by
  GPU, engine, phase, KV dtype, GEMM dtype, heads per GPU and batch, context lengths as columns.

Reads ``../shared/data/aiconfigurator/ops/`` (Apache-2.0, copyright NVIDIA CORPORATION &
AFFILIATES; see that folder's README). Needs pandas and pyarrow (curation only: the package reads
the CSVs).

    python scripts/curate_kernels.py [--shared ../shared] [--out nvlmodel/data]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("h100_sxm", "h200_sxm", "b200_sxm", "gb200")
BACKENDS = {"trtllm": "1.3.0rc20", "vllm": "0.24.0"}
M_GRID = tuple(2 ** i for i in range(16))  # 1 .. 32768 tokens
NK_GRID = (256, 512, 1024, 2048, 4096, 8192, 16384, 65536)
GEMM_DTYPES = ("bfloat16", "fp8", "fp8_block", "nvfp4")
MOE_DISTRIBUTION = "power_law_1.01"
#: (head_dim, query heads per KV head) of the grouped-query models nvlmodel knows.
GQA_SHAPES = ((128, 4), (128, 8), (128, 16), (64, 8))


def _sig(x: float) -> float:
    return float(f"{x:.4g}")


def _read(ops: Path, system: str, op: str, backend: str, name: str) -> tuple[pd.DataFrame, str]:
    """One op table and its source: the path below aiconfigurator-core 0.12.0's systems/data/ (data README)."""
    rel = f"{system}/{op}/{backend}/{BACKENDS[backend]}/{name}"
    return pd.read_parquet(ops / rel), rel


def _moe_shapes() -> dict[str, tuple[int, int, int, int]]:
    """(hidden, expert inter size, top-k, experts) of every MoE model in nvlmodel.models."""
    from nvlmodel.models import MODEL_NAMES, get_model

    return {k: (m.hidden, m.expert_ffn, m.experts_active, m.experts) for k in MODEL_NAMES
            if (m := get_model(k)).is_moe}


def _wide(d: pd.DataFrame, keys: list[str], col: str, cols, source: str) -> pd.DataFrame:
    """Median latency (ms in the source) per key and ``col`` value, as microseconds in one column per value."""
    t = d[d[col].isin(cols)].groupby(keys + [col]).latency.median().mul(1e3).map(_sig).unstack(col)
    t = t.reindex(columns=list(cols))
    t.columns = [f"t{c}" for c in t.columns]
    return t.reset_index().assign(source=source)


def _interpolation_check(g: pd.Series) -> tuple[float, float]:
    """|error| median and 90th percentile of log-linear interpolation from the grid, on measured
    shapes off the grid (n or k in 256..16384 but not a power of two)."""
    from nvlmodel.kernels import _interp  # the package's own interpolator

    axes = (np.log(M_GRID), np.log(NK_GRID), np.log(NK_GRID))
    cube = np.log(np.array([[[g.get((m, n, k), np.nan) for k in NK_GRID] for n in NK_GRID] for m in M_GRID]))
    test = g[[m in M_GRID and 256 <= n <= 16384 and 256 <= k <= 16384 and (n not in NK_GRID or k not in NK_GRID)
              for m, n, k in g.index]]
    pts = np.log(np.array(list(test.index), float))
    e = np.abs(np.exp(_interp(axes, cube, pts)) / test.to_numpy() - 1)
    return float(np.nanmedian(e)), float(np.nanpercentile(e, 90))


def gemm(ops: Path) -> pd.DataFrame:
    out = []
    for system, backend in itertools.product(SYSTEMS, BACKENDS):
        d, src = _read(ops, system, "gemm", backend, "gemm_perf.parquet")
        for dtype in GEMM_DTYPES:
            x = d[d.gemm_dtype == dtype]
            if x.empty:
                continue
            g = x.groupby(["m", "n", "k"]).latency.median()
            med, p90 = _interpolation_check(g)
            print(f"  gemm {system:9s} {backend:6s} {dtype:9s} off-grid interpolation |error| median "
                  f"{med:.1%}, p90 {p90:.1%}")
            x = x[x.n.isin(NK_GRID) & x.k.isin(NK_GRID)]
            out.append(_wide(x.assign(system=system, backend=backend, dtype=dtype), ["system", "backend", "dtype", "n", "k"],
                             "m", M_GRID, src))
    return pd.concat(out, ignore_index=True)


def attention(ops: Path, phase: str) -> pd.DataFrame:
    name = "generation_attention_perf.parquet" if phase == "decode" else "context_attention_perf.parquet"
    out = []
    for system, backend in itertools.product(SYSTEMS, BACKENDS):
        d, src = _read(ops, system, "attention", backend, name)
        d = d[d.window_size == 0].copy()
        d["group"] = d.num_heads / d.num_key_value_heads
        if phase == "decode":
            d["streams"] = d.batch_size * d.num_key_value_heads
            d["tokens"] = d.step + 1  # the KV cache after this step's token: step earlier tokens + 1
        else:
            d["streams"] = d.batch_size * d.num_heads
            d["tokens"] = d.isl
            # attention in FP8 with an FP8 cache where measured (TensorRT-LLM), else BF16
            fp8 = (d.kv_cache_dtype == "fp8") & (d.attn_dtype == "fp8")
            bf16 = (d.kv_cache_dtype == "bfloat16") & (d.attn_dtype == "bfloat16")
            if fp8.any():
                d = d[fp8 | bf16]
            else:
                d = d[bf16 | ((d.kv_cache_dtype == "fp8") & (d.attn_dtype == "bfloat16"))]
        d = d[[(hd, g) in GQA_SHAPES for hd, g in zip(d.head_dim, d.group)]]
        d = d[np.log2(d.streams) % 1 == 0]
        cols = sorted(d.tokens.unique())
        t = _wide(d.assign(system=system, backend=backend).rename(columns={"kv_cache_dtype": "kv_dtype"}),
                  ["system", "backend", "head_dim", "group", "kv_dtype", "streams"], "tokens", cols, src)
        out.append(t)
    t = pd.concat(out, ignore_index=True)
    t["group"] = t.group.astype(int)
    return t


#: TensorRT-LLM's MoE table times two kernels for NVFP4: its default (CUTLASS) and the small-batch
#: ``moe_torch_flow_min_latency`` one. aiconfigurator, whose collector measured them, reads the second
#: for gated NVFP4 MoE at 128 tokens or fewer and the first otherwise (aic-core
#: ``rust/aiconfigurator-core/src/operators/moe.rs``, mirroring ``MoE._query_moe_table``): the two are
#: kept apart (column ``kernel``: "" for the default, ``min_latency``), where the median of both had
#: been taken. No other table holds two kernel sources for one shape of these models (the median is
#: over repeats of one kernel).
MOE_MIN_LATENCY = "moe_torch_flow_min_latency"


def moe(ops: Path) -> pd.DataFrame:
    out = []
    keys = ["system", "backend", "model", "dtype", "tp", "ep", "kernel"]
    for system, backend in itertools.product(SYSTEMS, BACKENDS):
        d, src = _read(ops, system, "moe", backend, "moe_perf.parquet")
        d = d[d.distribution == MOE_DISTRIBUTION]
        low = (d.kernel_source == MOE_MIN_LATENCY).to_numpy()
        d = d.assign(kernel=np.where(low, "min_latency", ""))
        for model, (h, i, k, e) in _moe_shapes().items():
            x = d[(d.hidden_size == h) & (d.inter_size == i) & (d.topk == k) & (d.num_experts == e)]
            x = x.assign(system=system, backend=backend, model=model).rename(
                columns={"moe_dtype": "dtype", "moe_tp_size": "tp", "moe_ep_size": "ep"})
            out.append(_wide(x, keys, "num_tokens", sorted(d.num_tokens.unique()), src))
    return pd.concat(out, ignore_index=True)


def mla(ops: Path) -> pd.DataFrame:
    out = []
    for system, backend, phase in itertools.product(SYSTEMS, BACKENDS, ("decode", "prefill")):
        name = "mla_generation_module_perf.parquet" if phase == "decode" else "mla_context_module_perf.parquet"
        d, src = _read(ops, system, "mla", backend, name)
        d = d.assign(system=system, backend=backend, phase=phase,
                     tokens=d.step if phase == "decode" else d.isl).rename(columns={"kv_cache_dtype": "kv_dtype"})
        cols = (2 ** np.arange(1, 18)).tolist() if phase == "decode" else sorted(d.isl.unique())
        out.append(_wide(d, ["system", "backend", "phase", "kv_dtype", "gemm_type", "num_heads", "batch_size"],
                         "tokens", cols, src))
    return pd.concat(out, ignore_index=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, default=ROOT / "nvlmodel" / "data", help="where the CSVs go")
    args = ap.parse_args(argv)
    ops = args.shared / "data" / "aiconfigurator" / "ops"
    out = args.out
    for name, table in (("kernel_gemm.csv", gemm(ops)), ("kernel_attention_decode.csv", attention(ops, "decode")),
                        ("kernel_attention_prefill.csv", attention(ops, "prefill")), ("kernel_moe.csv", moe(ops)),
                        ("kernel_mla.csv", mla(ops))):
        table.to_csv(out / name, index=False)
        print(f"wrote {len(table)} rows to {out / name} ({(out / name).stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
