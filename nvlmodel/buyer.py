"""The buyer's question: per GPU, per joule and per GPU-hour, which system serves a model best at
a given interactivity, and how sure is that.

For each model and system, the deployment search (:mod:`nvlmodel.search`) finds the best output
tokens/s per GPU at ``min_tok_s_per_user`` or more tokens/s per user within an SLA. Each figure
carries an 80 % interval from the calibration rows' errors (:mod:`nvlmodel.calibrate.intervals`):
a throughput goes as 1 / TPOT, so its interval is the prediction times ``exp(-q)`` over the TPOT
log-residual quantiles ``q``; a system outside the calibration set (B200, GB200) takes the wider of
the in-sample and the leave-one-system-out errors, and the hull of that interval with the same
interval around the other step model's prediction of the same deployment (the two step models part
on a GPU neither was fitted on, and no calibration row says which transfers); a point beyond the
measured serving rows is widened further. Ratios between systems are propagated from both sides'
residuals (:func:`nvlmodel.calibrate.intervals.throughput_ratio_interval`), as the hull over the two
step models when a side is a new system. Chapter 7 measures how often such intervals hold on
held-out rows.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from . import search
from .calibrate import CALIBRATION_SYSTEMS, STATIC_STEP, STEP_MODELS, bias_by_load, load_measurements, predictions
from .calibrate.intervals import (NOMINAL, hull, new_system_quantiles, other_step, ratio_samples, residual_quantiles,
                                  throughput_ratio_interval, transfer_residuals, transfer_widening, widen)
from .units import fmt_value, require_choice, require_positive, with_interval  # noqa: F401 (with_interval: part of this API)

#: The models a buyer asks about, and the systems compared (HGX nodes and one NVL72 rack).
MODELS: tuple[str, ...] = ("llama-3.1-70b", "llama-3.1-405b", "deepseek-v3", "qwen3-235b-a22b", "gpt-oss-120b")
SYSTEMS: tuple[str, ...] = ("h100_sxm", "h200_sxm", "b200_sxm", "gb200")


class _Errors(NamedTuple):
    """One step model's errors on the serving table: residual quantiles by (metric, mode) and TPOT
    log-residual samples, for a calibration system (in-sample) and for a system no fit has seen
    (quantiles: in-sample, widened by :func:`_widening`; samples: in-sample and leave-one-system-out
    pooled)."""

    q: dict
    q_new: dict
    samples: np.ndarray
    samples_new: np.ndarray

    def quantiles(self, system: str) -> dict:
        return self.q if system in CALIBRATION_SYSTEMS else self.q_new

    def sample(self, system: str) -> np.ndarray:
        return self.samples if system in CALIBRATION_SYSTEMS else self.samples_new


@functools.lru_cache(maxsize=1)
def _widening() -> dict[str, float]:
    """The serving table's widening of a new GPU's intervals (:func:`transfer_widening`; one for
    both step models, whose hull it was calibrated on)."""
    return transfer_widening(load_measurements(table="serving"))


@functools.lru_cache(maxsize=2)
def _serving_predictions(step: str) -> "pd.DataFrame":  # noqa: F821
    """The serving table's rows predicted with ``step``'s calibration (read-only: kept)."""
    return predictions(load_measurements(table="serving"), search.fitted_serving(step))


@functools.lru_cache(maxsize=2)
def _errors(step: str = STATIC_STEP) -> _Errors:
    """The serving table's errors with ``step`` (:class:`_Errors`)."""
    d = load_measurements(table="serving")
    pred = _serving_predictions(step)
    transfer = transfer_residuals(d, step)
    q = residual_quantiles(pred)
    q_new = new_system_quantiles(q, _widening())
    return _Errors(q, q_new, *ratio_samples(pred, transfer, "tpot"))


#: The buyer's two service levels (tokens/s every user gets): interactive and throughput.
LEVELS: dict[str, float] = {"interactive": 50.0, "throughput": 20.0}


