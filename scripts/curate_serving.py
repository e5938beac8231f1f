"""Build nvlmodel/data/serving.csv: the measured MoE, dense-Qwen and disaggregated serving rows that
chapter 8 calibrates on (H100/H200) and holds out (B200, GB200).

Reads ../shared/data/aiconfigurator/silicon_sample.csv (ai-dynamo/aiconfigurator, Apache-2.0,
commit 095f58a51) and keeps the rows of Qwen3-32B, DeepSeek-V3/R1, Qwen3-235B-A22B and gpt-oss-120b
on H100 SXM, H200 SXM, B200 SXM and GB200, aggregated and disaggregated, with the columns the model
needs. Nothing else of that file is carried.

Conventions read from the rows themselves (check them in the source):

* ``concurrency`` is the client's ``silicon_concurrency`` (requests in flight); where the source
  omits it, batch x attention-DP (aggregated) or decode batch x decode workers x decode
  attention-DP (disaggregated), which is what it equals in every row that has both.
* ``batch_size`` and ``decode_batch_size`` count sequences per attention-DP rank.
* A deployment is ``tp`` x ``attention_dp`` GPUs per worker with ``ep``-way expert parallelism;
  the source's ``moe_tp_size`` is recorded and must satisfy moe_tp x ep = tp x attention_dp.
* ``campaign`` is ``serving`` for every row: Hopper and Blackwell rows of one engine were measured
  with different versions (and the disaggregated Hopper rows are few), so one calibration per
  engine, over both modes and every model, is the finest the split allows.
* An empty ``precision`` (unquantized checkpoint) is recorded as ``bf16`` with a note.

Aggregated rows whose source id names their layout (``..._tp8_ep8_942``: a worker of 8 GPUs,
8-way expert parallel) but whose recorded sizes make ``ep`` times as many GPUs (``tp`` or
``attention_dp``, and ``moe_tp``, multiplied by ``ep``: attention_dp = 64 for ``tp8_ep8``) are
corrected (:func:`fix_layout`; ``layout_note`` keeps what was recorded). Such rows of the
2026-04-06 dump are found by their id; 11 rows of the database dump, whose ids name no layout,
carry the same signature and are corrected alike. Many are then the same measurements, to the
last digit, as rows of the dated exports that record the layout, and keep one copy (``duplicate
of``; ``nvlmodel/data/README.md`` has the counts).

Disaggregated rows of the dated exports (InferenceMAX runs) record neither worker counts nor
whether attention is data-parallel: their layout is recovered from the configurations
InferenceMAX's benchmark file listed for the same system, engine, model, precision, lengths and
concurrency on the day of the measurement (``nvlmodel/data/inferencex_configs.csv``, built by
``scripts/curate_inferencex.py``; :func:`recover_layout` says when a match counts). The file also
says which of its configurations ran MTP speculative decoding, which the export does not: a row
that matches only such configurations, or both kinds, is left out with that reason, and so is an
aggregated row of InferenceMAX's whose configurations say so (:func:`agg_speculation`). The reading is
checked on the database dump, which records its layouts: each of its modelled rows that InferenceMAX
lists has one of the listed layouts (``tests/test_serving.py``). The dump does not record the engine
limits its runs' recipes set (decode seats, prefill batch and tokens): a disaggregated row of it
takes those the configurations listed at its clients with its layout agree on (:func:`recorded_limits`).

``left_out`` says why a row cannot be modelled as recorded (it stays in the table, and chapter 8
reports it as left out): disaggregated rows that give no worker counts or per-worker batch, rows
whose parallelism fields disagree, and repeated measurements of one configuration
(:func:`mark_repeats`): the source holds several data dumps, and 315 configurations appear in two
to four of them. Where the copies agree (the same measurement exported twice) the first by source
id is kept; where they disagree, the latest measured is kept (newer engine builds), and either way
the others name the copy kept, so that no configuration is counted twice in a fit or an error table.
Nor is one measurement counted twice under two layouts (:func:`mark_relabelled`): the database
dump records some of InferenceMAX's runs with another layout than its export does.

    python scripts/curate_serving.py [--shared ../shared]
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from curate_measurements import (INFERENCEMAX_HARNESSES, _field, client_warmup, harness,  # a sibling script:
                                  run)  # same source, same command line

from nvlmodel.models import get_model
from nvlmodel.serve.validate import inferencemax_trt_tokens

CONFIGS = Path(__file__).resolve().parents[1] / "nvlmodel" / "data" / "inferencex_configs.csv"
#: engine limits per attention rank a recovered configuration names (``scripts/curate_inferencex.py``)
LIMITS = ("decode_max_batch", "prefill_max_batch", "prefill_max_tokens")
#: the largest HBM of the four systems (B200/GB200: 192 GB marketed), and the fewest bytes a
#: parameter can take (4-bit): a worker whose GPUs cannot hold the weights even so is one of
#: InferenceMAX's placeholder entries (SGLang's list ``tp: 1, ep: 1`` and name the layout in recipes)
_MAX_HBM, _MIN_BYTES_PER_PARAM = 192e9, 0.5

MODELS = {
    "Qwen/Qwen3-32B": "qwen3-32b", "nvidia/Qwen3-32B-NVFP4": "qwen3-32b",
    "deepseek-ai/DeepSeek-R1": "deepseek-v3", "deepseek-ai/DeepSeek-V3": "deepseek-v3",
    "nvidia/DeepSeek-R1-NVFP4": "deepseek-v3",
    "Qwen/Qwen3-235B-A22B-FP8": "qwen3-235b-a22b", "openai/gpt-oss-120b": "gpt-oss-120b",
}
SYSTEMS = ("h100_sxm", "h200_sxm", "b200_sxm", "gb200")
#: The KV-cache dtype a row's benchmark script set, where the script is known (other rows: empty, the
#: engine's default, ``nvlmodel.calibrate.ENGINE_MEMORY``): (system, backend, model, mode) of
#: InferenceMAX's runs (the dated exports and the database dump) -> (dtype, the first day the scripts
#: set it; rows measured before run the default). Its SGLang DeepSeek-R1 runs on one B200 node pass
#: ``--kv-cache-dtype fp8_e4m3`` in every version of their scripts from 2025-12 to 2026-04
#: (SemiAnalysisAI/InferenceX ``benchmarks/dsr1_fp{4,8}_b200_docker.sh``, then
#: ``benchmarks/dsr1_fp{4,8}_b200.sh`` and ``benchmarks/single_node/dsr1_fp{4,8}_b200.sh``); its H200
#: scripts set none (SGLang's default, the model's BF16), and the multi-node recipes of its
#: disaggregated runs are not in that repository. Its vLLM gpt-oss-120b script for B200 sets
#: ``kv-cache-dtype: fp8`` from 2025-12-05 (``benchmarks/gptoss_fp4_b200_docker.sh`` at 25506e87c,
#: "Upgrade vLLM to v0.11.2"; the slurm variant from 2025-12-31; then ``gptoss_fp4_b200.sh`` and
#: ``single_node/gptoss_fp4_b200.sh``, every version to 2026-04), and its H100 and H200 scripts never.
SCRIPT_KV_DTYPE: dict[tuple[str, str, str, str], tuple[str, str]] = {
    ("b200_sxm", "sglang", "deepseek-v3", "agg"): ("fp8", ""),
    ("b200_sxm", "vllm", "gpt-oss-120b", "agg"): ("fp8", "2025-12-05"),
    ("b200_sxm", "trtllm", "gpt-oss-120b", "agg"): ("fp8", "2025-10-20"),
}
#: The MoE kernel a row's benchmark script selected instead of the engine's default, where the script
#: is known (:data:`nvlmodel.kernels.MOE_KERNELS` names them and the measured table that prices each):
#: (system, backend, model, mode) -> (kernel, first day the scripts set it). InferenceMAX's vLLM
#: gpt-oss-120b script for B200 exports ``VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8=1`` from 2025-09-24
#: (``benchmarks/gptoss_fp4_b200_{docker,slurm}.sh`` at 5e92867f4, then ``gptoss_fp4_b200.sh`` and
#: ``single_node/gptoss_fp4_b200.sh``, every version to 2026-04): FlashInfer's MXFP4 x MXFP8 experts,
#: where vLLM's default on B200 (and the kernel table's) keeps BF16 activations. Its H100 and H200
#: scripts export ``VLLM_MXFP4_USE_MARLIN=1`` from 2026-01-02 (4e52ed4c6, "Update vLLM version to
#: v0.13.0"): Marlin's W4A16 experts, where vLLM's default on Hopper is OpenAI's Triton kernels. Its
#: TensorRT-LLM gpt-oss-120b script for H200 sets ``moe_config: backend: TRITON`` from 2025-09-15
#: (``gptoss_fp4_h200_trt_slurm.sh`` at 551d81e95, every version to 2026-04); the one for B200 sets
#: ``backend: TRTLLM``, the engine's default there, and sets the KV cache to FP8 from 2025-10-20
#: (ac1998a50, in :data:`SCRIPT_KV_DTYPE`). Its SGLang DeepSeek-R1 scripts for one B200 node run
#: FlashInfer's TensorRT-LLM-gen MoE, ``--enable-flashinfer-trtllm-moe`` from 2025-09-15 (FP8,
#: ``benchmarks/dsr1_fp8_b200_docker.sh`` at 8357b21ed) and 2025-09-21 (FP4, 27f29acbe), renamed
#: ``--moe-runner-backend flashinfer_trtllm`` on 2025-11-10 (d8fe8f73e), every version to 2026-04.
SCRIPT_MOE_KERNEL: dict[tuple[str, str, str, str], tuple[str, str]] = {
    ("b200_sxm", "vllm", "gpt-oss-120b", "agg"): ("flashinfer_mxfp4_mxfp8", "2025-09-24"),
    ("h100_sxm", "vllm", "gpt-oss-120b", "agg"): ("marlin_mxfp4", "2026-01-02"),
    ("h200_sxm", "vllm", "gpt-oss-120b", "agg"): ("marlin_mxfp4", "2026-01-02"),
    ("h200_sxm", "trtllm", "gpt-oss-120b", "agg"): ("triton_mxfp4", "2025-09-15"),
    ("b200_sxm", "sglang", "deepseek-v3", "agg"): ("flashinfer_trtllm", "2025-09-21"),
}
#: The tokens a step may hold that a row's benchmark script set for an aggregated worker, where the
#: script is known (other rows: empty; the replay then follows aiconfigurator's benchmark rules,
#: ``nvlmodel.serve.validate.benchmark_limits``): (system, backend, model, mode) -> (tokens, first day
#: the scripts set it). InferenceMAX's vLLM gpt-oss-120b scripts pass ``max-num-batched-tokens: 8192``
#: on H100 (from 2025-09-23), H200 (2025-09-15) and B200 (2025-09-21) in every later version to
#: 2026-04 (``benchmarks/gptoss_fp4_{h100,h200,b200}_{slurm,docker}.sh``, then
#: ``gptoss_fp4_*.sh`` and ``single_node/gptoss_fp4_*.sh``); its TensorRT-LLM gpt-oss-120b scripts
#: ``max_num_tokens`` 20,000 on H200 (from 2025-09-15) and B200 (2025-09-19) in every later version
#: (``benchmarks/gptoss_fp4_{h200,b200}_trt_slurm.sh``, ``gptoss_fp4_b200_trt_docker.sh``, then
#: ``gptoss_fp4_*_trt.sh`` and ``single_node/gptoss_fp4_*_trt.sh``). Its SGLang DeepSeek-R1 script for
#: H200 passes ``--chunked-prefill-size 32768 --max-prefill-tokens 32768`` from 2025-09-19
#: (``benchmarks/dsr1_fp8_h200_slurm.sh`` at e617b3e63, every later version to 2026-04); its B200
#: scripts' values depend on precision and TP (:func:`sglang_b200_prefill_tokens`).
SCRIPT_MAX_NUM_TOKENS: dict[tuple[str, str, str, str], tuple[int, str]] = {
    ("h100_sxm", "vllm", "gpt-oss-120b", "agg"): (8192, "2025-09-23"),
    ("h200_sxm", "vllm", "gpt-oss-120b", "agg"): (8192, "2025-09-15"),
    ("b200_sxm", "vllm", "gpt-oss-120b", "agg"): (8192, "2025-09-21"),
    ("h200_sxm", "trtllm", "gpt-oss-120b", "agg"): (20000, "2025-09-15"),
    ("b200_sxm", "trtllm", "gpt-oss-120b", "agg"): (20000, "2025-09-19"),
    ("h200_sxm", "sglang", "deepseek-v3", "agg"): (32768, "2025-09-19"),
}
COLUMNS = ("source_id", "system", "backend", "backend_version", "campaign", "mode", "model", "checkpoint",
           "precision", "isl", "osl", "concurrency", "tp", "attention_dp", "moe_tp", "ep", "workers",
           "prefill_tp", "prefill_attention_dp", "prefill_moe_tp", "prefill_ep", "prefill_workers",
           "decode_max_batch", "prefill_max_batch", "prefill_max_tokens", "kv_dtype", "max_num_tokens",
           "moe_kernel", "spec_tokens", "redundant_experts", "prefill_redundant_experts", "recv_interval", "batch_wait_iters", "batch_wait_tokens", "ttft_ms", "tpot_ms", "measured", "precision_note", "left_out", "harness", "client_warmup", "layout_note")


def _int(v: str) -> int | None:
    return int(float(v)) if v not in ("", None) else None


def fix_layout(source_id: str, tp: int, adp: int, moe_tp: int, ep: int) -> tuple[tuple[int, int, int, int], str]:
    """An aggregated row's (tp, attention_dp, moe_tp, ep), corrected where its source id names a
    worker of ``N`` GPUs with ``M``-way experts (``_tp{N}_ep{M}_``) and the recorded sizes make
    ``ep`` x ``N`` GPUs: the size above 1 among tp and attention_dp, and moe_tp, divided by ep.
    Returns the layout and a note of what was recorded ("" when nothing changed).

    >>> fix_layout("2026_04_06_deepseek_r1_h200_sxm_trtllm_fp8_agg_1024x1024_c128_tp8_ep8_2012", 1, 64, 8, 8)
    ((1, 8, 1, 8), 'recorded tp=1, attention_dp=64, moe_tp=8: ep=8 times the 8 GPUs its source id names')
    >>> fix_layout("2026_03_25_deepseek_r1_h200_sxm_trtllm_fp8_agg_1024x1024_c128_tp8_0_ep8_0_1244", 1, 8, 1, 8)
    ((1, 8, 1, 8), '')

    A row whose id names no layout is corrected where its sizes carry the same signature
    (attention_dp = ep x ep, moe_tp = ep, tp 1): seven of the eleven such rows of the database dump
    are, to the last digit, measurements the dated exports record as workers of ep GPUs.

    >>> fix_layout("dsr1_b200_trtllm_fp4_agg_1024x1024_c128_cfg191", 1, 64, 8, 8)[0]
    (1, 8, 1, 8)
    >>> fix_layout("dsr1_b200_trtllm_fp4_agg_1024x1024_c128_cfg90", 1, 8, 1, 8)
    ((1, 8, 1, 8), '')
    """
    m = re.search(r"_tp(\d+)(?:_0)?_ep(\d+)(?:_0)?_\d+$", source_id)
    if not m and tp == 1 and ep > 1 and moe_tp == ep and adp == ep * ep:
        # no layout in the id, the same signature: attention_dp = ep x ep and moe_tp = ep (the database
        # dump's rows of it are, where the dated exports measured them too, those exports' ep-GPU workers)
        return (1, ep, 1, ep), (f"recorded attention_dp={adp}, moe_tp={moe_tp}: ep={ep} times an attention-DP "
                                f"worker of {ep} GPUs, the signature of the 2026-04-06 dump's error")
    if not m or ep <= 1 or int(m.group(2)) != ep or tp * adp != int(m.group(1)) * ep or moe_tp % ep:
        return (tp, adp, moe_tp, ep), ""
    if adp > 1:
        fixed = (tp, adp // ep, moe_tp // ep, ep)
    else:
        fixed = (tp // ep, adp, moe_tp // ep, ep)
    if fixed[0] * fixed[1] != int(m.group(1)) or fixed[2] * ep != fixed[0] * fixed[1]:
        return (tp, adp, moe_tp, ep), ""
    return fixed, (f"recorded tp={tp}, attention_dp={adp}, moe_tp={moe_tp}: ep={ep} times the {m.group(1)} GPUs "
                   "its source id names")


def _config_key(r: dict, model: str, precision: str, clients: int) -> tuple:
    """The key of :func:`load_configs` for a source row ``r`` of ``model`` at ``precision`` measured
    with ``clients`` clients."""
    return r["system"], r["backend"], model, precision, int(r["isl"]), int(r["osl"]), clients


def load_configs(path: Path = CONFIGS, mode: str = "disagg") -> dict[tuple, list[dict]]:
    """InferenceMAX's configurations of ``mode`` (``scripts/curate_inferencex.py``), by (system,
    backend, model, precision, isl, osl, clients): the clients its benchmark ran, which a row's
    concurrency records. A configuration that runs an srt-slurm recipe carries ``latest``: the
    recipe's most recent listing (:func:`run_layout` reads its layout there)."""
    out: dict[tuple, list[dict]] = {}
    if not path.exists():
        return out
    def recipe(c):
        return c["system"], c["backend"], c["model"], c["precision"], c.get("recipe", "")

    latest: dict[tuple, dict] = {}
    with open(path, newline="") as f:
        for c in csv.DictReader(f):
            if c["mode"] == mode:
                key = (c["system"], c["backend"], c["model"], c["precision"], int(c["isl"]), int(c["osl"]),
                       int(c["clients"] or c["concurrency"]))
                out.setdefault(key, []).append(c)
                r = recipe(c)
                if r[-1] and (r not in latest or c["first_seen"] > latest[r]["first_seen"]):
                    latest[r] = c
    for cs in out.values():
        for c in cs:
            if recipe(c) in latest:
                c["latest"] = latest[recipe(c)]
    return out


