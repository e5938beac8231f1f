"""Dynamo under load: a request-level discrete-event simulation of a deployment in one rack, at
engine-step granularity (chapter 9).

* **Clients** (:mod:`~nvlmodel.serve.workload`): closed loop (N in flight, as the measured rows
  were taken), open loop (Poisson arrivals) or a replayed trace CSV; generators with shared
  prefixes (system prompts, multi-turn chat), deterministic under a seed.
* **Router**: the frontend adds the engine's fitted per-request cost (``t_req``), then routes over
  workers by a chapter 4 policy (:data:`nvlmodel.kvbm.routing.POLICIES`: ``dynamo``'s cost
  ``overlap_weight x (prompt blocks - cached prefix blocks) + active blocks``, ``seed``,
  ``least-loaded``, ``random``).
* **Workers** (:mod:`~nvlmodel.serve.engine`): TP groups placed by chapter 5's gang scheduler,
  each with continuous batching (every running sequence decodes each step; prefill chunks fill
  the token budget; new requests are admitted while KV blocks and seats last), a pool of KV blocks
  (:func:`nvlmodel.kvbm.kv_capacity` with the engine's memory defaults), shared prefix entries
  with reference counts and LRU eviction, and recompute preemption when blocks run out. Step time
  is the calibrated step model (:mod:`~nvlmodel.serve.cost`): the engines' measured kernels
  (:data:`nvlmodel.calibrate.STATIC_STEP`; or the roofline at the engine's fitted fractions of
  peak), the measured all-reduce and all-to-all, the fitted per-step costs. Steps in
  which nothing but decoding happens are run in closed form, many at a time, until the next
  completion, arrival or block shortage.
* **KV tiers**: G1 (the worker's HBM), ``peer`` HBM over NVLink (the rack; on HGX the node),
  ``host`` (G2: Grace memory over NVLink-C2C on GB200, DRAM over PCIe 5 on HGX), ``disk`` (G3),
  and the seed's ``switch`` tier (a labelled hypothesis). Prefixes found below G1 are onboarded
  over the tier's link, shared by concurrent transfers (processor sharing), each paying its bytes
  and one copy per layer (chapter 4's per-copy cost).
* **Disaggregation**: prefill workers prefill; the prompt's KV moves to the least loaded decode
  worker over NVLink (NVL72) or RDMA (HGX), on a link shared by processor sharing, as its bytes and
  one copy per layer; the first token leaves when the decode worker has it and a seat for it.
* **Outputs**: per-request TTFT, TPOT, end-to-end latency, tokens, preemptions, prefix hits by
  tier; throughput, goodput under an SLA, busy fraction (:meth:`SimResult.summary`).

Speculative decoding (MTP) is charged per token emitted (:class:`~nvlmodel.serve.cost.SpeculativeStepCost`),
and the holds some benchmark scripts turn on are replayed as the engines run them (TensorRT-LLM's
attention-DP balance, with each request on its rank, and batch wait; SGLang's receive interval).
What it leaves out: the engines' other scheduling policies (one FIFO policy here), and network and
frontend queueing beyond the fitted ``t_req``.

Runs the book makes are recorded (:mod:`~nvlmodel.recorded`): under the package that
recorded them, a replay reads them instead of simulating again.
"""

from .cost import StepCost, step_cost
from .engine import (HIT_TIERS, TIERS, Deployment, SimResult, calibrations, closed_loop_means, default_engine, simulate)
from .workload import SHAPES, TRACE_COLUMNS, Requests, Workload, read_trace

__all__ = ["HIT_TIERS", "SHAPES", "TIERS", "TRACE_COLUMNS", "Deployment", "Requests", "SimResult", "StepCost",
           "Workload", "calibrations", "closed_loop_means", "default_engine", "read_trace", "simulate", "step_cost"]
