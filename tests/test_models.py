import pytest

from nvlmodel.models import MODEL_NAMES, get_model


def test_derived_parameter_counts_match_published_totals():
    # embeddings + layers x (q + k + v + o + 3 x MLP + 2 norms) + final norm + LM head, by hand:
    h, L, f, v = 8192, 80, 28672, 128256
    layer = h * 64 * 128 + 2 * h * 8 * 128 + 64 * 128 * h + 3 * h * f + 2 * h
    assert get_model("llama-3.1-70b").derived_params == v * h + L * layer + h + v * h == 70_553_706_496
    assert get_model("llama-3.1-8b").derived_params == 8_030_261_248
    assert get_model("llama-3.1-405b").derived_params == 405_853_388_800
    assert get_model("llama-2-70b").derived_params == 68_976_648_192


def test_seed_uses_round_counts():
    assert get_model("llama-70b").params("seed") == 70e9
    assert get_model("llama-405b").params("seed") == 405e9
    assert get_model("llama-405b").matmul_params("seed") == 405e9
    assert get_model("llama-405b").matmul_params("datasheet") == 405_853_388_800 - 128256 * 16384


def test_kv_bytes_per_token_by_hand():
    # seed line 238: 2 x 126 x 8 x 128 x 1 = 258,048 bytes
    assert get_model("llama-405b").kv_bytes_per_token(1) == 258_048
    assert get_model("llama-3.1-70b").kv_bytes_per_token(2) == 2 * 80 * 8 * 128 * 2


def test_flops():
    m = get_model("llama-3.1-70b")
    assert m.flops_per_token(premises="seed") == 140e9
    assert m.flops_per_token(4096) == 2 * m.matmul_params() + 4 * 80 * 64 * 128 * 4096
    # prefill of 3 tokens: 3 x 2 x matmul params + attention over 0 + 1 + 2 earlier tokens
    assert m.prefill_flops(3) == pytest.approx(3 * 2 * m.matmul_params() + 4 * 80 * 64 * 128 * 3)


def test_bad_input():
    with pytest.raises(ValueError, match="valid choices: llama-3.1-8b, llama-3.1-70b"):
        get_model("gpt-5")
    with pytest.raises(ValueError, match="kv_bytes_per_element must be a finite number > 0"):
        get_model("llama-70b").kv_bytes_per_token(-1)
    with pytest.raises(ValueError, match="context"):
        get_model("llama-70b").flops_per_token(-5)
    with pytest.raises(ValueError, match="valid choices: seed, datasheet"):
        get_model("llama-70b").params("paper")
    assert len(MODEL_NAMES) == 4
