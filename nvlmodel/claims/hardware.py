"""Claims of the seed's hardware sections: introduction (line 1), spec table (lines 6-18),
GB200 superchip (line 20) and the NVL72 box (lines 24-41)."""

from __future__ import annotations

from ..hardware import SPEC_TABLE_ROWS, get_gpu, get_superchip, get_system, spec_value
from ..topology import NVL72Topology
from ..units import GB, PB, convert
from .core import Claim, builds, make_claim


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


# Per spec-table row: line, printed B200, printed H100, printed ratio, and what to say where the
# datasheet differs (keyed by GPUSpec field).
_SPEC_PRINTED = {
    "transistors": (9, "208 billion", "80 billion", "2.6x"),
    "sms": (10, "192", "132", "1.45x"),
    "fp16_dense_flops": (11, "4,500", "1,979", "2.27x"),
    "fp8_dense_flops": (12, "9,000", "3,958", "2.27x"),
    "fp4_dense_flops": (13, "18,000", None, None),
    "hbm_bytes": (14, "192 GB", "80 GB", "2.4x"),
    "hbm_bandwidth": (15, "8 TB/s", "3.35 TB/s", "2.39x"),
    "nvlink_bw_total": (16, "1,800 GB/s", "900 GB/s", "2x"),
    "tdp_watts": (17, "1,000 W", "700 W", "1.43x"),
    "l2_bytes": (18, "128 MB", "50 MB", "2.56x"),
}

_SPARSE = ("the printed figure is NVIDIA's 2:4-sparse peak; dense LLM weights do not use 2:4 "
           "sparsity, so the dense peak is half of it")
_SPEC_NOTES = {
    "sms": ("NVIDIA has not published a B200 SM count; a device query reports {sms} SMs "
            "(pytorch/ao PR #4002). We found no public source for 192."),
    "fp16_dense_flops": _SPARSE + ".",
    "fp8_dense_flops": _SPARSE + ".",
    "fp4_dense_flops": _SPARSE + " ({fp4_b:,.0f} dense for HGX B200, {fp4_gb:,.0f} for the B200 in GB200).",
    "hbm_bytes": ("192 GB is the marketed figure; software sees {b:.1f} GB on HGX B200 and {gb:.1f} GB on GB200 "
                  "(nvidia-smi; MLPerf's \"B200-SXM-180GB\" and \"GB200-186GB\" are the same bytes in GiB), and "
                  "{h:.1f} GB on H100, so the visible ratio is {rb:.2f}x-{rg:.2f}x."),
    "nvlink_bw_total": ("1,800 GB/s adds both directions of 18 links x {link:.0f} GB/s; one direction, "
                        "which bounds a one-way copy, is 900 GB/s ({h100_dir:.0f} GB/s on H100)."),
    "tdp_watts": "1,000 W is HGX B200; the B200 in a GB200 superchip is rated {tdp_gb:,.0f} W.",
    "l2_bytes": ("NVIDIA has not published B200 L2 size; a device query reports {l2:.1f} MB "
                 "(pytorch/ao PR #4002), a ratio of {l2_ratio:.2f}x."),
}


def _visible() -> dict[str, float]:
    """The datasheet values the hardware explanations quote: HBM software sees (GB) and its ratios
    to H100, SMs, dense FP4 peaks, per-link and per-direction NVLink, GB200 TDP, L2."""
    hd, bd, gbd = (get_gpu(g, "datasheet") for g in ("h100", "b200", "gb200-b200"))
    h, b, gb = (g.hbm_visible_bytes / GB for g in (hd, bd, gbd))
    return {"h": h, "b": b, "gb": gb, "rb": b / h, "rg": gb / h, "sms": bd.sms,
            "fp4_b": bd.fp4_dense_flops / 1e12, "fp4_gb": gbd.fp4_dense_flops / 1e12,
            "link": bd.nvlink_bw_total / bd.nvlink_links / GB, "h100_dir": hd.nvlink_bw_per_direction / GB,
            "tdp_gb": gbd.tdp_watts, "l2": bd.l2_bytes / 1e6, "l2_ratio": bd.l2_bytes / hd.l2_bytes}


