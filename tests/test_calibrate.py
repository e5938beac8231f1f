"""nvlmodel.calibrate: one prediction by hand, the fit's determinism and recovery, and the rule
that no held-out (B200) row reaches the fit."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import import_script
from nvlmodel import calibrate as cal
from nvlmodel.calibrate.data import _config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "aiconfigurator" / "silicon_sample.csv"


# ---------------------------------------------------------------------------------------------
# One configuration by hand
# ---------------------------------------------------------------------------------------------

def _measured(table: str, system: str, gpus: int, nbytes: int, kernel: str | None = None) -> float:
    """One measured all-reduce latency (s) read straight from a curated table."""
    d = pd.read_csv(ROOT / "nvlmodel" / "data" / table)
    d = d[(d.system == system) & (d.num_gpus == gpus) & (d.bytes == nbytes)]
    if kernel is not None:
        d = d[d.kernel == kernel]
    assert len(d) == 1
    return float(d.latency_ms.iloc[0]) / 1e3


def test_prediction_matches_hand_calculation():
    # Llama-3.1-70B, FP8 weights, TP4 on H100 SXM under vLLM, 16 requests of 1,024 in / 1,024 out.
    c = cal.Calibration(bandwidth=0.8, compute=0.5, t_step=0.003, t_req=0.05, q=0.1)
    cfg = cal.Config("h100_sxm", "llama-3.1-70b", "fp8", tp=4, concurrency=16, isl=1024, osl=1024)
    assert (cfg.backend, cfg.kv_dtype) == ("vllm", "bf16")  # the defaults
    # Matmul parameters: 80 layers x (q 8192^2 + kv 2x8192x1024 + o 8192^2 + mlp 3x8192x28672 + norms
    # 2x8192) + final norm 8192 + LM head 128256x8192 (the embedding table is a lookup).
    layer = 8192 * 8192 + 2 * 8192 * 1024 + 8192 * 8192 + 3 * 8192 * 28672 + 2 * 8192
    matmul = 80 * layer + 8192 + 128256 * 8192
    assert matmul == 69_503_033_344
    weights = matmul * 1.0 / 4  # FP8: one byte, a quarter per GPU
    kv_token = 2 * 80 * 8 * 128 * 2  # K and V, 80 layers, 8 KV heads of 128, BF16
    bw = 3.35e12 * 0.8  # H100 SXM HBM3 at the efficiency
    fp8, bf16 = 1979e12 * 0.5, 989.5e12 * 0.5  # GEMMs at dense FP8; attention at dense BF16 (BF16 KV)
    # TP all-reduce, 2 per layer of the hidden state (8,192 x 2 bytes per token): vLLM's custom kernel
    # (CUDA graph) for 16 tokens = 262,144 B; above its 8 MiB buffer, NCCL: 1,024 tokens = 16 MiB.
    ar_decode = 2 * 80 * _measured("engine_allreduce.csv", "h100_sxm", 4, 16 * 8192 * 2, "vllm_graph")
    ar_prefill = 2 * 80 * _measured("nccl_allreduce.csv", "h100_sxm", 4, 1024 * 8192 * 2)

    # Decode step: 16 sequences at mean context 1024 + 512.
    ctx = 1024 + 512
    t_mem = (weights + 16 * ctx * kv_token / 4) / bw
    t_cmp = 16 * 2 * matmul / 4 / fp8 + 16 * 4 * 80 * 64 * 128 * ctx / 4 / bf16
    decode = max(t_mem, t_cmp) + ar_decode + 0.003
    # Prefill of one 1,024-token prompt (causal attention: 1024 x 1023 / 2 pairs), KV written once.
    p_mem = (weights + 1024 * kv_token / 4) / bw
    p_cmp = 1024 * 2 * matmul / 4 / fp8 + 4 * 80 * 64 * 128 * 1024 * 1023 / 2 / 4 / bf16
    prefill = max(p_mem, p_cmp) + ar_prefill
    tpot = decode + 15 / 1024 * prefill
    ttft = 0.05 + prefill * (1 + 0.1 * 15)

    got = cal.predict(cfg, c)
    assert got["tpot_s"] == pytest.approx(tpot, rel=1e-12)
    assert got["ttft_s"] == pytest.approx(ttft, rel=1e-12)
    assert tpot == pytest.approx(0.01214, abs=5e-5)  # the numbers, for the reader: 12.1 ms
    assert ttft == pytest.approx(0.1814, abs=5e-4)  # and 181 ms


def test_tpot_bound_by_hand():
    # 70B FP8 on one H100, one sequence at its mean context 1,024 + 512: the weights but the
    # embedding table (read by row, not whole) and 1,536 tokens of BF16 KV, once, at 3.35 TB/s.
    c = cal.Config("h100_sxm", "llama-3.1-70b", "fp8", 1, 1, 1024, 1024)
    weights = 70_553_706_496 - 128_256 * 8_192
    assert cal.tpot_bound(c) == pytest.approx((weights + 1536 * 327_680) / 3.35e12, rel=1e-12)  # 20.9 ms
    # Twice the batch over two workers is the same step; over one worker it reads twice the KV.
    two = cal.Config("h100_sxm", "llama-3.1-70b", "fp8", 1, 2, 1024, 1024, workers=2)
    assert cal.tpot_bound(two) == cal.tpot_bound(c)
    assert cal.tpot_bound(cal.Config("h100_sxm", "llama-3.1-70b", "fp8", 1, 2, 1024, 1024)) == pytest.approx(
        (weights + 2 * 1536 * 327_680) / 3.35e12, rel=1e-12)


def test_rows_faster_than_the_hardware_bound_are_left_out(tmp_path):
    # A row whose TPOT beats the bound of its recorded batch was not measured at that batch: it is
    # left out with the reason, not fitted; the same row a little slower is kept.
    row = dict(system="h100_sxm", backend="vllm", campaign="x", model="llama-3.1-70b", precision="fp8", isl=1024,
               osl=1024, concurrency=1, tp=1, ttft_ms=100.0)
    p = tmp_path / "rows.csv"
    pd.DataFrame([dict(row, tpot_ms=20.0), dict(row, tpot_ms=21.0)]).to_csv(p, index=False)
    d = cal.load_measurements(p)
    assert list(d.left_out.str.startswith("TPOT below")) == [True, False]
    assert list(d.kv_fits) == [False, True]


def test_kv_fits_by_hand():
    # 70B FP8 on one H100 (81,559 MiB = 85.52e9 bytes visible), BF16 KV at 327,680 B/token, and the
    # engine's 3 GB of activations, workspaces and CUDA graphs (ENGINE_WORKSPACE_BYTES).
    base = dict(system="h100_sxm", model="llama-3.1-70b", precision="fp8", tp=1, isl=1024, osl=1024)
    visible, weights, ws = 81_559 * 2**20, 70_553_706_496, 3e9  # derived params x 1 byte
    assert cal.ENGINE_WORKSPACE_BYTES == ws
    # vLLM: 0.9 x 85.52 GB - 70.55 GB - 3 GB = 3.42 GB: 10,421 tokens, 5 sequences of 2,048 fit, 6 do not.
    assert int((0.9 * visible - weights - ws) / 327_680) == 10_421
    assert cal.kv_fits(cal.Config(concurrency=5, **base))
    assert not cal.kv_fits(cal.Config(concurrency=6, **base))
    # TensorRT-LLM: 0.9 x (85.52 GB - 70.55 GB - 3 GB) = 10.77 GB; an FP8 checkpoint keeps an FP8
    # cache there (163,840 B/token): 65,737 tokens, 32 fit, 33 do not; with BF16 KV asked for, 16.
    assert int(0.9 * (visible - weights - ws) / 163_840) == 65_737
    assert cal.Config(concurrency=1, backend="trtllm", **base).kv_dtype == "fp8"
    assert cal.kv_fits(cal.Config(concurrency=32, backend="trtllm", **base))
    assert not cal.kv_fits(cal.Config(concurrency=33, backend="trtllm", **base))
    assert int(0.9 * (visible - weights - ws) / 327_680) == 32_868
    assert cal.kv_fits(cal.Config(concurrency=16, backend="trtllm", kv_dtype="bf16", **base))
    assert not cal.kv_fits(cal.Config(concurrency=17, backend="trtllm", kv_dtype="bf16", **base))
    # An FP8 KV cache halves the bytes per token: 20,843 tokens under vLLM's rule, 10 sequences.
    assert cal.kv_fits(cal.Config(concurrency=10, kv_dtype="fp8", **base))
    assert not cal.kv_fits(cal.Config(concurrency=11, kv_dtype="fp8", **base))
    # A lower memory fraction is a field too: at 0.88, 1.70 GB, 2 sequences.
    assert cal.kv_fits(cal.Config(concurrency=2, memory_fraction=0.88, **base))
    assert not cal.kv_fits(cal.Config(concurrency=3, memory_fraction=0.88, **base))
    # Weights and workspace beyond the budget: nothing fits, and the capacity says so.
    assert cal.kv_capacity_of(cal.Config(concurrency=1, memory_fraction=0.85, **base)) is None


def test_kv_dtype_column_reaches_the_config():
    d = cal.load_measurements()
    row = d.iloc[[0]].copy()
    row["kv_dtype"] = "fp8"
    assert _config(next(row.itertuples())).kv_dtype == "fp8"
    r0 = d.iloc[0]
    assert _config(next(d.iloc[[0]].itertuples())).kv_dtype == cal.ENGINE_MEMORY[r0.backend].default_kv_dtype(
        r0.precision, r0.model)


def test_a_batch_waiting_engine_holds_a_prompt_for_decode_steps_by_hand():
    """TensorRT-LLM's batch waiting in the static model: 4 clients of 1K/1K on one rank, held up to
    20 steps; prompts arrive at 4 / 1,024 per step, so a wait that opens holds its first prompt 20
    steps and the 20 x 4 / 1,024 = 0.078 that join it 10 on average: (20 + 0.78) / 1.078 = 19.28
    steps. TTFT grows by that many decode steps (with their fixed cost), TPOT not at all; at 128
    clients 2.5 prompts join (12.86 steps); a threshold one prompt fills ends every wait."""
    base = dict(system="b200_sxm", model="llama-3.1-70b", precision="fp4", tp=1, concurrency=4, isl=1024, osl=1024,
                backend="trtllm")
    c = cal.Calibration(bandwidth=0.8, compute=0.6, t_step=0.002, t_req=0.01)
    free = cal.components(cal.Config(**base), c)
    held = cal.components(cal.Config(**base, batch_wait_iters=20, batch_wait_tokens=14745.6), c)
    w = (20 + 20 * 4 / 1024 * 10) / (1 + 20 * 4 / 1024)
    assert w == pytest.approx(19.28, abs=0.01)
    assert held["batch_wait_s"] == pytest.approx(w * free["decode_step_s"], rel=1e-12)
    assert held["ttft_s"] - free["ttft_s"] == pytest.approx(held["batch_wait_s"], rel=1e-12)
    assert held["tpot_s"] == free["tpot_s"] and free["batch_wait_s"] == 0.0
    assert cal.batch_wait_steps(128, 1024, 1024, 20, 14745.6) == pytest.approx((20 + 2.5 * 10) / 3.5)
    # 1,024 clients: 1,024 - k decoding sequences and k prompts of 1,024 tokens reach 14,745.6 at
    # k = 14 (14 x 1,023 + 1,024 = 15,346; 13 give 14,323), which arrive (one a step) 13 steps after
    # the first: it waits 13, the 13 others 6.5 on average, (13 + 13 x 6.5) / 14 = 6.96
    assert cal.batch_wait_steps(1024, 1024, 1024, 20, 14745.6) == pytest.approx((13 + 13 * 6.5) / 14, rel=1e-12)
    assert cal.batch_wait_steps(64, 1024, 1024, 20, 900.0) == 0.0  # one prompt and the sequences fill it
    assert cal.batch_wait_steps(1, 1024, 1024, 20) == 0.0  # nothing else decodes: no wait
    with pytest.raises(ValueError, match="batch_wait_iters"):
        cal.Config(**base, batch_wait_iters=-1)
    with pytest.raises(ValueError, match="batch_wait_tokens"):
        cal.Config(**base, batch_wait_iters=20, batch_wait_tokens=-5.0)


def test_a_receive_interval_holds_a_request_half_its_cycle_by_hand():
    """SGLang's receive interval in the static model: polls every 30 decode steps while 64
    sequences decode, so a request arriving at a random point waits 15 decode steps (with their
    fixed cost) on average; TPOT does not change, a lone sequence never waits, and the SGLang
    DeepSeek-R1 rows of B200 carry their scripts' interval (30 from 16 clients, else 10)."""
    base = dict(system="b200_sxm", model="deepseek-v3", precision="fp4", tp=8, ep=8, concurrency=64, isl=1024,
                osl=1024, backend="sglang")
    c = cal.Calibration(bandwidth=0.8, compute=0.6, t_step=0.002, t_req=0.01)
    free = cal.components(cal.Config(**base), c)
    held = cal.components(cal.Config(**base, recv_interval=30), c)
    assert held["batch_wait_s"] == pytest.approx(15 * free["decode_step_s"], rel=1e-12)
    assert held["ttft_s"] - free["ttft_s"] == pytest.approx(held["batch_wait_s"], rel=1e-12)
    assert held["tpot_s"] == free["tpot_s"]
    assert cal.components(cal.Config(**{**base, "concurrency": 1}, recv_interval=30), c)["batch_wait_s"] == 0.0
    with pytest.raises(ValueError, match="recv_interval"):
        cal.Config(**base, recv_interval=-3)
    d = cal.load_measurements(table="serving")
    rows = d[d.recv_interval.notna()]
    assert set(zip(rows.system, rows.backend, rows.model, rows["mode"])) == {("b200_sxm", "sglang", "deepseek-v3", "agg")}
    tp8 = rows[rows.tp == 8]
    assert (tp8.recv_interval == np.where(tp8.concurrency >= 16, 30, 10)).all()