def _holds_weights(model: str, gpus: int) -> bool:
    return get_model(model).derived_params * _MIN_BYTES_PER_PARAM / gpus <= _MAX_HBM


def _real(c: dict, model: str) -> bool:
    """Whether both sides' workers of configuration ``c`` can hold ``model``'s weights (else the
    entry is a placeholder)."""
    return _holds_weights(model, int(c["decode_tp"])) and _holds_weights(model, int(c["prefill_tp"]))


def _listed_on(c: dict, day: str) -> bool:
    """Whether configuration ``c`` was listed on ``day`` (ISO date): from ``first_seen`` to ``dropped``."""
    return c["first_seen"] <= day and (not c["dropped"] or day <= c["dropped"])


def _same_image(c: dict, image: str) -> bool:
    """Whether configuration ``c`` runs container ``image`` (either unnamed: no evidence against;
    the configuration file writes ``nvcr.io#`` where the exports write ``nvcr.io/``)."""
    norm = image.replace("nvcr.io#", "nvcr.io/")
    return not norm or not c["image"] or c["image"].replace("nvcr.io#", "nvcr.io/") == norm


def _listing(configs: list[dict]) -> str:
    """Where InferenceMAX listed ``configs``: its configuration file, or (GB200 TensorRT-LLM before
    2025-12-05) the runner script that submitted them (``scripts/curate_inferencex.py``)."""
    return ", ".join(sorted({"launch_gb200-nv.sh" if c.get("name", "").startswith("runners/") else "nvidia-master.yaml"
                             for c in configs})) or "nvidia-master.yaml"


