"""Prediction intervals from the calibration rows' own errors (conformal quantiles), and their coverage
on held-out rows.

For each metric (TPOT, TTFT) and regime (aggregated or disaggregated serving), the log-ratios
``r = log(measured / predicted)`` of the calibration rows (H100/H200, KV fits) are the model's
errors where it was fitted. An interval of nominal coverage ``c`` around a new prediction ``p`` is
``[p exp(q_lo), p exp(q_hi)]`` with ``q_lo``, ``q_hi`` the ``(1 - c)/2`` and ``(1 + c)/2``
quantiles of ``r`` (as split conformal prediction takes them, two-sided, with the finite-sample
rank correction ``ceil((n + 1) q) / n``; but from the rows the fit was made on, not rows held apart:
:func:`configuration_residuals` predicts each row by a fit that never saw its configuration, and
chapter 7 checks that these intervals hold about the nominal share of those predictions too). A
prediction beyond the measured serving envelope (:func:`nvlmodel.calibrate.beyond_envelope`) gets
its log-interval widened by :data:`EXTRAPOLATION_WIDENING` (an assumption: no row measures how much
wider it should be).

Held-out rows (B200, GB200) are not exchangeable with Hopper rows: a prediction for a GPU the fit
never saw errs more than one for the GPUs it was fitted on, and by how much, only the two Hopper
GPUs can say, each predicted by a fit on the other (still calibration rows only).

Two step models are fitted on the same rows (:data:`nvlmodel.calibrate.STEP_MODELS`: the roofline
and measured kernels). Where they were fitted they agree about as well as either fits; on a GPU
neither has seen they can part, and nothing in the calibration rows says which transfers. So a
row of a new GPU takes the *hull* of the two models' intervals, each around its own prediction
(``alternative=`` of :func:`with_intervals` and :func:`coverage_table`). How wide the hull must be
is measured on the same leave-one-GPU-out check (:func:`nested_coverage`): both models fitted on
one Hopper GPU, their own intervals widened by a factor ``s`` on the log-width, the other GPU's
rows scored; :func:`transfer_widening` takes the least ``s`` at which the hull holds the nominal
share, per metric, and every new GPU's intervals are the fit's own widened by it
(:func:`new_system_quantiles`). Where the hull already holds more than nominal, ``s`` is below 1:
the intervals narrow. The coverage measured on held-out rows (:func:`coverage_table`) is the test
of whether the intervals can be trusted on a new GPU.
"""

from __future__ import annotations

import math

import numpy as np

from ..units import require_choice
from .model import METRICS, STATIC_STEP

#: Nominal coverage of the book's intervals.
NOMINAL = 0.8
#: Factor on the log-width of an interval whose point lies beyond the measured serving envelope.
EXTRAPOLATION_WIDENING = 1.5
#: The factors on an interval's log-width a new GPU's widening is chosen from (:func:`transfer_widening`).
WIDENING_GRID = np.round(np.arange(0.25, 4.0001, 0.01), 2)


def _regime(pred) -> np.ndarray:
    return pred["mode"].fillna("agg").to_numpy() if "mode" in pred.columns else np.full(len(pred), "agg")


def _log_errors(pred: "pd.DataFrame", metric: str) -> tuple[np.ndarray, np.ndarray]:  # noqa: F821
    """``log(measured / predicted)`` of ``metric`` over the calibration rows of ``pred`` whose KV
    fits (the rows the errors are taken from), and each row's regime."""
    cal = pred[(pred.split == "calibration") & pred.kv_fits]
    return np.log(cal[f"{metric}_ms"].to_numpy(float) / cal[f"{metric}_pred_ms"].to_numpy(float)), _regime(cal)


def _stretch(lo, hi, factor):
    """Log-bounds ``(lo, hi)`` with their width times ``factor`` about their centre."""
    mid, half = (lo + hi) / 2, (hi - lo) / 2 * factor
    return mid - half, mid + half


def widen(lo, hi, extrapolated):
    """Log-bounds ``(lo, hi)`` with their width times :data:`EXTRAPOLATION_WIDENING` about their
    centre where ``extrapolated`` (scalars or arrays)."""
    return _stretch(lo, hi, np.where(extrapolated, EXTRAPOLATION_WIDENING, 1.0))


def _rank_quantile(r: np.ndarray, q: float) -> float:
    """The split-conformal quantile: the ceil((n + 1) q)-th smallest of ``n`` residuals (clipped
    to the sample), so that a new exchangeable residual lies below it with probability >= q."""
    r = np.sort(r)
    n = len(r)
    k = min(max(math.ceil((n + 1) * q), 1), n)
    return float(r[k - 1])


