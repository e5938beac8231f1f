"""Measured kernel tables and the step time summed from them (nvlmodel.kernels).

Numbers are pinned to the curated CSVs read here with the csv module, and to hand arithmetic on
them (log-linear interpolation: at the geometric mean of two grid points the time is the
geometric mean of theirs)."""

import csv
import math
from importlib import resources

import numpy as np
import pytest

from conftest import import_script
from nvlmodel import kernels as k
from nvlmodel.calibrate import Calibration, Config, fit_engines, load_measurements, predictions
from nvlmodel.calibrate.model import kernel_times
from nvlmodel.models import get_model


def _row(name, **match):
    with resources.files("nvlmodel.data").joinpath(name).open() as f:
        for r in csv.DictReader(f):
            if all(r[c] == str(v) for c, v in match.items()):
                return r
    raise AssertionError(f"no row {match} in {name}")


def test_gemm_at_a_grid_point_is_the_table():
    r = _row("kernel_gemm.csv", system="b200_sxm", backend="trtllm", dtype="nvfp4", n=8192, k=4096)
    t = k.gemm_time("b200_sxm", "trtllm", "nvfp4", 64, 8192, 4096)
    assert t.seconds == pytest.approx(float(r["t64"]) * 1e-6, rel=1e-9)
    assert t.extrapolated is False


def test_gemm_interpolates_log_linearly_in_tokens_and_shape():
    # (shapes whose measured times grow with tokens from 8 on, so the envelope keeps them as measured)
    r = _row("kernel_gemm.csv", system="h100_sxm", backend="trtllm", dtype="fp8", n=16384, k=8192)
    t16, t32 = float(r["t16"]) * 1e-6, float(r["t32"]) * 1e-6
    assert k.gemm_time("h100_sxm", "trtllm", "fp8", math.sqrt(16 * 32), 16384, 8192).seconds == pytest.approx(
        math.sqrt(t16 * t32), rel=1e-9)
    r2 = _row("kernel_gemm.csv", system="h100_sxm", backend="trtllm", dtype="fp8", n=8192, k=8192)
    mid = k.gemm_time("h100_sxm", "trtllm", "fp8", 16, math.sqrt(8192 * 16384), 8192).seconds
    assert mid == pytest.approx(math.sqrt(t16 * float(r2["t16"]) * 1e-6), rel=1e-6)


def test_gemm_beyond_the_grid_scales_by_flops_and_flags_only_tokens():
    r = _row("kernel_gemm.csv", system="gb200", backend="trtllm", dtype="bfloat16", n=16384, k=1024)
    t = float(r["t32768"]) * 1e-6
    many = k.gemm_time("gb200", "trtllm", "bfloat16", 65536, 16384, 1024)
    assert many.seconds == pytest.approx(2 * t) and many.extrapolated is True
    wide = k.gemm_time("gb200", "trtllm", "bfloat16", 8, 2 * 65536, 1024)  # two column blocks of the widest
    r = _row("kernel_gemm.csv", system="gb200", backend="trtllm", dtype="bfloat16", n=65536, k=1024)
    assert wide.seconds == pytest.approx(2 * float(r["t8"]) * 1e-6) and wide.extrapolated is False


def test_gemm_validates_its_input():
    with pytest.raises(ValueError, match="valid"):
        k.gemm_time("h100_sxm", "trtllm", "int3", 1, 256, 256)
    with pytest.raises(ValueError, match="no nvfp4 GEMM measured on h100_sxm"):
        k.gemm_time("h100_sxm", "trtllm", "nvfp4", 1, 256, 256)
    with pytest.raises(ValueError, match="backend"):
        k.gemm_time("h100_sxm", "tensorrt", "fp8", 1, 256, 256)
    with pytest.raises(ValueError, match="m .tokens"):
        k.gemm_time("h100_sxm", "trtllm", "fp8", np.array([1.0, 0.0]), 256, 256)


