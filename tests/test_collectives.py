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


def test_measured_curve_interpolates_in_log_log():
    d = c.load_engine_measurements()
    pts = d[(d.system == "h100_sxm") & (d.num_gpus == 8) & (d.kernel == "trtllm")].sort_values("bytes")
    (s0, t0), (s1, t1) = pts[["bytes", "latency_ms"]].iloc[10:12].to_numpy()
    curve = c.allreduce_curve("h100_sxm", 8, "trtllm")
    mid = (s0 * s1) ** 0.5  # halfway in log size: the geometric mean of the two times
    assert curve.time(mid) == pytest.approx((t0 * t1) ** 0.5 / 1e3)
    assert curve.time(s0) == pytest.approx(t0 / 1e3)
    # a latency floor below the table: the fastest of the smallest sizes (padded to a larger
    # message an all-reduce runs in that one's time; here the second size was measured faster)
    assert pts.latency_ms.iloc[0] > pts.latency_ms.iloc[1]
    assert curve.time(1) == pytest.approx(pts.latency_ms.min() / 1e3)
    big = pts.iloc[-1]
    assert curve.time(2 * big.bytes) == pytest.approx(2 * big.latency_ms / 1e3)  # same bandwidth beyond it


def test_engine_kernels_and_fallback():
    v = c.engine_allreduce("h100_sxm", 8, "vllm")
    small, large = 4 * 2**20, 16 * 2**20
    assert v.time(small) == pytest.approx(c.allreduce_curve("h100_sxm", 8, "vllm_graph").time(small))
    assert v.time(large) == pytest.approx(c.allreduce_curve("h100_sxm", 8, "nccl").time(large))  # above 8 MiB
    t = c.engine_allreduce("h100_sxm", 8, "trtllm")
    assert t.time(large) == pytest.approx(c.allreduce_curve("h100_sxm", 8, "trtllm").time(large))
    # The engines' small-message kernels are several times faster than NCCL at decode sizes.
    decode = 16 * 8192 * 2  # 16 tokens of Llama 70B's hidden state
    assert c.engine_allreduce("b200_sxm", 8, "nccl").time(decode) > 2 * c.engine_allreduce("b200_sxm", 8).time(decode)
    with pytest.raises(ValueError, match="trtllm, vllm, sglang, nccl"):
        c.engine_allreduce("h100_sxm", 8, "deepspeed")
    with pytest.raises(ValueError, match="nccl, trtllm, vllm_graph, vllm_eager"):
        c.allreduce_curve("h100_sxm", 8, "mscclpp")


def test_a_message_is_never_slower_than_a_larger_one_measured():
    # vLLM's graph all-reduce on 8 B200 GPUs: measured 25.9 us at 256 KiB, 26.0 at 512 KiB, 16.7 at 1 MiB
    d = c.load_engine_measurements()
    pts = d[(d.system == "b200_sxm") & (d.num_gpus == 8) & (d.kernel == "vllm_graph")].set_index("bytes").latency_ms
    kib = 1024
    assert pts[256 * kib] > 1.5 * pts[1024 * kib]
    curve = c.allreduce_curve("b200_sxm", 8, "vllm_graph")
    assert curve.time(256 * kib) == pytest.approx(pts[1024 * kib] / 1e3)
    assert curve.time(512 * kib) == pytest.approx(pts[1024 * kib] / 1e3)
    assert curve.seconds.max() >= pts[512 * kib] / 1e3  # the curve keeps what was measured
    sizes = np.geomspace(1, 64 * 2**20, 200)
    for system, n, kernel in (("b200_sxm", 8, "vllm_graph"), ("h100_sxm", 8, "trtllm"), ("h200_sxm", 4, "nccl")):
        assert np.all(np.diff(c.allreduce_curve(system, n, kernel).time(sizes)) >= 0)


def test_gb200_beyond_four_gpus_stands_in_for_b200():
    assert c.allreduce_curve("gb200", 4, "nccl").label.startswith("gb200")
    eight = c.allreduce_curve("gb200", 8, "nccl")
    assert "b200_sxm" in eight.label and "standing in for gb200" in eight.label
    assert not eight.own and (eight.system, eight.for_system) == ("b200_sxm", "gb200")
    assert c.allreduce_curve("gb200", 4, "nccl").own
    panel = dict(c.allreduce_panels())["gb200"]
    assert [r["own"] for r in panel] == [True, True, False]
    assert eight.time(1e6) == c.allreduce_curve("b200_sxm", 8, "nccl").time(1e6)
    agree = c.stand_in_agreement().set_index(["kernel", "gpus"])
    assert agree.loc[("nccl", 4), "median_abs_pct"] < 10  # the stand-in is measured to agree where both exist
    far = c.system_fit("gb200", 16)
    assert "extrapolated" in far.label and far.n == 16
    with pytest.raises(ValueError, match="at most 8"):
        c.system_fit("h100_sxm", 16)


def test_hgx_alltoall_beside_deepep_by_hand():
    """EP 64: DeepEP's published 173 + 314 us at 128 tokens per rank beside the model's estimate of
    the same all-to-all; the model is the faster (no inter-node latency), and the ratio is theirs."""
    from nvlmodel.collectives import deepep_comparison, moe_alltoall

    t = deepep_comparison()
    assert t.loc[64, "DeepEP dispatch + combine (us)"] == 173 + 314
    m = moe_alltoall("h100_sxm", 64, "deepseek-v3", "fp8").time(128.0) * 1e6
    assert t.loc[64, "model (us)"] == pytest.approx(m) and t.loc[64, "model / DeepEP"] == pytest.approx(m / 487)
    assert (t.loc[[16, 32, 64, 128, 256], "model / DeepEP"] < 1).all()
