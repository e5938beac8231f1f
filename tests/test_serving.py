"""Chapter 8: MoE step cost, expert all-to-all, disaggregated serving, the serving-table calibration
and the deployment search; numbers pinned to hand calculations written here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import import_script

from nvlmodel import calibrate as cal
from nvlmodel import kernels as k
from nvlmodel import search
from nvlmodel.collectives import expected_destinations, moe_alltoall
from nvlmodel.hardware import get_gpu
from nvlmodel.models import get_model
from nvlmodel.roofline import decode_step, prefill, require_parallel

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "aiconfigurator" / "silicon_sample.csv"


def test_moe_decode_step_by_hand():
    # DeepSeek-V3 FP8 on one GB200, a worker of 8 GPUs: attention DP 8, EP 8; 4 sequences per rank at context 2,000.
    m = get_model("deepseek-v3")
    expert = 3 * 7168 * 2048
    routed_active = 58 * 8 * expert
    dense = m.active_params - m.embedding_params - routed_active  # attention, dense MLPs, shared expert, LM head
    tokens = 4 * 8  # the worker's tokens
    touched = 32 * (1 - (1 - 8 / 256) ** tokens)  # of this rank's 256 / 8 experts
    weights = dense * 1.0 + 58 * touched * expert * 1.0  # tp = 1: all the dense part; EP 8 of 8 GPUs: whole experts
    kv = 4 * 2000 * 61 * 576  # MLA latent, FP8
    s = decode_step("gb200", "deepseek-v3", "fp8", batch=4, context=2000, tp=1, attention_dp=8, ep=8)
    assert s.weight_bytes == pytest.approx(weights)
    assert s.kv_bytes == pytest.approx(kv)
    g = get_gpu("gb200")
    assert s.t_memory == pytest.approx((weights + kv) / g.hbm_bandwidth)
    gemm = 4 * 2 * dense + tokens * 2 * routed_active / 8
    attn = 4 * 2 * 128 * (576 + 512) * 61 * 2000
    assert s.t_compute == pytest.approx(gemm / g.peak_flops("fp8") + attn / g.peak_flops("fp8"))
    # an array of batches gives the same numbers element by element
    arr = decode_step("gb200", "deepseek-v3", "fp8", batch=np.array([4.0, 64.0]), context=2000, tp=1,
                      attention_dp=8, ep=8)
    assert arr.time[0] == pytest.approx(s.time)
    assert arr.time[1] > arr.time[0]


def test_redundant_experts_decode_step_and_memory_by_hand():
    # DeepSeek-V3 FP8 on GB200 as SGLang's DEP48 decode worker ran it: 256 experts + 32 replicas over 48 GPUs
    m = get_model("deepseek-v3").with_redundant_experts(32)
    expert = 3 * 7168 * 2048
    routed_active = 58 * 8 * expert
    dense = m.active_params - m.embedding_params - routed_active
    tokens = 16 * 48  # the worker's tokens
    touched = 6 * (1 - (1 - 8 / 288) ** tokens)  # of this rank's 288 / 48 slots
    s = decode_step("gb200", m, "fp8", batch=16, context=2000, tp=1, attention_dp=48, ep=48)
    assert s.weight_bytes == pytest.approx(dense * 1.0 + 58 * touched * expert * 1.0)
    # the replicas take memory: 58 layers x 32 experts x one expert's FP8 weights, over the 48 GPUs
    c = cal.Config("gb200", "deepseek-v3", "fp8", 1, 768, 8192, 1024, backend="sglang", mode="disagg",
                   attention_dp=48, ep=48, prefill_tp=1, prefill_attention_dp=8, prefill_ep=8, redundant_experts=32)
    assert c.arch_of() == m and c.arch_of(True) == get_model("deepseek-v3")
    c32 = cal.Config("gb200", "deepseek-v3", "fp8", 1, 768, 8192, 1024, backend="sglang", mode="disagg",
                     attention_dp=32, ep=32, prefill_tp=1, prefill_attention_dp=8, prefill_ep=8)
    more = cal.Config("gb200", "deepseek-v3", "fp8", 1, 768, 8192, 1024, backend="sglang", mode="disagg",
                      attention_dp=32, ep=32, prefill_tp=1, prefill_attention_dp=8, prefill_ep=8, redundant_experts=32)
    kv_token = 61 * 576 * c32.kv_bytes_per_element
    lost = 58 * 32 * expert * 1.0 / 32  # per GPU; SGLang's fraction is of all HBM, so the weights come off whole
    assert (cal.kv_capacity_of(c32) - cal.kv_capacity_of(more)) / 32 == pytest.approx(lost / kv_token, rel=1e-9)
    with pytest.raises(ValueError, match="ep=48 does not divide the 256 experts"):
        cal.Config("gb200", "deepseek-v3", "fp8", 1, 768, 8192, 1024, backend="sglang", mode="disagg",
                   attention_dp=48, ep=48, prefill_tp=1, prefill_attention_dp=8, prefill_ep=8)
    with pytest.raises(ValueError, match="prefill_redundant_experts must be an int >= 0"):
        cal.Config("gb200", "deepseek-v3", "fp8", 1, 768, 8192, 1024, backend="sglang", mode="disagg",
                   attention_dp=32, ep=32, prefill_tp=1, prefill_attention_dp=8, prefill_ep=8,
                   prefill_redundant_experts=-4)


def test_dense_models_unchanged_by_the_moe_path():
    a = decode_step("b200", "llama-3.1-70b", "fp8", batch=16, context=2048, tp=2)
    w = get_model("llama-3.1-70b").matmul_params() * 1.0 / 2
    assert a.weight_bytes == pytest.approx(w)


def test_parallelism_is_checked():
    m = get_model("deepseek-v3")
    assert require_parallel(m, 8, 1, 8) == 8
    with pytest.raises(ValueError, match="does not divide the 128 attention heads"):
        require_parallel(m, 12, 1, 1)
    with pytest.raises(ValueError, match="ep=4 does not divide the worker's 6 GPUs"):
        require_parallel(m, 1, 6, 4)
    with pytest.raises(ValueError, match="ep=24 does not divide the 256 experts"):  # 24 GPUs, 256 / 24 experts
        require_parallel(m, 1, 24, 24)
    with pytest.raises(ValueError, match="dense"):
        require_parallel(get_model("qwen3-32b"), 2, 2, 1)


def test_alltoall_measured_and_modelled():
    # GB200, EP 8, FP8 payload, 64 tokens per rank: the measured prepare + dispatch + combine, read from the table
    d = pd.read_csv(ROOT / "nvlmodel" / "data" / "moe_alltoall.csv")
    row = d[(d.dtype == "fp8") & (d.ep == 8) & (d.tokens_per_rank == 64)].iloc[0]
    assert moe_alltoall("gb200", 8, "deepseek-v3", "fp8").time(64) == pytest.approx(row.latency_ms / 1e3)
    assert row.latency_ms == pytest.approx(row.prepare_ms + row.dispatch_ms + row.combine_ms, rel=1e-4)
    # HGX: NCCL all-to-all of tokens x hidden x distinct destinations, dispatch in FP8 then combine in BF16
    assert expected_destinations(8, 8) == pytest.approx(8 * (1 - (7 / 8) ** 8))
    a = moe_alltoall("h200_sxm", 8, "deepseek-v3", "fp8")
    per = 7168 * expected_destinations(8, 8)
    assert a.time(64) == pytest.approx(a._nccl(8, 64 * per * 1.0) + a._nccl(8, 64 * per * 2.0))
    # beyond a node: the off-node share over one 400 Gb/s NIC per GPU bounds it from below
    wide = moe_alltoall("h200_sxm", 32, "deepseek-v3", "fp8")
    dest = expected_destinations(32, 8)
    assert wide.time(4096) >= 4096 * 7168 * dest * 3.0 * (1 - 8 / 32) / 50e9
    assert moe_alltoall("gb200", 1).time(100) == 0.0
    with pytest.raises(ValueError, match="dense"):
        moe_alltoall("gb200", 8, "qwen3-32b")
    with pytest.raises(ValueError, match="valid choices"):
        moe_alltoall("tpu", 8)


def test_disagg_ttft_components_by_hand():
    c = cal.Config("gb200", "deepseek-v3", "fp8", 1, 256, 8192, 1024, backend="trtllm", mode="disagg", attention_dp=8,
                   ep=8, workers=1, prefill_tp=1, prefill_attention_dp=4, prefill_ep=4, prefill_workers=2,
                   kv_dtype="bf16")
    calib = cal.Calibration(bandwidth=0.8, compute=0.6, t_step=0.004, t_req=0.1, q=0.5)
    parts = cal.components(c, calib)
    # the prompt's KV: 8,192 tokens x 61 layers x 576 latent x 2 bytes (BF16 KV asked for), once over NVLink,
    # as one copy per layer at 3.4 us each
    kv = 8192 * 61 * 576 * 2.0
    xfer = kv / 900e9 + 61 * 3.4e-6
    assert parts["kv_transfer_s"] == pytest.approx(xfer)
    g = c.gpu_spec

    def two_phases(s):  # weight GEMMs, then attention (BF16 with a BF16 KV cache): each its own bound
        kv_s, attn_s = s.kv_bytes / g.hbm_bandwidth, s.attention_flops / g.peak_flops("bf16")
        return max((s.t_memory - kv_s) / 0.8, (s.t_compute - attn_s) / 0.6) + max(kv_s / 0.8, attn_s / 0.6)

    p = prefill("gb200", "deepseek-v3", "fp8", prompt=8192, tp=1, attention_dp=4, ep=4, kv_bytes_per_element=2.0)
    fill = two_phases(p) + cal.comm_time(c, 8192, prefill=True)
    assert parts["prefill_s"] == pytest.approx(fill)
    d = decode_step("gb200", "deepseek-v3", "fp8", batch=256 / 8, context=8192 + 512, tp=1, attention_dp=8, ep=8,
                    kv_bytes_per_element=2.0)
    tpot = two_phases(d) + cal.comm_time(c, 32) + 0.004
    assert tpot > max(d.t_memory / 0.8, d.t_compute / 0.6) + cal.comm_time(c, 32) + 0.004  # MLA's attention: compute
    assert parts["tpot_s"] == pytest.approx(tpot) and parts["interference_s"] == 0
    load = 256 / (2 * 4)  # requests per prefill rank
    steady = max(load * fill - 1024 * tpot - fill, 0.0)
    wave = (load - 1) / 2 * fill  # the first requests, sent at once: the j-th of a rank waits j prefills
    wait = steady + max(wave - steady, 0.0) / 10  # one request in the benchmark's 10 per client
    assert wave > steady and parts["prefill_wait_s"] == pytest.approx(wait)
    assert parts["ttft_s"] == pytest.approx(0.1 + xfer + wait + fill)  # no q term in disaggregated serving


def test_disagg_ttft_waits_for_a_decode_seat_by_hand():
    """Six clients on three decode workers of one seat each (H100's ctx1_gen3_tep16_batch1): in
    steady state three decode while three wait, so the loop turns at 3 requests per decode of 1,024
    tokens and each request waits (6 / 3 - 1) decodes less its prefill before its first token."""
    c = cal.Config("h200_sxm", "deepseek-v3", "fp8", 8, 6, 1024, 1024, backend="trtllm", mode="disagg", ep=8,
                   workers=3, prefill_tp=8, prefill_ep=8, prefill_workers=1, max_batch=1)
    calib = cal.Calibration(bandwidth=0.8, compute=0.6, t_step=0.004, t_req=0.1)
    parts = cal.components(c, calib)
    decode = 1024 * parts["tpot_s"]
    seat_wait = (6 / 3) * decode - decode - parts["prefill_s"]
    assert parts["prefill_wait_s"] == pytest.approx(seat_wait)  # the seats bind, not the one prefill rank
    assert parts["ttft_s"] == pytest.approx(0.1 + parts["kv_transfer_s"] + seat_wait + parts["prefill_s"])
    # as many seats as clients: no wait beyond the prefill queue's, which six prompts do not fill
    free = cal.components(replace(c, max_batch=2), calib)
    assert free["prefill_wait_s"] < parts["prefill_wait_s"] / 100


def test_serving_held_out_rows_never_reach_the_fit():
    d = cal.load_measurements(table="serving")
    base = cal.fit_engines(d)
    scrambled = d.copy()
    held = scrambled.split == "held-out"
    assert set(scrambled[held].system) == {"b200_sxm", "gb200"}
    scrambled.loc[held, ["tpot_ms", "ttft_ms"]] *= 3.0
    assert cal.fit_engines(scrambled) == base
    moved = d.copy()
    moved.loc[moved.engine == "trtllm@serving", "tpot_ms"] *= 3.0
    assert cal.fit_engines(moved)["trtllm@serving"] != base["trtllm@serving"]


def test_left_out_rows_have_reasons_and_are_not_predicted():
    d = cal.load_measurements(table="serving")
    out = d[d.left_out != ""]
    assert len(out) > 0 and not (out.left_out.str.len() == 0).any()
    pred = cal.predictions(d, search.fitted_serving())  # the packaged table's fit (cached)
    assert len(pred) == (d.left_out == "").sum()
    t = cal.left_out_table(d)
    assert t.rows.sum() == len(out)


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data beside the clone")
def test_serving_curation_reproduces_the_table():
    rows = import_script("curate_serving").curate(SHARED)
    table = pd.read_csv(ROOT / "nvlmodel" / "data" / "serving.csv", dtype=str, keep_default_na=False)
    assert len(rows) == len(table)
    assert [r["source_id"] for r in rows] == list(table.source_id)


def test_kv_dtype_is_the_scripts_where_known():
    script = import_script("curate_serving")
    imx = "dated export (2026-03-25, 2026-04-06)"
    assert script.script_kv_dtype("b200_sxm", "sglang", "deepseek-v3", "agg", imx) == "fp8"
    assert script.script_kv_dtype("b200_sxm", "sglang", "deepseek-v3", "agg", "aiconfigurator gap analysis") == ""
    for other in (("h200_sxm", "sglang", "deepseek-v3", "agg"), ("b200_sxm", "sglang", "deepseek-v3", "disagg"),
                  ("b200_sxm", "trtllm", "deepseek-v3", "agg")):
        assert script.script_kv_dtype(*other, imx) == ""
    # vLLM's B200 gpt-oss script sets an FP8 cache from 2025-12-05 (vLLM v0.11.2); its Hopper scripts never
    vllm = ("b200_sxm", "vllm", "gpt-oss-120b", "agg", imx)
    assert [script.script_kv_dtype(*vllm, day) for day in ("2025-11-02", "2025-12-05", "2026-02-25")] == ["", "fp8", "fp8"]
    assert script.script_kv_dtype("h200_sxm", "vllm", "gpt-oss-120b", "agg", imx, "2026-03-27") == ""
    # TensorRT-LLM's B200 gpt-oss script from 2025-10-20 (ac1998a50); its H200 one keeps dtype auto
    trt = ("b200_sxm", "trtllm", "gpt-oss-120b", "agg", imx)
    assert [script.script_kv_dtype(*trt, day) for day in ("2025-10-19", "2025-10-20")] == ["", "fp8"]
    assert script.script_kv_dtype("h200_sxm", "trtllm", "gpt-oss-120b", "agg", imx, "2026-03-27") == ""
    table = pd.read_csv(ROOT / "nvlmodel" / "data" / "serving.csv", dtype=str, keep_default_na=False)
    fp8 = table[table.kv_dtype == "fp8"]
    assert len(fp8) > 0 and set(fp8.system) == {"b200_sxm"} and set(fp8.backend) == {"sglang", "vllm", "trtllm"}
    assert set(fp8[fp8.backend == "trtllm"].model) == {"gpt-oss-120b"}
    assert (fp8[fp8.backend == "vllm"].measured >= "2025-12-05").all()
    assert (fp8[fp8.backend == "trtllm"].measured >= "2025-10-20").all()
    assert not ((table.backend == "vllm") & (table.measured < "2025-12-05") & (table.kv_dtype != "")).any()
    assert set(table.kv_dtype) == {"", "fp8"}
    # the row's dtype reaches the model: half the KV bytes of SGLang's default (the model's BF16)
    r = cal.load_measurements(table="serving")
    r = next(r[(r.kv_dtype == "fp8") & (r.left_out.fillna("") == "")].itertuples())
    from nvlmodel.calibrate.data import _config

    assert _config(r).kv_bytes_per_element == 1.0
    assert cal.Config(r.system, r.model, r.precision, int(r.tp), 8, 1024, 1024, backend="sglang").kv_bytes_per_element == 2.0


def test_moe_kernel_is_the_scripts_where_known():
    """InferenceMAX's gpt-oss-120b scripts: vLLM on B200 FlashInfer's MXFP4 x MXFP8 experts from
    2025-09-24, vLLM on Hopper Marlin's from 2026-01-02, TensorRT-LLM on H200 its Triton backend;
    its SGLang DeepSeek-R1 scripts on B200 FlashInfer's TensorRT-LLM-gen MoE; nothing for other
    engines, models, GPUs or clients, and nothing before those days."""
    script = import_script("curate_serving")
    imx = "dated export (2026-03-25, 2026-04-06)"
    vllm_b200 = ("b200_sxm", "vllm", "gpt-oss-120b", "agg", imx)
    assert [script.script_moe_kernel(*vllm_b200, d) for d in ("2025-09-23", "2025-09-24")] == [
        "", "flashinfer_mxfp4_mxfp8"]
    for gpu in ("h100_sxm", "h200_sxm"):
        assert [script.script_moe_kernel(gpu, "vllm", "gpt-oss-120b", "agg", imx, d)
                for d in ("2026-01-01", "2026-01-02")] == ["", "marlin_mxfp4"]
    assert script.script_moe_kernel("h200_sxm", "trtllm", "gpt-oss-120b", "agg", imx, "2026-01-07") == "triton_mxfp4"
    for other in (("b200_sxm", "trtllm", "gpt-oss-120b", "agg"), ("b200_sxm", "vllm", "deepseek-v3", "agg"),
                  ("h200_sxm", "trtllm", "deepseek-v3", "agg"),
                  ("gb200", "trtllm", "gpt-oss-120b", "disagg"), ("b200_sxm", "sglang", "deepseek-v3", "disagg")):
        assert script.script_moe_kernel(*other, imx, "2026-03-27") == ""
    assert script.script_moe_kernel(*vllm_b200[:4], "aiconfigurator gap analysis", "2026-03-27") == ""
    table = pd.read_csv(ROOT / "nvlmodel" / "data" / "serving.csv", dtype=str, keep_default_na=False)
    chosen = table[table.moe_kernel != ""]
    assert set(table.moe_kernel) <= {"", *k.MOE_KERNELS}
    assert set(zip(chosen.backend, chosen.model)) == {("vllm", "gpt-oss-120b"), ("trtllm", "gpt-oss-120b"),
                                                      ("sglang", "deepseek-v3"), ("trtllm", "deepseek-v3")}
    ds = chosen[(chosen.backend == "trtllm") & (chosen.model == "deepseek-v3")]
    assert set(ds.system) == {"b200_sxm"} and set(ds["mode"]) == {"agg"}
    assert set(ds[ds.precision == "fp8"].moe_kernel) == {"deepgemm", "trtllm_gen"}
    assert set(ds[ds.precision == "fp4"].moe_kernel) == {"cutlass", "trtllm_gen"}
    # SGLang's DeepSeek-R1 scripts on one B200 node: FlashInfer's TensorRT-LLM-gen MoE from 2025-09-21
    sgl = ("b200_sxm", "sglang", "deepseek-v3", "agg", imx)
    assert [script.script_moe_kernel(*sgl, d) for d in ("2025-09-20", "2025-11-02")] == ["", "flashinfer_trtllm"]
    assert (chosen[(chosen.system == "b200_sxm") & (chosen.backend == "vllm")].moe_kernel
            == "flashinfer_mxfp4_mxfp8").all()


def test_each_row_says_whether_its_client_warmed_up():
    """InferenceMAX's client sent no warm-up before 2026-01-21 and two per client from that day;
    the gap-analysis rows' client is not recorded. Every row of both tables says which."""
    for table in ("dense", "serving"):
        d = cal.load_measurements(table=table)
        imx = d.harness.str.startswith(("dated export", "database dump"))
        assert (d.client_warmup[~imx] == "not recorded").all()
        assert (d.client_warmup[imx] == np.where(d.measured[imx] < "2026-01-21", "none", "2 per client")).all()


def test_tokens_per_step_are_the_scripts_where_known():
    """InferenceMAX's gpt-oss-120b scripts set 8,192 tokens per step (vLLM, every Hopper and B200 run in
    the table) or 20,000 (TensorRT-LLM, H200 and B200); the replay schedules those rows with them,
    others by aiconfigurator's rule."""
    from nvlmodel.serve.validate import benchmark_limits

    script = import_script("curate_serving")
    imx = "dated export (2026-03-25, 2026-04-06)"
    assert script.script_max_num_tokens("b200_sxm", "vllm", "gpt-oss-120b", "agg", imx, "2026-02-25") == 8192
    # SGLang's DeepSeek-R1 scripts on one B200 node: by precision and, in FP8 from 2026-01-13, TP
    sgl = ("b200_sxm", "sglang", "deepseek-v3", "agg", imx)
    assert [script.script_max_num_tokens(*sgl, day, p, tp) for day, p, tp in (
        ("2026-02-25", "fp4", 4), ("2026-02-25", "fp8", 8), ("2026-02-25", "fp8", 4), ("2025-12-01", "fp8", 4),
        ("2025-09-20", "fp4", 8))] == [16384, 32768, 8192, 32768, ""]
    assert script.script_max_num_tokens(*sgl[:4], "aiconfigurator gap analysis", "2026-02-25", "fp4", 8) == ""
    assert script.script_max_num_tokens("b200_sxm", "vllm", "gpt-oss-120b", "agg", imx, "2025-09-01") == ""
    assert script.script_max_num_tokens("b200_sxm", "vllm", "gpt-oss-120b", "agg", "aiconfigurator gap analysis",
                                        "2026-02-25") == ""
    d = cal.load_measurements(table="serving")
    given = d.max_num_tokens.notna()
    assert set(d.max_num_tokens[given & (d.backend == "vllm")]) == {8192}
    assert set(d.max_num_tokens[given & (d.backend == "trtllm")]) == {20000}
    assert set(d.max_num_tokens[given & (d.backend == "sglang")]) == {8192, 16384, 32768}
    assert set(zip(d[given].backend, d[given].model)) == {("vllm", "gpt-oss-120b"), ("trtllm", "gpt-oss-120b"),
                                                          ("sglang", "deepseek-v3")}
    for backend, tokens in (("vllm", 8192), ("trtllm", 20000)):  # 20,000 is a whole number of 32-token blocks
        row = next(d[given & (d.backend == backend) & (d.left_out.fillna("") == "")].itertuples())
        assert benchmark_limits(row)["token_budget"] == tokens


def _ix(**kw):
    """One disaggregated InferenceMAX configuration: 2 prefill workers of 4 GPUs with attention DP,
    one decode worker of 16 GPUs with attention DP, listed from 2025-12-01."""
    c = dict(prefill_tp="4", prefill_ep="4", prefill_dp_attention="True", prefill_workers="2",
             decode_tp="16", decode_ep="16", decode_dp_attention="True", decode_workers="1",
             first_seen="2025-12-01", dropped="", image="", spec_decoding="none", first_commit="abc")
    return dict(c, **kw)


def test_recover_layout_by_hand():
    recover = import_script("curate_serving").recover_layout
    # recorded as the 2025-12 exports do: tp = the deployment's 2 x 4 + 16 = 24 GPUs
    row = dict(model="deepseek-v3", measured="2025-12-05", tp=24, prefill_tp=24)
    layout, note = recover(row, [_ix()])
    # decode: 16 GPUs of attention DP, 16-way experts -> tp 1, attention_dp 16, moe_tp 1; prefill alike
    assert (layout["tp"], layout["attention_dp"], layout["moe_tp"], layout["ep"], layout["workers"]) == (1, 16, 1, 16, 1)
    assert (layout["prefill_tp"], layout["prefill_attention_dp"], layout["prefill_workers"]) == (1, 4, 2)
    assert "listed from 2025-12-01" in note
    # recorded as the 2026 exports do: tp = the decode worker's GPUs; without attention DP it is TP
    layout, _ = recover(dict(row, tp=16, prefill_tp=4), [_ix(decode_dp_attention="False")])
    assert (layout["tp"], layout["attention_dp"], layout["moe_tp"]) == (16, 1, 1)
    # those exports copy the prefill's ep: a recorded ep of 1 rules out a prefill of 4-way experts
    assert recover(dict(row, tp=16, prefill_tp=4, prefill_ep=1), [_ix()])[0] is None
    assert recover(dict(row, tp=16, prefill_tp=4, prefill_ep=4), [_ix()])[0]["workers"] == 1
    assert recover(row, [_ix(first_seen="2025-12-06")])[0] is None  # listed after the measurement
    assert recover(row, [_ix(dropped="2025-12-04")])[0] is None  # no longer listed then
    assert recover(dict(row, tp=20), [_ix()])[1] == "no InferenceMAX configuration matches it"
    assert "only with MTP" in recover(row, [_ix(spec_decoding="mtp")])[1]
    assert "with and without MTP" in recover(row, [_ix(), _ix(spec_decoding="mtp")])[1]
    assert recover(row, [_ix(), _ix(decode_workers="2", decode_tp="8", prefill_workers="2")])[1].startswith("2 ")
    # DeepSeek-R1 (671 B parameters, >= 335 GB at 4 bits) on one-GPU workers: a placeholder
    one = dict(row, tp=1, prefill_tp=1)
    assert "placeholder" in recover(one, [_ix(decode_tp="1", decode_ep="1", prefill_tp="1", prefill_ep="1")])[1]
    assert recover(row, [_ix(image="other:1")], image="nvcr.io#nvidia/x:1")[0] is None


def test_the_database_dump_runs_take_their_recipes_seats():
    """The database dump records the layout of InferenceMAX's H100 TensorRT-LLM runs of DeepSeek-R1
    (one DEP16 prefill worker, three TEP16 decode workers) but not the seats their srt-slurm recipes
    gave each decode worker: ``ctx1_gen3_tep16_batch{1,2,8,16}`` at 6, 9, 30 and 60 clients
    (``recipes/trtllm/h100-fp8/1k1k/stp/``), as InferenceMAX's configuration file lists them. The
    curated rows carry them, so that 6 clients on 3 seats wait for one (chapter 9)."""
    d = cal.load_measurements(table="serving")
    h = d[(d.system == "h100_sxm") & (d.backend == "trtllm") & (d["mode"] == "disagg")
          & d.source_id.str.endswith("_cfg494") & (d.isl == 1024)]
    assert dict(zip(h.concurrency, h.decode_max_batch)) == {6: 1, 9: 2, 30: 8, 60: 16}
    assert set(h.workers) == {3}
    # every such row waits: clients beyond 3 workers x its seats (6 > 3, 9 > 6, 30 > 24, 60 > 48)
    assert (h.concurrency > 3 * h.decode_max_batch).all()
    limits = import_script("curate_serving").recorded_limits
    cfg = dict(prefill_tp="16", prefill_ep="16", prefill_dp_attention="True", prefill_workers="1", decode_tp="16",
               decode_ep="16", decode_dp_attention="False", decode_workers="3", first_seen="2026-02-07", dropped="",
               image="", system="h100_sxm", decode_max_batch="1", prefill_max_batch="", prefill_max_tokens="",
               decode_eplb_slots="")
    run = ((16, 1, 1, 16, 3), (1, 16, 1, 16, 1))
    assert limits(dict(measured="2026-02-08"), run, [cfg])["decode_max_batch"] == 1
    assert limits(dict(measured="2026-02-08"), run, [dict(cfg, decode_workers="2")])["decode_max_batch"] == ""  # layout
    listed = dict(cfg, image="nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.8.1.post3")  # another build ran
    assert limits(dict(measured="2026-02-08"), run, [listed], image="nvcr.io/other:1")["decode_max_batch"] == ""


def test_a_recipes_prefill_limits_by_hand(tmp_path):
    """A recipe's prefill limits are read from every version in the recipe repository's history:
    kept where the versions agree, empty where they disagree or no version sets one; an SGLang
    recipe's per attention rank; a configuration running the recipe takes them where its own
    settings name none."""
    import subprocess

    ix = import_script("curate_inferencex")
    repo, path = tmp_path / "srt", "recipes/trtllm/h100-fp8/1k1k/stp/ctx1_gen3_tep16_batch1_eplb0_mtp0.yaml"
    (repo / Path(path).parent).mkdir(parents=True)

    def commit(batch, tokens):
        (repo / path).write_text(f"backend:\n  trtllm_config:\n    prefill:\n      max_batch_size: {batch}\n"
                                 f"      max_num_tokens: {tokens}\n    decode:\n      max_batch_size: 1\n")
        for cmd in (["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v"]):
            subprocess.run(["git", "-C", str(repo), *cmd], check=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    commit(2, 2048)
    commit(2, 4096)  # the tokens changed between versions: unknown; the batch did not
    limits = ix.recipe_prefill_limits(repo)
    assert limits(path) == (2, "")
    assert limits("recipes/h100/1k1k/stp/h100-fp8-1p2d-max-tp.yaml") == ("", "")  # not in this repository
    assert ix.recipe_prefill_limits(None)(path) == ("", "")
    # an SGLang recipe: max-running-requests and the token budgets over its DP ranks (SGLang divides
    # chunked-prefill-size by dp_size under DP attention)
    sgl = "recipes/gb200-fp8/1k1k/1p2d.yaml"
    (repo / Path(sgl).parent).mkdir(parents=True)
    (repo / sgl).write_text("backend:\n  sglang_config:\n    prefill:\n      enable-dp-attention: true\n"
                            "      dp-size: 4\n      max-running-requests: 512\n      chunked-prefill-size: 16384\n")
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "s"], check=True)
    assert ix.recipe_prefill_limits(repo)(sgl) == (128, 4096)
    cfg = {"dsr1-fp8-h100-dynamo-trt": {"image": "img", "model-prefix": "dsr1", "runner": "h100", "precision": "fp8",
           "framework": "dynamo-trt", "disagg": True, "seq-len-configs": [{"isl": 1024, "osl": 1024, "search-space": [
               {"conc-list": [6], "prefill": {"num-worker": 1, "tp": 16, "ep": 16, "dp-attn": True},
                "decode": {"num-worker": 3, "tp": 16, "ep": 16, "dp-attn": False,
                           "additional-settings": [f"CONFIG_FILE={path}"]}}]}]}}
    row = ix.configurations(cfg, prefill_limits=limits)[0]
    assert (row["decode_max_batch"], row["prefill_max_batch"], row["prefill_max_tokens"]) == (1, 2, "")


