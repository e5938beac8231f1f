"""Claims of the seed's ModelExpress section (lines 106-188)."""

from __future__ import annotations

from ..fp4 import get_format
from ..hardware import get_gpu
from ..models import get_model
from ..topology import SEED_BANDWIDTH_BY_DISTANCE, SEED_LATENCY_PER_HOP_S, NVL72Topology
from ..units import GB, TB
from .core import Claim, builds, make_claim

_PER_DIRECTION = ("A one-way copy sees one direction of NVLink: {ds:,.0f} GB/s per GPU, not the {seed:,.0f} GB/s "
                  "that adds both directions.")
_RDMA = (" The real ModelExpress moves weights between nodes over NIXL/RDMA, not NVLink; the ModelExpress "
         "chapter compares those paths.")


@builds(("modelexpress", "ModelExpress on NVLink 5.0", 106, 188, "03-modelexpress"))
def modelexpress_claims() -> list[Claim]:
    m = get_model("llama-3.1-70b")
    h_s, h_d = get_gpu("h100", "seed"), get_gpu("h100", "datasheet")
    b_s, b_d = get_gpu("b200", "seed"), get_gpu("b200", "datasheet")
    fp8_seed, fp8_ds = m.params("seed") * 1.0, m.params("datasheet") * get_format("fp8").bytes_per_element
    fp4_seed = m.params("seed") * get_format("fp4-seed").bytes_per_element
    fp4_ds = m.params("datasheet") * get_format("nvfp4").bytes_per_element
    seed_view, real = NVL72Topology("seed"), NVL72Topology("datasheet")
    ms = 1e3
    v = {"p": m.params("datasheet") / 1e9, "fp8_gb": fp8_ds / GB, "fp4_gb": fp4_ds / GB,
         "h_seed": h_s.nvlink_bw_per_direction / GB, "h_ds": h_d.nvlink_bw_per_direction / GB,
         "b_seed": b_s.nvlink_bw_per_direction / GB, "b_ds": b_d.nvlink_bw_per_direction / GB,
         "t_h_seed": fp8_seed / h_s.nvlink_bw_per_direction * ms, "t_h_ds": fp8_ds / h_d.nvlink_bw_per_direction * ms,
         "t_b8_seed": fp8_seed / b_s.nvlink_bw_per_direction * ms, "t_b8_ds": fp8_ds / b_d.nvlink_bw_per_direction * ms,
         "t_b4_ds": fp4_ds / b_d.nvlink_bw_per_direction * ms}
    return [
        make_claim(id="me.heading-bw", section="modelexpress", line=107, claim="Weight Transfer at 1.8 TB/s",
                   unit="TB/s", printed="1.8 TB/s", reproduced=b_s.nvlink_bw_per_direction / TB,
                   datasheet=b_d.nvlink_bw_per_direction / TB, kind="input",
                   explanation=_PER_DIRECTION, values={"ds": v["b_ds"], "seed": v["b_seed"]}),
        make_claim(id="me.docstring-superchip-hop", section="modelexpress", line=119,
                   claim="Prefer transfers within the same superchip (1 hop, lowest latency)", unit="hops",
                   printed="1 hop", reproduced=seed_view.hops(0, 1), datasheet=real.hops(0, 1),
                   explanation="The document's code gives a same-superchip pair distance 0 (line 140), not 1 hop."),
        make_claim(id="me.h100-nvlink", section="modelexpress", line=108,
                   claim="On H100 NVLink 4.0 (900 GB/s per GPU)", unit="GB/s", printed="900 GB/s",
                   reproduced=h_s.nvlink_bw_per_direction / GB, datasheet=h_d.nvlink_bw_per_direction / GB,
                   kind="input", explanation=_PER_DIRECTION, values={"ds": v["h_ds"], "seed": v["h_seed"]}),
        make_claim(id="me.llama70b-fp8-size", section="modelexpress", line=108,
                   claim="loading Llama 70B in FP8 (70 GB)", unit="GB", printed="70 GB", reproduced=fp8_seed / GB,
                   datasheet=fp8_ds / GB, kind="input",
                   explanation="Llama 3.1 70B has {p:.2f} billion parameters: {fp8_gb:.2f} GB in FP8.", values=v),
        make_claim(id="me.h100-fp8-time", section="modelexpress", line=108,
                   claim="loading Llama 70B in FP8 (70 GB) takes: [number lost]", unit="ms", printed=None,
                   reproduced=fp8_seed / h_s.nvlink_bw_per_direction * ms,
                   datasheet=fp8_ds / h_d.nvlink_bw_per_direction * ms,
                   explanation="Lost from the text; 70 GB / 900 GB/s = {t_h_seed:.1f} ms, the figure of the end-to-end "
                                "table (line 425). At {h_ds:.0f} GB/s one way it is {t_h_ds:.0f} ms." + _RDMA, values=v),
        make_claim(id="me.b200-nvlink", section="modelexpress", line=109,
                   claim="On B200 NVLink 5.0 (1,800 GB/s per GPU)", unit="GB/s", printed="1,800 GB/s",
                   reproduced=b_s.nvlink_bw_per_direction / GB, datasheet=b_d.nvlink_bw_per_direction / GB,
                   kind="input", explanation=_PER_DIRECTION, values={"ds": v["b_ds"], "seed": v["b_seed"]}),
        make_claim(id="me.b200-fp8-time", section="modelexpress", line=109,
                   claim="On B200 NVLink 5.0 (1,800 GB/s per GPU): [number lost]", unit="ms", printed=None,
                   reproduced=fp8_seed / b_s.nvlink_bw_per_direction * ms,
                   datasheet=fp8_ds / b_d.nvlink_bw_per_direction * ms,
                   explanation="Lost from the text; 70 GB / 1.8 TB/s = {t_b8_seed:.1f} ms, {t_b8_ds:.1f} ms at "
                                "{b_ds:.0f} GB/s one way.", values=v),
        make_claim(id="me.llama70b-fp4-size", section="modelexpress", line=110,
                   claim="For FP4 quantized weights (35 GB)", unit="GB", printed="35 GB", reproduced=fp4_seed / GB,
                   datasheet=fp4_ds / GB,
                   explanation="NVFP4 stores 4.5 bits per weight: {p:.2f} billion weights take {fp4_gb:.1f} GB.",
                   values=v),
        make_claim(id="me.b200-fp4-time-lost", section="modelexpress", line=110,
                   claim="For FP4 quantized weights (35 GB): [number lost]", unit="ms", printed=None,
                   reproduced=fp4_seed / b_s.nvlink_bw_per_direction * ms,
                   datasheet=fp4_ds / b_d.nvlink_bw_per_direction * ms,
                   explanation="Lost from the text; it is the 19.4 ms of line 112."),
        make_claim(id="me.b200-fp4-time", section="modelexpress", line=112, claim="At 19.4 ms for FP4", unit="ms",
                   printed="19.4 ms", reproduced=fp4_seed / b_s.nvlink_bw_per_direction * ms,
                   datasheet=fp4_ds / b_d.nvlink_bw_per_direction * ms,
                   explanation="35 GB / 1.8 TB/s. With NVFP4's true size and one direction of NVLink: {fp4_gb:.1f} "
                                "GB / {b_ds:.0f} GB/s = {t_b4_ds:.1f} ms, still well under a second." + _RDMA, values=v),
        make_claim(id="me.text.superchip-hops", section="modelexpress", line=114,
                   claim="GPUs within the same GB200 superchip communicate at 1.8 TB/s with 1 hop", unit="count",
                   printed="1 hop", reproduced=seed_view.hops(0, 1), datasheet=real.hops(0, 1),
                   explanation="The document's own code (line 140) puts a same-superchip pair at distance 0, over "
                                "'direct NVLink-C2C'. On the hardware C2C joins CPU and GPU; two GPUs of a "
                                "superchip are one switch hop apart, like any other pair."),
        make_claim(id="me.text.superchip-bw", section="modelexpress", line=114,
                   claim="GPUs within the same GB200 superchip communicate at 1.8 TB/s with 1 hop", unit="TB/s",
                   printed="1.8 TB/s", reproduced=seed_view.bandwidth(0, 1) / TB, datasheet=real.bandwidth(0, 1) / TB,
                   kind="input", explanation=_PER_DIRECTION, values={"ds": v["b_ds"], "seed": v["b_seed"]}),
        make_claim(id="me.text.cross-superchip-bw", section="modelexpress", line=114,
                   claim="GPUs across different superchips communicate at 1.8 TB/s but with 2 hops", unit="TB/s",
                   printed="1.8 TB/s", reproduced=seed_view.bandwidth(0, 2) / TB, datasheet=real.bandwidth(0, 2) / TB,
                   explanation="The document's code gives 1.6 TB/s for another superchip of the same domain and "
                                "1.2 TB/s across domains (lines 163-170), not 1.8. The fabric gives 0.9 TB/s one "
                                "way for every pair."),
        make_claim(id="me.text.cross-superchip-hops", section="modelexpress", line=114,
                   claim="with 2 hops (GPU -> NVSwitch -> GPU)", unit="count", printed="2 hops",
                   reproduced=seed_view.hops(0, 2), datasheet=real.hops(0, 2),
                   explanation="GPU -> NVSwitch -> GPU is one switch hop. The document's code counts 1 for another "
                                "superchip in the same domain and 2 only across domains."),
        make_claim(id="me.text.latency-per-hop", section="modelexpress", line=114,
                   claim="adding ~500ns of latency per hop", unit="ns", printed="~500ns",
                   reproduced=SEED_LATENCY_PER_HOP_S * 1e9, datasheet=None, kind="input",
                   explanation="No public figure for NVLink switch latency was found; the datasheet value is left empty."),
        *(make_claim(id=f"me.code.distance-{d}", section="modelexpress", line=line, claim=text, unit="count",
                     printed=str(d), reproduced=d, datasheet=1, kind="input",
                     explanation="The real fabric has one distance: one switch hop between any two GPUs.")
          for d, line, text in ((0, 140, "distance = 0 # Same superchip: direct NVLink-C2C"),
                                (1, 142, "distance = 1 # Same NVSwitch domain: 1 switch hop"),
                                (2, 144, "distance = 2 # Different NVSwitch domain: 2 hops"))),
        *(make_claim(id=f"me.code.bandwidth-{d}", section="modelexpress", line=line, claim=text, unit="TB/s",
                     printed=printed, reproduced=SEED_BANDWIDTH_BY_DISTANCE[d] / TB,
                     datasheet=real.bandwidth(0, 2) / TB, kind="input",
                     explanation="Every pair sees 0.9 TB/s one way on the real fabric.")
          for d, line, text, printed in (
              (0, 166, "return 1.8e12 # 1.8 TB/s intra-superchip", "1.8"),
              (1, 168, "return 1.6e12 # ~1.6 TB/s effective through 1 NVSwitch", "1.6"),
              (2, 170, "return 1.2e12 # ~1.2 TB/s effective through 2 NVSwitches", "1.2"))),
    ]


__all__ = ["modelexpress_claims"]