def frontier_intervals(front: "pd.DataFrame", model: str, isl: int, osl: int,  # noqa: F821
                       step: str = STATIC_STEP, engine: str = search.ENGINE) -> "pd.DataFrame":  # noqa: F821
    """``front`` (:func:`nvlmodel.search.best` of ``model`` at ``isl``/``osl``, searched with
    ``step``'s calibration of ``engine``) with each deployment's 80 % interval of its TPOT
    (``tpot_lo_s``, ``tpot_hi_s``) and of what goes as 1 / TPOT at its batch (``*_lo``, ``*_hi`` of
    ``tok_s_per_user``, ``tok_s_per_gpu``, ``tok_per_joule``, ``tok_per_joule_gpu_only``, and
    inverted, ``gpu_h_per_mtok`` and ``cost_per_mtok``, where present): the TPOT log-residual
    quantiles of the serving table's calibration rows of the deployment's mode, widened where the
    point is ``extrapolated``; for a system no fit has seen, the new-system quantiles and the hull
    with the other step model's interval of the same deployment (``tpot_other_step_s``,
    ``tok_s_per_gpu_other_step`` are added)."""
    import pandas as pd

    require_choice("step", step, STEP_MODELS)
    if not isinstance(front, pd.DataFrame) or not {"system_key", "mode", "tpot_s", "extrapolated"} <= set(front.columns):
        raise ValueError("front must be a frontier of nvlmodel.search.best")
    out = _with_other_step(front, model, isl, osl, step, engine)
    err, alt = _errors(step), _errors(other_step(step))
    t_lo, t_hi = np.empty(len(out)), np.empty(len(out))
    for i, r in enumerate(out.itertuples()):
        lo, hi = widen(*err.quantiles(r.system_key)[("tpot", r.mode)][:2], r.extrapolated)
        t_lo[i], t_hi[i] = r.tpot_s * math.exp(lo), r.tpot_s * math.exp(hi)
        if r.system_key not in CALIBRATION_SYSTEMS:  # the hull with the other step model's interval
            alo, ahi = widen(*alt.q_new[("tpot", r.mode)][:2], r.extrapolated)
            t_lo[i], t_hi[i] = hull((t_lo[i], t_hi[i]), (r.tpot_other_step_s * math.exp(alo),
                                                         r.tpot_other_step_s * math.exp(ahi)))
    out["tpot_lo_s"], out["tpot_hi_s"] = t_lo, t_hi
    f_lo, f_hi = out.tpot_s / t_hi, out.tpot_s / t_lo  # throughput ~ 1 / TPOT
    for col in ("tok_s_per_user", "tok_s_per_gpu", "tok_per_joule", "tok_per_joule_gpu_only"):
        if col in out.columns:
            out[f"{col}_lo"], out[f"{col}_hi"] = out[col] * f_lo, out[col] * f_hi
    for col in ("gpu_h_per_mtok", "cost_per_mtok"):
        if col in out.columns:
            out[f"{col}_lo"], out[f"{col}_hi"] = out[col] / f_hi, out[col] / f_lo
    return out


def comparison(models: tuple[str, ...] = MODELS, *, isl: int = 1024, osl: int = 1024,
               sla: "search.SLA | None" = None, min_tok_s_per_user: "float | tuple[float, ...]" = 50.0,
               step: str = STATIC_STEP) -> "pd.DataFrame":  # noqa: F821
    """One row per model, system and interactivity level: the best deployment at
    ``min_tok_s_per_user`` (one level, or several: each frontier is searched once) or more tokens/s
    per user within ``sla`` (default TTFT <= 2 s, TPOT <= 50 ms) and what it gives per GPU, per
    joule (at system power) and per GPU-hour, each with its 80 % interval (``*_lo``, ``*_hi``:
    :func:`frontier_intervals`), and whether it is ``extrapolated``; beside it, the most tokens/s
    per GPU a measured run of that model on that system gave at the level (``measured_tok_s_per_gpu``,
    :func:`best_measured`; NaN where none reached it). A system with no deployment meeting the SLA
    has no row."""
    import pandas as pd

    levels = tuple(min_tok_s_per_user) if isinstance(min_tok_s_per_user, (tuple, list)) else (min_tok_s_per_user,)
    if not levels:
        raise ValueError("min_tok_s_per_user must name at least one level")
    for level in levels:
        require_positive("min_tok_s_per_user", level)
    sla = sla or search.SLA(2.0, 0.05)
    keep = ["system", "system_key", "mode", "gpus", "decode_shape", "batch", "tok_s_per_user", "tok_s_per_gpu",
            "tok_s_per_gpu_lo", "tok_s_per_gpu_hi", "tok_s_per_gpu_other_step", "tok_per_joule", "tok_per_joule_lo",
            "tok_per_joule_hi", "gpu_h_per_mtok", "gpu_h_per_mtok_lo", "gpu_h_per_mtok_hi", "extrapolated",
            "step_source"]
    parts = []
    for model in models:
        front = search.best(model, isl, osl, sla, systems=SYSTEMS, calibrations=search.fitted_serving(step))
        if front.empty:
            continue
        front = frontier_intervals(front, model, isl, osl, step)
        for level in levels:
            best = search.best_per_gpu(front, level)[keep]
            best.insert(0, "min_tok_s_per_user", level)
            best.insert(0, "model", model)
            measured = [best_measured(model, s_, level, isl=isl, osl=osl) for s_ in best.system_key]
            best["measured_tok_s_per_gpu"] = [float("nan") if m is None else float(m.tok_s_per_gpu) for m in measured]
            parts.append(best)
    out = (pd.concat(parts, ignore_index=True) if parts else
           pd.DataFrame(columns=["model", "min_tok_s_per_user"] + keep + ["measured_tok_s_per_gpu"]))
    out["extrapolated"] = out.extrapolated.astype(bool)
    out.attrs.update(nominal=NOMINAL, min_tok_s_per_user=levels, sla=sla)
    return out


