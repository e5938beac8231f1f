"""Claims of the seed's gang-scheduling section (lines 313-383)."""

from __future__ import annotations

from .. import collectives as col
from ..document import PREFILL_TOKENS
from ..gang import NVL72GangScheduler
from ..hardware import get_gpu, get_system
from ..models import get_model
from ..units import MiB, TB
from .core import Claim, builds, make_claim

_DS_BW = get_gpu("gb200-b200", "datasheet").nvlink_bw_per_direction
_NO_DOMAINS = ("The NVL72 has 18 NVSwitch ASICs in 9 switch trays, and every GPU links to all of them: one "
               "NVLink domain of 72 GPUs, one switch hop between any two.")
# How each printed same-domain cell relates to the document's own formula (32 MB read as 32e6 bytes).
_TABLE_NOTES = {
    (2, "32 MB"): "31.1 = {f8:.2f} x 32e6 / 1.8e12: TP8's ring factor 2(8-1)/8 applied to TP2, whose factor is 1.",
    (4, "32 MB"): ("41.5 matches none of the stated inputs: it would need {b8:.2f} TB/s with TP8's factor or "
                   "{b4:.2f} TB/s with TP4's own."),
    (8, "32 MB"): ("46.7 = {f8:.2f} x 32e6 / 1.2e12: the two-switch bandwidth of the ModelExpress section (1.2 TB/s), "
                   "not the 1.8 TB/s this function uses."),
    (8, "128 MB (prefill)"): "186.7 = 4 x 46.7: the TP8 row scaled, with the same 1.2 TB/s.",
}


def _table_values() -> dict[str, float]:
    """The ring factors the notes quote, and the bandwidths 41.5 us would need (32e6 bytes, TB/s)."""
    f8, f4 = col.bus_factor("all_reduce", 8), col.bus_factor("all_reduce", 4)
    msg = col.SEED_TABLE_ROWS[1][2]  # the TP4 row's 32 MB, read as 32e6 bytes
    return {"f8": f8, "b8": f8 * msg / 41.5e-6 / TB, "b4": f4 * msg / 41.5e-6 / TB}
_PRINTED = {  # line: (same, cross)
    380: ("31.1", "62.2"), 381: ("41.5", "83.0"), 382: ("46.7", "93.3"), 383: ("186.7", "373.3"),
}


def _measured_busbw() -> dict[str, float]:
    """NCCL's bus bandwidth measured at the largest message on 4 GB200 GPUs (TB/s) and that message (MiB)."""
    fits = col.fit_table().set_index(["system", "gpus"])
    d = col.load_measurements()
    big = d[(d.system == "gb200") & (d.num_gpus == 4)].bytes.max()
    return {"busbw": fits.loc[("gb200", 4), "measured_busbw_at_max_GBps"] / 1e3, "mib": big / MiB}


