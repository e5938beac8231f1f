"""Claims of the seed's KVBM section (lines 189-312) and its NVSwitch memory tier (lines 428-467)."""

from __future__ import annotations

from .. import kvbm
from ..document import KV_BLOCK_BYTES, QUANT_BYTES, RACK_TP, SESSION_TOKENS
from ..hardware import get_gpu, get_system
from ..models import get_model
from ..topology import NVL72Topology
from ..units import GB, GiB, KB, MB, TB
from .core import Claim, builds, make_claim, parse_printed

_BLOCK = KV_BLOCK_BYTES  # the seed's KV block (lines 304, 309)
_NO_SWITCH_MEMORY = "NVLink switch ASICs have no memory; the tier does not exist (datasheet value empty)."


#: The rows of the seed's capacity table (lines 246-248) and the id stem of their claims
#: (``kvbm.table.<stem>.<column>``), so that a chapter asks the ledger by id.
CAPACITY_CLAIM_IDS: dict[str, str] = {"8x H100 (FP8 weights, FP16 KV)": "kvbm.table.h100x8",
                                      "72x H100 (FP8 weights, FP16 KV)": "kvbm.table.h100x72",
                                      "72x B200 NVL72 (FP4 weights, FP8 KV)": "kvbm.table.b200x72"}


def _capacity_row_claims() -> list[Claim]:
    seed = kvbm.capacity_table("seed").set_index("configuration")
    ds = kvbm.capacity_table("datasheet").set_index("configuration")
    h100_budget = ("The document's own formula gives 80 - 405 / 8 - 3 = {h_budget:.1f} GB (FP8 weights of Llama 405B "
                   "take {h_w:.1f} GB per GPU at TP8); 42.5 GB follows from no stated input.")
    sessions = ("The H100 rows divide tokens by a million, not {session:,}: {tok} tokens / 128K = {right:.1f} "
                "sessions. By the formula's own budget it is {seed:.1f}.")
    m = get_model("llama-3.1-405b")
    h_seed = kvbm.kv_capacity("h100", m, "fp8", kv_bytes_per_element=2.0, tp=RACK_TP, num_gpus=RACK_TP,
                              premises="seed")
    common = {"h_budget": h_seed.kv_budget_bytes_per_gpu / GB, "h_w": h_seed.weight_bytes_per_gpu / GB,
              "session": SESSION_TOKENS, "fp16_kv": m.kv_bytes_per_token(2.0)}
    printed = {  # line: (label, budget, total, total unit, sessions, tokens, tokens unit)
        246: ("8x H100 (FP8 weights, FP16 KV)", "42.5 GB", "340 GB", "GB", "0.66", "660K", "thousand"),
        247: ("72x H100 (FP8 weights, FP16 KV)", "42.5 GB", "3.06 TB", "TB", "5.9", "5.9M", "million"),
        248: ("72x B200 NVL72 (FP4 weights, FP8 KV)", "163.7 GB", "11.8 TB", "TB", "356", "45.7M", "million"),
    }
    out = []
    for line, (label, budget, total, tunit, sess, toks, kunit) in printed.items():
        s, d = seed.loc[label], ds.loc[label]
        n = int(s.GPUs)
        short = CAPACITY_CLAIM_IDS[label].split(".")[-1]
        row = f"{label} | {n} | {budget} | {total} | {sess} | {toks}"
        scale = {"thousand": 1e3, "million": 1e6}[kunit]
        ok = line == 248
        out += [
            make_claim(id=f"kvbm.table.{short}.gpus", section="kvbm", line=line, claim=f"{row} [GPUs]", unit="count",
                       printed=str(n), reproduced=n, datasheet=int(d.GPUs), kind="input"),
            make_claim(id=f"kvbm.table.{short}.budget", section="kvbm", line=line, claim=f"{row} [KV budget per GPU]",
                       unit="GB", printed=budget, reproduced=s.kv_budget_per_gpu_gb, datasheet=d.kv_budget_per_gpu_gb,
                       explanation=("" if ok else h100_budget + " ") + "Datasheet: HBM visible to software, derived parameters, "
                       "NVFP4 weights at 4.5 bits.", values=common),
            make_claim(id=f"kvbm.table.{short}.total", section="kvbm", line=line, claim=f"{row} [total KV budget]",
                       unit=tunit, printed=total,
                       reproduced=s.total_kv_budget_tb * TB / (GB if tunit == "GB" else TB),
                       datasheet=d.total_kv_budget_tb * TB / (GB if tunit == "GB" else TB),
                       explanation=("" if ok else "{total} is {n} x 42.5 GB: right arithmetic on the "
                                    "underivable per-GPU budget. ") + "Datasheet as the budget.",
                       values={"total": total, "n": n}),
            make_claim(id=f"kvbm.table.{short}.sessions", section="kvbm", line=line, claim=f"{row} [128K sessions]",
                       unit="count", printed=sess, reproduced=int(s.sessions_128k), datasheet=int(d.sessions_128k),
                       explanation="Datasheet: the same method with visible HBM and NVFP4." if ok else sessions,
                       values={**common, "tok": toks, "right": float(toks[:-1]) * scale / SESSION_TOKENS,
                               "seed": s.sessions_128k}),
            make_claim(id=f"kvbm.table.{short}.tokens", section="kvbm", line=line, claim=f"{row} [tokens cached]",
                       unit=kunit, printed=toks, reproduced=s.tokens_cached / scale,
                       datasheet=d.tokens_cached / scale,
                       explanation=("" if ok else "{toks} = the printed total budget / {fp16_kv:,.0f} bytes (FP16 KV): "
                                    "consistent with the printed budget, not with the formula. ")
                       + "Datasheet: visible HBM and NVFP4 weights.", values={**common, "toks": toks}),
        ]
    return out


