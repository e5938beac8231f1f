"""The request-level simulation (nvlmodel.serve): conservation, block pools, Little's law, the static
step model reproduced by one client, determinism, random small configurations, bad input."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nvlmodel.calibrate import Calibration, Config, components
from nvlmodel.serve import Deployment, Requests, Workload, read_trace, simulate, step_cost
from nvlmodel.serve.sweep import run_scenario

CAL = Calibration(bandwidth=0.9, compute=0.6, t_step=0.003, t_req=0.05, q=0.0)
B200 = dict(system="b200_sxm", model="llama-3.1-70b", precision="fp4", tp=4, calibration=CAL)


def test_one_closed_loop_client_is_the_static_step_model():
    """One client, one request at a time: TPOT is chapter 7's decode step at batch 1 and context
    isl + osl/2 (the mean of the contexts its steps read), TTFT its t_req + prefill + one step overhead
    (the static model folds the prefill step's overhead into t_req)."""
    d = Deployment(**B200)
    res = simulate(d, Workload(isl=2048, osl=512).generate(3), concurrency=1).requests
    static = components(Config("b200_sxm", "llama-3.1-70b", "fp4", 4, 1, 2048, 512, backend="trtllm"), CAL)
    assert res.tpot_s.to_numpy() == pytest.approx(static["tpot_s"], rel=1e-9)
    assert res.ttft_s.to_numpy() == pytest.approx(static["ttft_s"] + CAL.t_step, rel=1e-9)


def test_step_cost_by_hand():
    """A decode step of 32 sequences at 3000 tokens each, by hand from the model's counts: max of
    (weights + KV) / achieved bandwidth and GEMM + attention FLOPs / achieved peak, plus the
    all-reduce and the step overhead."""
    from nvlmodel.hardware import get_gpu
    from nvlmodel.models import get_model

    cfg = Config("b200_sxm", "llama-3.1-70b", "fp4", 4, 1, 1, 1, backend="trtllm", kv_dtype="bf16")
    c = step_cost(cfg, CAL, max_tokens=64)
    m, g = get_model("llama-3.1-70b"), get_gpu("b200")
    kv = 32 * 3000 * m.kv_bytes_per_token_per_gpu(2.0, 4)  # BF16 KV
    weights = c.weights[32] * g.hbm_bandwidth * 0.9
    mem = (weights + kv) / (g.hbm_bandwidth * 0.9)
    attn = 32 * 4 * m.heads * m.head_dim * m.layers * 3000 / 4 / (g.peak_flops("bf16") * 0.6)
    comp = c.gemm[32] + attn
    assert c.step(32, 32 * 3000) == pytest.approx(0.003 + max(mem, comp) + c.comm[32], rel=1e-9)
    # a run of decode steps in closed form equals the sum of single steps
    assert c.decode_run(32, 32 * 3000, 50) == pytest.approx(sum(c.step(32, 32 * (3000 + j + 1)) for j in range(50)))
    assert c.decode_steps_within(32, 32 * 3000, c.decode_run(32, 32 * 3000, 7)) == 7


def test_a_speculative_worker_is_charged_its_verify_and_draft_passes_per_token():
    """A worker drafting k tokens per step (MTP): a decode step of B sequences costs the ordinary
    tables' step of B (k + 1) tokens at the same context plus k draft passes of one layer's share of
    a step of B, over the tokens a sequence emits per step (1 + a + a^2 for k = 2); a run of steps in
    closed form is the sum of its steps; a disaggregated prefill worker does not decode."""
    from dataclasses import replace

    from nvlmodel.serve.cost import SpeculativeStepCost, StepCost

    cfg = Config("h200_sxm", "deepseek-v3", "fp8", 1, 1, 1024, 1024, backend="trtllm", mode="disagg",
                 attention_dp=8, ep=8, prefill_tp=8)
    cal = Calibration(bandwidth=0.8, compute=0.6, t_step=0.002, acceptance=0.5)
    spec = step_cost(replace(cfg, spec_tokens=2), cal, max_tokens=64)
    base = step_cost(cfg, cal, max_tokens=192)
    assert isinstance(spec, SpeculativeStepCost) and spec.per_step == 1.75 and spec.share == 2 / 61
    B, C = 8, 8 * 2000
    k = max(base.k_mem, base.k_attn)
    draft = 2 / 61 * (max(base.weights[B], base.gemm[B]) + base.comm[B] + k * C)
    assert spec.step(B, C) == pytest.approx((base.step(3 * B, C) + draft) / 1.75, rel=1e-12)
    # a step that also prefills: its decode part per token emitted, its chunk's addition whole
    decode_part = base.step(3 * B, C) + draft
    assert spec.step(B, C, [(0, 100)]) == pytest.approx(
        base.step(3 * B, C, [(0, 100)]) - base.step(3 * B, C) + decode_part / 1.75, rel=1e-12)
    assert spec.step(0, 0, [(0, 100)]) == pytest.approx(base.step(0, 0, [(0, 100)]), rel=1e-12)  # prefill alone: whole
    assert spec.decode_run(B, C, 5) == pytest.approx(sum(spec.step(B, C + B * (j + 1)) for j in range(5)))
    assert type(step_cost(replace(cfg, spec_tokens=2), cal, prefill=True, max_tokens=64)) is StepCost
    # from measured kernels: the verify pass reads the B sequences' attention once (its part per
    # sequence too, as the static model takes it at B), each draft a layer's share of it
    kc = replace(cal, step="kernels")
    spec, base = step_cost(replace(cfg, spec_tokens=2), kc, max_tokens=64), step_cost(cfg, kc, max_tokens=192)
    assert base.k_seq > 0 and base.k_mem == 0
    draft = 2 / 61 * (base.gemm[B] + base.comm[B] + base.k_attn * C + base.k_dfix + base.k_seq * B)
    assert spec.step(B, C) == pytest.approx((base.step(3 * B, C) - 2 * B * base.k_seq + draft) / 1.75, rel=1e-12)
    assert spec.decode_run(B, C, 5) == pytest.approx(sum(spec.step(B, C + B * (j + 1)) for j in range(5)))
    moe = replace(cal, t_moe=40e-6)  # each draft runs the draft module's MoE layer: one more cost per MoE layer
    assert step_cost(replace(cfg, spec_tokens=2), moe, max_tokens=64).t_step == pytest.approx(
        step_cost(cfg, moe, max_tokens=192).t_step + 2 * 40e-6)
    with pytest.raises(ValueError, match="spec_tokens"):
        Deployment("h200_sxm", "deepseek-v3", "fp8", tp=8, spec_tokens=-1)


@settings(max_examples=60, deadline=None)
@given(batch=st.integers(1, 64), context=st.integers(1, 200_000), budget=st.floats(0.0, 30.0))
def test_decode_steps_within_is_the_first_boundary_at_or_after_the_budget(batch, context, budget):
    """decode_steps_within starts its search at budget / first step (steps only grow longer): it
    must still be the least n >= 1 whose n steps reach the budget, by counting steps one by one."""
    cfg = Config("h100_sxm", "llama-3.1-70b", "fp8", 4, 1, 1, 1, backend="trtllm")
    c = step_cost(cfg, CAL, max_tokens=64)
    got = c.decode_steps_within(batch, context, budget)
    n, total = 1, c.decode_run(batch, context, 1)
    while total < budget:
        n += 1
        total = c.decode_run(batch, context, n)
    assert got == n


def test_the_step_has_two_phases():
    """DeepSeek FP8 on H200, eight attention-DP ranks, 64 sequences per rank at 8,192 tokens: the
    weights phase is memory-bound (the routed experts of 512 tokens, read once) and MLA's attention
    compute-bound (128 heads share one 576-wide latent: ~0.5 kFLOP per KV byte at FP8). The engines
    run them one after the other, so the step is the sum of the two phases' bounds, longer than one
    bound over the whole step. Attention by hand (absorbed MLA): 2 x 128 x 576 FLOPs per layer and
    context token for the scores against the latent and its RoPE part, 2 x 128 x 512 for the
    values against the latent, 61 layers, at the FP8 peak."""
    from nvlmodel.hardware import get_gpu

    cfg = Config("h200_sxm", "deepseek-v3", "fp8", 1, 1, 1, 1, backend="trtllm", attention_dp=8, ep=8, kv_dtype="fp8")
    c = step_cost(cfg, CAL, max_tokens=512)
    ctx = 512 * 8192  # the worker's KV tokens: 64 sequences per rank, 8 ranks
    k_attn = 2 * 128 * (576 + 512) * 61 / (get_gpu("h200").peak_flops("fp8") * 0.6) / 8  # per context token, per rank
    assert c.k_attn == pytest.approx(k_attn, rel=1e-9)
    gemm_phase, attn_phase = max(c.weights[512], c.gemm[512]), max(c.k_mem * ctx, c.k_attn * ctx)
    assert c.weights[512] > c.gemm[512] and c.k_attn > c.k_mem  # memory-bound weights, compute-bound attention
    step = c.step(512, ctx)
    assert step == pytest.approx(CAL.t_step + gemm_phase + attn_phase + c.comm[512], rel=1e-12)
    whole = CAL.t_step + max(c.weights[512] + c.k_mem * ctx, c.gemm[512] + c.k_attn * ctx) + c.comm[512]
    assert step > whole * 1.05
    # the closed-form run of steps is the sum of single steps, and the static model's step the same
    assert c.decode_run(512, ctx - 512, 40) == pytest.approx(sum(c.step(512, ctx + 512 * j) for j in range(40)))


def test_a_prompt_runs_on_one_attention_rank():
    """A prefill worker of 4 attention-DP ranks (DeepSeek FP4 on B200, EP4): a lone 4,096-token prompt is not
    spread over the ranks. Its rank does the whole prompt's dense GEMMs and attention while the
    routed experts serve 4,096 tokens over the 4 GPUs; four prompts, one per rank, cost more only by
    the routed experts of the other three (compute-bound here). The step of one prompt is then
    far more than a quarter of the step of four, which the even split charged. With the roofline:
    dense FLOPs 4,096 x 2 x dense params, experts 12,288 x 2 x routed params / 4 GPUs."""
    from dataclasses import replace

    from nvlmodel.hardware import get_gpu
    from nvlmodel.models import get_model

    cfg = Config("b200_sxm", "deepseek-v3", "fp4", 1, 1, 1, 1, backend="trtllm", attention_dp=4, ep=4)
    c = step_cost(cfg, CAL, max_tokens=16384)
    m, g = get_model("deepseek-v3"), get_gpu("b200")
    routed = m.moe_layers * m.experts_active * m.expert_params
    dense = m.matmul_params() - routed
    peak = g.peak_flops("fp4") * 0.6
    one, four = c.step(0, 0, [(0, 4096)]), c.step(0, 0, [(0, 4096)] * 4)
    assert c.gemm[4096] + c.dense[16384] - c.dense[4096] > c.weights[4096] + c.k_mem * 4096  # compute-bound
    assert four - one == pytest.approx(12288 * 2 * routed / 4 / peak, rel=1e-6)
    assert c.dense[16384] - c.dense[4096] == pytest.approx(12288 / 4 * 2 * dense / peak, rel=1e-9)  # D at T / 4 per rank
    assert one > 0.5 * four
    # a step that also decodes is the even split, a lone prompt too; so is one chunk per rank
    even = replace(c, ranks=1)
    assert c.step(64, 64 * 1000, [(0, 512)]) == even.step(64, 64 * 1000, [(0, 512)])
    assert c.step(64, 64 * 1000, [(0, 512)] * 4) == pytest.approx(
        CAL.t_step + max(c.weights[2112], c.gemm[2112])
        + max(c.k_mem * (64 * 1000 + 2048), c.k_attn * 64 * 1000 + 4 * c.k_pair * 512 * 511 / 2) + c.comm[2112])


def test_step_tables_read_a_block_at_a_time_hold_what_one_fill_of_every_count_gives():
    """A worker's step tables are filled a block of token counts at a time, on first read: each
    entry equals the fill of every count at once, across block edges, for the roofline's tables and
    the measured kernels' (an attention-DP prefill worker: dense GEMMs and collectives too). Counts
    beyond the table are refused, T = 0 costs nothing, and a table pickles as what it is."""
    import itertools
    import pickle
    from dataclasses import replace

    from nvlmodel.serve.cost import TokenTable

    n = 2 * TokenTable.BLOCK + 37
    every = np.arange(1, n + 1, dtype=float)
    reads = [1, TokenTable.BLOCK - 1, TokenTable.BLOCK, TokenTable.BLOCK + 1, n - 1, n, 2, 700, 2 * TokenTable.BLOCK]
    mla = Config("b200_sxm", "deepseek-v3", "fp4", 1, 1, 1024, 1024, backend="trtllm", attention_dp=4, ep=4)
    gqa = Config("h200_sxm", "qwen3-235b-a22b", "fp8", 1, 1, 1024, 1024, backend="trtllm", attention_dp=4, ep=4)
    for cfg, cal in itertools.product((mla, gqa), (CAL, replace(CAL, step="kernels", t_launch=2e-6, kernel_scale=1.3))):
        sc = step_cost(cfg, cal, prefill=True, max_tokens=n)
        assert sc.dense is not None and (cal.step == "roofline" or not any(sc.weights[t] for t in reads))
        for table in (sc.weights, sc.gemm, sc.comm, sc.dense):
            whole = np.broadcast_to(table.fill(every), every.shape).tolist()
            assert [table[t] for t in reads] == [whole[t - 1] for t in reads]
            assert table[0] == 0.0 and len(table) == n + 1
            assert list(table) == [0.0] + whole  # every entry, as the list it stands for
        for bad in (-1, n + 1, 2.5):
            with pytest.raises(IndexError, match=f"0..{n}"):
                sc.gemm[bad]
        again = pickle.loads(pickle.dumps(sc.gemm))
        assert again[n] == sc.gemm[n] and again.n == n


def test_closed_loop_means_are_the_simulations_counted_means_and_check_their_input():
    """serve.closed_loop_means, the replay's entry point: the mean TTFT and TPOT of the requests
    after the first ``skip``, as the simulation's own table gives them (simulated afresh here);
    a wrong type, concurrency or skip is refused by name."""
    from nvlmodel.recorded import ignored
    from nvlmodel.serve import closed_loop_means

    d = Deployment("b200_sxm", "llama-3.1-8b", "fp8", tp=1, calibration=CAL)
    reqs = Workload(isl=512, osl=64, spread=0.2).generate(40, seed=3)
    table = simulate(d, reqs, concurrency=8).requests.iloc[8:]
    with ignored():
        ttft, tpot, preempted = closed_loop_means(d, reqs, 8, skip=8)
    assert ttft == pytest.approx(table.ttft_s.mean(), rel=1e-12) and tpot == pytest.approx(table.tpot_s.mean(), rel=1e-12)
    assert preempted == 0
    for args, match in (((d, reqs, 0), "concurrency"), ((d, reqs, 8, -1), "skip"), ((d, reqs, 8, 40), "skip"),
                        ((d, "reqs", 8), "requests"), (("d", reqs, 8), "deployment")):
        with pytest.raises((ValueError, TypeError), match=match):
            closed_loop_means(*args)


def _check_conservation(res, reqs):
    r = res.requests
    assert len(r) == len(reqs)
    assert (r.tokens == r.osl).all()  # exactly OSL tokens each
    assert r.e2e_s.notna().all() and (r.ttft_s > 0).all() and (r.e2e_s >= r.ttft_s - 1e-12).all()


def test_memory_pressure_preempts_and_every_request_completes_once():
    """A small KV pool (memory_fraction) under 48 long requests: blocks run out, sequences are
    preempted and recomputed, blocks in use never exceed the pool (checked after every event), and
    every request still emits exactly its OSL tokens once."""
    d = Deployment(**{**B200, "tp": 1}, memory_fraction=0.3, kv_dtype="bf16")
    assert d.pool_blocks() * 16 < 48 * 3000  # the pool holds far fewer than 48 prompts
    reqs = Workload(isl=3000, osl=400, spread=0.5).generate(96, seed=3)
    res = simulate(d, reqs, concurrency=48, check=True)
    _check_conservation(res, reqs)
    assert res.requests.preemptions.sum() > 0


def test_littles_law_open_loop():
    """Time-averaged requests in the system (tracked by the simulator) = arrival rate x mean time in
    the system, on a long stable open-loop run."""
    d = Deployment(**B200, workers=2)
    reqs = Workload(isl=512, osl=128, spread=0.5).generate(4000, rate=8.0, seed=1)
    res = simulate(d, reqs)
    r = res.requests
    L = res.in_system_area / res.duration
    lam = len(r) / res.duration
    assert L == pytest.approx(lam * r.e2e_s.mean(), rel=0.02)
    assert 0 < res.summary()["busy_fraction"] < 1


def test_same_seed_same_result_and_shared_prefix_hits():
    d = Deployment(system="gb200", model="llama-3.1-8b", precision="fp4", tp=1, workers=4, tiers=("peer", "host"),
                   calibration=CAL)
    w = Workload(isl=256, osl=64, shape="chat", groups=50, spread=0.3)
    a = simulate(d, w.generate(800, rate=40, seed=5), seed=2)
    b = simulate(d, w.generate(800, rate=40, seed=5), seed=2)
    pd.testing.assert_frame_equal(a.requests, b.requests)
    s = a.summary()
    assert s["hit_g1"] > 0.2  # the conversation so far is found in HBM
    assert s["hit_g1"] + s["hit_peer"] + s["hit_host"] <= 1


def test_routing_to_the_cache_cuts_prefill():
    """KV-aware routing (dynamo) prefills fewer tokens than random routing on a chat workload."""
    w = Workload(isl=512, osl=64, shape="chat", groups=40).generate(600, rate=20, seed=0)
    done = {}
    for policy in ("dynamo", "random"):
        d = Deployment(system="gb200", model="llama-3.1-8b", precision="fp4", tp=1, workers=8, policy=policy,
                       calibration=CAL)
        done[policy] = simulate(d, w).requests.prefilled.sum()
    assert done["dynamo"] < 0.8 * done["random"]


def test_disaggregated_ttft_adds_the_kv_transfer():
    """One request alone on a disaggregated deployment: TTFT = t_req + prefill step + the prompt's
    KV transfer (chapter 8's kv_transfer_time); TPOT is the decode worker's step."""
    from nvlmodel.calibrate import kv_transfer_time

    d = Deployment(system="gb200", model="llama-3.1-70b", precision="fp4", tp=4, mode="disagg", prefill_tp=4,
                   calibration=CAL)
    res = simulate(d, Workload(isl=2048, osl=64).generate(2), concurrency=1).requests
    cfg = Config("gb200", "llama-3.1-70b", "fp4", 4, 1, 2048, 64, backend="trtllm", mode="disagg", prefill_tp=4)
    c = components(cfg, CAL)
    assert res.ttft_s.iloc[0] == pytest.approx(CAL.t_req + c["prefill_s"] + CAL.t_step + kv_transfer_time(cfg),
                                               rel=1e-6)
    assert res.tpot_s.iloc[0] == pytest.approx(c["decode_step_s"], rel=1e-3)


def test_a_prompts_kv_moves_as_one_copy_per_layer_plus_its_bytes():
    """Disaggregated KV transfer by hand (chapter 4's paged-copy cost): Llama-3.1-70B, 2,048 tokens
    in FP8 from a TP4 prefill worker to a TP4 decode worker in one NVL72: each of the 4 GPUs sends
    its 2 KV heads of every layer (80 layers x 2 x 2 heads x 128 x 1 byte per token) over one
    direction of NVLink 5, as one copy per layer at 3.4 us each."""
    from nvlmodel.calibrate import kv_transfer_time

    cfg = Config("gb200", "llama-3.1-70b", "fp4", 4, 1, 2048, 64, backend="trtllm", mode="disagg", prefill_tp=4,
                 kv_dtype="fp8")
    shard = 2048 * 80 * 2 * 2 * 128 * 1.0
    assert kv_transfer_time(cfg) == pytest.approx(shard / 900e9 + 80 * 3.4e-6, rel=1e-9)


def test_disaggregated_ttft_waits_for_a_decode_seat():
    """Two prompts at once, one decode seat (max_seqs=1): the second's KV arrives while the first
    decodes, and its first token leaves only when the decode worker takes it in, when the first
    request finishes: its TTFT is the first's end-to-end time (both arrived at 0), and its TPOT
    holds no wait."""
    d = Deployment(system="gb200", model="llama-3.1-70b", precision="fp4", tp=4, mode="disagg", prefill_tp=4,
                   max_seqs=1, calibration=CAL)
    res = simulate(d, Workload(isl=1024, osl=64).generate(2), concurrency=2).requests
    first, second = res.iloc[0], res.iloc[1]
    assert first.arrival_s == second.arrival_s == 0.0
    assert second.ttft_s == pytest.approx(first.e2e_s, rel=1e-12)
    assert second.tpot_s == pytest.approx(first.tpot_s, rel=1e-3)  # the same decode steps, alone in the batch


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workers=st.integers(1, 3), tp=st.sampled_from([1, 2]), n=st.integers(1, 40), isl=st.integers(1, 3000),
       osl=st.integers(1, 300), concurrency=st.integers(1, 12), shape=st.sampled_from(["plain", "chat", "system-prompt"]),
       mode=st.sampled_from(["agg", "disagg"]), frac=st.sampled_from([0.3, 0.9]), seed=st.integers(0, 5))
