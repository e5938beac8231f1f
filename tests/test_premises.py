"""nvlmodel.premises: each premise switched alone, and the headline waterfall, by hand."""

from __future__ import annotations

import pytest

from nvlmodel import premises as P
from nvlmodel.calibrate import waterfall
from nvlmodel.hardware import get_gpu


def test_seed_and_datasheet_are_the_presets():
    assert P.as_premises("seed") is P.SEED and P.as_premises("datasheet") is P.DATASHEET
    assert all(getattr(P.SEED, n) for n in P.PREMISES) and not any(getattr(P.DATASHEET, n) for n in P.PREMISES)
    assert P.SEED.name == "seed" and P.DATASHEET.flip("sparse_peaks", True).name == "datasheet + sparse_peaks"
    with pytest.raises(ValueError, match="seed, datasheet"):
        P.as_premises("vendor")
    with pytest.raises(ValueError, match="sparse_peaks"):
        P.DATASHEET.flip("free_lunch", True)


def test_gpu_under_one_premise_changes_only_its_fields():
    ds = get_gpu("b200", "datasheet")
    sparse = P.gpu_under("b200", P.DATASHEET.flip("sparse_peaks", True))
    assert sparse.fp4_dense_flops == 18_000e12 and sparse.hbm_visible_bytes == ds.hbm_visible_bytes
    hbm = P.gpu_under("b200", P.DATASHEET.flip("marketed_hbm", True))
    assert hbm.hbm_visible_bytes == 192e9 and hbm.fp4_dense_flops == 9_000e12
    assert P.gpu_under("b200", P.DATASHEET.flip("nvlink_both_ways", True)).nvlink_bw_per_direction == 1.8e12
    assert P.gpu_under("b200", P.DATASHEET) is ds


def test_headline_ratio_by_hand():
    # The document's method, batch 1: weights over bandwidth; 70e9 x 0.5 B on 8 TB/s vs 70e9 x 1 B on 3.35 TB/s.
    assert P.headline_ratio(P.SEED) == pytest.approx((8 / 3.35) * (1.0 / 0.5))
    # NVFP4 alone: 4.5 bits per weight instead of 4.
    assert P.headline_ratio(P.SEED.flip("fp4_half_byte", False)) == pytest.approx((8 / 3.35) * (1.0 / 0.5625))
    # At batch 1 on one GPU, sparse peaks, HBM capacity and the fabric change nothing (memory-bound, no TP).
    for name in ("sparse_peaks", "marketed_hbm", "nvlink_both_ways", "switch_domains"):
        assert P.headline_ratio(P.SEED.flip(name, False)) == pytest.approx(P.headline_ratio(P.SEED))
    # KV reads at batch 64, 1,536 tokens, FP8 KV (163,840 B/token), datasheet otherwise.
    m = 70_553_706_496 - 128_256 * 8192  # matmul parameters
    kv = 64 * 1536 * 163_840
    h100 = (m * 1.0 + kv) / 3.35e12
    b200 = (m * 0.5625 + kv) / 8e12
    assert P.headline_ratio(P.DATASHEET, batch=64, context=1536) == pytest.approx(h100 / b200)


def test_waterfall_steps_add_up():
    w = waterfall(1)
    assert list(w.kind[:2]) == ["printed", "seed"] and list(w.kind[-3:]) == ["bound", "calibrated", "measured"]
    premise = w[w.kind == "premise"]
    assert len(premise) == len(P.PREMISES)
    seed, bound = w.ratio[w.kind == "seed"].iloc[0], w.ratio[w.kind == "bound"].iloc[0]
    assert seed + premise.change.sum() == pytest.approx(bound)  # the premises explain seed -> bound
    assert bound == pytest.approx(P.headline_ratio(P.DATASHEET, batch=64, context=1536))
    with pytest.raises(ValueError, match="0, 1"):
        waterfall(7)


def test_registry_and_topology_take_premises():
    from nvlmodel.topology import NVL72Topology

    assert get_gpu("b200", P.SEED) is get_gpu("b200", "seed")
    assert get_gpu("b200", P.DATASHEET) is get_gpu("b200", "datasheet")
    assert get_gpu("b200", P.DATASHEET.flip("sparse_peaks", True)).fp8_dense_flops == 9_000e12
    assert NVL72Topology(P.SEED).view == "seed" and NVL72Topology(P.DATASHEET).view == "datasheet"
    assert NVL72Topology(P.SEED.flip("switch_domains", False)).view == "datasheet"


def test_one_premise_flows_through_models_roofline_and_capacity():
    from nvlmodel import kvbm, roofline
    from nvlmodel.models import get_model

    m = get_model("llama-3.1-70b")
    nominal = P.DATASHEET.flip("nominal_params", True)
    assert m.params(nominal) == 70e9 and m.params(P.DATASHEET) == m.derived_params
    no_kv = roofline.decode_step("b200", m, "nvfp4", batch=8, context=4096, premises=P.DATASHEET.flip("no_kv_reads", True))
    assert no_kv.kv_bytes == 0.0
    assert roofline.decode_step("b200", m, "nvfp4", batch=8, context=4096).kv_bytes == 8 * 4096 * 163_840
    flat = roofline.prefill("b200", m, "nvfp4", prompt=8192, premises=P.DATASHEET.flip("weights_only_flops", True))
    assert flat.attention_flops == 0.0 and flat.flops == 8192 * 2 * m.derived_params
    marketed = kvbm.kv_capacity("b200", m, "nvfp4", tp=1, num_gpus=1, premises=P.DATASHEET.flip("marketed_hbm", True))
    assert marketed.hbm_bytes == 192e9
    assert kvbm.kv_capacity("b200", m, "nvfp4", tp=1, num_gpus=1).hbm_bytes == 183_359 * 2**20
