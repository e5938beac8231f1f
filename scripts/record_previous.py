"""Record what the previous edition of the book computed, for the chapters' "What changed" notes.

Checks out ``--commit`` into a temporary git worktree, runs one extraction below (``--set``) against
*that* code, and writes its keys into ``nvlmodel/data/previous_edition.csv`` (key, value, commit),
keeping the other sets' rows. The current values of the same keys are computed live by
:mod:`nvlmodel.changelog`; the notes set the two side by side. The sets and their editions:

* ``correctness`` (default commit 1ba107a, the edition before the correctness pass): chapters 1-7
  and the errata;
* ``serving`` (default commit 1a31b89, the edition before the step from measured kernels, the
  deduplicated serving rows, the TEP all-reduce and the engine workspace): chapter 8;
* ``intervals`` (default commit 89dbce6, the edition before a new GPU's intervals spanned both step
  models and the rack claim was bisected between grid loads): the held-out coverage of chapter 7's
  intervals and chapter 9's rack throughput.

    python scripts/record_previous.py [--set correctness|serving|intervals] [--commit C]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs inside the old checkout, against the old API; prints {key: value} as JSON.
EXTRACT = r'''
import json
from nvlmodel import calibrate as cal, collectives as col, endtoend as e2e, kvbm, roofline
from nvlmodel.claims import status_counts
from nvlmodel.hardware import get_gpu, get_system
out = {}
out["hbm.b200"] = get_gpu("b200").hbm_usable_bytes
out["hbm.gb200"] = get_gpu("gb200-b200").hbm_usable_bytes
out["hbm.nvl72"] = get_system("nvl72").total_hbm_usable_bytes
p = roofline.prefill("gb200-b200", "llama-3.1-405b", "nvfp4", prompt=131072, tp=8, kv_bytes_per_element=2.0)
out["prefill.405b.128k"] = p.time
cap = kvbm.capacity_table("datasheet").set_index("configuration")
out["capacity.nvl72.sessions"] = cap.loc["72x B200 NVL72 (FP4 weights, FP8 KV)", "sessions_128k"]
out["capacity.h100x8.sessions"] = cap.loc["8x H100 (FP8 weights, FP16 KV)", "sessions_128k"]
from nvlmodel.topology import NVL72Topology
out["block.405b"] = NVL72Topology("datasheet").link(0, 1).transfer_time(16 * 258_048)
ws = kvbm.Workload(system_prompt_tokens=1024, frac_system=0.5, frac_multiturn=0.3, unique_tokens=512, turn_tokens=128)
reqs = kvbm.generate_requests(3000, ws, seed=0)
r = kvbm.simulate_rack(reqs, "dynamo", blocks_per_gpu=512)
out["routing.workers"] = 72
out["routing.dynamo.hit"] = r.hit_rate
out["routing.dynamo.imbalance"] = r.load_imbalance
out["allreduce.gb200.tp8.decode"] = col.tp_step_allreduce_time("llama-3.1-405b", 256, col.system_fit("gb200", 8).time)
ds = e2e.cells("datasheet")
for m in ("prefill_tok_s", "decode_tok_s", "sessions_128k", "swap_ms", "kv_block_us"):
    out[f"e2e.adv.{m}"] = e2e.advantage(m, ds)
out["e2e.rack.datasheet"] = e2e.rack_decode_tok_s("datasheet")
out["e2e.swap.seed.nvl72"] = e2e.cells("seed")["nvl72"]["swap_ms"]
p = cal.predictions()
p = p[p.kv_fits]
h = p[p.split == "held-out"]
out["cal.heldout.tpot_mdape"] = float(h.tpot_err_pct.abs().median())
out["cal.heldout.ttft_mdape"] = float(h.ttft_err_pct.abs().median())
for (prec, tp), g in h.groupby(["precision", "tp"]):
    out[f"cal.bias.{prec}.tp{tp}"] = float(g.tpot_err_pct.median())
hl = cal.headline()
for i, key in enumerate(("decode1", "decode64", "prefill")):
    out[f"headline.{key}"] = float(hl.calibrated_ratio.iloc[i])
for s, n in status_counts().items():
    out[f"ledger.{s}"] = n
print(json.dumps(out))
'''


EXTRACT_SERVING = r'''
import json
from nvlmodel import calibrate as cal, search
d = cal.load_measurements(table="serving")
p = cal.predictions(d, search.fitted_serving())
out = {"serving.modelled_rows": len(p)}
p = p[p.kv_fits]
for system in ("b200_sxm", "gb200"):
    h = p[(p.split == "held-out") & (p.system == system)]
    for m in ("tpot", "ttft"):
        out[f"serving.heldout.{system}.{m}_mdape"] = float(h[f"{m}_err_pct"].abs().median())
buys = search.what_buys("deepseek-v3", 1024, 1024, search.SLA(2.0, 0.05), 50.0)["everything"]
out["serving.ds.gb200_over_h100"] = float(buys["GB200 NVL72"] / buys["H100 HGX"])
out["serving.ds.gb200_over_b200"] = float(buys["GB200 NVL72"] / buys["B200 HGX"])
print(json.dumps(out))
'''
EXTRACT_INTERVALS = r'''
import json
from nvlmodel import calibrate as cal, search
from nvlmodel.calibrate.intervals import coverage_table, transfer_residuals
out = {}
for table, fitted in (("dense", cal.fitted), ("serving", search.fitted_serving)):
    d = cal.load_measurements(table=table)
    t = coverage_table(cal.predictions(d, fitted()), transfer=transfer_residuals(d))
    for r in t[t.split == "held-out"].itertuples():
        out[f"coverage.{table}.{r.system}.{r.metric}"] = r.coverage
from nvlmodel.serve.validate import rack_claim
out["rack.sim.tok_s"] = rack_claim().attrs["tok_s_within_sla"]
print(json.dumps(out))
'''
SETS = {"correctness": (EXTRACT, "1ba107a"), "serving": (EXTRACT_SERVING, "1a31b89"),
        "intervals": (EXTRACT_INTERVALS, "89dbce6")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", choices=list(SETS), default="correctness", help="which edition's values to record")
    p.add_argument("--commit", default=None, help="the edition's commit (default: the set's)")
    args = p.parse_args()
    extract, default_commit = SETS[args.set]
    args.commit = args.commit or default_commit
    commit = subprocess.run(["git", "rev-parse", "--short", args.commit], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "previous"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            done = subprocess.run([sys.executable, "-c", extract], cwd=tree, check=True, capture_output=True,
                                  text=True, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)
    values = json.loads(done.stdout.strip().splitlines()[-1])
    out = ROOT / "nvlmodel" / "data" / "previous_edition.csv"
    kept = []
    if out.exists():
        with open(out, newline="") as f:
            kept = [r for r in csv.DictReader(f) if r["key"] not in values]
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["key", "value", "commit"])
        for r in kept:
            w.writerow([r["key"], r["value"], r["commit"]])
        for k, v in values.items():
            w.writerow([k, repr(float(v)), commit])
    print(f"wrote {len(values)} values of commit {commit} to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
