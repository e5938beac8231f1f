"""Power and cost per token: hand calculations from the stated power facts."""

import math

import pandas as pd
import pytest

from nvlmodel import energy


def test_tokens_per_joule_by_hand():
    # DGX B200: 14,300 W over 8 GPUs = 1,787.5 W per GPU; 3,575 tok/s per GPU -> 2 tokens per joule
    assert energy.tokens_per_joule(3575.0, "hgx-b200") == pytest.approx(2.0)
    # GPU TDP only: H100 SXM 700 W; 1,400 tok/s -> 2 tokens per joule
    assert energy.tokens_per_joule(1400.0, "h100_sxm", basis="gpu") == pytest.approx(2.0)
    # GB200: 1,200 W per GPU board; the rack's ~120 kW / 72 = 1,666.7 W per GPU
    assert energy.watts_per_gpu("gb200", "gpu") == 1200.0
    assert energy.watts_per_gpu("nvl72") == pytest.approx(120_000 / 72)


def test_system_power_is_above_gpu_power_everywhere():
    for key in energy.SYSTEM_POWER:
        assert energy.watts_per_gpu(key, "system") > energy.watts_per_gpu(key, "gpu")


def test_gpu_hours_and_cost_by_hand():
    # 500 tok/s per GPU: a million tokens take 2,000 GPU-seconds = 0.5556 GPU-hours
    assert energy.gpu_hours_per_million(500.0) == pytest.approx(2000 / 3600)
    assert energy.cost_per_million(500.0, 3.6) == pytest.approx(2.0)


def test_no_default_price_and_bad_input_named():
    with pytest.raises(TypeError):
        energy.cost_per_million(500.0)  # the price is the reader's: no default
    with pytest.raises(ValueError, match="price_per_gpu_hour"):
        energy.cost_per_million(500.0, 0.0)
    with pytest.raises(ValueError, match="hgx-b200"):
        energy.watts_per_gpu("dgx-gh200")
    with pytest.raises(ValueError, match="system, gpu"):
        energy.watts_per_gpu("nvl72", "wall")
    with pytest.raises(ValueError, match="positive"):
        energy.tokens_per_joule(-1.0, "nvl72")


def test_add_columns_keeps_rows_and_adds_cost_only_with_a_price():
    f = pd.DataFrame({"system_key": ["gb200", "h100_sxm", "b200_sxm"], "tok_s_per_gpu": [1000.0, 0.0, 3575.0]})
    out = energy.add_columns(f)
    assert "cost_per_mtok" not in out
    assert out.tok_per_joule.iloc[0] == pytest.approx(0.6)
    assert math.isnan(out.tok_per_joule.iloc[1])  # no rate, no efficiency
    assert out.tok_per_joule.iloc[2] == pytest.approx(2.0)
    priced = energy.add_columns(f, price_per_gpu_hour=2.0)
    assert priced.cost_per_mtok.iloc[0] == pytest.approx(2.0 * 1e6 / 3.6e6)
    with pytest.raises(KeyError, match="tok_s_per_gpu"):
        energy.add_columns(f.drop(columns="tok_s_per_gpu"))


def test_endtoend_energy_by_hand():
    from nvlmodel import endtoend

    e = endtoend.energy()
    v = endtoend.cells("datasheet")
    row = e[(e.preset == "datasheet") & (e.side == "8x H100 (HGX)")].iloc[0]
    # 8 GPUs of the replica; DGX H100 10.2 kW over 8 GPUs
    assert row.tok_s_per_gpu == pytest.approx(v["h100"].decode_tok_s / 8)
    assert row.tok_per_joule == pytest.approx(v["h100"].decode_tok_s / 8 / (10_200 / 8))
    assert row.tok_per_joule_gpu_only == pytest.approx(v["h100"].decode_tok_s / 8 / 700)
    assert "cost_per_mtok" not in e
