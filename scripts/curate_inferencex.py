"""Build nvlmodel/data/inferencex_configs.csv: the serving configurations InferenceMAX (now
InferenceX) ran on H100, H200, B200 and GB200 for DeepSeek-R1 and gpt-oss-120b, as its benchmark
configuration file listed them, one row per configuration and concurrency.

Why: the dated exports in aiconfigurator's ``silicon_sample.csv`` (``2026-03-25.csv``,
``2026-04-06.csv``) are InferenceMAX runs, and for disaggregated serving they do not record the
number of prefill and decode workers, whether attention is data-parallel, or whether the run used
MTP speculative decoding. InferenceMAX's ``.github/configs/nvidia-master.yaml`` records all of them
for every configuration it runs. ``scripts/curate_serving.py`` matches each such row to the
configurations listed there (:func:`curate_serving.recover_layout`). For a configuration run with
MTP, ``spec_tokens`` is the number of tokens it drafted per decode step (:func:`draft_tokens`):
named in its settings or recipe name, set by its single-node script, or by its SGLang recipe in
NVIDIA/srt-slurm (read at c88ef731, 2026-08-21: every version of the recipe). A configuration that
runs a recipe takes that recipe's prefill limits where its settings name none
(:func:`recipe_prefill_limits`: TensorRT-LLM's ``max_batch_size`` and ``max_num_tokens``, SGLang's
``max-running-requests`` and token budgets, per attention rank).

Reads every version of ``.github/configs/nvidia-master.yaml`` (and of ``runners/launch_gb200-nv.sh``,
which named the GB200 TensorRT-LLM configurations before the file listed them:
:func:`runner_configurations`) committed before ``--until`` in a git
clone of https://github.com/SemiAnalysisAI/InferenceX (Apache-2.0, copyright SemiAnalysis; the
public repository formerly InferenceMAX/InferenceMAX), read at commit 843c6254f (2026-08-21).
A configuration is the same across versions when every field below is; ``first_seen`` and
``last_seen`` are the commit dates of the first and last versions listing it, ``dropped`` that of the
version that stopped listing it (empty while still listed at ``--until``; a configuration listed
again later keeps its latest drop).

    python scripts/curate_inferencex.py --inferencex PATH/TO/InferenceX --srt-slurm PATH/TO/srt-slurm \
        [--until 2026-05-01]

Needs git and PyYAML (installed with the book's dependencies); the package and the book read only
the CSV it writes.
"""

from __future__ import annotations

import argparse
import csv
import functools
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ".github/configs/nvidia-master.yaml"
#: InferenceMAX's runner names, by the system of silicon_sample.csv they are
RUNNERS = {"h100": "h100_sxm", "h200": "h200_sxm", "b200": "b200_sxm", "gb200": "gb200"}
#: its model prefixes, by the model name of serving.csv
MODELS = {"dsr1": "deepseek-v3", "dsr1-fp8": "deepseek-v3", "DeepSeek-R1-0528": "deepseek-v3",
          "gptoss": "gpt-oss-120b"}
FRAMEWORKS = {"trt": "trtllm", "dynamo-trt": "trtllm", "sglang": "sglang", "dynamo-sglang": "sglang",
              "vllm": "vllm", "dynamo-vllm": "vllm"}