def test_random_small_configurations(workers, tp, n, isl, osl, concurrency, shape, mode, frac, seed):
    """Any small deployment and workload: every request completes once with exactly OSL tokens and
    the pools hold (check=True asserts the block accounting after every event)."""
    d = Deployment(system="h100_sxm", model="llama-3.1-8b", precision="fp8", tp=tp, workers=workers, mode=mode,
                   memory_fraction=frac, tiers=("host",), block_size=16, token_budget=2048, calibration=CAL)
    reqs = Workload(isl=isl, osl=osl, shape=shape, groups=3, prefix=min(isl, 512), spread=0.5).generate(n, seed=seed)
    res = simulate(d, reqs, concurrency=concurrency, check=True)
    _check_conservation(res, reqs)


def test_trace_replay(tmp_path):
    p = tmp_path / "trace.csv"
    p.write_text("arrival_s,isl,osl,prefix_group,prefix_tokens\n0.0,100,10,1,64\n0.5,120,5,1,64\n1.0,80,3,-1,0\n")
    reqs = read_trace(p)
    assert list(reqs.isl) == [100, 120, 80] and list(reqs.prefix) == [64, 64, 0]
    res = simulate(Deployment(**B200), reqs)
    assert (res.requests.tokens == [10, 5, 3]).all()