def _leave_one_system_out(measurements: "pd.DataFrame"):  # noqa: F821
    """For each calibration system with an engine also measured elsewhere: (the system, the other
    calibration systems' rows, this system's rows of those engines), calibration rows only."""
    from .data import calibration_rows
    from .model import CALIBRATION_SYSTEMS

    rows = calibration_rows(measurements)
    for system in CALIBRATION_SYSTEMS:
        others = rows[rows.system != system]
        target = rows[(rows.system == system) & rows.engine.isin(set(others.engine))]
        if not target.empty:
            yield system, others, target


#: Fits of :func:`_fit_on` kept for the rows they were made on (a content digest of the rows and the step):
#: the ratio samples (:func:`transfer_residuals`) and the width of a new GPU's intervals
#: (:func:`transfer_widening`) stand on the same leave-one-GPU-out fits. The key holds the rows, not
#: the model: code that changes the model for a while (``scripts/tried_on_calibration.py``'s
#: variants) clears it first, or it reads the fits of the model before.
_FITS: dict = {}


def _fit_on(rows: "pd.DataFrame", step: str) -> dict:  # noqa: F821
    """:func:`nvlmodel.calibrate.fit_engines` of ``rows`` with ``step``, kept per content of the
    rows (a read-only dict of frozen calibrations; at most 16 kept)."""
    from .fit import fit_engines, rows_digest

    key = (rows_digest(rows), step)
    if key not in _FITS:
        if len(_FITS) >= 16:
            _FITS.pop(next(iter(_FITS)))
        _FITS[key] = fit_engines(rows, step)
    return dict(_FITS[key])


def transfer_residuals(measurements: "pd.DataFrame", step: str = STATIC_STEP) -> "pd.DataFrame":  # noqa: F821
    """Predictions of each calibration system's rows by a fit on the other calibration systems'
    rows alone (:func:`nvlmodel.calibrate.fit_engines`; only engines measured on both), in the
    form of :func:`nvlmodel.calibrate.predictions`: the model's errors on a GPU its fit never saw,
    without touching a held-out row."""
    import pandas as pd

    from .fit import predictions

    out = []
    for _, others, target in _leave_one_system_out(measurements):
        out.append(predictions(target, _fit_on(others, step)))  # its engines are all fitted on the others
    if not out:
        raise ValueError("no engine is measured on two calibration systems: no transfer errors to take")
    return pd.concat(out, ignore_index=True)


def _group_keys(frame: "pd.DataFrame", columns: tuple[str, ...]) -> "pd.Series":  # noqa: F821
    """Each row's values of ``columns`` (those ``frame`` has) as one string: the key rows of one
    configuration (:func:`configuration_folds`) or one anchor's group (:func:`anchored`) share."""
    cols = [c for c in columns if c in frame.columns]
    return frame[cols].map(str).agg("|".join, axis=1)


#: What makes a calibration configuration (:func:`configuration_residuals`): one engine, model, GPU,
#: parallelism and lengths; its rows differ in concurrency.
CONFIGURATION: tuple[str, ...] = ("engine", "model", "system", "tp", "attention_dp", "ep", "isl", "osl", "mode")
#: Folds of :func:`configuration_residuals`, and the seed that shuffles the configurations into them.
CV_FOLDS, CV_SEED = 5, 0


def configuration_folds(rows: "pd.DataFrame", folds: int = CV_FOLDS, seed: int = CV_SEED) -> np.ndarray:  # noqa: F821
    """The fold (0 to ``folds - 1``) of each row: its configuration's (:data:`CONFIGURATION`), the
    configurations shuffled from ``seed`` and dealt round, so a configuration's rows share a fold
    and the folds hold about as many configurations each."""
    import pandas as pd

    from ..units import require_positive_int

    if require_positive_int("folds", folds) < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if rows.empty:
        return np.zeros(0, dtype=int)
    groups = pd.factorize(_group_keys(rows, CONFIGURATION))[0]
    return np.random.default_rng(seed).permutation(groups.max() + 1)[groups] % folds