def test_a_readers_rows_name_a_bad_engine_setting_instead_of_losing_it(tmp_path):
    """A reader's CSV whose receive interval or batch wait is not a whole number of steps, or whose
    MoE kernel is none the package knows, has those rows left out with the reason, not truncated or
    dropped."""
    head = "system,backend,campaign,model,precision,isl,osl,concurrency,tp,ttft_ms,tpot_ms,recv_interval,moe_kernel\n"
    row = "b200_sxm,sglang,x,deepseek-v3,fp4,1024,1024,64,8,500,20,"
    path = tmp_path / "rows.csv"
    path.write_text(head + row + "2.5,\n" + row + "30,bogus\n" + row + "30,flashinfer_trtllm\n")
    d = cal.load_measurements(str(path))
    assert d.left_out.iloc[0] == "recv_interval must be a whole number of decode steps >= 0, got 2.5"
    # TensorRT-LLM's batch wait likewise (it had been truncated too)
    waits = tmp_path / "waits.csv"
    waits.write_text("system,backend,campaign,model,precision,isl,osl,concurrency,tp,ttft_ms,tpot_ms,batch_wait_iters\n"
                     "b200_sxm,trtllm,x,llama-3.1-70b,fp4,1024,1024,4,1,50,5,2.5\n")
    assert cal.load_measurements(str(waits)).left_out.iloc[0] == (
        "batch_wait_iters must be a whole number of decode steps >= 0, got 2.5")
    assert d.left_out.iloc[1].startswith("unknown moe_kernel 'bogus'; valid choices: flashinfer_mxfp4_mxfp8")
    # and the tokens drafted per step of speculative decoding
    spec = tmp_path / "spec.csv"
    spec.write_text(head.replace("moe_kernel", "spec_tokens") + row + "30,1.5\n" + row + "30,12\n" + row + "30,2\n")
    d = cal.load_measurements(str(spec))
    assert d.left_out.iloc[0] == "spec_tokens must be a whole number of drafted tokens >= 0, got 1.5"
    assert d.left_out.iloc[1].startswith("spec_tokens must be a whole number of drafted tokens from 0")
    assert d.left_out.iloc[2] == ""
    assert d.left_out.iloc[2] == ""