@pytest.mark.parametrize("text, field", [
    ("arrival_s,isl\n0,10\n", "osl"),
    ("arrival_s,isl,osl\n0,10,x\n", "osl"),
    ("arrival_s,isl,osl\n0,10.5,3\n", "isl"),
    ("arrival_s,isl,osl\n1,10,3\n0,10,3\n", "sorted"),
])
def test_malformed_trace_names_the_field(tmp_path, text, field):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(ValueError, match=field):
        read_trace(p)


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match="rate"):
        Workload().generate(10, rate=-1.0)
    with pytest.raises(ValueError, match="routing policy.*dynamo"):
        Deployment(**B200, policy="fastest")
    with pytest.raises(ValueError, match="KV tier"):
        Deployment(**B200, tiers=("nvswitch",))
    with pytest.raises(ValueError, match="tp=1: a worker too small"):
        Deployment(system="h100_sxm", model="llama-3.1-405b", precision="fp8", tp=1, calibration=CAL)
    with pytest.raises(ValueError, match="switch tier"):
        Deployment(**{**B200, "tiers": ("switch",)})
    with pytest.raises(ValueError, match="concurrency"):
        simulate(Deployment(**B200), Workload().generate(4))
    with pytest.raises(ValueError, match="isl"):
        Requests(np.zeros(2), np.array([0, 3]), np.array([1, 1]), np.full(2, -1), np.zeros(2, int), np.zeros(2, int))
    with pytest.raises(ValueError, match="unknown scenario field 'gpu'"):
        run_scenario({"gpu": "b200"})


def test_sweep_scenario_row():
    """One CSV-like scenario row: tiers written peer+host, blanks ignored, the summary beside it."""
    row = {"system": "gb200", "model": "llama-3.1-8b", "precision": "fp4", "tp": 1, "workers": 2,
           "tiers": "peer+host", "isl": 256, "osl": 32, "rate": 5.0, "requests": 50, "shape": "chat",
           "groups": 5.0, "ep": float("nan")}
    out = run_scenario(row)
    assert out["requests"] == 50 and out["gpus"] == 2 and 0 < out["busy_fraction"] <= 1


def test_every_numeric_deployment_field_is_read_from_a_csv_scenario():
    """A CSV gives text: every integer and number field of a Deployment or Workload is cast (a speculative
    decoder's draft tokens, a batch wait, redundant experts), and a field that cannot be its type is named."""
    from nvlmodel.serve.sweep import check_scenario

    row = {"system": "b200_sxm", "model": "deepseek-v3", "precision": "fp8", "tp": "1", "attention_dp": "8",
           "ep": "8", "rate": "1", "requests": "10", "spec_tokens": "1", "batch_wait_iters": "0",
           "batch_wait_tokens": "0", "recv_interval": "0", "adp_balance_iters": "60", "redundant_experts": "8",
           "prefill_max_seqs": "2", "engine": "trtllm@serving"}
    s = check_scenario(row)
    assert (s["spec_tokens"], s["adp_balance_iters"], s["redundant_experts"], s["prefill_max_seqs"]) == (1, 60, 8, 2)
    assert isinstance(s["batch_wait_tokens"], float)
    with pytest.raises(ValueError, match="redundant_experts must be an integer"):
        check_scenario({**row, "redundant_experts": "many"})


def test_sweep_in_process_gives_the_scenarios_rows_in_order():
    """A local Dask cluster in this process (processes=False) returns run_scenario's rows, in input
    order; a worker count that is not a positive integer is refused by name."""
    from nvlmodel.serve.sweep import sweep

    rows = [{"system": "gb200", "model": "llama-3.1-8b", "precision": "fp4", "tp": 1, "isl": 256, "osl": 16,
             "rate": r, "requests": 20} for r in (2.0, 40.0)]
    bad = [{**rows[0], "tp": 8.7}, {**rows[0], "rate": "fast"}, {**rows[0], "isl": 200_000}]
    out = sweep(rows + bad, processes=False, progress=False)
    assert out.rate.tolist()[:2] == [2.0, 40.0] and out.line.tolist() == [1, 2, 3, 4, 5]
    assert out.drop(columns=["line", "status"]).iloc[:2].to_dict("records") == [run_scenario(r) for r in rows]
    # every bad row is reported in the table by its field, and the good rows' results are kept
    assert out.status.tolist()[:2] == ["ok", "ok"]
    assert out.status[2].startswith("invalid: tp must be an integer, got 8.7")
    assert out.status[3].startswith("invalid: rate must be a number")
    assert "exceeds Llama 3.1 8B's maximum context" in out.status[4]
    with pytest.raises(ValueError, match="workers"):
        sweep(rows, workers=0, progress=False)


def test_scenario_csv_is_read_strictly():
    """A trailing comma or a missing field names its line; nothing shifts silently."""
    from nvlmodel.serve.sweep import parse_scenarios

    good = parse_scenarios("isl,osl,concurrency,requests\n512,64,4,20\n\n256,32,2,10\n")
    assert good.line.tolist() == [2, 4] and good.isl.tolist() == ["512", "256"]
    with pytest.raises(ValueError, match="line 2: 5 fields, the header has 4 .a trailing comma"):
        parse_scenarios("isl,osl,concurrency,requests\n512,64,4,20,\n")
    with pytest.raises(ValueError, match="line 3: 3 fields"):
        parse_scenarios("isl,osl,concurrency,requests\n512,64,4,20\n1,2,3\n")
    with pytest.raises(ValueError, match="no scenario rows"):
        parse_scenarios("")


def test_wide_moe_worker_is_placed_as_groups_of_eight():
    """A DeepSeek worker of TP8 x attention-DP 2 with EP16 (16 GPUs) is placed as two 8-GPU groups
    and serves its requests; a 12-GPU worker is refused by name."""
    from nvlmodel.gang import make_scheduler
    from nvlmodel.serve.engine import _place

    d = Deployment(system="gb200", model="deepseek-r1", precision="fp4", tp=8, attention_dp=2, ep=16,
                   engine="trtllm@serving")
    reqs = Workload(isl=1024, osl=32).generate(24)
    _check_conservation(simulate(d, reqs, concurrency=8, check=True), reqs)
    assert len(set(_place(make_scheduler("fabric"), 0, 16))) == 16
    with pytest.raises(ValueError, match="12 GPUs"):
        _place(make_scheduler("fabric"), 0, 12)


def test_cli_serve_one_scenario(capsys):
    from nvlmodel.cli import main

    assert main(["serve", "--tp", "4", "--requests", "20", "--concurrency", "4", "--osl", "16"]) == 0
    assert "goodput_tokens_per_s_per_gpu" in capsys.readouterr().out


