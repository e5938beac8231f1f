"""Build nvlmodel/data/measurements.csv: the measured serving rows nvlmodel.calibrate uses.

Reads ../shared/data/aiconfigurator/silicon_sample.csv (ai-dynamo/aiconfigurator, Apache-2.0,
commit 095f58a51) and keeps only aggregated-mode rows of the dense Llama-3.1 models (8B and 70B) on
H100 SXM, H200 SXM and B200 SXM, with the columns the model needs. Nothing else of that file is
carried.

``campaign`` names one measurement campaign of one engine: the engine version where the source
gives it, else the source file the rows came from (the 70B rows of ``2026-04-06.csv`` give no
version but share one campaign, measured 2025-10-29).

Engine settings: the dated exports' Llama-3.1-70B rows are InferenceMAX's runs (measured
2025-10-29), whose scripts (:data:`INFERENCEMAX_LLAMA`) set the KV cache to FP8 in both engines
(``kv-cache-dtype: fp8``; TensorRT-LLM ``kv_cache_config: dtype: fp8``) and the tokens per step
(vLLM ``max-num-batched-tokens: 8192``, TensorRT-LLM ``--max_num_tokens 16384``). For 1K/1K at TP
below 8 the TensorRT-LLM scripts also turned on its batch waiting (``batch_wait_timeout_iters:
20``, ``batch_wait_max_tokens_ratio: 0.9``): while sequences decode, new prompts wait up to 20
steps, or until prompts and decoding sequences fill 90 % of the step's 16,384 tokens. The rows
record these as ``kv_dtype``, ``max_num_tokens``, ``batch_wait_iters`` and ``batch_wait_tokens``
(0.9 x 16,384 = 14,745.6); empty for every other row (no such settings known: the engine's
defaults hold).

Precision: the source's ``precision`` column is empty for the H100 Llama-3.1-8B TensorRT-LLM rows
(checkpoint ``meta-llama/Llama-3.1-8B-Instruct``, no ``gemm_quant_mode``): an unquantized
checkpoint served by TensorRT-LLM runs in BF16, so they are recorded as ``bf16`` and
``precision_note`` says it was inferred.

    python scripts/curate_measurements.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "ai-dynamo/aiconfigurator@095f58a51 systems/silicon_sample.csv"
MODELS = {
    "meta-llama/Llama-3.1-70B": "llama-3.1-70b",
    "meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b",
    "nvidia/Llama-3.1-8B-Instruct-FP8": "llama-3.1-8b",
}
SYSTEMS = ("h100_sxm", "h200_sxm", "b200_sxm")
COLUMNS = ("source_id", "system", "backend", "backend_version", "campaign", "model", "checkpoint", "precision",
           "gemm_quant_mode", "precision_note", "isl", "osl", "concurrency", "tp", "ttft_ms", "tpot_ms",
           "measured", "source", "harness", "client_warmup", "kv_dtype", "max_num_tokens", "batch_wait_iters", "batch_wait_tokens")

#: The families of data dumps the source merges, by what its ``silicon_data_source`` says: the
#: dated exports carry InferenceMAX's model names and public container images; the gap-analysis
#: files are a developer's local aiconfigurator runs; the database dump holds Dynamo CI workflow runs.
HARNESSES = {"dated export": "dated export (2026-03-25, 2026-04-06)",
             "gap analysis": "aiconfigurator gap analysis", "db dump": "database dump (2026-04-27)"}


#: InferenceMAX's Llama-70B scripts as they stood when the dated exports' rows were measured
#: (SemiAnalysisAI/InferenceX, formerly InferenceMAX, before the scripts' removal on 2025-10-29,
#: commit 0b5620ec3's parent: ``benchmarks/70b_fp4_b200_trt_slurm.sh``, ``70b_fp8_b200_trt_slurm.sh``,
#: ``70b_fp8_h200_trt_slurm.sh`` for TensorRT-LLM, unchanged since 2025-09-18; ``70b_fp4_b200_docker.sh``,
#: ``70b_fp8_b200_docker.sh``, ``70b_fp8_h200_slurm.sh``, ``70b_fp8_h100_slurm.sh`` for vLLM): the KV
#: dtype and tokens per step of each engine, and TensorRT-LLM's batch waiting, which its scripts
#: add at ISL = OSL = 1024 and TP < 8.
INFERENCEMAX_LLAMA = {"kv_dtype": {"trtllm": "fp8", "vllm": "fp8"},
                      "max_num_tokens": {"trtllm": 16384, "vllm": 8192},
                      "batch_wait": {"backend": "trtllm", "isl": 1024, "osl": 1024, "tp_below": 8,
                                     "iters": 20, "ratio": 0.9}}


#: The day InferenceMAX's client began to send warm-up requests before the counted ones
#: (SemiAnalysisAI/InferenceX commit d053ae24e, "upstream kimbochen/bench_serving, adding warmup":
#: ``benchmark_serving.py --num-warmups $((2 * max_concurrency))``, the test prompt at the full output
#: length, all answered before the counted requests start). Its runs before that day started cold.
INFERENCEMAX_WARMUP_FROM = "2026-01-21"
#: The data dumps whose rows InferenceMAX's client measured (``scripts/curate_serving.py`` reads the same).
INFERENCEMAX_HARNESSES = ("dated export", "database dump")


def client_warmup(harness_name: str, measured: str) -> str:
    """What the measuring client sent before its counted requests: InferenceMAX's runs (the dated
    exports and the database dump) ``"none"`` before :data:`INFERENCEMAX_WARMUP_FROM` and ``"2 per
    client"`` from that day; other dumps ``"not recorded"`` (their client is not known).

    >>> [client_warmup(HARNESSES["dated export"], day) for day in ("2025-10-29", "2026-02-05")]
    ['none', '2 per client']
    >>> client_warmup(HARNESSES["gap analysis"], "2026-03-18")
    'not recorded'
    """
    if not harness_name.startswith(INFERENCEMAX_HARNESSES):
        return "not recorded"
    return "none" if str(measured) < INFERENCEMAX_WARMUP_FROM else "2 per client"


def engine_settings(row: dict) -> dict:
    """The engine settings a row's benchmark script names (:data:`INFERENCEMAX_LLAMA`, for
    InferenceMAX's Llama-70B rows of the dated exports) as the columns ``kv_dtype``,
    ``max_num_tokens``, ``batch_wait_iters`` and ``batch_wait_tokens``; empty strings elsewhere.

    >>> r = {"harness": HARNESSES["dated export"], "backend": "trtllm", "model": "llama-3.1-70b",
    ...      "isl": 1024, "osl": 1024, "tp": 2}
    >>> engine_settings(r)
    {'kv_dtype': 'fp8', 'max_num_tokens': 16384, 'batch_wait_iters': 20, 'batch_wait_tokens': 14745.6}
    >>> engine_settings({**r, "tp": 8})["batch_wait_iters"], engine_settings({**r, "backend": "vllm"})["max_num_tokens"]
    ('', 8192)
    """
    out = {"kv_dtype": "", "max_num_tokens": "", "batch_wait_iters": "", "batch_wait_tokens": ""}
    if not (row["harness"] == HARNESSES["dated export"] and row["model"] == "llama-3.1-70b"):
        return out
    s, backend = INFERENCEMAX_LLAMA, row["backend"]
    out["kv_dtype"] = s["kv_dtype"][backend]
    out["max_num_tokens"] = s["max_num_tokens"][backend]
    w = s["batch_wait"]
    if backend == w["backend"] and row["isl"] == w["isl"] and row["osl"] == w["osl"] and row["tp"] < w["tp_below"]:
        out["batch_wait_iters"] = w["iters"]
        out["batch_wait_tokens"] = round(w["ratio"] * s["max_num_tokens"][backend], 1)
    return out


def _field(source: str, key: str) -> str:
    m = re.search(rf"(?:^|; ){key}=([^;]*)", source)
    return m.group(1).strip() if m else ""


def harness(source: str) -> str:
    """Which family of data dumps (:data:`HARNESSES`) a row's ``silicon_data_source`` comes from."""
    if source.startswith("db-dump/"):
        return HARNESSES["db dump"]
    src_file = _field(source, "source_file")
    if "aic-auto-gap-analysis" in src_file:
        return HARNESSES["gap analysis"]
    if re.fullmatch(r"2026-\d\d-\d\d\.csv", src_file):
        return HARNESSES["dated export"]
    raise ValueError(f"unknown data dump: {source[:80]!r}")


