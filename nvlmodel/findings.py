"""The key findings: the seed document's headline claims, each as printed, by the document's own
method, with datasheet facts, and calibrated, measured or simulated where the package can, with
the best corrected value and its basis. One table reconciles the chapters (the findings page).

Bases, from weakest to strongest evidence:

``bound``
    datasheet arithmetic (roofline at full peak and bandwidth, capacity, bytes over links): what the
    hardware cannot beat, or for times, cannot go below;
``calibrated``
    the static formula with the book's step (:data:`nvlmodel.calibrate.STATIC_STEP`: measured kernels
    plus overheads fitted on H100/H200 measurements only, chapter 7), predicting Blackwell;
``simulated``
    the request-level simulation under load with those calibrations (chapter 9);
``measured``
    what engines measured on both GPUs (chapter 7's curated rows).

Every number comes from the ledger (:mod:`nvlmodel.claims`) or the models; nothing is typed here but
which claim each row restates.
"""

from __future__ import annotations

import functools
import math

from dataclasses import dataclass, replace

import numpy as np

from .units import with_interval

BASES: tuple[str, ...] = ("bound", "calibrated", "simulated", "measured")


@dataclass(frozen=True)
class Finding:
    """One headline claim restated: values in ``unit``; ``measured`` is a (low, high) range or None."""

    key: str
    finding: str
    scope: str
    claim_id: str
    unit: str
    printed: str
    printed_value: float
    seed: float | None
    datasheet: float | None
    calibrated: float | None
    simulated: float | None
    measured: tuple[float, float] | None
    chapter: str  # the label of the chapter that shows why
    better: str  # "higher" or "lower": which way is better for a reader of this quantity
    calibrated_interval: tuple[float, float] | None = None  # 80 % interval of a calibrated ratio
    simulated_range: tuple[float, float] | None = None  # lowest and highest simulated value over seeds

    @property
    def basis(self) -> str:
        """The strongest evidence this finding has (:data:`BASES`, weakest first)."""
        have = {"bound": self.datasheet, "calibrated": self.calibrated, "simulated": self.simulated,
                "measured": self.measured}
        return next(b for b in reversed(BASES) if have[b] is not None)

    @property
    def best(self) -> float:
        """The best corrected value: the strongest evidence available (measured range: its top,
        the like-for-like point the calibrated model is compared with; see :attr:`basis`)."""
        return {"measured": self.measured[1] if self.measured else np.nan, "simulated": self.simulated,
                "calibrated": self.calibrated, "bound": self.datasheet}[self.basis]

    def best_text(self) -> str:
        """The best corrected value as the page prints it: a measured range, a calibrated value with
        its 80 % interval (to the interval's precision), or a value."""
        if self.basis == "measured":
            return _range(self.measured, self.unit)
        if self.basis == "calibrated":
            return _calibrated_text(self)
        if self.basis == "simulated":
            return _simulated_text(self)
        return _fmt(self.best, self.unit)

    def printed_text(self) -> str:
        """As printed, with the unit where the document left it out."""
        return self.printed if any(ch.isalpha() for ch in self.printed) else f"{self.printed} {self.unit}"

    def relative(self, value: float) -> float:
        """``value`` against the printed number, in the direction a reader wants (1: as claimed,
        below 1: worse than claimed; for a time, printed over value)."""
        return value / self.printed_value if self.better == "higher" else self.printed_value / value


def number_text(v: float) -> str:
    """Three significant figures at most, thousands separated: how the findings page writes numbers.

    >>> [number_text(v) for v in (19782.0, 429.46, 94.638, 3.2247)]
    ['19,800', '429', '94.6', '3.22']
    """
    a = abs(v)
    if a >= 1000:
        return f"{round(v, 2 - int(math.floor(math.log10(a)))):,.0f}"
    return f"{v:,.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}"


def _fmt(v: float | None, unit: str) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    return f"{number_text(v)}x" if unit == "x" else f"{number_text(v)} {unit}"