SIDE = ("workers", "tp", "ep", "dp_attention")
#: engine limits a configuration's settings give: per attention rank, the decode worker's sequences
#: (``DECODE_MAX_BATCH_SIZE``, or the ``_batch<N>_`` of a TensorRT-LLM recipe's name,
#: ``ctx1_gen1_dep32_batch16_...``, whose decode ``max_batch_size`` it is), the prefill worker's
#: prompts and tokens per step (``PREFILL_MAX_BATCH_SIZE``, ``PREFILL_MAX_NUM_TOKENS``), and the
#: expert slots of the decode worker's load balancer (the ``_eplb<N>_`` of a TensorRT-LLM recipe's
#: name, its ``moe_config: load_balancer: num_slots``; 0: no balancer)
LIMITS = ("decode_max_batch", "prefill_max_batch", "prefill_max_tokens", "decode_eplb_slots")
COLUMNS = ("system", "backend", "model", "precision", "mode", "isl", "osl", "concurrency", "clients", "spec_decoding",
           "spec_tokens", "tp", "ep", "dp_attention",
           *(f"prefill_{k}" for k in SIDE), *(f"decode_{k}" for k in SIDE), "gpus_from", *LIMITS,
           "recipe", "image", "name", "first_seen", "last_seen", "dropped", "first_commit")


def _system(runner: str) -> str | None:
    base = runner.split("-")[0]
    return RUNNERS.get(base)


def _concurrencies(space: dict) -> list[int]:
    if "conc-list" in space:
        return [int(c) for c in space["conc-list"]]
    c, out = int(space["conc-start"]), []
    while c <= int(space["conc-end"]):
        out.append(c)
        c *= 2
    return out


def limits(settings: list[str]) -> dict:
    """The engine limits (:data:`LIMITS`) named by a configuration's additional settings.

    >>> limits(["CONFIG_FILE=recipes/trtllm/gb200-fp4/1k1k/stp/ctx1_gen1_dep32_batch16_eplb0_mtp0.yaml"])
    {'decode_max_batch': 16, 'prefill_max_batch': '', 'prefill_max_tokens': '', 'decode_eplb_slots': 0}
    >>> limits(["CONFIG_FILE=recipes/trtllm/gb200-fp4/1k1k/mtp/ctx3_gen1_dep32_batch64_eplb288_mtp1.yaml"])["decode_eplb_slots"]
    288
    >>> limits(["PREFILL_MAX_NUM_TOKENS=4608", "PREFILL_MAX_BATCH_SIZE=4", "DECODE_MAX_BATCH_SIZE=32"])
    {'decode_max_batch': 32, 'prefill_max_batch': 4, 'prefill_max_tokens': 4608, 'decode_eplb_slots': ''}
    """
    text = ";".join(str(x) for x in settings)
    out = {k: "" for k in LIMITS}
    for key, col in (("DECODE_MAX_BATCH_SIZE", "decode_max_batch"), ("PREFILL_MAX_BATCH_SIZE", "prefill_max_batch"),
                     ("PREFILL_MAX_NUM_TOKENS", "prefill_max_tokens")):
        m = re.search(rf"{key}=(\d+)", text)
        if m:
            out[col] = int(m.group(1))
    m = re.search(r"recipes/trtllm/[^;]*ctx\d+_gen\d+_(?:dep|tep|tp)\d+_batch(\d+)_", text)
    if m and out["decode_max_batch"] == "":
        out["decode_max_batch"] = int(m.group(1))
    m = re.search(r"recipes/trtllm/[^;]*ctx\d+_gen\d+_[a-z]+\d+_batch\d+_eplb(\d+)_", text)
    if m:
        out["decode_eplb_slots"] = int(m.group(1))
    return out


def recipe_file(settings: list[str]) -> str:
    """The srt-slurm recipe a multi-node configuration runs (its ``CONFIG_FILE`` setting), or "".

    >>> recipe_file(["CONFIG_FILE=recipes/trtllm/h200/8k1k/stp/c128_ctx1_gen1_dep8_batch256_eplb0_mtp0.yaml"])
    'recipes/trtllm/h200/8k1k/stp/c128_ctx1_gen1_dep8_batch256_eplb0_mtp0.yaml'
    """
    m = re.search(r"CONFIG_FILE=([^;\s]+)", ";".join(str(x) for x in settings))
    return m.group(1) if m else ""