def _speculation(configs: list[dict]) -> tuple[str, "int | str"]:
    """Why a row whose matching configurations ran with their ``spec_decoding`` values is left
    out, or "", and the tokens they drafted per decode step (``spec_tokens``: 0 where none ran
    speculatively). A row is modelled where every match ran without speculation, or every match
    ran MTP drafting the same, known number of tokens; not where some ran with it and some without
    (the export does not say which ran), nor where the draft length is unknown or differs.

    >>> _speculation([{"spec_decoding": "mtp", "spec_tokens": "3"}] * 2)
    ('', 3)
    >>> _speculation([{"spec_decoding": "mtp", "spec_tokens": "3"}, {"spec_decoding": "mtp", "spec_tokens": "1"}])[0][56:]
    'with different draft lengths (1 or 3 tokens per step; nvidia-master.yaml): the export does not say which'
    """
    specs, where = {c["spec_decoding"] for c in configs}, _listing(configs)
    if specs == {"mtp"}:
        drafts = {c.get("spec_tokens", "") for c in configs}
        if len(drafts) == 1 and "" not in drafts:
            return "", int(drafts.pop())
        if "" in drafts:
            return ("InferenceMAX ran it only with MTP speculative decoding, with a draft length its configurations "
                    f"do not record ({where})"), ""
        return ("InferenceMAX ran it only with MTP speculative decoding, with different draft lengths "
                f"({' or '.join(sorted(drafts))} tokens per step; {where}): the export does not say which"), ""
    if "none" in specs and len(specs) > 1:
        return (f"InferenceMAX ran it with and without MTP speculative decoding ({where}); the export does "
                "not say which"), ""
    return "", 0


def agg_speculation(row: dict, configs: list[dict], image: str = "") -> tuple[str, "int | str"]:
    """Why an aggregated row of InferenceMAX's is left out for speculative decoding, or "", and the
    tokens drafted per decode step (:func:`_speculation`): the rule :func:`recover_layout` applies
    to disaggregated rows. The configurations InferenceMAX listed for the row's system, engine,
    model, precision, lengths and concurrency on its measurement date, running its image, and of
    its layout (GPUs per worker, ``ep``, attention DP) where any is, all ran with MTP drafting the
    same number of tokens (or without), or some with and some without.

    >>> cfg = dict(tp="8", ep="8", dp_attention="True", first_seen="2026-03-01", dropped="", image="",
    ...            spec_decoding="mtp", spec_tokens="1")
    >>> row = dict(measured="2026-03-25", gpus=8, ep=8, attention_dp=8)
    >>> agg_speculation(row, [cfg])
    ('', 1)
    >>> agg_speculation(row, [cfg, dict(cfg, tp="4", ep="4", spec_decoding="none")])  # the other layout's
    ('', 1)
    >>> agg_speculation(row, [cfg, dict(cfg, spec_decoding="none")])[0][:47]
    'InferenceMAX ran it with and without MTP specul'
    >>> agg_speculation(row, [dict(cfg, spec_decoding="none")]), agg_speculation(row, [])
    (('', 0), ('', 0))
    """
    listed = [c for c in configs if _listed_on(c, row["measured"]) and _same_image(c, image)]
    same = [c for c in listed if int(c["tp"]) == row["gpus"] and int(c["ep"] or 1) == row["ep"]
            and (c["dp_attention"] == "True") == (row["attention_dp"] > 1)]
    return _speculation(same or listed)


def _layout(c: dict, side: str) -> tuple[int, int, int, int, int]:
    """(tp, attention_dp, moe_tp, ep, workers) of one side of an InferenceMAX configuration: its
    ``tp`` GPUs per worker are tensor-parallel, or attention-data-parallel where ``dp-attn``."""
    gpus, ep = int(c[f"{side}_tp"]), int(c[f"{side}_ep"] or 1)
    tp, adp = (1, gpus) if c[f"{side}_dp_attention"] == "True" else (gpus, 1)
    return tp, adp, gpus // ep, ep, int(c[f"{side}_workers"])


def run_layout(c: dict, side: str) -> tuple[int, int, int, int, int]:
    """:func:`_layout` of one side of an InferenceMAX configuration as its launch ran it. A
    configuration that runs an srt-slurm recipe takes the layout of that recipe's most recent
    listing (``latest``, :func:`load_configs`): InferenceMAX audited its listed tp, ep and
    attention DP against the recipe files on 2026-03-23 and corrected 34 entries without changing a
    recipe (f316a0ef6, "Fix nvidia-master.yaml metadata to align with recipe files": H200 FP8
    TensorRT-LLM prefill attention DP, B200 FP8 8K/1K prefill ep, GB200 FP4 8K/1K decode attention
    DP), so runs listed before ran what the corrected entry says. GB200 SGLang DeepSeek-R1 sides
    take DeepEP's expert parallelism over their GPUs where the file listed ``ep`` 1
    (:func:`sglang_gb200_deepep`).

    >>> old = dict(prefill_tp="8", prefill_ep="8", prefill_dp_attention="True", prefill_workers="1", system="h200_sxm")
    >>> run_layout(dict(old, latest=dict(old, prefill_dp_attention="False")), "prefill")
    (8, 1, 1, 8, 1)
    """
    layout = _layout(c.get("latest", c), side)
    if (c.get("system"), c.get("backend"), c.get("model")) == ("gb200", "sglang", "deepseek-v3"):
        return sglang_gb200_deepep(layout)[0]
    return layout