def load_bias() -> "pd.DataFrame":  # noqa: F821
    """The serving table's median signed TPOT error by split and sequences per attention rank, with
    both step models (:func:`nvlmodel.calibrate.bias_by_load`): what the interval of a figure at a
    given load leaves out where a step's error moves with the load on a GPU no fit has seen."""
    return bias_by_load({s: _serving_predictions(s) for s in STEP_MODELS})


def interval_coverage(step: str = STATIC_STEP) -> "pd.DataFrame":  # noqa: F821
    """How often measured rows of the serving table fall inside the intervals :func:`comparison`
    gives (80 %; the same widening for a GPU no fit has seen): the coverage check of chapter 7
    (:func:`nvlmodel.calibrate.intervals.step_coverage`), ``step``'s predictions. Columns
    ``split``, ``system``, ``metric``, ``nominal``, ``coverage``, ``rows``."""
    from .calibrate.intervals import step_coverage

    require_choice("step", step, STEP_MODELS)
    return step_coverage(load_measurements(table="serving"), {s: search.fitted_serving(s) for s in STEP_MODELS}, step,
                         widening=_widening())


def _with_other_step(front: "pd.DataFrame", model: str, isl: int, osl: int, step: str,  # noqa: F821
                     engine: str = search.ENGINE) -> "pd.DataFrame":  # noqa: F821
    """``front`` with ``tpot_other_step_s`` and ``tok_s_per_gpu_other_step``: each deployment's TPOT
    and tokens/s per GPU by the step model that did not search it (:func:`nvlmodel.search.retime`)."""
    out = front.copy()
    out["tpot_other_step_s"] = search.retime(front, model, isl, osl,
                                             calibrations=search.fitted_serving(other_step(step)), engine=engine)
    out["tok_s_per_gpu_other_step"] = out.tok_s_per_gpu * out.tpot_s / out.tpot_other_step_s
    return out


def _ratio(table: "pd.DataFrame", numerator: str, den: str, errors: _Errors,  # noqa: F821
           other_errors: "_Errors | None" = None) -> dict:
    """``numerator``'s tokens/s per GPU over ``den``'s in ``table`` (indexed by system key), its 80 %
    interval from each side's TPOT residuals (``errors``), and whether either side is extrapolated.
    When a side is a new system and ``other_errors`` (the other step model's) is given, the
    interval is the hull of this one and the other step model's interval around its own ratio
    (``tok_s_per_gpu_other_step``)."""
    def interval(ratio, err: _Errors):
        return throughput_ratio_interval(ratio, err.sample(numerator), err.sample(den))

    ratio = float(table.tok_s_per_gpu[numerator] / table.tok_s_per_gpu[den])
    lo, hi = interval(ratio, errors)
    if other_errors is not None and not {numerator, den} <= set(CALIBRATION_SYSTEMS):
        lo, hi = hull((lo, hi), interval(float(table.tok_s_per_gpu_other_step[numerator]
                                               / table.tok_s_per_gpu_other_step[den]), other_errors))
    return {"per_gpu": ratio, "per_gpu_lo": lo, "per_gpu_hi": hi,
            "extrapolated": bool(table.extrapolated[numerator] or table.extrapolated[den])}