def _spec_table_claims() -> list[Claim]:
    claims: list[Claim] = []
    v = _visible()
    b_seed, h_seed = get_gpu("b200", "seed"), get_gpu("h100", "seed")
    b_ds, h_ds = get_gpu("b200", "datasheet"), get_gpu("h100", "datasheet")
    claims.append(make_claim(id="spec.b200.dies", section="spec-table", line=8, claim="Dual-die (2 x reticle)",
                             unit="count", printed="2", reproduced=b_seed.dies, datasheet=b_ds.dies, kind="input"))
    for label, attr, unit in SPEC_TABLE_ROWS:
        line, pb, ph, pr = _SPEC_PRINTED[attr]
        note = _SPEC_NOTES.get(attr, "")
        vb_s, vh_s = spec_value(b_seed, attr, unit), spec_value(h_seed, attr, unit)
        vb_d, vh_d = spec_value(b_ds, attr, unit), spec_value(h_ds, attr, unit)
        short = attr.removesuffix("_dense_flops").removesuffix("_bytes").removesuffix("_watts").replace("_", "-")
        claims.append(make_claim(id=f"spec.b200.{short}", section="spec-table", line=line,
                                 claim=f"{label}: B200 {pb}", unit=unit, printed=pb, reproduced=vb_s, datasheet=vb_d,
                                 kind="input", explanation=note, values=v))
        if ph is not None:
            h_note = note if attr in ("fp16_dense_flops", "fp8_dense_flops", "nvlink_bw_total") else ""
            claims.append(make_claim(id=f"spec.h100.{short}", section="spec-table", line=line,
                                     claim=f"{label}: H100 {ph}", unit=unit, printed=ph, reproduced=vh_s,
                                     datasheet=vh_d, kind="input", explanation=h_note, values=v))
        if pr is not None:
            claims.append(make_claim(id=f"spec.ratio.{short}", section="spec-table", line=line,
                                     claim=f"{label}: ratio {pr}", unit="x", printed=pr,
                                     reproduced=_ratio(vb_s, vh_s), datasheet=_ratio(vb_d, vh_d), explanation=note,
                                     values=v))
    return claims


def _intro_claims() -> list[Claim]:
    b_seed, h_seed = get_gpu("b200", "seed"), get_gpu("h100", "seed")
    b_ds, h_ds = get_gpu("b200", "datasheet"), get_gpu("h100", "datasheet")
    seed_rack, ds_rack = NVL72Topology("seed"), NVL72Topology("datasheet")
    sc_seed, sc_ds = get_superchip("gb200", "seed"), get_superchip("gb200", "datasheet")
    v = _visible()
    return [
        make_claim(id="intro.hbm-capacity-doubles", section="intro", line=1,
                   claim="doubles the HBM capacity (192 GB vs 80 GB)", unit="x", printed="2x (doubles)",
                   reproduced=b_seed.hbm_bytes / h_seed.hbm_bytes,
                   datasheet=b_ds.hbm_visible_bytes / h_ds.hbm_visible_bytes, tolerance=0.05,
                   explanation=("192 / 80 = 2.4, as the document's own spec table says (line 14): 'doubles' "
                         "understates it. With the bytes software sees ({b:.1f} GB on HGX B200, {h:.1f} GB on H100) "
                         "the ratio is {rb:.2f}x."), values=v),
        make_claim(id="intro.hbm-bandwidth-triples", section="intro", line=1,
                   claim="triples the memory bandwidth (8 TB/s vs 3.35 TB/s)", unit="x", printed="3x (triples)",
                   reproduced=b_seed.hbm_bandwidth / h_seed.hbm_bandwidth,
                   datasheet=b_ds.hbm_bandwidth / h_ds.hbm_bandwidth, tolerance=0.05,
                   explanation="8 / 3.35 = 2.39, as the spec table (line 15) and the summary (line 525) say; "
                         "'triples' overstates it by a quarter."),
        make_claim(id="intro.fp4-doubles-compute", section="intro", line=1,
                   claim="native FP4 tensor core support that doubles the effective compute throughput", unit="x",
                   printed="2x (doubles)", reproduced=b_seed.peak_flops("fp4") / b_seed.peak_flops("fp8"),
                   datasheet=b_ds.peak_flops("fp4") / b_ds.peak_flops("fp8"), tolerance=0.05),
        make_claim(id="intro.superchip-gpus", section="intro", line=1,
                   claim="The GB200 superchip pairs two B200 GPUs with one Grace ARM CPU", unit="count", printed="2",
                   reproduced=sc_seed.gpus, datasheet=sc_ds.gpus, kind="input"),
        make_claim(id="intro.nvl72-superchips", section="intro", line=1,
                   claim="the NVL72 rack connects 36 GB200 superchips", unit="count", printed="36",
                   reproduced=seed_rack.num_superchips, datasheet=ds_rack.num_superchips, kind="input"),
        make_claim(id="intro.nvl72-gpus", section="intro", line=1, claim="(72 B200 GPUs)", unit="count", printed="72",
                   reproduced=seed_rack.num_superchips * sc_seed.gpus, datasheet=ds_rack.num_superchips * sc_ds.gpus),
        make_claim(id="intro.bisection-per-gpu", section="intro", line=1,
                   claim="through NVSwitch with 1.8 TB/s bisection bandwidth per GPU", unit="TB/s",
                   printed="1.8 TB/s", reproduced=convert(b_seed.nvlink_bw_total, "TB/s"),
                   datasheet=convert(get_gpu("gb200-b200", "datasheet").nvlink_bw_per_direction, "TB/s"),
                   explanation="1.8 TB/s is the GPU's total NVLink bandwidth, both directions added (18 links x "
                         "{link:.0f} GB/s); it is not a bisection figure. A one-way stream, such as a weight or KV "
                         "copy, gets at most 900 GB/s, the datasheet value shown.", values=v),
    ]