def test_inferencex_sizes_and_clients_by_hand():
    """GB200 SGLang entries size their workers in 4-GPU nodes (2 workers on 4 nodes: 8 GPUs each,
    ``ep`` as listed); the H200 recipes ``c<N>_ctx<P>_gen<D>_`` run N clients per decode worker (4 on
    9 workers: 36); other recipes run their concurrency."""
    ix = import_script("curate_inferencex")
    side = {"num-worker": 2, "tp": 1, "ep": 1, "dp-attn": True, "additional-settings": ["PREFILL_NODES=4"]}
    assert ix._sized_by_nodes(side, "prefill") == {"prefill_tp": 8, "prefill_ep": 1, "gpus_from": "nodes"}
    assert ix._sized_by_nodes(dict(side, **{"additional-settings": []}), "prefill") == {}
    assert ix._sized_by_nodes(dict(side, **{"num-worker": 3}), "prefill") == {}  # 16 GPUs do not split 3 ways
    h200 = ["CONFIG_FILE=recipes/trtllm/h200/1k1k/stp/c4_ctx1_gen9_tep8_batch128_eplb0_mtp0.yaml"]
    assert ix.clients(4, h200, 9) == 36
    assert ix.clients(8, h200, 9) == 8  # the recipe is for 4 clients a worker, not 8
    assert ix.clients(666, ["CONFIG_FILE=recipes/trtllm/gb200-fp4/1k1k/stp/ctx1_gen1_dep32_batch16_eplb0_mtp0.yaml"],
                      1) == 666
    # GB200 TensorRT-LLM without a recipe: Dynamo's bench.sh runs the listed concurrency per decode worker
    gb200 = dict(system="gb200", backend="trtllm", mode="disagg", model="deepseek-v3")
    assert ix.clients(32, ["DECODE_MAX_BATCH_SIZE=128"], 4, **gb200) == 128
    assert ix.clients(32, ["DECODE_MAX_BATCH_SIZE=128"], 4, **dict(gb200, model="gpt-oss-120b")) == 32
    assert ix.clients(32, ["CONFIG_FILE=recipes/trtllm/gb200-fp4/1k1k/stp/ctx1_gen4_tep8_batch32_eplb0_mtp0.yaml"], 4,
                      **gb200) == 32
    assert ix.clients(32, [], 4, system="b200_sxm", backend="trtllm", mode="disagg") == 32
    assert ix.limits(["DECODE_MAX_BATCH_SIZE=32", "PREFILL_MAX_NUM_TOKENS=4608"]) == {
        "decode_max_batch": 32, "prefill_max_batch": "", "prefill_max_tokens": 4608, "decode_eplb_slots": ""}


