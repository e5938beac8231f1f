"""The buyer's comparison (nvlmodel.buyer): intervals by hand from the calibration errors, ratios
propagated, numbers printed to their interval's precision."""

import math
import re

import pytest

from nvlmodel import buyer, search
from nvlmodel.calibrate import STATIC_STEP, load_measurements, predictions
from nvlmodel.calibrate.intervals import (EXTRAPOLATION_WIDENING, new_system_quantiles, other_step, residual_quantiles,
                                          throughput_ratio_interval, transfer_widening)

OTHER = other_step(STATIC_STEP)  # the step model the book's figures do not stand on (the roofline)


@pytest.fixture(scope="module")
def comp():
    return buyer.comparison(models=("qwen3-32b",))


def _bounds(q, r):
    lo, hi, _ = q[("tpot", r.mode)]
    mid, half = (lo + hi) / 2, (hi - lo) / 2 * (EXTRAPOLATION_WIDENING if r.extrapolated else 1.0)
    return mid - half, mid + half


def test_each_throughput_interval_comes_from_the_tpot_errors(comp):
    d = load_measurements(table="serving")
    q = residual_quantiles(predictions(d, search.fitted_serving()))
    w = transfer_widening(d)  # one widening for both step models, calibrated on their hull
    q_new = new_system_quantiles(q, w)
    qk = residual_quantiles(predictions(d, search.fitted_serving(OTHER)))
    qk_new = new_system_quantiles(qk, w)
    for r in comp.itertuples():
        new = r.system_key not in ("h100_sxm", "h200_sxm")
        lo, hi = _bounds(q_new if new else q, r)
        # throughput ~ 1 / TPOT: the TPOT interval [p e^lo, p e^hi] maps to [x e^-hi, x e^-lo]
        t_lo, t_hi = math.exp(lo), math.exp(hi)  # in units of the predicted TPOT
        if new:  # a new GPU: hull with the other step's interval around its own TPOT of the same deployment
            k = r.tok_s_per_gpu / r.tok_s_per_gpu_other_step  # the other step's TPOT / this step's
            klo, khi = _bounds(qk_new, r)
            t_lo, t_hi = min(t_lo, k * math.exp(klo)), max(t_hi, k * math.exp(khi))
        assert r.tok_s_per_gpu_lo == pytest.approx(r.tok_s_per_gpu / t_hi)
        assert r.tok_s_per_gpu_hi == pytest.approx(r.tok_s_per_gpu / t_lo)
        assert r.gpu_h_per_mtok_lo * r.tok_s_per_gpu_hi == pytest.approx(r.gpu_h_per_mtok * r.tok_s_per_gpu)
    assert set(comp.system_key) <= set(buyer.SYSTEMS) and (comp.tok_s_per_user >= 50).all()
    # the other step's throughput of each chosen deployment is its own retimed TPOT's
    g = comp[comp.system_key == "gb200"].iloc[0]
    front = search.best("qwen3-32b", 1024, 1024, search.SLA(2.0, 0.05), systems=("gb200",))
    pt = front[(front.tok_s_per_gpu == g.tok_s_per_gpu)].iloc[:1]
    t_k = search.retime(pt, "qwen3-32b", 1024, 1024, calibrations=search.fitted_serving(OTHER))[0]
    assert g.tok_s_per_gpu_other_step == pytest.approx(g.tok_s_per_gpu * float(pt.tpot_s.iloc[0]) / t_k)


def test_retime_with_the_searchs_own_calibration_is_the_identity():
    front = search.best("qwen3-32b", 1024, 1024, search.SLA(2.0, 0.05), systems=("b200_sxm", "gb200"))
    assert len(front) and (search.retime(front, "qwen3-32b", 1024, 1024) == front.tpot_s.to_numpy()).all()
    with pytest.raises(ValueError, match="isl"):
        search.retime(front, "qwen3-32b", 0, 1024)