def test_sglang_runs_on_vllms_kernels_on_hopper_and_tensorrt_llms_on_blackwell():
    assert k.gemm_time("h200_sxm", "sglang", "fp8", 8, 4096, 4096) == k.gemm_time("h200_sxm", "vllm", "fp8", 8,
                                                                                    4096, 4096)
    mla = dict(heads=16, kv_dtype="fp8", gemm_type="nvfp4", batch=64, tokens=2048)
    for system in ("b200_sxm", "gb200"):
        assert k.mla_time(system, "sglang", "decode", **mla) == k.mla_time(system, "trtllm", "decode", **mla)
        assert k.mla_time(system, "sglang", "decode", **mla) != k.mla_time(system, "vllm", "decode", **mla)
        assert k.moe_time(system, "sglang", "deepseek-v3", "nvfp4", 512, tp=1, ep=8) == \
            k.moe_time(system, "trtllm", "deepseek-v3", "nvfp4", 512, tp=1, ep=8)
    with pytest.raises(ValueError, match="trtllm, vllm, sglang"):
        k.gemm_time("b200_sxm", "lmdeploy", "fp8", 8, 4096, 4096)


def test_host_bound_gemm_timings_take_another_engines_kernel():
    """vLLM's block-scaled FP8 GEMM was timed host-bound: its fastest call, read from the CSV here,
    is over ten times TensorRT-LLM's on every GPU, and once that cost is taken off, half or more of
    its 1-64-token points on Hopper take less than their weights' HBM time (an 8192 x 8192 FP8 weight,
    64 MiB, streams in 64 MiB / 4.8 TB/s = 14 us on H200). TensorRT-LLM's table stands in for it, and
    for SGLang's, which runs on vLLM's tables; every other table is clean."""
    for system in k.KERNEL_SYSTEMS:
        fast = min(float(v) for c, v in _row("kernel_gemm.csv", system=system, backend="trtllm", dtype="fp8_block",
                                             n=256, k=256).items() if c[1:].isdigit())
        slow = min(float(v) for c, v in _row("kernel_gemm.csv", system=system, backend="vllm", dtype="fp8_block",
                                             n=256, k=256).items() if c[1:].isdigit())
        assert slow > 10 * fast
        for be in ("vllm", "sglang"):
            assert k.gemm_time(system, be, "fp8_block", 4, 8192, 8192) == k.gemm_time(system, "trtllm", "fp8_block", 4,
                                                                                        8192, 8192)
    r = _row("kernel_gemm.csv", system="h200_sxm", backend="vllm", dtype="fp8_block", n=8192, k=8192)
    floor = math.exp(k.cube_min("h200_sxm", "vllm", "fp8_block"))
    assert float(r["t1"]) * 1e-6 - floor < 8192 * 8192 / 4.8e12
    ev = k.host_bound_tables().set_index(["system", "backend", "dtype"])
    flagged = (ev.below_hbm_after_floor > 0.5) | (ev.t1_over_hbm > 10)
    assert set(flagged[flagged].index.droplevel(0)) == set(k.GEMM_STAND_IN)
    assert k.gemm_time("h200_sxm", "vllm", "fp8", 4, 8192, 8192) != k.gemm_time("h200_sxm", "trtllm", "fp8", 4,
                                                                                  8192, 8192)


def test_decode_attention_depends_on_streams_times_context():
    """The table is keyed by streams = batch x KV heads: 8 sequences over 1 KV head per GPU cost
    what 2 sequences over 4 KV heads cost (same group of 8 query heads per KV head)."""
    a = k.attention_time("b200_sxm", "trtllm", "decode", head_dim=128, heads=8, kv_heads=1, kv_dtype="fp8", batch=8,
                         tokens=4096)
    b = k.attention_time("b200_sxm", "trtllm", "decode", head_dim=128, heads=32, kv_heads=4, kv_dtype="fp8",
                         batch=2, tokens=4096)
    assert a.seconds == pytest.approx(b.seconds)
    r = _row("kernel_attention_decode.csv", system="b200_sxm", backend="trtllm", head_dim=128, group=8, kv_dtype="fp8",
             streams=8)
    assert a.seconds == pytest.approx(float(r["t4096"]) * 1e-6)
    odd = k.attention_time("b200_sxm", "trtllm", "decode", head_dim=96, heads=8, kv_heads=1, kv_dtype="fp8", batch=8,
                           tokens=4096)
    assert odd.extrapolated is True and odd.seconds == pytest.approx(a.seconds * 96 / 128)