def _listed_and_recorded(script, configs, r, real: bool = False):
    """The (tp, attention_dp, ep, workers) of both sides, decode then prefill, of every InferenceMAX
    configuration listed on a database-dump row's day at its clients (``real``: only those whose
    workers hold the weights), and the row's recorded ones."""
    key = (r.system, r.backend, r.model, r.precision, r.isl, r.osl, int(r.concurrency))
    layouts = {(script.run_layout(c, "decode"), script.run_layout(c, "prefill")) for c in configs.get(key, [])
               if script._listed_on(c, r.measured) and (not real or script._real(c, r.model))}
    listed = {((dd[0], dd[1], dd[3], dd[4]), (p[0], p[1], p[3], p[4])) for dd, p in layouts}
    recorded = ((r.tp, r.attention_dp, r.ep, int(r.workers)),
                (int(r.prefill_tp), int(r.prefill_attention_dp), int(r.prefill_ep), int(r.prefill_workers)))
    return listed, recorded


def test_inferencex_layouts_agree_with_the_recorded_ones():
    """The database dump records its disaggregated layouts. Wherever InferenceMAX lists the same
    configuration (date window, a worker that holds the weights), the recorded layout is one of
    the listed ones, read as :func:`curate_serving._layout` reads them (dp-attn: the worker's
    GPUs are attention-DP ranks): the reading the recovered rows rest on."""
    script = import_script("curate_serving")
    configs = script.load_configs()
    d = pd.read_csv(ROOT / "nvlmodel" / "data" / "serving.csv")
    rows = d[(d["mode"] == "disagg") & d.left_out.isna() & d.harness.str.startswith("database")]
    checked = 0
    for r in rows.itertuples():
        listed, recorded = _listed_and_recorded(script, configs, r, real=True)
        if not listed:
            continue
        assert recorded in listed, r.source_id
        checked += 1
    assert checked >= 70  # (fewer since the layouts as run made more of them repeats of the dated exports)