#: Draft tokens per decode step (``spec_tokens``) that InferenceMAX's single-node MTP scripts set, by
#: configuration name: (without attention DP, with it). ``benchmarks/dsr1_fp4_b200_trt_mtp.sh``,
#: ``dsr1_fp8_b200_trt_mtp.sh`` and ``dsr1_fp8_h200_trt_mtp.sh`` (``_slurm.sh`` until 2026-01-21,
#: ``single_node/`` from 2026-01-22) set TensorRT-LLM's ``num_nextn_predict_layers`` to ``MTP=3``,
#: or 1 with attention DP, in every version from 2026-01-15 (bf3456727) to 2026-04-02 (1aa6aa7db);
#: ``dsr1_fp8_b200_mtp.sh`` sets SGLang's ``--speculative-num-steps 2`` (EAGLE, top-k 1, three
#: draft tokens verified: two drafted and the one it verifies) in every version from 2026-02-05
#: (e62c6acdf) to 2026-04-02.
SCRIPT_DRAFT_TOKENS = {"dsr1-fp4-b200-trt-mtp": (3, 1), "dsr1-fp8-b200-trt-mtp": (3, 1),
                       "dsr1-fp8-h200-trt-mtp": (3, 1), "dsr1-fp8-b200-sglang-mtp": (2, 2)}


def draft_tokens(spec: str, settings: list[str], name: str = "", dp_attention: bool = False,
                 recipe=None) -> "int | str":
    """Tokens an MTP configuration drafts per decode step (0 without speculative decoding; "" where
    nothing InferenceMAX lists says): its settings' ``MTP=N``, ``MTP_SIZE=N`` or
    ``DECODE_MTP_SIZE=N``, the ``_mtpN`` of a TensorRT-LLM recipe's name (its
    ``num_nextn_predict_layers``), the ``speculative-num-steps`` an SGLang recipe of srt-slurm sets
    (``recipe``: path -> value, :func:`recipe_draft_tokens`), or its single-node script's
    (:data:`SCRIPT_DRAFT_TOKENS`).

    >>> draft_tokens("none", [])
    0
    >>> draft_tokens("mtp", ["CONFIG_FILE=recipes/trtllm/gb200-fp4/1k1k/mtp/ctx1_gen1_dep32_batch16_eplb0_mtp3.yaml"])
    3
    >>> draft_tokens("mtp", ["MTP_SIZE=1"]), draft_tokens("mtp", [], "dsr1-fp8-h200-trt-mtp", dp_attention=True)
    (1, 1)
    >>> draft_tokens("mtp", ["CONFIG_FILE=recipes/h100/1k1k/mtp/a.yaml"], recipe={"recipes/h100/1k1k/mtp/a.yaml": 2}.get)
    2
    >>> draft_tokens("mtp", ["CONFIG_FILE=recipes/h100/1k1k/mtp/b.yaml"])
    ''
    """
    if spec != "mtp":
        return 0
    text = ";".join(str(x) for x in settings)
    m = re.search(r"(?:^|;)(?:DECODE_)?MTP(?:_SIZE)?=(\d+)", text) or re.search(r"recipes/trtllm/[^;]*_mtp(\d+)", text)
    if m:
        return int(m.group(1))
    m = re.search(r"CONFIG_FILE=(recipes/[^;]+)", text)
    if m:  # a recipe with overrides (``path.yaml:zip_override...``) may set other values than its file
        return recipe(m.group(1)) if recipe and m.group(1).endswith(".yaml") else ""
    if name in SCRIPT_DRAFT_TOKENS:
        return SCRIPT_DRAFT_TOKENS[name][bool(dp_attention)]
    return ""