def _range(r: tuple[float, float] | None, unit: str) -> str:
    if r is None:
        return "—"
    lo, hi = r
    return _fmt(lo, unit) if lo == hi else f"{number_text(lo)}-{_fmt(hi, unit)}"


def _interval_text(value: float | None, interval: tuple[float, float] | None, unit: str) -> str:
    """``value`` with its interval where it has one, to the interval's precision (a ratio's ``x``
    after the value, another unit after the interval)."""
    if value is None or interval is None:
        return _fmt(value, unit)
    if unit == "x":
        return with_interval(value, *interval, unit="x")
    return f"{with_interval(value, *interval)} {unit}"


def _calibrated_text(x: Finding) -> str:
    """The calibrated value with its 80 % interval where it has one."""
    return _interval_text(x.calibrated, x.calibrated_interval, x.unit)


def _simulated_text(x: Finding) -> str:
    """The simulated value with its range over seeds where it has one."""
    return _interval_text(x.simulated, x.simulated_range, x.unit)


def ratio_interval(ratio: float, metric: str, other_ratio: float | None = None) -> tuple[float, float]:
    """The 80 % interval of a calibrated per-GPU ratio of B200 (a GPU no fit has seen) over H100 (a
    calibration GPU), propagated from each side's errors on the dense rows
    (:func:`nvlmodel.calibrate.intervals.throughput_ratio_interval`): ``metric`` ``tpot`` for a
    decode rate, ``ttft`` for a prefill rate. The B200 side takes the calibration rows' errors
    pooled with the errors of predicting one Hopper GPU from the other. ``ratio`` is by the book's step
    (:data:`nvlmodel.calibrate.STATIC_STEP`); ``other_ratio``: the same ratio by the other step model; the
    interval is then the hull of both models' intervals, each from its own errors (B200 is a GPU
    neither was fitted on)."""
    from .calibrate import STATIC_STEP
    from .calibrate.intervals import hull, other_step, throughput_ratio_interval

    lo, hi = throughput_ratio_interval(ratio, *_dense_samples(metric, STATIC_STEP))
    if other_ratio is not None:
        lo, hi = hull((lo, hi), throughput_ratio_interval(other_ratio, *_dense_samples(metric, other_step(STATIC_STEP))))
    return lo, hi


@functools.lru_cache(maxsize=4)
def _dense_samples(metric: str, step: str) -> tuple[np.ndarray, np.ndarray]:
    """The dense rows' log-errors of ``metric`` by ``step``'s fit: a GPU no fit has seen
    (calibration rows pooled with the Hopper-to-Hopper transfer), and a calibration GPU."""
    from .calibrate import fitted, load_measurements, predictions
    from .calibrate.intervals import ratio_samples, transfer_residuals

    d = load_measurements()
    own, new = ratio_samples(predictions(d, fitted(step)), transfer_residuals(d, step), metric)
    return new, own