def test_layouts_are_read_as_the_recipes_ran_them():
    """InferenceMAX audited its listings against the recipe files on 2026-03-23 (f316a0ef6): its H200
    TensorRT-LLM 8K/1K entries had listed attention-DP prefill workers that the recipes run
    tensor-parallel. The database dump measured one such configuration on 2026-02-14 (listed then
    with an attention-DP prefill) and on 2026-03-23 (listed as the recipe runs it) at 7,727 and
    7,691 ms TTFT, 36.31 and 36.34 ms TPOT: one configuration, kept once, its prefill TP8. GB200
    SGLang DeepSeek sides listed ep 1 run DeepEP over their GPUs, with 32 redundant experts."""
    d = pd.read_csv(ROOT / "nvlmodel" / "data" / "serving.csv").set_index("source_id")
    feb, mar = d.loc["dsr1_h200_trtllm_fp8_disagg_8192x1024_c128_cfg291"], d.loc["dsr1_h200_trtllm_fp8_disagg_8192x1024_c128_cfg675"]
    for r in (feb, mar):
        assert (r.prefill_tp, r.prefill_attention_dp, r.prefill_ep) == (8, 1, 8)
        assert (r.tp, r.attention_dp, r.ep, r.workers) == (1, 8, 8, 1)
    assert feb.left_out.startswith("repeat of dsr1_h200_trtllm_fp8_disagg_8192x1024_c128_cfg675")
    assert "f316a0ef6" in feb.layout_note and pd.isna(mar.layout_note)
    sg = d[(d.system == "gb200") & (d.backend == "sglang") & (d.attention_dp > 1)]
    assert len(sg) >= 60 and (sg.ep == sg.tp * sg.attention_dp).all()
    assert ((sg.redundant_experts == 32) == (sg.ep >= 8)).all()  # replicas on sides of 8 GPUs or more, as the recipes
    script = import_script("curate_serving")
    cfg = dict(prefill_tp="4", prefill_ep="1", prefill_dp_attention="True", prefill_workers="1",
               decode_tp="48", decode_ep="1", decode_dp_attention="True", decode_workers="1",
               system="gb200", backend="sglang", model="deepseek-v3")
    assert script.run_layout(cfg, "decode") == (1, 48, 1, 48, 1)  # listed: (1, 48, 48, 1, 1), experts split 48 ways
    assert script._layout(cfg, "decode") == (1, 48, 48, 1, 1)


