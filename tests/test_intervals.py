"""Prediction intervals from calibration residuals (nvlmodel.calibrate.intervals): quantiles by
hand, the intervals around a prediction, coverage, and that held-out rows never shape them."""

import math

import numpy as np
import pandas as pd
import pytest

from nvlmodel import calibrate as cal
from nvlmodel.calibrate import intervals as iv


def _pred(ratios_tpot, ratios_ttft, split="calibration", system="h100_sxm", mode="agg"):
    """Rows whose measured / predicted ratios are given (predicted 10 ms TPOT, 100 ms TTFT)."""
    n = len(ratios_tpot)
    return pd.DataFrame({"split": split, "system": system, "mode": mode, "kv_fits": True,
                         "tpot_pred_ms": 10.0, "tpot_ms": 10.0 * np.asarray(ratios_tpot),
                         "ttft_pred_ms": 100.0, "ttft_ms": 100.0 * np.asarray(ratios_ttft)})


def test_split_conformal_quantiles_by_hand():
    # 19 residuals log(1.01) .. log(1.19): the 80 % interval's bounds are the ceil(20 x 0.1) = 2nd and
    # ceil(20 x 0.9) = 18th smallest, log(1.02) and log(1.18)
    r = [1 + k / 100 for k in range(1, 20)]
    q = iv.residual_quantiles(_pred(r, r))
    lo, hi, n = q[("tpot", "agg")]
    assert (lo, hi, n) == (pytest.approx(math.log(1.02)), pytest.approx(math.log(1.18)), 19)
    out = iv.with_intervals(_pred([1.0], [1.0]), q)
    assert out.tpot_lo_ms[0] == pytest.approx(10.2) and out.tpot_hi_ms[0] == pytest.approx(11.8)
    # an extrapolated point: the log-width 1.5x about the same centre
    wide = iv.with_intervals(_pred([1.0], [1.0]), q, extrapolated=[True])
    mid, half = (math.log(1.02) + math.log(1.18)) / 2, (math.log(1.18) - math.log(1.02)) / 2 * 1.5
    assert wide.tpot_lo_ms[0] == pytest.approx(10 * math.exp(mid - half))
    assert wide.tpot_hi_ms[0] == pytest.approx(10 * math.exp(mid + half))


def test_a_regime_with_few_rows_borrows_the_pooled_quantiles():
    agg = _pred(np.linspace(0.9, 1.1, 30), np.linspace(0.9, 1.1, 30))
    dis = _pred([2.0] * 5, [2.0] * 5, mode="disagg")
    q = iv.residual_quantiles(pd.concat([agg, dis], ignore_index=True))
    pooled = iv.residual_quantiles(pd.concat([agg, dis], ignore_index=True).assign(mode="agg"))
    assert q[("ttft", "disagg")] == pooled[("ttft", "agg")]


def test_held_out_rows_do_not_shape_the_intervals():
    base = _pred(np.linspace(0.9, 1.1, 30), np.linspace(0.8, 1.2, 30))
    held = _pred([5.0] * 30, [0.1] * 30, split="held-out", system="b200_sxm")
    assert iv.residual_quantiles(pd.concat([base, held])) == iv.residual_quantiles(base)


def test_coverage_of_exchangeable_rows_is_near_nominal():
    rng = np.random.default_rng(0)
    r = np.exp(rng.normal(0, 0.1, 2000))
    d = pd.concat([_pred(r[:1000], r[:1000]), _pred(r[1000:], r[1000:], split="held-out", system="h200_sxm")])
    t = iv.coverage_table(d.reset_index(drop=True))
    held = t[t.split == "held-out"]
    assert ((held.coverage > 0.76) & (held.coverage < 0.84)).all()
    assert set(t.columns) >= {"split", "system", "metric", "nominal", "coverage", "rows"}


def test_new_gpus_take_the_in_sample_quantiles_widened():
    # log-bounds (-0.1, 0.3): centre 0.1, half-width 0.2; times 2 -> (-0.3, 0.5); times 0.5 -> (0.0, 0.2)
    q = {("tpot", "agg"): (-0.1, 0.3, 50), ("ttft", "agg"): (-0.1, 0.3, 50)}
    w = iv.new_system_quantiles(q, {"tpot": 2.0, "ttft": 0.5})
    assert w[("tpot", "agg")] == (pytest.approx(-0.3), pytest.approx(0.5), 50)
    assert w[("ttft", "agg")] == (pytest.approx(0.0), pytest.approx(0.2), 50)
    with pytest.raises(ValueError, match="metric"):
        iv.new_system_quantiles(q, {"tpot": 2.0})