@builds(("kvbm", "KVBM across 13.8 TB", 189, 312, "04-kvbm"))
def kvbm_claims() -> list[Claim]:
    seed_sys, ds_sys = get_system("nvl72", "seed"), get_system("nvl72", "datasheet")
    seed_cap = kvbm.compute_kv_capacity(kvbm.SEED_LLAMA_405B, kvbm.SEED_B200, kvbm.SEED_NVL72)
    ds_cap = kvbm.kv_capacity("gb200-b200", "llama-3.1-405b", "nvfp4", kv_bytes_per_element=1.0, tp=8, num_gpus=72)
    m = get_model("llama-3.1-405b")
    seed_w = m.params("seed") * QUANT_BYTES["FP4"] / RACK_TP
    b = get_gpu("b200", "seed")
    seed_t, real_t = NVL72Topology("seed"), NVL72Topology("datasheet")
    remote_seed = seed_t.link(0, 1).transfer_time(_BLOCK)
    remote_ds = real_t.link(0, 1).transfer_time(_BLOCK)
    local = _BLOCK / b.hbm_bandwidth
    paged70 = _paged_block()
    vis = ds_sys.gpu.hbm_visible_bytes / GB
    visible = "Datasheet: HBM visible to software, 72 x {vis:.1f} GB (nvidia-smi's total per GPU)."
    per_token_note = ("Datasheet: NVFP4 weights (4.5 bits) of the derived {params_b:.2f} billion parameters, "
                      "{vis:.1f} GB of HBM visible per GPU.")
    rem = seed_sys.gpu.hbm_bytes - seed_w
    seed_kv = seed_cap["kv_bytes_per_token"]
    v = {"vis": vis, "params_b": m.params("datasheet") / 1e9, "rem": rem / GB, "rem_tb": seed_sys.num_gpus * rem / TB,
         "kb": seed_kv / KB, "budget": seed_cap["kv_budget_per_gpu_gb"],
         "tok": int(seed_cap["kv_budget_per_gpu_gb"] * GB / seed_kv), "tok_r": int(163.7 * GB / seed_kv),
         "needed": parse_printed("634,406")[0] * seed_kv / GB, "total": seed_cap["total_tokens"], "r_seed": remote_seed / local,
         "r_ds": remote_ds / local, "local": local * 1e6, "remote_ds": remote_ds * 1e6, "bs": 16,
         "blocks": int(ds_cap.tokens_per_gpu) // 16, "kv70": get_model("llama-3.1-70b").kv_bytes_per_token(2.0),
         "blk405": 16 * ds_cap.kv_bytes_per_token / MB, "c": paged70.chunks, "paged_us": paged70.time * 1e6}
    return [
        make_claim(id="kvbm.heading", section="kvbm", line=189, claim="KVBM Across 13.8 TB", unit="TB",
                   printed="13.8 TB", reproduced=seed_sys.total_hbm_bytes / TB,
                   datasheet=ds_sys.total_hbm_visible_bytes / TB, explanation=visible, values=v),
        make_claim(id="kvbm.gpu-hbm", section="kvbm", line=191, claim="With 72 GPUs at 192 GB each", unit="GB",
                   printed="192 GB", reproduced=seed_sys.gpu.hbm_bytes / GB,
                   datasheet=ds_sys.gpu.hbm_visible_bytes / GB, kind="input",
                   explanation="192 GB is the marketed figure; software sees {vis:.1f} GB of a GB200 GPU.", values=v),
        make_claim(id="kvbm.total-hbm", section="kvbm", line=191, claim="the total HBM in the NVL72 is 13.8 TB",
                   unit="TB", printed="13.8 TB", reproduced=seed_sys.total_hbm_bytes / TB,
                   datasheet=ds_sys.total_hbm_visible_bytes / TB, explanation=visible, values=v),
        make_claim(id="kvbm.replicas", section="kvbm", line=191,
                   claim="FP4 Llama 405B with TP=8, 8 replicas across the rack", unit="count", printed="8",
                   reproduced=seed_sys.num_gpus // 8, datasheet=ds_sys.num_gpus // 8,
                   explanation="72 GPUs / TP8 = 9 replicas, as the end-to-end section says (line 427); 8 replicas "
                                "would leave 8 GPUs idle. The capacity code counts all 72 GPUs.", values=v),
        make_claim(id="kvbm.remaining-per-gpu", section="kvbm", line=192,
                   claim="Remaining per GPU: [number lost] GB for KV cache and workspace", unit="GB", printed=None,
                   reproduced=(seed_sys.gpu.hbm_bytes - seed_w) / GB,
                   datasheet=ds_cap.kv_budget_bytes_per_gpu / GB + 3,
                   explanation="Lost from the text: 192 - 25.3 = {rem:.1f} GB before the 3 GB workspace.", values=v),
        make_claim(id="kvbm.remaining-total", section="kvbm", line=192,
                   claim="Across 72 GPUs: [number lost] GB [number lost] TB of KV cache", unit="TB", printed=None,
                   reproduced=seed_sys.num_gpus * (seed_sys.gpu.hbm_bytes - seed_w) / TB,
                   datasheet=72 * (ds_cap.kv_budget_bytes_per_gpu / GB + 3) * GB / TB,
                   explanation="Lost from the text: 72 x {rem:.1f} GB = {rem_tb:.1f} TB before workspace.", values=v),
        make_claim(id="kvbm.code.workspace", section="kvbm", line=211, claim="- 3e9 # 3 GB workspace", unit="GB",
                   printed="3 GB", reproduced=kvbm.WORKSPACE_BYTES / GB, datasheet=kvbm.WORKSPACE_BYTES / GB,
                   kind="input", values=v),
        *(make_claim(id=f"kvbm.code.{key}", section="kvbm", line=line, claim=f"'{key}': {text}", unit=unit,
                     printed=printed, reproduced=seed_v, datasheet=ds_v, kind="input", explanation=note, values=v)
          for key, line, text, unit, printed, seed_v, ds_v, note in (
              ("total_params", 228, "405e9", "billion", "405", 405.0, m.params("datasheet") / 1e9,
               "Llama 3.1 405B has {params_b:.2f} billion parameters by its configuration."),
              ("weight_dtype_bytes", 229, "0.5, # FP4", "B/param", "0.5", 0.5, 0.5625,
               "NVFP4 stores 4.5 bits per weight (block scales)."),
              ("num_layers", 230, "126", "count", "126", 126, m.layers, ""),
              ("num_kv_heads", 231, "8, # GQA", "count", "8", 8, m.kv_heads, ""),
              ("head_dim", 232, "128", "count", "128", 128, m.head_dim, ""),
              ("kv_dtype_bytes", 233, "1, # FP8 KV cache", "B/param", "1", 1, 1, ""),
              ("hbm_gb", 235, "192", "GB", "192", 192, ds_sys.gpu.hbm_visible_bytes / GB, "Visible to software: {vis:.1f} GB."),
          )),
        make_claim(id="kvbm.code.session-tokens", section="kvbm", line=224, claim="int(total_tokens / 128_000)",
                   unit="count", printed="128_000", reproduced=SESSION_TOKENS, datasheet=SESSION_TOKENS, kind="input", values=v),
        make_claim(id="kvbm.code.rack", section="kvbm", line=236,
                   claim="nvl72_rack = {'num_gpus': 72, 'tp_degree': 8}", unit="count", printed="72", reproduced=72,
                   datasheet=72, kind="input", values=v),
        make_claim(id="kvbm.kv-bytes-per-token", section="kvbm", line=238,
                   claim="kv_bytes_per_token: 2 * 126 * 8 * 128 * 1 = 258,048 bytes", unit="B", printed="258,048",
                   reproduced=seed_cap["kv_bytes_per_token"], datasheet=ds_cap.kv_bytes_per_token, values=v),
        make_claim(id="kvbm.kv-kb-per-token", section="kvbm", line=238, claim="= 258,048 bytes = 252 KB", unit="KB",
                   printed="252 KB", reproduced=seed_cap["kv_bytes_per_token"] / KB,
                   datasheet=ds_cap.kv_bytes_per_token / KB,
                   explanation="258,048 / 1,024 = 252: binary KiB labelled KB; in decimal KB it is {kb:.0f}.", values=v),
        make_claim(id="kvbm.weights-per-gpu", section="kvbm", line=239,
                   claim="kv_budget_per_gpu: 192 GB - 25.3 GB - 3 GB", unit="GB", printed="25.3 GB",
                   reproduced=seed_w / GB, datasheet=ds_cap.weight_bytes_per_gpu / GB, explanation=per_token_note, values=v),
        make_claim(id="kvbm.budget-per-gpu", section="kvbm", line=239, claim="192 GB - 25.3 GB - 3 GB = 163.7 GB",
                   unit="GB", printed="163.7 GB", reproduced=seed_cap["kv_budget_per_gpu_gb"],
                   datasheet=ds_cap.kv_budget_bytes_per_gpu / GB, explanation=per_token_note, values=v),
        make_claim(id="kvbm.tokens-per-gpu", section="kvbm", line=240,
                   claim="tokens_per_gpu: 163.7e9 / 258048 = 634,406 tokens", unit="count", printed="634,406",
                   reproduced=seed_cap["tokens_per_gpu"], datasheet=int(ds_cap.tokens_per_gpu),
                   explanation="{budget:.4f}e9 / 258,048 = {tok:,} ({tok_r:,} from the rounded 163.7e9); 634,406 follows "
                                "from neither -- it is what {needed:.4f}e9 would give.", values=v),
        make_claim(id="kvbm.total-tokens", section="kvbm", line=241,
                   claim="total_tokens: 634,406 * 72 = 45,677,232 tokens", unit="count", printed="45,677,232",
                   reproduced=seed_cap["total_tokens"], datasheet=int(ds_cap.total_tokens),
                   explanation="634,406 x 72 is right; it carries the per-GPU figure's error (the code gives {total:,}).", values=v),
        make_claim(id="kvbm.sessions", section="kvbm", line=242,
                   claim="total_context_windows_128k: 356 concurrent 128K sessions", unit="count", printed="356",
                   reproduced=seed_cap["total_context_windows_128k"], datasheet=int(ds_cap.sessions),
                   explanation=per_token_note, values=v),
        *_capacity_row_claims(),
        make_claim(id="kvbm.nvlink-any-two", section="kvbm", line=250,
                   claim="With 1.8 TB/s NVLink bandwidth between any two GPUs", unit="TB/s", printed="1.8 TB/s",
                   reproduced=seed_t.bandwidth(0, 1) / TB, datasheet=real_t.bandwidth(0, 1) / TB, kind="input",
                   explanation="One direction of NVLink 5 is 0.9 TB/s per GPU.", values=v),
        make_claim(id="kvbm.remote-access-lost", section="kvbm", line=250,
                   claim="accessing remote KV cache is fast: [number lost]", unit="us", printed=None,
                   reproduced=remote_seed * 1e6, datasheet=paged70.time * 1e6,
                   explanation="Lost from the text; the 5.24 MB block at 1.8 TB/s takes 2.9 us (line 304); "
                               + _PAGED_NOTE + ".", values=v),
        make_claim(id="kvbm.local-read", section="kvbm", line=251, claim="local HBM read takes ~1.6 us", unit="us",
                   printed="~1.6 us", reproduced=local * 1e6, datasheet=local * 1e6,
                   explanation="5.24 MB at B200's 8 TB/s takes {local:.2f} us; 1.6 us is the same block at H100's "
                                "3.35 TB/s.", values=v),
        make_claim(id="kvbm.remote-vs-local", section="kvbm", line=251,
                   claim="Remote access is only 1.8x slower than local", unit="x", printed="1.8x",
                   reproduced=remote_seed / local, datasheet=remote_ds / local,
                   explanation="2.9 / 1.6 = 1.8 takes the local read at H100's bandwidth. Against B200's own HBM a "
                                "remote block is {r_seed:.1f}x slower by the document's NVLink figure, {r_ds:.1f}x at 900 GB/s.", values=v),
        make_claim(id="kvbm.docstring-pool", section="kvbm", line=255, claim="The 72-GPU memory pool", unit="count",
                   printed="72", reproduced=seed_sys.num_gpus, datasheet=ds_sys.num_gpus, values=v),
        make_claim(id="kvbm.docstring-rdma", section="kvbm", line=258,
                   claim="Cross-GPU block access uses NVLink RDMA (1.8 TB/s)", unit="TB/s", printed="1.8 TB/s",
                   reproduced=seed_t.bandwidth(0, 1) / TB, datasheet=real_t.bandwidth(0, 1) / TB, kind="input",
                   explanation="One direction of NVLink 5 is 0.9 TB/s per GPU.", values=v),
        make_claim(id="kvbm.blocks-per-gpu", section="kvbm", line=260,
                   claim="def __init__(self, num_gpus=72, blocks_per_gpu=640_000)", unit="count", printed="640_000",
                   reproduced=seed_cap["tokens_per_gpu"] // 16, datasheet=int(ds_cap.tokens_per_gpu) // 16,
                   explanation="640,000 is the per-GPU token count (634,406) rounded up; in blocks of {bs} tokens the "
                                "budget holds {blocks:,}.", values=v),
        make_claim(id="kvbm.block-size", section="kvbm", line=304, claim="Transfer time: 5.24 MB / 1.8 TB/s = 2.9 us",
                   unit="MB", printed="5.24 MB", reproduced=16 * seed_cap["kv_bytes_per_token"] / MB,
                   datasheet=16 * ds_cap.kv_bytes_per_token / MB,
                   explanation="5.24 MB is 5 MiB: {bs} tokens of Llama 70B's KV in FP16 ({kv70:,.0f} bytes per token). A "
                                "{bs}-token block of this section's Llama 405B in FP8 is {blk405:.2f} MB.", values=v),
        make_claim(id="kvbm.block-transfer", section="kvbm", line=304,
                   claim="Transfer time: 5.24 MB / 1.8 TB/s = 2.9 us", unit="us", printed="2.9 us",
                   reproduced=remote_seed * 1e6, datasheet=paged70.time * 1e6,
                   explanation=("At one direction of NVLink 5 (900 GB/s) the same block takes {one:.1f} us as one "
                                "copy. A paged KV cache keeps one tensor per layer, so this block ({bs} tokens of "
                                "Llama 70B in FP16) moves as {c} copies of {ckb:.0f} KB; at about {lat:.1f} us per copy "
                                "that is {t:.0f} us, {share:.0%} of it per-copy latency. (Llama 405B's FP8 block of "
                                "the end-to-end table takes longer: more layers.)"),
                   values={**v, "one": remote_ds * 1e6, "c": paged70.chunks, "ckb": paged70.chunk_bytes / 1e3,
                           "lat": kvbm.CHUNK_LATENCY_S * 1e6, "t": paged70.time * 1e6,
                           "share": paged70.latency_share}),
        make_claim(id="kvbm.block-transfer-code", section="kvbm", line=309,
                   claim="transfer_time_us = 5.24e6 / 1.8e12 * 1e6 # 2.9 us", unit="us", printed="2.9 us",
                   reproduced=remote_seed * 1e6, datasheet=paged70.time * 1e6,
                   explanation="The code's arithmetic is right for one copy at 1.8 TB/s; " + _PAGED_NOTE + ".", values=v),
    ]