def test_gb200_trtllm_rows_ran_the_clients_their_benchmark_script_runs():
    """InferenceMAX ran its GB200 TensorRT-LLM disaggregated DeepSeek entries without a recipe
    through Dynamo's benchmark_disagg.slurm, whose bench.sh runs each listed concurrency times the
    decode workers; its recipe entries run the concurrency listed (:func:`curate_inferencex.clients`).
    Every database-dump row of those, which records its layout, is then one configuration listed on
    its day at its clients with that layout (read with the listed concurrency instead, the rows at
    128, 256 and 564 clients on four 8-GPU decode workers, and at 3-102 on three, match none)."""
    script = import_script("curate_serving")
    configs = script.load_configs()
    d = pd.read_csv(ROOT / "nvlmodel" / "data" / "serving.csv")
    rows = d[(d.system == "gb200") & (d.backend == "trtllm") & (d["mode"] == "disagg")
             & d.harness.str.startswith("database") & d.workers.notna()]
    for r in rows.itertuples():
        listed, recorded = _listed_and_recorded(script, configs, r)
        assert recorded in listed, r.source_id
    assert len(rows) >= 40 and (rows.measured < "2026-01-22").sum() >= 10  # both launch paths


def test_gb200_rows_labelled_aggregated_take_the_runner_scripts_layout():
    """Before its configuration file listed them (2025-12-05), InferenceMAX's GB200 runner script
    submitted each TensorRT-LLM configuration itself, all disaggregated; rows of that time labelled
    aggregated record the deployment's GPUs as their tp. Each recovered one is disaggregated, its
    prefill and decode GPUs add up to the tp its source id names, and its layout is the script's."""
    d = pd.read_csv(ROOT / "nvlmodel" / "data" / "serving.csv")
    ix = pd.read_csv(ROOT / "nvlmodel" / "data" / "inferencex_configs.csv")
    assert (ix[ix.name == "runners/launch_gb200-nv.sh"].first_seen < "2025-12-05").all()
    rows = d[d.layout_note.fillna("").str.startswith("labelled aggregated")]
    assert len(rows) >= 10 and (rows["mode"] == "disagg").all() and (rows.measured < "2025-12-05").all()
    for r in rows.itertuples():
        gpus = r.tp * r.attention_dp * r.workers + r.prefill_tp * r.prefill_attention_dp * r.prefill_workers
        assert "_agg_" in r.source_id and f"_tp{int(gpus)}_" in r.source_id, r.source_id
        assert "launch_gb200-nv.sh" in r.layout_note
    left = d[d.left_out.fillna("").str.startswith("labelled aggregated")]
    assert (left.system == "gb200").all() and (left["mode"] == "agg").all()


def test_aggregated_rows_inferencemax_ran_with_mtp_carry_their_draft_length():
    spec = import_script("curate_serving").agg_speculation
    cfg = dict(tp="8", ep="8", dp_attention="True", first_seen="2026-03-01", dropped="2026-04-01",
               image="nvcr.io#nvidia/tensorrt-llm/release:1.2.0rc6.post3", spec_decoding="mtp", spec_tokens="1")
    row = dict(measured="2026-03-25", gpus=8, ep=8, attention_dp=8)
    image = "nvcr.io/nvidia/tensorrt-llm/release:1.2.0rc6.post3"  # the exports write nvcr.io/, the file nvcr.io#
    assert spec(row, [cfg], image) == ("", 1)
    assert spec(row, [cfg], image.replace("post3", "post2")) == ("", 0)  # another image: no evidence
    assert spec(dict(row, measured="2026-04-02"), [cfg], image) == ("", 0)  # dropped before the measurement
    other = dict(cfg, tp="4", ep="4", spec_decoding="none", spec_tokens="0")
    assert spec(row, [cfg, other], image) == ("", 1)  # the row's own layout decides
    assert "with and without" in spec(row, [cfg, dict(cfg, spec_decoding="none")], image)[0]
    assert "with and without" in spec(dict(row, gpus=2, ep=2), [cfg, other], image)[0]  # no layout matches: all
    assert "does not say which" in spec(row, [cfg, dict(cfg, spec_tokens="3")], image)[0]
    assert "do not record" in spec(row, [dict(cfg, spec_tokens="")], image)[0]
    # in the table: every B200 TensorRT-LLM row of that image is such a run: modelled with its draft
    # length (TensorRT-LLM's scripts draft 3 tokens, 1 with attention DP), or left out for MTP
    d = pd.read_csv(ROOT / "nvlmodel" / "data" / "serving.csv")
    post3 = d[(d.backend_version == "1.2.0rc6.post3") & (d.system == "b200_sxm") & (d["mode"] == "agg")]
    mtp = post3.spec_tokens > 0
    assert len(post3) > 40 and (mtp | post3.left_out.fillna("").str.contains("MTP speculative")).all()
    assert (post3[mtp].spec_tokens == np.where(post3[mtp].attention_dp > 1, 1, 3)).all()