def recipe_draft_tokens(srt_slurm: "Path | None"):
    """path -> the ``speculative-num-steps`` (SGLang) or ``num_nextn_predict_layers`` (TensorRT-LLM)
    the srt-slurm recipe at that path sets, where every version of it in ``srt_slurm``'s history (a
    git clone of NVIDIA/srt-slurm, whose recipes InferenceMAX's multi-node runners check out) that
    sets one sets the same value; "" where none does or versions disagree, and for every path
    without ``srt_slurm``."""
    @functools.lru_cache(maxsize=None)
    def recipe(path: str) -> "int | str":
        if srt_slurm is None:
            return ""
        values = set()
        for text in recipe_versions(srt_slurm, path):
            values |= {int(v) for v in re.findall(r"(?:speculative-num-steps|num_nextn_predict_layers):\s*(\d+)", text)}
        return values.pop() if len(values) == 1 else ""
    return recipe


@functools.lru_cache(maxsize=None)
def recipe_versions(srt_slurm: Path, path: str) -> tuple[str, ...]:
    """The text of every version of the recipe at ``path`` in ``srt_slurm``'s history (a git clone),
    newest first; a commit that deleted it gives "". Read once for every reader of the recipe
    (:func:`recipe_draft_tokens`, :func:`recipe_prefill_limits`)."""
    commits = subprocess.run(["git", "-C", str(srt_slurm), "log", "--all", "--format=%H", "--", path],
                             capture_output=True, text=True, check=True).stdout.split()
    return tuple(subprocess.run(["git", "-C", str(srt_slurm), "show", f"{c}:{path}"], capture_output=True,
                                text=True).stdout for c in commits)


def clients(concurrency: int, settings: list[str], decode_workers, *, system: str = "", backend: str = "",
            mode: str = "", model: str = "") -> int:
    """The clients a configuration's benchmark ran at ``concurrency``: ``concurrency`` itself,
    except where the listed concurrency is per decode worker, so that ``N`` listed on ``D`` decode
    workers ran N x D clients:

    * the recipes named ``c<N>_ctx<P>_gen<D>_...`` (InferenceMAX's H200 TensorRT-LLM ones);
    * GB200 TensorRT-LLM disaggregated DeepSeek-R1 entries without a recipe (no ``CONFIG_FILE``).
      InferenceMAX ran those with Dynamo's ``benchmark_disagg.slurm``
      (``benchmarks/dsr1_fp4_gb200_dynamo-trt_slurm.sh``: ``git checkout release/0.5.1-rc0.20251105``
      of ai-dynamo/dynamo, ``components/backends/trtllm/performance_sweeps``), whose
      ``scripts/bench.sh`` runs each listed concurrency as ``concurrency=$((concurrency *
      num_gen_servers))``. Its recipe entries (srt-slurm, from 2026-02) run the listed concurrency.

    Every database-dump row that records such a layout was measured at N x D clients
    (``tests/test_serving.py``). gpt-oss-120b's GB200 entries, run the same way from Dynamo's
    2026-01 release branch, are read as listed: their rows sit at listed concurrencies only (3,072
    on three decode workers, none at 9,216), and the two runs at 2,560 on one and on two decode
    workers decode 31 and 13 ms per token, as 2,560 and 1,280 clients per worker would.

    >>> clients(4, ["CONFIG_FILE=recipes/trtllm/h200/1k1k/stp/c4_ctx1_gen9_tep8_batch128_eplb0_mtp0.yaml"], 9)
    36
    >>> clients(666, ["CONFIG_FILE=recipes/trtllm/gb200-fp4/1k1k/stp/ctx1_gen1_dep32_batch16_eplb0_mtp0.yaml"], 1)
    666
    >>> clients(32, ["DECODE_MAX_BATCH_SIZE=128"], 4, system="gb200", backend="trtllm", mode="disagg",
    ...         model="deepseek-v3")
    128
    """
    text = ";".join(str(x) for x in settings)
    m = re.search(r"/c(\d+)_ctx\d+_gen\d+_", text)
    if m and int(m.group(1)) == concurrency:
        return concurrency * int(decode_workers)
    if (system, backend, mode, model) == ("gb200", "trtllm", "disagg", "deepseek-v3") and "CONFIG_FILE=" not in text:
        return concurrency * int(decode_workers)
    return concurrency


