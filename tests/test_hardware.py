"""Registry numbers pinned to the seed's spec table and to shared/REFERENCE.md, by hand."""

import dataclasses

import pandas as pd
import pytest

from nvlmodel.hardware import GPU_NAMES, PRESETS, get_gpu, get_superchip, get_system, spec_table


def test_seed_b200_is_the_printed_table():
    b = get_gpu("b200", "seed")
    assert b.fp16_dense_flops == 4500e12 and b.fp8_dense_flops == 9000e12 and b.fp4_dense_flops == 18000e12
    assert b.hbm_bytes == 192e9 and b.hbm_visible_bytes == 192e9
    assert b.hbm_bandwidth == 8e12
    # The document copies at the printed 1,800 GB/s: per direction == total in the seed premise.
    assert b.nvlink_bw_per_direction == b.nvlink_bw_total == 1800e9
    assert (b.sms, b.tdp_watts, b.l2_bytes, b.transistors) == (192, 1000, 128e6, 208e9)


def test_datasheet_dense_is_half_sparse():
    for name in ("h100", "h200", "b200", "gb200-b200"):
        g = get_gpu(name, "datasheet")
        for dt in ("fp16", "fp8") + (("fp4",) if g.fp4_dense_flops else ()):
            assert g.peak_flops(dt) * 2 == g.peak_flops(dt, sparse=True)


def test_datasheet_values_from_reference():
    h, b, gb = (get_gpu(n, "datasheet") for n in ("h100", "b200", "gb200-b200"))
    assert h.fp16_dense_flops == 989.5e12 and h.fp8_dense_flops == 1979e12
    assert b.fp4_dense_flops == 9000e12 and gb.fp4_dense_flops == 10000e12
    # nvidia-smi totals in MiB: what software sees (MLPerf's '180GB' / '186GB' are these in GiB)
    assert b.hbm_visible_bytes == 183_359 * 2**20 and gb.hbm_visible_bytes == 189_471 * 2**20
    assert h.hbm_visible_bytes == 81_559 * 2**20 and get_gpu("h200", "datasheet").hbm_visible_bytes == 143_771 * 2**20
    assert round(b.hbm_visible_bytes / 2**30) == 179 and round(gb.hbm_visible_bytes / 2**30) == 185
    # NVLink 5: 18 links x 100 GB/s total = 1.8 TB/s; per direction half of that.
    assert b.nvlink_bw_total == 18 * 100e9 and b.nvlink_bw_per_direction == 900e9
    assert h.nvlink_bw_total == 900e9 and h.nvlink_bw_per_direction == 450e9
    assert gb.tdp_watts == 1200 and b.tdp_watts == 1000
    h200 = get_gpu("h200", "datasheet")
    assert (h200.hbm_bytes, h200.hbm_bandwidth, h200.fp8_dense_flops) == (141e9, 4.8e12, 1979e12)


def test_bf16_is_fp16_and_h100_has_no_fp4():
    h = get_gpu("h100")
    assert h.peak_flops("bf16") == h.peak_flops("fp16")
    with pytest.raises(ValueError, match="no fp4 tensor cores; it supports: fp16, bf16, fp8"):
        h.peak_flops("fp4")
    with pytest.raises(ValueError, match="valid choices: fp16, bf16, fp8, fp4"):
        h.peak_flops("int3")


def test_every_field_has_unit_and_every_value_a_source():
    for name in GPU_NAMES:
        for preset in PRESETS:
            g = get_gpu(name, preset)
            for f in dataclasses.fields(g):
                if f.name == "sources":
                    continue
                assert f.metadata["unit"], f.name
                if f.name not in ("key", "name", "preset"):
                    assert f.name in g.sources, (name, preset, f.name)


def test_specs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_gpu("b200").hbm_bytes = 1


def test_unknown_names_list_known_ones():
    with pytest.raises(ValueError, match="unknown GPU 'a100'; valid choices: h100, h200, b200, gb200-b200"):
        get_gpu("a100")
    with pytest.raises(ValueError, match="unknown preset 'marketing'; valid choices: seed, datasheet"):
        get_gpu("b200", "marketing")
    with pytest.raises(ValueError, match="valid choices: nvl72, hgx-h100, hgx-b200"):
        get_system("dgx-a100")
    with pytest.raises(ValueError, match="valid choices: gb200"):
        get_superchip("gh200")