def test_ratios_are_propagated_from_both_sides(comp):
    rat = buyer.ratios(comp)
    g = comp.set_index("system_key")
    row = rat[rat.ratio == "GB200 NVL72 / B200 HGX"].iloc[0]
    assert row.per_gpu == pytest.approx(g.tok_s_per_gpu["gb200"] / g.tok_s_per_gpu["b200_sxm"])
    sample_new, k_new = buyer._errors().samples_new, buyer._errors(OTHER).samples_new
    lo, hi = throughput_ratio_interval(row.per_gpu, sample_new, sample_new)
    k_ratio = g.tok_s_per_gpu_other_step["gb200"] / g.tok_s_per_gpu_other_step["b200_sxm"]
    klo, khi = throughput_ratio_interval(k_ratio, k_new, k_new)
    assert (row.per_gpu_lo, row.per_gpu_hi) == pytest.approx((min(lo, klo), max(hi, khi)))
    assert row.per_gpu_lo < row.per_gpu < row.per_gpu_hi


def test_the_reader_table_prints_to_the_intervals_precision(comp):
    t = buyer.table(comp)
    assert list(t.index.names) == ["model", "system"] and "output tok/s per GPU" in t.columns
    assert all("(" in v and "-" in v for v in t["output tok/s per GPU"])
    assert buyer.with_interval(123456.0, 100000.0, 150000.0) == "120,000 (100,000-150,000)"
    # the book's one form for a ratio: the unit after the value, the bounds bare (was "3.0 (2.6-3.5)x" in places)
    assert buyer.with_interval(3.04, 2.6, 3.5, "x") == "3.0x (2.6-3.5)"
    with pytest.raises(ValueError, match="finite"):
        buyer.with_interval(float("nan"), 1.0, 2.0)
    r = next(comp.itertuples())
    assert buyer.interval_text(r, "tok_per_joule") == buyer.with_interval(r.tok_per_joule, r.tok_per_joule_lo,
                                                                          r.tok_per_joule_hi)
    with pytest.raises(KeyError, match="no 'gpus' with gpus_lo and gpus_hi"):
        buyer.interval_text(r, "gpus")
    assert t.index.get_level_values("model")[0] == buyer.model_name(r.model)
    assert buyer.model_name("deepseek-v3") == "DeepSeek-R1"  # the model the serving rows measured


def test_the_best_measured_run_beside_each_figure_by_hand(comp):
    """The most output tokens/s per GPU a measured run gave at the rate or more, every GPU of its
    deployment counted: for DeepSeek-R1 on H100 at 50 tokens/s per user, a TP16 run over two nodes
    of 30 clients on three 16-GPU decode workers and one 16-GPU prefill worker at 19.93 ms a token
    (serving.csv). Rows the model leaves out never count: the database dump's TP 64 runs on H200,
    a tensor-parallel group over eight nodes that no run of its benchmark spanned."""
    import pandas as pd

    rows = pd.read_csv(buyer.__file__.rsplit("/", 1)[0] + "/data/serving.csv")
    r = rows[(rows.system == "h100_sxm") & (rows.model == "deepseek-v3") & (rows.concurrency == 30)
             & (rows.isl == 1024) & (rows.osl == 1024) & (rows.tp == 16) & rows.left_out.isna()]
    assert len(r) == 1
    r = r.iloc[0]
    best = buyer.best_measured("deepseek-r1", "h100_sxm", 50.0)
    assert best.gpus == 3 * 16 + 16 and best.tok_s_per_gpu == pytest.approx(30 * 1000 / r.tpot_ms / 64)
    assert best.left_out == ""
    h200 = rows[(rows.system == "h200_sxm") & (rows.tp == 64)]
    assert len(h200) and not buyer._measured_runs().source_id.isin(h200.source_id).any()
    assert buyer.best_measured("deepseek-r1", "h100_sxm", 1e4) is None  # no run that fast
    dense = buyer.best_measured("llama-3.1-70b", "h100_sxm", 50.0)  # the dense table's rows: one TP worker
    assert dense.gpus == dense.tp and dense.tok_s_per_gpu == pytest.approx(dense.concurrency * 1e3 / dense.tpot_ms / dense.tp)
    with pytest.raises(ValueError, match="system"):
        buyer.best_measured("deepseek-r1", "h800", 50.0)
    t = buyer.table(comp)  # beside each predicted figure, the best measured run at the level ("—": none)
    # an HGX point whose TP group spans nodes says so (H100's DeepSeek-R1 at 50 tokens/s per user is TEP16);
    # one that spreads attention DP over nodes, or any rack-wide group, has no such layout to flag
    from types import SimpleNamespace as Row

    assert buyer._over_nodes(Row(decode_shape=(16, 1, 16), system_key="h100_sxm")) == ", TP 16 over 2 nodes"
    assert buyer._over_nodes(Row(decode_shape=(1, 16, 16), system_key="h100_sxm")) == ""
    assert buyer._over_nodes(Row(decode_shape=(16, 1, 16), system_key="gb200")) == ""
    assert not t.deployment.str.contains("over").any()  # Qwen3-32B fits one node everywhere
    for r_, text in zip(comp.itertuples(), t["best measured run"]):
        m = buyer.best_measured(r_.model, r_.system_key, r_.min_tok_s_per_user)
        assert text == ("—" if m is None else f"{float(f'{m.tok_s_per_gpu:.2g}'):,g}")  # two figures, by hand


