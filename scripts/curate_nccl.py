"""Build nvlmodel/data/nccl_allreduce.csv: the measured NCCL all-reduce points nvlmodel uses.

Reads ../shared/data/aiconfigurator/*_nccl_*.csv (ai-dynamo/aiconfigurator, Apache-2.0, commit
095f58a51) and keeps only half-precision all_reduce rows. aiconfigurator's collector
(collector/collect_nccl.py) logs ``message_size = size // bytes_per_element``: the column counts
*elements*, so bytes = 2 x message_size for half. Repeated runs of one size are averaged.

    python scripts/curate_nccl.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    "h100_sxm": ("h100_sxm_nccl_2.27.3.csv", "systems/data/h100_sxm/comm/nccl/2.27.3/nccl_perf.parquet"),
    "gb200": ("gb200_nccl_2.29.2.csv", "systems/data/gb200/comm/nccl/2.29.2/nccl_perf.parquet"),
}
REPO = "ai-dynamo/aiconfigurator@095f58a51 aic-core/src/aiconfigurator_core/"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", default=str(ROOT.parent / "shared"), help="the shared/ folder")
    args = p.parse_args()
    out = ROOT / "nvlmodel" / "data" / "nccl_allreduce.csv"
    rows = []
    for system, (name, path) in SOURCES.items():
        acc: dict[tuple, list[float]] = defaultdict(list)
        meta = {}
        with open(Path(args.shared) / "data" / "aiconfigurator" / name, newline="") as f:
            for r in csv.DictReader(f):
                if r["op_name"] != "all_reduce" or r["nccl_dtype"] != "half":
                    continue
                key = (int(r["num_gpus"]), int(r["message_size"]))
                acc[key].append(float(r["latency"]))
                meta[key] = (r["device"], r["version"])
        for (n, elements), lat in sorted(acc.items()):
            rows.append({"system": system, "device": meta[(n, elements)][0], "nccl_version": meta[(n, elements)][1],
                         "op": "all_reduce", "dtype": "half", "num_gpus": n, "elements": elements,
                         "bytes": 2 * elements, "latency_ms": round(sum(lat) / len(lat), 6), "runs": len(lat),
                         "source": REPO + path})
    out.parent.mkdir(exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