def _as_run_note(c: dict) -> str:
    """Why :func:`run_layout` reads configuration ``c`` otherwise than it is listed, or ""."""
    listed = (_layout(c, "decode"), _layout(c, "prefill"))
    if (run_layout(c, "decode"), run_layout(c, "prefill")) == listed:
        return ""
    if (_layout(c.get("latest", c), "decode"), _layout(c.get("latest", c), "prefill")) != listed:
        return (f"; the layout InferenceMAX lists for its recipe from {c['latest']['first_seen']} (it audited its "
                "listings against the recipe files on 2026-03-23, f316a0ef6), not the one listed on the day")
    return "; ep as the launch script ran it (DeepEP over each side's GPUs, InferenceMAX a27b37e5c), not the listed 1"


def recorded_as_run(row: dict, recorded: tuple, configs: list[dict], image: str = "") -> tuple[tuple, str]:
    """The layout (decode side, prefill side: each (tp, attention_dp, moe_tp, ep, workers)) a
    disaggregated row that records its own ran, and a note where it is not the recorded one: the
    database dump copied InferenceMAX's listing of the day, so where every configuration listed on
    the row's day at its clients with the recorded layout is run otherwise (:func:`run_layout`),
    the row takes that.

    >>> old = dict(prefill_tp="8", prefill_ep="8", prefill_dp_attention="True", prefill_workers="1",
    ...            decode_tp="8", decode_ep="8", decode_dp_attention="True", decode_workers="1",
    ...            first_seen="2026-01-29", dropped="", image="", system="h200_sxm")
    >>> new = dict(old, prefill_dp_attention="False", first_seen="2026-03-23")
    >>> rec = ((1, 8, 1, 8, 1), (1, 8, 1, 8, 1))
    >>> recorded_as_run(dict(measured="2026-02-14"), rec, [dict(old, latest=new)])[0]
    ((1, 8, 1, 8, 1), (8, 1, 1, 8, 1))
    """
    same = [c for c in configs if _listed_on(c, row["measured"]) and _same_image(c, image)
            and _sizes((_layout(c, "decode"), _layout(c, "prefill"))) == _sizes(recorded)]
    runs = {(run_layout(c, "decode"), run_layout(c, "prefill")) for c in same}
    if len(runs) != 1 or _sizes(next(iter(runs))) == _sizes(recorded):
        return recorded, ""
    return runs.pop(), _as_run_note(same[0])[2:]


def recorded_limits(row: dict, layout: tuple, configs: list[dict], image: str = "") -> dict:
    """The engine limits (:data:`LIMITS`) and the decode balancer's expert slots
    (``decode_eplb_slots``) of a disaggregated row that records its layout: what every
    configuration InferenceMAX listed on the row's day at its clients, running its image, with that
    layout as run (:func:`run_layout`; ``layout`` is the decode and prefill sides as
    :func:`recorded_as_run` returns them) names alike, as :func:`recover_layout` takes them for a
    row whose layout it recovers ("" where the matches name none or disagree). The database dump
    records the layouts of InferenceMAX's runs, not their recipes' limits: H100 TensorRT-LLM's
    ``ctx1_gen3_tep16_batch1`` ran 6 clients on three decode workers of one seat each.

    >>> cfg = dict(prefill_tp="16", prefill_ep="16", prefill_dp_attention="True", prefill_workers="1",
    ...            decode_tp="16", decode_ep="16", decode_dp_attention="False", decode_workers="3",
    ...            first_seen="2026-02-07", dropped="", image="", system="h100_sxm", decode_max_batch="1",
    ...            prefill_max_batch="", prefill_max_tokens="", decode_eplb_slots="0")
    >>> run = ((16, 1, 1, 16, 3), (1, 16, 1, 16, 1))
    >>> recorded_limits(dict(measured="2026-02-08"), run, [cfg, dict(cfg, spec_decoding="mtp")])
    {'decode_max_batch': 1, 'prefill_max_batch': '', 'prefill_max_tokens': '', 'decode_eplb_slots': 0}
    >>> recorded_limits(dict(measured="2026-02-08"), run, [cfg, dict(cfg, decode_max_batch="2")])["decode_max_batch"]
    ''
    >>> recorded_limits(dict(measured="2026-02-06"), run, [cfg])["decode_max_batch"]  # not listed yet
    ''
    """
    return _agreed_limits([c for c in configs if _listed_on(c, row["measured"]) and _same_image(c, image)
                           and _sizes((run_layout(c, "decode"), run_layout(c, "prefill"))) == _sizes(layout)])


def _sizes(sides) -> tuple:
    """Each side's (tp, attention_dp, ep, workers) of a layout of two sides of
    (tp, attention_dp, moe_tp, ep, workers): moe_tp follows from the others."""
    return tuple((t, a, e, w) for t, a, _, e, w in sides)


def _agreed_limits(configs: list[dict]) -> dict:
    """The engine limits (:data:`LIMITS`) and ``decode_eplb_slots`` that every one of ``configs``
    naming one names alike ("" where none does or they disagree)."""
    out = {}
    for limit in LIMITS + ("decode_eplb_slots",):
        values = {c.get(limit, "") for c in configs} - {""}
        out[limit] = int(float(values.pop())) if len(values) == 1 else ""
    return out


def recover_layout(row: dict, configs: list[dict], image: str = "") -> tuple[dict | None, str]:
    """The worker layout of a disaggregated row that records no worker counts, from the
    configurations InferenceMAX listed for its system, engine, model, precision, lengths and
    concurrency. A configuration matches where it was listed on the row's measurement date (from
    ``first_seen`` to ``dropped``), runs the row's container image (where the row names one), can
    hold the weights, and has the recorded decode and prefill ``tp`` as its GPUs per decode and
    prefill worker with the recorded prefill ``ep`` (the 2026 exports), or both as the deployment's
    GPUs (the 2025-12 exports, which record every ``ep`` as 1), or both 1 where the configuration's
    sizes are in nodes (GB200 SGLang: the export copied its placeholder ``tp: 1``). Returns (layout, note): the layout
    (decode tp, attention_dp, moe_tp, ep, workers, the prefill's, and the engine limits every match
    names, and ``spec_tokens``, the tokens drafted per decode step, 0 without speculative decoding)
    where every match is one layout run alike (:func:`_speculation`), else None and the reason.

    >>> cfg = dict(prefill_tp="4", prefill_ep="4", prefill_dp_attention="True", prefill_workers="2",
    ...            decode_tp="16", decode_ep="16", decode_dp_attention="True", decode_workers="1",
    ...            first_seen="2025-12-01", dropped="", image="", spec_decoding="none", first_commit="abc")
    >>> row = dict(model="deepseek-v3", measured="2025-12-05", tp=24, prefill_tp=24)
    >>> layout, note = recover_layout(row, [cfg])
    >>> layout["tp"], layout["attention_dp"], layout["ep"], layout["workers"], layout["prefill_workers"]
    (1, 16, 16, 1, 2)
    >>> recover_layout(row, [dict(cfg, spec_decoding="mtp", spec_tokens="3")])[0]["spec_tokens"]
    3
    >>> recover_layout(row, [cfg, dict(cfg, spec_decoding="mtp", spec_tokens="3")])[1][:47]
    'InferenceMAX ran it with and without MTP specul'
    """
    def gpus(c):
        return int(c["prefill_tp"]) * int(c["prefill_workers"]) + int(c["decode_tp"]) * int(c["decode_workers"])

    def per_worker(c):  # the 2026 exports: GPUs per worker, and the prefill's ep (copied to the decode side)
        ep = row.get("prefill_ep")
        return (int(row["tp"]) == int(c["decode_tp"]) and int(row["prefill_tp"]) == int(c["prefill_tp"])
                and (not ep or int(ep) == int(c["prefill_ep"] or 1)))
    listed = [c for c in configs
              if _listed_on(c, row["measured"]) and _same_image(c, image)
              and (per_worker(c) or int(row["tp"]) == int(row["prefill_tp"]) == gpus(c)
                   or (c.get("gpus_from") == "nodes" and int(row["tp"]) == int(row["prefill_tp"]) == 1))]
    found = [c for c in listed if _real(c, row["model"])]
    if listed and not found:
        return None, ("InferenceMAX lists it with workers of one GPU, which cannot hold the weights: a placeholder for "
                      "a layout its launch scripts give")
    if not found:
        return None, "no InferenceMAX configuration matches it"
    layouts = {(run_layout(c, "decode"), run_layout(c, "prefill")) for c in found}
    speculation, drafts = _speculation(found)
    if speculation:
        return None, speculation
    if len(layouts) > 1:
        return None, f"{len(layouts)} InferenceMAX layouts match it ({_listing(found)})"
    (d, p), = layouts
    first = min(found, key=lambda c: c["first_seen"])
    layout = dict(zip(("tp", "attention_dp", "moe_tp", "ep", "workers"), d))
    layout.update(zip(("prefill_tp", "prefill_attention_dp", "prefill_moe_tp", "prefill_ep", "prefill_workers"), p))
    layout["spec_tokens"] = drafts
    layout.update(_agreed_limits(found))  # what the matches that name it agree on (else unknown: "")
    as_run = _as_run_note(first)
    return layout, (f"layout from InferenceMAX's {_listing([first])} (listed from {first['first_seen']}, commit "
                    f"{first['first_commit']}); recorded tp={row['tp']}, prefill_tp={row['prefill_tp']}{as_run}")