def test_the_widening_is_the_least_that_holds_nominal_on_the_other_hopper_gpu():
    """transfer_widening is calibrated on the nested check alone: at its factor the widened hull
    holds at least nominal of the other Hopper GPU's rows, pooled."""
    d = cal.load_measurements()
    w = iv.transfer_widening(d)
    t = iv.nested_coverage(d)
    assert t.attrs["widening"] == w
    for m, s in w.items():
        rows = t[t.metric == m]
        assert (rows.widened * rows.rows).sum() / rows.rows.sum() >= iv.NOMINAL
        assert s in iv.WIDENING_GRID
    one_gpu = d[d.system != "h200_sxm"]
    with pytest.raises(ValueError, match="two calibration systems"):
        iv.transfer_widening(one_gpu)


def test_transfer_residuals_use_calibration_rows_only():
    d = cal.load_measurements()
    tr = iv.transfer_residuals(d)
    assert set(tr.split) == {"calibration"} and set(tr.system) <= set(cal.CALIBRATION_SYSTEMS)
    assert len(tr) > 0 and set(tr.engine) == {"vllm@2026-04-06"}  # the one engine measured on H100 and H200


def test_coverage_table_takes_given_quantiles():
    """Rows at measured / predicted 1.1: inside intervals of +-0.2 in log, outside intervals of
    +-0.05, whatever the rows' own errors would give (exactly 1.1, so their own quantiles hold all)."""
    p = _pred([1.1] * 20, [1.1] * 20)
    wide = {(m, r): (-0.2, 0.2, 20) for m in ("tpot", "ttft") for r in ("agg", "disagg")}
    narrow = {k: (-0.05, 0.05, 20) for k in wide}
    assert list(iv.coverage_table(p, by=("split",), quantiles=wide).coverage) == [1.0, 1.0]
    assert list(iv.coverage_table(p, by=("split",), quantiles=narrow).coverage) == [0.0, 0.0]
    assert list(iv.coverage_table(p, by=("split",)).coverage) == [1.0, 1.0]