def test_ratio_curve_is_the_frontiers_ratio_at_each_interactivity():
    curve = buyer.ratio_curve("qwen3-32b", denominators=("b200_sxm",), users=(20.0, 50.0))
    front = search.best("qwen3-32b", 1024, 1024, search.SLA(2.0, 0.05), systems=("gb200", "b200_sxm"))
    for r in curve.itertuples():
        b = search.best_per_gpu(front, r.tok_s_per_user).set_index("system_key").tok_s_per_gpu
        assert r.per_gpu == pytest.approx(b["gb200"] / b["b200_sxm"])
        assert r.per_gpu_lo < r.per_gpu < r.per_gpu_hi
    from nvlmodel import plotting

    ax = plotting.plot_ratio_curve(curve).axes[0]
    assert "per user" in ax.get_xlabel() and "ratio" in ax.get_ylabel()


def test_two_levels_share_one_search_and_each_gets_its_rows(comp):
    both = buyer.comparison(models=("qwen3-32b",), min_tok_s_per_user=(50.0, 20.0))
    assert set(both.min_tok_s_per_user) == {50.0, 20.0}
    at50 = both[both.min_tok_s_per_user == 50.0].reset_index(drop=True)
    assert (at50.tok_s_per_gpu.to_numpy() == comp.tok_s_per_gpu.to_numpy()).all()  # the one-level answer
    at20 = both[both.min_tok_s_per_user == 20.0]
    assert (at20.tok_s_per_user >= 20.0).all() and (at20.tok_s_per_gpu.to_numpy() >= at50.tok_s_per_gpu.to_numpy()).all()
    with pytest.raises(ValueError, match="pass min_tok_s_per_user"):
        buyer.table(both)
    with pytest.raises(ValueError, match="one of"):
        buyer.table(both, 30.0)
    assert len(buyer.table(both, 20.0)) == (both.min_tok_s_per_user == 20.0).sum()
    view = buyer.ratio_table(buyer.ratios(both))
    assert list(view.columns) == ["at 50 tok/s/user (interactive)", "at 20 tok/s/user (throughput)"]
    cells = [v for v in view.to_numpy().ravel() if v != "—"]
    assert cells and all(re.fullmatch(r"[\d.,]+x \([\d.,]+-[\d.,]+\)( \*)?", v) for v in cells), cells


