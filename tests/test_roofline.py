"""The seed's decode table pinned cell by cell to hand calculations, and the fuller model's laws."""

import math

import pytest

from nvlmodel import roofline as r
from nvlmodel.models import get_model

H100 = {"hbm_bandwidth": 3.35e12, "fp16_tflops": 1979, "fp8_tflops": 3958}  # seed line 82
B200 = {"hbm_bandwidth": 8e12, "fp16_tflops": 4500, "fp8_tflops": 9000, "fp4_tflops": 18000}  # line 83


def test_seed_specs_are_the_documents_dicts():
    assert r.seed_gpu_specs("h100") == H100
    assert r.seed_gpu_specs("b200") == B200


# Every cell of lines 98-102 by hand: bandwidth / (70e9 x bytes), peak / 140e9.
@pytest.mark.parametrize("gpu,quant,bw,comp", [
    ("h100", "FP16", 3.35e12 / 140e9, 1979e12 / 140e9),   # 23.9, 14,136
    ("h100", "FP8", 3.35e12 / 70e9, 3958e12 / 140e9),     # 47.9, 28,271
    ("b200", "FP16", 8e12 / 140e9, 4500e12 / 140e9),      # 57.1, 32,143
    ("b200", "FP8", 8e12 / 70e9, 9000e12 / 140e9),        # 114.3, 64,286
    ("b200", "FP4", 8e12 / 35e9, 18000e12 / 140e9),       # 228.6, 128,571
])
def test_seed_decode_table_cells(gpu, quant, bw, comp):
    t = r.seed_decode_table().set_index(["gpu", "quantization"]).loc[(gpu, quant)]
    assert t["bw_bound_tok_s"] == pytest.approx(bw)
    assert t["compute_bound_tok_s"] == pytest.approx(comp)
    assert t["actual_tok_s"] == pytest.approx(min(bw, comp))
    assert t["bottleneck"] == "Memory"


def test_printed_rounding_of_the_table():
    t = r.seed_decode_table()
    assert [round(v, 1) for v in t["bw_bound_tok_s"]] == [23.9, 47.9, 57.1, 114.3, 228.6]
    assert [round(v) for v in t["compute_bound_tok_s"]] == [14136, 28271, 32143, 64286, 128571]


def test_seed_crossover_is_562():
    assert r.seed_crossover_batch("b200", "FP4") == pytest.approx((18000e12 / 140e9) / (8e12 / 35e9))  # 562.5


def test_int4_uses_fp16_peak_as_the_seed_does():
    out = r.compute_inference_throughput(B200, 70e9, "INT4")
    assert out["compute_bound"] == pytest.approx(4500e12 / 140e9)
    assert out["bandwidth_bound"] == pytest.approx(8e12 / 35e9)


def test_seed_prefill_by_hand():
    out = r.estimate_prefill_throughput(B200, 405e9, "FP4", 4096, 1)
    assert out["prefill_time_ms"] == pytest.approx(4096 * 810e9 / 18000e12 * 1e3)  # 184.32 ms
    assert out["bottleneck"] == "compute"
    tiny = r.estimate_prefill_throughput(H100, 70e9, "FP8", 1, 1)
    assert tiny["bottleneck"] == "memory" and tiny["prefill_time_ms"] == pytest.approx(70e9 / 3.35e12 * 1e3)


def test_decode_step_under_seed_equals_the_seed_function():
    for gpu, quant in r.SEED_DECODE_ROWS:
        s = r.decode_step(gpu, "llama-70b", r.FORMAT_FOR["seed"][quant], premises="seed")
        ref = r.compute_inference_throughput(r.seed_gpu_specs(gpu), 70e9, quant)
        assert s.tokens_per_s == pytest.approx(ref["actual"])


def test_datasheet_decode_by_hand():
    # B200 HGX, Llama 3.1 70B NVFP4, batch 64, context 4096, FP8 KV, TP 1.
    m = 70_553_706_496 - 128256 * 8192
    w = m * 4.5 / 8
    kv = 64 * 4096 * (2 * 80 * 8 * 128)
    gemm, attn = 64 * 2 * m, 64 * 4 * 80 * 64 * 128 * 4096
    # W4A4: weight GEMMs at the dense FP4 peak; attention with an FP8 KV cache at the dense FP8 peak.
    t_cmp = gemm / 9000e12 + attn / 4500e12
    s = r.decode_step("b200", "llama-3.1-70b", "nvfp4", batch=64, context=4096)
    assert s.t_memory == pytest.approx((w + kv) / 8e12)
    assert s.t_compute == pytest.approx(t_cmp)
    assert s.attention_flops == attn and s.flops == gemm + attn
    assert s.time == pytest.approx(max((w + kv) / 8e12, t_cmp))
    assert s.bottleneck == "memory"
    # TP splits weights, KV and FLOPs over the group; the group still emits `batch` tokens per step.
    s8 = r.decode_step("b200", "llama-3.1-70b", "nvfp4", batch=64, context=4096, tp=8)
    assert s8.time == pytest.approx(s.time / 8) and s8.tokens == 64
    # A BF16 KV cache: attention at the BF16 peak; W4A8: the GEMMs at the FP8 peak.
    bf = r.decode_step("b200", "llama-3.1-70b", "nvfp4", batch=64, context=4096, kv_bytes_per_element=2.0)
    assert bf.t_compute == pytest.approx(gemm / 9000e12 + attn / 2250e12)
    a8 = r.decode_step("b200", "llama-3.1-70b", "nvfp4", batch=64, context=4096, fp4_mode="w4a8")
    assert a8.t_compute == pytest.approx(gemm / 4500e12 + attn / 4500e12)
    # FP8 weights ignore fp4_mode: their GEMMs run at FP8 either way.
    f8 = [r.decode_step("b200", "llama-3.1-70b", "fp8", batch=8, fp4_mode=mode).t_compute for mode in r.FP4_MODES]
    assert f8[0] == f8[1]