def findings(ttft_limit_s: float = 2.0, tpot_limit_s: float = 0.05, sla_share: float = 0.9,
             seed: int = 0) -> list[Finding]:
    """The seed's seven headline claims (per-GPU speed-up, the end-to-end decode and prefill
    advantages, 128K sessions, model swap, KV block transfer, rack throughput) restated; the rack's
    simulated throughput within (``ttft_limit_s``, ``tpot_limit_s``) for ``sla_share`` of requests."""
    from .calibrate import HEADLINE_POINTS, STATIC_STEP, fitted, headline, measured_ratio, waterfall
    from .calibrate.intervals import other_step
    from .claims import get_claim
    from .claims.kvbm import session_advantage
    from .premises import HEADLINE_SIDES
    from .roofline import prefill
    from .serve.validate import rack_capacity

    hl = headline().set_index("point").calibrated_ratio
    measured = measured_ratio()
    rack = rack_capacity(ttft_limit_s, tpot_limit_s, sla_share, seeds=tuple(seed + k for k in range(3)))
    sessions = session_advantage()
    per_gpu, dec, pre = (get_claim(i) for i in ("fp4.batch1-speedup", "e2e.decode_tok_s.advantage",
                                                  "e2e.prefill_tok_s.advantage"))
    swap, block, rack_c = (get_claim(i) for i in ("e2e.swap_ms.nvl72", "e2e.kv_block_us.nvl72", "summary.rack-decode"))
    summary = get_claim("summary.per-gpu")
    # one scope per row: the per-GPU rows take their bound and calibrated values from chapter 6's
    # waterfall of the same point (Llama-3.1-70B at the point's batch and context)
    w0, w1 = (waterfall(p).set_index("kind").ratio for p in (0, 1))
    ctx0 = HEADLINE_POINTS[0][3]["isl"] + HEADLINE_POINTS[0][3]["osl"] // 2
    load1 = HEADLINE_POINTS[1][3]
    c0 = int(measured.index.min())
    m0 = float(measured.loc[c0])
    m64 = float(measured.loc[load1["concurrency"]]) if load1["concurrency"] in measured.index else None
    load2 = HEADLINE_POINTS[2][3]
    (g_new, f_new, _), (g_old, f_old, _) = HEADLINE_SIDES  # B200 NVFP4, H100 FP8
    prefill_bound = float(prefill(g_old, "llama-3.1-70b", f_old, prompt=load2["isl"]).time
                          / prefill(g_new, "llama-3.1-70b", f_new, prompt=load2["isl"]).time)
    items = [
        Finding("per-gpu", "Per-GPU decode speed-up at batch 1, B200 FP4 over H100 FP8",
                f"Llama 70B, one sequence at a {ctx0:,}-token context (printed: line 103; summary: "
                f"{summary.printed.split('(')[-1].rstrip(')')}); no measurement at batch 1 (the lowest measured "
                f"concurrency, {c0}, gives {number_text(m0)}x: chapter 7)",
                per_gpu.id, "x", per_gpu.printed, per_gpu.seed_value, per_gpu.reproduced_value, float(w0["bound"]),
                float(w0["calibrated"]), None, None, "chapter-validation", "higher"),
        Finding("decode", "Per-GPU decode under load, B200 FP4 over H100 FP8 (the end-to-end table's 3.6x)",
                f"Llama-3.1-70B per GPU at batch {load1['concurrency']}, {load1['isl']:,} in / {load1['osl']:,} out: "
                "the end-to-end table's decode advantage (Llama 405B, TP8) restated per GPU, as chapters 6 and 7 "
                "do; the table's own 405B values are in the errata", dec.id, "x", dec.printed, dec.seed_value,
                dec.reproduced_value, float(w1["bound"]), float(w1["calibrated"]), None, (m64, m64) if m64 else None,
                "chapter-end-to-end", "higher"),
        Finding("prefill", "Per-GPU prefill, B200 FP4 over H100 FP8 (the end-to-end table's 4.5x)",
                f"Llama-3.1-70B per GPU, one {load2['isl']:,}-token prompt: the end-to-end table's prefill "
                "advantage (Llama 405B, TP8) restated per GPU, as chapter 7 does; the table's own 405B values "
                "are in the errata",
                pre.id, "x", pre.printed, pre.seed_value, pre.reproduced_value, prefill_bound,
                float(hl.iloc[2]), None, None, "chapter-validation", "higher"),
        Finding("sessions", "Concurrent 128K sessions, NVL72 over one 8x H100 node",
                f"Llama 405B; printed: the table's two cells divided ({get_claim('kvbm.table.b200x72.sessions').printed} / "
                f"{get_claim('kvbm.table.h100x8.sessions').printed})", "kvbm.table.b200x72.sessions",
                "x", f"{number_text(sessions['printed'])}x (implied)", sessions["printed"], sessions["seed"],
                sessions["datasheet"], None, None, None, "chapter-kvbm", "higher"),
        Finding("swap", "Model swap into one TP8 replica on NVL72 (ModelExpress)",
                "Llama 405B, each GPU receiving its TP8 shard over NVLink; a time: lower is better",
                swap.id, "ms", swap.printed, swap.seed_value, swap.reproduced_value, swap.datasheet_value,
                None, None, None, "chapter-end-to-end", "lower"),
        Finding("kv-block", "KV block transfer between GPUs",
                "Llama 405B TP8, one 16-token paged block: per-layer copies at the measured per-copy latency",
                block.id, "us", block.printed, block.seed_value, block.reproduced_value, block.datasheet_value,
                None, None, None, "chapter-kvbm", "lower"),
        Finding("rack", "Rack decode throughput, Llama 405B on nine TP8 replicas",
                f"simulated: 4K prompts, 1K answers, Poisson arrivals, {sla_share:.0%} of requests within "
                f"TTFT {ttft_limit_s:g} s and TPOT {tpot_limit_s * 1e3:g} ms at the highest load that keeps them "
                f"(to 1 request/s); the median of {rack['seeds']} draws of the arrivals, their range in brackets",
                rack_c.id, "tok/s", rack_c.printed,
                rack_c.seed_value, rack_c.reproduced_value, rack_c.datasheet_value, None,
                rack["tok_s"], None, "chapter-under-load", "higher",
                simulated_range=(rack["tok_s_lo"], rack["tok_s_hi"])),
    ]
    # the same three ratios by the other step model: each interval is the hull of both models' (B200 is
    # a GPU neither was fitted on)
    other = dict(zip(("per-gpu", "decode", "prefill"),
                     headline(calibrations=fitted(other_step(STATIC_STEP))).calibrated_ratio))
    metric = {"per-gpu": "tpot", "decode": "tpot", "prefill": "ttft"}
    return [replace(f, calibrated_interval=ratio_interval(f.calibrated, metric[f.key], other[f.key]))
            if f.key in metric else f for f in items]