def test_recovered_rows_are_one_inferencex_configuration_run_as_modelled():
    script = import_script("curate_serving")
    configs = script.load_configs()
    d = pd.read_csv(ROOT / "nvlmodel" / "data" / "serving.csv")
    rec = d[d.layout_note.fillna("").str.startswith("layout from InferenceMAX")]
    assert len(rec[rec.system == "gb200"]) >= 100
    for r in rec.itertuples():
        key = (r.system, r.backend, r.model, r.precision, r.isl, r.osl, int(r.concurrency))
        mine = ((r.tp, r.attention_dp, r.moe_tp, r.ep, int(r.workers)),
                (int(r.prefill_tp), int(r.prefill_attention_dp), int(r.prefill_moe_tp), int(r.prefill_ep),
                 int(r.prefill_workers)))
        listed = [c for c in configs[key] if script._listed_on(c, r.measured)]
        same = [c for c in listed if (script.run_layout(c, "decode"), script.run_layout(c, "prefill")) == mine]
        # (configurations run otherwise were ruled out by the row's container image or not at all:
        # test_recover_layout_by_hand): a row modelled with MTP matches one drafting as many tokens
        ran = {(c["spec_decoding"], int(c["spec_tokens"] or -1)) for c in same}
        assert (("mtp", int(r.spec_tokens)) if r.spec_tokens else ("none", 0)) in ran, r.source_id


# ------------------------------------------------------------------------------------------
# search
# ------------------------------------------------------------------------------------------

def _dominated(row, others):
    return ((others.tok_s_per_user >= row.tok_s_per_user) & (others.tok_s_per_gpu >= row.tok_s_per_gpu)
            & ((others.tok_s_per_user > row.tok_s_per_user) | (others.tok_s_per_gpu > row.tok_s_per_gpu))).any()


@settings(max_examples=8, deadline=None)
@given(model=st.sampled_from(["deepseek-v3", "qwen3-32b", "gpt-oss-120b"]),
       isl=st.sampled_from([512, 1024, 4096]), osl=st.sampled_from([256, 1024]),
       ttft=st.floats(0.2, 5.0), tpot=st.floats(0.008, 0.1))
def test_frontier_is_feasible_and_non_dominated(model, isl, osl, ttft, tpot):
    sla = search.SLA(ttft, tpot)
    allc = search.search(model, isl, osl, sla, systems=("b200_sxm", "gb200"), max_gpus=32)
    front = search.best(model, isl, osl, sla, systems=("b200_sxm", "gb200"), max_gpus=32)
    assert (front.ttft_s <= ttft).all() and (front.tpot_s <= tpot).all() and (front.gpus <= 32).all()
    for system, f in front.groupby("system"):
        pool = allc[(allc.system == system) & allc.meets_sla]
        for row in f.itertuples():
            assert not _dominated(row, pool)
        # every feasible point of the system is dominated by, or on, the frontier
        assert len(f) == len(search.pareto(pool))
    if front.empty:
        assert "why" in front.attrs


def test_search_by_hand_for_one_aggregated_point():
    calib = cal.Calibration(bandwidth=0.8, compute=0.6, t_step=0.004, t_req=0.1, q=0.5)
    out = search.search("qwen3-32b", 1024, 1024, search.SLA(10.0, 1.0), systems=("gb200",), max_gpus=8,
                        calibrations={"trtllm@serving": calib})
    row = out[(out["mode"] == "agg") & (out.decode_shape == (2, 1, 1)) & (out.batch == 16)].iloc[0]
    c = cal.Config("gb200", "qwen3-32b", "fp4", 2, 16, 1024, 1024, backend="trtllm")
    parts = cal.components(c, calib)
    assert row.tpot_s == pytest.approx(parts["tpot_s"])
    assert row.ttft_s == pytest.approx(parts["ttft_s"])
    assert row.tok_s_per_gpu == pytest.approx(16 / parts["tpot_s"] / 2)
    # per output token: the rack's ~120 kW over 72 GPUs; GB200 board power 1,200 W
    assert row.tok_per_joule == pytest.approx(16 / parts["tpot_s"] / 2 / (120_000 / 72))
    assert row.tok_per_joule_gpu_only == pytest.approx(16 / parts["tpot_s"] / 2 / 1200)
    assert row.gpu_h_per_mtok == pytest.approx(1e6 / (16 / parts["tpot_s"] / 2) / 3600)
    assert "cost_per_mtok" not in out  # no price given, no cost
    priced = search.search("qwen3-32b", 1024, 1024, search.SLA(10.0, 1.0), systems=("gb200",), max_gpus=8,
                           calibrations={"trtllm@serving": calib}, price_per_gpu_hour=2.5)
    assert priced.cost_per_mtok.to_numpy() == pytest.approx(2.5 * priced.gpu_h_per_mtok.to_numpy())


def test_the_search_spans_two_hgx_nodes_with_a_tp_group_and_never_more():
    """HGX systems offer TP 16 over two whole nodes (TEP16 and TP16 for an MoE model, TP16 for a
    dense one) where 16 GPUs are allowed, never TP 32; an NVL72 rack offers TP up to its 72 GPUs as
    before. A TEP16 point on H100 is the static model's Config of that layout, its steps paying the
    122 all-reduces between the nodes (t_xar each)."""
    h100 = search.parallel_configs("h100_sxm", "deepseek-v3", 72)
    assert {(16, 1, 16), (16, 1, 1)} <= set(h100) and not any(tp > 16 for tp, _, _ in h100)
    assert not any(tp > 8 for tp, _, _ in search.parallel_configs("h100_sxm", "deepseek-v3", 8))
    assert (16, 1, 1) in search.parallel_configs("b200_sxm", "llama-3.1-405b", 16)
    assert (64, 1, 64) in search.parallel_configs("gb200", "deepseek-v3", 64)
    c = search.fitted_serving()[search.ENGINE]
    out = search.search("deepseek-v3", 1024, 1024, search.SLA(10.0, 1.0), systems=("h100_sxm",), max_gpus=16)
    row = out[(out["mode"] == "agg") & (out.decode_shape == (16, 1, 16)) & (out.batch == 4)].iloc[0]
    cfg = cal.Config("h100_sxm", "deepseek-v3", "fp8", 16, 4, 1024, 1024, backend="trtllm", ep=16)
    assert cfg.allreduces_across_nodes() == 122
    decode, without = cal.step_times(cfg, c)[0], cal.step_times(cfg, replace(c, t_xar=0.0))[0]
    assert row.tpot_s >= decode and decode - without == pytest.approx(122 * c.t_xar)


def test_the_search_deploys_a_rack_wide_expert_parallel_worker_with_redundant_experts():
    """DeepSeek's 256 experts do not split over a 72-GPU rack; with 32 replicas (288 slots, 4 a GPU)
    they do, as SGLang's GB200 runs held 32 over 24 and 48 GPUs. The search's DEP72 point is that
    deployment: its TPOT is the static model's for a Config with 32 redundant experts (not the
    model without them, which would hold 256/72 experts a GPU), and it can be re-checked by simulation."""
    m = get_model("deepseek-v3")
    assert [search.redundant_experts_for(m, ep) for ep in (8, 24, 48, 64, 72)] == [0, 8, 32, 0, 32]
    assert (1, 72, 72) in search.parallel_configs("gb200", "deepseek-v3", 72)
    out = search.search("deepseek-v3", 1024, 1024, search.SLA(10.0, 1.0), systems=("gb200",))
    row = out[(out["mode"] == "agg") & (out.decode_shape == (1, 72, 72)) & (out.batch == 64)].iloc[0]
    cfg = cal.Config("gb200", "deepseek-v3", "fp4", 1, 64 * 72, 1024, 1024, backend="trtllm", attention_dp=72,
                     ep=72, redundant_experts=32)
    assert cfg.arch_of().expert_slots == 288
    assert row.tpot_s == pytest.approx(cal.components(cfg, search.fitted_serving()["trtllm@serving"])["tpot_s"])
    assert search.retime(out.loc[[row.name]], "deepseek-v3", 1024, 1024)[0] == pytest.approx(row.tpot_s)
    sim = search.simulate_frontier(out.loc[[row.name]].assign(batch=1.0), "deepseek-v3", 1024, 1024)
    assert (sim.sim_status == "ok").all()


def test_search_rejects_bad_input_and_says_why():
    with pytest.raises(ValueError, match="valid choices"):
        search.search("gpt-5", 1024, 1024, search.SLA(1, 0.05))
    with pytest.raises(ValueError, match="valid choices"):
        search.search("qwen3-32b", 1024, 1024, search.SLA(1, 0.05), systems=("tpu",))
    with pytest.raises(ValueError, match="ttft_s"):
        search.SLA(-1, 0.05)
    with pytest.raises(ValueError, match="isl"):
        search.search("qwen3-32b", 0, 1024, search.SLA(1, 0.05))
    empty = search.best("qwen3-32b", 1024, 1024, search.SLA(0.001, 0.05))
    assert empty.empty and "no deployment meets the SLA" in empty.attrs["why"]
    assert "between them" not in empty.attrs["why"]  # Qwen3-32B fits one node: not the reason there
    # DeepSeek-R1 in FP8 needs two H100 nodes, so every deployment spans both: it spreads its experts
    # over them (each decode step pays t_xnode per MoE layer for the exchange) or its TP group (t_xar
    # per all-reduce: 2 per dense layer and 2 per MoE layer, 2 x 3 + 2 x 58 = 122), and the cheaper
    # of the two is named
    ds = search.best("deepseek-v3", 1024, 1024, search.SLA(2.0, 0.012), systems=("h100_sxm",))
    c = search.fitted_serving()[search.ENGINE]
    assert ds.empty and "every deployment that fits spans more than one node" in ds.attrs["why"]
    assert (f"pays at least {c.t_xar * 122 * 1e3:.0f} ms for its 122 all-reduces between them" in ds.attrs["why"]
            if c.t_xar * 122 < c.t_xnode * 58 else f"pays at least {c.t_xnode * 58 * 1e3:.0f} ms for exchanging"
            in ds.attrs["why"])