def test_prefill_attention_beyond_the_longest_prompt_grows_quadratically():
    r = _row("kernel_attention_prefill.csv", system="h200_sxm", backend="vllm", head_dim=128, group=8,
             kv_dtype="bfloat16", streams=64)
    t = k.attention_time("h200_sxm", "vllm", "prefill", head_dim=128, heads=64, kv_heads=8, kv_dtype="bf16", batch=1,
                         tokens=2 * 16384)
    assert t.seconds == pytest.approx(4 * float(r["t16384"]) * 1e-6) and t.extrapolated is True


def test_moe_block_reads_its_table_and_names_what_was_measured():
    r = _row("kernel_moe.csv", system="gb200", backend="trtllm", model="deepseek-v3", dtype="nvfp4", tp=1, ep=8,
             kernel="")
    t = k.moe_time("gb200", "trtllm", "deepseek-r1", "nvfp4", 256, tp=1, ep=8)
    assert t.seconds == pytest.approx(float(r["t256"]) * 1e-6)
    with pytest.raises(ValueError, match=r"measured \(tp, ep\)"):
        k.moe_time("gb200", "trtllm", "deepseek-v3", "nvfp4", 256, tp=3, ep=8)
    with pytest.raises(ValueError, match="no measured MoE block for Llama"):
        k.moe_time("gb200", "trtllm", "llama-3.1-70b", "nvfp4", 256, tp=1, ep=8)


def test_tensorrt_llms_small_batch_moe_kernel_runs_up_to_128_tokens():
    # NVFP4 MoE in TensorRT-LLM: the min-latency kernel at <= 128 tokens, the default one above, each
    # as measured (the table had averaged the two)
    match = dict(system="gb200", backend="trtllm", model="deepseek-v3", dtype="nvfp4", tp=1, ep=8)
    low, default = _row("kernel_moe.csv", **match, kernel="min_latency"), _row("kernel_moe.csv", **match, kernel="")
    t = k.moe_time("gb200", "trtllm", "deepseek-v3", "nvfp4", np.array([64.0, 128.0, 256.0]), tp=1, ep=8).seconds
    assert t[0] == pytest.approx(float(low["t64"]) * 1e-6) and t[1] == pytest.approx(float(low["t128"]) * 1e-6)
    beyond = [float(v) for c, v in default.items() if c[:1] == "t" and c[1:].isdigit() and int(c[1:]) >= 256 and v]
    assert t[2] == pytest.approx(min(beyond) * 1e-6)  # the default kernel, read through its envelope
    assert float(low["t64"]) < float(default["t64"])  # the small-batch kernel is the faster there
    # other engines and dtypes have one kernel per shape
    v = k.moe_time("b200_sxm", "vllm", "deepseek-v3", "nvfp4", 16.0, tp=1, ep=8).seconds
    r = _row("kernel_moe.csv", system="b200_sxm", backend="vllm", model="deepseek-v3", dtype="nvfp4", tp=1, ep=8)
    assert v == pytest.approx(float(r["t16"]) * 1e-6) and r["kernel"] == ""  # (monotone from 16 tokens on)


