"""Fitting each engine's calibration (fractions of peak, fixed costs, queueing) on calibration rows
only, predictions, and error summaries."""

from __future__ import annotations

from dataclasses import fields, replace
from functools import lru_cache

import numpy as np

from .. import recorded
from ..units import require_choice, require_positive_int, words
from .data import TABLES, _config, _measurements, calibration_rows
from .model import (CALIBRATION_SYSTEMS, KERNEL_SCALE_GRID, METRICS, STATIC_STEP, STEP_MODELS, TERMS, Calibration, _steps, _unit_terms,
                    accepted_tokens, components, disagg_wait)


#: The fewest rows :func:`fit` fits a calibration to.
MIN_FIT_ROWS = 5
#: The grid the efficiencies are searched on (fractions of peak): deterministic, no optimiser state.
GRID = np.round(np.arange(0.10, 1.0001, 0.01), 2)


def _terms(rows: "pd.DataFrame", step: str = "roofline"):  # noqa: F821
    """:func:`_unit_terms` of every row as arrays (kernel terms only for ``step="kernels"``), with
    the measured TPOT and TTFT (seconds), so that the grid search is array arithmetic."""
    per_row = [_unit_terms(_config(r), kernels=step == "kernels") for r in rows.itertuples()]
    t = {k: np.array([row[k] for row in per_row], dtype=float) for k in TERMS}
    t["tpot"] = rows.tpot_ms.to_numpy(float) / 1e3
    t["ttft"] = rows.ttft_ms.to_numpy(float) / 1e3
    return t


def _nnls_relative(y: np.ndarray, b: np.ndarray, *cols: np.ndarray) -> tuple[np.ndarray, ...]:
    """For every grid row, the non-negative x minimising sum_i((sum_k x_k cols_k[i]) / y_i - b_i / y_i)^2:
    the least-squares solution on every set of the unknowns (the others held at zero), the best of
    those that are non-negative (one of them is the constrained optimum; with none, zero). Arrays
    are (grid, rows); returns one (grid,) array per unknown.

    >>> y = np.ones((1, 3)); c0 = np.ones((1, 3)); c1 = np.array([[1.0, 2.0, 3.0]])
    >>> [round(float(x[0]), 6) for x in _nnls_relative(y, 0.5 + 0.25 * c1, c0, c1)]
    [0.5, 0.25]
    >>> [round(float(x[0]), 6) for x in _nnls_relative(y, 2.0 - c1, c0, c1)]  # the slope would be < 0
    [0.0, 0.0]
    """
    from itertools import combinations

    a = np.stack([np.broadcast_to(c, np.shape(b)) / y for c in cols])  # (k, grid, rows)
    r = b / y
    g = np.einsum("igr,jgr->gij", a, a)  # Gram matrices, (grid, k, k)
    h = np.einsum("igr,gr->gi", a, r)  # (grid, k)
    live = [j for j in range(len(cols)) if np.any(g[:, j, j] > 0)]  # an all-zero column stays at zero
    best_x, best_loss = np.zeros_like(h), np.zeros(h.shape[0])  # all unknowns zero: loss 0 up to a constant
    for n in range(1, len(live) + 1):
        for sub in combinations(live, n):
            ix = np.array(sub)
            xs = _solve(g[:, ix[:, None], ix[None, :]], h[:, ix])
            x = np.zeros_like(h)
            x[:, ix] = xs
            loss = np.einsum("gi,gij,gj->g", x, g, x) - 2 * np.einsum("gi,gi->g", x, h)  # x'Gx - 2h'x
            better = np.all(xs >= 0, axis=1) & np.all(np.isfinite(xs), axis=1) & (loss < best_loss)
            best_x = np.where(better[:, None], x, best_x)
            best_loss = np.where(better, loss, best_loss)
    return tuple(best_x[:, j] for j in range(len(cols)))