def _nvl72_claims() -> list[Claim]:
    seed, ds = get_system("nvl72", "seed"), get_system("nvl72", "datasheet")
    visible_note = ("72 x {gpu_gb:.1f} GB = {rack_gb:,.0f} GB is what software sees on GB200 (nvidia-smi; "
                    "MLPerf's \"GB200-186GB\" is the same in GiB); the datasheet value shown is that visible total.")
    v = {"gpu_gb": ds.gpu.hbm_visible_bytes / GB, "rack_gb": ds.total_hbm_visible_bytes / GB,
         "tib": seed.total_hbm_bytes / 2**40, "fp4": ds.gpu.fp4_dense_flops / 1e12,
         "fp4_sparse": ds.gpu.fp4_sparse_flops / 1e12, "rack_fp4": ds.total_flops("fp4") / PB,
         "rack_fp4_sparse": ds.total_flops("fp4", sparse=True) / PB, "sum": seed.total_nvlink_bw / 1e12,
         "bisection": ds.bisection_bw / 1e12}
    no_switch_memory = ("NVLink switch ASICs have no HBM: no NVIDIA material lists switch memory, and the "
                        "rack's memory is GPU HBM3e plus Grace LPDDR5X. The datasheet value is 0. The "
                        "tier is modelled as a hypothetical in the KVBM chapter.")
    return [
        make_claim(id="nvl72.heading-gpus", section="nvl72", line=22, claim="NVL72 Rack: 72 GPUs as One System",
                   unit="count", printed="72", reproduced=seed.num_gpus, datasheet=ds.num_gpus),
        make_claim(id="nvl72.superchips", section="nvl72", line=23, claim="The NVL72 connects 36 GB200 superchips",
                   unit="count", printed="36", reproduced=seed.num_superchips, datasheet=ds.num_superchips),
        make_claim(id="nvl72.gpus", section="nvl72", line=26, claim="36 x GB200 Superchips = 72 x B200 GPUs",
                   unit="count", printed="72", reproduced=seed.num_superchips * seed.superchip.gpus,
                   datasheet=ds.num_superchips * ds.superchip.gpus),
        make_claim(id="nvl72.total-hbm-gb", section="nvl72", line=27, claim="Total HBM: 72 x 192 GB = 13,824 GB",
                   unit="GB", printed="13,824 GB", reproduced=convert(seed.total_hbm_bytes, "GB"),
                   datasheet=convert(ds.total_hbm_visible_bytes, "GB"), explanation=visible_note, values=v),
        make_claim(id="nvl72.total-hbm-tb", section="nvl72", line=27, claim="13,824 GB = 13.5 TB", unit="TB",
                   printed="13.5 TB", reproduced=convert(seed.total_hbm_bytes, "TB"),
                   datasheet=convert(ds.total_hbm_visible_bytes, "TB"),
                   explanation="13,824 GB is 13.8 TB (the KVBM heading, line 189, says 13.8 TB). 13.5 is "
                                "13,824 / 1,024: a binary step applied to a decimal figure; in binary units "
                                "the total is {tib:.2f} TiB. " + visible_note, values=v),
        make_claim(id="nvl72.total-hbm-bw", section="nvl72", line=28, claim="Total HBM BW: 72 x 8 TB/s = 576 TB/s",
                   unit="TB/s", printed="576 TB/s", reproduced=convert(seed.total_hbm_bandwidth, "TB/s"),
                   datasheet=convert(ds.total_hbm_bandwidth, "TB/s")),
        make_claim(id="nvl72.total-fp4", section="nvl72", line=29,
                   claim="Total FP4 TFLOPS: 72 x 18,000 = 1,296 PFLOPS", unit="PFLOP/s", printed="1,296 PFLOPS",
                   reproduced=seed.total_flops("fp4") / PB, datasheet=ds.total_flops("fp4") / PB,
                   explanation="18,000 TFLOPS is the 2:4-sparse FP4 peak of an HGX B200. A GB200 GPU has "
                                "{fp4:,.0f} dense ({fp4_sparse:,.0f} sparse), so the rack's dense FP4 peak is "
                                "{rack_fp4:,.0f} PFLOPS ({rack_fp4_sparse:,.0f} sparse).", values=v),
        make_claim(id="nvl72.switches", section="nvl72", line=31, claim="NVLink 5.0 Network (via 9 NVSwitches)",
                   unit="count", printed="9", reproduced=seed.switch_chips, datasheet=ds.switch_chips,
                   explanation="The rack has 9 NVLink switch trays holding 2 NVSwitch ASICs each: 18 "
                                "switch chips, each linked once to every GPU (72 GPUs x 18 links = 1,296 "
                                "= 18 x 72 ports)."),
        make_claim(id="nvl72.bisection-per-gpu", section="nvl72", line=32,
                   claim="Per-GPU bisection bandwidth: 1,800 GB/s", unit="GB/s", printed="1,800 GB/s",
                   reproduced=convert(seed.gpu.nvlink_bw_total, "GB/s"),
                   datasheet=convert(ds.gpu.nvlink_bw_per_direction, "GB/s"),
                   explanation="1,800 GB/s is total NVLink bandwidth (both directions); per direction it "
                                "is 900 GB/s."),
        make_claim(id="nvl72.total-bisection", section="nvl72", line=34, claim="Total bisection bandwidth: 130 TB/s",
                   unit="TB/s", printed="130 TB/s", reproduced=convert(seed.total_nvlink_bw, "TB/s"),
                   datasheet=convert(ds.bisection_bw, "TB/s"),
                   explanation="72 x 1.8 TB/s = {sum:.1f} TB/s is the sum of every GPU's NVLink bandwidth, "
                                "which NVIDIA quotes as 130 TB/s of aggregate bandwidth, not bisection. Cut "
                                "the one-hop fabric into two halves of 36 GPUs: 36 x 900 GB/s cross each "
                                "way, {bisection:.1f} TB/s both ways, the datasheet value shown.", values=v),
        make_claim(id="nvl72.switch-memory-each", section="nvl72", line=37, claim="9 NVSwitches x 128 GB HBM3e each",
                   unit="GB", printed="128 GB", reproduced=convert(seed.switch_memory_bytes, "GB"),
                   datasheet=convert(ds.switch_memory_bytes, "GB"), explanation=no_switch_memory),
        make_claim(id="nvl72.switch-memory-total", section="nvl72", line=38,
                   claim="Total: 1,152 GB of shared NVSwitch memory", unit="GB", printed="1,152 GB",
                   reproduced=convert(seed.total_switch_memory_bytes, "GB"),
                   datasheet=convert(ds.total_switch_memory_bytes, "GB"), explanation=no_switch_memory),
        make_claim(id="nvl72.switch-memory-total-tb", section="nvl72", line=41,
                   claim="their own HBM3e memory (128 GB per switch, 1.15 TB total)", unit="TB", printed="1.15 TB",
                   reproduced=convert(seed.total_switch_memory_bytes, "TB"),
                   datasheet=convert(ds.total_switch_memory_bytes, "TB"), explanation=no_switch_memory),
    ]


@builds(("intro", "Introduction", 1, 2, "01-hardware"),
        ("spec-table", "B200 GPU specifications", 4, 18, "01-hardware"),
        ("gb200", "GB200 superchip", 19, 21, "01-hardware"),
        ("nvl72", "NVL72 rack", 22, 41, "01-hardware"))
def hardware_claims() -> list[Claim]:
    """Claims of the introduction, spec table, GB200 and NVL72 sections."""
    return _intro_claims() + _spec_table_claims() + _nvl72_claims()


__all__ = ["hardware_claims"]
