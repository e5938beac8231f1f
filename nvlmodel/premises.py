"""The document's premises, one field each, and what each one is worth.

The seed document reaches its numbers through a handful of assumptions that public datasheets
correct. :class:`Premises` names each one; :data:`SEED` holds them all (the document as written),
:data:`DATASHEET` none. Any mixture is a valid :class:`Premises`, so an analysis can switch them one
at a time and show how much of a printed number each explains
(:func:`nvlmodel.calibrate.waterfall`, which adds the calibrated and measured steps above this floor).

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


__all__ = ["DATASHEET", "HEADLINE_SIDES", "LABELS", "PREMISES", "SEED", "Premises", "as_premises",
           "decode_seconds", "gpu_under", "headline_ratio"]