def curate(path: Path) -> list[dict]:
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["model_path"] not in MODELS or r["system"] not in SYSTEMS or r["mode"] != "agg":
                continue
            if float(r["pp_size"] or 1) != 1:
                continue
            precision, note = r["precision"], ""
            if not precision:
                precision, note = "bf16", "source precision empty; unquantized checkpoint, so BF16 (inferred)"
            src_file = _field(r["silicon_data_source"], "source_file")
            version = r["backend_version"]
            if "/" in src_file:  # a path .../<system>/<backend>/<version>/<model>.csv
                version = version or src_file.split("/")[-2]
                src_file = "/".join(src_file.split("/")[-4:])  # drop the collector's home directory
            rows.append({
                "source_id": r["id"], "system": r["system"], "backend": r["backend"],
                "backend_version": version, "campaign": version or Path(src_file).stem, "model": MODELS[r["model_path"]], "checkpoint": r["model_path"],
                "precision": precision, "gemm_quant_mode": r["gemm_quant_mode"], "precision_note": note,
                "isl": int(r["isl"]), "osl": int(r["osl"]), "concurrency": int(float(r["batch_size"])),
                "tp": int(float(r["tp_size"])), "ttft_ms": round(float(r["silicon_ttft_ms"]), 4),
                "tpot_ms": round(float(r["silicon_tpot_ms"]), 5),
                "measured": _field(r["silicon_data_source"], "measured")[:10],
                "source": f"{SOURCE} (file {src_file})", "harness": harness(r["silicon_data_source"]),
            })
    for r in rows:
        r.update(engine_settings(r), client_warmup=client_warmup(r["harness"], r["measured"]))
    rows.sort(key=lambda r: (r["model"], r["system"], r["precision"], r["backend"], r["tp"], r["isl"], r["osl"],
                             r["concurrency"]))
    return rows


def run(curate_fn, name: str, columns) -> None:
    """The command line both curation scripts share: read silicon_sample.csv under ``--shared``,
    curate it with ``curate_fn`` and write ``nvlmodel/data/<name>`` with ``columns``."""
    p = argparse.ArgumentParser(description="Build nvlmodel/data/" + name + " from aiconfigurator's measured rows.")
    p.add_argument("--shared", default=str(ROOT.parent / "shared"), help="the shared/ folder")
    args = p.parse_args()
    rows = curate_fn(Path(args.shared) / "data" / "aiconfigurator" / "silicon_sample.csv")
    out = ROOT / "nvlmodel" / "data" / name
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    run(curate, "measurements.csv", COLUMNS)