def test_aliases():
    assert get_gpu("H100-SXM") is get_gpu("h100")
    assert get_gpu("gb200", "seed") is get_gpu("gb200-b200", "seed")


def test_nvl72_totals_by_hand():
    seed, ds = get_system("nvl72", "seed"), get_system("nvl72", "datasheet")
    assert (seed.num_gpus, seed.num_superchips, seed.num_cpus) == (72, 36, 36)
    assert seed.total_hbm_bytes == 72 * 192e9 == 13_824e9
    assert ds.total_hbm_visible_bytes == 72 * 189_471 * 2**20
    assert seed.total_hbm_bandwidth == 576e12
    assert seed.total_flops("fp4") == 72 * 18_000e12
    assert ds.total_flops("fp4") == 72 * 10_000e12
    assert seed.total_nvlink_bw == pytest.approx(129.6e12)
    # Bisection of a non-blocking fabric: 36 GPUs x 900 GB/s each way, both ways.
    assert ds.bisection_bw == 2 * 36 * 900e9
    assert seed.total_switch_memory_bytes == 9 * 128e9 and ds.total_switch_memory_bytes == 0
    assert ds.switch_chips == 18 and ds.switch_trays == 9 and ds.compute_trays == 18
    # 72 GPUs x 18 links = 18 ASICs x 72 ports
    assert ds.num_gpus * ds.gpu.nvlink_links == ds.switch_chips * 72


def test_superchip():
    sc = get_superchip("gb200", "datasheet")
    assert (sc.gpus, sc.cpus, sc.cpu_cores, sc.c2c_bw_total) == (2, 1, 72, 900e9)
    assert sc.gpu is get_gpu("gb200-b200", "datasheet")


def test_hgx_systems():
    h = get_system("hgx-h100", "datasheet")
    assert (h.num_gpus, h.switch_chips, h.num_superchips) == (8, 4, 0)
    assert h.gpu.key == "h100"


def test_spec_table_ratios():
    t = spec_table("b200", "h100", "seed").set_index("specification")
    assert t.loc["FP16 Tensor TFLOPS", "ratio"] == pytest.approx(4500 / 1979)
    assert t.loc["HBM bandwidth", "ratio"] == pytest.approx(8 / 3.35)
    assert pd.isna(t.loc["FP4 Tensor TFLOPS", "ratio"])  # H100 has no FP4
    u = spec_table("b200", "h100", "datasheet", visible_hbm=True).set_index("specification")
    assert u.loc["HBM capacity (visible to software)", "ratio"] == pytest.approx(183_359 / 81_559)
    assert u.loc["SMs", "ratio"] == pytest.approx(148 / 132)


def test_rows_display_units():
    rows = {r["field"]: r for r in get_gpu("b200", "datasheet").rows()}
    assert rows["hbm_bandwidth"]["value"] == 8.0 and rows["hbm_bandwidth"]["unit"] == "TB/s"
    assert rows["fp4_dense_flops"]["value"] == 9000.0
    assert "MLPerf" in rows["hbm_visible_bytes"]["source"] or "mlperf" in rows["hbm_visible_bytes"]["source"]


def test_a_tp_group_spans_one_nvlink_domain_or_two_whole_hgx_nodes():
    """TP within one NVLink domain everywhere; with ``across_nodes`` (the calibrated serving model,
    which prices the all-reduces between nodes), also over two whole 8-GPU HGX nodes, as the H100
    TP 16 rows ran it: never three, never part of a node, never beyond an NVL72 rack."""
    h100, gb200 = get_gpu("h100"), get_gpu("gb200-b200")
    assert h100.require_tp(8) == 8 and h100.require_tp(16, across_nodes=True) == 16
    assert (h100.max_tp, gb200.max_tp) == (16, 72)
    with pytest.raises(ValueError, match="one NVLink domain"):
        h100.require_tp(16)
    for tp in (12, 24, 32):  # part of a node; more than two nodes
        with pytest.raises(ValueError, match="whole 8-GPU nodes, at most 2"):
            h100.require_tp(tp, across_nodes=True)
    assert gb200.require_tp(72, across_nodes=True) == 72
    with pytest.raises(ValueError, match="72 in a GB200 NVL72 rack"):
        gb200.require_tp(144, across_nodes=True)
    with pytest.raises(ValueError, match="positive int"):
        h100.require_tp(True)
