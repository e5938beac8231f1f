"""Claims of the seed's KVBM section (lines 189-312) and its NVSwitch memory tier (lines 428-467)."""

from __future__ import annotations

from .. import kvbm
from ..document import KV_BLOCK_BYTES, QUANT_BYTES, RACK_TP, SESSION_TOKENS
from ..hardware import get_gpu, get_system
from ..models import get_model
from ..topology import NVL72Topology
from ..units import GB, GiB, KB, MB, TB
from .core import Claim, builds, make_claim

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
    h100_budget = ("The document's own formula gives 80 - 405 / 8 - 3 = 26.4 GB (FP8 weights of Llama 405B take "
                   "50.6 GB per GPU at TP8); 42.5 GB follows from no stated input.")
    sessions = ("The H100 rows divide tokens by 1,000,000, not 128,000: {tok} tokens / 128K = {right:.1f} sessions. "
                "By the formula's own budget it is {seed:.1f}.")
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
            make_claim(f"kvbm.table.{short}.gpus", "kvbm", line, f"{row} [GPUs]", "count", str(n), n, int(d.GPUs),
                       kind="input"),
            make_claim(f"kvbm.table.{short}.budget", "kvbm", line, f"{row} [KV budget per GPU]", "GB", budget,
                       s.kv_budget_per_gpu_gb, d.kv_budget_per_gpu_gb,
                       explanation=("" if ok else h100_budget + " ") + "Datasheet: HBM visible to software, derived parameters, "
                       "NVFP4 weights at 4.5 bits."),
            make_claim(f"kvbm.table.{short}.total", "kvbm", line, f"{row} [total KV budget]", tunit, total,
                       s.total_kv_budget_tb * TB / (GB if tunit == "GB" else TB),
                       d.total_kv_budget_tb * TB / (GB if tunit == "GB" else TB),
                       explanation=("" if ok else f"{total} is {n} x 42.5 GB: right arithmetic on the "
                                    "underivable per-GPU budget. ") + "Datasheet as the budget."),
            make_claim(f"kvbm.table.{short}.sessions", "kvbm", line, f"{row} [128K sessions]", "count", sess,
                       int(s.sessions_128k), int(d.sessions_128k),  # the seed's code truncates (line 224)
                       explanation=("Datasheet: the same method with visible HBM and NVFP4." if ok else
                                    sessions.format(tok=toks, right=float(toks[:-1]) * scale / SESSION_TOKENS,
                                                    seed=s.sessions_128k))),
            make_claim(f"kvbm.table.{short}.tokens", "kvbm", line, f"{row} [tokens cached]", kunit, toks,
                       s.tokens_cached / scale, d.tokens_cached / scale,
                       explanation=("" if ok else f"{toks} = the printed total budget / 516,096 bytes (FP16 KV): "
                                    "consistent with the printed budget, not with the formula. ")
                       + "Datasheet: visible HBM and NVFP4 weights."),
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
    paged70 = kvbm.block_transfer("llama-3.1-70b", ds_sys.gpu.nvlink_bw_per_direction, kv_bytes_per_element=2.0)
    vis = ds_sys.gpu.hbm_visible_bytes / GB
    visible = f"Datasheet: HBM visible to software, 72 x {vis:.1f} GB (nvidia-smi's total per GPU)."
    per_token_note = (f"Datasheet: NVFP4 weights (4.5 bits) of the derived {m.params('datasheet') / 1e9:.2f} billion "
                      f"parameters, {vis:.1f} GB of HBM visible per GPU.")
    return [
        make_claim("kvbm.heading", "kvbm", 189, "KVBM Across 13.8 TB", "TB", "13.8 TB", seed_sys.total_hbm_bytes / TB,
                   ds_sys.total_hbm_visible_bytes / TB, explanation=visible),
        make_claim("kvbm.gpu-hbm", "kvbm", 191, "With 72 GPUs at 192 GB each", "GB", "192 GB",
                   seed_sys.gpu.hbm_bytes / GB, ds_sys.gpu.hbm_visible_bytes / GB, kind="input",
                   explanation=f"192 GB is the marketed figure; software sees {vis:.1f} GB of a GB200 GPU."),
        make_claim("kvbm.total-hbm", "kvbm", 191, "the total HBM in the NVL72 is 13.8 TB", "TB", "13.8 TB",
                   seed_sys.total_hbm_bytes / TB, ds_sys.total_hbm_visible_bytes / TB,
                   explanation=visible),
        make_claim("kvbm.replicas", "kvbm", 191, "FP4 Llama 405B with TP=8, 8 replicas across the rack", "count", "8",
                   seed_sys.num_gpus // 8, ds_sys.num_gpus // 8,
                   explanation=("72 GPUs / TP8 = 9 replicas, as the end-to-end section says (line 427); 8 replicas "
                                "would leave 8 GPUs idle. The capacity code counts all 72 GPUs.")),
        make_claim("kvbm.remaining-per-gpu", "kvbm", 192, "Remaining per GPU: [number lost] GB for KV cache and workspace",
                   "GB", None, (seed_sys.gpu.hbm_bytes - seed_w) / GB, ds_cap.kv_budget_bytes_per_gpu / GB + 3,
                   explanation="Lost from the text: 192 - 25.3 = 166.7 GB before the 3 GB workspace."),
        make_claim("kvbm.remaining-total", "kvbm", 192, "Across 72 GPUs: [number lost] GB [number lost] TB of KV cache",
                   "TB", None, seed_sys.num_gpus * (seed_sys.gpu.hbm_bytes - seed_w) / TB, 72 * (ds_cap.kv_budget_bytes_per_gpu / GB + 3) * GB / TB,
                   explanation="Lost from the text: 72 x 166.7 GB = 12.0 TB before workspace."),
        make_claim("kvbm.code.workspace", "kvbm", 211, "- 3e9 # 3 GB workspace", "GB", "3 GB",
                   kvbm.WORKSPACE_BYTES / GB, kvbm.WORKSPACE_BYTES / GB, kind="input"),
        *(make_claim(f"kvbm.code.{key}", "kvbm", line, f"'{key}': {text}", unit, printed, seed_v, ds_v, kind="input",
                     explanation=note)
          for key, line, text, unit, printed, seed_v, ds_v, note in (
              ("total_params", 228, "405e9", "billion", "405", 405.0, m.params("datasheet") / 1e9,
               "Llama 3.1 405B has 405.85 billion parameters by its configuration."),
              ("weight_dtype_bytes", 229, "0.5, # FP4", "B/param", "0.5", 0.5, 0.5625,
               "NVFP4 stores 4.5 bits per weight (block scales)."),
              ("num_layers", 230, "126", "count", "126", 126, m.layers, ""),
              ("num_kv_heads", 231, "8, # GQA", "count", "8", 8, m.kv_heads, ""),
              ("head_dim", 232, "128", "count", "128", 128, m.head_dim, ""),
              ("kv_dtype_bytes", 233, "1, # FP8 KV cache", "B/param", "1", 1, 1, ""),
              ("hbm_gb", 235, "192", "GB", "192", 192, ds_sys.gpu.hbm_visible_bytes / GB, f"Visible to software: {vis:.1f} GB."),
          )),
        make_claim("kvbm.code.session-tokens", "kvbm", 224, "int(total_tokens / 128_000)", "count", "128_000",
                   SESSION_TOKENS, SESSION_TOKENS, kind="input"),
        make_claim("kvbm.code.rack", "kvbm", 236, "nvl72_rack = {'num_gpus': 72, 'tp_degree': 8}", "count", "72", 72, 72,
                   kind="input"),
        make_claim("kvbm.kv-bytes-per-token", "kvbm", 238, "kv_bytes_per_token: 2 * 126 * 8 * 128 * 1 = 258,048 bytes",
                   "B", "258,048", seed_cap["kv_bytes_per_token"], ds_cap.kv_bytes_per_token),
        make_claim("kvbm.kv-kb-per-token", "kvbm", 238, "= 258,048 bytes = 252 KB", "KB", "252 KB",
                   seed_cap["kv_bytes_per_token"] / KB, ds_cap.kv_bytes_per_token / KB,
                   explanation="258,048 / 1,024 = 252: binary KiB labelled KB; in decimal KB it is 258."),
        make_claim("kvbm.weights-per-gpu", "kvbm", 239, "kv_budget_per_gpu: 192 GB - 25.3 GB - 3 GB", "GB", "25.3 GB",
                   seed_w / GB, ds_cap.weight_bytes_per_gpu / GB, explanation=per_token_note),
        make_claim("kvbm.budget-per-gpu", "kvbm", 239, "192 GB - 25.3 GB - 3 GB = 163.7 GB", "GB", "163.7 GB",
                   seed_cap["kv_budget_per_gpu_gb"], ds_cap.kv_budget_bytes_per_gpu / GB, explanation=per_token_note),
        make_claim("kvbm.tokens-per-gpu", "kvbm", 240, "tokens_per_gpu: 163.7e9 / 258048 = 634,406 tokens", "count",
                   "634,406", seed_cap["tokens_per_gpu"], int(ds_cap.tokens_per_gpu),
                   explanation=("163.6875e9 / 258,048 = 634,329 (634,378 from the rounded 163.7e9); 634,406 follows "
                                "from neither -- it is what 163.7072e9 would give.")),
        make_claim("kvbm.total-tokens", "kvbm", 241, "total_tokens: 634,406 * 72 = 45,677,232 tokens", "count",
                   "45,677,232", seed_cap["total_tokens"], int(ds_cap.total_tokens),
                   explanation="634,406 x 72 is right; it carries the per-GPU figure's error (the code gives 45,671,735)."),
        make_claim("kvbm.sessions", "kvbm", 242, "total_context_windows_128k: 356 concurrent 128K sessions", "count",
                   "356", seed_cap["total_context_windows_128k"], int(ds_cap.sessions),
                   explanation=per_token_note),
        *_capacity_row_claims(),
        make_claim("kvbm.nvlink-any-two", "kvbm", 250, "With 1.8 TB/s NVLink bandwidth between any two GPUs", "TB/s",
                   "1.8 TB/s", seed_t.bandwidth(0, 1) / TB, real_t.bandwidth(0, 1) / TB, kind="input",
                   explanation="One direction of NVLink 5 is 0.9 TB/s per GPU."),
        make_claim("kvbm.remote-access-lost", "kvbm", 250, "accessing remote KV cache is fast: [number lost]", "us", None,
                   remote_seed * 1e6, remote_ds * 1e6,
                   explanation="Lost from the text; the 5.24 MB block at 1.8 TB/s takes 2.9 us (line 304)."),
        make_claim("kvbm.local-read", "kvbm", 251, "local HBM read takes ~1.6 us", "us", "~1.6 us", local * 1e6,
                   local * 1e6,
                   explanation=("5.24 MB at B200's 8 TB/s takes 0.66 us; 1.6 us is the same block at H100's "
                                "3.35 TB/s.")),
        make_claim("kvbm.remote-vs-local", "kvbm", 251, "Remote access is only 1.8x slower than local", "x", "1.8x",
                   remote_seed / local, remote_ds / local,
                   explanation=("2.9 / 1.6 = 1.8 takes the local read at H100's bandwidth. Against B200's own HBM a "
                                "remote block is 4.4x slower by the document's NVLink figure, 8.9x at 900 GB/s.")),
        make_claim("kvbm.docstring-pool", "kvbm", 255, "The 72-GPU memory pool", "count", "72", seed_sys.num_gpus,
                   ds_sys.num_gpus),
        make_claim("kvbm.docstring-rdma", "kvbm", 258, "Cross-GPU block access uses NVLink RDMA (1.8 TB/s)", "TB/s",
                   "1.8 TB/s", seed_t.bandwidth(0, 1) / TB, real_t.bandwidth(0, 1) / TB, kind="input",
                   explanation="One direction of NVLink 5 is 0.9 TB/s per GPU."),
        make_claim("kvbm.blocks-per-gpu", "kvbm", 260, "def __init__(self, num_gpus=72, blocks_per_gpu=640_000)", "count",
                   "640_000", seed_cap["tokens_per_gpu"] // 16, int(ds_cap.tokens_per_gpu) // 16,
                   explanation=("640,000 is the per-GPU token count (634,406) rounded up; in blocks of 16 tokens the "
                                "budget holds 39,645.")),
        make_claim("kvbm.block-size", "kvbm", 304, "Transfer time: 5.24 MB / 1.8 TB/s = 2.9 us", "MB", "5.24 MB",
                   16 * seed_cap["kv_bytes_per_token"] / MB, 16 * ds_cap.kv_bytes_per_token / MB,
                   explanation=("5.24 MB is 5 MiB: 16 tokens of Llama 70B's KV in FP16 (327,680 bytes per token). A "
                                "16-token block of this section's Llama 405B in FP8 is 4.13 MB.")),
        make_claim("kvbm.block-transfer", "kvbm", 304, "Transfer time: 5.24 MB / 1.8 TB/s = 2.9 us", "us", "2.9 us",
                   remote_seed * 1e6, remote_ds * 1e6,
                   explanation=("At one direction of NVLink 5 (900 GB/s) the same block takes {one:.1f} us as one "
                                "copy. A paged KV cache keeps one tensor per layer, so this block (16 tokens of Llama "
                                "70B in FP16) moves as {c} copies of {kb:.0f} KB; at about {lat:.1f} us per copy that "
                                "is {t:.0f} us, {share:.0%} of it per-copy latency.").format(
                       one=remote_ds * 1e6, c=paged70.chunks, kb=paged70.chunk_bytes / 1e3,
                       lat=kvbm.CHUNK_LATENCY_S * 1e6, t=paged70.time * 1e6, share=paged70.latency_share)),
        make_claim("kvbm.block-transfer-code", "kvbm", 309, "transfer_time_us = 5.24e6 / 1.8e12 * 1e6 # 2.9 us", "us",
                   "2.9 us", remote_seed * 1e6, remote_ds * 1e6, explanation="900 GB/s one way: 5.8 us."),
    ]