def test_configuration_folds_keep_a_configuration_together():
    """Rows of one configuration (engine, model, GPU, parallelism, lengths) share a fold whatever
    their concurrency; three configurations of two rows each in three folds go one to a fold."""
    rows = pd.DataFrame({"engine": "e@x", "model": "m", "system": "h100_sxm", "tp": [1, 1, 2, 2, 4, 4],
                         "isl": 1024, "osl": 1024, "mode": "agg", "concurrency": [1, 8] * 3})
    fold = iv.configuration_folds(rows, folds=3, seed=7)
    assert fold[0] == fold[1] and fold[2] == fold[3] and fold[4] == fold[5]
    assert sorted(fold[::2]) == [0, 1, 2]
    assert list(iv.configuration_folds(rows, folds=3, seed=7)) == list(fold)  # deterministic
    for bad in ({"folds": 1}, {"folds": 2.5}, {"seed": "0"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            iv.configuration_folds(rows, **bad)


def test_configuration_residuals_predict_each_row_from_the_other_folds():
    """Every calibration row is predicted once, from a fit that never saw its configuration: one
    fold's predictions equal a fit on the other folds' rows, and differ from the fit on all rows."""
    d = cal.load_measurements()
    cv = iv.configuration_residuals(d, folds=3)
    rows = cal.calibration_rows(d)
    assert set(cv.split) == {"calibration"} and sorted(cv.source_id) == sorted(rows.source_id)
    fold = iv.configuration_folds(rows, folds=3)
    k = int(cv.fold.iloc[0])
    by_hand = cal.predictions(rows[fold == k], cal.fit_engines(rows[fold != k]))
    mine = cv[cv.fold == k].set_index("source_id").tpot_pred_ms
    assert np.allclose(mine.loc[by_hand.source_id].to_numpy(), by_hand.tpot_pred_ms.to_numpy())
    in_sample = cal.predictions(rows[fold == k], cal.fit_engines(rows)).tpot_pred_ms.to_numpy()
    assert not np.allclose(in_sample, by_hand.tpot_pred_ms.to_numpy())


def test_anchored_moves_each_deployment_by_its_anchors_miss():
    """Two deployments (TP 1 and TP 2, one worker each): the TP 1 anchor measured 2 ms slower and
    50 ms quicker to the first token than predicted, the TP 2 anchor 1 ms faster; each row moves by
    its own deployment's miss, and rows of a deployment with no anchor (TP 4; TP 1 on two workers)
    are left out."""
    def rows(tp, tpot, tpot_pred, ttft, ttft_pred, workers=1):
        return pd.DataFrame({"engine": "e@x", "model": "m", "tp": tp, "workers": workers, "tpot_ms": tpot,
                             "tpot_pred_ms": tpot_pred, "ttft_ms": ttft, "ttft_pred_ms": ttft_pred})

    anchors = pd.concat([rows([1], [12.0], [10.0], [100.0], [150.0]), rows([2], [6.0], [7.0], [80.0], [80.0])])
    pred = pd.concat([rows([1, 2, 4], [30.0, 20.0, 9.0], [25.0, 22.0, 9.0], [400.0, 300.0, 90.0],
                           [420.0, 310.0, 90.0]), rows([1], [30.0], [25.0], [400.0], [420.0], workers=2)])
    out = iv.anchored(pred, anchors)
    assert list(out.tp) == [1, 2] and list(out.workers) == [1, 1]
    assert list(out.tpot_pred_ms) == [25.0 + 2.0, 22.0 - 1.0] and list(out.ttft_pred_ms) == [420.0 - 50.0, 310.0]
    assert list(out.tpot_unanchored_pred_ms) == [25.0, 22.0]
    assert np.allclose(out.tpot_err_pct, [(27 / 30 - 1) * 100, (21 / 20 - 1) * 100])
    with pytest.raises(ValueError, match="one row per deployment"):
        iv.anchored(pred, pd.concat([anchors, anchors]))
    with pytest.raises(ValueError, match="anchors lacks columns"):
        iv.anchored(pred, anchors.drop(columns="ttft_pred_ms"))
    too_far = anchors.assign(ttft_pred_ms=[600.0, 80.0])  # the TP 1 anchor over-predicted by 500 ms
    with pytest.raises(ValueError, match="missed its TTFT by -500.0 ms, more than that row's prediction"):
        iv.anchored(pred, too_far)
    kept = iv.anchored(pred, too_far, nonpositive="keep")
    assert list(kept.ttft_anchor_failed) == [True, False] and kept.ttft_pred_ms.iloc[0] == 420.0 - 500.0
    assert list(iv.anchored_summary(kept.assign(system="s")).failed) == [1]
    with pytest.raises(ValueError, match="zero or below"):
        iv.anchored_band(kept, "ttft")


def test_one_anchor_per_engine_and_model_moves_all_its_deployments():
    """With anchor="engine and model", one row (TP 1, concurrency 1) moves the engine and model's
    rows of every parallelism on that GPU; another model's rows have no anchor; first_rows takes
    the lowest concurrency, then the smallest TP; an unknown kind of anchor is refused."""
    rows = pd.DataFrame({"engine": "e@x", "model": ["m", "m", "m", "n"], "system": "h100_sxm", "mode": "agg",
                         "tp": [2, 1, 4, 1], "concurrency": [1, 1, 8, 1], "source_id": ["a", "b", "c", "d"],
                         "tpot_ms": [9.0, 12.0, 30.0, 5.0], "tpot_pred_ms": [8.0, 10.0, 25.0, 5.0],
                         "ttft_ms": 100.0, "ttft_pred_ms": 100.0})
    first = iv.first_rows(rows[rows.model == "m"], "engine and model")
    assert list(first.source_id) == ["b"]
    out = iv.anchored(rows[rows.source_id.isin(["a", "c", "d"])], first, "engine and model")
    assert list(out.source_id) == ["a", "c"] and list(out.tpot_pred_ms) == [8.0 + 2.0, 25.0 + 2.0]
    with pytest.raises(ValueError, match="engine and model"):
        iv.anchored(rows, first, "engine")


def test_anchored_residuals_take_each_deployments_first_row_as_its_anchor():
    """The leave-one-GPU-out predictions (transfer_residuals), each deployment's row of lowest
    concurrency left out and its miss added to the deployment's other rows."""
    d = cal.load_measurements()
    tr = iv.transfer_residuals(d)
    tr = tr[tr.kv_fits]
    an = iv.anchored_residuals(d)
    key = iv._deployment_keys(tr)
    first = tr.sort_values(["concurrency", "source_id"]).groupby(key).head(1)
    assert not set(first.source_id) & set(an.source_id)
    assert sorted(an.source_id) == sorted(set(tr.source_id) - set(first.source_id))
    row = an.iloc[0]
    a = first[iv._deployment_keys(first) == iv._deployment_keys(an.iloc[[0]]).iloc[0]].iloc[0]
    base = tr.set_index("source_id").loc[row.source_id]
    assert row.tpot_pred_ms == pytest.approx(base.tpot_pred_ms + a.tpot_ms - a.tpot_pred_ms)
    assert row.ttft_pred_ms == pytest.approx(base.ttft_pred_ms + a.ttft_ms - a.ttft_pred_ms)


def test_leave_one_gpu_out_fits_are_kept_per_content():
    """transfer_residuals and transfer_widening share their fits (_fit_on): the same rows give the
    fit made from them, a copy of the rows hits the kept fit, and rows that differ in one
    measurement are fitted again."""
    rows = cal.calibration_rows(cal.load_measurements())
    rows = rows[rows.system == "h100_sxm"]
    first = iv._fit_on(rows, "roofline")
    assert first == cal.fit_engines(rows, "roofline")
    n = len(iv._FITS)
    assert iv._fit_on(rows.copy(), "roofline") == first and len(iv._FITS) == n
    changed = rows.copy()
    changed.iloc[0, changed.columns.get_loc("tpot_ms")] *= 3
    assert iv._fit_on(changed, "roofline") == cal.fit_engines(changed, "roofline") != first
    assert len(iv._FITS) == n + 1


def test_bad_nominal_is_refused():
    with pytest.raises(ValueError, match="nominal"):
        iv.residual_quantiles(_pred([1.0] * 20, [1.0] * 20), nominal=1.2)


def test_ratio_interval_by_hand():
    """A / B = 2 with residual samples {0} for A and {-0.1, 0, 0.1} for B: the measured ratio is
    2 exp(r_B - r_A), so its bounds are 2 e^-0.1 and 2 e^0.1 at nominal 100 % (the extremes)."""
    lo, hi = iv.throughput_ratio_interval(2.0, [0.0], [-0.1, 0.0, 0.1], nominal=0.999999)
    assert lo == pytest.approx(2 * math.exp(-0.1), rel=1e-4) and hi == pytest.approx(2 * math.exp(0.1), rel=1e-4)
    # a side predicted too slow (measured TPOT below predicted, r_A < 0) raises A's measured throughput
    lo, hi = iv.throughput_ratio_interval(2.0, [-0.2, -0.2], [0.0], nominal=0.5)
    assert lo == hi == pytest.approx(2 * math.exp(0.2))
    with pytest.raises(ValueError, match="ratio"):
        iv.throughput_ratio_interval(float("nan"), [0.0], [0.0])


def test_log_residuals_come_from_calibration_rows():
    base = _pred(np.linspace(0.9, 1.1, 30), np.linspace(0.9, 1.1, 30))
    held = _pred([5.0] * 30, [5.0] * 30, split="held-out", system="b200_sxm")
    r = iv.log_residuals(pd.concat([base, held]), "tpot")
    assert len(r) == 30 and r.max() == pytest.approx(math.log(1.1))


def test_a_new_gpu_takes_the_hull_of_both_step_models_intervals():
    """Two step models, each with its own residuals: a row of a GPU no fit has seen gets the hull of
    the two intervals around the two predictions; a calibration GPU's row keeps the first model's."""
    r = [1 + k / 100 for k in range(1, 20)]  # bounds log(1.02), log(1.18) (as above)
    base = _pred(r, r)
    rows = pd.concat([_pred([1.0], [1.0]), _pred([1.0], [1.0], split="held-out", system="b200_sxm")],
                     ignore_index=True)
    alt_rows = rows.assign(tpot_pred_ms=20.0, ttft_pred_ms=50.0)
    pred = pd.concat([base, rows], ignore_index=True)
    alt = pd.concat([base, alt_rows], ignore_index=True)
    q = iv.residual_quantiles(pred)
    out = iv.with_intervals(pred, q, alternative=(alt, q))
    cal_row, new_row = out.iloc[-2], out.iloc[-1]
    assert (cal_row.tpot_lo_ms, cal_row.tpot_hi_ms) == (pytest.approx(10.2), pytest.approx(11.8))
    # TPOT: [10.2, 11.8] and [20.4, 23.6] -> [10.2, 23.6]; TTFT: [102, 118] and [51, 59] -> [51, 118]
    assert (new_row.tpot_lo_ms, new_row.tpot_hi_ms) == (pytest.approx(10.2), pytest.approx(23.6))
    assert (new_row.ttft_lo_ms, new_row.ttft_hi_ms) == (pytest.approx(51.0), pytest.approx(118.0))
    # coverage: a new-GPU row measured at 21 ms TPOT lies inside the hull, outside the first model's
    pred.loc[pred.index[-1], "tpot_ms"] = alt.loc[alt.index[-1], "tpot_ms"] = 21.0
    both = iv.coverage_table(pred, alternative=alt).set_index(["split", "metric"]).coverage
    alone = iv.coverage_table(pred).set_index(["split", "metric"]).coverage
    assert (both[("held-out", "tpot")], alone[("held-out", "tpot")]) == (1.0, 0.0)
    with pytest.raises(ValueError, match="alternative"):
        iv.with_intervals(pred, q, alternative=(alt.iloc[:3], q))


def test_the_hull_rule_is_checked_on_calibration_rows_only():
    """nested_coverage fits on one Hopper GPU and scores the other: only calibration systems appear,
    and the hull (containing each model's interval) holds at least as many rows as one alone."""
    t = iv.nested_coverage(cal.load_measurements())
    assert set(t.scored) <= set(cal.CALIBRATION_SYSTEMS) and set(t.fitted_on) <= set(cal.CALIBRATION_SYSTEMS)
    assert len(t) == 4 and (t.hull >= t.alone).all() and (t.rows > 0).all()
    assert set(t.columns) >= {"alone", "hull", "widened"}
    assert iv.other_step("kernels") == "roofline"
    one_gpu = cal.load_measurements()
    empty = iv.nested_coverage(one_gpu[one_gpu.system != "h200_sxm"])  # no second Hopper GPU: nothing to score
    assert empty.empty and list(empty.columns) == list(t.columns)
    with pytest.raises(ValueError, match="step"):
        iv.other_step("measured")


def test_step_coverage_needs_both_step_models():
    with pytest.raises(ValueError, match="calibrations of step"):
        iv.step_coverage(cal.load_measurements(), {"roofline": cal.fitted()})


def test_one_models_widening_by_hand():
    """The simulation has one step model: its nested check widens its own interval alone. Bounds
    exp(+-1) around 1 and rows at log-ratios 0, 0.5, 1.5, 2, 3: four of five inside needs a half
    log-width of 2, a factor of 2."""
    y = np.exp([0.0, 0.5, 1.5, 2.0, 3.0])
    own = (np.full(5, math.exp(-1)), np.full(5, math.exp(1)))
    w = iv._widening_of([("h100_sxm", None, {m: (y, own, None) for m in cal.METRICS})], 0.8)
    assert w == {"tpot": 2.0, "ttft": 2.0}
    with pytest.raises(ValueError, match="or none does"):
        iv._widening_of([("h100_sxm", None, {m: (y, own, None) for m in cal.METRICS}),
                         ("h200_sxm", None, {m: (y, own, own) for m in cal.METRICS})], 0.8)


def test_the_simulations_intervals_by_hand():
    """replay_coverage reads the simulation's columns, not the static ones. Ten calibration rows
    at log(measured / simulated) -0.45 .. 0.45: the 80 % bounds are the 2nd and 10th smallest,
    -0.35 and 0.45. Held-out rows at 0, 0.5, -0.3, -0.4: two inside; widened 2x about the centre
    0.05 ([-0.75, 0.85]) all four."""
    from nvlmodel.serve.validate import replay_coverage

    def rows(r, split, system):
        sim = pd.DataFrame({"split": split, "system": system, "mode": "agg", "kv_fits": True,
                            "tpot_sim_ms": 10.0, "ttft_sim_ms": 100.0,
                            "tpot_ms": 10.0 * np.exp(r), "ttft_ms": 100.0 * np.exp(r)})
        return sim.assign(tpot_pred_ms=1e9, ttft_pred_ms=1e9)  # the static model's: not read

    rep = pd.concat([rows(np.linspace(-0.45, 0.45, 10), "calibration", "h100_sxm"),
                     rows(np.array([0.0, 0.5, -0.3, -0.4]), "held-out", "b200_sxm")], ignore_index=True)
    for factor, share in ((1.0, 0.5), (2.0, 1.0)):
        t = replay_coverage(rep, {"tpot": factor, "ttft": factor}).set_index(["system", "metric"]).coverage
        assert t[("b200_sxm", "tpot")] == t[("b200_sxm", "ttft")] == share
        assert t[("h100_sxm", "ttft")] == 0.9  # in sample: the 1st smallest lies below