def test_one_die_measured_twice_takes_the_faster_timing_where_the_two_disagree():
    import pandas as pd

    t = pd.DataFrame({"system": ["b200_sxm", "gb200", "h100_sxm", "b200_sxm", "gb200"], "backend": "trtllm",
                      "n": [1, 1, 1, 2, 2], "t1": [170.0, 100.0, 999.0, 100.0, 100.0],
                      "t2": [100.0, 130.0, 5.0, np.nan, 50.0], "t4": [112.0, 100.0, 1.0, 3.0, 3.0], "source": "x"})
    out, ratios, b_takes, g_takes = k._same_silicon(t, 1.25)
    # shape 1: B200 1.7x GB200 at t1 -> B200 takes 100; GB200 130/100 at t2 -> GB200 takes 100;
    # t4 112/100 = 1.12 is within the spread: each keeps its own. H100 and a cell one table lacks: as measured.
    assert out.t1.tolist() == [100.0, 100.0, 999.0, 100.0, 100.0]
    assert out.t2.tolist()[:3] == [100.0, 100.0, 5.0] and np.isnan(out.t2.iloc[3]) and out.t2.iloc[4] == 50.0
    assert out.t4.tolist() == [112.0, 100.0, 1.0, 3.0, 3.0]
    assert b_takes.sum() == 1 and g_takes.sum() == 1 and ratios.loc[("trtllm", 1), "t1"] == pytest.approx(1.7)
    assert t.t1.tolist()[0] == 170.0  # the input is not modified
    # the real tables: TensorRT-LLM's NVFP4 MoE of DeepSeek at tp 1, ep 8 disagrees (B200's campaign 1.9x at
    # 256 tokens), so both systems price it from GB200's timing; at ep 2 (1.04x) each keeps its own
    cell = dict(backend="trtllm", model="deepseek-v3", dtype="nvfp4", tp=1, kernel="")
    for ep, same in ((8, True), (2, False)):
        b, g = (float(_row("kernel_moe.csv", system=s_, ep=ep, **cell)["t256"]) for s_ in ("b200_sxm", "gb200"))
        assert (max(b, g) / min(b, g) > k.SAME_SILICON_SPREAD) is same
        tb, tg = (k.moe_time(s_, "trtllm", "deepseek-v3", "nvfp4", 256.0, tp=1, ep=ep).seconds
                  for s_ in ("b200_sxm", "gb200"))
        assert (tb == pytest.approx(tg, rel=1e-12)) is same
        # the ratios as measured, by shape (the default kernel named "")
        assert k.same_silicon_ratios("moe").loc[("trtllm", "deepseek-v3", "nvfp4", 1, ep, ""), "t256"] == pytest.approx(b / g)
    with pytest.raises(ValueError, match="table 'sparse'"):
        k.same_silicon_ratios("sparse")
    # the spread lies beyond how far the two campaigns' TensorRT-LLM GEMM, attention and MLA timings
    # usually differ (their 5th-95th percentiles), so it reconciles outliers, not the GPUs' own difference
    s = k.same_silicon_table()
    s = s[(s.backend == "trtllm") & (s.table != "moe")]
    assert (s.p95 < k.SAME_SILICON_SPREAD).all() and (s.p5 > 1 / k.SAME_SILICON_SPREAD).all()
    assert (s.b200_takes_gb200 + s.gb200_takes_b200 < 0.02 * s.cells).all()
    with pytest.raises(ValueError, match="spread"):
        k.same_silicon_table(0.8)