def deployment_labelled_aggregated(system: str, model: str, tp: "int | None") -> bool:
    """Whether a row labelled aggregated records the GPUs of a disaggregated deployment as its
    ``tp``: a GB200 row (InferenceMAX's GB200 runner submitted only disaggregated jobs,
    ``runners/launch_gb200-nv.sh``, and its configuration file lists only disaggregated GB200
    entries) whose ``tp`` cannot split the model's attention heads.

    >>> [deployment_labelled_aggregated("gb200", "deepseek-v3", tp) for tp in (36, 8)]
    [True, False]
    >>> deployment_labelled_aggregated("b200_sxm", "deepseek-v3", 36)
    False
    """
    return system == "gb200" and bool(tp) and get_model(model).heads % tp != 0


def script_kv_dtype(system: str, backend: str, model: str, mode: str, harness_name: str, measured: str = "") -> str:
    """The KV-cache dtype the row's benchmark script set on the day it was ``measured``
    (:data:`SCRIPT_KV_DTYPE`), or "" (not known, or the script did not set one yet).

    >>> script_kv_dtype("b200_sxm", "sglang", "deepseek-v3", "agg", "dated export (2026-03-25, 2026-04-06)")
    'fp8'
    >>> script_kv_dtype("h200_sxm", "sglang", "deepseek-v3", "agg", "database dump (2026-04-27)")
    ''
    >>> [script_kv_dtype("b200_sxm", "vllm", "gpt-oss-120b", "agg", "dated export", day)
    ...  for day in ("2025-11-02", "2026-02-25")]
    ['', 'fp8']
    """
    return _script_setting(SCRIPT_KV_DTYPE, (system, backend, model, mode), harness_name, measured)


def script_max_num_tokens(system: str, backend: str, model: str, mode: str, harness_name: str,
                          measured: str = "", precision: str = "", tp: "int | None" = None) -> "int | str":
    """The tokens per step the row's benchmark script set for an aggregated worker on the day it was
    ``measured`` (:data:`SCRIPT_MAX_NUM_TOKENS`), or "" (not known). InferenceMAX's SGLang DeepSeek-R1
    scripts for one B200 node set the prefill tokens a step may take by ``precision`` and ``tp``
    (:func:`sglang_b200_prefill_tokens`).

    >>> script_max_num_tokens("h200_sxm", "vllm", "gpt-oss-120b", "agg", "dated export", "2026-03-27")
    8192
    >>> script_max_num_tokens("h200_sxm", "sglang", "deepseek-v3", "agg", "dated export", "2026-03-27")
    32768
    >>> script_max_num_tokens("h200_sxm", "sglang", "qwen3-235b-a22b", "agg", "dated export", "2026-03-27")
    ''
    """
    if (system, backend, model, mode) == ("b200_sxm", "sglang", "deepseek-v3", "agg"):
        if not harness_name.startswith(INFERENCEMAX_HARNESSES):
            return ""
        return sglang_b200_prefill_tokens(precision, tp, measured)
    return _script_setting(SCRIPT_MAX_NUM_TOKENS, (system, backend, model, mode), harness_name, measured)


def sglang_b200_prefill_tokens(precision: str, tp: "int | None", measured: str) -> "int | str":
    """The prefill tokens a step may take (``--chunked-prefill-size``, with ``--max-prefill-tokens``
    as large or SGLang's default 16,384) in InferenceMAX's SGLang DeepSeek-R1 scripts for one B200
    node on the day a row was ``measured``: 16,384 in FP4 from 2025-09-21
    (``benchmarks/dsr1_fp4_b200_docker.sh`` at 27f29acbe, every version to 2026-04); 32,768 in FP8
    from 2025-09-23 (``dsr1_fp8_b200_docker.sh`` at 6be2c6997), and 8,192 in its TP 4 branch from
    2026-01-13 (1d29967c4); "" before.

    >>> [sglang_b200_prefill_tokens(p, tp, "2026-02-25") for p, tp in (("fp4", 8), ("fp8", 8), ("fp8", 4))]
    [16384, 32768, 8192]
    >>> sglang_b200_prefill_tokens("fp8", 8, "2025-09-22")
    ''
    """
    since = {"fp4": "2025-09-21", "fp8": "2025-09-23"}.get(precision)
    if since is None or str(measured) < since:
        return ""
    if precision == "fp4":
        return 16384
    return 8192 if tp == 4 and str(measured) >= "2026-01-13" else 32768


def script_recv_interval(system: str, backend: str, model: str, mode: str, precision: str, tp: "int | None",
                         concurrency: "int | None", harness_name: str, measured: str = "") -> "int | str":
    """The decode steps between two polls for new requests (SGLang's ``--scheduler-recv-interval``)
    the row's benchmark script set on the day it was ``measured``, or "" (not known, or not set).
    InferenceMAX's SGLang DeepSeek-R1 scripts for one B200 node pass 30 at 16 clients or more and 10
    below, in both precisions, from 2025-09-19 (``benchmarks/dsr1_fp4_b200_slurm.sh`` at d98a46f20;
    the FP8 scripts from 2025-09-23, 6be2c6997; every version to 2026-04), except the FP8 script's
    TP 4 branch, which passes 10 from 2026-01-13 (1d29967c4); its H200 scripts pass none.

    >>> imx = "dated export (2026-03-25, 2026-04-06)"
    >>> [script_recv_interval("b200_sxm", "sglang", "deepseek-v3", "agg", "fp4", 8, c, imx, "2026-02-25")
    ...  for c in (8, 16)]
    [10, 30]
    >>> script_recv_interval("b200_sxm", "sglang", "deepseek-v3", "agg", "fp8", 4, 64, imx, "2026-02-25")
    10
    >>> script_recv_interval("h200_sxm", "sglang", "deepseek-v3", "agg", "fp8", 8, 64, imx, "2026-02-25")
    ''
    """
    if not (harness_name.startswith(INFERENCEMAX_HARNESSES) and (system, backend, model, mode)
            == ("b200_sxm", "sglang", "deepseek-v3", "agg") and concurrency):
        return ""
    since = {"fp4": "2025-09-19", "fp8": "2025-09-23"}.get(precision)
    if since is None or str(measured) < since:
        return ""
    if precision == "fp8" and tp == 4 and str(measured) >= "2026-01-13":
        return 10
    return 30 if concurrency >= 16 else 10


