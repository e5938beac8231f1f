import pytest

from nvlmodel.runner import BlackwellModelRunner


def test_configure_layer_as_the_seed():
    # The seed's sketch: FP4 weights with FP8 activations (W4A8).
    cfg = BlackwellModelRunner("llama-405b", fp4_mode="w4a8").configure_layer(0)
    assert cfg == {
        "attention": {"q_dtype": "fp8", "k_dtype": "fp8", "v_dtype": "fp8", "accumulator": "fp32", "output": "fp16"},
        "linear": {"weight_dtype": "fp4", "activation_dtype": "fp8", "accumulator": "fp32", "output": "fp16"},
    }


def test_default_is_w4a4_as_the_roofline_assumes():
    # NVFP4 checkpoints run with FP4 activations (W4A4): the FP4 tensor peak the roofline uses.
    assert BlackwellModelRunner("llama-405b").configure_layer(0)["linear"]["activation_dtype"] == "fp4"
    assert BlackwellModelRunner("llama-405b", {"weight_dtype": "fp8"}).activation_dtype == "fp8"
    with pytest.raises(ValueError, match="w4a4, w4a8, w4a16"):
        BlackwellModelRunner("llama-405b", fp4_mode="w2a2")


def test_memory_savings_seed_vs_nvfp4():
    seed = BlackwellModelRunner("llama-405b", fp4_format="fp4-seed").estimate_memory_savings(405e9)
    assert seed == {"fp4_gb": 202.5, "fp8_gb": 405.0, "fp16_gb": 810.0,
                    "savings_fp4_vs_fp8_gb": 202.5, "savings_fp4_vs_fp16_gb": 607.5}
    nv = BlackwellModelRunner("llama-405b").estimate_memory_savings(405e9)
    assert nv["fp4_gb"] == pytest.approx(405 * 4.5 / 8)  # 227.8 GB
    assert nv["savings_fp4_vs_fp8_gb"] == pytest.approx(405 - 405 * 4.5 / 8)
    mx = BlackwellModelRunner("llama-405b", fp4_format="mxfp4")
    assert mx.bytes_per_param() == 4.25 / 8


def test_kv_bytes():
    assert BlackwellModelRunner("llama-405b").kv_bytes_per_token() == 258_048
    assert BlackwellModelRunner("llama-405b", {"kv_dtype": "fp16"}).kv_bytes_per_token() == 2 * 258_048


def test_bad_input():
    with pytest.raises(ValueError, match="valid choices: fp4, fp8, fp16"):
        BlackwellModelRunner("llama-70b", {"weight_dtype": "int2"})
    with pytest.raises(ValueError, match="unknown precision_config keys"):
        BlackwellModelRunner("llama-70b", {"weights": "fp4"})
    with pytest.raises(ValueError, match="layer_idx must be in 0..79"):
        BlackwellModelRunner("llama-70b").configure_layer(80)
    with pytest.raises(ValueError, match="valid choices: fp4-seed, mxfp4, nvfp4"):
        BlackwellModelRunner("llama-70b", fp4_format="fp4")
    with pytest.raises(ValueError, match="model_params"):
        BlackwellModelRunner("llama-70b").estimate_memory_savings(0)
