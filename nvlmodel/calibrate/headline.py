"""The document's per-GPU headline restated: calibrated (Hopper-fitted efficiencies applied to both
GPUs) and measured (one engine's campaign on both GPUs)."""

from __future__ import annotations

from ..premises import LABELS, PREMISES, SEED, headline_ratio
from ..units import require_choice
from .data import _measurements
from .fit import fitted
from .model import Calibration, Config, components, engine_backend, kv_fits


#: The engine whose Hopper calibration restates the document's headline: the one campaign measured
#: on both Hopper and Blackwell with FP8 and FP4 (TensorRT-LLM, 2026-04-06 dump).
HEADLINE_ENGINE = "trtllm@2026-04-06"
#: The document's per-GPU claims the headline restates: (what, seed line, printed ratio, workload).
HEADLINE_POINTS: tuple[tuple[str, int, float, dict], ...] = (
    ("decode, batch 1", 103, 4.77, {"concurrency": 1, "isl": 1024, "osl": 1024}),
    ("decode, batch 64, 1K in / 1K out", 421, 3.6, {"concurrency": 64, "isl": 1024, "osl": 1024}),
    ("prefill, one 4K prompt", 420, 4.5, {"concurrency": 1, "isl": 4096, "osl": 1024}),
)


def smallest_tp(system: str, model: str, precision: str, backend: str = "vllm", **load) -> int:
    """The smallest TP degree (1, 2, 4, 8) at which ``load`` fits in ``backend``'s KV memory (:func:`kv_fits`)."""
    for tp in (1, 2, 4, 8):
        if kv_fits(Config(system, model, precision, tp, backend=backend, **load)):
            return tp
    raise ValueError(f"{model} {precision} with {load} does not fit on 8 GPUs of {system}")


def headline(model: str = "llama-3.1-70b", engine: str = HEADLINE_ENGINE,
             calibrations: "dict[str, Calibration] | None" = None) -> "pd.DataFrame":  # noqa: F821
    """B200 FP4 against H100 FP8, per GPU, with one engine's Hopper-fitted calibration applied to
    both GPUs, each at the smallest TP degree that holds the load (:func:`smallest_tp`): tokens/s
    per GPU of decode (batch / decode step) and of prefill (prompt / prefill time), at the points
    of :data:`HEADLINE_POINTS`, beside the ratio the document prints. The decode rate excludes the
    prefill interference of :func:`components`: it is the steady decode speed the document means.
    ``calibrations`` defaults to :func:`fitted` (the book's step, :data:`nvlmodel.calibrate.STATIC_STEP`)."""
    import pandas as pd

    cal = fitted() if calibrations is None else calibrations
    require_choice("engine", engine, cal)
    rows = []
    for what, line, printed, load in HEADLINE_POINTS:
        row = {"point": what, "seed_line": line, "printed_ratio": printed}
        for system, precision, label in (("h100_sxm", "fp8", "h100_fp8"), ("b200_sxm", "fp4", "b200_fp4")):
            backend = engine_backend(engine)
            tp = smallest_tp(system, model, precision, backend, **load)
            c = components(Config(system, model, precision, tp, backend=backend, **load), cal[engine])
            rate = load["isl"] / c["prefill_s"] if what.startswith("prefill") else load["concurrency"] / c["decode_step_s"]
            row[f"{label}_tp"] = tp
            row[f"{label}_tok_s_per_gpu"] = rate / tp
        row["calibrated_ratio"] = row["b200_fp4_tok_s_per_gpu"] / row["h100_fp8_tok_s_per_gpu"]
        rows.append(row)
    return pd.DataFrame(rows)