@builds(("nvswitch-tier", "NVSwitch memory as KV cache tier", 428, 467, "04-kvbm"))
def nvswitch_tier_claims() -> list[Claim]:
    remote_seed = NVL72Topology("seed").link(0, 1).transfer_time(_BLOCK)
    return [
        make_claim("nvs.gpu-hbm-access", "nvswitch-tier", 435, "GPU HBM: 0.3 us access", "us", "0.3 us", None, None,
                   explanation=("No stated input gives 0.3 us, and it contradicts the 'local HBM read ~1.6 us' of "
                                "line 251 for the same block.")),
        make_claim("nvs.switch-access", "nvswitch-tier", 436, "NVSwitch HBM: ~1.0 us access", "us", "~1.0 us", None,
                   None, explanation="Not derivable from any stated input. " + _NO_SWITCH_MEMORY),
        make_claim("nvs.remote-access", "nvswitch-tier", 437, "Remote GPU HBM: ~2.9 us access", "us", "~2.9 us",
                   remote_seed * 1e6, NVL72Topology("datasheet").link(0, 1).transfer_time(_BLOCK) * 1e6,
                   explanation=("2.9 us is the copy time of a 5.24 MB block at 1.8 TB/s (line 304), not an access "
                                "latency; one way at 900 GB/s it is 5.8 us.")),
        make_claim("nvs.capacity", "nvswitch-tier", 441, "capacity_bytes=128 * 1024**3", "GiB", "128",
                   kvbm.NVSwitchMemoryTier(0).capacity / GiB, 0.0,
                   explanation=("128 GiB = 137.4 GB, not the 128 GB of the NVL72 box (lines 37, 41): nine would "
                                "hold 1,237 GB, not 1,152. " + _NO_SWITCH_MEMORY)),
        make_claim("nvs.promotion-readers", "nvswitch-tier", 449, "Criteria: block is accessed by 3+ GPUs in this domain",
                   "count", "3", 3, None, kind="input", explanation=_NO_SWITCH_MEMORY),
        make_claim("nvs.promotion-code", "nvswitch-tier", 454, "return unique_gpus >= 3", "count", "3", 3, None,
                   kind="input", explanation=_NO_SWITCH_MEMORY),
        make_claim("nvs.read-latency", "nvswitch-tier", 464, "Access latency: ~1.0 us (vs 2.9 us from remote GPU)", "us",
                   "~1.0 us", None, None, explanation="Not derivable. " + _NO_SWITCH_MEMORY),
        make_claim("nvs.read-latency-remote", "nvswitch-tier", 464, "(vs 2.9 us from remote GPU)", "us", "2.9 us",
                   remote_seed * 1e6, NVL72Topology("datasheet").link(0, 1).transfer_time(_BLOCK) * 1e6,
                   explanation="The block copy time again (line 304); 5.8 us at 900 GB/s."),
    ]


__all__ = ["kvbm_claims", "nvswitch_tier_claims"]