def test_inferencemax_llama_rows_carry_their_scripts_engine_settings():
    """The dated exports' Llama-70B rows carry what InferenceMAX's scripts set: an FP8 KV cache in
    both engines, 16,384 (TensorRT-LLM) or 8,192 (vLLM) tokens per step, and TensorRT-LLM's batch
    wait of 20 steps or 14,745.6 tokens exactly at 1K/1K below TP8; the configuration reads them."""
    d = cal.load_measurements()
    ifx = d.harness.str.startswith("dated export") & (d.model == "llama-3.1-70b")
    assert (d.kv_dtype.notna() == ifx).all() and (d.kv_dtype[ifx] == "fp8").all()
    assert set(d.max_num_tokens[ifx & (d.backend == "trtllm")]) == {16384}
    assert set(d.max_num_tokens[ifx & (d.backend == "vllm")]) == {8192}
    waits = ifx & (d.backend == "trtllm") & (d.isl == 1024) & (d.osl == 1024) & (d.tp < 8)
    assert (d.batch_wait_iters.notna() == waits).all() and set(d.batch_wait_iters[waits]) == {20}
    assert set(d.batch_wait_tokens[waits]) == {14745.6} and waits.sum() == 54  # 36 on B200, 18 on H200
    cfg = _config(next(d[waits].itertuples()))
    assert (cfg.batch_wait_iters, cfg.batch_wait_tokens, cfg.kv_dtype) == (20, 14745.6, "fp8")
    assert _config(next(d[~waits].itertuples())).batch_wait_iters == 0


def test_engine_kv_dtype_defaults_by_checkpoint():
    """TensorRT-LLM keeps an FP8 cache for FP8 and NVFP4 checkpoints (not for BF16 or gpt-oss's
    MXFP4 ones); vLLM and SGLang the model's dtype, BF16."""
    trt = cal.ENGINE_MEMORY["trtllm"]
    assert [trt.default_kv_dtype(p, "llama-3.1-70b") for p in ("bf16", "fp8", "fp4")] == ["bf16", "fp8", "fp8"]
    assert trt.default_kv_dtype("fp4", "gpt-oss-120b") == "bf16"
    for engine in ("vllm", "sglang"):
        assert {cal.ENGINE_MEMORY[engine].default_kv_dtype(p, "deepseek-v3") for p in ("bf16", "fp8", "fp4")} == {"bf16"}


def test_invalid_inputs_name_the_choices():
    with pytest.raises(ValueError, match="h100_sxm"):
        cal.Config("a100", "llama-3.1-70b", "fp8", 1, 1, 1, 1)
    with pytest.raises(ValueError, match="bf16"):
        cal.Config("h100_sxm", "llama-3.1-70b", "int3", 1, 1, 1, 1)
    with pytest.raises(ValueError, match="at most 2 of them"):  # TP 16 spans two HGX nodes; 32 spans four
        cal.Config("h100_sxm", "llama-3.1-70b", "fp8", 32, 1, 1, 1)
    with pytest.raises(ValueError, match="trtllm"):
        cal.Config("h100_sxm", "llama-3.1-70b", "fp8", 1, 1, 1, 1, backend="tgi")
    with pytest.raises(ValueError, match="fp8"):
        cal.Config("h100_sxm", "llama-3.1-70b", "fp8", 1, 1, 1, 1, kv_dtype="int4")
    with pytest.raises(ValueError, match="memory_fraction"):
        cal.Config("h100_sxm", "llama-3.1-70b", "fp8", 1, 1, 1, 1, memory_fraction=1.5)
    with pytest.raises(ValueError, match="<= 1"):
        cal.Calibration(bandwidth=1.2)
    with pytest.raises(ValueError, match="q"):
        cal.Calibration(q=-0.1)
    with pytest.raises(ValueError, match="engine"):
        cal.headline(engine="nope")
    with pytest.raises(ValueError, match="group by"):
        cal.error_summary(cal.predictions(), by=("gpu_colour",))
    with pytest.raises(ValueError, match="serving"):
        cal.fitted(table="moe")


def test_each_curated_table_has_its_own_fit():
    """``fitted(step, table)``: the serving table's engines are fitted on its own H100/H200 rows
    (the search's calibrations), the dense table's on chapter 7's; the two differ."""
    from nvlmodel.search import fitted_serving

    serving = cal.fitted(table="serving")
    assert serving == fitted_serving() and serving == cal.fit_engines(cal.load_measurements(table="serving"))
    assert set(serving) != set(cal.fitted()) or serving != cal.fitted()


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------

def test_measurements_are_the_curated_rows_with_sources():
    d = cal.load_measurements()
    assert len(d) == 685
    assert set(d.system) == {"h100_sxm", "h200_sxm", "b200_sxm"}
    assert set(d.model) == {"llama-3.1-8b", "llama-3.1-70b"}
    assert d.source.str.startswith("ai-dynamo/aiconfigurator@095f58a51").all()
    assert not d.duplicated(["engine", "system", "model", "precision", "tp", "isl", "osl", "concurrency"]).any()
    assert (d.split == np.where(d.system == "b200_sxm", "held-out", "calibration")).all()
    assert (d.precision_note.fillna("").str.contains("inferred") == (d.precision == "bf16")).all()


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data beside the clone")
def test_curation_script_reproduces_the_table(tmp_path):
    rows = import_script("curate_measurements").curate(SHARED)
    with open(ROOT / "nvlmodel" / "data" / "measurements.csv", newline="") as f:
        stored = list(csv.DictReader(f))
    assert [{k: str(v) for k, v in r.items()} for r in rows] == stored


def test_a_recorded_layout_agrees_with_the_one_its_source_id_names():
    """Every modelled aggregated row of the serving table whose source id names its worker
    (``_tp8_ep8_``: 8 GPUs, 8-way experts) has tp x attention_dp = 8 and ep = 8; the 2026-04-06
    dump's rows that recorded ep times as many GPUs are corrected and say what was recorded, and
    those that are the same measurement as a 2026-03-25 row keep one copy. The correction by hand:
    attention_dp 64 and moe_tp 8 over ep = 8."""
    import re

    fix_layout = import_script("curate_serving").fix_layout
    assert fix_layout("x_agg_1024x1024_c128_tp8_ep8_2012", 1, 64, 8, 8)[0] == (1, 8, 1, 8)
    assert fix_layout("x_agg_1024x1024_c128_tp2_ep2_17", 4, 1, 2, 2)[0] == (2, 1, 1, 2)
    # no layout in the id: the same signature (attention_dp = ep x ep, moe_tp = ep) is corrected alike
    assert fix_layout("x_agg_1024x1024_c128_cfg191", 1, 64, 8, 8)[0] == (1, 8, 1, 8)
    assert fix_layout("x_agg_1024x1024_c128_cfg191", 1, 8, 1, 8) == ((1, 8, 1, 8), "")
    d = cal.load_measurements(table="serving")
    agg = d[(d["mode"] == "agg") & (d.left_out.fillna("") == "")]
    named = agg.source_id.str.extract(r"_tp(\d+)(?:_0)?_ep(\d+)(?:_0)?_\d+$").dropna().astype(int)
    rows = agg.loc[named.index]
    moe = rows.model != "qwen3-32b"
    assert ((rows.tp * rows.attention_dp)[moe] == named[0][moe]).all() and (rows.ep[moe] == named[1][moe]).all()
    fixed = d[(d.layout_note.fillna("") != "") & (d["mode"] == "agg")]  # (disaggregated: test_serving)
    assert len(fixed) > 100 and fixed.source_id.str.startswith(("2026_04_06", "dsr1_")).all()
    by_id = fixed.source_id.str.startswith("2026_04_06")
    assert fixed[by_id].layout_note.str.contains("times the").all()
    assert fixed[~by_id].layout_note.str.contains("times an attention-DP worker of").all() and (~by_id).sum() == 11
    # the database dump's corrected rows all repeat a dated export's configuration: none is modelled
    assert (fixed[fixed.source_id.str.startswith("dsr1_")].left_out.fillna("") != "").all()
    twins = fixed[fixed.left_out.fillna("").str.startswith("duplicate of 2026_03_25")]
    assert len(twins) == 57  # 15 of them measurements InferenceMAX ran with MTP (spec_tokens)
    kept = d.set_index("source_id").loc[twins.left_out.str.extract(r"duplicate of (\S+)")[0]]
    assert (kept.ttft_ms.to_numpy() == twins.ttft_ms.to_numpy()).all()
    assert re.fullmatch(r"recorded tp=\d+, attention_dp=\d+, moe_tp=\d+: ep=\d+ times the \d+ GPUs its source id names",
                        fixed.layout_note.iloc[0])