def ratios(comp: "pd.DataFrame", numerator: str = "gb200",  # noqa: F821
           denominators: tuple[str, ...] = ("h100_sxm", "b200_sxm"), step: str = STATIC_STEP) -> "pd.DataFrame":  # noqa: F821
    """Per model and interactivity level, ``numerator``'s tokens/s per GPU over each of
    ``denominators``' (systems by key), with the 80 % interval propagated from both sides' TPOT
    residuals. The same ratio holds per joule up to the systems' power per GPU, and it is the
    break-even price ratio: the numerator costs less per token while its GPU-hour price is below
    ``ratio`` times the denominator's."""
    import pandas as pd

    err, other = _errors(step), _errors(other_step(step))
    rows = []
    for (model, level), g in comp.groupby(["model", "min_tok_s_per_user"], sort=False):
        g = g.set_index("system_key")
        if numerator not in g.index:
            continue
        for den in denominators:
            if den not in g.index:
                continue
            rows.append({"model": model, "min_tok_s_per_user": level,
                         "ratio": f"{g.system[numerator]} / {g.system[den]}", **_ratio(g, numerator, den, err, other)})
    return pd.DataFrame(rows)


def ratio_curve(model: str = "deepseek-v3", *, numerator: str = "gb200",
                denominators: tuple[str, ...] = ("h100_sxm", "b200_sxm"), isl: int = 1024, osl: int = 1024,
                sla: "search.SLA | None" = None, users=None, step: str = STATIC_STEP) -> "pd.DataFrame":  # noqa: F821
    """``numerator``'s best tokens/s per GPU over each denominator's against interactivity: for each
    ``users`` level (tokens/s per user, default 10 to 150), the best frontier point of each system at
    that level or more (:func:`nvlmodel.search.best_per_gpu`), the ratio and its 80 % interval
    (:func:`~nvlmodel.calibrate.intervals.throughput_ratio_interval`). Columns: ``ratio`` (label),
    ``tok_s_per_user``, ``per_gpu``, ``per_gpu_lo``, ``per_gpu_hi``, ``extrapolated``."""
    import pandas as pd

    sla = sla or search.SLA(2.0, 0.05)
    users = np.arange(10.0, 151.0, 10.0) if users is None else np.asarray(users, float)
    front = search.best(model, isl, osl, sla, systems=(numerator,) + tuple(denominators),
                        calibrations=search.fitted_serving(step))
    err, other = _errors(step), _errors(other_step(step))
    if len(front):
        front = _with_other_step(front, model, isl, osl, step)
    labels = dict(zip(front.system_key, front.system))
    rows = []
    for u in users:
        best = search.best_per_gpu(front, float(u)).set_index("system_key") if len(front) else None
        if best is None or numerator not in best.index:
            continue
        for den in denominators:
            if den not in best.index:
                continue
            rows.append({"ratio": f"{labels[numerator]} / {labels[den]}", "tok_s_per_user": float(u),
                         **_ratio(best, numerator, den, err, other)})
    out = pd.DataFrame(rows)
    out.attrs["model"] = model
    return out


#: The search's features: feature -> (restriction of :data:`nvlmodel.search.VARIANTS` with it, without it).
SEARCH_GAINS: dict[str, tuple[str, str]] = {
    "disaggregated prefill and decode": ("everything", "aggregated, any EP"),
    "wide expert parallelism (workers over 8 GPUs)": ("everything", "disaggregated allowed, EP <= 8"),
}