def test_kernel_calibration_reaches_the_simulation():
    """A calibration whose steps come from measured kernels builds the simulation's step tables from
    the same kernels (not silently the roofline): a lone decode step and a lone prefill agree with
    the static model's within the linearisation of attention (10 %); where the kernel tables do not
    cover the worker (FP4 on Hopper) the roofline stands in, as in the static model."""
    from dataclasses import replace

    from nvlmodel.calibrate import step_times

    kcal = replace(CAL, step="kernels", t_launch=2e-6, t_moe=40e-6)
    for b in (4, 32, 128):
        c = Config("b200_sxm", "llama-3.1-70b", "fp4", 4, b, 1024, 1024, backend="trtllm")
        sc = step_cost(c, kcal, max_tokens=1024)
        decode, fill, source = step_times(c, kcal)
        assert source == "kernels" and sc.k_mem == 0 and not any(sc.weights)
        assert sc.step(b, b * (1024 + 512)) == pytest.approx(decode, rel=0.10)
        assert sc.step(0, 0, [(0, 1024)]) == pytest.approx(fill + kcal.t_step, rel=0.10)  # step() adds t_step
    hopper = Config("h100_sxm", "llama-3.1-70b", "fp4", 4, 8, 1024, 1024, backend="trtllm")
    assert any(step_cost(hopper, kcal, max_tokens=64).weights)  # the roofline's tables
    # DeepSeek's MLA module (projections and attention): a lone prompt of 1K and of 8K tokens too,
    # which one kernel time scaled by pairs alone missed by -75 % and +80 %
    for isl in (1024, 8192):
        c = Config("h200_sxm", "deepseek-v3", "fp8", 8, 1, isl, 1024, backend="trtllm", ep=8)
        _, fill, source = step_times(c, kcal)
        assert source == "kernels"
        assert step_cost(c, kcal, max_tokens=isl).step(0, 0, [(0, isl)]) == pytest.approx(fill + kcal.t_step, rel=0.10)
    # and a lone decode step of DeepSeek's MLA module, at the batches and contexts the serving rows
    # run: its projections cost per sequence and its attention per context token, so one time at one
    # batch and context scaled by the context read (the reference's 32 sequences of 4,096 tokens) put
    # 137 sequences of 8,704 tokens per rank at 4x the measured module
    for system, precision, adp, tp in (("b200_sxm", "fp4", 8, 1), ("h200_sxm", "fp8", 1, 8)):
        for b in (4, 32, 137, 256):
            for isl in (1024, 8192):
                c = Config(system, "deepseek-v3", precision, tp, b * adp, isl, 1024, backend="trtllm", ep=8,
                           attention_dp=adp)
                decode, _, source = step_times(c, kcal)
                assert source.startswith("kernels")
                sc = step_cost(c, kcal, max_tokens=b * adp)
                assert sc.step(b * adp, b * adp * (isl + 512)) == pytest.approx(decode, rel=0.10), (system, b, isl)
    # every step of the simulation pays the cost per MoE layer, as the static model's steps do
    c = Config("h200_sxm", "deepseek-v3", "fp8", 8, 1, 1024, 1024, backend="trtllm", ep=8)
    assert step_cost(c, kcal, max_tokens=64).t_step == pytest.approx(kcal.t_step + 58 * 40e-6, rel=1e-12)
    assert step_cost(c, replace(kcal, step="roofline"), max_tokens=64).t_step == pytest.approx(kcal.t_step + 58 * 40e-6)


def test_workers_that_fit_nine_hgx_nodes_are_placed_largest_first():
    """72 GPUs of B200 HGX: 16 decode workers of 4 GPUs and one prefill worker of 8. Placed in the
    order they are built by the seed's most-free-node scheduler, the 4-GPU workers would spread
    over all nine nodes (2, 2, ..., 1, 1) and strand the 8-GPU worker; largest first, it takes a
    node of its own and the others pack two to a node."""
    from nvlmodel.serve.engine import _nodes

    c = Config("b200_sxm", "deepseek-v3", "fp4", 1, 1, 1024, 1024, backend="trtllm", mode="disagg", attention_dp=4,
               ep=4, workers=16, prefill_tp=1, prefill_attention_dp=8, prefill_ep=8, prefill_workers=1)
    nodes = _nodes(c, [(False, 16), (True, 1)])
    assert sorted(np.bincount(nodes[:16])) == [0] + [2] * 8 and nodes[16] not in nodes[:16]


def test_partly_shared_prefix_on_an_idle_worker_does_not_stall():
    """The audit's minimal stall: an idle worker keeps the first request's prefix entry (14 of its
    18 blocks); the second request shares only 3 blocks of it and needs 8 more. Its entry is now cut
    to what it uses, and both complete (before: "simulation stalled")."""
    d = Deployment("h200_sxm", "llama-3.1-8b", "fp4", tp=4, memory_fraction=3.3e-05)
    assert d.pool_blocks() == 18
    r = Requests(np.array([0.0, 10.0]), np.array([208, 166]), np.array([16, 3]), np.array([0, 0]), np.array([0, 63]),
                 np.array([224, 169]))
    _check_conservation(simulate(d, r, check=True), r)


def test_a_request_larger_than_the_pool_is_refused_by_name():
    d = Deployment("h200_sxm", "llama-3.1-8b", "fp4", tp=4, memory_fraction=3.3e-05)
    with pytest.raises(ValueError, match="request 0 needs 69 KV blocks .* holds 18"):
        simulate(d, Workload(isl=1000, osl=100).generate(2, rate=1.0))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), frac=st.sampled_from([3.3e-05, 6.5e-05, 1.2e-04]), n=st.integers(2, 8),
       concurrency=st.integers(1, 4), closed=st.booleans())
def test_shared_partly_matching_prefixes_in_small_pools_always_finish(data, frac, n, concurrency, closed):
    """Requests of a few groups, each sharing a random part of its group's prefix and keeping a
    random part of its sequence, in pools of 18-66 blocks: whenever each request fits the pool
    alone, every request completes once with exactly OSL tokens and the block accounting holds after
    every event (check=True)."""
    d = Deployment("h200_sxm", "llama-3.1-8b", "fp4", tp=4, memory_fraction=frac, calibration=CAL)
    cap = d.pool_blocks() * d.block_size
    isl = np.array(data.draw(st.lists(st.integers(1, cap - 1), min_size=n, max_size=n)))
    osl = np.array([data.draw(st.integers(1, min(40, cap - i))) for i in isl])
    group = np.array(data.draw(st.lists(st.sampled_from([-1, 0, 0, 0, 1]), min_size=n, max_size=n)))
    prefix = np.array([data.draw(st.integers(0, i)) if g >= 0 else 0 for i, g in zip(isl, group)])
    keep = np.array([i + o if data.draw(st.booleans()) else data.draw(st.integers(0, i + o))
                     for i, o in zip(isl, osl)])
    # gaps long enough for a worker to fall idle with its entries cached, or none at all
    arrival = np.full(n, np.nan) if closed else np.cumsum(data.draw(
        st.lists(st.sampled_from([0.0, 0.01, 10.0]), min_size=n, max_size=n)))
    reqs = Requests(arrival, isl, osl, group, prefix, keep)
    res = simulate(d, reqs, concurrency=concurrency if closed else None, check=True)
    _check_conservation(res, reqs)


def test_a_prompt_found_whole_in_the_cache_still_computes_its_last_token():
    """Found by the property test above: a prompt that its group's cached prefix covers entirely
    left nothing to prefill, and the engine planned a step of 0 tokens. Like the engines, the hit now
    stops before the last token, which is computed."""
    d = Deployment("h200_sxm", "llama-3.1-8b", "fp4", tp=4, memory_fraction=3.3e-05, calibration=CAL)
    r = Requests(np.full(2, np.nan), np.array([16, 16]), np.array([1, 1]), np.array([0, 0]), np.array([16, 16]),
                 np.array([17, 17]))
    res = simulate(d, r, concurrency=1, check=True)
    _check_conservation(res, r)


def test_a_disaggregated_row_is_replayed_as_recorded():
    """calibrate --ttft-from simulation replays a disaggregated row with its own decode and prefill
    pools and its benchmark's engine limits: the same means as simulating that deployment by hand."""
    from nvlmodel.calibrate import load_measurements, predictions
    from nvlmodel.search import fitted_serving
    from nvlmodel.serve.validate import Protocol, benchmark_limits, replay_row

    d = load_measurements(table="serving")
    pred = predictions(d, fitted_serving())
    r = next(r for r in pred[(pred["mode"] == "disagg") & (pred.split == "calibration")].itertuples()
             if r.concurrency <= 64 and r.workers * r.tp * r.attention_dp + r.prefill_workers * r.prefill_tp
             * r.prefill_attention_dp <= 72)
    cal = fitted_serving()[r.engine]
    got = replay_row(r, cal, protocol=Protocol(per_client=2))
    dep = Deployment(r.system, r.model, r.precision, tp=int(r.tp), attention_dp=int(r.attention_dp), ep=int(r.ep),
                     mode="disagg", workers=int(r.workers), prefill_tp=int(r.prefill_tp),
                     prefill_attention_dp=int(r.prefill_attention_dp), prefill_ep=int(r.prefill_ep),
                     prefill_workers=int(r.prefill_workers), engine=r.engine, calibration=cal, **benchmark_limits(r))
    res = simulate(dep, Workload(isl=int(r.isl), osl=int(r.osl)).generate(int(r.concurrency) * 2),
                   concurrency=int(r.concurrency)).requests
    assert got["ttft_sim_ms"] == pytest.approx(res.ttft_s.mean() * 1e3, rel=1e-9)
    assert got["tpot_sim_ms"] == pytest.approx(res.tpot_s.mean() * 1e3, rel=1e-9)


def test_the_sequence_cap_holds_per_attention_rank():
    """max_seqs is per attention rank: with one seat per rank, a worker of two ranks takes the second
    of two simultaneous requests at its next step, while the first decodes; a worker of one rank
    takes it only when the first has finished."""
    kw = dict(system="gb200", model="deepseek-v3", precision="fp4", ep=2, max_seqs=1, calibration=CAL)
    reqs = Workload(isl=256, osl=32).generate(2)
    two = simulate(Deployment(tp=1, attention_dp=2, **kw), reqs, concurrency=2).requests
    assert two.ttft_s.iloc[1] < two.e2e_s.iloc[0] / 2  # side by side
    one = simulate(Deployment(tp=2, attention_dp=1, **kw), reqs, concurrency=2).requests
    assert one.ttft_s.iloc[1] >= one.e2e_s.iloc[0] - 1e-12  # the second waits for the only seat


def test_the_replay_runs_each_row_as_the_static_model_reads_it():
    """Every setting the static model's Config and the replay's Deployment both hold (parallelism,
    KV dtype, memory fraction, batch wait, receive interval, MoE kernel, draft tokens, ...) has the
    same value for every packaged row the replay runs: a setting read from the rows for one of them
    and not the other fails here."""
    from dataclasses import fields

    from nvlmodel.calibrate import Config, load_measurements
    from nvlmodel.calibrate.data import _config
    from nvlmodel.models import get_model
    from nvlmodel.serve.validate import PROTOCOL, _protocol, _replay_inputs, _simulable

    common = sorted({f.name for f in fields(Config)} & {f.name for f in fields(Deployment)})
    assert {"kv_dtype", "moe_kernel", "spec_tokens", "batch_wait_iters", "recv_interval"} <= set(common)
    seen = 0
    for table in ("dense", "serving"):
        d = load_measurements(table=table)
        for r in d[d.kv_fits & (d.left_out.fillna("") == "")].itertuples():
            if not _simulable(r):
                continue
            cfg, dep = _config(r), _replay_inputs(r, CAL, _protocol(PROTOCOL))[0]
            for name in common:
                a, b = getattr(cfg, name), getattr(dep, name)
                if b is None:  # left to the engine's default: as the deployment resolved it
                    b = getattr(dep._config, name)
                if name == "model":
                    a, b = get_model(a).key, get_model(b).key
                assert a == b, f"{table} row {r.Index}: {name} is {a!r} in the static model, {b!r} in the replay"
            seen += 1
    assert seen > 1000