def table(items: list[Finding] | None = None) -> "pd.DataFrame":  # noqa: F821
    """One row per finding, values with their unit, "—" where the package has no value of that
    kind: the corrected table of the findings page. The printed and best corrected values and the
    basis come first (what a reader cites, in view before the table scrolls), the scope last."""
    import pandas as pd

    rows = []
    for x in findings() if items is None else items:
        rows.append({"finding": x.finding, "printed": x.printed_text(), "best corrected value": x.best_text(),
                     "basis": x.basis, "document's own method": _fmt(x.seed, x.unit),
                     "datasheet bound": _fmt(x.datasheet, x.unit), "calibrated": _calibrated_text(x),
                     "simulated under load": _simulated_text(x), "measured": _range(x.measured, x.unit),
                     "scope": x.scope})
    return pd.DataFrame(rows).set_index("finding")


def scope_lines(items: list[Finding] | None = None) -> str:
    """One MyST bullet per finding: what each estimate of it is about (model, batch, system). The
    findings page lists these under its table, where a column of them made every row tall."""
    return "\n".join(f"- **{x.finding}**: {x.scope}." for x in (findings() if items is None else items))


def markdown_lines(items: list[Finding] | None = None) -> str:
    """One MyST bullet per finding: printed, by the document's method, corrected (with its basis),
    and a link to the chapter that shows why."""
    lines = []
    for x in findings() if items is None else items:
        extra = [f"{name} {text}" for name, text in (("calibrated", _calibrated_text(x)),
                                                    ("simulated under load", _simulated_text(x)),
                                                    ("measured", _range(x.measured, x.unit))) if text != "—"]
        lines.append(
            f"- **{x.finding}**: printed {x.printed_text()}; by the document's own method {_fmt(x.seed, x.unit)}; "
            f"with datasheet facts {_fmt(x.datasheet, x.unit)}" + "".join(f"; {e}" for e in extra)
            + f". Best corrected value: **{x.best_text()}** ({x.basis}). Why: {{ref}}`{x.chapter}`.")
    return "\n".join(lines)
