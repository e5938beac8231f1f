import numpy as np
import pytest

from nvlmodel import collectives as c


def test_seed_ring_formula_by_hand():
    # 2 (tp-1)/tp x S / 1.8e12: TP2 32e6 -> 1 x 17.78 us; TP8 -> 1.75 x 17.78 = 31.11 us
    assert c.seed_allreduce_time(32e6, 2) == pytest.approx(32e6 / 1.8e12)
    assert c.seed_allreduce_time(32e6, 4) == pytest.approx(1.5 * 32e6 / 1.8e12)
    assert c.seed_allreduce_time(32e6, 8) * 1e6 == pytest.approx(31.111, abs=1e-3)
    assert c.seed_allreduce_time(128e6, 8, same_domain=False) == pytest.approx(1.75 * 128e6 / 0.9e12)


def test_bus_factors():
    assert c.bus_factor("all_reduce", 8) == 1.75
    assert c.bus_factor("reduce_scatter", 4) == 0.75 and c.bus_factor("all_gather", 2) == 0.5


def test_alpha_beta_by_hand():
    m = c.AlphaBeta(latency_s=10e-6, bus_bandwidth=400e9, n=8)
    assert m.time(8e6) == pytest.approx(10e-6 + 1.75 * 8e6 / 400e9)
    assert m.time(8e6, algorithm="nvls") == pytest.approx(10e-6 + 8e6 / 400e9)
    assert m.time(8e6, op="all_gather") == pytest.approx(10e-6 + 0.875 * 8e6 / 400e9)
    assert m.step_latency_s == pytest.approx(10e-6 / 14)
    assert m.with_gpus(4).latency_s == pytest.approx(10e-6 / 14 * 6)
    np.testing.assert_allclose(m.time([0.0, 8e6]), [10e-6, 10e-6 + 1.75 * 8e6 / 400e9])


def test_curated_table_is_elements_times_two():
    d = c.load_measurements()
    assert set(d.system) == {"h100_sxm", "h200_sxm", "b200_sxm", "gb200"}
    assert (d.bytes == 2 * d.elements).all()
    assert sorted(set(d[d.system == "gb200"].num_gpus)) == [2, 4]
    assert d.source.str.contains("aiconfigurator").all()


def test_fit_recovers_a_synthetic_line():
    # If the measurements followed t0 + x / B exactly, the fit would return t0 and B.
    m, err = c.fit_alpha_beta("h100_sxm", 8)
    assert 10e-6 < m.latency_s < 30e-6 and 300e9 < m.bus_bandwidth < 450e9
    assert err["points"] == 21 and err["median_abs_pct_err"] < 15


def test_measured_bus_bandwidth_at_512_mib_by_hand():
    d = c.load_measurements()
    r = d[(d.system == "h100_sxm") & (d.num_gpus == 8)].sort_values("bytes").iloc[-1]
    # 268,435,456 half elements = 536,870,912 bytes in 2.112 ms: busbw = 1.75 x S / t = 445 GB/s
    assert r.bytes == 536_870_912
    assert 1.75 * r.bytes / (r.latency_ms / 1e3) / 1e9 == pytest.approx(444.9, abs=0.5)


def test_tp_step_time_by_hand():
    # Llama 405B decode at batch 256: 2 x 126 all-reduces of 256 x 16384 x 2 bytes.
    s = c.tp_allreduce_bytes("llama-405b", 256)
    assert s == 256 * 16384 * 2
    t = c.tp_step_allreduce_time("llama-405b", 256, lambda b: c.seed_allreduce_time(b, 8))
    assert t == pytest.approx(252 * 1.75 * s / 1.8e12)


def test_bad_input():
    with pytest.raises(ValueError, match="GPUs >= 2"):
        c.bus_factor("all_reduce", 1)
    with pytest.raises(ValueError, match="valid choices: all_reduce, reduce_scatter, all_gather"):
        c.bus_factor("broadcast", 4)
    with pytest.raises(ValueError, match="message_bytes"):
        c.seed_allreduce_time(-1, 8)
    with pytest.raises(ValueError, match="measured: \\[2, 4\\]"):
        c.fit_alpha_beta("gb200", 8)
    with pytest.raises(ValueError, match="valid choices: h100_sxm, h200_sxm, b200_sxm, gb200"):
        c.fit_alpha_beta("a100", 8)
    with pytest.raises(ValueError, match="bus_bandwidth"):
        c.AlphaBeta(1e-6, 0, 8)
    with pytest.raises(ValueError, match="all_reduce only"):
        c.AlphaBeta(1e-6, 1e9, 8).time(1e6, op="all_gather", algorithm="nvls")