def test_benchmark_limits_follow_aiconfigurators_benchmark_rules():
    """The replay's engine limits, by hand from aiconfigurator's benchmark rules: aggregated,
    TensorRT-LLM, 32 clients of 1,024-token prompts on one worker: 32 sequences and
    32 + 1,024 + 1,500 = 2,556 tokens, rounded up to 2,560 (32-token blocks); vLLM keeps 2,556.
    Disaggregated: one prompt of 1,024 + 1,500 tokens per prefill rank, and the decode batch per
    rank (256 clients over 2 workers of 4 ranks: 32) as its sequences and tokens."""
    from types import SimpleNamespace

    from nvlmodel.calibrate.data import engine_settings
    from nvlmodel.serve.validate import benchmark_limits

    agg = SimpleNamespace(concurrency=32, isl=1024, engine="trtllm@2026-04-06", mode="agg", workers=None,
                          attention_dp=None)
    assert benchmark_limits(agg) == {"max_seqs": 32, "token_budget": 2560}
    assert benchmark_limits(SimpleNamespace(**{**vars(agg), "engine": "vllm@2026-04-06"}))["token_budget"] == 2556
    # a row naming its script's tokens per step and batch wait (InferenceMAX's Llama-70B TensorRT-LLM, 1K/1K, TP < 8)
    scripted = SimpleNamespace(**{**vars(agg), "max_num_tokens": 16384, "batch_wait_iters": 20,
                                  "batch_wait_tokens": 14745.6})
    assert benchmark_limits(scripted) == {"max_seqs": 32, "token_budget": 16384}
    assert engine_settings(scripted) == {"batch_wait_iters": 20, "batch_wait_tokens": 14745.6}  # its batch wait
    dis = SimpleNamespace(concurrency=256, isl=1024, engine="trtllm@serving", mode="disagg", workers=2, attention_dp=4)
    assert benchmark_limits(dis) == {"max_seqs": 32, "token_budget": 32, "prefill_max_seqs": 1,
                                     "prefill_token_budget": 2528}
    # InferenceMAX's DeepSeek-R1 TensorRT-LLM runs with attention DP: its balance, timeout 60 steps;
    # not the gap-analysis runs, nor gpt-oss (whose balance the simulation does not hold), nor without DP
    dep = SimpleNamespace(concurrency=256, isl=1024, engine="trtllm@serving", mode="agg", workers=1, attention_dp=8,
                          model="deepseek-v3", harness="dated export (2026-03-25, 2026-04-06)")
    assert benchmark_limits(dep) == {"max_seqs": 32, "token_budget": 1344, "adp_balance_iters": 60}  # 256+1024+64
    for other in ({"harness": "aiconfigurator gap analysis"}, {"model": "gpt-oss-120b"}, {"attention_dp": 1},
                  {"engine": "vllm@serving"}):
        assert "adp_balance_iters" not in benchmark_limits(SimpleNamespace(**{**vars(dep), **other}))
    assert benchmark_limits(SimpleNamespace(**{**vars(dep), "attention_dp": 1}))["token_budget"] == 1344  # the script's
    # from 2026-01-21 the scripts take at least 8,192 tokens a step; the day before, the rule alone
    assert [benchmark_limits(SimpleNamespace(**{**vars(dep), "measured": d}))["token_budget"]
            for d in ("2026-01-20", "2026-01-21")] == [1344, 8192]
    big = SimpleNamespace(**{**vars(dep), "isl": 8192, "measured": "2026-02-03"})  # 256 + 8,192 + 64 -> 8,512
    assert benchmark_limits(big)["token_budget"] == 8512
    from nvlmodel.serve.validate import inferencemax_trt_tokens  # the rule, shared with the curation

    for bad in ({"concurrency": 0}, {"isl": 1024.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            inferencemax_trt_tokens(**{"concurrency": 256, "isl": 1024, **bad})
    # a row whose configuration names its limits (InferenceMAX's ctx1_gen1_dep32_batch16 at 666 clients):
    # 666 over 32 ranks is 21 a rank, but a rank seats 16, so 666 - 512 = 154 requests wait for a seat;
    # the prefill takes 4 prompts and 4,608 tokens a step (rounded to 4,608: a multiple of 32)
    named = SimpleNamespace(concurrency=666, isl=1024, engine="trtllm@serving", mode="disagg", workers=1,
                            attention_dp=32, decode_max_batch=16, prefill_max_batch=4, prefill_max_tokens=4608)
    assert benchmark_limits(named) == {"max_seqs": 16, "token_budget": 32, "prefill_max_seqs": 4,
                                       "prefill_token_budget": 4608}
    roomy = SimpleNamespace(**{**vars(named), "decode_max_batch": 64, "prefill_max_batch": float("nan"),
                               "prefill_max_tokens": ""})  # not named: the rules' defaults
    assert benchmark_limits(roomy) == {"max_seqs": 21, "token_budget": 32, "prefill_max_seqs": 1,
                                       "prefill_token_budget": 2528}


# ---- replaying a benchmark's protocol (issue 28) -------------------------------------------

def test_a_protocol_draws_lengths_as_the_benchmark_client_does():
    """InferenceMAX's client: vLLM's benchmark_serving with --random-range-ratio 0.8 draws each
    length uniformly among the integers 0.8 x nominal .. nominal, 10 requests per client; a
    protocol of fixed lengths gives the nominal ones."""
    from nvlmodel.serve.validate import PROTOCOL, PROTOCOLS, Protocol

    assert PROTOCOL == "inferencemax"
    p = PROTOCOLS[PROTOCOL]
    r = p.requests(1000, 500, concurrency=30)
    assert len(r) == 30 * 10 and r.closed
    assert r.isl.min() >= 800 and r.isl.max() <= 1000 and r.osl.min() >= 400 and r.osl.max() <= 500
    assert 880 < r.isl.mean() < 920  # uniform over 800..1000: mean 900
    assert np.array_equal(p.requests(1000, 500, 30).isl, r.isl)  # deterministic under the seed
    fixed = Protocol(per_client=3, warmup=2).requests(1000, 500, concurrency=4)
    assert len(fixed) == 4 * 5 and set(fixed.isl) == {1000} and set(fixed.osl) == {500}
    with pytest.raises(ValueError, match="low"):
        Protocol(per_client=1, low=0.0)
    with pytest.raises(ValueError, match="warmup"):
        Protocol(per_client=1, warmup=-1)


def test_the_start_up_wave_by_hand():
    """All clients send their first requests at once: 8 prompts on 4 servers of 1 s wait
    0,0,0,0,1,1,1,1 s (mean 0.5 s), one request in 10 counted per client: 0.05 s on the mean;
    9 on 3 servers of 0.5 s: 3 x (0 + 1 + 2) x 0.5 / 9 = 0.5 s, over 20 requests 0.025 s; a
    warm-up request per client absorbs the wave, unless it drains first (aiperf's: the counted
    requests then start as a wave of their own); nonsense raises naming the field. The static
    model assumes the replay's protocol (10 requests per client)."""
    from nvlmodel.calibrate import BENCHMARK_REQUESTS_PER_CLIENT
    from nvlmodel.serve.validate import PROTOCOL, PROTOCOLS, Protocol

    assert BENCHMARK_REQUESTS_PER_CLIENT == PROTOCOLS[PROTOCOL].per_client
    assert Protocol(per_client=10).startup_wait(8, 4, 1.0) == pytest.approx(0.05)
    assert Protocol(per_client=20).startup_wait(9, 3, 0.5) == pytest.approx(0.025)
    assert Protocol(per_client=20, warmup=1).startup_wait(9, 3, 0.5) == 0.0
    # aiperf lets its warm-up drain before the counted requests start: they start as one wave
    assert PROTOCOLS["aiperf"].startup_wait(9, 3, 0.5) == pytest.approx(0.025)
    assert Protocol(per_client=10).startup_wait(3, 4, 1.0) == 0.0  # more servers than clients: no wait
    with pytest.raises(ValueError, match="servers"):
        Protocol(per_client=10).startup_wait(10, 0, 1.0)
    with pytest.raises(ValueError, match="service_s"):
        Protocol(per_client=10).startup_wait(10, 4, float("nan"))


def test_a_disaggregated_runs_start_is_what_its_benchmark_mean_adds():
    """16 closed-loop clients on one TP1 prefill worker (one prompt per step) and one decode
    worker: the first round of prompts queues behind each other, later rounds do not. The mean TTFT
    of all requests exceeds that of the run's second half by the start-up wave by hand
    (16 prompts x the search's service time per prompt), within 10 %."""
    from nvlmodel import search
    from nvlmodel.serve.validate import Protocol

    proto = Protocol(per_client=10)
    d = Deployment("h100_sxm", "qwen3-32b", "fp8", tp=1, mode="disagg", workers=1, prefill_tp=1, prefill_workers=1,
                   prefill_max_seqs=1, prefill_token_budget=1024, calibration=CAL)
    res = simulate(d, proto.requests(1024, 128, 16), concurrency=16).requests
    excess = res.ttft_s.mean() - res.ttft_s.iloc[len(res) // 2:].mean()
    w = search._worker("h100_sxm", "qwen3-32b", "fp8", (1, 1, 1), 1024, 128, CAL, "trtllm")
    by_hand = proto.startup_wait(16, 1, search._prefill_service(w["fill"], CAL))
    assert excess == pytest.approx(by_hand, rel=0.10)
    assert excess > 0.2 * res.ttft_s.iloc[len(res) // 2:].mean()  # the start is no small share of the mean


def _send_spread(protocol, steps: int = 2):
    """Spread (s) of the second round's arrivals of 16 clients on one TP1 B200 worker, and the
    worker's decode step at that batch."""
    from nvlmodel.serve.validate import PROTOCOLS

    d = Deployment("b200_sxm", "llama-3.1-8b", "fp8", tp=1, calibration=CAL)
    reqs = PROTOCOLS[protocol].requests(512, 256, concurrency=16)
    res = simulate(d, reqs, concurrency=16).requests
    second = np.sort(res.arrival_s.to_numpy())[16:32]
    return float(second.max() - second.min()), float(res.tpot_s.median())


def test_lockstep_cannot_return():
    """Clients of fixed lengths finish together and send their next prompts as one wave (the
    previous edition's replay: second-round sends within a few decode steps of each other); the
    default protocol's lengths spread them over many steps (the decode of 0.8-1 x 256 tokens)."""
    lock, step = _send_spread("lockstep")
    spread, _ = _send_spread("inferencemax")
    assert lock < 4 * step
    assert spread > 20 * step


def test_warm_up_requests_are_simulated_and_not_counted():
    """A protocol's warm-up: the first warmup x concurrency requests run and are left out of the
    means, which are those of the rest of the same simulation."""
    from types import SimpleNamespace

    from nvlmodel.serve.validate import Protocol, benchmark_limits, replay_row

    row = SimpleNamespace(system="h200_sxm", model="llama-3.1-8b", precision="fp8", tp=1, concurrency=4, isl=512,
                          osl=64, engine="vllm@test", mode="agg", kv_dtype=None)
    proto = Protocol(per_client=2, warmup=1)
    got = replay_row(row, CAL, protocol=proto)
    d = Deployment("h200_sxm", "llama-3.1-8b", "fp8", tp=1, engine="vllm@test", calibration=CAL,
                   **benchmark_limits(row))
    res = simulate(d, proto.requests(512, 64, 4), concurrency=4).requests
    assert got["ttft_sim_ms"] == pytest.approx(res.ttft_s.iloc[4:].mean() * 1e3, rel=1e-12)
    assert got["tpot_sim_ms"] == pytest.approx(res.tpot_s.iloc[4:].mean() * 1e3, rel=1e-12)
    assert got["ttft_sim_ms"] != pytest.approx(res.ttft_s.mean() * 1e3, rel=1e-6)  # the warm-up would change it


def test_replay_on_dask_gives_the_same_numbers():
    """Rows replayed on two Dask processes: the same means, in the same order, as in this process."""
    from nvlmodel.calibrate import load_measurements
    from nvlmodel.serve.validate import replay

    from nvlmodel import recorded

    d = load_measurements()
    d = d[(d.system == "h200_sxm") & (d.concurrency <= 16)].head(6)
    with recorded.ignored():  # both simulate, in their own processes
        one = replay(d, protocol="lockstep")
        two = replay(d, protocol="lockstep", workers=2)
    assert len(one) == 6
    assert one.ttft_sim_ms.tolist() == two.ttft_sim_ms.tolist()
    assert one.tpot_sim_ms.tolist() == two.tpot_sim_ms.tolist()


def test_the_replay_reproduces_the_rows_measured_with_its_own_client():
    """The dense table's calibration rows from the dated exports (the client the default protocol
    follows): the simulation's median TTFT error was 6.5 % when the protocol landed (the lockstep
    replay of the same rows: 175 %). A change to the simulation that loses this is a regression."""
    from nvlmodel.calibrate import fitted, load_measurements
    from nvlmodel.serve.validate import replay

    d = load_measurements()
    d = d[(d.split == "calibration") & d.harness.str.startswith("dated export")]
    rep = replay(d, sim_calibrations=fitted(), fits_only=True)
    assert len(rep) > 100
    assert float(np.median(np.abs(rep.ttft_sim_err_pct))) < 10.0


def test_a_step_is_picked_only_where_the_rows_resolve_the_difference():
    """pick_step by hand: 200 rows where the kernels err 2 points more on every row pick the
    roofline (every resample's difference is 2); 2 points less, the kernels; the same errors
    shuffled against each other, a tie (the kernels, TIE_STEP); a step's column missing names both."""
    from nvlmodel.serve.validate import TIE_STEP, pick_step

    base = np.linspace(1.0, 60.0, 200)
    step, lo, hi = pick_step(pd.DataFrame({"roofline": base, "kernels": base + 2}))
    assert step == "roofline" and lo == pytest.approx(2.0) and hi == pytest.approx(2.0)
    assert pick_step(pd.DataFrame({"roofline": base, "kernels": base - 2}))[0] == "kernels"
    step, lo, hi = pick_step(pd.DataFrame({"roofline": base, "kernels": np.random.default_rng(1).permutation(base)}))
    assert step == TIE_STEP == "kernels" and lo < 0 < hi
    with pytest.raises(ValueError, match="roofline, kernels"):
        pick_step(pd.DataFrame({"roofline": base}))


def test_the_step_evidence_reuses_the_replays_it_is_given():
    """Chapter 9 computes the rule behind SIM_STEPS on every calibration row (and stops if the
    constant disagrees), reusing its replays of every row: given replays are read, their held-out
    rows ignored, and pick_step decides on the calibration rows' errors (three rows cannot resolve
    15 against 20 %: a tie, which goes to the kernels)."""
    from nvlmodel.serve.validate import sim_step_evidence

    def rep(ttft, tpot):  # three calibration rows and a held-out one that must not count
        return pd.DataFrame({"source_id": ["a", "b", "c", "d"], "split": ["calibration"] * 3 + ["held-out"],
                             "ttft_sim_err_pct": ttft, "tpot_sim_err_pct": tpot})

    ev = sim_step_evidence(tables=("dense",), replays={("dense", "roofline"): rep([-10, 20, 30, 0], [1, -2, 3, 0]),
                                                        ("dense", "kernels"): rep([5, -15, 40, 99], [4, 5, 6, 0])})
    assert ev.loc[("dense", "roofline"), "ttft_sim_MdAPE_pct"] == 20 and ev.loc[("dense", "kernels"), "rows"] == 3
    assert ev.loc[("dense", "kernels"), "ttft_sim_MdAPE_pct"] == 15 and ev.loc[("dense", "kernels"), "ttft_sim_bias_pct"] == 5
    assert ev.loc[("dense", "roofline"), "tpot_sim_MdAPE_pct"] == 2
    assert list(ev.picked) == [False, True]
    assert ev.diff_lo.iloc[0] <= -5 <= ev.diff_hi.iloc[0] and ev.diff_lo.iloc[0] < 0 < ev.diff_hi.iloc[0]
    with pytest.raises(ValueError, match="every must be 1"):
        sim_step_evidence(every=2, replays={("dense", "roofline"): rep([0] * 4, [0] * 4)})
    with pytest.raises(ValueError, match="table"):
        sim_step_evidence(tables=("sparse",))


def test_the_protocol_table_reuses_a_replay_of_every_row():
    """protocol_sensitivity given a replay of every row (both modes) takes its aggregated rows,
    every ``every``-th, and must score exactly the rows it would have replayed itself."""
    from nvlmodel.calibrate import load_measurements
    from nvlmodel.serve.validate import protocol_sensitivity, replay

    d = load_measurements(table="serving")
    h200 = d[d.system == "h200_sxm"]
    d = h200[((h200["mode"] == "agg") & (h200.concurrency <= 8) & (h200.osl <= 1024))
             | ((h200["mode"] == "disagg") & (h200.concurrency <= 36))]
    full = replay(d, modes=("agg", "disagg"), protocol="lockstep", fits_only=True)
    assert set(full["mode"]) == {"agg", "disagg"}  # the case the filter is for
    kw = dict(protocols=("lockstep",), every=2, by=("split",))
    given = protocol_sensitivity(d, replays={"lockstep": full}, **kw)
    assert given.equals(protocol_sensitivity(d, **kw))
    assert int(given.rows.sum()) == len(full[full["mode"] == "agg"].iloc[::2])
    with pytest.raises(ValueError, match="protocol"):
        protocol_sensitivity(d, replays={"burst": full}, **kw)


def test_static_columns_can_come_from_another_step_than_the_simulation():
    """replay(step=kernels, static_step=roofline): the static columns are the roofline fit's
    predictions of the same rows, the simulated ones as with step=kernels alone."""
    from nvlmodel.calibrate import fitted, load_measurements, predictions
    from nvlmodel.serve.validate import replay

    d = load_measurements()
    mixed = replay(d, step="kernels", static_step="roofline", protocol="lockstep", every=80)
    kern = replay(d, step="kernels", protocol="lockstep", every=80)
    roof = predictions(d, fitted("roofline")).set_index("source_id").loc[mixed.source_id]
    assert len(mixed) >= 5 and mixed.ttft_sim_ms.tolist() == kern.ttft_sim_ms.tolist()
    assert mixed.ttft_pred_ms.tolist() == pytest.approx(roof.ttft_pred_ms.tolist())
    assert mixed.tpot_pred_ms.tolist() != pytest.approx(kern.tpot_pred_ms.tolist())
    with pytest.raises(ValueError, match="static_step"):
        replay(d, static_step="measured")


def test_a_recorded_rack_load_is_its_simulation_bit_for_bit():
    """Chapter 9's rack-claim loads are recorded under this package (nvlmodel.recorded): the
    lightest one is read from the record, and simulated afresh it gives the same numbers."""
    from nvlmodel import recorded
    from nvlmodel.serve import validate

    args = (float(min(validate.RACK_RATES)), 40.0, 0, 2.0, 0.05)  # the chapter's load, seed and SLA
    validate._rack_run.cache_clear()
    before = recorded.READ["runs"]
    read = validate._rack_run(*args)
    assert recorded.READ["runs"] == before + 1
    validate._rack_run.cache_clear()
    with recorded.ignored():
        fresh = validate._rack_run(*args)
    validate._rack_run.cache_clear()
    assert fresh == read


def test_the_rack_claim_bisects_the_capacity_between_grid_rates():
    """rack_claim refines the highest rate within the SLA: the refined rate meets it, every rate tried
    above it does not, and the next rate tried above lies within the resolution (or is the grid's)."""
    from nvlmodel.serve.validate import rack_capacity, rack_claim

    t = rack_claim(rates=(10.0, 40.0, 80.0), seconds=15.0, resolution=4.0)
    ok = t["within SLA"] >= 0.9
    best = t.attrs["rate_within_sla"]
    assert ok[best] and not ok[t.index > best].any()
    assert len(t) > 3 and t.index[t.index > best].min() - best <= 4.0  # bisected, not the grid's 30 req/s gap
    assert t.attrs["tok_s_within_sla"] == t.loc[best, "output tok/s (rack)"]
    grid = rack_claim(rates=(10.0, 40.0, 80.0), seconds=15.0, resolution=0)
    assert list(grid.index) == [10.0, 40.0, 80.0]
    cap = rack_capacity(seeds=(0, 1), rates=(10.0, 40.0, 80.0), seconds=15.0, resolution=4.0)
    assert cap["tok_s_lo"] <= cap["tok_s"] <= cap["tok_s_hi"] and cap["seeds"] == 2
    with pytest.raises(ValueError, match="resolution"):
        rack_claim(resolution=-1.0)
    with pytest.raises(ValueError, match="seeds"):
        rack_capacity(seeds=())


def _adp_run(balance, arrivals, token_budget=8192):
    """DeepSeek FP4 on a B200 worker of four attention-DP ranks (EP4), requests of 512 prompt and 200
    output tokens arriving at ``arrivals`` (s), with the attention-DP balance's timeout ``balance``
    and ``token_budget`` tokens a step per rank."""
    from nvlmodel.serve.workload import Requests

    n = len(arrivals)
    cal = Calibration(bandwidth=0.9, compute=0.6, t_step=0.003, t_req=0.0, q=0.0)
    d = Deployment("b200_sxm", "deepseek-v3", "fp4", tp=1, attention_dp=4, ep=4, calibration=cal,
                   adp_balance_iters=balance, token_budget=token_budget)
    z = np.zeros(n, dtype=np.int64)
    reqs = Requests(np.asarray(arrivals, float), np.full(n, 512), np.full(n, 200), z - 1, z, z.copy())
    return simulate(d, reqs, check=True).requests, step_cost(d.config, cal)


def test_the_attention_dp_balance_holds_a_lone_prompt_until_its_timeout():
    """TensorRT-LLM's attention-DP balance (timeout 10 steps), by hand. Four requests at t = 0: the
    first starts alone (the worker was idle), the other three in the next step while the first
    decodes (a rank with nothing to decode lets prompts in at once; the counter restarts at step
    0). That step ends at step 1 with all four decoding. A fifth request, arriving during it, is
    one prompt for four ranks: without the balance it starts at once, with it it waits until the
    counter reaches 10, nine decode steps of 4 sequences (caches 513 + 3 x 512 tokens at step 1).
    Four new requests at once (one per rank) are not held."""
    first = [0.0] * 4
    free, c = _adp_run(0, first + [0.035])
    held, _ = _adp_run(10, first + [0.035])
    assert (held.ttft_s[:4] == free.ttft_s[:4]).all()  # the start is not held
    assert held.ttft_s[0] < 0.035 < held.ttft_s[1]  # the fifth arrives during step 1 (the three prompts' step)
    nine = c.decode_run(4, 513 + 3 * 512, 9)
    assert held.ttft_s[4] - free.ttft_s[4] == pytest.approx(nine, rel=0.01)
    # the counter also restarts at each timeout with nothing waiting (step 10 here): a prompt arriving
    # later waits for step 20
    t1 = held.ttft_s[1]  # step 1 ends
    late = t1 + 12.5 * c.decode_run(4, 513 + 3 * 512, 1)
    lfree, _ = _adp_run(0, first + [late])
    lheld, _ = _adp_run(10, first + [late])
    n_at = 1 + c.decode_steps_within(4, 513 + 3 * 512, late - t1)  # the boundary after it arrives
    assert 10 < n_at < 20
    ctx = 513 + 3 * 512 + 4 * (n_at - 1)
    assert lheld.ttft_s[4] - lfree.ttft_s[4] == pytest.approx(c.decode_run(4, ctx, 20 - n_at), rel=0.01)
    quad, _ = _adp_run(10, first + [0.035] * 4)
    quad_free, _ = _adp_run(0, first + [0.035] * 4)
    assert quad.ttft_s[4:].to_numpy() == pytest.approx(quad_free.ttft_s[4:].to_numpy(), rel=1e-12)
    with pytest.raises(ValueError, match="adp_balance_iters"):
        Deployment("b200_sxm", "deepseek-v3", "fp4", tp=1, attention_dp=4, ep=4, calibration=CAL, adp_balance_iters=-1)


def test_under_the_balance_each_prompt_waits_on_its_own_rank():
    """TensorRT-LLM assigns each request to a rank when it arrives (the rank whose requests hold the
    fewest prompt tokens among those below the even share) and each rank schedules its own, within
    its share of the tokens per step. By hand, four ranks of 600 tokens a step, timeout 10 steps:
    four requests at t = 0 decode one per rank; five more arrive at once during step 1 and go to
    ranks 0, 1, 2, 3, then 0 again (all at 1,024 prompt tokens, rank 0 first). Every rank now has a
    prompt, so the balance lets them in at the next step, but a rank has room for one prompt of 512
    beside its decoding sequence (512 + 1 <= 600 < 2 x 512 + 1): rank 0's second waits, and the
    next step only rank 0 has a prompt, so the balance holds it until its counter, restarted at the
    burst's step, reaches 10: nine decode steps of 8 sequences, then its own step. Counted against
    the worker as a whole (a shared queue and a shared budget, 2,400 tokens) it would have started
    in the burst's step."""
    first = [0.0] * 4
    r, c = _adp_run(10, first + [0.035] * 5, token_budget=600)
    burst = r.ttft_s[4:8].to_numpy()
    assert burst == pytest.approx(burst[0], rel=1e-12)  # one prompt per rank, in one step
    ctx = 4 * 513 + 4 * 512 + 8  # the caches after the burst's step (each decoding sequence one token more)
    held = c.decode_run(8, ctx, 9) + c.step(8, ctx + 8 * 9 + 8, [(0, 512)])
    assert r.ttft_s[8] - burst[0] == pytest.approx(held, rel=0.02)


def _wait_run(iters, arrivals, tokens=0.0, **hold):
    """Llama-70B FP4 on one B200 (TensorRT-LLM), requests of 512 prompt and 300 output tokens
    arriving at ``arrivals`` (s), with a batch wait of ``iters`` steps (``tokens`` its threshold), or
    another hold of :class:`~nvlmodel.serve.Deployment` (``hold``)."""
    from nvlmodel.serve.workload import Requests

    n = len(arrivals)
    cal = Calibration(bandwidth=0.9, compute=0.6, t_step=0.003, t_req=0.0, q=0.0)
    d = Deployment("b200_sxm", "llama-3.1-70b", "fp4", tp=1, engine="trtllm@2026-04-06", calibration=cal,
                   batch_wait_iters=iters, batch_wait_tokens=tokens, **hold)
    z = np.zeros(n, dtype=np.int64)
    reqs = Requests(np.asarray(arrivals, float), np.full(n, 512), np.full(n, 300), z - 1, z, z.copy())
    return simulate(d, reqs, check=True).requests, step_cost(d.config, cal)


def test_a_batch_waiting_engine_holds_prompts_while_sequences_decode():
    """TensorRT-LLM's batch waiting (5 steps), by hand. A first request on an idle worker is not
    held (nothing decodes). A second, arriving while the first decodes, starts at the next step
    boundary without the wait; with it, five decode steps of the one sequence later (its cache 512
    tokens and the steps it has decoded). Two prompts arriving together fill a 1,000-token threshold
    (2 x 512 + 1 decoding) and start at once; one alone (513) does not."""
    t1 = _wait_run(0, [0.0])[0].ttft_s[0]
    free, c = _wait_run(0, [0.0, t1 + 0.05])
    held, _ = _wait_run(5, [0.0, t1 + 0.05])
    assert held.ttft_s[0] == free.ttft_s[0] == t1
    n_at = 1 + c.decode_steps_within(1, 512, 0.05)  # the boundary after the second arrives
    # (to a token of context: 1e-5 of a step; four or six steps would be 20 % off)
    assert held.ttft_s[1] - free.ttft_s[1] == pytest.approx(c.decode_run(1, 512 + n_at, 5), rel=1e-5)
    pair_free, _ = _wait_run(0, [0.0, t1 + 0.05, t1 + 0.05])
    pair, _ = _wait_run(5, [0.0, t1 + 0.05, t1 + 0.05], tokens=1000.0)
    assert pair.ttft_s.to_numpy() == pytest.approx(pair_free.ttft_s.to_numpy(), rel=1e-12)
    lone, _ = _wait_run(5, [0.0, t1 + 0.05], tokens=1000.0)
    assert lone.ttft_s[1] == pytest.approx(held.ttft_s[1], rel=1e-12)
    with pytest.raises(ValueError, match="batch_wait_iters"):
        Deployment("b200_sxm", "llama-3.1-70b", "fp4", tp=1, calibration=CAL, batch_wait_iters=2.5)


def _recv_run(interval, arrivals):
    """_wait_run's worker and requests, taking new requests in as SGLang does under
    ``--scheduler-recv-interval`` ``interval``."""
    return _wait_run(0, arrivals, recv_interval=interval)


def test_a_receive_interval_takes_requests_in_every_so_many_decode_steps():
    """SGLang's receive interval (8 steps), by hand. A first request on an idle worker is taken in
    at once. Its prefill is a step that prefilled, so the engine polls right after it, at decode
    step 0, and then every 8 decode steps. A second request arriving while the first decodes, at
    the boundary of decode step 3, waits for the poll at step 8: five decode steps of the one
    sequence (cache 512 + 3 tokens) later than without the interval. One arriving at step 11
    waits for step 16. An interval of 1 polls at every step: no wait."""
    t1 = _recv_run(0, [0.0])[0].ttft_s[0]
    assert _recv_run(8, [0.0])[0].ttft_s[0] == t1
    c = _recv_run(0, [0.0])[1]
    for at, poll in ((3, 8), (11, 16)):
        arrival = t1 + c.decode_run(1, 512, at) - 1e-9  # just before the boundary of decode step `at`
        free, _ = _recv_run(0, [0.0, arrival])
        held, _ = _recv_run(8, [0.0, arrival])
        assert held.ttft_s[1] - free.ttft_s[1] == pytest.approx(c.decode_run(1, 512 + at, poll - at), rel=1e-5)
    same, _ = _recv_run(1, [0.0, t1 + c.decode_run(1, 512, 3) - 1e-9])
    assert same.ttft_s.to_numpy() == pytest.approx(
        _recv_run(0, [0.0, t1 + c.decode_run(1, 512, 3) - 1e-9])[0].ttft_s.to_numpy(), rel=1e-12)
    with pytest.raises(ValueError, match="recv_interval"):
        Deployment("b200_sxm", "llama-3.1-70b", "fp4", tp=1, calibration=CAL, recv_interval=-1)


def test_replayed_rows_take_a_calibration_per_engine_or_per_row():
    """_replay_rows: a calibration per row (the leave-one-GPU-out fits of sim_transfer_widening)
    gives what the same calibrations per engine give, and a list of the wrong length is refused."""
    from dataclasses import replace

    from nvlmodel.calibrate import fitted, load_measurements
    from nvlmodel.serve.validate import PROTOCOLS, _replay_rows

    d = load_measurements()
    rows = d[d.left_out == ""].nsmallest(2, "concurrency")
    assert len(rows) == 2
    cal = fitted("roofline")
    proto = PROTOCOLS["inferencemax"]
    per_row = [cal[e] for e in rows.engine]
    assert _replay_rows(rows, per_row, proto, 1) == _replay_rows(rows, cal, proto, 1)
    slower = [replace(c, t_req=c.t_req + 0.5) for c in per_row]
    assert all(a["ttft_sim_ms"] > b["ttft_sim_ms"] + 400 for a, b in zip(_replay_rows(rows, slower, proto, 1),
                                                                       _replay_rows(rows, cal, proto, 1)))
    with pytest.raises(ValueError, match="one calibration per row"):
        _replay_rows(rows, per_row[:1], proto, 1)


def test_a_replay_on_dask_reads_the_recorded_rows_and_simulates_the_rest(monkeypatch):
    """Rows of chapter 9's dense replay, half of them under a calibration no chapter ran: on two Dask
    processes the recorded half is read here and the other half simulated there (the simulation in
    this process runs for none), giving what this process gives with the record ignored."""
    from dataclasses import replace

    from nvlmodel import recorded
    from nvlmodel.serve import engine
    from nvlmodel.serve.validate import PROTOCOLS, SIM_STEPS, _replay_plan, _replay_rows

    pred, cal = _replay_plan(None, ("agg",), SIM_STEPS["dense"], None, True, 1, None)
    rows = pred.nsmallest(4, "concurrency")
    cals = [cal[e] if i % 2 else replace(cal[e], t_req=cal[e].t_req + 0.25) for i, e in enumerate(rows.engine)]
    proto = PROTOCOLS["inferencemax"]
    with recorded.ignored():
        here = _replay_rows(rows, cals, proto, 1)
    ran, found = [], {}
    simulated, lookup = engine._simulated_means, recorded.lookup
    monkeypatch.setattr(engine, "_simulated_means", lambda *a: ran.append(a) or simulated(*a))
    monkeypatch.setattr(recorded, "lookup", lambda key: found.setdefault(key, lookup(key)))
    assert _replay_rows(rows, cals, proto, 2) == here
    assert ran == []  # nothing simulated in this process: the unrecorded half ran in the workers
    assert sorted(v is not None for v in found.values()) == [False, False, True, True]  # and the recorded half was read


def test_held_out_rows_do_not_shape_the_simulations_intervals():
    """sim_transfer_widening replays calibration rows only: held-out rows measured ten times
    slower (or left out) give the same factors."""
    from nvlmodel.calibrate import load_measurements
    from nvlmodel.serve.validate import sim_transfer_widening

    d = load_measurements()
    few = d[d.left_out == ""].groupby(["engine", "system"]).head(8)
    assert (few.split == "held-out").any()
    slower = few.copy()
    slower.loc[slower.split == "held-out", ["ttft_ms", "tpot_ms"]] *= 10
    w = sim_transfer_widening(few, "roofline")
    assert set(w) == {"tpot", "ttft"}
    assert sim_transfer_widening(slower, "roofline") == w == sim_transfer_widening(few[few.split == "calibration"],
                                                                                   "roofline")
    with pytest.raises(ValueError, match="workers"):
        sim_transfer_widening(few, "roofline", workers=0)


def test_the_simulations_anchored_residuals_move_each_deployment_by_its_first_rows_miss():
    """sim_anchored_residuals: the scored GPU's replays (sim_transfer_replays), each deployment's
    row of lowest concurrency left out and what the simulation missed on it added to the others'
    simulated TTFT and TPOT; the replays passed in are the ones used."""
    from nvlmodel.calibrate import load_measurements
    from nvlmodel.calibrate.intervals import _deployment_keys
    from nvlmodel.serve.validate import sim_anchored_residuals, sim_transfer_replays

    d = load_measurements()
    few = d[d.left_out == ""].groupby(["engine", "system"]).head(8)
    reps = sim_transfer_replays(few, "roofline")
    an = sim_anchored_residuals(few, "roofline", replays=reps)
    scored = pd.concat([r[3] for r in reps], ignore_index=True)
    first = scored.sort_values(["concurrency", "source_id"]).groupby(_deployment_keys(scored)).head(1)
    assert len(an) and sorted(an.source_id) == sorted(set(scored.source_id) - set(first.source_id))
    row = an.iloc[0]
    a = first[_deployment_keys(first) == _deployment_keys(an.iloc[[0]]).iloc[0]].iloc[0]
    sim = scored.set_index("source_id").loc[row.source_id]
    for m in ("tpot", "ttft"):
        assert row[f"{m}_unanchored_pred_ms"] == pytest.approx(sim[f"{m}_sim_ms"])
        assert row[f"{m}_pred_ms"] == pytest.approx(sim[f"{m}_sim_ms"] + a[f"{m}_ms"] - a[f"{m}_sim_ms"])
    fake = [(s, f, own, scored.assign(ttft_pred_ms=scored.ttft_pred_ms * 2)) for s, f, own, scored in reps]
    assert not np.allclose(sim_anchored_residuals(few, "roofline", replays=fake).ttft_unanchored_pred_ms,
                           an.ttft_unanchored_pred_ms)


def test_the_recorded_runs_are_this_packages():
    """The runs the chapters made are recorded under this package: chapter 9 reads them instead of
    replaying every row again. A change to the package leaves the record stale (read by no one)."""
    from nvlmodel import recorded

    assert recorded.fresh(), ("nvlmodel/data/replays.csv was recorded by another version of the package: "
                              "run `python scripts/notebooks.py expected`")


@pytest.mark.parametrize("table, step", [("dense", "kernels"), ("serving", "kernels")])
def test_recorded_runs_are_the_simulations_bit_for_bit(table, step, monkeypatch):
    """Rows of chapter 9's replays (each table's step of record, every row's run recorded): read
    from the record (not one simulated; with workers, no cluster started) and simulated afresh,
    the same numbers to the last bit."""
    from nvlmodel import recorded
    from nvlmodel.calibrate import load_measurements
    from nvlmodel.serve import engine
    from nvlmodel.serve.validate import SIM_STEPS, replay

    assert SIM_STEPS[table] == step
    d = None if table == "dense" else load_measurements(table="serving")
    kw = dict(modes=("agg", "disagg"), fits_only=True, step=step, static_step="roofline", every=97)
    ran = []
    simulated = engine._simulated_means
    monkeypatch.setattr(engine, "_simulated_means", lambda *a: ran.append(a) or simulated(*a))
    before = recorded.READ["runs"]
    read = replay(d, **kw)
    assert len(read) >= 6 and ran == [] and recorded.READ["runs"] - before == len(read)

    def no_cluster(*a, **k):
        raise AssertionError("every run is recorded: no cluster should start")

    monkeypatch.setattr("nvlmodel.serve.sweep.local_cluster", no_cluster)
    assert replay(d, workers=2, **kw).ttft_sim_ms.tolist() == read.ttft_sim_ms.tolist()
    with recorded.ignored():
        fresh = replay(d, **kw)
    assert len(ran) == len(read)
    for m in ("ttft", "tpot"):
        assert fresh[f"{m}_sim_ms"].tolist() == read[f"{m}_sim_ms"].tolist()


def test_runs_are_noted_and_gathered_once_each(tmp_path, monkeypatch):
    """note() appends a run to its process's file only while RECORD_ENV names a folder; write()
    gathers them, each once, sorted, under the package digest, and read() gives the same floats."""
    from nvlmodel import recorded

    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.delenv(recorded.RECORD_ENV, raising=False)
    recorded.note("k0", (1.0, 2.0, 0))
    assert list(folder.iterdir()) == []
    monkeypatch.setenv(recorded.RECORD_ENV, str(folder))
    third = 1 / 3
    for key, res in (("kb", (third, float("nan"), 2)), ("ka", (0.1, 0.2, 0)), ("kb", (third, float("nan"), 2))):
        recorded.note(key, res)
    path = tmp_path / "replays.csv"
    assert recorded.write(folder, path) == 2
    digest, runs = recorded.read(path)
    assert digest == recorded.package_digest() and list(runs) == ["ka", "kb"]
    assert runs["kb"][0] == third and np.isnan(runs["kb"][1]) and runs["kb"][2] == 2
    recorded.note("ka", (0.1, 0.25, 0))
    with pytest.raises(ValueError, match="ka was noted twice"):
        recorded.write(folder, path)
    with pytest.raises(ValueError, match="folder must be"):
        recorded.write(tmp_path / "missing", path)
    monkeypatch.setenv(recorded.RECORD_ENV, str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=recorded.RECORD_ENV):  # before the run, not after it
        recorded.recall("k1", lambda: pytest.fail("simulated though the runs could not be noted"))
    path.write_text("key,ttft_s\n")
    with pytest.raises(ValueError, match="# package"):
        recorded.read(path)


def test_a_replay_of_a_packaged_table_takes_its_cached_fit(monkeypatch):
    """validate._static: rows whose calibration rows are a packaged table's (the table itself, a
    copy from load_measurements, or its calibration rows alone) take the cached fit of that table,
    the same calibrations without fitting again; rows whose calibration rows differ by one are
    fitted on their own, and a held-out row more or less changes nothing."""
    from nvlmodel.calibrate import fitted, load_measurements
    from nvlmodel.serve import validate

    serving = load_measurements(table="serving")
    assert validate._static(serving, "kernels") == fitted("kernels", "serving")
    own = []
    monkeypatch.setattr(validate, "fit_engines", lambda d, step: own.append(len(d)) or {})
    assert validate._static(load_measurements(), "roofline") == fitted("roofline", "dense") and own == []
    assert validate._static(serving[serving.split == "calibration"], "roofline") == fitted("roofline", "serving")
    assert validate._static(serving[serving.system != "gb200"], "roofline") == fitted("roofline", "serving")
    first = serving.index[(serving.split == "calibration") & (serving.left_out == "") & serving.kv_fits][0]
    validate._static(serving.drop(index=first), "roofline")
    assert own == [len(serving) - 1]