#: GPUs per node of a system whose SGLang entries size their workers in nodes (a GB200 compute tray)
GPUS_PER_NODE = {"gb200": 4}


def _sized_by_nodes(space: dict, side: str) -> dict:
    """A GB200 SGLang side sized by ``PREFILL_NODES`` / ``DECODE_NODES``: its ``tp`` is a
    placeholder there (its comments: "tp, ep, and dp-attn do nothing because they are hardcoded in"
    the launch script), and the side's GPUs are the nodes' over its workers. The listed ``ep`` is
    kept here, as the file lists it; ``scripts/curate_serving.py`` reads a side of attention-DP
    ranks listed with ``ep: 1`` as the launch script ran it, expert-parallel over its GPUs
    (``sglang_gb200_deepep``: the script runs DeepEP, and InferenceMAX corrected the listed values so
    on 2026-01-19). Returns the corrected fields, or {} where the side names no nodes.

    >>> _sized_by_nodes({"num-worker": 2, "tp": 1, "ep": 1, "dp-attn": True,
    ...                  "additional-settings": ["PREFILL_NODES=4"]}, "prefill")
    {'prefill_tp': 8, 'prefill_ep': 1, 'gpus_from': 'nodes'}
    """
    text = ";".join(str(x) for x in space.get("additional-settings") or [])
    m = re.search(rf"{side.upper()}_NODES=(\d+)", text)
    workers = int(space.get("num-worker") or 1)
    if not m or (int(m.group(1)) * GPUS_PER_NODE["gb200"]) % workers:
        return {}
    gpus = int(m.group(1)) * GPUS_PER_NODE["gb200"] // workers
    return {f"{side}_tp": gpus, f"{side}_ep": int(space.get("ep") or 1), "gpus_from": "nodes"}


def _side(space: dict) -> dict:
    return {"workers": space.get("num-worker"), "tp": space.get("tp"), "ep": space.get("ep", 1),
            "dp_attention": bool(space.get("dp-attn", False))}


