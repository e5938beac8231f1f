"""nvlmodel.endtoend: the seed's comparison table by hand, like-for-like datasheet cells."""

from __future__ import annotations

import math

import pytest

from nvlmodel import collectives as col
from nvlmodel import endtoend as e2e
from nvlmodel import kvbm
from nvlmodel.claims import get_claim

PARAMS_405B = 405_853_388_800  # derived from the published configuration (tests/test_models.py)


def test_swap_rows_are_the_tables_own_model():
    # Each GPU of the TP8 replica receives its shard of 405B over the document's NVLink figures.
    seed = e2e.cells("seed")
    assert seed["h100"].swap_s == pytest.approx(405e9 * 1.0 / 8 / 900e9)  # 56.25 ms
    assert seed["nvl72"].swap_s == pytest.approx(405e9 * 0.5 / 8 / 1.8e12)  # 14.06 ms
    # The printed 77.8 / 19.4 ms are Llama 70B whole-model copies: inconsistent with this table.
    for side, printed_70b in (("h100", 70e9 / 900e9), ("nvl72", 70e9 * 0.5 / 1.8e12)):
        c = get_claim(f"e2e.swap_ms.{side}")
        assert c.status == "inconsistent"
        assert c.seed_value == pytest.approx(printed_70b * 1e3, abs=0.05)
        assert "70B" in c.explanation
    assert get_claim("e2e.swap_ms.advantage").status == "reproduced"  # 4x survives
    ds = e2e.cells("datasheet")
    assert ds["nvl72"].swap_s == pytest.approx(PARAMS_405B * 0.5625 / 8 / 900e9)


def test_datasheet_decode_runs_the_largest_batch_that_fits():
    # H100, 405B FP8 at TP8, FP8 KV: 85.52 GB visible - 50.73 GB of weights - 3 GB workspace.
    budget = 81_559 * 2**20 - PARAMS_405B / 8 - 3e9
    per_token = 2 * 126 * 1 * 128 * 1.0  # one of 8 KV heads per GPU, FP8
    fits = int(budget / per_token // 4096)
    assert fits == 240
    assert e2e.largest_batch("h100") == fits
    ds = e2e.cells("datasheet")
    assert ds["h100"].decode_batch == 240 and ds["nvl72"].decode_batch == 256
    note = e2e.table().set_index("metric").loc[e2e.LABELS["decode_tok_s"], "note"]
    assert note == "H100 runs batch 240 (256 does not fit)"
    # The batch that runs is what the decode cell is computed at.
    step = e2e.decode_step("h100", "llama-3.1-405b", "fp8", batch=240, context=4096, tp=8, kv_bytes_per_element=1.0,
                           comm_s=e2e._comm("h100", 240, e2e.Scenario()))
    assert ds["h100"].decode_tok_s == pytest.approx(240 / step.time)


def test_kv_dtype_is_shared_in_the_datasheet_column():
    fp16 = e2e.Scenario(kv_bytes_per_element=2.0)
    assert e2e.largest_batch("h100", fp16) == 120  # half as many tokens fit with a 2-byte cache
    fit = e2e.kv_fit().set_index(["side", "preset"])
    assert fit.loc[("h100", "seed"), "kv_dtype_bytes"] == 2.0  # the document's FP16 cache on H100
    assert fit.loc[("h100", "datasheet"), "kv_dtype_bytes"] == 1.0


def test_paged_kv_block_by_hand():
    # 16 tokens of 405B, FP8, TP8: each GPU moves 126 per-layer chunks of 16 x 2 x 128 bytes.
    shard = 16 * 2 * 126 * 1 * 128
    t = 126 * kvbm.CHUNK_LATENCY_S + shard / 900e9
    assert e2e.cells("datasheet")["nvl72"].kv_block_s == pytest.approx(t)
    b = kvbm.block_transfer("llama-3.1-405b", 900e9, tp=8)
    assert (b.chunks, b.chunk_bytes, b.shard_bytes) == (126, 4096, shard)
    assert b.latency_share > 0.99
    table = kvbm.block_transfer_table().set_index("path")
    # The hypothetical switch tier, even at infinite bandwidth, saves only the byte term.
    peer, switch = table.time_s.iloc[2], table.time_s.iloc[3]
    assert peer - switch == pytest.approx(shard / 900e9)
    with pytest.raises(ValueError, match="chunks_per_layer"):
        kvbm.block_transfer("llama-3.1-405b", 900e9, chunks_per_layer=0)


def test_allreduce_is_the_engines_measured_kernel():
    s = e2e.Scenario()
    tokens = 256
    one = col.engine_allreduce("gb200", 8, "trtllm").time(tokens * 16384 * 2)
    assert e2e._comm("nvl72", tokens, s) == pytest.approx(2 * 126 * one)
    assert "b200_sxm" in col.engine_allreduce("gb200", 8, "trtllm").label  # the HGX B200 curve stands in


def test_cells_are_si_and_the_table_displays_them():
    c = e2e.cells("seed")["nvl72"]
    assert e2e.display(c, "swap_s") == pytest.approx(c.swap_s * 1e3)  # shown in ms
    assert e2e.display(c, "kv_block_s") == pytest.approx(c.kv_block_s * 1e6)  # shown in us
    row = e2e.table().set_index("metric").loc[e2e.LABELS["swap_s"]]
    assert row["unit"] == "ms" and row["NVL72 (seed)"] == pytest.approx(c.swap_s * 1e3)
    with pytest.raises(ValueError, match="prefill_tok_s"):
        e2e.display(c, "swap_ms")


def test_bad_scenarios():
    with pytest.raises(ValueError, match="NVLink domain"):
        e2e.Scenario(tp=16)  # the H100 side is an 8-GPU HGX node
    with pytest.raises(ValueError, match="trtllm"):
        e2e.Scenario(engine="tgi")
    with pytest.raises(ValueError, match="kv_bytes_per_element"):
        e2e.Scenario(kv_bytes_per_element=0)
    assert not math.isnan(e2e.advantage("decode_tok_s", e2e.cells("datasheet")))


def test_a_model_whose_weights_fill_the_replica_is_refused_with_what_fits():
    """A reader rerunning chapter 6 with DeepSeek-V3 once got a traceback from the seed's capacity
    sketch. By hand: 671e9 parameters x 1 byte (FP8) / 8 GPUs = 83.9 GB per H100 (80 GB in the
    document), so no KV fits; the error says so when the scenario is made, with the TP degrees and
    models that do fit."""
    from nvlmodel.models import get_model

    per_gpu_gb = get_model("deepseek-v3").params("seed") * 1.0 / 8 / 1e9
    assert per_gpu_gb == pytest.approx(83.9, abs=0.05)
    with pytest.raises(ValueError, match=r"deepseek-v3 at tp=8.*83\.9 GB.*tp that fit: none") as e:
        e2e.Scenario(model="deepseek-v3")
    fits_at_8 = str(e.value).split("models that fit at tp=8: ")[1]
    assert "llama-3.1-405b" in fits_at_8 and "deepseek-v3" not in fits_at_8
    # 235 GB of FP8 weights: 117.5 GB per GPU at TP2 (no room), 58.75 at TP4
    with pytest.raises(ValueError, match=r"tp that fit: 4, 8"):
        e2e.Scenario(model="qwen3-235b-a22b", tp=2)
    assert e2e.Scenario(model="qwen3-235b-a22b", tp=4).tp == 4
