"""The document's premises, one field each, and what each one is worth.

The seed document reaches its numbers through a handful of assumptions that public datasheets
correct. :class:`Premises` names each one; :data:`SEED` holds them all (the document as written),
:data:`DATASHEET` none. Any mixture is a valid :class:`Premises`, so an analysis can switch them one
at a time and show how much of a printed number each explains (:func:`waterfall`).

The waterfall restates the document's per-GPU headline (line 103: B200 FP4 decodes Llama 70B at
4.77x an H100 in FP8, batch 1; "4-5x per GPU" in the summary, line 525): each premise flipped in
turn, then the calibrated model of chapter 7 (Hopper-fitted efficiencies, fixed costs), then the
ratio measured in one engine's campaign on both GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .units import require_choice


@dataclass(frozen=True)
class Premises:
    """Each field is True where the document's premise holds, False where the datasheet's fact
    replaces it."""

    sparse_peaks: bool = False  # 2:4-sparse tensor peaks used as the dense peak (spec table, lines 11-13)
    fp4_half_byte: bool = False  # FP4 weights at 0.5 byte, not NVFP4's 4.5 bits (line 57)
    nominal_params: bool = False  # the model name's round count (70e9), not the configuration's
    weights_only_flops: bool = False  # 2 x params FLOPs per token: no attention, embeddings counted (line 65)
    no_kv_reads: bool = False  # decode reads the weights only, no KV cache (lines 46-80)
    marketed_hbm: bool = False  # marketed HBM ("192 GB") as the bytes software can use
    nvlink_both_ways: bool = False  # NVLink's two-direction total (1.8 TB/s) as a one-way rate
    switch_domains: bool = False  # 9 NVSwitch domains of 8 GPUs, not one switch hop between any two

    @property
    def name(self) -> str:
        if self == SEED:
            return "seed"
        if self == DATASHEET:
            return "datasheet"
        on = [f.name for f in fields(self) if getattr(self, f.name)]
        return "datasheet + " + ", ".join(on) if on else "datasheet"

    def flip(self, premise: str, value: bool) -> "Premises":
        """The same premises with ``premise`` set to ``value``."""
        require_choice("premise", premise, PREMISES)
        return replace(self, **{premise: value})


SEED = Premises(**{f.name: True for f in fields(Premises)})
DATASHEET = Premises()
#: Every premise, in the order :func:`waterfall` corrects them.
PREMISES: tuple[str, ...] = tuple(f.name for f in fields(Premises))
#: What each premise says, for tables and figures.
LABELS: dict[str, str] = {
    "sparse_peaks": "sparse peaks read as dense",
    "fp4_half_byte": "FP4 at 0.5 byte (NVFP4: 4.5 bits)",
    "nominal_params": "nominal parameter count",
    "weights_only_flops": "2 x params FLOPs, no attention",
    "no_kv_reads": "no KV reads in decode",
    "marketed_hbm": "marketed HBM as usable",
    "nvlink_both_ways": "NVLink both directions as one way",
    "switch_domains": "8-GPU NVSwitch domains",
}


def as_premises(premises: "str | Premises") -> Premises:
    """A :class:`Premises` from itself or a preset name (``seed``, ``datasheet``)."""
    if isinstance(premises, Premises):
        return premises
    return {"seed": SEED, "datasheet": DATASHEET}[require_choice("preset", premises, ("seed", "datasheet"))]


def gpu_under(gpu: str, premises: "str | Premises"):
    """The datasheet GPU with the document's value wherever a premise holds: dense peaks := the
    sparse figure (``sparse_peaks``), visible HBM := marketed (``marketed_hbm``), one-way NVLink :=
    the two-way total (``nvlink_both_ways``). Every other field is the datasheet's."""
    from .hardware import get_gpu

    p, g = as_premises(premises), get_gpu(gpu, "datasheet")
    changes = {}
    if p.sparse_peaks:
        for dt in ("fp16", "fp8", "fp4"):
            changes[f"{dt}_dense_flops"] = getattr(g, f"{dt}_sparse_flops")
    if p.marketed_hbm:
        changes["hbm_visible_bytes"] = g.hbm_bytes
    if p.nvlink_both_ways:
        changes["nvlink_bw_per_direction"] = g.nvlink_bw_total
    return replace(g, **changes) if changes else g


#: The two sides of the document's per-GPU headline: (GPU, weight format, tensor dtype).
HEADLINE_SIDES: tuple[tuple[str, str, str], tuple[str, str, str]] = (("b200", "nvfp4", "fp4"), ("h100", "fp8", "fp8"))


def decode_seconds(gpu: str, weight_format: str, premises: "str | Premises", *, model: str = "llama-3.1-70b",
                   batch: int = 1, context: int = 1536, kv_bytes_per_element: float = 1.0) -> float:
    """One decode step on one GPU under ``premises`` (:func:`nvlmodel.roofline.decode_step`, pure
    bound); FP4 weights at the document's 0.5 byte where ``fp4_half_byte`` holds. ``context``
    defaults to the mean context of a 1K-in / 1K-out request."""
    from .roofline import decode_step, gemm_dtype

    p = as_premises(premises)
    fmt = "fp4-seed" if p.fp4_half_byte and gemm_dtype(weight_format) == "fp4" else weight_format
    return decode_step(gpu, model, fmt, batch=batch, context=context, kv_bytes_per_element=kv_bytes_per_element,
                       premises=p).time


def headline_ratio(premises: "str | Premises", **kw) -> float:
    """B200 NVFP4 over H100 FP8 decode rate per GPU under ``premises`` (:func:`decode_seconds`)."""
    (ga, fa, _), (gb, fb, _) = HEADLINE_SIDES
    return decode_seconds(gb, fb, premises, **kw) / decode_seconds(ga, fa, premises, **kw)


def waterfall(point: int = 0) -> "pd.DataFrame":  # noqa: F821
    """One per-GPU headline of :data:`nvlmodel.calibrate.HEADLINE_POINTS` (0: decode at batch 1,
    line 103; 1: decode at batch 64, 1K in / 1K out) from the printed ratio to what the document's
    own method gives, then each premise corrected in turn (:data:`PREMISES` order) to the datasheet
    bound (one GPU each, pure bound), then the model calibrated on H100/H200 serving (chapter 7:
    efficiencies, fixed costs, each GPU at the smallest TP that holds the load), then one engine's
    measured ratio (vLLM, one campaign, at this concurrency or, with no such rows, the smallest it
    measured). Columns: ``step``, ``kind`` (printed / seed / premise / bound / calibrated /
    measured), ``ratio`` after the step and ``change`` (the step's effect)."""
    import pandas as pd

    from .calibrate import HEADLINE_POINTS, headline, measured_ratio

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


__all__ = ["DATASHEET", "HEADLINE_SIDES", "LABELS", "PREMISES", "SEED", "Premises", "as_premises",
           "decode_seconds", "gpu_under", "headline_ratio", "waterfall"]