def test_prefill_attention_at_its_own_dtype():
    # Llama 3.1 405B, one 128K prompt, NVFP4, TP8 on GB200: 126 layers, 128 heads of 128.
    m = get_model("llama-3.1-405b")
    p = 131_072
    gemm = p * 2 * m.matmul_params() / 8
    attn = 4 * 126 * 128 * 128 * (p * (p - 1) / 2) / 8
    bf16 = r.prefill("gb200-b200", m, "nvfp4", prompt=p, tp=8, kv_bytes_per_element=2.0)
    assert bf16.t_compute == pytest.approx(gemm / 10_000e12 + attn / 2_500e12)
    old = (gemm + attn) / 10_000e12  # every FLOP at the FP4 peak, as before this correction
    assert 1.4 < bf16.t_compute / old < 2.3  # the 1.4-2.2x at a 128K prompt


def test_kv_replicated_beyond_kv_heads():
    m = get_model("llama-3.1-405b")  # 8 KV heads
    full = 2 * 126 * 8 * 128 * 1.0
    assert m.kv_bytes_per_token_per_gpu(1.0, 8) == full / 8
    assert m.kv_bytes_per_token_per_gpu(1.0, 16) == full / 8  # one whole head per GPU, not half
    assert m.kv_bytes_per_token_per_gpu(1.0, 72) == full / 8
    d16 = r.decode_step("gb200-b200", m, "nvfp4", batch=32, context=8192, tp=16)
    assert d16.kv_bytes == 32 * 8192 * full / 8
    with pytest.raises(ValueError, match="NVLink domain"):
        r.decode_step("b200", m, "nvfp4", tp=32)  # HGX B200: 8 GPUs per NVLink domain, TP over two nodes at most
    with pytest.raises(ValueError, match="NVLink domain"):
        r.decode_step("gb200-b200", m, "nvfp4", tp=73)
    with pytest.raises(ValueError, match="w4a4"):
        r.decode_step("b200", m, "nvfp4", fp4_mode="w2a2")
    with pytest.raises(ValueError, match="bf16"):
        r.decode_step("b200", m, "nvfp4", attention_dtype="int8")


def test_efficiency_and_overheads_add_up():
    e = r.Efficiency(compute=0.5, bandwidth=0.8, step_overhead_s=1e-3)
    s = r.decode_step("h100", "llama-3.1-8b", "fp8", efficiency=e, comm_s=2e-4)
    base = r.decode_step("h100", "llama-3.1-8b", "fp8")
    assert s.t_memory == pytest.approx(base.t_memory / 0.8)
    assert s.time == pytest.approx(max(base.t_memory / 0.8, base.t_compute / 0.5) + 1e-3 + 2e-4)


def test_crossover_closed_form_matches_the_step_model():
    b = r.crossover_batch("b200", "llama-3.1-70b", "nvfp4", context=64)
    lo = r.decode_step("b200", "llama-3.1-70b", "nvfp4", batch=int(b * 0.99), context=64)
    hi = r.decode_step("b200", "llama-3.1-70b", "nvfp4", batch=int(b * 1.01) + 1, context=64)
    assert lo.bottleneck == "memory" and hi.bottleneck == "compute"
    # At a 4K context each sequence's KV read outweighs its compute: never compute-bound.
    assert math.isinf(r.crossover_batch("b200", "llama-3.1-70b", "nvfp4", context=4096))


def test_weight_memory_table():
    t = r.weight_memory_table().set_index(["model", "format"])
    assert t.loc[("Llama 3.1 405B", "fp4-seed"), "seed_params_gb"] == pytest.approx(202.5)
    assert t.loc[("Llama 3.1 405B", "nvfp4"), "derived_params_gb"] == pytest.approx(405_853_388_800 * 0.5625 / 1e9)


def test_bad_input():
    with pytest.raises(ValueError, match="valid choices: FP16, FP8, FP4, INT4"):
        r.compute_inference_throughput(B200, 70e9, "FP2")
    with pytest.raises(KeyError, match="fp4_tflops"):
        r.compute_inference_throughput(H100, 70e9, "FP4")
    with pytest.raises(ValueError, match="model_params"):
        r.compute_inference_throughput(B200, -1, "FP8")
    with pytest.raises(ValueError, match="batch"):
        r.decode_step("b200", "llama-70b", batch=0)
    with pytest.raises(ValueError, match="tp must be a positive int"):
        r.decode_step("b200", "llama-70b", tp=0)
    with pytest.raises(ValueError, match="no fp4 tensor cores"):
        r.decode_step("h100", "llama-70b", "nvfp4")
    with pytest.raises(ValueError, match="must be <= 1"):
        r.Efficiency(compute=1.5)
    with pytest.raises(ValueError, match="valid choices"):
        r.decode_step("b200", "llama-70b", "fp3")