#: TensorRT-LLM's batch waiting as InferenceMAX's DeepSeek-R1 FP8 script for one B200 node sets it
#: ("DELAY_BATCHING"): ``batch_wait_timeout_iters`` and ``batch_wait_max_tokens_ratio`` at 1K/1K from
#: this many clients, from this day (``benchmarks/dsr1_fp8_b200_trt.sh`` at ec7bafaae, "[NV] dsr1 fp8
#: b200 agg update (#594)", then ``single_node/dsr1_fp8_b200_trt.sh`` and
#: ``single_node/fixed_seq_len/dsr1_fp8_b200_trt.sh``, every later version to 2026-06); its MTP
#: script (``dsr1_fp8_b200_trt_mtp.sh``) and its FP4 scripts set none.
TRT_B200_FP8_BATCH_WAIT: tuple[int, float, int, str] = (40, 0.8, 64, "2026-01-29")


def script_batch_wait(system: str, backend: str, model: str, mode: str, precision: str, isl: int, osl: int,
                      concurrency: "int | None", attention_dp: "int | None", spec_tokens, harness_name: str,
                      measured: str = "") -> "tuple[int | str, float | str]":
    """The batch wait (``batch_wait_iters``, ``batch_wait_tokens``: the steps a TensorRT-LLM worker
    holds new prompts while others decode, and the tokens that end the wait at once) the row's
    benchmark script set on the day it was ``measured`` (:data:`TRT_B200_FP8_BATCH_WAIT`;
    ``batch_wait_max_tokens_ratio`` x the script's ``max_num_tokens``,
    :func:`nvlmodel.serve.validate.inferencemax_trt_tokens`), or ("", "") (none, or not known).
    Recorded only without attention DP: the engine waits so only then (``PyExecutor._schedule``).

    >>> imx = "dated export (2026-03-25, 2026-04-06)"
    >>> script_batch_wait("b200_sxm", "trtllm", "deepseek-v3", "agg", "fp8", 1024, 1024, 64, 1, 0, imx, "2026-01-29")
    (40, 6553.6)
    >>> [script_batch_wait("b200_sxm", "trtllm", "deepseek-v3", "agg", "fp8", 1024, 1024, c, a, k, imx, d)
    ...  for c, a, k, d in ((32, 1, 0, "2026-02-05"), (64, 8, 0, "2026-02-05"), (64, 1, 3, "2026-02-05"),
    ...                     (64, 1, 0, "2026-01-28"))]
    [('', ''), ('', ''), ('', ''), ('', '')]
    """
    iters, ratio, least, since = TRT_B200_FP8_BATCH_WAIT
    if not (harness_name.startswith(INFERENCEMAX_HARNESSES) and str(measured) >= since and concurrency
            and (system, backend, model, mode, precision, isl, osl) == ("b200_sxm", "trtllm", "deepseek-v3", "agg",
                                                                         "fp8", 1024, 1024)
            and concurrency >= least and (attention_dp or 1) == 1 and not float(spec_tokens or 0)):
        return "", ""
    return iters, round(ratio * inferencemax_trt_tokens(concurrency, isl, measured), 1)


def trtllm_b200_deepseek_moe(precision: str, gpus: int, attention_dp: int, isl: int, osl: int,
                             concurrency: "int | None", measured: str) -> str:
    """The MoE backend InferenceMAX's TensorRT-LLM DeepSeek-R1 scripts for one B200 node set on the
    day a row was ``measured`` (``moe_config: backend``, as :data:`nvlmodel.kernels.MOE_KERNELS`
    names it), or "" before the rules below. FP8 (``benchmarks/dsr1_fp8_b200_trt_slurm.sh``, later
    ``dsr1_fp8_b200_trt.sh``): DEEPGEMM from 2025-09-18 (ec90f3fe7); from 2026-01-29 (ec7bafaae)
    TRTLLM, except DEEPGEMM at 1K/8K with 256 clients or more. FP4 (``dsr1_fp4_b200_trt_slurm.sh``,
    ``dsr1_fp4_b200_trt.sh``): from 2025-10-29 (9596d23d7) TRTLLM, except CUTLASS at 1K/1K and
    1K/8K from 256 clients and at 8K/1K above 32, on 4 or 8 GPUs; from 2026-02-03 (6eecc0e66)
    TRTLLM, and CUTLASS with attention DP.

    >>> [trtllm_b200_deepseek_moe("fp8", 8, 1, 1024, 1024, 64, d) for d in ("2026-01-14", "2026-01-29")]
    ['deepgemm', 'trtllm_gen']
    >>> [trtllm_b200_deepseek_moe("fp4", 8, 1, 8192, 1024, c, "2026-01-14") for c in (32, 64)]
    ['trtllm_gen', 'cutlass']
    >>> [trtllm_b200_deepseek_moe("fp4", 8, adp, 8192, 1024, 64, "2026-02-03") for adp in (1, 8)]
    ['trtllm_gen', 'cutlass']
    """
    d, c = str(measured), concurrency or 0
    if precision == "fp8":
        if d < "2025-09-18":
            return ""
        if d < "2026-01-29" or ((isl, osl) == (1024, 8192) and c >= 256):
            return "deepgemm"
        return "trtllm_gen"
    if precision != "fp4" or d < "2025-10-29":
        return ""
    if d >= "2026-02-03":
        return "cutlass" if attention_dp > 1 else "trtllm_gen"
    cut = gpus in (4, 8) and ((isl, osl) in ((1024, 1024), (1024, 8192)) and c >= 256
                              or (isl, osl) == (8192, 1024) and c > 32)
    return "cutlass" if cut else "trtllm_gen"


def script_moe_kernel(system: str, backend: str, model: str, mode: str, harness_name: str, measured: str = "",
                      shape: "tuple | None" = None) -> str:
    """The MoE kernel the row's benchmark script selected on the day it was ``measured``
    (:data:`SCRIPT_MOE_KERNEL`), or "" (the engine's default, or not known). InferenceMAX's
    TensorRT-LLM DeepSeek-R1 scripts for one B200 node choose it by the row's ``shape``: (precision,
    GPUs, attention DP, isl, osl, concurrency), :func:`trtllm_b200_deepseek_moe`.

    >>> [script_moe_kernel("b200_sxm", "vllm", "gpt-oss-120b", "agg", "dated export", day)
    ...  for day in ("2025-09-21", "2026-02-25")]
    ['', 'flashinfer_mxfp4_mxfp8']
    >>> script_moe_kernel("h200_sxm", "trtllm", "gpt-oss-120b", "agg", "aiconfigurator gap analysis", "2026-02-25")
    ''
    >>> script_moe_kernel("b200_sxm", "trtllm", "deepseek-v3", "agg", "dated export", "2026-01-29",
    ...                   ("fp8", 8, 1, 1024, 1024, 64))
    'trtllm_gen'
    """
    if (system, backend, model, mode) == ("b200_sxm", "trtllm", "deepseek-v3", "agg"):
        if not harness_name.startswith(INFERENCEMAX_HARNESSES) or shape is None:
            return ""
        return trtllm_b200_deepseek_moe(*shape, measured)
    return _script_setting(SCRIPT_MOE_KERNEL, (system, backend, model, mode), harness_name, measured)


def _script_setting(table: dict, key: tuple, harness_name: str, measured: str):
    """What ``table`` (key -> (value, first day the scripts set it)) says InferenceMAX's script for
    ``key`` set on the day a row was ``measured``; "" for a row of another client, a key the table
    does not hold, or a day before the setting."""
    if not harness_name.startswith(INFERENCEMAX_HARNESSES):
        return ""
    value, since = table.get(key, ("", ""))
    return value if str(measured) >= since else ""


def _sides(layout: dict):
    """A recovered layout (:func:`recover_layout`) as the decode side's tp, attention_dp, moe_tp,
    ep and workers, the prefill side's five as a tuple, and the engine limits."""
    sizes = ("tp", "attention_dp", "moe_tp", "ep", "workers")
    return (*(layout[k] for k in sizes), tuple(layout[f"prefill_{k}"] for k in sizes),
            {k: layout[k] for k in LIMITS})