def dynamo_gains(model: str = "deepseek-v3", system: str = "gb200", *, isl: int = 1024, osl: int = 1024,
                 sla: "search.SLA | None" = None, min_tok_s_per_user: float = 50.0,
                 step: str = STATIC_STEP, chat_model: str = "llama-3.1-70b") -> "pd.DataFrame":  # noqa: F821
    """What each Dynamo feature multiplies tokens per GPU by, one at a time, with an 80 % interval:
    disaggregation and wide expert parallelism as predicted by the deployment search for ``model``
    on ``system`` at ``min_tok_s_per_user`` within ``sla`` (:func:`nvlmodel.search.what_buys`; the
    interval propagated from both sides' TPOT errors as if independent, so conservative, and for a
    system no fit has seen the hull with the other step model's gain and interval), and
    KV-aware routing and the peer-HBM tier as simulated on chapter 9's chat rack
    (:func:`nvlmodel.serve.validate.chat_gains` with ``chat_model``; the interval is the spread over
    seeds). Columns: ``feature``, ``scope``, ``gain``, ``gain_lo``, ``gain_hi``, ``basis``."""
    import pandas as pd

    from .serve.validate import chat_gains

    require_choice("system", system, SYSTEMS)
    require_positive("min_tok_s_per_user", min_tok_s_per_user)
    sla = sla or search.SLA(2.0, 0.05)
    best = search.what_buys(model, isl, osl, sla, min_tok_s_per_user, systems=(system,),
                            calibrations=search.fitted_serving(step)).iloc[0]
    sample = _errors(step).sample(system)
    other = None  # a GPU no fit has seen: the hull with the other step model's gain and interval
    if system not in CALIBRATION_SYSTEMS:
        alt = other_step(step)
        other = (search.what_buys(model, isl, osl, sla, min_tok_s_per_user, systems=(system,),
                                  calibrations=search.fitted_serving(alt)).iloc[0], _errors(alt).samples_new)
    scope = f"{model_name(model)} on {best.name}, {isl:,} in / {osl:,} out, >= {min_tok_s_per_user:g} tok/s/user"
    rows = []
    for feature, (with_, without) in SEARCH_GAINS.items():
        if not (np.isfinite(best[with_]) and np.isfinite(best[without])):
            continue  # no deployment of one kind meets the SLA
        gain = float(best[with_] / best[without])
        lo, hi = throughput_ratio_interval(gain, sample, sample)
        if other is not None and np.isfinite(other[0][with_]) and np.isfinite(other[0][without]):
            lo, hi = hull((lo, hi), throughput_ratio_interval(float(other[0][with_] / other[0][without]),
                                                              other[1], other[1]))
        rows.append({"feature": feature, "scope": scope, "gain": gain, "gain_lo": lo, "gain_hi": hi,
                     "basis": "predicted (deployment search)"})
    chat = chat_gains(model=chat_model, ttft_limit_s=sla.ttft_s, tpot_limit_s=sla.tpot_s)
    for feature, r in chat.iterrows():
        rows.append({"feature": feature, "scope": f"{model_name(chat_model)} multi-turn chat, nine TP8 replicas "
                     f"on one GB200 NVL72, goodput", "gain": r.gain, "gain_lo": r.gain_lo, "gain_hi": r.gain_hi,
                     "basis": f"simulated ({int(r.seeds)} seeds)"})
    return pd.DataFrame(rows)