def configuration_residuals(measurements: "pd.DataFrame", step: str = STATIC_STEP, folds: int = CV_FOLDS,  # noqa: F821
                            seed: int = CV_SEED) -> "pd.DataFrame":  # noqa: F821
    """Predictions of every calibration row by a fit on the other folds' configurations
    (:func:`configuration_folds`), in the form of :func:`nvlmodel.calibrate.predictions` with the
    row's ``fold``: the model's errors on configurations its fit has not seen, on the GPUs it has.
    In sample, a parameter the fit may set to zero is hard to refute (the fit takes it only where it
    lowers the errors it minimises); here it can be. An engine left with fewer rows to fit in a fold
    than :func:`nvlmodel.calibrate.fit` needs is not predicted there."""
    import pandas as pd

    from .data import calibration_rows
    from .fit import MIN_FIT_ROWS, fit_engines, predictions

    rows = calibration_rows(measurements)
    fold = configuration_folds(rows, folds, seed)
    out = []
    for k in range(folds):
        train, test = rows[fold != k], rows[fold == k]
        n = train.engine.value_counts()
        cal = fit_engines(train[train.engine.isin(n[n >= MIN_FIT_ROWS].index)], step)
        test = test[test.engine.isin(cal)]
        if len(test):
            out.append(predictions(test, cal).assign(fold=k))
    if not out:
        raise ValueError(f"no calibration row can be predicted from the other {folds - 1} folds: "
                         f"each needs an engine with {MIN_FIT_ROWS} rows or more to fit outside its fold")
    return pd.concat(out, ignore_index=True)


#: What makes one deployment (:func:`anchored`): its configuration (:data:`CONFIGURATION`) and its
#: workers, the disaggregated prefill pool's included; its rows differ in concurrency.
DEPLOYMENT: tuple[str, ...] = CONFIGURATION + ("workers", "prefill_tp", "prefill_attention_dp", "prefill_ep",
                                               "prefill_workers")


#: What one anchor stands for (:func:`anchored`): ``deployment``, one measured row per deployment
#: (:data:`DEPLOYMENT`); ``engine and model``, one per engine, model, GPU and mode (aggregated or
#: disaggregated), whatever its parallelism and lengths.
ANCHORS: dict[str, tuple[str, ...]] = {"deployment": DEPLOYMENT,
                                       "engine and model": ("engine", "model", "system", "mode")}


def _deployment_keys(frame: "pd.DataFrame", anchor: str = "deployment") -> "pd.Series":  # noqa: F821
    """Each row's group under ``anchor`` (:data:`ANCHORS`) as one string (:func:`_group_keys`)."""
    return _group_keys(frame, ANCHORS[require_choice("anchor", anchor, ANCHORS)])