def sglang_prefill_limits(prefill: dict) -> tuple:
    """(prompts, tokens) per attention rank of one step of an SGLang prefill worker configured by
    ``prefill`` (a recipe's ``sglang_config: prefill:``): ``max-running-requests`` over the DP ranks
    (SGLang gives each rank ``max_running_requests // dp_size``), and the lesser of
    ``max-prefill-tokens`` and ``chunked-prefill-size``, which SGLang divides by ``dp_size`` under DP
    attention (``server_args._handle_data_parallelism``); "" where the recipe sets none.

    >>> sglang_prefill_limits({"tp-size": 16, "max-running-requests": 2, "max-prefill-tokens": 2048,
    ...                        "chunked-prefill-size": 2048})
    (2, 2048)
    >>> sglang_prefill_limits({"enable-dp-attention": True, "dp-size": 8, "max-running-requests": 512,
    ...                        "chunked-prefill-size": 65536, "max-prefill-tokens": 163840})
    (64, 8192)
    >>> sglang_prefill_limits({})
    ('', '')
    """
    dp = int(prefill.get("dp-size") or 1) if prefill.get("enable-dp-attention") else 1
    mrr = prefill.get("max-running-requests")
    prompts = int(mrr) // dp if isinstance(mrr, int) and mrr >= dp else ""
    caps = [int(prefill["max-prefill-tokens"])] if isinstance(prefill.get("max-prefill-tokens"), int) else []
    if isinstance(prefill.get("chunked-prefill-size"), int) and prefill["chunked-prefill-size"] > 0:
        caps.append(int(prefill["chunked-prefill-size"]) // dp)
    return prompts, (min(caps) if caps else "")


def recipe_prefill_limits(srt_slurm: "Path | None"):
    """path -> (prompts, tokens) per attention rank of one step of the prefill worker an srt-slurm
    recipe configures: a TensorRT-LLM recipe's ``max_batch_size`` and ``max_num_tokens``
    (``backend: trtllm_config: prefill:``, per rank), an SGLang recipe's as
    :func:`sglang_prefill_limits` reads them (``backend: sglang_config: prefill:``); each where every
    version of the recipe in ``srt_slurm``'s history that sets it gives the same value ("" where none
    does or versions disagree, and for every path without ``srt_slurm``). The database dump and the
    dated exports record neither; the replay otherwise lets a prefill rank take one prompt a step
    (aiconfigurator's benchmark rule, ``nvlmodel.serve.validate.benchmark_limits``)."""
    @functools.lru_cache(maxsize=None)
    def recipe(path: str) -> tuple:
        if srt_slurm is None or not path.startswith("recipes/") or not path.endswith(".yaml"):
            return "", ""
        found = (set(), set())
        for text in recipe_versions(srt_slurm, path):
            try:
                backend = (yaml.safe_load(text) or {}).get("backend") or {}
                if path.startswith("recipes/trtllm/"):
                    prefill = (backend.get("trtllm_config") or {}).get("prefill") or {}
                    values = tuple(prefill.get(k) if isinstance(prefill.get(k), int) else ""
                                   for k in ("max_batch_size", "max_num_tokens"))
                else:
                    values = sglang_prefill_limits((backend.get("sglang_config") or {}).get("prefill") or {})
            except (yaml.YAMLError, AttributeError, TypeError, ValueError):
                continue
            for seen, v in zip(found, values):
                if v != "":
                    seen.add(v)
        return tuple(v.pop() if len(v) == 1 else "" for v in found)
    return recipe


def configurations(config: dict, recipe=None, prefill_limits=None) -> list[dict]:
    """Every (configuration, concurrency) of one version of nvidia-master.yaml, for the systems and
    models above (``recipe``: an srt-slurm recipe's draft tokens, :func:`recipe_draft_tokens`;
    ``prefill_limits``: a recipe's prefill limits where its settings name none,
    :func:`recipe_prefill_limits`).

    >>> cfg = {"dsr1-fp4-gb200-dynamo-trt": {"image": "img", "model-prefix": "dsr1", "runner": "gb200",
    ...        "precision": "fp4", "framework": "dynamo-trt", "disagg": True, "seq-len-configs": [
    ...        {"isl": 1024, "osl": 1024, "search-space": [{"conc-list": [666],
    ...         "prefill": {"num-worker": 1, "tp": 4, "ep": 4, "dp-attn": True},
    ...         "decode": {"num-worker": 1, "tp": 32, "ep": 32, "dp-attn": True}}]}]}}
    >>> r = configurations(cfg)[0]
    >>> (r["mode"], r["concurrency"], r["spec_decoding"], r["prefill_workers"], r["decode_tp"], r["decode_dp_attention"])
    ('disagg', 666, 'none', 1, 32, True)
    """
    rows = []
    for name, e in (config or {}).items():
        if not isinstance(e, dict):
            continue
        system, model = _system(str(e.get("runner", ""))), MODELS.get(str(e.get("model-prefix", "")))
        backend = FRAMEWORKS.get(str(e.get("framework", "")))
        if system is None or model is None or backend is None:
            continue
        disagg = bool(e.get("disagg", False))
        for seq in e.get("seq-len-configs") or []:
            for space in seq.get("search-space") or []:
                base = {"system": system, "backend": backend, "model": model, "precision": e.get("precision"),
                        "mode": "disagg" if disagg else "agg", "isl": int(seq["isl"]), "osl": int(seq["osl"]),
                        "spec_decoding": space.get("spec-decoding", "none"), "image": e.get("image", ""),
                        "name": name}
                settings = []  # both sides' additional settings (an aggregated entry has none)
                if disagg:
                    for side in ("prefill", "decode"):
                        base.update({f"{side}_{k}": v for k, v in _side(space[side]).items()})
                        if backend == "sglang" and system == "gb200":
                            base.update(_sized_by_nodes(space[side], side))
                        settings += space[side].get("additional-settings") or []
                    base.update(limits(settings))
                    base["recipe"] = recipe_file(settings)
                    if prefill_limits and base["recipe"].endswith(".yaml"):
                        for col, v in zip(("prefill_max_batch", "prefill_max_tokens"), prefill_limits(base["recipe"])):
                            if base[col] == "":
                                base[col] = v
                else:
                    base.update({"tp": space.get("tp"), "ep": space.get("ep", 1),
                                 "dp_attention": bool(space.get("dp-attn", False))})
                base["spec_tokens"] = draft_tokens(base["spec_decoding"], settings, name,
                                                   base.get("decode_dp_attention", base.get("dp_attention")), recipe)
                per = dict(system=system, backend=backend, mode=base["mode"], model=model)
                workers = base.get("decode_workers") or 1
                rows.extend(dict(base, concurrency=c, clients=clients(c, settings, workers, **per))
                            for c in _concurrencies(space))
    return rows


#: InferenceMAX's GB200 runner script, which named its TensorRT-LLM configurations itself (one
#: ``submit_disagg.sh`` call each) until the configuration file listed them (2025-12-05)
RUNNER = "runners/launch_gb200-nv.sh"
_SUBMIT = re.compile(r'submit_disagg\.sh\s+"mtp=(on|off)"\s+"(tep|dep)"\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+'
                     r'"[\d.]+"\s+(\d+)\s+(\d+)\s+"([\d ]+)"')
_LENGTHS = re.compile(r'\[ "\$isl" = "(\d+)" \] && \[ "\$osl" = "(\d+)" \]')


def runner_configurations(text: str) -> list[dict]:
    r"""Every (configuration, concurrency) one version of InferenceMAX's GB200 runner script
    (:data:`RUNNER`) submits for DeepSeek-R1 FP4 with TensorRT-LLM:
    ``./submit_disagg.sh "mtp=on|off" "tep|dep" ctx gen tp batch max_tokens fraction mtp eplb "list"``
    (``eplb``: the decode worker's expert slots, 0 for no load balancer)
    under the ``if [ "$isl" = ... ] && [ "$osl" = ... ]`` branch it sits in. Dynamo's
    ``performance_sweeps`` scripts it runs put each context worker on one 4-GPU node and run each
    listed concurrency on every decode worker (:func:`clients`). The prefill side is read as
    InferenceMAX's configuration file lists the same calls from 2025-12-05: 4 GPUs, ep 4, attention
    data-parallel as the decode side; its limits other than the decode batch are not named here.

    >>> text = ('if [ "$isl" = "1024" ] && [ "$osl" = "1024" ]; then\n'
    ...         '  ./submit_disagg.sh "mtp=off" "tep" 1 4 8 128 128 "0.9" 0 0 "1 141"')
    >>> [(r["decode_workers"], r["decode_tp"], r["concurrency"], r["clients"], r["spec_decoding"])
    ...  for r in runner_configurations(text)]
    [(4, 8, 1, 4, 'none'), (4, 8, 141, 564, 'none')]
    """
    rows, lengths = [], None
    for line in text.splitlines():
        m = _LENGTHS.search(line)
        if m:
            lengths = (int(m.group(1)), int(m.group(2)))
            continue
        m = _SUBMIT.search(line)
        if not m or lengths is None:
            continue
        mtp, kind, ctx, gen, tp, batch, draft, slots, concurrencies = m.groups()
        dep = kind == "dep"
        base = {"system": "gb200", "backend": "trtllm", "model": "deepseek-v3", "precision": "fp4", "mode": "disagg",
                "isl": lengths[0], "osl": lengths[1], "spec_decoding": "mtp" if mtp == "on" else "none",
                "spec_tokens": int(draft) if mtp == "on" else 0, "image": "",
                "name": RUNNER, "prefill_workers": int(ctx), "prefill_tp": 4, "prefill_ep": 4,
                "prefill_dp_attention": dep, "decode_workers": int(gen), "decode_tp": int(tp), "decode_ep": int(tp),
                "decode_dp_attention": dep, "decode_max_batch": int(batch), "prefill_max_batch": "",
                "prefill_max_tokens": "", "decode_eplb_slots": int(slots)}
        per = dict(system=base["system"], backend=base["backend"], mode=base["mode"], model=base["model"])
        rows.extend(dict(base, concurrency=int(c), clients=clients(int(c), [], int(gen), **per))
                    for c in concurrencies.split())
    return rows


def _versions(repo: Path, until: str, path: str = CONFIG) -> list[tuple[str, str]]:
    """(commit, date) of every version of ``path`` committed before midnight UTC starting
    ``until``, oldest first. (A bare date given to git's ``--before`` takes the current time of
    day, so which versions it read would depend on when the script ran.)"""
    out = subprocess.run(["git", "-C", str(repo), "log", "--format=%H %ad", "--date=short",
                          f"--before={until}T00:00:00+00:00", "--", path],
                         capture_output=True, text=True, check=True).stdout
    return [tuple(line.split()) for line in reversed(out.splitlines()) if line]


def _listings(repo: Path, until: str, path: str, read) -> dict[tuple, dict]:
    """Every configuration the versions of ``path`` list (``read``: a version's text -> its
    configurations), with the dates it was first and last listed and dropped."""
    seen: dict[tuple, dict] = {}
    previous: set[tuple] = set()
    for commit, date in _versions(repo, until, path):
        text = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True,
                              text=True, check=True).stdout
        try:
            found = read(text)
        except yaml.YAMLError:  # a version that does not parse was fixed by the next commit
            continue
        listed = set()
        for r in found:
            key = tuple(str(r.get(c, "")) for c in COLUMNS[:-4])
            listed.add(key)
            if key not in seen:
                seen[key] = dict(r, first_seen=date, first_commit=commit[:9])
            seen[key]["last_seen"] = date
            seen[key]["dropped"] = ""
        for key in previous - listed:  # no longer listed from this version on
            seen[key]["dropped"] = date
        previous = listed
    return seen