def test_repeated_configurations_are_counted_once():
    """No two modelled rows share a configuration; every repeat names the row kept (which the model
    may in turn leave out for a reason of its own: the configuration then counts zero times)."""
    CONFIG_KEY = import_script("curate_serving").CONFIG_KEY
    d = cal.load_measurements(table="serving")
    modelled = d[d.left_out == ""]
    assert not modelled.duplicated([c for c in CONFIG_KEY if c in d]).any()
    repeats = d[d.left_out.str.match(r"(duplicate|repeat) of ")]
    assert len(repeats) > 0
    kept = repeats.left_out.str.extract(r"of (\S+) ")[0]
    assert kept.isin(set(d.source_id)).all() and not kept.isin(set(repeats.source_id)).any()
    # a duplicate is the same measurement; a repeat a different one of the same configuration
    one = repeats[repeats.left_out.str.startswith("duplicate")].iloc[0]
    twin = d[d.source_id == kept[one.name]].iloc[0]
    assert (one.tpot_ms, one.ttft_ms) == (twin.tpot_ms, twin.ttft_ms)
    # nor is one measurement modelled twice under two layouts: the database dump's B200 copies that
    # record tp x ep as tp (TP 4 with EP 4 as tp 16) name InferenceMAX's copy, which keeps its layout
    assert not modelled.duplicated(list(import_script("curate_serving").MEASUREMENT_KEY)).any()
    relabelled = d[d.left_out.str.contains("recorded with another layout: its tp 16 is the other's tp x ep")]
    assert len(relabelled) >= 3
    for r in relabelled.head(3).itertuples():
        twin = d[d.source_id == r.left_out.split()[2]].iloc[0]
        assert (twin.tp * twin.ep, twin.tpot_ms, twin.ttft_ms, twin.left_out) == (r.tp, r.tpot_ms, r.ttft_ms, "")
        assert twin.harness.startswith("dated export") and r.harness.startswith("database dump")


def test_one_measurement_under_two_layouts_keeps_the_exports_copy():
    """mark_relabelled by hand on four rows: the database dump's copy of a dated-export run, recorded
    with tp = tp x ep, becomes the export's duplicate and says so; a row already left out, and one
    whose measurement differs in the last digit, are untouched; the same layout twice is not its
    business (mark_repeats')."""
    cs = import_script("curate_serving")
    base = {c: "" for c in (*cs.MEASUREMENT_KEY, *cs.LAYOUT)}
    base.update(system="b200_sxm", backend="sglang", model="deepseek-v3", precision="fp4", mode="agg", isl=1024,
                osl=1024, concurrency=4, ttft_ms=208.4462, tpot_ms=9.00136, left_out="")
    export = {**base, "source_id": "2026_04_06_x_tp4_ep4", "harness": "dated export (2026-04-06)", "tp": 4, "ep": 4}
    dump = {**base, "source_id": "dsr1_x_cfg202", "harness": "database dump (2026-04-27)", "tp": 16, "ep": 4}
    gone = {**dump, "source_id": "dsr1_x_cfg203", "left_out": "repeat of something"}
    other = {**dump, "source_id": "dsr1_x_cfg204", "tpot_ms": 9.00137}
    same = {**export, "source_id": "2026_04_06_y_tp4_ep4", "moe_tp": ""}  # the kept layout again
    rows = cs.mark_relabelled([dict(r) for r in (dump, export, gone, other, same)])
    by = {r["source_id"]: r["left_out"] for r in rows}
    assert by["2026_04_06_x_tp4_ep4"] == by["dsr1_x_cfg204"] == by["2026_04_06_y_tp4_ep4"] == ""
    assert by["dsr1_x_cfg203"] == "repeat of something"
    assert by["dsr1_x_cfg202"] == ("duplicate of 2026_04_06_x_tp4_ep4 (the same measurement in another data dump, "
                                   "recorded with another layout: its tp 16 is the other's tp x ep (4 x 4))")


def test_tep_workers_sum_experts_with_an_all_reduce():
    """Attention TP 8 with EP 8 (TEP8, one worker): every GPU holds every token after the attention
    all-reduce, so the experts' shares are summed by a second all-reduce per MoE layer; no
    all-to-all. DEP8 (attention DP 8, EP 8) dispatches tokens with the measured all-to-all."""
    from nvlmodel.collectives import engine_allreduce

    m = get_model("deepseek-v3")
    tep = cal.Config("gb200", "deepseek-v3", "fp4", 8, 1, 1024, 1024, backend="trtllm", ep=8)
    one = engine_allreduce("gb200", 8, "trtllm").time(7168 * 2.0)
    assert cal.comm_time(tep, 1) == pytest.approx((2 * 3 + 58 + 58) * one)
    dep = cal.Config("gb200", "deepseek-v3", "fp4", 1, 8, 1024, 1024, backend="trtllm", attention_dp=8, ep=8)
    assert cal.comm_time(dep, 1) == pytest.approx(58 * moe_alltoall("gb200", 8, m, "fp4").time(1.0))


def test_search_memory_check_keeps_the_engines_workspace():
    """DeepSeek-V3 in FP8 over 8 H100s: 671e9 x 1 byte / 8 = 83.9 GB of weights per GPU (85.5 GB
    visible) leave less than the engine's 3 GB workspace, so nothing is offered; on 8 H200s it runs."""
    sla = search.SLA(10.0, 1.0)
    assert search.search("deepseek-r1", 1024, 1024, sla, systems=("h100_sxm",), max_gpus=8).empty
    h200 = search.search("deepseek-r1", 1024, 1024, sla, systems=("h200_sxm",), max_gpus=8)
    assert len(h200) > 0 and set(h200.system) == {"H200 HGX"}
    with pytest.raises(ValueError, match="each system once"):
        search.search("deepseek-r1", 1024, 1024, sla, systems=("gb200", "gb200"))


def test_search_steps_are_the_static_models_own():
    """One step-time function: a search point equals the calibrated model's prediction of the same
    configuration, under the roofline and under measured kernels."""
    for step in cal.STEP_MODELS:
        calib = search.fitted_serving(step)
        out = search.search("qwen3-235b-a22b", 1024, 1024, search.SLA(10.0, 1.0), systems=("h200_sxm",), max_gpus=8,
                            calibrations=calib)
        row = out[(out["mode"] == "agg") & (out.decode_shape == (8, 1, 1)) & (out.batch == 32)].iloc[0]
        c = cal.Config("h200_sxm", "qwen3-235b-a22b", "fp8", 8, 32, 1024, 1024, backend="trtllm")
        parts = cal.components(c, calib["trtllm@serving"])
        assert row.tpot_s == pytest.approx(parts["tpot_s"]) and row.ttft_s == pytest.approx(parts["ttft_s"])
        assert row.step_source == parts["step_source"]
        assert row.step_source.startswith("roofline" if step == "roofline" else "kernels")


def test_extrapolated_flags_points_beyond_every_measured_row():
    # Llama-3.1-70B on B200 was measured up to some batch per rank at 2K context; far beyond it is flagged
    env = cal.serving_envelope("b200_sxm", "llama-3.1-70b")
    top = env[env[:, 1] >= 2048, 0].max()
    assert not cal.beyond_envelope("b200_sxm", "llama-3.1-70b", top, 2048)
    assert cal.beyond_envelope("b200_sxm", "llama-3.1-70b", top * 1.01, 2048)
    assert cal.beyond_envelope("b200_sxm", "llama-3.1-70b", 1, env[:, 1].max() + 1)
    out = search.search("qwen3-32b", 1024, 1024, search.SLA(10.0, 1.0), systems=("gb200",), max_gpus=8)
    gb = cal.serving_envelope("gb200", "qwen3-32b")
    expect = [not ((gb[:, 0] >= b) & (gb[:, 1] >= 2048)).any() for b in out.batch]
    assert list(out.extrapolated) == expect and any(expect) and not all(expect)