def measured_per_gpu(isl: int = 1024, osl: int = 1024,
                     measurements: "pd.DataFrame | None" = None) -> "pd.DataFrame":  # noqa: F821
    """Measured output tokens/s per GPU (concurrency / TPOT / tp) at one ``isl``/``osl``, the best
    TP degree for each system, precision, engine and concurrency, of ``measurements`` (default: the
    curated rows): what the rows themselves say."""
    rows = _measurements() if measurements is None else measurements
    d = rows[(rows.isl == isl) & (rows.osl == osl) & (rows.model == "llama-3.1-70b")].copy()
    if d.empty:
        have = sorted(set(zip(rows.isl, rows.osl)))
        raise ValueError(f"no 70B rows at isl={isl}, osl={osl}; measured: {have}")
    d["tok_s_per_gpu"] = d.concurrency / (d.tpot_ms / 1e3) / d.tp
    best = d.loc[d.groupby(["system", "precision", "engine", "concurrency"]).tok_s_per_gpu.idxmax()]
    return best.pivot_table(index="concurrency", columns=["system", "precision", "engine"], values="tok_s_per_gpu")


#: The like-for-like measured comparison of the headline: one engine and campaign on both GPUs.
MEASURED_B200_FP4 = ("b200_sxm", "fp4", "vllm@2026-04-06")
MEASURED_H100_FP8 = ("h100_sxm", "fp8", "vllm@2026-04-06")


def measured_ratio(numerator: tuple[str, str, str] = MEASURED_B200_FP4,
                   denominator: tuple[str, str, str] = MEASURED_H100_FP8,
                   isl: int = 1024, osl: int = 1024,
                   measurements: "pd.DataFrame | None" = None) -> "pd.Series":  # noqa: F821
    """Measured per-GPU output rate of ``numerator`` over ``denominator`` (each (system, precision,
    engine)), per concurrency measured for both, from :func:`measured_per_gpu` of ``measurements``."""
    table = measured_per_gpu(isl, osl, measurements)
    for side in (numerator, denominator):
        if tuple(side) not in set(table.columns):
            raise ValueError(f"no measured rows for {side}; measured: {sorted(table.columns)}")
    return (table[tuple(numerator)] / table[tuple(denominator)]).dropna()


def waterfall(point: int = 0) -> "pd.DataFrame":  # noqa: F821
    """One per-GPU headline of :data:`nvlmodel.calibrate.HEADLINE_POINTS` (0: decode at batch 1,
    line 103; 1: decode at batch 64, 1K in / 1K out) from the printed ratio to what the document's
    own method gives, then each premise corrected in turn (:data:`PREMISES` order) to the datasheet
    bound (one GPU each, pure bound), then the model calibrated on H100/H200 serving (chapter 7:
    the book's step with its fixed costs, each GPU at the smallest TP that holds the load), then one engine's
    measured ratio (vLLM, one campaign, at this concurrency or, with no such rows, the smallest it
    measured). Columns: ``step``, ``kind`` (printed / seed / premise / bound / calibrated /
    measured), ``ratio`` after the step and ``change`` (the step's effect)."""
    import pandas as pd

    what, line, printed, load = HEADLINE_POINTS[require_choice("point", point, (0, 1))]
    kw = {"batch": load["concurrency"], "context": load["isl"] + load["osl"] // 2}
    rows = [("as printed", "printed", printed, f"line {line}")]
    p = SEED
    rows.append(("document's own method", "seed", headline_ratio(p, **kw), ""))
    for name in PREMISES:
        p = p.flip(name, False)
        rows.append((f"corrected: {LABELS[name]}", "premise", headline_ratio(p, **kw), ""))
    rows.append(("datasheet bound", "bound", rows[-1][2], ""))
    rows.append(("calibrated on H100/H200 serving", "calibrated", float(headline().calibrated_ratio.iloc[point]), ""))
    measured = measured_ratio()  # one campaign of one engine (vLLM) on both GPUs
    c = load["concurrency"] if load["concurrency"] in measured.index else int(measured.index.min())
    rows.append(("measured, one vLLM campaign", "measured", float(measured[c]), f"concurrency {c}"))
    out = pd.DataFrame(rows, columns=["step", "kind", "ratio", "note"])
    out["change"] = out.ratio.diff().fillna(0.0)
    out.loc[out.kind == "bound", "change"] = 0.0
    out.attrs["point"] = what
    return out