def curate(repo: Path, until: str, srt_slurm: "Path | None" = None) -> list[dict]:
    recipe, prefill = recipe_draft_tokens(srt_slurm), recipe_prefill_limits(srt_slurm)
    seen = _listings(repo, until, CONFIG, lambda text: configurations(yaml.safe_load(text), recipe, prefill))
    seen.update(_listings(repo, until, RUNNER, runner_configurations))
    rows = list(seen.values())
    rows.sort(key=lambda r: tuple(str(r.get(c, "")) for c in COLUMNS))
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="Build nvlmodel/data/inferencex_configs.csv from InferenceX's history.")
    p.add_argument("--inferencex", required=True, help="a git clone of SemiAnalysisAI/InferenceX")
    p.add_argument("--until", default="2026-05-01", help="versions committed before this date (default 2026-05-01, "
                   "after the last measurement of the dated exports)")
    p.add_argument("--srt-slurm", help="a git clone of NVIDIA/srt-slurm, for the draft tokens its SGLang recipes set "
                   "and the prefill limits of its recipes (without it, those configurations' spec_tokens and "
                   "recipe prefill limits are empty)")
    args = p.parse_args()
    rows = curate(Path(args.inferencex), args.until, Path(args.srt_slurm) if args.srt_slurm else None)
    out = ROOT / "nvlmodel" / "data" / "inferencex_configs.csv"
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {out.relative_to(ROOT)}")
