"""The simulation's results, pinned: four deployments (aggregated with peer and host tiers and a
chat workload; disaggregated DeepSeek with attention DP and EP; a small pool that preempts and
offloads to host and disk; a random router over two workers) must give byte-identical per-request
tables. A refactor of nvlmodel.serve (the split of the engine by concern) keeps these digests; a
change of the model's behaviour changes them on purpose, and says so in its commit."""

import hashlib

import pytest

from nvlmodel.calibrate import Calibration
from nvlmodel.serve import Deployment, Workload, simulate

CAL = Calibration(bandwidth=0.9, compute=0.6, t_step=0.003, t_req=0.05, q=0.0)
CASES = [
    (dict(system="gb200", model="llama-3.1-8b", precision="fp4", tp=1, workers=4, tiers=("peer", "host"),
          calibration=CAL),
     dict(isl=512, osl=64, shape="chat", groups=12, max_context=4000), dict(n=400, rate=20.0), "ae8c8e8a5113cc99"),
    (dict(system="gb200", model="deepseek-v3", precision="fp4", tp=1, attention_dp=8, ep=8, mode="disagg", workers=1,
          prefill_tp=1, prefill_attention_dp=4, prefill_ep=4, prefill_workers=2, calibration=CAL),
     dict(isl=2048, osl=256, spread=0.5), dict(n=200, concurrency=64), "636856776df9df54"),
    (dict(system="h100_sxm", model="llama-3.1-70b", precision="fp8", tp=2, workers=2, memory_fraction=0.08,
          tiers=("host", "disk"), kv_dtype="bf16", calibration=CAL),
     dict(isl=3000, osl=300, shape="system-prompt", groups=3, prefix=1024, spread=0.3), dict(n=150, concurrency=40),
     "cc6686e7f315d4bf"),
    (dict(system="b200_sxm", model="qwen3-235b-a22b", precision="fp4", tp=4, workers=2, policy="random",
          calibration=CAL),
     dict(isl=1024, osl=128, spread=0.2), dict(n=300, rate=30.0), "636b3b0be5c1e385"),
]


@pytest.mark.parametrize("i", range(len(CASES)))
def test_simulation_results_are_pinned(i):
    d, w, load, expected = CASES[i]
    reqs = Workload(**w).generate(load["n"], rate=load.get("rate"), seed=i)
    res = simulate(Deployment(**d), reqs, concurrency=load.get("concurrency"), seed=i, check=True)
    got = hashlib.sha256(res.requests.round(12).to_csv(index=False).encode()).hexdigest()[:16]
    assert got == expected