def test_dynamo_gains_are_the_searchs_and_the_simulations_ratios():
    from nvlmodel.serve.validate import CHAT_GAINS, chat_rack

    sla = search.SLA(2.0, 0.05)
    g = buyer.dynamo_gains("qwen3-32b", "gb200", sla=sla).set_index("feature")
    wb = search.what_buys("qwen3-32b", 1024, 1024, sla, 50.0, systems=("gb200",)).iloc[0]
    sample_new = buyer._errors().samples_new
    wk = search.what_buys("qwen3-32b", 1024, 1024, sla, 50.0, systems=("gb200",),
                          calibrations=search.fitted_serving(OTHER)).iloc[0]
    k_new = buyer._errors(OTHER).samples_new
    for feature, (with_, without) in buyer.SEARCH_GAINS.items():
        if feature in g.index:
            r = g.loc[feature]
            assert r.gain == pytest.approx(wb[with_] / wb[without])
            lo, hi = throughput_ratio_interval(r.gain, sample_new, sample_new)
            klo, khi = throughput_ratio_interval(wk[with_] / wk[without], k_new, k_new)  # GB200: hull over both steps
            assert (r.gain_lo, r.gain_hi) == pytest.approx((min(lo, klo), max(hi, khi)))
    needed = tuple(dict.fromkeys(v for pair in CHAT_GAINS.values() for v in pair))  # runs cached by dynamo_gains
    runs = [chat_rack(needed, model="llama-3.1-70b", seed=s)["goodput tok/s/GPU"] for s in (0, 1, 2)]
    for feature, (with_, without) in CHAT_GAINS.items():
        ratios = sorted(run[with_] / run[without] for run in runs)
        assert (g.loc[feature].gain, g.loc[feature].gain_lo, g.loc[feature].gain_hi) == pytest.approx(
            (ratios[1], ratios[0], ratios[2]))
    assert g.loc["KV-aware routing"].gain > 1.5  # turns land where their conversation is cached
    with pytest.raises(ValueError, match="system"):
        buyer.dynamo_gains("qwen3-32b", "gb300")


def test_the_buyers_interval_coverage_is_chapter_7s_check_of_the_serving_table():
    """The coverage the findings page quotes is the serving table's check with the intervals the
    buyer's comparison uses: step_coverage of those rows, widened by transfer_widening of them."""
    from nvlmodel.calibrate import STEP_MODELS
    from nvlmodel.calibrate.intervals import step_coverage

    d = load_measurements(table="serving")
    want = step_coverage(d, {s: search.fitted_serving(s) for s in STEP_MODELS}, widening=transfer_widening(d))
    got = buyer.interval_coverage()
    assert got.equals(want) and set(got[got.split == "held-out"].system) == {"b200_sxm", "gb200"}
    with pytest.raises(ValueError, match="step"):
        buyer.interval_coverage("measured")


def test_the_search_prints_each_figure_with_its_interval(capsys):
    """nvlmodel best prints TPOT and what goes as 1 / TPOT as ``value (lo-hi)``, the numbers of
    frontier_intervals (the comparison's intervals) at the precision each interval supports."""
    from nvlmodel.cli import main
    from nvlmodel.units import with_interval

    assert main(["best", "--model", "qwen3-32b", "--systems", "gb200", "--max-gpus", "8"]) == 0
    out = capsys.readouterr().out
    front = buyer.frontier_intervals(
        search.best("qwen3-32b", 1024, 1024, search.SLA(2.0, 0.05), systems=("gb200",), max_gpus=8),
        "qwen3-32b", 1024, 1024)
    r = front.iloc[0]
    assert r.tok_s_per_user_lo == pytest.approx(1 / r.tpot_hi_s) and r.tok_s_per_user_hi == pytest.approx(1 / r.tpot_lo_s)
    first = out.splitlines()[2]
    for text in (with_interval(r.tpot_s * 1e3, r.tpot_lo_s * 1e3, r.tpot_hi_s * 1e3),
                 with_interval(r.tok_s_per_gpu, r.tok_s_per_gpu_lo, r.tok_s_per_gpu_hi),
                 with_interval(r.gpu_h_per_mtok, r.gpu_h_per_mtok_lo, r.gpu_h_per_mtok_hi)):
        assert text in first
    assert "80 % interval" in out
    with pytest.raises(ValueError, match="frontier of nvlmodel.search.best"):
        buyer.frontier_intervals(front[["system"]], "qwen3-32b", 1024, 1024)
    with pytest.raises(ValueError, match="valid choices: roofline, kernels"):
        buyer.frontier_intervals(front, "qwen3-32b", 1024, 1024, step="fast")