def anchored(pred: "pd.DataFrame", anchors: "pd.DataFrame", anchor: str = "deployment",  # noqa: F821
             nonpositive: str = "raise") -> "pd.DataFrame":  # noqa: F821
    """``pred`` (:func:`nvlmodel.calibrate.predictions`) with each row's predicted TPOT and TTFT
    moved by what its anchor missed, in milliseconds: ``anchors`` holds one measured and
    predicted row per deployment (:data:`DEPLOYMENT`; the same columns; ``anchor="engine and
    model"``: one per engine, model, GPU and mode, :data:`ANCHORS`), and every row of ``pred`` of
    that group gets ``measured - predicted`` of its anchor added to its prediction. An offset, not
    a factor: what a GPU's engine build costs beyond the model is mostly fixed costs, per step and
    per request (chapter 8). Rows of a group without an anchor are left out; the predictions
    before the move stay as ``{metric}_unanchored_pred_ms`` and ``{metric}_unanchored_err_pct``,
    and ``{metric}_err_pct`` is recomputed. A move that would take a prediction to zero or below
    (the offset cannot describe that row) is refused (``nonpositive="raise"``), or kept, and
    counted in ``{metric}_anchor_failed`` (``"keep"``: how often an anchor fails is part of what
    it buys).

    >>> import pandas as pd
    >>> a = pd.DataFrame({"engine": ["e"], "tp": [1], "tpot_ms": [12.0], "tpot_pred_ms": [10.0],
    ...                   "ttft_ms": [100.0], "ttft_pred_ms": [150.0]})
    >>> p = a.assign(tpot_ms=[30.0], tpot_pred_ms=[25.0], ttft_ms=[400.0], ttft_pred_ms=[420.0])
    >>> out = anchored(p, a)  # TPOT 25 + 2 ms, TTFT 420 - 50 ms
    >>> float(out.tpot_pred_ms.iloc[0]), float(out.ttft_pred_ms.iloc[0]), round(float(out.tpot_err_pct.iloc[0]), 6)
    (27.0, 370.0, -10.0)
    """
    require_choice("nonpositive", nonpositive, ("raise", "keep"))
    need = [f"{m}_{k}" for m in METRICS for k in ("ms", "pred_ms")]
    for name, frame in (("pred", pred), ("anchors", anchors)):
        missing = [c for c in need + ["engine"] if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks columns {missing}: it must hold measured and predicted TPOT and TTFT")
    keys = _deployment_keys(anchors, anchor)
    if keys.duplicated().any():
        raise ValueError(f"anchors must hold one row per {anchor} ({', '.join(ANCHORS[anchor])}); "
                         f"repeated: {sorted(set(keys[keys.duplicated()]))[:3]}")
    shift = {m: dict(zip(keys, anchors[f"{m}_ms"].to_numpy(float) - anchors[f"{m}_pred_ms"].to_numpy(float)))
             for m in METRICS}
    own = _deployment_keys(pred, anchor) if len(pred) else pred.index.to_series(dtype=str)
    out = pred[own.isin(shift[METRICS[0]]).to_numpy()].copy()
    own = own[own.isin(shift[METRICS[0]])]
    for m in METRICS:
        moved = out[f"{m}_pred_ms"].to_numpy(float) + own.map(shift[m]).to_numpy(float)
        if nonpositive == "raise" and (moved <= 0).any():
            i = int(np.argmax(moved <= 0))
            raise ValueError(f"the anchor of row {out.index[i]!r} missed its {m.upper()} by "
                             f"{own.map(shift[m]).iloc[i]:+.1f} ms, more than that row's prediction "
                             f"({out[f'{m}_pred_ms'].iloc[i]:.1f} ms): an offset cannot describe that {anchor}")
        out[f"{m}_unanchored_pred_ms"] = out[f"{m}_pred_ms"]
        out[f"{m}_unanchored_err_pct"] = (out[f"{m}_pred_ms"] / out[f"{m}_ms"] - 1) * 100
        out[f"{m}_pred_ms"] = moved
        out[f"{m}_err_pct"] = (out[f"{m}_pred_ms"] / out[f"{m}_ms"] - 1) * 100
        out[f"{m}_anchor_failed"] = moved <= 0
    return out


def first_rows(pred: "pd.DataFrame", anchor: str = "deployment") -> "pd.DataFrame":  # noqa: F821
    """Each group's (``anchor``, :data:`ANCHORS`) row of lowest concurrency in ``pred`` (ties: the
    smallest ``tp``, then the lowest ``source_id``): the anchors :func:`anchored_residuals` takes,
    the cheapest deployment of the group at its lightest load."""
    if pred.empty:
        return pred
    order = [c for c in ("concurrency", "tp", "source_id") if c in pred.columns]
    return pred.sort_values(order).groupby(_deployment_keys(pred, anchor), sort=False).head(1)


def anchored_on_first_rows(pred: "pd.DataFrame", anchor: str = "deployment") -> "pd.DataFrame":  # noqa: F821
    """``pred``'s rows moved by their group's first row (:func:`first_rows`, left out), the moves
    that reach zero or below kept and counted (:func:`anchored` with ``nonpositive="keep"``): how
    :func:`anchored_residuals` and the simulation's
    (:func:`nvlmodel.serve.validate.sim_anchored_residuals`) score one measurement per group."""
    first = first_rows(pred, anchor)
    return anchored(pred.drop(first.index), first, anchor, nonpositive="keep")


def anchored_residuals(measurements: "pd.DataFrame", step: str = STATIC_STEP,  # noqa: F821
                       anchor: str = "deployment") -> "pd.DataFrame":  # noqa: F821
    """:func:`transfer_residuals` with one measurement on the GPU predicted: each Hopper GPU's
    rows (KV fits) predicted by a fit on the other's alone, each group's (``anchor``,
    :data:`ANCHORS`: per deployment, or per engine and model) first row (:func:`first_rows`) taken
    as its anchor (:func:`anchored`: the others moved by what the fit missed on it) and left out of
    the result. Groups of one row have nothing left to score; a row its anchor moves to zero or
    below stays, an error of -100 % or more, and is counted (``{metric}_anchor_failed``).
    Calibration rows only: what one measured point per deployment (or per engine and model) on a
    new GPU buys."""
    import pandas as pd

    from .fit import predictions

    out = []
    for _, others, target in _leave_one_system_out(measurements):
        pred = predictions(target, _fit_on(others, step))
        out.append(anchored_on_first_rows(pred[pred.kv_fits], anchor))
    if not out:
        raise ValueError("no engine is measured on two calibration systems: no transfer errors to take")
    return pd.concat(out, ignore_index=True)


def anchored_summary(anchored_rows: "pd.DataFrame", by: tuple[str, ...] = ("system",)) -> "pd.DataFrame":  # noqa: F821
    """Median absolute TPOT and TTFT errors (percent) of :func:`anchored` rows before and after the
    move, per ``by`` group: columns ``rows``, ``{metric}_before``, ``{metric}_after``, and
    ``failed``, the rows whose TPOT or TTFT the move took to zero or below (counted among the
    errors after it, each at -100 % or more)."""
    for col in by:
        require_choice("group column", col, tuple(anchored_rows.columns))
    mdape = lambda x: x.abs().median()  # noqa: E731
    d = anchored_rows.assign(failed=np.any([anchored_rows.get(f"{m}_anchor_failed", False) for m in METRICS], axis=0))
    return d.groupby(list(by)).agg(
        rows=(f"{METRICS[0]}_ms", "size"),
        **{f"{m}_{when}": (f"{m}{infix}_err_pct", mdape) for m in METRICS
           for when, infix in (("before", "_unanchored"), ("after", ""))},
        failed=("failed", "sum"))


def anchored_band(anchored_rows: "pd.DataFrame", metric: str, nominal: float = NOMINAL) -> dict:  # noqa: F821
    """The central ``nominal`` band of measured / predicted ``metric`` over :func:`anchored` rows,
    pooled, before and after the move: ``{"before": (lo, hi), "after": (lo, hi)}`` (quantiles of
    the log-ratios, interpolated there: the two ratios 2 and 1/2 give sqrt(2) and its inverse at 50 %).

    >>> import pandas as pd
    >>> a = pd.DataFrame({"tpot_ms": [10.0, 10.0], "tpot_pred_ms": [10.0, 10.0], "tpot_unanchored_pred_ms": [5.0, 20.0]})
    >>> {k: tuple(round(x, 2) for x in v) for k, v in anchored_band(a, "tpot", 0.5).items()}  # ratios 2 and 1/2
    {'before': (0.71, 1.41), 'after': (1.0, 1.0)}
    """
    require_choice("metric", metric, METRICS)
    if not 0 < nominal < 1:
        raise ValueError(f"nominal coverage must be in (0, 1), got {nominal!r}")
    if (anchored_rows[f"{metric}_pred_ms"].to_numpy(float) <= 0).any():
        raise ValueError(f"some rows' moved {metric.upper()} is zero or below: no band of ratios to take")
    out = {}
    for when, col in (("before", f"{metric}_unanchored_pred_ms"), ("after", f"{metric}_pred_ms")):
        r = np.log(anchored_rows[f"{metric}_ms"].to_numpy(float) / anchored_rows[col].to_numpy(float))
        lo, hi = np.exp(np.quantile(r, [(1 - nominal) / 2, (1 + nominal) / 2]))
        out[when] = (float(lo), float(hi))
    return out


def hull(a, b):
    """The hull of two intervals ``(lo, hi)`` (numbers or arrays): the lower of the lows and the
    higher of the highs (numbers for numbers). How a GPU no fit has seen combines the two step
    models' intervals.

    >>> hull((1.0, 2.0), (1.5, 3.0))
    (1.0, 3.0)
    """
    lo, hi = np.minimum(a[0], b[0]), np.maximum(a[1], b[1])
    return (float(lo), float(hi)) if np.ndim(lo) == np.ndim(hi) == 0 else (lo, hi)


def other_step(step: str) -> str:
    """The step model that is not ``step`` (:data:`nvlmodel.calibrate.STEP_MODELS` holds two)."""
    from .model import STEP_MODELS

    require_choice("step", step, STEP_MODELS)
    return next(s for s in STEP_MODELS if s != step)


def _nested(measurements: "pd.DataFrame", step: str, nominal: float):  # noqa: F821
    """For each calibration GPU: (it, the GPU(s) fitted on, its rows) and per metric its measured
    values with ``step``'s and the other step model's intervals, both fitted on the other GPU and
    taken from that fit's own rows (the nested check of the hull rule; calibration rows only)."""
    from .fit import predictions

    alt_step = other_step(step)
    for system, fitted_on, scored in _leave_one_system_out(measurements):
        b = {}
        for s_ in (step, alt_step):
            cal = _fit_on(fitted_on, s_)
            q = residual_quantiles(predictions(fitted_on, cal), nominal)
            b[s_] = _bounds(predictions(scored, cal), q, None, None)
        yield system, fitted_on, {m: (scored[f"{m}_ms"].to_numpy(float), b[step][m], b[alt_step][m]) for m in METRICS}


def _scaled(bounds, s):
    """Bounds ``(lo, hi)`` (ms, arrays) with their log-width times ``s`` about their log-centre."""
    lo, hi = _stretch(np.log(bounds[0]), np.log(bounds[1]), s)
    return np.exp(lo), np.exp(hi)


def nested_coverage(measurements: "pd.DataFrame", step: str = STATIC_STEP,  # noqa: F821
                    nominal: float = NOMINAL) -> "pd.DataFrame":  # noqa: F821
    """The hull rule's check on calibration rows alone: each calibration GPU's rows predicted by
    both step models fitted on the other calibration GPU only, with intervals from that fit's own
    rows; the share inside ``step``'s interval alone, inside the hull of both, and inside that hull
    widened by :func:`transfer_widening` (the rule a new GPU's intervals follow). Columns
    ``scored``, ``fitted_on``, ``metric``, ``rows``, ``alone``, ``hull``, ``widened``; the factors
    themselves in ``attrs["widening"]`` (what :func:`transfer_widening` returns for these rows)."""
    import pandas as pd

    parts = list(_nested(measurements, step, nominal))
    w = _widening_of(parts, nominal) if parts else {}
    out = []
    for system, fitted_on, per_metric in parts:
        for m, (y, own, alt) in per_metric.items():
            (lo, hi), (hlo, hhi) = own, hull(own, alt)
            (wlo, whi) = hull(_scaled(own, w[m]), _scaled(alt, w[m]))
            out.append({"scored": system, "fitted_on": ", ".join(sorted(set(fitted_on.system))), "metric": m,
                        "rows": len(y), "alone": float(((y >= lo) & (y <= hi)).mean()),
                        "hull": float(((y >= hlo) & (y <= hhi)).mean()),
                        "widened": float(((y >= wlo) & (y <= whi)).mean())})
    t = pd.DataFrame(out, columns=["scored", "fitted_on", "metric", "rows", "alone", "hull", "widened"])
    t.attrs["widening"] = w
    return t


def _widening_of(parts, nominal: float) -> dict[str, float]:
    """:func:`transfer_widening` from the nested check's parts (:func:`_nested`): per metric, the
    least factor on :data:`WIDENING_GRID` at which the widened hull holds ``nominal`` of the rows of
    every direction pooled. A part whose other model's bounds are ``None`` has one model: its own
    interval is widened alone (the simulation's, :func:`nvlmodel.serve.validate.sim_transfer_widening`)."""
    out = {}
    for m in METRICS:
        y = np.concatenate([p[2][m][0] for p in parts])
        own = tuple(np.concatenate([p[2][m][1][i] for p in parts]) for i in (0, 1))
        single = any(p[2][m][2] is None for p in parts)
        if single and not all(p[2][m][2] is None for p in parts):
            raise ValueError("every part of the nested check needs the other model's bounds, or none does")
        alt = None if single else tuple(np.concatenate([p[2][m][2][i] for p in parts]) for i in (0, 1))
        out[m] = float(WIDENING_GRID[-1])
        for s in WIDENING_GRID:
            lo, hi = _scaled(own, s) if alt is None else hull(_scaled(own, s), _scaled(alt, s))
            if ((y >= lo) & (y <= hi)).mean() >= nominal:
                out[m] = float(s)
                break
    return out


def transfer_widening(measurements: "pd.DataFrame", nominal: float = NOMINAL) -> dict[str, float]:  # noqa: F821
    """``{metric: s}``: the factor on the log-width of a fit's own intervals that a prediction for a
    GPU outside the calibration set takes. It is calibrated on the nested check
    (:func:`nested_coverage`): each Hopper GPU's rows predicted by both step models fitted on the
    other one, the hull of their intervals widened by ``s`` about each centre; ``s`` is the least
    on :data:`WIDENING_GRID` at which the hull holds ``nominal`` of those rows, both directions
    pooled (the grid's largest if none does). Below 1 where the fits' own intervals already hold
    more than ``nominal`` of the other GPU's rows. Calibration rows only."""
    parts = list(_nested(measurements, "roofline", nominal))
    if not parts:
        raise ValueError("no engine is measured on two calibration systems: no transfer to calibrate the width on")
    return _widening_of(parts, nominal)


def residual_quantiles(pred: "pd.DataFrame", nominal: float = NOMINAL) -> dict:  # noqa: F821
    """``{(metric, regime): (q_lo, q_hi, n)}``: quantiles of ``log(measured / predicted)`` over the
    calibration rows of ``pred`` (:func:`nvlmodel.calibrate.predictions`, or
    :func:`transfer_residuals`) whose KV cache fits. A regime with fewer than 10 such rows borrows
    the pooled quantiles of the metric."""
    if not 0 < nominal < 1:
        raise ValueError(f"nominal coverage must be in (0, 1), got {nominal!r}")
    lo_q, hi_q = (1 - nominal) / 2, (1 + nominal) / 2
    out = {}
    for m in METRICS:
        r_all, regimes = _log_errors(pred, m)
        if not len(r_all):
            raise ValueError("no calibration rows whose KV fits: nothing to take the errors from")
        pooled = (_rank_quantile(r_all, lo_q), _rank_quantile(r_all, hi_q), len(r_all))
        for regime in ("agg", "disagg"):
            r = r_all[regimes == regime]
            out[(m, regime)] = ((_rank_quantile(r, lo_q), _rank_quantile(r, hi_q), len(r)) if len(r) >= 10
                                else pooled)
    return out


def new_system_quantiles(in_sample: dict, widening: dict) -> dict:
    """The quantiles a prediction for a GPU outside the calibration set uses: per metric and regime
    the in-sample ones with their log-width times the metric's factor (:func:`transfer_widening`)
    about their centre.

    >>> new_system_quantiles({("tpot", "agg"): (-0.25, 0.75, 50)}, {"tpot": 1.5})
    {('tpot', 'agg'): (-0.5, 1.0, 50)}
    """
    out = {}
    for (m, regime), (lo, hi, n) in in_sample.items():
        s = widening[require_choice("metric of the widening", m, tuple(widening))]
        out[(m, regime)] = (*_stretch(lo, hi, s), n)
    return out


def _bounds(pred, quantiles: dict, new_system_quantiles: dict | None, extrapolated) -> dict:
    """``{metric: (lo_ms, hi_ms)}`` arrays: each row's interval around its own prediction."""
    from .model import CALIBRATION_SYSTEMS

    regimes = _regime(pred)
    new = ~pred.system.isin(CALIBRATION_SYSTEMS).to_numpy() if new_system_quantiles is not None else np.zeros(
        len(pred), bool)
    ext = np.zeros(len(pred), bool) if extrapolated is None else np.asarray(extrapolated, bool)
    out = {}
    for m in METRICS:
        pick = [(new_system_quantiles if n else quantiles)[(m, g)] for g, n in zip(regimes, new)]
        lo, hi = widen(np.array([q[0] for q in pick]), np.array([q[1] for q in pick]), ext)
        p = pred[f"{m}_pred_ms"].to_numpy(float)
        out[m] = (p * np.exp(lo), p * np.exp(hi))
    return out


def _require_same_rows(pred, alt_pred) -> None:
    if len(alt_pred) != len(pred) or not alt_pred.index.equals(pred.index):
        raise ValueError("alternative predictions must cover the same rows, in the same order, as pred")


def with_intervals(pred: "pd.DataFrame", quantiles: dict, extrapolated=None,  # noqa: F821
                   new_system_quantiles: dict | None = None,
                   alternative: "tuple[pd.DataFrame, dict] | None" = None) -> "pd.DataFrame":  # noqa: F821
    """``pred`` with ``{metric}_lo_ms`` and ``{metric}_hi_ms``: each prediction's interval from
    ``quantiles`` (:func:`residual_quantiles`) of its metric and regime, or for a row of a system
    outside the calibration set from ``new_system_quantiles`` (:func:`new_system_quantiles`) when
    given; rows where ``extrapolated`` (a bool array, default none) is true get the log-width
    times :data:`EXTRAPOLATION_WIDENING` about the interval's centre. ``alternative``: the same
    rows predicted by the other step model and the quantiles its new-system rows use; a row of a
    system outside the calibration set then takes the hull of both models' intervals."""
    from .model import CALIBRATION_SYSTEMS

    out = pred.copy()
    own = _bounds(pred, quantiles, new_system_quantiles, extrapolated)
    if alternative is not None:
        alt_pred, alt_q = alternative
        _require_same_rows(pred, alt_pred)
        other = _bounds(alt_pred, alt_q, alt_q, extrapolated)
        new = ~pred.system.isin(CALIBRATION_SYSTEMS).to_numpy()
        own = {m: tuple(np.where(new, h, o) for h, o in zip(hull(own[m], other[m]), own[m])) for m in own}
    for m, (lo, hi) in own.items():
        out[f"{m}_lo_ms"], out[f"{m}_hi_ms"] = lo, hi
    return out


def coverage_table(pred: "pd.DataFrame", nominal: float = NOMINAL,  # noqa: F821
                   by: tuple[str, ...] = ("split", "system"), widening: "dict | None" = None,
                   alternative: "pd.DataFrame | None" = None,
                   quantiles: "dict | None" = None) -> "pd.DataFrame":  # noqa: F821
    """The share of rows (KV fits) whose measured TPOT and TTFT lie inside their ``nominal``
    intervals, per ``by`` group and metric: columns ``by``, ``metric``, ``nominal``, ``coverage``,
    ``rows``. The intervals come from the calibration rows of ``pred`` itself, or from
    ``quantiles`` (:func:`residual_quantiles` of other predictions, at the same ``nominal``) when
    given; for rows of a new system widened by ``widening`` (:func:`transfer_widening`) when given.
    ``alternative``: the same rows predicted by the other step model; a new system's rows then take
    the hull of both models' intervals (:func:`with_intervals`), each widened alike."""
    import pandas as pd

    for col in by:
        require_choice("group column", col, tuple(pred.columns))
    q = residual_quantiles(pred, nominal) if quantiles is None else quantiles
    qt = new_system_quantiles(q, widening) if widening is not None else None
    fits = pred.kv_fits.to_numpy(bool)
    alt = None
    if alternative is not None:
        _require_same_rows(pred, alternative)
        aq = residual_quantiles(alternative, nominal)
        alt = (alternative[fits], new_system_quantiles(aq, widening) if widening is not None else aq)
    d = with_intervals(pred[fits], q, new_system_quantiles=qt, alternative=alt)
    rows = []
    for key, g in d.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        for m in METRICS:
            inside = (g[f"{m}_ms"] >= g[f"{m}_lo_ms"]) & (g[f"{m}_ms"] <= g[f"{m}_hi_ms"])
            rows.append({**dict(zip(by, key)), "metric": m, "nominal": nominal, "coverage": float(inside.mean()),
                         "rows": len(g)})
    return pd.DataFrame(rows)


def step_coverage(measurements: "pd.DataFrame", calibrations: dict, step: str = STATIC_STEP,  # noqa: F821
                  nominal: float = NOMINAL, by: tuple[str, ...] = ("split", "system"),
                  widening: "dict | None" = None) -> "pd.DataFrame":  # noqa: F821
    """:func:`coverage_table` of ``measurements`` as the book reads it: rows predicted by ``step``'s
    calibrations, a new GPU's rows taking the hull with the other step model's interval, both
    widened by :func:`transfer_widening` of these rows (``widening``, if already computed).
    ``calibrations``: ``{step: {engine: Calibration}}`` for both step models (each fitted on these
    rows' calibration rows, e.g. :func:`nvlmodel.calibrate.fitted` of each step)."""
    from .fit import predictions

    pred = {}
    for s_ in (step, other_step(step)):
        require_choice("calibrations of step", s_, tuple(calibrations))
        pred[s_] = predictions(measurements, calibrations[s_])
    w = transfer_widening(measurements, nominal) if widening is None else widening
    return coverage_table(pred[step], nominal, by, widening=w, alternative=pred[other_step(step)])


def log_residuals(pred: "pd.DataFrame", metric: str, regime: str = "agg") -> np.ndarray:  # noqa: F821
    """``log(measured / predicted)`` of ``metric`` over the calibration rows of ``pred`` whose KV
    fits, in ``regime`` (all regimes pooled when it has fewer than 10 rows): the sample a ratio's
    interval is propagated from (:func:`throughput_ratio_interval`)."""
    require_choice("metric", metric, METRICS)
    r, regimes = _log_errors(pred, metric)
    here = r[regimes == regime]
    return here if len(here) >= 10 else r


def ratio_samples(pred: "pd.DataFrame", transfer: "pd.DataFrame", metric: str) -> tuple[np.ndarray, np.ndarray]:  # noqa: F821
    """The samples a ratio's interval is propagated from (:func:`throughput_ratio_interval`):
    ``metric``'s log-residuals for a calibration GPU (the calibration rows of ``pred``) and for a GPU
    no fit has seen (those pooled with ``transfer``'s, :func:`transfer_residuals`)."""
    own = log_residuals(pred, metric)
    return own, np.concatenate([own, log_residuals(transfer, metric)])


def throughput_ratio_interval(ratio: float, tpot_residuals_a: np.ndarray, tpot_residuals_b: np.ndarray,
                              nominal: float = NOMINAL) -> tuple[float, float]:
    """The ``nominal`` interval of a predicted ratio of decode throughputs A / B (tokens/s per GPU,
    which go as 1 / TPOT at a given batch), propagated from each side's TPOT log-residuals: the
    measured ratio is ``ratio x exp(r_B - r_A)``, and the interval takes the quantiles of
    ``r_B - r_A`` over every pair of the two samples (independent errors: conservative when the two
    sides err alike, as one model applied to two systems tends to)."""
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"ratio must be a finite number > 0, got {ratio!r}")
    if not 0 < nominal < 1:
        raise ValueError(f"nominal coverage must be in (0, 1), got {nominal!r}")
    a, b = np.asarray(tpot_residuals_a, float), np.asarray(tpot_residuals_b, float)
    if not len(a) or not len(b):
        raise ValueError("each side needs at least one residual")
    d = (b[None, :] - a[:, None]).ravel()
    lo, hi = np.quantile(d, [(1 - nominal) / 2, (1 + nominal) / 2])
    return float(ratio * math.exp(lo)), float(ratio * math.exp(hi))
