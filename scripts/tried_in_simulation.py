"""Changes to the request-level simulation tried on calibration rows, and not made.

Chapter 9's simulation replays every measured row with the static fit's parameters
(:func:`nvlmodel.serve.validate.replay`, steps from the measured kernels). Each variant below is
replayed on the H100/H200 rows of both tables (no held-out row is read) beside the book's
simulation, and scored by the simulation's median absolute and signed TTFT and TPOT errors per
table and GPU. A variant is adopted only where it errs less on the calibration rows of both
tables and both Hopper GPUs; none of these does.

``lone-prefill``
    a step that decodes and prefills at once is charged its decode step plus each prefill chunk
    as if it ran alone (without the step's fixed cost), the static model's account of a prompt's
    interference (``mix`` x a lone prefill, :func:`nvlmodel.calibrate.model._unit_terms_at`),
    instead of the book's one step over all its tokens, whose linear layers read the weights once
    (:class:`nvlmodel.serve.cost.StepCost`). The serving table's TPOT bias on H100 halves, but
    TTFT then errs more on the dense table (both GPUs) and on H200's serving rows: on a lightly
    loaded engine a prompt's own step grows by a whole decode step's weight reads. Tensor-parallel
    workers only (an attention-DP worker's steps are left as the book's).
``sim-t_req``
    the per-request cost (:attr:`nvlmodel.calibrate.Calibration.t_req`) refitted for the simulation,
    per engine, on the serving table's calibration rows: the static fit sets it beside its own
    queueing factor ``q``, which the simulation replaces by its queue. Fitted by shifting each row's
    simulated TTFT (the cost is a delay before the router: ``TTFT(t) ~ TTFT(t_req) + t - t_req``),
    the least median absolute log error on a 5 ms grid, then replayed with the fitted costs. H100's
    rows (the gap-analysis runs of SGLang and TensorRT-LLM) want a larger cost, H200's do not.
``verify-attention``
    a speculative decoder's verify pass charged its MLA attention for its ``k + 1`` query tokens
    per sequence instead of one (the book's step takes the extra queries as free, decode attention
    being bound by reading the cache): absorbed MLA kernels pack query tokens x heads into one
    dimension (FlashMLA's ``get_mla_metadata(cache_seqlens, s_q * h_q // h_kv, h_kv)``), so the
    pass is priced as the measured module at ``(k + 1)`` times the rank's heads (between measured
    head counts log-interpolated, beyond 128 at the measured 64 -> 128 ratio per doubling), at the
    deployment's batch per rank and mean context. At 128 heads on H100 the module is compute-bound
    at large batches (256 sequences of 8K tokens: 64 -> 128 heads takes 1.72 times as long). On the
    few calibration rows that decode speculatively it moves H100's TPOT bias from -15 to -14 % and
    H200's from -1 to +3 %: not adopted.
``gap-analysis-aiperf``
    the serving table's gap-analysis rows (the developer's runs, whose client is not recorded)
    replayed under aiconfigurator's benchmark protocol (:data:`nvlmodel.serve.validate.PROTOCOLS`
    ``aiperf``: fixed lengths, the counted requests starting together) instead of InferenceMAX's.
    SGLang's rows fit it far better (their TTFT grows with the clients whatever the output length,
    as lockstep clients' does); TensorRT-LLM's and vLLM's fit InferenceMAX's better. One harness
    measured with one client cannot follow two protocols, and nothing but these errors says which,
    so the book keeps one.

    python scripts/tried_in_simulation.py

About a minute and a half on two cores (one process; the variants replace functions of this process).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os

import numpy as np
import pandas as pd

from curate_measurements import HARNESSES  # a sibling script: the data dumps' names as the curated rows carry them
from nvlmodel import recorded
from nvlmodel.calibrate import fitted
from nvlmodel.calibrate.data import _measurements
from nvlmodel.kernels import mla_gemm_type, mla_time
from nvlmodel.serve import cost, engine
from nvlmodel.serve.validate import SIM_STEPS, replay

# a variant changes the simulation: every run is made afresh, none read from the book's record of them
os.environ[recorded.IGNORE_ENV] = "1"
HOPPER = ("h100_sxm", "h200_sxm")
T_REQ_GRID_MS = np.arange(0.0, 1000.0, 5.0)
GAP_ANALYSIS = HARNESSES["gap analysis"]


@contextlib.contextmanager
def lone_prefill():
    """The ``lone-prefill`` variant for the length of the block."""
    book = cost.StepCost.step

    def step(self, decode, context, chunks=()):
        if not (chunks and decode) or self.ranks > 1:
            return book(self, decode, context, chunks)
        return book(self, decode, context) + sum(book(self, 0, 0.0, [c]) - self.t_step for c in chunks)

    cost.StepCost.step = step
    try:
        yield
    finally:
        cost.StepCost.step = book


@contextlib.contextmanager
def verify_attention():
    """The ``verify-attention`` variant for the length of the block."""
    book = engine.step_cost

    def factor(config) -> float:
        m = config.arch
        tp, _, _ = config.shape()
        heads, want = m.heads // tp, m.heads // tp * (1 + config.spec_tokens)
        kw = dict(kv_dtype=config.kv_dtype, gemm_type=mla_gemm_type(config.precision),
                  batch=max(1.0, float(config.batch_per_rank)), tokens=config.isl + config.osl / 2)

        def t(h):
            return float(mla_time(config.system, config.backend, "decode", heads=h, **kw).seconds)

        if want > 128:
            return t(128) * (t(128) / t(64)) ** math.log2(want / 128) / t(heads)
        lo = 2 ** int(math.floor(math.log2(want)))
        hi = min(128, 2 * lo)
        w = 0.0 if hi == lo else math.log(want / lo) / math.log(hi / lo)
        return math.exp((1 - w) * math.log(t(lo)) + w * math.log(t(hi))) / t(heads)

    def step_cost(config, calibration, *, prefill=False, **kw):
        sc = book(config, calibration, prefill=prefill, **kw)
        if isinstance(sc, cost.SpeculativeStepCost) and calibration.step == "kernels" and config.arch.mla is not None:
            f = factor(config)
            sc = dataclasses.replace(sc, k_attn=sc.k_attn * f, k_seq=sc.k_seq * f, k_dfix=sc.k_dfix * f)
        return sc

    engine.step_cost = step_cost
    engine._step_cost.cache_clear()  # the step costs kept from runs before the block are the book's
    try:
        yield
    finally:
        engine.step_cost = book
        engine._step_cost.cache_clear()


def calibration_rows(table: str) -> pd.DataFrame:
    d = _measurements(table)
    return d[d.system.isin(HOPPER)]


def replayed(table: str, **kw) -> pd.DataFrame:
    modes = ("agg", "disagg") if table == "serving" else ("agg",)
    return replay(calibration_rows(table), modes=modes, step=SIM_STEPS[table], static_step="roofline",
                  fits_only=True, **kw)


def summary(rep: pd.DataFrame, by=("system",)) -> pd.DataFrame:
    def one(g):
        return pd.Series({"rows": len(g), "TTFT MdAPE": g.ttft_sim_err_pct.abs().median(),
                          "TTFT bias": g.ttft_sim_err_pct.median(), "TPOT MdAPE": g.tpot_sim_err_pct.abs().median(),
                          "TPOT bias": g.tpot_sim_err_pct.median()})
    return rep.groupby(list(by)).apply(one).round(1)


def sim_t_req(rep: pd.DataFrame, calibrations: dict) -> dict:
    """Each engine's per-request cost (s) that the shifted simulated TTFTs of its rows in ``rep``
    err least on (median absolute log error)."""
    out = {}
    for name, g in rep.groupby("engine"):  # (not the engine module: an engine's name)
        base = g.ttft_sim_ms.to_numpy() - calibrations[name].t_req * 1e3
        loss = [np.median(np.abs(np.log(np.maximum(base + t, 1e-3) / g.ttft_ms.to_numpy()))) for t in T_REQ_GRID_MS]
        out[name] = float(T_REQ_GRID_MS[int(np.argmin(loss))]) / 1e3
    return out


def main() -> None:
    pd.set_option("display.width", 200)
    results = {}
    book = {t: replayed(t) for t in ("dense", "serving")}
    for t, rep in book.items():
        results[(t, "the book's simulation")] = summary(rep)
    with lone_prefill():
        for t in ("dense", "serving"):
            results[(t, "lone-prefill")] = summary(replayed(t))
    cals = fitted(SIM_STEPS["serving"], "serving")
    t_req = sim_t_req(book["serving"], cals)
    print("sim-t_req: per-request cost refitted for the simulation, ms (the static fit's in brackets):",
          {e: f"{t * 1e3:.0f} ({cals[e].t_req * 1e3:.0f})" for e, t in t_req.items()})
    results[("serving", "sim-t_req")] = summary(replayed(
        "serving", sim_calibrations={e: dataclasses.replace(c, t_req=t_req[e]) for e, c in cals.items()}))
    spec = book["serving"].spec_tokens.fillna(0) > 0
    results[("serving", "rows run with speculative decoding, the book's simulation")] = summary(book["serving"][spec])
    with verify_attention():
        rep = replayed("serving")
    results[("serving", "rows run with speculative decoding, verify-attention")] = summary(
        rep[rep.spec_tokens.fillna(0) > 0])
    gap = book["serving"].harness == GAP_ANALYSIS
    aiperf = replayed("serving", protocol="aiperf")
    results[("serving", "gap-analysis rows, InferenceMAX's protocol (the book's)")] = summary(
        book["serving"][gap], ("system", "engine"))
    results[("serving", "gap-analysis rows, aiperf's protocol")] = summary(
        aiperf[aiperf.harness == GAP_ANALYSIS], ("system", "engine"))
    for (table, name), s in results.items():
        print(f"\n{table} table, {name} (calibration rows, simulated errors, %)")
        print(s.to_string())


if __name__ == "__main__":
    main()