# ---------------------------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------------------------

def test_fit_is_deterministic():
    d = cal.load_measurements()
    assert cal.fit_engines(d) == cal.fit_engines(d) == cal.fitted()


def test_held_out_rows_never_reach_the_fit():
    d = cal.load_measurements()
    base = cal.fit_engines(d)
    scrambled = d.copy()
    held = scrambled.split == "held-out"
    scrambled.loc[held, ["tpot_ms", "ttft_ms"]] *= 3.0  # any leak would move the fit
    assert cal.fit_engines(scrambled) == base
    # ... and the same perturbation of calibration rows does move it (so the test above can fail).
    moved = d.copy()
    moved.loc[moved.engine == "trtllm@2026-04-06", "tpot_ms"] *= 3.0
    assert cal.fit_engines(moved)["trtllm@2026-04-06"] != base["trtllm@2026-04-06"]
    with pytest.raises(ValueError, match="held-out"):
        cal.fit(d[d.engine == "trtllm@2026-04-06"].assign(kv_fits=True))


def test_fit_refuses_rows_whose_kv_does_not_fit_and_tiny_sets():
    d = cal.calibration_rows(cal.load_measurements())
    assert d.kv_fits.all() and set(d.system) <= set(cal.CALIBRATION_SYSTEMS)
    bad = cal.load_measurements()
    bad = bad[(bad.split == "calibration") & ~bad.kv_fits]
    with pytest.raises(ValueError, match="KV"):
        cal.fit(bad)
    with pytest.raises(ValueError, match="at least 5"):
        cal.fit(d.head(3))


def test_fit_recovers_known_parameters_from_model_generated_rows():
    true = cal.Calibration(bandwidth=0.8, compute=0.6, t_step=0.002, t_req=0.04, q=0.1)
    d = cal.calibration_rows(cal.load_measurements())
    d = d[d.engine == "vllm@2026-04-06"].copy()
    pred = [cal.predict(_config(r), true) for r in d.itertuples()]
    d["tpot_ms"] = [p["tpot_s"] * 1e3 for p in pred]
    d["ttft_ms"] = [p["ttft_s"] * 1e3 for p in pred]
    got = cal.fit(d, "roofline")  # rows made by the roofline, fitted by it (the default step is the kernels')
    assert (got.bandwidth, got.compute) == (0.8, 0.6)
    assert got.t_step == pytest.approx(0.002, rel=1e-6)
    assert got.t_req == pytest.approx(0.04, rel=1e-6)
    assert got.q == pytest.approx(0.1, rel=1e-6)


def test_each_moe_layer_costs_t_moe_in_every_forward_pass():
    """A cost per MoE layer: DeepSeek-V3's 58 MoE layers (61 layers, the first 3 dense) add 58 x
    t_moe to its decode step and to its prefill, with the roofline or with measured kernels; a
    dense model's steps do not move."""
    from dataclasses import replace

    from nvlmodel.calibrate import step_times

    for base in (cal.Calibration(0.8, 0.5, t_step=0.002), cal.Calibration(0.8, 0.5, t_step=0.002, step="kernels")):
        moe = replace(base, t_moe=50e-6)
        ds = cal.Config("h200_sxm", "deepseek-v3", "fp8", 8, 16, 1024, 1024, backend="trtllm", ep=8)
        (d0, p0, _), (d1, p1, _) = step_times(ds, base), step_times(ds, moe)
        assert d1 - d0 == pytest.approx(58 * 50e-6, rel=1e-9) and p1 - p0 == pytest.approx(58 * 50e-6, rel=1e-9)
        dense = cal.Config("h200_sxm", "qwen3-32b", "fp8", 2, 16, 1024, 1024, backend="trtllm")
        assert step_times(dense, moe)[:2] == step_times(dense, base)[:2]
        # the decode step's fitted fixed costs, as components reports them: per step, per MoE layer, per call
        calls = cal.kernel_times(ds)["dkn"] if base.step == "kernels" else 0.0
        fixed = cal.components(ds, replace(moe, t_launch=3e-6))["decode_fixed_s"]
        assert fixed == pytest.approx(0.002 + 58 * 50e-6 + 3e-6 * calls, rel=1e-12)
    with pytest.raises(ValueError, match="t_moe"):
        cal.Calibration(t_moe=-1e-6)


def test_fit_recovers_a_cost_per_moe_layer_beside_the_cost_per_step():
    """Rows generated by the model from known parameters, dense (Qwen3-32B) and MoE (DeepSeek-V3,
    Qwen3-235B) under one engine: the fit finds the cost per step and the cost per MoE layer apart."""
    from nvlmodel.calibrate import load_measurements

    true = cal.Calibration(bandwidth=0.8, compute=0.6, t_step=0.001, t_req=0.05, q=0.1, t_moe=60e-6)
    d = cal.calibration_rows(load_measurements(table="serving"))
    d = d[(d.engine == "sglang@serving") & (d.spec_tokens.fillna(0) == 0)].copy()
    assert {"qwen3-32b", "deepseek-v3", "qwen3-235b-a22b"} <= set(d.model)
    pred = [cal.predict(_config(r), true) for r in d.itertuples()]
    d["tpot_ms"] = [p["tpot_s"] * 1e3 for p in pred]
    d["ttft_ms"] = [p["ttft_s"] * 1e3 for p in pred]
    got = cal.fit(d, "roofline")
    assert (got.bandwidth, got.compute) == (0.8, 0.6)
    assert got.t_step == pytest.approx(0.001, rel=1e-6) and got.t_moe == pytest.approx(60e-6, rel=1e-6)
    assert got.t_req == pytest.approx(0.05, rel=1e-6) and got.q == pytest.approx(0.1, rel=1e-6)


def test_nnls_in_three_unknowns_finds_the_constrained_optimum():
    """Planted non-negative costs are found; with one of them negative in the data, the fit holds it
    at zero and solves the others (checked against the unconstrained fit of those two)."""
    from nvlmodel.calibrate.fit import _nnls_relative

    rng = np.random.default_rng(0)
    y = rng.uniform(1, 2, (1, 40))
    c = [np.ones((1, 40)), rng.uniform(0, 1, (1, 40)), rng.uniform(0, 1, (1, 40))]
    got = _nnls_relative(y, 0.3 * c[0] + 0.2 * c[1] + 0.7 * c[2], *c)
    assert [float(x[0]) for x in got] == pytest.approx([0.3, 0.2, 0.7])
    b = 0.3 * c[0] - 0.5 * c[1] + 0.7 * c[2]
    got = _nnls_relative(y, b, *c)
    assert float(got[1][0]) == 0.0
    a = np.column_stack([c[0][0], c[2][0]]) / y[0][:, None]
    expect = np.linalg.lstsq(a, b[0] / y[0], rcond=None)[0]
    assert [float(got[0][0]), float(got[2][0])] == pytest.approx(list(expect))