#: Redundant experts InferenceMAX's GB200 SGLang DeepSeek-R1 runs held on each expert-parallel side of
#: at least :data:`SGLANG_GB200_REDUNDANT_MIN_EP` GPUs: NVIDIA/srt-slurm's GB200 SGLang recipes
#: (``recipes/gb200-fp{4,8}/``, 2026-01 to 2026-08) set ``ep-num-redundant-experts: 32`` on every side
#: of eight or more GPUs they make expert-parallel and on none smaller, and the launch script the
#: configuration file names before them (Elnifio/dynamo,
#: ``components/backends/sglang/slurm_jobs/scripts/gb200-fp8.sh``) passes 32 to prefill and decode.
#: That script's 32 on a side of four GPUs could not have been held: FP8 DeepSeek's routed experts
#: alone take 163 GB of each of four GPUs, and 32 replicas 20 GB more, beyond the HBM its
#: ``--mem-fraction-static`` leaves; such sides are taken without replicas, as the recipes run them.
SGLANG_GB200_REDUNDANT_EXPERTS = 32
SGLANG_GB200_REDUNDANT_MIN_EP = 8


def sglang_gb200_deepep(side: tuple) -> tuple[tuple, int, str]:
    """One side (tp, attention_dp, moe_tp, ep, workers) of an InferenceMAX GB200 SGLang DeepSeek-R1
    disaggregated row as its launch ran it, the redundant experts it held, and a note where the
    side changed. Its configuration file listed ``ep: 1`` for these sides until 2026-01-19, with the
    comment that "tp, ep, and dp-attn do nothing because they are hardcoded" in the launch script;
    that script runs DeepEP (``--enable-deepep-moe``: expert parallelism over the worker's
    ``--tp-size``, all its GPUs), and InferenceMAX corrected the listed ``ep`` to the side's GPUs on
    that day (a27b37e5c, "fix: update ep metadata in gb200 dynamo sglang configs to match comments").
    The database dump copied the listing, ``ep`` 1 and the experts tensor-parallel. A side of
    attention-DP ranks listed with ``ep`` 1 is taken as the script ran it, expert-parallel over its
    GPUs; every expert-parallel side of eight or more GPUs holds :data:`SGLANG_GB200_REDUNDANT_EXPERTS`
    replicas.

    >>> sglang_gb200_deepep((1, 48, 48, 1, 1))[:2]
    ((1, 48, 1, 48, 1), 32)
    >>> sglang_gb200_deepep((1, 4, 4, 1, 2))[:2]  # DEP4: expert-parallel, no replicas
    ((1, 4, 1, 4, 2), 0)
    >>> sglang_gb200_deepep((4, 1, 4, 1, 2))  # a tensor-parallel side: as listed, no replicas
    ((4, 1, 4, 1, 2), 0, '')
    """
    tp, adp, mtp, ep, workers = side
    note = ""
    if (adp or 1) > 1 and (ep or 1) == 1:
        note = (f"ep {tp * adp}, not the 1 InferenceMAX listed until 2026-01-19: the launch script runs DeepEP "
                "over the worker's GPUs (a27b37e5c)")
        mtp, ep = 1, tp * adp
    replicas = SGLANG_GB200_REDUNDANT_EXPERTS if (ep or 1) >= SGLANG_GB200_REDUNDANT_MIN_EP else 0
    return (tp, adp, mtp, ep, workers), replicas, note


def curate(path: Path) -> list[dict]:
    rows, configs, agg_configs = [], load_configs(), load_configs(mode="agg")
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["model_path"] not in MODELS or r["system"] not in SYSTEMS:
                continue
            if float(r["pp_size"] or r["decode_pp_size"] or 1) != 1:
                continue
            src = r["silicon_data_source"]
            model, measured, harness_name = MODELS[r["model_path"]], _field(src, "measured")[:10], harness(src)
            moe = model != "qwen3-32b"
            conc = _int(_field(src, "silicon_concurrency"))
            note, precision_note = [], ""
            precision = r["precision"]
            if not precision:
                precision, precision_note = "bf16", "precision inferred: unquantized checkpoint"
            layout_note, limits, mode, drafts = "", {k: "" for k in LIMITS}, r["mode"], 0
            slots, redundant = "", (0, 0)  # the decode balancer's expert slots a recovered layout names
            relabelled = False
            if mode == "agg" and deployment_labelled_aggregated(r["system"], model, _int(r["tp_size"])) and conc:
                # the deployment's GPUs under an aggregated label: InferenceMAX ran GB200 only disaggregated
                recorded = {"model": model, "measured": measured, "tp": _int(r["tp_size"]),
                            "prefill_tp": _int(r["tp_size"]), "prefill_ep": None}
                layout, why = recover_layout(recorded, configs.get(_config_key(r, model, precision, conc), []),
                                             _field(src, "image"))
                if layout is not None:
                    mode, relabelled, drafts = "disagg", True, layout["spec_tokens"]
                    tp, adp, mtp, ep, workers, prefill, limits = _sides(layout)
                    slots = layout["decode_eplb_slots"]
                    layout_note = (f"labelled aggregated, its tp the deployment's GPUs (InferenceMAX ran GB200 only "
                                   f"disaggregated); {why}")
                else:
                    note.append(f"labelled aggregated, its tp the deployment's GPUs; worker counts not recorded: the "
                                f"load per worker is unknown; {why}")
            if relabelled:
                pass  # its layout is recovered above
            elif mode == "agg":
                tp, adp, mtp, ep = (_int(r[k]) for k in ("tp_size", "attention_dp_size", "moe_tp_size", "moe_ep_size"))
                adp = adp or 1
                mtp, ep = mtp or tp, ep or 1
                if moe:
                    (tp, adp, mtp, ep), layout_note = fix_layout(r["id"], tp, adp, mtp, ep)
                workers, prefill = 1, (None, None, None, None, None)
                if conc is None and r["batch_size"]:
                    conc = _int(r["batch_size"]) * adp
                if conc is not None and harness_name.startswith(INFERENCEMAX_HARNESSES):
                    row = {"measured": measured, "gpus": tp * adp, "ep": ep, "attention_dp": adp}
                    speculation, drafts = agg_speculation(row, agg_configs.get(_config_key(r, model, precision, conc),
                                                                               []), _field(src, "image"))
                    if speculation:
                        note.append(speculation)
            else:
                tp, adp, mtp, ep = (_int(r[f"decode_{k}"]) for k in ("tp_size", "attention_dp_size", "moe_tp_size",
                                                                      "moe_ep_size"))
                adp = adp or 1
                workers = _int(r["decode_num_workers"])
                prefill = (_int(r["prefill_tp_size"]), _int(r["prefill_attention_dp_size"]) or 1,
                           _int(r["prefill_moe_tp_size"]), _int(r["prefill_moe_ep_size"]),
                           _int(r["prefill_num_workers"]))
                if not moe:
                    prefill = (prefill[0], prefill[1], prefill[0], 1, prefill[4])
                if (workers is None or prefill[4] is None) and conc is not None:
                    recorded = {"model": model, "measured": measured, "tp": tp, "prefill_tp": prefill[0],
                                "prefill_ep": prefill[3]}
                    layout, why = recover_layout(recorded, configs.get(_config_key(r, model, precision, conc), []),
                                                 _field(src, "image"))
                    if layout is None:
                        note.append(f"worker counts not recorded: the load per worker is unknown; {why}")
                    else:
                        tp, adp, mtp, ep, workers, prefill, limits = _sides(layout)
                        slots = layout["decode_eplb_slots"]
                        layout_note, drafts = why, layout["spec_tokens"]
                elif moe and conc is not None and harness_name.startswith(INFERENCEMAX_HARNESSES):
                    # an InferenceMAX run that recorded its layout: as the listing's recipe ran it
                    listed, image = configs.get(_config_key(r, model, precision, conc), []), _field(src, "image")
                    (d_side, prefill), why = recorded_as_run(
                        {"measured": measured}, ((tp, adp, mtp, ep, workers), prefill), listed, image)
                    tp, adp, mtp, ep, workers = d_side
                    layout_note = layout_note or why
                    found = recorded_limits({"measured": measured}, (d_side, prefill), listed, image)
                    limits = {k: found[k] for k in LIMITS}
                    slots = found["decode_eplb_slots"]
                if workers is None or prefill[4] is None:
                    if not any(n.startswith("worker counts") for n in note):
                        note.append("worker counts not recorded: the load per worker is unknown")
                elif conc is None and r["decode_batch_size"]:
                    conc = _int(r["decode_batch_size"]) * workers * adp
                if moe and prefill[2] and prefill[3] and prefill[2] * prefill[3] != prefill[0] * prefill[1]:
                    note.append("prefill parallelism fields disagree (moe_tp x ep != tp x attention_dp)")
            if moe and mode == "disagg" and (r["system"], r["backend"], model) == ("gb200", "sglang", "deepseek-v3"):
                (tp, adp, mtp, ep, workers), rd, nd = sglang_gb200_deepep((tp, adp, mtp, ep, workers))
                (*prefill,), rp, npf = sglang_gb200_deepep(prefill)
                prefill, redundant = tuple(prefill), (rd, rp)
                layout_note = "; ".join(x for x in (layout_note, nd and f"decode {nd}", npf and f"prefill {npf}") if x)
            elif moe and slots != "":  # TensorRT-LLM's load balancer: its slots beyond the experts are replicas
                redundant = (max(int(slots) - get_model(model).experts, 0), 0)
            if not moe:  # a dense model has no experts to split: its MoE fields are meaningless
                mtp, ep = tp, 1
            if moe and ep == 0:
                note.append("expert parallelism recorded as 0: the worker layout is unknown")
            if mtp and ep and tp and mtp * ep != tp * adp:
                note.append("parallelism fields disagree (moe_tp x ep != tp x attention_dp)")
            heads = get_model(model).heads
            for side, size in (("tp", tp), ("prefill_tp", prefill[0])):
                if size and heads % size:
                    note.append(f"recorded {side}={size} cannot be a tensor-parallel degree ({heads} attention heads "
                                f"do not split {size} ways): probably the deployment's GPU count, its worker layout "
                                "not recorded")
            if conc is None:
                note.append("concurrency not recorded")
            rows.append({
                "source_id": r["id"], "system": r["system"], "backend": r["backend"],
                "backend_version": r["backend_version"], "campaign": "serving", "mode": mode,
                "model": model, "checkpoint": r["model_path"], "precision": precision,
                "isl": int(r["isl"]), "osl": int(r["osl"]), "concurrency": conc if conc is not None else "",
                "tp": tp, "attention_dp": adp, "moe_tp": mtp, "ep": ep, "workers": workers if workers else "",
                "prefill_tp": prefill[0] or "", "prefill_attention_dp": prefill[1] or "",
                "prefill_moe_tp": prefill[2] or "", "prefill_ep": prefill[3] or "", "prefill_workers": prefill[4] or "",
                **limits, "kv_dtype": script_kv_dtype(r["system"], r["backend"], model, mode, harness_name, measured),
                "max_num_tokens": script_max_num_tokens(r["system"], r["backend"], model, mode, harness_name, measured,
                                                        precision, tp),
                "moe_kernel": script_moe_kernel(r["system"], r["backend"], model, mode, harness_name, measured,
                                                (precision, (tp or 1) * (adp or 1), adp or 1, int(r["isl"]),
                                                 int(r["osl"]), conc)),
                "spec_tokens": drafts, "redundant_experts": redundant[0] or "",
                "prefill_redundant_experts": redundant[1] or "",
                "recv_interval": script_recv_interval(r["system"], r["backend"], model, mode, precision, tp, conc,
                                                      harness_name, measured),
                **dict(zip(("batch_wait_iters", "batch_wait_tokens"),
                           script_batch_wait(r["system"], r["backend"], model, mode, precision, int(r["isl"]),
                                             int(r["osl"]), conc, adp, drafts, harness_name, measured))),
                "ttft_ms": round(float(r["silicon_ttft_ms"]), 4), "tpot_ms": round(float(r["silicon_tpot_ms"]), 5),
                "measured": measured, "precision_note": precision_note,
                "left_out": "; ".join(note), "harness": harness_name,
                "client_warmup": client_warmup(harness_name, measured), "layout_note": layout_note,
            })
    rows.sort(key=lambda r: (r["model"], r["system"], r["mode"], r["backend"], r["precision"], r["isl"], r["osl"],
                             str(r["tp"]), str(r["concurrency"]), r["source_id"]))
    return mark_relabelled(mark_repeats(rows))


