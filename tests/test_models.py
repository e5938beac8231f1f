import pytest

from nvlmodel.models import MODEL_NAMES, get_model
from nvlmodel.roofline import require_parallel


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
    assert len(MODEL_NAMES) == 8
    with pytest.raises(ValueError, match="dense: it has no experts"):
        get_model("qwen3-32b").expected_experts_touched(4)
    with pytest.raises(ValueError, match="does not divide the 256 experts"):
        get_model("deepseek-v3").expected_experts_touched(4, ep=3)
    with pytest.raises(ValueError, match="phase"):
        get_model("deepseek-v3").attention_dims("train")


# --------------------------------------------------------------------------------------------
# The models of chapter 8, each count by hand from the published configuration (REFERENCE.md)
# --------------------------------------------------------------------------------------------

def test_qwen3_32b_by_hand():
    h, L, v = 5120, 64, 151936
    attn = h * 64 * 128 + 2 * h * 8 * 128 + 64 * 128 * h  # q dim 8,192 is not the hidden size
    layer = attn + 3 * h * 25600 + 2 * h
    m = get_model("qwen3-32b")
    assert m.derived_params == 2 * v * h + L * layer + h == 32_762_106_880  # "32.8B" on the model card
    assert m.active_params == m.derived_params and not m.is_moe
    assert m.kv_bytes_per_token(2) == 2 * 64 * 8 * 128 * 2 == 262_144


def test_deepseek_v3_by_hand():
    h, heads = 7168, 128
    q = h * 1536 + 1536 + 1536 * heads * (128 + 64)
    kv = h * (512 + 64) + 512 + 512 * heads * (128 + 128)
    attn = q + kv + heads * 128 * h
    expert = 3 * h * 2048
    dense_layer = attn + 3 * h * 18432 + 2 * h
    moe_layer = attn + 257 * expert + h * 256 + 2 * h
    total = 2 * 129280 * h + 3 * dense_layer + 58 * moe_layer + h
    m = get_model("deepseek-r1")
    assert m.derived_params == total
    assert 670e9 < total < 672e9  # "671B"
    active = total - 58 * 248 * expert
    assert m.active_params == active and 37e9 < active < 38e9  # "37B activated"
    assert m.kv_bytes_per_token(1) == 61 * 576  # one latent of 512 + 64 per token per layer
    assert m.kv_bytes_per_token_per_gpu(1, tp=8) == 61 * 576  # replicated on every TP rank
    assert m.attention_flops_per_token(100, "decode") == 2 * 128 * (576 + 512) * 61 * 100
    assert m.attention_flops_per_token(100, "prefill") == 2 * 128 * (192 + 128) * 61 * 100


def test_qwen3_235b_by_hand():
    h = 4096
    attn = h * 64 * 128 + 2 * h * 4 * 128 + 64 * 128 * h
    expert = 3 * h * 1536
    total = 2 * 151936 * h + 94 * (attn + 128 * expert + 128 * h + 2 * h) + h
    m = get_model("qwen3-235b-a22b")
    assert m.derived_params == total and 234e9 < total < 236e9
    assert m.active_params == total - 94 * 120 * expert and 22.0e9 < m.active_params < 22.4e9
    assert m.kv_bytes_per_token(1) == 2 * 94 * 4 * 128


def test_gpt_oss_by_hand():
    h = 2880
    attn = h * 64 * 64 + 2 * h * 8 * 64 + 64 * 64 * h
    expert = 3 * h * 2880
    total = 2 * 201088 * h + 36 * (attn + 128 * expert + 128 * h + 2 * h) + h
    m = get_model("gpt-oss-120b")
    assert m.derived_params == total and 116.5e9 < total < 117.0e9  # "116.83B" (biases and sinks left out)
    # active without the embedding lookup: the model card's "5.13B"
    assert m.matmul_params() == total - 36 * 124 * expert - 201088 * h
    assert 5.1e9 < m.matmul_params() < 5.15e9
    # 18 full-attention layers hold every token; 18 sliding-window layers hold at most 128
    per_layer = 2 * 8 * 64
    assert m.kv_bytes_per_token(1) == 18 * per_layer
    assert m.kv_bytes_per_sequence_per_gpu(1000, 1) == 18 * per_layer * 1000 + 18 * per_layer * 128
    assert m.kv_bytes_per_sequence_per_gpu(100, 1) == 36 * per_layer * 100
    assert m.attention_flops_per_token(1000) == 4 * 64 * 64 * (18 * 1000 + 18 * 128)


def test_expected_experts_against_monte_carlo():
    import numpy as np

    m = get_model("deepseek-v3")
    rng = np.random.default_rng(7)
    for tokens, ep in ((1, 1), (16, 8), (64, 8), (256, 32)):
        trials = 400
        touched = 0
        for _ in range(trials):
            chosen = np.array([rng.choice(256, 8, replace=False) for _ in range(tokens)]).ravel()
            local = np.unique(chosen[chosen < 256 // ep])  # rank 0 holds experts 0 .. E/ep - 1
            touched += len(local)
        mc = touched / trials
        assert m.expected_experts_touched(tokens, ep) == pytest.approx(mc, rel=0.05, abs=0.1)
    assert m.expected_experts_touched(1) == pytest.approx(8)  # one token: its top-8
    assert m.expected_experts_touched(10**6, 8) == pytest.approx(32)  # every local expert


def test_redundant_experts_by_hand():
    """EPLB's replicas (SGLang's --ep-num-redundant-experts 32 on GB200): 288 slots over 48 GPUs hold
    6 experts each; a replica's weights count, a token's compute does not change."""
    m = get_model("deepseek-v3")
    r = m.with_redundant_experts(32)
    expert = 3 * 7168 * 2048  # one expert's gate, up and down
    assert r.expert_slots == 288 and r.key == m.key
    assert r.derived_params - m.derived_params == 58 * 32 * expert  # 58 MoE layers hold 32 more experts each
    assert r.routed_expert_params == 58 * 288 * expert
    assert r.active_params == m.active_params  # a token still uses 8 routed experts
    # one token's 8 assignments fall on 48 ranks: 8/48 of an expert per rank, on average
    assert r.expected_experts_touched(1, 48) == pytest.approx(8 / 48)
    assert r.expected_experts_touched(10**6, 48) == pytest.approx(6)  # every slot of the rank
    assert r.with_redundant_experts(0) == m and r.with_redundant_experts(8).expert_slots == 264
    with pytest.raises(ValueError, match="ep=48 does not divide the 256 experts .*with_redundant_experts"):
        require_parallel(m, 1, 48, 48)
    assert require_parallel(r, 1, 48, 48) == 48
    with pytest.raises(ValueError, match="redundant_experts must be an int >= 0"):
        m.with_redundant_experts(-1)
    with pytest.raises(ValueError, match="dense: it has no experts to replicate"):
        get_model("qwen3-32b").with_redundant_experts(4)