def test_error_summary_by_hand():
    pred = pd.DataFrame({"split": ["a", "a", "a"], "tpot_err_pct": [10.0, -20.0, 30.0],
                         "ttft_err_pct": [-5.0, -5.0, 50.0]})
    s = cal.error_summary(pred).iloc[0]
    assert s.rows == 3
    assert s.tpot_MdAPE_pct == 20.0 and s.tpot_MAPE_pct == 20.0 and s.tpot_bias_pct == 10.0
    assert s.ttft_MdAPE_pct == 5.0 and s.ttft_MAPE_pct == 20.0 and s.ttft_bias_pct == -5.0


def test_error_summary_by_step_stacks_each_models_rows_whose_kv_fits():
    pred = pd.DataFrame({"split": ["a", "a", "b"], "kv_fits": [True, True, False], "tpot_err_pct": [10.0, -30.0, 99.0],
                         "ttft_err_pct": [1.0, 2.0, 99.0]})
    both = cal.error_summary_by_step({"roofline": pred, "kernels": pred.assign(tpot_err_pct=[4.0, 4.0, 4.0])})
    assert list(both.index) == [("roofline", "a"), ("kernels", "a")]  # split b: its one row does not fit
    assert both.loc[("roofline", "a")].tpot_MdAPE_pct == 20.0 and both.loc[("kernels", "a")].tpot_MdAPE_pct == 4.0
    with pytest.raises(ValueError, match="unknown step 'measured'; valid choices: roofline, kernels"):
        cal.error_summary_by_step({"measured": pred})


def test_headline_uses_smallest_fitting_tp_and_is_consistent():
    h = cal.headline()
    assert list(h.seed_line) == [103, 421, 420]
    # 70B in FP8 fits one H100 (85.5 GB visible) at batch 1 and one 4K prompt; batch 64 needs two.
    # One B200 holds any of them.
    assert list(h.h100_fp8_tp) == [1, 2, 1] and list(h.b200_fp4_tp) == [1, 1, 1]
    assert np.allclose(h.calibrated_ratio, h.b200_fp4_tok_s_per_gpu / h.h100_fp8_tok_s_per_gpu)
    assert (h.calibrated_ratio > 1).all()


def test_cli_runs_offline(capsys):
    """`nvlmodel calibrate` (in process: `python -m nvlmodel` itself is tested in test_cli)."""
    from nvlmodel.cli import main

    assert main(["calibrate"]) == 0
    out = capsys.readouterr().out
    assert "held-out" in out and "trtllm@2026-04-06" in out
    assert main(["calibrate", "--step", "kernels", "--by", "split", "step_source"]) == 0
    out = capsys.readouterr().out
    assert "steps from the kernels" in out and "t_launch_us" in out


def test_own_measurements_round_trip_and_missing_columns(tmp_path):
    d = cal.load_measurements()
    path = tmp_path / "mine.csv"
    d[d.engine == "vllm@2026-04-06"].drop(columns=["engine", "split", "kv_fits"]).to_csv(path, index=False)
    mine = cal.load_measurements(str(path))
    got = cal.predictions(mine)  # fits its own calibration rows: the same engine, the same rows
    want = cal.predictions()
    want = want[want.engine == "vllm@2026-04-06"]
    assert np.allclose(got.tpot_pred_ms.to_numpy(), want.tpot_pred_ms.to_numpy())
    d.drop(columns=["tpot_ms"]).to_csv(path, index=False)
    with pytest.raises(ValueError, match="tpot_ms"):
        cal.load_measurements(str(path))


def test_measured_ratio_by_hand():
    d = cal.load_measurements()
    sel = (d.isl == 1024) & (d.osl == 1024) & (d.concurrency == 4) & (d.engine == "vllm@2026-04-06")
    rate = lambda s, p: float((4 / (d[sel & (d.system == s) & (d.precision == p)].tpot_ms / 1e3)  # noqa: E731
                               / d[sel & (d.system == s) & (d.precision == p)].tp).max())
    assert cal.measured_ratio()[4] == pytest.approx(rate("b200_sxm", "fp4") / rate("h100_sxm", "fp8"))
    with pytest.raises(ValueError, match="no measured rows"):
        cal.measured_ratio(("b200_sxm", "fp4", "sglang@0.5.6.post2"))


def test_headline_uses_the_calibrations_it_is_given():
    slow = {cal.HEADLINE_ENGINE: cal.Calibration(bandwidth=0.5, compute=0.5)}
    assert not cal.headline(calibrations=slow).equals(cal.headline())
    with pytest.raises(ValueError, match="engine"):
        cal.headline(calibrations={"mine@1": cal.Calibration()})


def test_measured_ratio_and_tables_take_their_measurements():
    d = cal.load_measurements()
    base = cal.measured_ratio(measurements=d)
    slower = d.copy()
    b200 = (slower.system == "b200_sxm") & (slower.precision == "fp4") & (slower.engine == "vllm@2026-04-06")
    slower.loc[b200, "tpot_ms"] *= 2  # every B200 FP4 step twice as long: half the rate
    assert cal.measured_ratio(measurements=slower).to_numpy() == pytest.approx(base.to_numpy() / 2)
    assert list(cal.calibration_table(d).engine) == list(cal.calibration_table().engine)


def test_config_resolves_names_once():
    """The model alias and the system become objects when the config is made; everything below
    reads them (no second look-up by name)."""
    from nvlmodel.hardware import get_gpu
    from nvlmodel.models import get_model

    c = cal.Config("gb200", "deepseek-r1", "fp4", 8, 4, 1024, 1024, backend="trtllm", ep=8)
    assert c.model == "deepseek-v3" and c.arch is get_model("deepseek-v3")
    assert c.gpu_spec == get_gpu("gb200-b200") and c.gpu == "gb200-b200"
    assert "arch" not in repr(c) and c == cal.Config("gb200", "deepseek-v3", "fp4", 8, 4, 1024, 1024, backend="trtllm", ep=8)


@pytest.mark.parametrize("column, value, says", [
    ("ttft_ms", -300, "line 3: ttft_ms must be a number of ms"), ("ttft_ms", 1e300, "line 3: ttft_ms"),
    ("tpot_ms", float("nan"), "line 3: tpot_ms"), ("tpot_ms", 0, "line 3: tpot_ms"),
    ("tp", 8.5, "line 3: tp must be a positive integer, got 8.5"), ("concurrency", 0, "line 3: concurrency"),
])
def test_own_measurements_are_checked_row_by_row(tmp_path, column, value, says):
    """A reader's CSV with one impossible value is refused, naming the line and the column, before
    anything is fitted (before, -300 ms or TP 8.5 loaded and moved the fit)."""
    d = cal.load_measurements()[list(cal.REQUIRED_COLUMNS)].head(4).copy()
    d[column] = d[column].astype(float)
    d.loc[d.index[1], column] = value
    path = tmp_path / "mine.csv"
    d.to_csv(path, index=False)
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        cal.load_measurements(str(path))