#: What makes two rows the same configuration for the model.
CONFIG_KEY = ("system", "backend", "model", "precision", "mode", "isl", "osl", "concurrency", "tp", "attention_dp", "ep",
              "workers", "prefill_tp", "prefill_attention_dp", "prefill_ep", "prefill_workers", "spec_tokens")


def mark_repeats(rows: list[dict]) -> list[dict]:
    """Mark every modelled row whose configuration (:data:`CONFIG_KEY`) another modelled row
    repeats, but one: identical measurements keep the first by source id, differing ones the latest
    measured (then the first by source id). The others get a ``left_out`` reason naming the kept row:
    ``duplicate of`` where they hold its measurement, ``repeat of`` where they measured again."""
    for group in _modelled_groups(rows, CONFIG_KEY):
        if len(group) < 2:
            continue
        same = len({(r["ttft_ms"], r["tpot_ms"]) for r in group}) == 1
        if same:
            kept = min(group, key=lambda r: r["source_id"])
        else:  # the latest measured; among equally recent, the first by source id
            latest = max(r["measured"] for r in group)
            kept = min((r for r in group if r["measured"] == latest), key=lambda r: r["source_id"])
        for r in group:
            if r is not kept:  # a row measuring what the kept one measured is its duplicate, whatever the others
                twin = (r["ttft_ms"], r["tpot_ms"]) == (kept["ttft_ms"], kept["tpot_ms"])
                r["left_out"] = (f"duplicate of {kept['source_id']} (the same measurement in another data dump)" if twin
                                 else f"repeat of {kept['source_id']} (same configuration; the latest measurement kept)")
    return rows


def _key(row: dict, columns: tuple[str, ...]) -> tuple:
    return tuple(str(row[c]) for c in columns)


def _modelled_groups(rows: list[dict], columns: tuple[str, ...]) -> list[list[dict]]:
    """The modelled rows (no ``left_out`` reason yet) grouped by their values of ``columns``."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if not r["left_out"]:
            groups.setdefault(_key(r, columns), []).append(r)
    return list(groups.values())


#: The data dumps whose layouts come from InferenceMAX's configuration file (the dated exports).
DATED_EXPORT = "dated export"
#: What makes two rows one measurement, whatever layout each records: the run's settings and its
#: measured latencies to the last digit exported.
MEASUREMENT_KEY = ("system", "backend", "model", "precision", "mode", "isl", "osl", "concurrency", "ttft_ms", "tpot_ms")
#: The fields of a layout (two copies of one measurement that differ in any record it twice).
LAYOUT = ("tp", "attention_dp", "moe_tp", "ep", "workers", "prefill_tp", "prefill_attention_dp", "prefill_moe_tp",
          "prefill_ep", "prefill_workers", "spec_tokens")


def mark_relabelled(rows: list[dict]) -> list[dict]:
    """Mark every modelled row that holds another modelled row's measurement (:data:`MEASUREMENT_KEY`)
    under a different layout (:data:`LAYOUT`) as its duplicate: the same run, exported twice, would
    otherwise count twice, once in a layout it did not run. The copy kept is InferenceMAX's (its
    dated exports take the layout from the benchmark's configuration file), else the first by source
    id. The database dump records some of InferenceMAX's aggregated SGLang and TensorRT-LLM runs of
    one 8-GPU node with ``tp`` = tp x ep (64 for TP 8 with EP 8, 16 for TP 4 with EP 4), a
    tensor-parallel group over 8 or 2 nodes that no such benchmark ran; the reason says so where it
    is that."""
    for group in _modelled_groups(rows, MEASUREMENT_KEY):
        if len({_key(r, LAYOUT) for r in group}) < 2:
            continue
        kept = min(group, key=lambda r: (not r["harness"].startswith(DATED_EXPORT), r["source_id"]))
        for r in group:
            if _key(r, LAYOUT) == _key(kept, LAYOUT):  # the kept row, or its layout twice: mark_repeats'
                continue
            how = ""
            if (str(r["tp"]).isdigit() and str(kept["tp"]).isdigit() and str(kept["ep"]).isdigit()
                    and int(r["tp"]) == int(kept["tp"]) * int(kept["ep"]) != int(kept["tp"])):
                how = f": its tp {r['tp']} is the other's tp x ep ({kept['tp']} x {kept['ep']})"
            r["left_out"] = (f"duplicate of {kept['source_id']} (the same measurement in another data dump, recorded "
                             f"with another layout{how})")
    return rows


if __name__ == "__main__":
    run(curate, "serving.csv", COLUMNS)