def test_prefill_wait_by_hand():
    """One rank at 50 %: M/D/1, rho / (2 mu (1 - rho)) = 0.5 s per 1 s prefill. Two ranks at 90 %:
    0.5 x 0.9^(sqrt(6) - 1) / (2 x 0.1) = 2.146 s, within 1 % of the exact M/M/2 wait halved (Erlang C
    16.2/19 over 0.2 s^-1, / 2 = 2.132 s). Saturated: infinite."""
    w = search.prefill_wait(np.array([1.8, 0.5, 2.0]), np.array([2, 1, 2]), 1.0)
    assert w[0] == pytest.approx(0.5 * 0.9 ** (6 ** 0.5 - 1) / 0.2) and w[1] == pytest.approx(0.5)
    assert w[0] == pytest.approx(16.2 / 19 / 0.2 / 2, rel=0.01) and np.isinf(w[2])


def test_disaggregated_search_points_queue_for_prefill():
    """Every disaggregated point's TTFT includes its pool's wait: it is at least the lone prompt's
    (t_req + prefill + transfer), and points meet the TTFT limit where a pool size lets them."""
    out = search.search("deepseek-r1", 1024, 1024, search.SLA(2.0, 0.05), systems=("gb200",), max_gpus=32)
    d = out[out["mode"] == "disagg"]
    assert len(d) and np.isfinite(d.ttft_s).all()
    assert (d.ttft_s > search.fitted_serving()["trtllm@serving"].t_req).all()


def test_frontier_points_can_be_rechecked_by_simulation():
    """best --simulate: each frontier point's deployment serves its own concurrency in the
    simulation; a point of one TP8 worker at batch 1 is simulated within a few percent of the
    static prediction (nothing queues), and every point says whether it could be simulated."""
    front = search.best("qwen3-32b", 1024, 1024, search.SLA(2.0, 0.05), systems=("gb200",), max_gpus=8)
    one = front[(front["mode"] == "agg") & (front.batch == 1)]
    out = search.simulate_frontier(one, "qwen3-32b", 1024, 1024)
    assert (out.sim_status == "ok").all()
    assert out.sim_tpot_s.iloc[0] == pytest.approx(out.tpot_s.iloc[0], rel=0.05)
    assert out.sim_ttft_s.iloc[0] == pytest.approx(out.ttft_s.iloc[0], rel=0.10)
    # one client: no start-up wave, the steady state is the run's mean; no prefill pool to wait at
    assert out.sim_ttft_steady_s.iloc[0] == pytest.approx(out.sim_ttft_s.iloc[0], rel=0.02)
    assert np.isnan(out.startup_s.iloc[0]) and np.isnan(out.sim_prefill_util.iloc[0])


def test_a_disaggregated_recheck_reports_the_start_and_the_pools_load():
    """A small disaggregated point (H100, Qwen3-32B, one TP1 prefill and one TP1 decode worker)
    loaded by Little's law at 3.96 requests/s: 3.96 x (0.2 s + 128 x 30 ms) = 16 clients. Its
    benchmark mean carries the start (16 first prompts on one rank), so the steady state is lower
    and the wave by hand is positive; the pool runs below capacity, at the sent rate times a
    prompt's service (0 < utilisation < 1)."""
    import pandas as pd

    point = pd.DataFrame([dict(system="H100 HGX", system_key="h100_sxm", precision="fp8", mode="disagg",
                               decode_shape=(1, 1, 1), prefill_shape=(1, 1, 1), batch=16.0, prefill_workers=1,
                               decode_workers=1, gpus=2, ttft_s=0.2, tpot_s=0.03, tok_s_per_gpu=3.96 * 128 / 2)])
    out = search.simulate_frontier(point, "qwen3-32b", 1024, 128).iloc[0]
    assert out.sim_status == "ok" and out.sim_clients == 16
    assert out.startup_s > 0 and out.sim_ttft_steady_s < out.sim_ttft_s
    assert 0 < out.sim_prefill_util < 1


def test_a_frontier_point_is_rechecked_at_the_load_the_search_assumed():
    """Little's law for a disaggregated point: 2,000 tok/s per GPU on 10 GPUs at OSL 1,000 is 20
    requests/s; each is in flight 0.5 s + 1,000 x 20 ms = 20.5 s, so 410 clients (not the 8 x 64
    decode seats); an aggregated point: its batch on every attention rank."""
    from types import SimpleNamespace

    dis = SimpleNamespace(mode="disagg", decode_shape=(1, 8, 8), batch=64.0, tok_s_per_gpu=2000.0, gpus=10,
                          ttft_s=0.5, tpot_s=0.02)
    assert search.frontier_clients(dis, 1000) == 410
    agg = SimpleNamespace(mode="agg", decode_shape=(2, 4, 1), batch=16.0)
    assert search.frontier_clients(agg, 1000) == 64


def test_a_disaggregated_points_ttft_charges_each_prefill_step_its_fixed_cost():
    """The search's prefill pool serves one prompt per attention rank per step, and every step pays
    the engine's fixed cost (as the simulation charges it): service time fill + t_step, in the rate
    and in the M/D/c wait. Recomputed for one disaggregated frontier point."""
    from nvlmodel.calibrate import Config
    from nvlmodel.calibrate.model import kv_transfer_time, step_times

    cal = search.fitted_serving()["trtllm@serving"]
    front = search.best("qwen3-32b", 1024, 1024, search.SLA(2.0, 0.05), systems=("gb200",), max_gpus=16)
    r = front[front["mode"] == "disagg"].iloc[0]
    (ptp, padp, pep), (dtp, dadp, dep) = r.prefill_shape, r.decode_shape
    pcfg = Config("gb200", "qwen3-32b", r.precision, ptp, 1, 1024, 1024, backend="trtllm", attention_dp=padp, ep=pep)
    _, fill, _ = step_times(pcfg, cal, np.array([1.0]))
    service = fill + cal.t_step
    xfer = kv_transfer_time(Config("gb200", "qwen3-32b", r.precision, dtp, 1, 1024, 1024, backend="trtllm",
                                   mode="disagg", attention_dp=dadp, ep=dep, prefill_tp=ptp,
                                   prefill_attention_dp=padp, prefill_ep=pep))
    served = r.tok_s_per_gpu * r.gpus / 1024
    assert served <= search.PREFILL_DERATE * r.prefill_workers * padp / service * (1 + 1e-9)
    wait = search.prefill_wait(served, r.prefill_workers * padp, service)
    assert r.ttft_s == pytest.approx(cal.t_req + service + xfer + wait)


def test_no_modelled_row_beats_the_hardware_bound_of_its_batch():
    """Invariant of both curated tables: every row the model uses decodes no faster than its
    recorded batch can on the datasheet GPU (calibrate.tpot_bound); the rows that would are left
    out with that reason, and there are some (the check is not vacuous)."""
    from nvlmodel.calibrate.data import _config as config_of

    for table in cal.TABLES:
        d = cal.load_measurements(table=table)
        used = d[d.left_out.fillna("") == ""]
        bound = np.array([cal.tpot_bound(config_of(r)) for r in used.itertuples()])
        assert (used.tpot_ms.to_numpy() / 1e3 >= bound).all()
    serving = cal.load_measurements(table="serving")
    assert (serving.left_out == cal.BELOW_BOUND).sum() >= 10


def test_the_best_deployment_of_each_restriction_respects_it():
    """search.best_by_variant: each row meets the SLA and the interactivity; a restriction's rows
    keep to it (aggregated only; every worker within 8 GPUs); a wider restriction never does worse
    on a system; what_buys is their tokens/s per GPU, one column per restriction."""
    sla = search.SLA(2.0, 0.05)
    pts = search.best_by_variant("deepseek-v3", 1024, 1024, sla, 50.0, systems=("b200_sxm", "gb200"))
    assert (pts.ttft_s <= 2.0).all() and (pts.tpot_s <= 0.05).all() and (pts.tok_s_per_user >= 50.0).all()
    small = pts.decode_shape.map(lambda s: s[0] * s[1] <= 8) & pts.prefill_shape.map(lambda s: s is None or s[0] * s[1] <= 8)
    assert (pts[pts.variant.str.startswith("aggregated")]["mode"] == "agg").all()
    assert small[pts.variant.str.endswith("EP <= 8")].all()
    t = search.variant_table(pts)
    assert list(t.columns) == list(search.VARIANTS) and list(t.index) == ["B200 HGX", "GB200 NVL72"]
    for narrow, wide in (("aggregated, EP <= 8", "aggregated, any EP"), ("aggregated, EP <= 8",
                         "disaggregated allowed, EP <= 8"), ("disaggregated allowed, EP <= 8", "everything"),
                         ("aggregated, any EP", "everything")):
        assert (t[wide] >= t[narrow]).all()
    assert t.equals(search.what_buys("deepseek-v3", 1024, 1024, sla, 50.0, systems=("b200_sxm", "gb200")))
    with pytest.raises(KeyError, match="best_by_variant"):
        search.variant_table(pts.drop(columns="variant"))