def gains_table(gains: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    """:func:`dynamo_gains` for a reader: per feature, the gain with its interval, its basis and scope."""
    import pandas as pd

    return pd.DataFrame({"feature": gains.feature, "gain (80 % interval)": [
        interval_text(r, "gain", "x") for r in gains.itertuples()], "basis": gains.basis,
        "scope": gains.scope}).set_index("feature")


def best_measured(model: str, system: str, min_tok_s_per_user: float, *,
                  isl: int = 1024, osl: int = 1024) -> "pd.Series | None":  # noqa: F821
    """The measured row of ``model`` on ``system`` (``isl``/``osl``, one token per decode step) that
    gave the most output tokens/s per GPU at ``min_tok_s_per_user`` or more tokens/s per user
    (1 / TPOT), over every GPU of its deployment (a disaggregated row's prefill pool included), of
    the dense and serving tables: what was measured, beside what the search predicts. Rows the model
    leaves out do not count (a copy, a run too fast for its hardware, an unknown layout or draft
    length, a tensor-parallel group recorded over more nodes than a run of its benchmark spans),
    nor do runs with MTP speculative decoding (the search decodes one token per step). None where
    no row qualifies. Adds ``tok_s_per_user``, ``tok_s_per_gpu`` and ``gpus``."""
    from .calibrate.model import SYSTEMS as KNOWN
    from .models import get_model

    require_choice("system", system, KNOWN)
    require_positive("min_tok_s_per_user", min_tok_s_per_user)
    d = _measured_runs()
    d = d[(d.model == get_model(model).key) & (d.system == system) & (d.isl == isl) & (d.osl == osl)
          & (d.tok_s_per_user >= min_tok_s_per_user)]
    return None if d.empty else d.loc[d.tok_s_per_gpu.idxmax()]


@functools.lru_cache(maxsize=1)
def _measured_runs() -> "pd.DataFrame":  # noqa: F821
    """The measured rows :func:`best_measured` chooses from, with their GPUs and rates (read once)."""
    import pandas as pd

    d = pd.concat([load_measurements(table=t) for t in ("dense", "serving")], ignore_index=True)
    d = d[(d.left_out.fillna("") == "") & (d.spec_tokens.fillna(0) == 0)].copy()

    def n(col, default=1.0):  # the dense table's rows (empty here) are one TP worker each
        return d[col].fillna(default).astype(float)

    own = n("workers") * d.tp * n("attention_dp")
    pool = n("prefill_workers") * d.prefill_tp.fillna(d.tp) * n("prefill_attention_dp")
    d["gpus"] = (own + pool.where(d["mode"] == "disagg", 0.0)).astype(int)
    d["tok_s_per_user"] = 1e3 / d.tpot_ms
    d["tok_s_per_gpu"] = d.concurrency * d.tok_s_per_user / d.gpus
    return d


def measured_text(value: float) -> str:
    """A measured rate as the buyer's tables print it: to two significant figures
    (:func:`nvlmodel.units.fmt_value`; NaN, none measured, is a dash).

    >>> measured_text(3598.99), measured_text(23.52), measured_text(float("nan"))
    ('3,600', '24', '—')
    """
    return fmt_value(float(f"{value:.2g}"))


def interval_text(row, column: str = "per_gpu", unit: str = "") -> str:
    """:func:`with_interval` of ``column`` of ``row`` (a named tuple or a Series, as of
    :func:`comparison`, :func:`ratios` or :func:`ratio_curve`) with its ``_lo`` and ``_hi`` bounds,
    ``unit`` after the value (``"x"`` for a ratio).

    >>> import pandas as pd
    >>> interval_text(pd.Series({"per_gpu": 1.194, "per_gpu_lo": 0.93, "per_gpu_hi": 1.52}), unit="x")
    '1.2x (0.9-1.5)'
    """
    try:
        value, lo, hi = (getattr(row, column + end) for end in ("", "_lo", "_hi"))
    except AttributeError:
        raise KeyError(f"the row has no {column!r} with {column}_lo and {column}_hi") from None
    return with_interval(value, lo, hi, unit)


def interval_view(frame: "pd.DataFrame", columns: tuple[str, ...]) -> "pd.DataFrame":  # noqa: F821
    """``frame`` with each of ``columns`` replaced by its text ``value (lo-hi)`` from its ``_lo``
    and ``_hi`` columns (:func:`with_interval`: to the precision the interval supports), for
    display; a missing value stays missing.

    >>> import pandas as pd
    >>> interval_view(pd.DataFrame({"x": [7822.4, None], "x_lo": [5931.0, 1.0], "x_hi": [9310.2, 2.0]}), ("x",)).x.tolist()
    ['7,800 (5,900-9,300)', None]
    """
    import pandas as pd

    out = frame.copy()
    for col in columns:
        for c in (col, f"{col}_lo", f"{col}_hi"):
            if c not in frame.columns:
                raise KeyError(f"column {c!r} not in the frame; it has {', '.join(map(str, frame.columns))}")
        out[col] = pd.Series([with_interval(v, lo, hi) if np.isfinite([v, lo, hi]).all() else None
                              for v, lo, hi in zip(frame[col], frame[f"{col}_lo"], frame[f"{col}_hi"])],
                             index=frame.index, dtype=object)
    return out


def model_name(model: str) -> str:
    """A model's name as the buyer's tables print it (DeepSeek-V3's key shows as DeepSeek-R1, the
    model the serving rows measured)."""
    from .units import words

    return _NAMES[model] if model in _NAMES else words(model)


def _level_label(level: float) -> str:
    name = next((k for k, v in LEVELS.items() if v == level), None)
    return f"{level:g} tok/s/user" + (f" ({name})" if name else "")


def _one_level(frame: "pd.DataFrame", min_tok_s_per_user: "float | None") -> "pd.DataFrame":  # noqa: F821
    levels = sorted(set(frame.min_tok_s_per_user))
    if min_tok_s_per_user is None:
        if len(levels) > 1:
            raise ValueError(f"the table holds levels {levels}: pass min_tok_s_per_user, one of them")
        return frame
    if min_tok_s_per_user not in levels:
        raise ValueError(f"min_tok_s_per_user must be one of {levels}, got {min_tok_s_per_user!r}")
    return frame[frame.min_tok_s_per_user == min_tok_s_per_user]


def table(comp: "pd.DataFrame", min_tok_s_per_user: "float | None" = None) -> "pd.DataFrame":  # noqa: F821
    """:func:`comparison` for a reader, at one interactivity level (``min_tok_s_per_user``, needed
    when ``comp`` holds several): per model and system, tokens/s per GPU, tokens per joule and
    GPU-hours per million tokens, each as ``value (80 % interval)`` at its precision, and whether
    the point is extrapolated; and the most tokens/s per GPU a measured run gave at that level
    (``—``: none reached it)."""
    import pandas as pd

    rows = []
    for r in _one_level(comp, min_tok_s_per_user).itertuples():
        rows.append({"model": model_name(r.model), "system": r.system,
                     "deployment": f"{r.mode}, {r.gpus} GPU{'s' if r.gpus != 1 else ''}" + _over_nodes(r),
                     "output tok/s per GPU": interval_text(r, "tok_s_per_gpu"),
                     "best measured run": measured_text(getattr(r, "measured_tok_s_per_gpu", float("nan"))),
                     "tokens per joule": interval_text(r, "tok_per_joule"),
                     "GPU-hours per 1M tokens": interval_text(r, "gpu_h_per_mtok"),
                     "beyond measured rows": "yes" if r.extrapolated else "no"})
    return pd.DataFrame(rows).set_index(["model", "system"])


def _over_nodes(r) -> str:
    """``", TP 16 over 2 nodes"`` where a point's decoding tensor-parallel group spans HGX nodes
    (:meth:`nvlmodel.hardware.GPUSpec.require_tp`), else ``""``: the layout a reader would not
    expect of an HGX deployment. A comparison without ``decode_shape`` says nothing."""
    from .calibrate.model import SYSTEMS as KNOWN
    from .hardware import get_gpu

    shape = getattr(r, "decode_shape", None)
    if not isinstance(shape, tuple):
        return ""
    domain = get_gpu(KNOWN[r.system_key]).nvlink_domain_gpus
    return f", TP {shape[0]} over {shape[0] // domain} nodes" if shape[0] > domain else ""


def ratio_table(rat: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    """:func:`ratios` for a reader: per model and pair of systems, the per-GPU ratio with its 80 %
    interval at each interactivity level (a column each; ``*``: a side beyond the measured rows)."""
    import pandas as pd

    if rat.empty:
        raise ValueError("no ratios to show: the numerator system met the SLA for no model")
    view = pd.DataFrame({"model": rat.model.map(model_name), "ratio": rat.ratio,
                         "level": [f"at {_level_label(v)}" for v in rat.min_tok_s_per_user],
                         "text": [interval_text(r, unit="x") + (" *" if r.extrapolated else "") for r in rat.itertuples()]})
    out = view.pivot(index=["model", "ratio"], columns="level", values="text").fillna("—")
    order = [f"at {_level_label(v)}" for v in dict.fromkeys(rat.min_tok_s_per_user)]
    pairs = [(m, q) for m in dict.fromkeys(view.model) for q in dict.fromkeys(view.ratio) if (m, q) in out.index]
    out = out[order].reindex(pd.MultiIndex.from_tuples(pairs, names=["model", "ratio"]))
    out.columns.name = None
    return out


_NAMES = {"llama-3.1-70b": "Llama-3.1-70B", "llama-3.1-405b": "Llama-3.1-405B", "deepseek-v3": "DeepSeek-R1",
          "qwen3-235b-a22b": "Qwen3-235B-A22B", "gpt-oss-120b": "gpt-oss-120b"}
