"""Build the measured all-reduce tables nvlmodel uses for tensor-parallel communication.

* ``nvlmodel/data/nccl_allreduce.csv``: NCCL all-reduce, half precision, on 2/4/8 GPUs of HGX H100,
  HGX H200 and HGX B200 (NVLink 5 + NVSwitch: the measured 8-GPU NVLink-5 curve), and on 2/4
  GPUs of one GB200 NVL72 compute tray.
* ``nvlmodel/data/engine_allreduce.csv``: the serving engines' own all-reduce kernels, BF16
  (TensorRT-LLM's one-/two-shot kernels; vLLM's custom all-reduce, CUDA-graph and eager), on the
  same systems (GB200: 2/4 GPUs).
* ``nvlmodel/data/nccl_alltoall.csv``: NCCL all-to-all, half precision, same systems and GPU counts
  (expert-parallel dispatch and combine inside an HGX node).
* ``nvlmodel/data/moe_alltoall.csv``: TensorRT-LLM's MoE all-to-all on GB200 NVL72 (NVLink two-sided
  kernel), prepare + dispatch + combine, by payload dtype, EP size 2-64 and tokens per rank
  (DeepSeek-V3 shape: hidden 7,168, top-8 of 256 experts).

Reads ../shared/data/aiconfigurator/ (ai-dynamo/aiconfigurator, Apache-2.0, commit 095f58a51).
aiconfigurator's collectors log ``message_size`` in *elements*, so bytes = 2 x message_size for
half/BF16 (at 512M elements the 8-GPU H100 curves then reach the ~470 GB/s bus bandwidth NVLS gives;
read as bytes they would reach half of NCCL's usual ring figure). Repeated runs of one size are
averaged.

    python scripts/curate_nccl.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPO = "ai-dynamo/aiconfigurator@095f58a51 aic-core/src/aiconfigurator_core/"
NCCL = {
    "h100_sxm": ("h100_sxm_nccl_2.27.3.csv", "systems/data/h100_sxm/comm/nccl/2.27.3/nccl_perf.parquet"),
    "h200_sxm": ("h200_sxm_nccl_2.29.2.csv", "systems/data/h200_sxm/comm/nccl/2.29.2/nccl_perf.parquet"),
    "b200_sxm": ("b200_sxm_nccl_2.29.2.csv", "systems/data/b200_sxm/comm/nccl/2.29.2/nccl_perf.parquet"),
    "gb200": ("gb200_nccl_2.29.2.csv", "systems/data/gb200/comm/nccl/2.29.2/nccl_perf.parquet"),
}
#: custom_allreduce.csv kernel_source -> the kernel name nvlmodel uses, and the source path's engine folder.
KERNELS = {"TRTLLM": ("trtllm", "trtllm/1.3.0rc10"), "vLLM_custom_graph": ("vllm_graph", "vllm/0.19.0"),
           "vLLM_custom_eager": ("vllm_eager", "vllm/0.19.0")}


def _average(rows: list[dict], key, value) -> dict[tuple, tuple[float, int]]:
    acc: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        acc[key(r)].append(float(r[value]))
    return {k: (sum(v) / len(v), len(v)) for k, v in sorted(acc.items())}


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {path.relative_to(ROOT)}")


def nccl_rows(data: Path, op: str = "all_reduce") -> list[dict]:
    rows = []
    for system, (name, path) in NCCL.items():
        with open(data / name, newline="") as f:
            src = [r for r in csv.DictReader(f) if r["op_name"] == op and r["nccl_dtype"] == "half"]
        meta = {(int(r["num_gpus"]), int(r["message_size"])): (r["device"], r["version"]) for r in src}
        for (n, elements), (lat, runs) in _average(src, lambda r: (int(r["num_gpus"]), int(r["message_size"])),
                                                   "latency").items():
            rows.append({"system": system, "device": meta[(n, elements)][0], "nccl_version": meta[(n, elements)][1],
                         "op": op, "dtype": "half", "num_gpus": n, "elements": elements,
                         "bytes": 2 * elements, "latency_ms": round(lat, 6), "runs": runs, "source": REPO + path})
    return rows


def engine_rows(data: Path) -> list[dict]:
    with open(data / "custom_allreduce.csv", newline="") as f:
        src = list(csv.DictReader(f))
    version = {r["kernel_source"]: r["version"] for r in src}
    rows = []
    for (system, source, n, elements), (lat, runs) in _average(
            src, lambda r: (r["system"], r["kernel_source"], int(r["num_gpus"]), int(r["message_size"])),
            "latency").items():
        kernel, folder = KERNELS[source]
        rows.append({"system": system, "kernel": kernel, "engine_version": version[source], "dtype": "bf16",
                     "num_gpus": n, "elements": elements, "bytes": 2 * elements, "latency_ms": round(lat, 6),
                     "runs": runs, "source": f"{REPO}systems/data/{system}/comm/{folder}/custom_allreduce_perf.parquet"})
    return rows


#: The MoE all-to-all of TensorRT-LLM on GB200 NVL72: its NVLink two-sided kernel (the one measured up
#: to EP 64), per payload dtype. One row per (dtype, EP, tokens per rank): prepare + dispatch + combine.
ALLTOALL = ("gb200_trtllm_alltoall_1.3.0rc10.csv",
            "systems/data/gb200/comm/trtllm/1.3.0rc10/trtllm_alltoall_perf.parquet")


def alltoall_rows(data: Path) -> list[dict]:
    name, path = ALLTOALL
    with open(data / name, newline="") as f:
        src = [r for r in csv.DictReader(f) if r["kernel_source"] == "NVLinkTwoSided"
               and r["op_name"] in ("alltoall_prepare", "alltoall_dispatch", "alltoall_combine")]
    parts = _average(src, lambda r: (r["moe_dtype"], int(r["moe_ep_size"]), int(r["num_tokens"]), r["op_name"]),
                     "latency")
    rows = []
    for dtype, ep, tokens in sorted({k[:3] for k in parts}):
        ms = {op: parts[(dtype, ep, tokens, f"alltoall_{op}")][0] for op in ("prepare", "dispatch", "combine")}
        r0 = src[0]
        rows.append({"system": "gb200", "kernel": "trtllm_nvlink_two_sided", "engine_version": r0["version"],
                     "dtype": dtype, "ep": ep, "tokens_per_rank": tokens, "hidden": int(r0["hidden_size"]),
                     "topk": int(r0["topk"]), "experts": int(r0["num_experts"]),
                     **{f"{op}_ms": round(v, 6) for op, v in ms.items()},
                     "latency_ms": round(sum(ms.values()), 6), "source": REPO + path})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", default=str(ROOT.parent / "shared"), help="the shared/ folder")
    args = p.parse_args()
    data = Path(args.shared) / "data" / "aiconfigurator"
    _write(ROOT / "nvlmodel" / "data" / "nccl_allreduce.csv", nccl_rows(data))
    _write(ROOT / "nvlmodel" / "data" / "engine_allreduce.csv", engine_rows(data))
    _write(ROOT / "nvlmodel" / "data" / "nccl_alltoall.csv", nccl_rows(data, "alltoall"))
    _write(ROOT / "nvlmodel" / "data" / "moe_alltoall.csv", alltoall_rows(data))


if __name__ == "__main__":
    main()