def _solve(g: np.ndarray, h: np.ndarray) -> np.ndarray:
    """x with g x = h for every grid row ((grid, n, n) and (grid, n)); non-finite where g is
    singular (the caller skips those). Closed form for one and two unknowns."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if g.shape[1] == 1:
            return h / g[:, 0, :]
        if g.shape[1] == 2:
            det = g[:, 0, 0] * g[:, 1, 1] - g[:, 0, 1] * g[:, 1, 0]
            return np.stack([(g[:, 1, 1] * h[:, 0] - g[:, 0, 1] * h[:, 1]) / det,
                             (g[:, 0, 0] * h[:, 1] - g[:, 1, 0] * h[:, 0]) / det], axis=1)
        try:
            return np.linalg.solve(g, h[..., None])[..., 0]
        except np.linalg.LinAlgError:
            return np.full(h.shape, np.nan)


def _fit_terms(t, step: str = "roofline", fractions: tuple[float, float] | None = None) -> Calibration:
    """Grid over (bandwidth, compute); closed-form fixed costs and q at each point; the least total
    squared relative error of TPOT and TTFT. Vectorised over the compute axis. ``fractions`` fixes
    (bandwidth, compute) instead of searching them. With ``step="kernels"`` the steps come from
    measured kernels, and the fractions only serve rows the kernel tables do not cover; the
    kernels' scale (:attr:`Calibration.kernel_scale`) is searched on :data:`KERNEL_SCALE_GRID` in
    place of the compute axis, the fractions fixed (1 alone where no row has kernel steps)."""
    grid_b, ec = (GRID, GRID[:, None]) if fractions is None else (np.array([fractions[0]]),
                                                                   np.array([[fractions[1]]]))
    best = None
    kernel_rows = np.isfinite(t["dk"]) & np.isfinite(t["pk"]) if step == "kernels" else np.zeros(len(t["dm"]), bool)
    scaled = kernel_rows.any() and fractions is not None
    ec, ks = np.broadcast_arrays(ec, KERNEL_SCALE_GRID[:, None] if scaled else np.ones((1, 1)))
    for eb in grid_b:
        decode, p = _steps(t, eb, ec, step, kernel_scale=ks)
        base = decode + t["mix"] * p
        moe = t["nmoe"] * (1 + t["mix"])  # MoE layers run per output token: its step's, and the prefills mixed in
        if kernel_rows.any():  # costs per step, per kernel call and per MoE layer
            calls = np.where(kernel_rows, t["dkn"] + t["mix"] * t["pkn"], 0.0)
            t_step, t_launch, t_moe = _nnls_relative(t["tpot"], t["tpot"] - base, np.ones_like(base), calls, moe)
        else:
            t_step, t_moe = _nnls_relative(t["tpot"], t["tpot"] - base, np.ones_like(base), moe)
            t_launch = np.zeros_like(t_step)
        decode, p = _steps(t, eb, ec, step, t_launch[:, None], t_moe[:, None], ks)
        tpot = decode + t["mix"] * p + t_step[:, None]
        wait = disagg_wait(t, p, tpot) + t["hold"] * (decode + t_step[:, None])  # held steps decode only
        t_req, q = _nnls_relative(t["ttft"], t["ttft"] - p - t["xfer"] - wait, np.ones_like(p), p * t["queue"])
        ttft = t_req[:, None] + t["xfer"] + wait + p * (1 + q[:, None] * t["queue"])
        loss = np.sum((tpot / t["tpot"] - 1) ** 2, axis=1) + np.sum((ttft / t["ttft"] - 1) ** 2, axis=1)
        i = int(np.argmin(loss))
        if best is None or loss[i] < best[1]:
            best = (Calibration(float(eb), float(ec[i, 0]), float(t_step[i]), float(t_req[i]), float(q[i]), step,
                                float(t_launch[i]), float(t_moe[i]), float(ks[i, 0])), float(loss[i]))
    return best[0]


#: The values :attr:`Calibration.acceptance` is fitted on.
ACCEPTANCE_GRID = np.round(np.arange(0.0, 0.9901, 0.01), 2)


def speculative(rows: "pd.DataFrame") -> np.ndarray:  # noqa: F821
    """Which rows decoded speculatively (``spec_tokens`` > 0; a table without the column: none)."""
    import pandas as pd

    if "spec_tokens" not in rows.columns:
        return np.zeros(len(rows), bool)
    return (pd.to_numeric(rows.spec_tokens, errors="coerce").fillna(0) > 0).to_numpy()


def fit_acceptance(rows: "pd.DataFrame", calibrations: dict[str, Calibration]) -> float:  # noqa: F821
    """The draft-token acceptance (:attr:`Calibration.acceptance`) that makes the speculative
    ``rows``' predicted TPOT (their engines' ``calibrations``, fitted on rows that decoded one token
    per step) err least: the least total squared relative error on :data:`ACCEPTANCE_GRID`. One
    value for every engine: the chance that the model's draft module guesses the next token is the
    model's and the benchmark's prompts', not the GPU's; the engines verify the drafts alike."""
    return float(ACCEPTANCE_GRID[int(np.argmin(_acceptance_losses(rows, calibrations).sum(axis=0)))])


def acceptance_interval(rows: "pd.DataFrame", calibrations: dict[str, Calibration], *,  # noqa: F821
                        level: float = 0.8, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """A bootstrap interval of :func:`fit_acceptance` (``level``, central): the fit of ``resamples``
    draws of ``rows`` with replacement (seeded: the same interval every run)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    require_positive_int("resamples", resamples)
    loss = _acceptance_losses(rows, calibrations)
    draws = np.random.default_rng(seed).integers(0, len(loss), size=(resamples, len(loss)))
    fits = ACCEPTANCE_GRID[np.argmin(loss[draws].sum(axis=1), axis=1)]
    lo, hi = np.quantile(fits, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _acceptance_losses(rows, calibrations) -> np.ndarray:
    """Each speculative row's squared relative TPOT error at each acceptance of
    :data:`ACCEPTANCE_GRID` (rows x grid)."""
    if len(rows) == 0:
        raise ValueError("need at least one speculative row to fit the acceptance")
    missing = sorted(set(rows.engine) - set(calibrations))
    if missing:
        raise ValueError(f"no calibration for engines {missing}; calibrated: {', '.join(calibrations)}")
    parts = [components(_config(r), calibrations[r.engine]) for r in rows.itertuples()]
    step = np.array([p["decode_step_s"] for p in parts])[:, None]
    other = np.array([p["interference_s"] for p in parts])[:, None]
    k = rows.spec_tokens.astype(int).to_numpy()[:, None]
    tpot = step / accepted_tokens(ACCEPTANCE_GRID[None, :], k) + other
    return (tpot / (rows.tpot_ms.to_numpy(float)[:, None] / 1e3) - 1) ** 2


def internode(rows: "pd.DataFrame") -> np.ndarray:  # noqa: F821
    """Which rows' workers (decoding or prefilling) span more than one NVLink domain: an expert
    all-to-all between nodes (:meth:`nvlmodel.calibrate.Config.crosses_domains`) or all-reduces
    whose TP group spans nodes (:meth:`~nvlmodel.calibrate.Config.allreduces_across_nodes`)."""
    return np.array([(c := _config(r)).crosses_domains() or c.crosses_domains(prefill=True) or _allreduces_across(c)
                     for r in rows.itertuples()], dtype=bool)


def allreduce_across_nodes(rows: "pd.DataFrame") -> np.ndarray:  # noqa: F821
    """Which rows' workers (decoding or prefilling) all-reduce over more than one HGX node: a TP
    group over two nodes, whose all-reduces pay :attr:`Calibration.t_xar`."""
    return np.array([_allreduces_across(_config(r)) for r in rows.itertuples()], dtype=bool)


def _allreduces_across(c) -> bool:
    return c.allreduces_across_nodes() > 0 or c.allreduces_across_nodes(prefill=True) > 0


def _internode_columns(rows, calibrations):
    """Each row's predicted TPOT (seconds) without the costs between nodes, and how many MoE layers
    exchanged between nodes (``t_xnode``'s coefficient) and all-reduces between nodes (``t_xar``'s)
    its TPOT holds per output token: a decode step's, and an aggregated row's prefills mixed in."""
    missing = sorted(set(rows.engine) - set(calibrations))
    if missing:
        raise ValueError(f"no calibration for engines {missing}; calibrated: {', '.join(calibrations)}")
    if speculative(rows).any():
        raise ValueError("fit the costs between nodes on rows that emit one token per step (spec_tokens 0); the "
                         "acceptance is fitted afterwards (fit_acceptance)")
    base, xn, xar = [], [], []
    for r in rows.itertuples():
        c, cal = _config(r), replace(calibrations[r.engine], t_xnode=0.0, t_xar=0.0)
        t = _unit_terms(c, kernels=cal.step == "kernels")
        base.append(components(c, cal)["tpot_s"])
        xn.append(t["dxn"] + t["mix"] * t["pxn"])
        xar.append(t["dxar"] + t["mix"] * t["pxar"])
    return np.asarray(base), np.asarray(xn, dtype=float), np.asarray(xar, dtype=float)


def fit_internode(rows: "pd.DataFrame", calibrations: dict[str, Calibration]) -> tuple[float, float]:  # noqa: F821
    """The costs between nodes that make ``rows`` (workers spanning nodes, one token per decode
    step) err least in TPOT at their engines' ``calibrations``: per MoE layer exchanged between
    nodes (:attr:`Calibration.t_xnode`) and per all-reduce whose TP group spans nodes
    (:attr:`Calibration.t_xar`), seconds. The least squared relative error in closed form (TPOT is
    linear in both), neither below 0; a cost no row pays is 0. One value of each for every engine:
    what crossing the network costs is the network's and the communication library's (DeepEP's
    all-to-all, NCCL's all-reduce between HGX nodes), not the engine's."""
    import pandas as pd

    if len(rows) == 0:
        raise ValueError("need at least one row whose workers span nodes to fit t_xnode and t_xar")
    base, xn, xar = _internode_columns(rows, calibrations)
    if not np.any(xn > 0) and not np.any(xar > 0):
        raise ValueError("none of these rows' workers span nodes: no t_xnode or t_xar to fit")
    y = pd.to_numeric(rows.tpot_ms).to_numpy(float)[None, :] / 1e3
    tx, ta = _nnls_relative(y, y - base[None, :], xn[None, :], xar[None, :])
    return float(tx[0]), float(ta[0])


def internode_values(rows: "pd.DataFrame", calibrations: dict[str, Calibration]) -> np.ndarray:  # noqa: F821
    """Each row's own fit of the cost between nodes it pays (seconds: per MoE layer exchanged, for a
    row whose experts exchange tokens between nodes; else per all-reduce between nodes), the other
    cost held at ``calibrations``' value: the spread the one fitted value stands for."""
    import pandas as pd

    base, xn, xar = _internode_columns(rows, calibrations)
    y = pd.to_numeric(rows.tpot_ms).to_numpy(float) / 1e3
    tx = np.array([calibrations[e].t_xnode for e in rows.engine])
    ta = np.array([calibrations[e].t_xar for e in rows.engine])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(xn > 0, (y - base - ta * xar) / xn, (y - base - tx * xn) / xar)


def fit(rows: "pd.DataFrame", step: str = STATIC_STEP) -> Calibration:  # noqa: F821
    """Fit one :class:`Calibration` to ``rows`` (measured TPOT and TTFT): for every (bandwidth,
    compute) on :data:`GRID`, the fixed costs and ``q`` that minimise the squared relative error
    in closed form; the grid point with the least total squared relative error of TPOT and TTFT.
    ``step``: steps from the roofline or from measured kernels (:data:`STEP_MODELS`; then the
    fractions are the roofline fit's on the same rows, for rows the kernel tables do not cover, and
    the per-step, per-call and per-request costs and ``q`` are fitted with the kernel steps).
    Refuses rows of a held-out system or whose KV cache does not fit."""
    require_choice("step", step, STEP_MODELS)
    if len(rows) < MIN_FIT_ROWS:
        raise ValueError(f"need at least {MIN_FIT_ROWS} rows to fit a calibration, got {len(rows)}")
    held = sorted(set(rows.system) - set(CALIBRATION_SYSTEMS))
    if held:
        raise ValueError(f"refusing to fit on held-out systems {held}; calibration systems: "
                         f"{', '.join(CALIBRATION_SYSTEMS)}")
    if not rows.kv_fits.all():
        raise ValueError("refusing to fit rows whose KV cache does not fit (kv_fits is false)")
    if speculative(rows).any():
        raise ValueError("refusing to fit rows that decoded speculatively (spec_tokens > 0): the efficiencies are "
                         "fitted on rows that emit one token per step, the acceptance on those (fit_acceptance)")
    if internode(rows).any():
        raise ValueError("refusing to fit rows whose workers span NVLink domains: the efficiencies are fitted on rows "
                         "within one, the costs between nodes on those (fit_internode)")
    t = _terms(rows, step)
    roof = _fit_terms(t)  # the roofline fit does not read the kernel terms
    if step == "roofline":
        return roof
    # kernels: the fractions are the roofline's on the same rows (they serve the rows the kernel
    # tables do not cover); the overheads are fitted with the kernel steps
    return _fit_terms(t, step, (roof.bandwidth, roof.compute))


def fit_engines(measurements: "pd.DataFrame", step: str = STATIC_STEP) -> dict[str, Calibration]:  # noqa: F821
    """One :class:`Calibration` per engine (``backend@campaign``) that has calibration rows,
    fitted on those rows only (:func:`calibration_rows`): held-out rows never reach :func:`fit`.
    Rows whose workers span nodes do not reach :func:`fit` either: with every engine fitted, those
    that decode one token per step fit the costs between nodes all engines share, per MoE layer
    exchanged and per all-reduce (:func:`fit_internode`; 0 where no row pays one). Rows that
    decoded speculatively come last: they fit the acceptance all engines share
    (:func:`fit_acceptance`; 0 where there are none).

    A fit depends on its calibration rows, its step and the package alone, so each engine's is read
    from the record this package wrote (:mod:`nvlmodel.recorded`, keyed by the rows' content:
    :func:`fit_key`) where there is one, and noted either way: the chapters make the same fits in
    their own processes (the packaged tables', and the leave-one-out fits of their intervals). A
    test fits the recorded ones afresh and requires the same numbers, bit for bit."""
    require_choice("step", step, STEP_MODELS)
    rows = calibration_rows(measurements)
    spec = speculative(rows)
    xnode = internode(rows)
    own = ~spec & ~xnode  # the rows each engine's own fit stands on
    digest = rows_digest(rows)  # once: a key per engine below
    keys = {e: _fit_record_key(digest, step, e) for e in sorted(set(rows[own].engine))}
    found = {e: recorded.lookup(k) for e, k in keys.items()}
    if keys and all(v is not None for v in found.values()):
        out = {e: Calibration(step=step, **dict(zip(_NUMBERS, v))) for e, v in found.items()}
    else:
        out = {e: fit(rows[(rows.engine == e).to_numpy() & own], step) for e in keys}
        crossing = xnode & ~spec & rows.engine.isin(list(out)).to_numpy()
        if crossing.any():
            tx, ta = fit_internode(rows[crossing], out)
            out = {e: replace(c, t_xnode=tx, t_xar=ta) for e, c in out.items()}
        if spec.any():
            a = fit_acceptance(rows[spec], out)
            out = {e: replace(c, acceptance=a) for e, c in out.items()}
    for e, c in out.items():
        recorded.note(keys[e], tuple(float(getattr(c, k)) for k in _NUMBERS))
    return out


def fit_key(rows: "pd.DataFrame", step: str, engine: str) -> str:  # noqa: F821
    """The record's key of ``engine``'s fit to calibration rows ``rows`` with ``step``: the rows'
    digest (:func:`rows_digest`), the step and the engine (:func:`nvlmodel.recorded.run_key`)."""
    return _fit_record_key(rows_digest(rows), step, engine)


def _fit_record_key(digest: str, step: str, engine: str) -> str:
    return recorded.run_key("calibration fit", digest, step, engine)


def rows_digest(rows: "pd.DataFrame") -> str:  # noqa: F821
    """SHA-256 of a table's content: every value, the index and the column names (what a fit of the
    rows depends on besides its step and the package)."""
    import hashlib

    import pandas as pd

    return hashlib.sha256(pd.util.hash_pandas_object(rows, index=True).to_numpy().tobytes()
                          + repr(tuple(rows.columns)).encode()).hexdigest()


#: The numeric fields of a :class:`Calibration`, in the order a recorded fit lists them.
_NUMBERS = tuple(f.name for f in fields(Calibration) if f.name != "step")


@lru_cache(maxsize=4)
def _fitted(step: str, table: str) -> dict[str, Calibration]:
    return fit_engines(_measurements(table), step)


def fitted(step: str = STATIC_STEP, table: str = "dense") -> dict[str, Calibration]:
    """The calibration of each engine (``backend@campaign``), fitted on its H100/H200 rows of one
    curated table (:data:`TABLES`: ``dense``, chapter 7's; ``serving``, chapter 8's) (cached), with
    steps from the roofline or from measured kernels (:data:`STEP_MODELS`)."""
    return dict(_fitted(require_choice("step", step, STEP_MODELS), require_choice("table", table, TABLES)))


def calibration_table(measurements: "pd.DataFrame | None" = None,
                      calibrations: "dict[str, Calibration] | None" = None) -> "pd.DataFrame":  # noqa: F821
    """The fitted parameters per engine, in readable units, with the rows each was fitted on: of
    ``measurements`` (default: the curated rows) and ``calibrations`` (default: fitted on them).
    The costs between nodes, per MoE layer exchanged (``t_xnode_us``) and per all-reduce
    (``t_xar_us``), and the ``acceptance`` of speculative decoding, which every engine shares and
    the calibration rows whose workers span nodes (the speculative ones) fit (neither counted in
    ``fitted_on_rows``), show where any row ran so."""
    import pandas as pd

    d = _measurements() if measurements is None else measurements
    cal = calibrations if calibrations is not None else (fitted() if measurements is None else fit_engines(d))
    rows = calibration_rows(d)
    spec, xnode = speculative(rows), internode(rows)
    out = []
    for engine, c in cal.items():
        sub = rows[(rows.engine == engine).to_numpy() & ~spec & ~xnode]
        out.append({"engine": engine, "bandwidth_fraction": c.bandwidth, "compute_fraction": c.compute,
                    "t_step_ms": c.t_step * 1e3, "t_launch_us": c.t_launch * 1e6, "t_moe_us": c.t_moe * 1e6,
                    "t_req_ms": c.t_req * 1e3, "q": c.q, "kernel_scale": c.kernel_scale, "t_xnode_us": c.t_xnode * 1e6,
                    "t_xar_us": c.t_xar * 1e6, "acceptance": c.acceptance,
                    "fitted_on_rows": len(sub), "systems": ", ".join(words(x) for x in sorted(set(sub.system)))})
    out = pd.DataFrame(out)
    for col in ("t_xnode_us", "t_xar_us"):  # a cost between nodes no row pays
        if col in out and not (xnode & ~spec).any() and not (out[col] > 0).any():
            out = out.drop(columns=col)
    if "acceptance" in out and not spec.any() and not (out.acceptance > 0).any():  # no speculative rows
        out = out.drop(columns="acceptance")
    return out


def predictions(measurements: "pd.DataFrame | None" = None,
                calibrations: "dict[str, Calibration] | None" = None) -> "pd.DataFrame":  # noqa: F821
    """Every measured row with its predicted TPOT and TTFT (ms), the model's parts and the signed
    relative errors (pred / measured - 1, percent); rows with a ``left_out`` reason are dropped
    (see :func:`left_out_table`). By default the packaged rows and
    :func:`fitted`; for your own ``measurements`` (from :func:`load_measurements`), the engines
    are fitted on their calibration rows unless ``calibrations`` is given. An engine without a
    calibration raises."""
    d = _measurements() if measurements is None else measurements
    if calibrations is not None:
        cal = calibrations
    else:
        cal = fitted() if measurements is None else fit_engines(d)
    missing = sorted(set(d.engine) - set(cal))
    if missing:
        raise ValueError(f"no calibration for engines {missing}; calibrated: {', '.join(cal)}")
    if "left_out" in d.columns:  # rows the model cannot describe are reported, not predicted
        d = d[d.left_out.fillna("") == ""]
    parts = [components(_config(r), cal[r.engine]) for r in d.itertuples()]
    out = d.copy()
    for k in ("decode_step", "decode_fixed", "prefill", "interference", "decode_comm", "batch_wait"):
        out[f"{k}_ms"] = [p[f"{k}_s"] * 1e3 for p in parts]
    out["decode_bottleneck"] = [p["decode_bottleneck"] for p in parts]
    out["accepted_tokens"] = [p["accepted_tokens"] for p in parts]
    out["step_source"] = [p["step_source"] for p in parts]
    for m in METRICS:
        out[f"{m}_pred_ms"] = [p[f"{m}_s"] * 1e3 for p in parts]
        out[f"{m}_err_pct"] = (out[f"{m}_pred_ms"] / out[f"{m}_ms"] - 1) * 100
    return out


#: The book's accuracy targets, one place (chapter 7 shows them; chapters 8 and 9 link there):
#: (table, held-out system, metric, predictor) -> the held-out median absolute percentage error to reach.
ACCURACY_TARGETS: dict[tuple[str, str, str, str], float] = {
    ("dense", "b200_sxm", "tpot", "static"): 15.0,
    ("dense", "b200_sxm", "ttft", "static"): 30.0,
    ("serving", "gb200", "tpot", "static"): 20.0,
    ("serving", "gb200", "ttft", "static"): 35.0,
    ("dense", "b200_sxm", "ttft", "simulation"): 15.0,
    ("serving", "b200_sxm", "ttft", "simulation"): 30.0,
    ("serving", "gb200", "ttft", "simulation"): 30.0,
}


def accuracy_target(table: str, system: str, metric: str, predictor: str = "static") -> float:
    """The held-out MdAPE target (%) of ``metric`` on ``system``'s rows of ``table`` by ``predictor``
    (:data:`ACCURACY_TARGETS`)."""
    key = (table, system, metric, predictor)
    if key not in ACCURACY_TARGETS:
        raise ValueError(f"no accuracy target for {key}; targets: {sorted(ACCURACY_TARGETS)}")
    return ACCURACY_TARGETS[key]


def accuracy_targets() -> "pd.DataFrame":  # noqa: F821
    """:data:`ACCURACY_TARGETS` as a table for a reader."""
    import pandas as pd

    names = {"b200_sxm": "B200 HGX", "gb200": "GB200 NVL72"}
    tables = {"dense": "dense Llama (ch. 7)", "serving": "MoE, disaggregated (ch. 8)"}
    rows = [{"table": tables[t], "held-out rows": names[s], "metric": m.upper(),
             "predictor": "static formula" if p == "static" else "request-level simulation (ch. 9)",
             "MdAPE target (%)": v} for (t, s, m, p), v in ACCURACY_TARGETS.items()]
    return pd.DataFrame(rows).set_index(["table", "held-out rows", "metric", "predictor"])


def error_summary(pred: "pd.DataFrame", by: tuple[str, ...] = ("split",)) -> "pd.DataFrame":  # noqa: F821
    """Median and mean absolute percentage error and median signed error (bias) of TPOT and TTFT,
    grouped by ``by`` (columns of :func:`predictions`)."""
    import pandas as pd

    for col in by:
        if col not in pred.columns:
            raise ValueError(f"cannot group by {col!r}; columns include split, system, backend, precision, model")
    rows = []
    for key, g in pred.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        row["rows"] = len(g)
        for m in METRICS:
            e = g[f"{m}_err_pct"]
            row[f"{m}_MdAPE_pct"] = float(e.abs().median())
            row[f"{m}_MAPE_pct"] = float(e.abs().mean())
            row[f"{m}_bias_pct"] = float(e.median())
        rows.append(row)
    return pd.DataFrame(rows)


def error_summary_by_step(predictions_by_step: dict, by: tuple[str, ...] = ("split",)) -> "pd.DataFrame":  # noqa: F821
    """:func:`error_summary` of the rows whose KV cache fits, for each step model's predictions
    (``{"roofline": predictions, "kernels": predictions}``), one above the other: indexed by
    ``step`` and ``by``."""
    import pandas as pd

    if not predictions_by_step:
        raise ValueError(f"give the predictions of at least one step model ({', '.join(STEP_MODELS)})")
    for step in predictions_by_step:
        require_choice("step", step, STEP_MODELS)
    out = pd.concat({step: error_summary(p[p.kv_fits], by=by) for step, p in predictions_by_step.items()},
                    names=["step"])
    return out.reset_index(level=1, drop=True).set_index(list(by), append=True)


def bias_by_tp(pred: "pd.DataFrame", split: str = "held-out") -> "pd.DataFrame":  # noqa: F821
    """Median signed TPOT error (percent) per TP degree of ``split``'s rows whose KV fits: over all
    of them, and per precision and per engine (columns), so a tilt with TP shows where it lives."""
    import pandas as pd

    require_choice("split", split, ("calibration", "held-out"))
    d = pred[(pred.split == split) & pred.kv_fits]
    cols = {"all": d.groupby("tp").tpot_err_pct.median()}
    for by in ("precision", "engine"):
        for key, g in d.groupby(by):
            cols[key] = g.groupby("tp").tpot_err_pct.median()
    out = pd.DataFrame(cols)
    out.index.name = "tp"
    return out


#: Sequences per attention rank at which :func:`bias_by_load` groups rows (edges; labels beside).
LOAD_BINS: tuple[tuple[float, str], ...] = ((4, "1-4"), (16, "5-16"), (64, "17-64"), (256, "65-256"),
                                            (float("inf"), "257 or more"))


def bias_by_load(predictions_by_step: dict) -> "pd.DataFrame":  # noqa: F821
    """Median signed TPOT error (percent) by split and sequences per attention rank (concurrency over
    the deployment's decode ranks, :data:`LOAD_BINS`) of each step model's predictions
    (``{"roofline": ..., "kernels": ...}``, from :func:`predictions`), rows whose KV fits that decode
    one token a step (a speculative row's error also rides on the fitted acceptance): how a step's
    error moves with the load. Columns ``rows`` (the first step's rows; the steps' predictions are
    of the same rows) and ``<step>_bias_pct``.

    >>> import pandas as pd
    >>> p = pd.DataFrame({"split": ["held-out"] * 3, "kv_fits": True, "spec_tokens": 0, "concurrency": [2, 8, 512],
    ...                   "attention_dp": [1, 1, 8], "workers": 1.0, "tpot_err_pct": [5.0, -1.0, -30.0]})
    >>> bias_by_load({"roofline": p})["roofline_bias_pct"].tolist()
    [5.0, -1.0, -30.0]
    """
    import pandas as pd

    if not predictions_by_step:
        raise ValueError(f"give the predictions of at least one step model ({', '.join(STEP_MODELS)})")
    edges, labels = [0.0, *(e for e, _ in LOAD_BINS)], [lab for _, lab in LOAD_BINS]
    cols, rows = {}, None
    for step, p in predictions_by_step.items():
        require_choice("step", step, STEP_MODELS)
        p = p[p.kv_fits & ~(_column(p, "spec_tokens", 0) > 0)]
        per_rank = p.concurrency / (_column(p, "attention_dp", 1) * _column(p, "workers", 1))
        g = p.groupby([p.split, pd.cut(per_rank, edges, labels=labels).rename("sequences per rank")],
                      observed=True).tpot_err_pct
        rows = g.size() if rows is None else rows
        cols[f"{step}_bias_pct"] = g.median()
    return pd.DataFrame({"rows": rows, **cols})


def _column(rows: "pd.DataFrame", name: str, default: float) -> "pd.Series":  # noqa: F821
    """``rows[name]`` with ``default`` where empty, or ``default`` for every row where the table has
    no such column (the dense table: one attention rank, one worker, no drafts)."""
    import pandas as pd

    return rows[name].fillna(default) if name in rows.columns else pd.Series(default, index=rows.index)


def left_out_table(measurements: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    """Rows the model does not describe, counted by split, system and reason (``left_out``)."""
    d = measurements[measurements.left_out.fillna("") != ""]
    reason = d.left_out.str.replace(r"tp=\d+", "tp=N", regex=True).str.split(" \\(| of ", regex=True).str[0]
    out = d.assign(reason=reason).groupby(["split", "system", "reason"]).size().rename("rows").reset_index()
    return out