def test_cli_prints_interval_coverage(capsys):
    from nvlmodel.cli import main

    assert main(["calibrate", "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "split   system metric  nominal  coverage" in out and "gb200" in out


def test_cli_latencies_from_the_simulation(capsys, monkeypatch):
    """calibrate --ttft-from simulation prints static and simulated errors side by side (a few rows
    replayed here, to keep the suite fast; chapter 9 replays them all)."""
    from nvlmodel.cli import main
    from nvlmodel.serve import validate

    from nvlmodel.calibrate.fit import internode, speculative

    full = validate.replay

    def few(d):  # eight calibration rows per engine that its own fit takes (one token a step, within a node)
        d = d[(d.split == "calibration") & d.kv_fits & (d.left_out == "")]
        return d[~speculative(d) & ~internode(d)].groupby("engine").head(8)

    monkeypatch.setattr(validate, "replay", lambda d, **kw: full(few(d), **kw))
    assert main(["calibrate", "--ttft-from", "simulation", "--by", "split", "system"]) == 0
    out = capsys.readouterr().out
    assert "ttft_sim_MdAPE_pct" in out and "ttft_static_MdAPE_pct" in out and "serving table" in out
    # each table with its step of record unless one is asked for
    for table, step in validate.SIM_STEPS.items():
        assert f"{table} table (" in out
        assert out.count(f"simulated steps from the {step})") == list(validate.SIM_STEPS.values()).count(step)
    # how many runs came from the record: none here (these few rows' own fit is no chapter's)
    assert out.count(" 0 of them read from the runs this package recorded") == 2


def test_accuracy_targets_are_stated_once_and_looked_up_by_key():
    from nvlmodel import calibrate

    assert calibrate.accuracy_target("dense", "b200_sxm", "tpot") == 15.0
    assert calibrate.accuracy_target("serving", "gb200", "ttft", "simulation") == 30.0
    with pytest.raises(ValueError, match="no accuracy target"):
        calibrate.accuracy_target("dense", "gb200", "tpot")
    assert len(calibrate.accuracy_targets()) == len(calibrate.ACCURACY_TARGETS)


def test_cli_calibrate_one_table(capsys):
    """--tables picks the measured tables a calibrate run prints (both by default)."""
    from nvlmodel.cli import main

    assert main(["calibrate", "--tables", "dense", "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "dense table" in out and "serving table" not in out
    assert main(["calibrate", "--tables", "serving"]) == 0
    out = capsys.readouterr().out
    assert "serving table" in out and "B200 FP4 over H100 FP8" not in out


def test_an_engine_id_is_parsed_in_one_place():
    from nvlmodel.calibrate.model import engine_backend

    assert engine_backend("trtllm@serving") == "trtllm" and engine_backend("vllm@2026-04-06") == "vllm"
    for bad in ("trtllm", "trtllm@", "tensorrt@serving"):
        with pytest.raises(ValueError, match="engine"):
            engine_backend(bad)


def test_cli_prints_what_one_measurement_buys(capsys):
    """calibrate --anchored prints, per table and Hopper GPU, the errors before and after the move
    (the dense table's, from calibrate.intervals.anchored_summary) and the bands; asked with
    --coverage as well, it refuses in one line, exit 2."""
    from nvlmodel.calibrate.intervals import anchored_residuals, anchored_summary
    from nvlmodel.cli import main

    assert main(["calibrate", "--tables", "dense", "--anchored"]) == 0
    out = capsys.readouterr().out
    assert "tpot_before  tpot_after" in out and "tpot band: before x" in out and "serving table" not in out
    s = anchored_summary(anchored_residuals(cal.load_measurements())).round(1)
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("h200_sxm"))
    assert float(row[3]) == pytest.approx(s.loc["h200_sxm", "tpot_after"])
    assert main(["calibrate", "--anchored", "--coverage"]) == 2
    assert "two reports" in capsys.readouterr().err
    # --by groups this report too (before, it was dropped without a word)
    assert main(["calibrate", "--tables", "dense", "--anchored", "--by", "model", "engine"]) == 0
    out = capsys.readouterr().out
    assert "model          engine  rows  tpot_before" in out and "h200_sxm" not in out
    by = anchored_summary(anchored_residuals(cal.load_measurements()), ("model", "engine"))
    row = next(line.split() for line in out.splitlines() if line.startswith("llama-3.1-70b"))
    assert int(row[2]) == by.rows.iloc[0] == s.rows.sum()


def test_cli_prints_both_predictors_coverage(capsys, monkeypatch):
    """calibrate --coverage --ttft-from simulation prints the static and the simulated intervals'
    coverage of each metric and marks the book's predictor of record (a few rows replayed here)."""
    from nvlmodel.cli import main
    from nvlmodel.serve import validate

    full, full_w = validate.replay, validate.sim_transfer_widening
    few = lambda d: d[d.left_out == ""].groupby(["engine", "system"]).head(8)  # noqa: E731
    monkeypatch.setattr(validate, "replay", lambda d, **kw: full(few(d), **kw))
    monkeypatch.setattr(validate, "sim_transfer_widening", lambda d, step, **kw: full_w(few(d), step, **kw))
    assert main(["calibrate", "--tables", "dense", "--coverage", "--ttft-from", "simulation", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "predictor of_record  nominal  coverage" in out and "the simulation's widening: tpot" in out
    lines = [line.split() for line in out.splitlines() if "b200_sxm" in line]
    assert {(w[2], w[3], "yes" in w) for w in lines} == {("tpot", "static", True), ("tpot", "simulation", False),
                                                        ("ttft", "static", False), ("ttft", "simulation", True)}


def test_decode_seats_cap_the_batch_a_rank_decodes():
    """A disaggregated DEP32 decode worker with 16 seats a rank (InferenceMAX's
    ctx1_gen1_dep32_batch16) under 666 clients decodes 16 sequences a rank, not 666 / 32 = 20.8:
    its decode step is the one of 512 clients without a cap; a cap above the load changes nothing."""
    base = dict(system="gb200", model="deepseek-v3", precision="fp4", tp=1, isl=1024, osl=1024, backend="trtllm",
                mode="disagg", attention_dp=32, ep=32, prefill_tp=1, prefill_attention_dp=4, prefill_ep=4)
    capped = cal.Config(concurrency=666, max_batch=16, **base)
    assert capped.batch_per_rank == 16
    assert cal.Config(concurrency=666, **base).batch_per_rank == pytest.approx(666 / 32)
    c = cal.Calibration(bandwidth=0.8, compute=0.6, t_step=0.004, t_req=0.1, q=0.5)
    seated = cal.components(cal.Config(concurrency=512, **base), c)
    assert cal.components(capped, c)["decode_step_s"] == pytest.approx(seated["decode_step_s"])
    assert cal.Config(concurrency=512, max_batch=64, **base).batch_per_rank == 16
    with pytest.raises(ValueError, match="max_batch"):
        cal.Config(concurrency=666, max_batch=0, **base)


@pytest.mark.parametrize("table", cal.TABLES)
def test_recorded_fits_are_the_fits_bit_for_bit(table):
    """Each chapter reads the engines' calibrations of the packaged tables (and its intervals'
    leave-one-out fits) from the record (nvlmodel.recorded) instead of fitting them again: every
    engine's fit under both step models is recorded, keyed by the calibration rows' content,
    fitted() gives it, and a fit afresh (of each step's smallest engine, for time) gives the same
    numbers to the last bit."""
    from nvlmodel import recorded
    from nvlmodel.calibrate.data import _measurements
    from nvlmodel.calibrate.fit import _NUMBERS, fit_acceptance, fit_key, speculative

    from nvlmodel.calibrate.fit import fit_internode, internode

    rows = cal.calibration_rows(_measurements(table))
    spec, xnode = speculative(rows), internode(rows)
    for step in cal.STEP_MODELS:
        got = cal.fitted(step, table)
        assert sorted(got) == sorted(set(rows.engine))
        for e, c in got.items():
            assert recorded.lookup(fit_key(rows, step, e)) == tuple(
                getattr(c, k) for k in _NUMBERS), f"{table} {step} {e}: not recorded under this package"
        one = rows[~spec & ~xnode]
        smallest = one.engine.value_counts().sort_index().idxmin()
        fresh = cal.fit(one[one.engine == smallest], step)
        if (xnode & ~spec).any():  # the costs between nodes every engine shares, fitted on the rows that cross
            t_xnode, t_xar = fit_internode(rows[xnode & ~spec], got)
            fresh = replace(fresh, t_xnode=t_xnode, t_xar=t_xar)
        if spec.any():  # the acceptance every engine shares, fitted on the speculative rows
            fresh = replace(fresh, acceptance=fit_acceptance(rows[spec], got))
        assert fresh == got[smallest]


# ---------------------------------------------------------------------------------------------
# Speculative decoding (MTP)

def test_a_speculative_step_verifies_k_plus_1_tokens_and_drafts_k_by_hand():
    """A decode step drafting k tokens: the weights and the GEMMs and attention queries of b(k+1)
    tokens per rank (each sequence's KV read once), plus k draft passes of one layer's share of an
    ordinary step of b; a sequence emits (1 - a^(k+1)) / (1 - a) tokens per step."""
    from nvlmodel.calibrate.model import _decode_roofline, _decode_terms

    base = dict(system="h200_sxm", model="deepseek-v3", precision="fp8", tp=1, attention_dp=8, ep=8, concurrency=128,
                isl=1024, osl=1024, backend="trtllm", mode="disagg", workers=2)
    c0, c3 = cal.Config(**base), cal.Config(**base, spec_tokens=3)
    b = c0.batch_per_rank
    assert b == 8
    one, four = _decode_roofline(c0, b), _decode_roofline(c0, 4 * b)
    bw = c0.gpu_spec.hbm_bandwidth
    t = _decode_terms(c3, b)
    share = 3 / 61  # DeepSeek-V3's 61 layers; its MTP module is one more
    assert t["dkv"] == pytest.approx(one.kv_bytes / bw * (1 + share))
    assert t["dm"] == pytest.approx(four.t_memory - four.kv_bytes / bw + one.kv_bytes / bw + share * one.t_memory)
    assert t["dc"] == pytest.approx(four.t_compute + share * one.t_compute)
    assert _decode_terms(c0, b)["dm"] == pytest.approx(one.t_memory)
    calib = cal.Calibration(bandwidth=0.8, compute=0.6, t_step=0.002, acceptance=0.6, t_moe=50e-6)
    p0, p3 = cal.components(c0, calib), cal.components(c3, calib)
    # the cost per MoE layer: DeepSeek-V3's 58, and the draft module's once per draft
    assert p0["decode_fixed_s"] == pytest.approx(0.002 + 50e-6 * 58)
    assert p3["decode_fixed_s"] == pytest.approx(0.002 + 50e-6 * (58 + 3))
    assert p3["accepted_tokens"] == pytest.approx(1 + 0.6 + 0.36 + 0.216) and p0["accepted_tokens"] == 1.0
    assert p3["tpot_s"] == pytest.approx(p3["decode_step_s"] / 2.176)
    assert p3["decode_step_s"] > p0["decode_step_s"]  # more work per step, fewer steps per token
    assert cal.tpot_bound(c3) == pytest.approx(cal.tpot_bound(c0) / 4)  # at most k + 1 tokens a step
    with pytest.raises(ValueError, match="spec_tokens"):
        cal.Config(**base, spec_tokens=-1)
    with pytest.raises(ValueError, match="acceptance"):
        cal.Calibration(acceptance=1.0)


def test_the_acceptance_is_fitted_on_speculative_calibration_rows_only():
    """The efficiencies are fitted on rows that decode one token per step (fit refuses the others);
    the acceptance all engines share is then fitted on the speculative calibration rows, and from
    rows the model generated at a known acceptance it is found again."""
    from nvlmodel.calibrate import load_measurements
    from nvlmodel.calibrate.fit import acceptance_interval, fit_acceptance, speculative

    d = cal.calibration_rows(load_measurements(table="serving"))
    spec = d[speculative(d)].copy()
    assert len(spec) >= 10 and set(spec.system) <= {"h100_sxm", "h200_sxm"}
    with pytest.raises(ValueError, match="decoded speculatively"):
        cal.fit(d[d.engine == "trtllm@serving"])
    fitted = cal.fitted("roofline", "serving")
    assert len({c.acceptance for c in fitted.values()}) == 1 and 0 < fitted["trtllm@serving"].acceptance < 1
    planted = {e: replace(c, acceptance=0.62) for e, c in fitted.items()}
    spec["tpot_ms"] = [cal.predict(_config(r), planted[r.engine])["tpot_s"] * 1e3 for r in spec.itertuples()]
    assert fit_acceptance(spec, fitted) == 0.62
    assert acceptance_interval(spec, fitted, resamples=50) == (0.62, 0.62)  # every draw of exact rows agrees
    with pytest.raises(ValueError, match="level"):
        acceptance_interval(spec, fitted, level=1.5)


def test_an_all_to_all_between_nodes_pays_its_cost_per_moe_layer_by_hand():
    """DeepSeek-V3's 58 MoE layers exchange their tokens between HGX nodes where an attention-DP,
    expert-parallel worker spans more than one 8-GPU node: each forward pass pays t_xnode per MoE
    layer (a speculative step once more per draft, as it pays t_moe), on the side that spans nodes
    alone. Within one NVLink domain (a DEP8 node, a DEP16 GB200 worker) or with attention TP (no
    all-to-all) nothing changes; the simulation's fixed cost per step agrees."""
    from nvlmodel.serve.cost import fixed_step_cost

    calib = cal.Calibration(bandwidth=0.8, compute=0.6, t_step=0.002, t_moe=50e-6, t_xnode=400e-6)
    none = replace(calib, t_xnode=0.0)
    base = dict(model="deepseek-v3", precision="fp8", isl=1024, osl=1024, backend="trtllm", mode="disagg")
    both = cal.Config("h100_sxm", tp=1, attention_dp=16, ep=16, concurrency=256, prefill_tp=1,
                      prefill_attention_dp=16, prefill_ep=16, **base)
    decode_only = replace(both, prefill_attention_dp=8, prefill_ep=8)
    assert both.crosses_domains() and both.crosses_domains(prefill=True) and not decode_only.crosses_domains(True)
    p1, p0 = cal.components(both, calib), cal.components(both, none)
    assert p1["decode_fixed_s"] == pytest.approx(0.002 + 58 * (50e-6 + 400e-6))
    assert p1["decode_step_s"] - p0["decode_step_s"] == pytest.approx(58 * 400e-6)
    assert p1["prefill_s"] - p0["prefill_s"] == pytest.approx(58 * 400e-6)
    q1, q0 = cal.components(decode_only, calib), cal.components(decode_only, none)
    assert q1["prefill_s"] == q0["prefill_s"] and q1["decode_step_s"] - q0["decode_step_s"] == pytest.approx(58 * 400e-6)
    spec = cal.components(replace(both, spec_tokens=2), calib)
    assert spec["decode_fixed_s"] == pytest.approx(0.002 + (58 + 2) * (50e-6 + 400e-6))
    assert fixed_step_cost(both, calib) == pytest.approx(0.002 + 58 * 450e-6)
    assert fixed_step_cost(decode_only, calib, prefill=True) == pytest.approx(0.002 + 58 * 50e-6)
    for inside in (replace(both, attention_dp=8, ep=8, prefill_attention_dp=8, prefill_ep=8),
                   cal.Config("gb200", tp=1, attention_dp=16, ep=16, concurrency=256, prefill_tp=1,
                              prefill_attention_dp=16, prefill_ep=16, **{**base, "precision": "fp4"}),
                   cal.Config("h100_sxm", "deepseek-v3", "fp8", 8, 64, 1024, 1024, backend="trtllm", ep=8)):
        assert not inside.crosses_domains() and not inside.crosses_domains(prefill=True)
        assert cal.components(inside, calib) == cal.components(inside, none)
    with pytest.raises(ValueError, match="t_xnode"):
        cal.Calibration(t_xnode=-1e-6)


def test_the_costs_between_nodes_are_fitted_on_the_rows_that_cross_only():
    """Rows whose workers span HGX nodes (an all-to-all, or a TP group, over two nodes) stay out of
    every engine's own fit (fit refuses them); the two costs between nodes all engines share, per
    MoE layer exchanged and per all-reduce, are then fitted on them (those that decode one token per
    step) together, and from rows the model generated at known costs both are found again."""
    from nvlmodel.calibrate import load_measurements
    from nvlmodel.calibrate.fit import fit_internode, internode, internode_values, speculative

    d = cal.calibration_rows(load_measurements(table="serving"))
    x = d[internode(d) & ~speculative(d)].copy()
    tp16 = (x.tp == 16).to_numpy()  # TEP16 over two nodes (an all-reduce between them) against DEP16 (all-to-all)
    assert tp16.sum() >= 3 and (~tp16).sum() >= 3 and set(x.system) == {"h100_sxm"}
    own = d[(d.engine == "trtllm@serving") & ~internode(d) & ~speculative(d)]
    with pytest.raises(ValueError, match="span NVLink domains"):
        cal.fit(pd.concat([own, x]))
    fitted = cal.fitted("roofline", "serving")
    assert len({(c.t_xnode, c.t_xar) for c in fitted.values()}) == 1
    assert fitted["trtllm@serving"].t_xnode > 0 and fitted["trtllm@serving"].t_xar > 0
    planted = {e: replace(c, t_xnode=300e-6, t_xar=40e-6) for e, c in fitted.items()}
    x["tpot_ms"] = [cal.predict(_config(r), planted[r.engine])["tpot_s"] * 1e3 for r in x.itertuples()]
    assert fit_internode(x, fitted) == pytest.approx((300e-6, 40e-6))
    assert internode_values(x, planted) == pytest.approx(np.where(tp16, 40e-6, 300e-6))
    with pytest.raises(ValueError, match="span nodes"):
        fit_internode(d[~internode(d) & ~speculative(d)].head(3), fitted)


def test_an_all_reduce_between_nodes_pays_its_bytes_and_its_fitted_cost_by_hand():
    """A TEP16 worker of DeepSeek-V3 on two H100 nodes: 122 all-reduces a forward pass span the
    nodes (2 per dense layer, 2 per MoE layer: attention's and the experts'), each NCCL's measured
    8-GPU time inside a node plus half its message through each GPU's 400 Gb/s NIC (two nodes:
    2 x (2 - 1) / 2 of it over 8 NICs), plus t_xar; decode and prefill, static and simulated alike.
    TEP8 inside one node pays neither."""
    from nvlmodel.collectives import allreduce_curve
    from nvlmodel.serve.cost import fixed_step_cost

    calib = cal.Calibration(bandwidth=0.8, compute=0.6, t_step=0.002, t_moe=50e-6, t_xar=60e-6)
    none = replace(calib, t_xar=0.0)
    tep16 = cal.Config("h100_sxm", "deepseek-v3", "fp8", 16, 16, 1024, 1024, backend="trtllm", ep=16)
    assert tep16.allreduces_across_nodes() == 122 == tep16.allreduces_across_nodes(prefill=True)
    msg = 1 * 7168 * 2.0  # one sequence per rank: its hidden state in BF16
    one = allreduce_curve("h100_sxm", 8, "nccl").time(msg) + msg / 8 / 50e9
    assert cal.comm_time(tep16, 1) == pytest.approx(122 * one)
    p1, p0 = cal.components(tep16, calib), cal.components(tep16, none)
    assert p1["decode_step_s"] - p0["decode_step_s"] == pytest.approx(122 * 60e-6)
    assert p1["prefill_s"] - p0["prefill_s"] == pytest.approx(122 * 60e-6)
    assert p1["decode_fixed_s"] == pytest.approx(0.002 + 58 * 50e-6 + 122 * 60e-6)
    assert fixed_step_cost(tep16, calib) == pytest.approx(0.002 + 58 * 50e-6 + 122 * 60e-6)
    tep8 = replace(tep16, tp=8, ep=8)
    assert tep8.allreduces_across_nodes() == 0 and cal.components(tep8, calib) == cal.components(tep8, none)
    with pytest.raises(ValueError, match="t_xar"):
        cal.Calibration(t_xar=-1e-6)


def test_fewer_clients_than_ranks_neither_interfere_nor_queue():
    """Four clients on a worker of eight attention-DP ranks: half a sequence per rank. No rank
    prefills for another sequence of its own, so no prefill interferes with decoding and no
    prompt queues behind another: TPOT is the decode step, TTFT the fixed cost plus one prefill
    (it had been (0.5 - 1) / osl prefills per token and -0.5 prompts of queue: negative)."""
    c = cal.Config("h200_sxm", "deepseek-v3", "fp8", 1, 4, 8192, 1024, backend="trtllm", ep=8, attention_dp=8)
    calib = cal.Calibration(bandwidth=0.8, compute=0.5, t_step=0.003, t_req=0.05, q=0.2)
    assert c.batch_per_rank == 0.5
    p = cal.components(c, calib)
    assert p["interference_s"] == 0
    assert p["tpot_s"] == pytest.approx(p["decode_step_s"], rel=1e-12)
    assert p["ttft_s"] == pytest.approx(0.05 + p["prefill_s"], rel=1e-12)


def test_the_bias_by_load_counts_sequences_per_rank_and_leaves_speculative_rows_out():
    """bias_by_load by hand: 512 clients over 8 ranks of one worker are 64 a rank (the 17-64 bin);
    over 2 workers of 8, 32 a rank; a speculative row and one whose KV does not fit are left out;
    each step's median where two rows share a bin; an unknown step or none is refused."""
    from nvlmodel.calibrate import bias_by_load

    p = pd.DataFrame({"split": "held-out", "kv_fits": [True, True, True, True, False],
                      "spec_tokens": [0, 0, 0, 3, 0], "concurrency": [512, 512, 300, 4, 4],
                      "attention_dp": [8, 8, 1, 1, 1], "workers": [1.0, 2.0, 1.0, None, None],
                      "tpot_err_pct": [-10.0, -20.0, -40.0, 99.0, 99.0]})
    t = bias_by_load({"roofline": p, "kernels": p.assign(tpot_err_pct=p.tpot_err_pct / 10)})
    assert t.index.tolist() == [("held-out", "17-64"), ("held-out", "257 or more")]
    assert t.rows.tolist() == [2, 1]
    assert t.roofline_bias_pct.tolist() == [-15.0, -40.0] and t.kernels_bias_pct.tolist() == [-1.5, -4.0]
    # the dense table's rows have no layout or draft columns: one rank, one worker, no drafts
    dense = p.drop(columns=["spec_tokens", "attention_dp", "workers"])
    t = bias_by_load({"roofline": dense})  # 4 a rank (the row that drafted, now counted); 512, 512 and 300
    assert t.rows.tolist() == [1, 3] and t.roofline_bias_pct.tolist() == [99.0, -20.0]
    with pytest.raises(ValueError, match="roofline"):
        bias_by_load({"rooflines": p})
    with pytest.raises(ValueError, match="at least one"):
        bias_by_load({})


def test_the_static_step_is_the_one_the_rule_picks_on_calibration_tpot():
    """calibrate.STATIC_STEP, the step every calibrated figure stands on, is what the simulation's
    rule (serve.validate.pick_step: a paired bootstrap of calibration rows, a tie to the kernels)
    picks from each table's calibration rows' static TPOT errors; chapter 7 prints the same
    comparison, and this keeps the constant in step with it."""
    from nvlmodel import search
    from nvlmodel.serve.validate import pick_step

    assert cal.STATIC_STEP in cal.STEP_MODELS
    for table in cal.TABLES:
        d = cal.load_measurements(table=table)
        errors = {}
        for step in cal.STEP_MODELS:
            p = cal.predictions(d, cal.fitted(step, table))
            errors[step] = p[p.kv_fits & (p.split == "calibration")].set_index("source_id").tpot_err_pct.abs()
        assert pick_step(pd.DataFrame(errors))[0] == cal.STATIC_STEP, table
    # the defaults follow it: a fit and the search's calibrations
    assert cal.fitted()["trtllm@2026-04-06"].step == cal.STATIC_STEP
    assert search.fitted_serving()[search.ENGINE].step == cal.STATIC_STEP