@builds(("gang", "Gang scheduling across NVSwitch domains", 313, 383, "05-gang-scheduling"))
def gang_claims() -> list[Claim]:
    sys_seed, sys_ds = get_system("nvl72", "seed"), get_system("nvl72", "datasheet")
    seed_s = NVL72GangScheduler
    out = [
        make_claim(id="gang.switches", section="gang", line=315, claim="The NVL72 has 9 NVSwitch chips", unit="count",
                   printed="9", reproduced=sys_seed.switch_chips, datasheet=sys_ds.switch_chips,
                   explanation=_NO_DOMAINS),
        make_claim(id="gang.domain-size", section="gang", line=315, claim="each manages a domain of 8 GPUs",
                   unit="count", printed="8", reproduced=seed_s.GPUS_PER_SWITCH, datasheet=sys_ds.num_gpus,
                   explanation=_NO_DOMAINS),
        make_claim(id="gang.domains", section="gang", line=320, claim="9 NVSwitch domains, 8 GPUs each", unit="count",
                   printed="9", reproduced=seed_s.NUM_SWITCHES, datasheet=1, explanation=_NO_DOMAINS),
        make_claim(id="gang.intra-domain-bw", section="gang", line=321,
                   claim="Intra-domain: 1.8 TB/s all-reduce bandwidth", unit="TB/s", printed="1.8",
                   reproduced=col.SEED_SAME_DOMAIN_BW / TB, datasheet=_DS_BW / TB,
                   explanation="1.8 TB/s adds both directions of a GPU's NVLink; a ring all-reduce is bounded by "
                                "one direction, 0.9 TB/s. NCCL measured {busbw:.2f} TB/s of bus bandwidth on 4 GB200 "
                                "GPUs at {mib:.0f} MiB (gang-scheduling chapter).", values=_measured_busbw()),
        make_claim(id="gang.num-switches-const", section="gang", line=325, claim="NUM_SWITCHES = 9", unit="count",
                   printed="9", reproduced=seed_s.NUM_SWITCHES, datasheet=sys_ds.switch_chips, kind="input",
                   explanation=_NO_DOMAINS),
        make_claim(id="gang.gpus-per-switch-const", section="gang", line=326, claim="GPUS_PER_SWITCH = 8",
                   unit="count", printed="8", reproduced=seed_s.GPUS_PER_SWITCH, datasheet=sys_ds.num_gpus,
                   kind="input", explanation=_NO_DOMAINS),
        make_claim(id="gang.tp8-groups-per-domain", section="gang", line=333,
                   claim="For TP=8 on NVL72: exactly one domain per TP group", unit="count", printed="1 (one)",
                   reproduced=seed_s.GPUS_PER_SWITCH // 8, datasheet=None, tolerance=0),
        make_claim(id="gang.tp4-groups-per-domain", section="gang", line=334,
                   claim="For TP=4: two TP groups per domain", unit="count", printed="2 (two)",
                   reproduced=seed_s.GPUS_PER_SWITCH // 4, datasheet=None, tolerance=0),
        make_claim(id="gang.tp2-groups-per-domain", section="gang", line=335,
                   claim="For TP=2: four TP groups per domain", unit="count", printed="4 (four)",
                   reproduced=seed_s.GPUS_PER_SWITCH // 2, datasheet=None, tolerance=0),
        make_claim(id="gang.same-domain-bw-const", section="gang", line=364,
                   claim="bandwidth = 1.8e12 # 1.8 TB/s per GPU", unit="TB/s", printed="1.8",
                   reproduced=col.SEED_SAME_DOMAIN_BW / TB, datasheet=_DS_BW / TB, kind="input",
                   explanation="Per direction, NVLink 5 gives 0.9 TB/s per GPU."),
        make_claim(id="gang.cross-domain-bw-const", section="gang", line=369,
                   claim="bandwidth = 0.9e12 # ~0.9 TB/s effective cross-domain", unit="TB/s", printed="0.9",
                   reproduced=col.SEED_CROSS_DOMAIN_BW / TB, datasheet=_DS_BW / TB, kind="input"),
    ]
    for (tp, label, nbytes), line in zip(col.SEED_TABLE_ROWS, (380, 381, 382, 383)):
        same_p, cross_p = _PRINTED[line]
        row = f"TP={tp} | {label} | {same_p} | {cross_p}"
        bound = col.nvlink_ring(_DS_BW, tp).time(nbytes) * 1e6
        ds_note = (" Datasheet: the ring bound at 900 GB/s per direction, {bound:.1f} us, the same in any "
                   "placement; the gang-scheduling chapter adds NCCL's measured latency.")
        v = {"bound": bound, **_table_values()}
        same = col.seed_allreduce_time(nbytes, tp) * 1e6
        cross = col.seed_allreduce_time(nbytes, tp, same_domain=False) * 1e6
        note = _TABLE_NOTES[(tp, label)]
        out += [
            make_claim(id=f"gang.table.tp{tp}-{int(nbytes / 1e6)}mb.same", section="gang", line=line,
                       claim=f"{row} [same domain]", unit="us", printed=same_p, reproduced=same, datasheet=bound,
                       explanation="The document's function gives {same:.1f} us. " + note + ds_note,
                       values={**v, "same": col.seed_allreduce_time(nbytes, tp) * 1e6}),
            make_claim(id=f"gang.table.tp{tp}-{int(nbytes / 1e6)}mb.cross", section="gang", line=line,
                       claim=f"{row} [cross domain]", unit="us", printed=cross_p, reproduced=cross, datasheet=bound,
                       explanation="The function gives {cross:.1f} us; the printed cell is twice the printed "
                                   "same-domain cell, so it inherits its error." + ds_note,
                       values={**v, "cross": col.seed_allreduce_time(nbytes, tp, same_domain=False) * 1e6}),
            make_claim(id=f"gang.table.tp{tp}-{int(nbytes / 1e6)}mb.penalty", section="gang", line=line,
                       claim=f"{row} [penalty 2x]", unit="x", printed="2x", reproduced=cross / same, datasheet=1.0,
                       explanation="No domains on the real fabric: every placement is one hop, no penalty."),
        ]
    mib = col.tp_allreduce_bytes("llama-405b", PREFILL_TOKENS) / MiB
    hidden = get_model("llama-405b").hidden
    out += [
        make_claim(id="gang.table.message-32mb", section="gang", line=380, claim="TP=2 | 32 MB [message size]",
                   unit="MiB", printed="32", reproduced=None, datasheet=None,
                   explanation="No token count is stated. 32 MB is the hidden state of {tok:,} tokens ({tok:,} x "
                                "{hidden:,} x 2 bytes = 32 MiB); one decode step at batch 256 would be {dec:.0f} MiB.",
                   values={"tok": int(32 * MiB / col.tp_allreduce_bytes("llama-405b", 1)), "hidden": hidden,
                           "dec": col.tp_allreduce_bytes("llama-405b", 256) / MiB}),
        make_claim(id="gang.table.message-128mb", section="gang", line=383,
                   claim="TP=8 | 128 MB (prefill) [message size]", unit="MiB", printed="128", reproduced=mib,
                   datasheet=mib,
                   explanation="The 4K-token prefill of the end-to-end section: {prompt:,} x {hidden:,} x 2 bytes = "
                                "{mib:.0f} MiB ({mb:.0f} MB); the table's MB are binary here.",
                   values={"prompt": PREFILL_TOKENS, "hidden": hidden, "mib": mib, "mb": mib * MiB / 1e6}),
    ]
    return out


__all__ = ["gang_claims"]