def _paged_block():
    """The document's 5.24 MB block (16 tokens of Llama 70B in FP16) moved between two GPUs of the
    rack as a paged KV cache moves it: one copy per layer, each paying a per-copy latency, over one
    direction of NVLink 5 (:func:`nvlmodel.kvbm.block_transfer`). The datasheet value of every
    line that times this block."""
    return kvbm.block_transfer("llama-3.1-70b", get_system("nvl72", "datasheet").gpu.nvlink_bw_per_direction,
                               kv_bytes_per_element=2.0)


#: How the datasheet value of a line timing the 5.24 MB block is reached.
_PAGED_NOTE = ("as one copy over one direction of NVLink 5 (900 GB/s) it would take {remote_ds:.1f} us, but a paged "
               "KV cache moves it as {c} per-layer copies, {paged_us:.0f} us")


@builds(("nvswitch-tier", "NVSwitch memory as KV cache tier", 428, 467, "04-kvbm"))
def nvswitch_tier_claims() -> list[Claim]:
    remote_seed = NVL72Topology("seed").link(0, 1).transfer_time(_BLOCK)
    tier = kvbm.NVSwitchMemoryTier(0).capacity
    paged = _paged_block()
    v = {"remote_ds": NVL72Topology("datasheet").link(0, 1).transfer_time(_BLOCK) * 1e6, "gib_gb": tier / GB,
         "nine": get_system("nvl72", "seed").switch_chips * tier / GB, "c": paged.chunks, "paged_us": paged.time * 1e6}
    return [
        make_claim(id="nvs.gpu-hbm-access", section="nvswitch-tier", line=435, claim="GPU HBM: 0.3 us access",
                   unit="us", printed="0.3 us", reproduced=None, datasheet=None,
                   explanation="No stated input gives 0.3 us, and it contradicts the 'local HBM read ~1.6 us' of "
                                "line 251 for the same block.", values=v),
        make_claim(id="nvs.switch-access", section="nvswitch-tier", line=436, claim="NVSwitch HBM: ~1.0 us access",
                   unit="us", printed="~1.0 us", reproduced=None, datasheet=None,
                   explanation="Not derivable from any stated input. " + _NO_SWITCH_MEMORY, values=v),
        make_claim(id="nvs.remote-access", section="nvswitch-tier", line=437, claim="Remote GPU HBM: ~2.9 us access",
                   unit="us", printed="~2.9 us", reproduced=remote_seed * 1e6, datasheet=paged.time * 1e6,
                   explanation="2.9 us is the copy time of a 5.24 MB block at 1.8 TB/s (line 304), not an access "
                                "latency; " + _PAGED_NOTE + ".", values=v),
        make_claim(id="nvs.capacity", section="nvswitch-tier", line=441, claim="capacity_bytes=128 * 1024**3",
                   unit="GiB", printed="128", reproduced=kvbm.NVSwitchMemoryTier(0).capacity / GiB, datasheet=0.0,
                   explanation="128 GiB = {gib_gb:.1f} GB, not the 128 GB of the NVL72 box (lines 37, 41): nine "
                                "would hold {nine:,.0f} GB, not 1,152. " + _NO_SWITCH_MEMORY, values=v),
        make_claim(id="nvs.promotion-readers", section="nvswitch-tier", line=449,
                   claim="Criteria: block is accessed by 3+ GPUs in this domain", unit="count", printed="3",
                   reproduced=3, datasheet=None, kind="input", explanation=_NO_SWITCH_MEMORY, values=v),
        make_claim(id="nvs.promotion-code", section="nvswitch-tier", line=454, claim="return unique_gpus >= 3",
                   unit="count", printed="3", reproduced=3, datasheet=None, kind="input",
                   explanation=_NO_SWITCH_MEMORY, values=v),
        make_claim(id="nvs.read-latency", section="nvswitch-tier", line=464,
                   claim="Access latency: ~1.0 us (vs 2.9 us from remote GPU)", unit="us", printed="~1.0 us",
                   reproduced=None, datasheet=None, explanation="Not derivable. " + _NO_SWITCH_MEMORY, values=v),
        make_claim(id="nvs.read-latency-remote", section="nvswitch-tier", line=464,
                   claim="(vs 2.9 us from remote GPU)", unit="us", printed="2.9 us", reproduced=remote_seed * 1e6,
                   datasheet=paged.time * 1e6,
                   explanation="The block copy time again (line 304): " + _PAGED_NOTE + ".", values=v),
    ]


def session_advantage(model: str = "llama-3.1-405b") -> dict[str, float]:
    """How many more 128K sessions an NVL72 (72 B200) holds than one 8x H100 node, three ways: the
    two printed table cells divided (``printed``), the document's capacity formula for both rows
    unrounded (``seed``) and per GPU (``seed_per_gpu``, against 72 H100s), and with datasheet facts
    (``datasheet``). Chapter 4, the errata and the findings page all quote these."""
    from . import get_claim

    seed, ds = kvbm.capacity_table("seed", model), kvbm.capacity_table("datasheet", model)
    labels = list(CAPACITY_CLAIM_IDS)
    printed = {label: get_claim(f"{CAPACITY_CLAIM_IDS[label]}.sessions").seed_value for label in labels}
    h8, h72, nvl = labels
    s = seed.set_index("configuration").sessions_128k
    d = ds.set_index("configuration").sessions_128k
    return {"printed": printed[nvl] / printed[h8], "seed": float(s[nvl] / s[h8]),
            "seed_per_gpu": float(s[nvl] / s[h72]), "datasheet": float(d[nvl] / d[h8])}


__all__ = ["kvbm_claims", "nvswitch_tier_claims", "session_advantage"]