def test_dense_decode_step_is_the_sum_of_its_kernels():
    """Llama-3.1-70B, TP 4, 16 sequences at 2,048 tokens, FP8 on H100 (TensorRT-LLM): per layer the
    QKV projection (16 + 2 x 2 heads x 128 = 2,560 wide), the output projection (8,192 x 2,048),
    gate/up (14,336 x 8,192) and down (8,192 x 7,168), attention over 16 x 2 KV heads; the LM head
    (32,064 x 8,192) in BF16 once."""
    m = get_model("llama-3.1-70b")
    s = k.step_time("h100_sxm", "trtllm", m, "fp8", phase="decode", batch=16, tokens=2048, kv_dtype="fp8", tp=4)

    def g(n, kk, dt="fp8"):
        return k.gemm_time("h100_sxm", "trtllm", dt, 16, n, kk).seconds

    per_layer = g(2560, 8192) + g(8192, 2048) + g(2 * 28672 // 4, 8192) + g(8192, 7168)
    att = k.attention_time("h100_sxm", "trtllm", "decode", head_dim=128, heads=16, kv_heads=2, kv_dtype="fp8",
                           batch=16, tokens=2048).seconds
    head = g(32064, 8192, "bfloat16")
    assert s["total"].seconds == pytest.approx(80 * (per_layer + att) + head)
    assert s["total"].calls == 80 * 5 + 1


def test_step_time_refuses_what_no_kernel_runs():
    with pytest.raises(ValueError, match="Hopper has no FP4"):
        k.step_time("h100_sxm", "trtllm", "llama-3.1-70b", "fp4", phase="decode", batch=1, tokens=10, kv_dtype="fp8")
    with pytest.raises(ValueError, match="phase"):
        k.step_time("h100_sxm", "trtllm", "llama-3.1-70b", "fp8", phase="mixed", batch=1, tokens=10, kv_dtype="fp8")


def test_nvfp4_deepseek_keeps_attention_in_fp8_and_gpt_oss_in_bf16():
    assert k.gemm_dtype_for("deepseek-v3", "fp4", "b200_sxm") == "nvfp4"
    assert k.gemm_dtype_for("deepseek-v3", "fp8", "h200_sxm") == "fp8_block"
    assert k.gemm_dtype_for("gpt-oss-120b", "fp4", "b200_sxm") == "bfloat16"
    assert k.moe_dtype_for(get_model("gpt-oss-120b"), "fp4", "b200_sxm", "trtllm") == "w4a8_mxfp4_mxfp8"
    assert k.moe_dtype_for(get_model("gpt-oss-120b"), "fp4", "h100_sxm", "trtllm") == "w4a16_mxfp4"
    assert [k.mla_gemm_type(p) for p in ("bf16", "fp8", "fp4")] == ["bfloat16", "fp8_block", "fp8_block"]
    with pytest.raises(ValueError, match="precision 'int4'; valid choices: bf16, fp8, fp4"):
        k.mla_gemm_type("int4")
    for bad in (0.0, -1.0, float("nan")):  # every kernel lookup refuses a batch it cannot run
        with pytest.raises(ValueError, match="batch must be finite and > 0"):
            k.mla_time("b200_sxm", "trtllm", "decode", heads=16, kv_dtype="fp8", gemm_type="fp8_block", batch=bad,
                       tokens=1024)


def test_a_benchmarks_moe_kernel_is_priced_by_the_table_that_measured_it():
    """vLLM on B200 with FlashInfer's MXFP4 x MXFP8 experts (InferenceMAX's script): gpt-oss-120b's
    36 MoE layers over 64 tokens (TP 2, experts split 2 ways by expert) read TensorRT-LLM's W4A8 row,
    not vLLM's BF16-activation one; everything else in the step is vLLM's. Kernels no table
    measured (Marlin, TensorRT-LLM's Triton backend) leave the engine's own table in place."""
    kw = dict(phase="decode", batch=64, tokens=2048, kv_dtype="fp8", tp=2, ep=2)
    base = k.step_time("b200_sxm", "vllm", "gpt-oss-120b", "fp4", **kw)
    fi = k.step_time("b200_sxm", "vllm", "gpt-oss-120b", "fp4", **kw, moe_kernel="flashinfer_mxfp4_mxfp8")
    w4a8 = _row("kernel_moe.csv", system="b200_sxm", backend="trtllm", model="gpt-oss-120b", dtype="w4a8_mxfp4_mxfp8",
                tp=1, ep=2)
    w4a16 = _row("kernel_moe.csv", system="b200_sxm", backend="vllm", model="gpt-oss-120b", dtype="w4a16_mxfp4",
                 tp=1, ep=2)
    assert fi["moe"].seconds == pytest.approx(36 * float(w4a8["t64"]) * 1e-6)
    assert base["moe"].seconds == pytest.approx(36 * float(w4a16["t64"]) * 1e-6)
    for part in ("gemm", "attention", "lm_head"):
        assert fi[part].seconds == pytest.approx(base[part].seconds)
    for kernel in ("marlin_mxfp4", "triton_mxfp4"):
        same = k.step_time("h200_sxm", "trtllm", "gpt-oss-120b", "fp4", **kw, moe_kernel=kernel)
        assert same["total"].seconds == pytest.approx(
            k.step_time("h200_sxm", "trtllm", "gpt-oss-120b", "fp4", **kw)["total"].seconds)
    with pytest.raises(ValueError, match="moe_kernel 'machete'; valid choices: flashinfer_mxfp4_mxfp8, flashinfer_trtllm"):
        k.step_time("b200_sxm", "vllm", "gpt-oss-120b", "fp4", **kw, moe_kernel="machete")
    with pytest.raises(ValueError, match="moe_kernel 'machete'"):
        Config("b200_sxm", "gpt-oss-120b", "fp4", 2, 8, 1024, 1024, moe_kernel="machete")
    # SGLang on B200 with FlashInfer's TensorRT-LLM-gen MoE: vLLM's table, in the checkpoint's dtype
    # (DeepSeek FP8: block-scaled), 58 MoE layers over 64 tokens with the experts split 8 ways by expert
    ds = dict(phase="decode", batch=64, tokens=2048, kv_dtype="fp8", tp=8, ep=8)
    sgl = k.step_time("b200_sxm", "sglang", "deepseek-v3", "fp8", **ds, moe_kernel="flashinfer_trtllm")
    fi_row = _row("kernel_moe.csv", system="b200_sxm", backend="vllm", model="deepseek-v3", dtype="fp8_block", tp=1,
                  ep=8)
    beyond = [float(v) for c, v in fi_row.items() if c[:1] == "t" and c[1:].isdigit() and int(c[1:]) >= 64 and v]
    assert sgl["moe"].seconds == pytest.approx(58 * min(beyond) * 1e-6)  # read through its envelope
    assert sgl["attention"].seconds == pytest.approx(
        k.step_time("b200_sxm", "sglang", "deepseek-v3", "fp8", **ds)["attention"].seconds)
    # TensorRT-LLM's TRTLLM backend, NVFP4 DeepSeek: its own min-latency kernel up to 128 tokens, the
    # TensorRT-LLM-gen kernels (vLLM's table of FlashInfer's call) above; CUTLASS: its CUTLASS table at every count
    # (on GB200: HGX B200's CUTLASS timings of this split are the same die's slower ones, test above)
    def moe(kernel, tokens):
        return k.step_time("gb200", "trtllm", "deepseek-v3", "fp4", phase="decode", batch=tokens, tokens=2048,
                           kv_dtype="fp8", tp=8, ep=8, moe_kernel=kernel)["moe"].seconds / 58

    def read(backend, kernel, col):
        r = _row("kernel_moe.csv", system="gb200", backend=backend, model="deepseek-v3", dtype="nvfp4", tp=1, ep=8,
                 kernel=kernel)
        return min(float(v) for c, v in r.items() if c[:1] == "t" and c[1:].isdigit() and int(c[1:]) >= col and v) * 1e-6

    assert moe("trtllm_gen", 64) == pytest.approx(read("trtllm", "min_latency", 64))
    assert moe("trtllm_gen", 256) == pytest.approx(read("vllm", "", 256))
    assert moe("cutlass", 64) == pytest.approx(read("trtllm", "", 64))
    assert moe(None, 64) == moe("trtllm_gen", 64) and moe(None, 256) == moe("cutlass", 256)  # the default mixes them
    # a measured row passes its script's kernel to the step
    cfg = Config("b200_sxm", "gpt-oss-120b", "fp4", 2, 8, 1024, 1024, moe_kernel="flashinfer_mxfp4_mxfp8")
    assert kernel_times(cfg)["dk"] < kernel_times(Config("b200_sxm", "gpt-oss-120b", "fp4", 2, 8, 1024, 1024))["dk"]


def test_kernel_times_leave_out_each_calls_measured_floor():
    cfg = Config("h200_sxm", "llama-3.1-70b", "fp8", 2, 8, 1024, 256, backend="trtllm")
    kt = kernel_times(cfg)
    assert cfg.kv_dtype == "fp8"  # TensorRT-LLM keeps an FP8 checkpoint's cache in FP8
    s = k.step_time("h200_sxm", "trtllm", "llama-3.1-70b", "fp8", phase="decode", batch=8, tokens=1024 + 128,
                    kv_dtype="fp8", tp=2)["total"]
    assert kt["dk"] == pytest.approx(s.seconds - s.floor) and kt["dkn"] == s.calls
    assert 0 < s.floor < s.seconds


def test_kernel_calibration_is_fitted_on_calibration_rows_and_predicts_every_dense_row():
    d = load_measurements()
    cal = fit_engines(d, step="kernels")
    assert all(c.step == "kernels" and c.t_launch >= 0 for c in cal.values())
    pred = predictions(d, cal)
    assert set(pred.step_source) <= {"kernels", "kernels, extrapolated"}
    with pytest.raises(ValueError, match="step"):
        Calibration(step="measured")


SHARED_OPS = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "data" / "aiconfigurator" / "ops"


@pytest.mark.skipif(not SHARED_OPS.exists(), reason="needs ../shared/data beside the clone")
def test_curation_rebuilds_the_kernel_tables(tmp_path):
    pytest.importorskip("pyarrow")
    curate_kernels = import_script("curate_kernels")
    curate_kernels.main(["--shared", str(SHARED_OPS.parents[2]), "--out", str(tmp_path)])
    for name in ("kernel_gemm.csv", "kernel_attention_decode.csv", "kernel_attention_prefill.csv", "kernel_moe.csv",
                 "kernel_mla.csv"):
        assert (tmp_path / name).read_text() == resources.files("nvlmodel.data").joinpath(name).read_text(), name


def test_kernel_calibration_keeps_the_roofline_fractions_for_uncovered_rows():
    d = load_measurements()
    roof, kern = fit_engines(d), fit_engines(d, step="kernels")
    for engine in roof:
        assert (kern[engine].bandwidth, kern[engine].compute) == (roof[engine].bandwidth, roof[engine].compute)


def test_a_gemm_is_never_faster_than_a_larger_one_measured():
    # vLLM's FP8 GEMM on B200, n=8192 x k=4096: measured slower at 1 and at 16 tokens than at the
    # next larger counts; each takes the fastest time measured at as many tokens or more
    r = _row("kernel_gemm.csv", system="b200_sxm", backend="vllm", dtype="fp8", n=8192, k=4096)
    raw = {m: float(r[f"t{m}"]) * 1e-6 for m in (1, 2, 4, 8, 16, 32, 64, 128)}
    assert raw[1] > raw[4] and raw[16] > raw[32]  # the measured table breaks the order here
    for m in raw:
        fastest_beyond = min(v for mm, v in raw.items() if mm >= m)
        # (every count beyond 128 is slower here, so the least of these eight is the envelope's)
        assert k.gemm_time("b200_sxm", "vllm", "fp8", m, 8192, 4096).seconds == pytest.approx(fastest_beyond)
    ms = np.geomspace(1, 32768, 64)
    for system, backend, dtype in (("b200_sxm", "vllm", "fp8"), ("gb200", "vllm", "fp8_block"), ("h200_sxm", "trtllm", "bfloat16")):
        assert np.all(np.diff(k.gemm_time(system, backend, dtype, ms, 5120, 8192).seconds) >= 0)
    ev = k.monotonicity_table().set_index(["system", "backend", "dtype"])
    assert ev.loc[("b200_sxm", "vllm", "fp8"), "worst_ratio"] > 6  # the 6.9x of units.no_faster_when_larger
    assert ev.loc[("h100_sxm", "trtllm", "fp8"), "share_falling"] == 0


def test_no_faster_when_larger_on_a_grid_by_hand():
    from nvlmodel.units import no_faster_when_larger

    g = np.array([[5.0, 9.0, 4.0],
                  [3.0, 8.0, 7.0]])
    # each cell: the least over the cells at least as large in both dimensions
    assert no_faster_when_larger(g).tolist() == [[3.0, 4.0, 4.0], [3.0, 7.0, 7.0]]
    assert no_faster_when_larger(g, (0,)).tolist() == [[3.0, 8.0, 4.0], [3.0, 8.0, 7.0]]
    with pytest.raises(ValueError, match="valid: 0 to 1"):
        no_faster_when_larger(g, (2,))
    with pytest.raises(ValueError, match="curve or grid"):
        no_faster_when_larger(3.0)


def test_mla_prefill_reads_its_prompt_lengths_in_order():
    # the MLA table lists its prefill lengths (t1, t1536, ...) after the decode ones (t2 ... t131072):
    # a grid point is the table's; and (read through the envelope) the time grows with the prompt
    r = _row("kernel_mla.csv", system="h200_sxm", backend="trtllm", phase="prefill", kv_dtype="fp8",
             gemm_type="fp8_block", num_heads=128, batch_size=1)
    for n in (1024, 1536, 2048, 8192):
        t = k.mla_time("h200_sxm", "trtllm", "prefill", heads=128, kv_dtype="fp8", gemm_type="fp8_block", batch=1,
                       tokens=n)
        assert t.seconds == pytest.approx(float(r[f"t{n}"]) * 1e-6, rel=1e-9)
    lengths = np.geomspace(16, 12288, 40)
    ts = [k.mla_time("h200_sxm", "trtllm", "prefill", heads=128, kv_dtype="fp8", gemm_type="fp8_block", batch=1,
                     tokens=float(n)).seconds for n in lengths]
    assert np.all(np.diff(ts) >= 0)


def test_kernel_scale_stretches_the_linear_layers_of_large_steps_alone():
    """Calibration.kernel_scale s: a step's linear layers (all but attention) take s x their kernel
    time from 4,096 tokens per rank on, 1 x up to 256, (1 + (s - 1) / 2) x at 1,024 (halfway in
    log); attention, the calls' fitted costs and the communication do not move. By hand from the
    kernels' parts, in the static step and in the simulation's step tables alike."""
    from dataclasses import replace

    from nvlmodel.calibrate import step_times
    from nvlmodel.serve.cost import kernel_step_cost

    base = Calibration(0.8, 0.5, t_step=0.001, step="kernels", t_launch=4e-6)
    big = replace(base, kernel_scale=1.8)

    def linear(phase, batch, tokens):
        parts = k.step_time("h200_sxm", "vllm", "qwen3-32b", "bf16", phase=phase, batch=batch, tokens=tokens,
                            kv_dtype="bf16", tp=2)
        return (parts["total"].seconds - parts["total"].floor) - (parts["attention"].seconds - parts["attention"].floor)

    for isl, ramp in ((4096, 1.0), (1024, 0.5), (256, 0.0)):
        c = Config("h200_sxm", "qwen3-32b", "bf16", 2, 8, isl, 256, backend="vllm")
        (d0, p0, _), (d1, p1, _) = step_times(c, base), step_times(c, big)
        assert p1 - p0 == pytest.approx(0.8 * ramp * linear("prefill", 1, isl), rel=1e-9, abs=1e-15)
        assert d1 == d0  # 8 sequences a step: bound by the weights' reads
    # a decode step of 1,024 sequences per rank is halfway too
    c = Config("h200_sxm", "qwen3-32b", "bf16", 2, 1024, 1024, 256, backend="vllm")
    (d0, _, _), (d1, _, _) = step_times(c, base), step_times(c, big)
    assert d1 - d0 == pytest.approx(0.4 * linear("decode", 1024, 1024 + 128), rel=1e-9)
    # the simulation's table of the linear layers over T tokens a step
    c = Config("h200_sxm", "qwen3-32b", "bf16", 2, 8, 1024, 256, backend="vllm")
    g0, g1 = (kernel_step_cost(c, cal, max_tokens=4096).gemm for cal in (base, big))
    assert g1[4096] - g0[4096] == pytest.approx(0.8 * linear("decode", 4096, 4096), rel=1e-9)
    assert g1[200] == g0[200] and g1[64] == g0[64]
    for bad, match in ((dict(kernel_scale=0.0), "kernel_scale"), (dict(kernel_scale=1.5, step="roofline"), "kernel_scale")):
        with pytest.raises(ValueError, match=match):
            Calibration(**bad)


def test_kernel_fit_recovers_a_planted_kernel_scale():
    """Rows generated by the kernel step from known parameters (a kernel scale of 1.6, a cost per
    call, per step and per request, q): the fit finds the scale on its grid and the costs beside it."""
    from nvlmodel.calibrate import calibration_rows, fit, predict
    from nvlmodel.calibrate.data import _config

    true = Calibration(0.8, 0.6, t_step=0.0015, t_req=0.03, q=0.05, step="kernels", t_launch=5e-6, kernel_scale=1.6)
    d = calibration_rows(load_measurements(table="serving"))
    d = d[(d.engine == "vllm@serving") & (d["mode"] == "agg")].copy()
    pred = [predict(_config(r), true) for r in d.itertuples()]
    d["tpot_ms"] = [p["tpot_s"] * 1e3 for p in pred]
    d["ttft_ms"] = [p["ttft_s"] * 1e3 for p in pred]
    got = fit(d, "kernels")
    assert got.kernel_scale == 1.6
    assert got.t_launch == pytest.approx(5e-6, rel=1e-4) and got.t_step == pytest.approx(0.0015, rel=1e-4)
    assert got.t_req == pytest.approx(0.03, rel=1e-4) and got.q == pytest.approx(0.05, rel=1e-4)
