"""Collective communication time: the seed's ring formula, alpha-beta models, and a fit to NCCL.

The seed (``NVL72GangScheduler.compute_all_reduce_time``, lines 356-372)
    t = 2 (n-1)/n x S / B with B = 1.8 TB/s inside an "NVSwitch domain", 0.9 TB/s across.

Alpha-beta models (nccl-tests ``doc/PERFORMANCE.md``; jax-ml scaling-book)
    ring:  t = t0 + f(op, n) x S / B_bus, f = 2(n-1)/n for all-reduce, (n-1)/n for
           reduce-scatter and all-gather; a ring of n GPUs takes 2(n-1) steps, so the latency per
           step is t0 / (2(n-1)).
    NVLS:  in-switch reduction (NVLink SHARP): each GPU sends and receives the message about once,
           t = t0 + S / B.
    B_bus is at most one GPU's NVLink bandwidth per direction (900 GB/s on NVLink 5, 450 on H100).

Measurements (curated from ai-dynamo/aiconfigurator; see the README beside them):
``nvlmodel/data/nccl_allreduce.csv`` (NCCL on 2/4/8 GPUs of HGX H100, H200 and B200, and on 2/4
GPUs of one GB200 tray) and ``nvlmodel/data/engine_allreduce.csv`` (the serving engines' own
kernels). :func:`fit_alpha_beta` fits t0 and B_bus per system and GPU count by least squares on
the *relative* error, so small and large messages weigh alike.

Tensor-parallel all-reduce in a serving engine (:func:`engine_allreduce`) uses the engine's own
kernel where the engine does: TensorRT-LLM's one-/two-shot kernels at every size, vLLM's custom
all-reduce (CUDA-graph variant) up to its 8 MiB buffer and NCCL above (SGLang ships the same
kernel); each is the *measured* curve, interpolated in log-log. GB200 was measured on 2 and 4
GPUs only: beyond 4 it takes the HGX B200 curves (:data:`STAND_INS`), the same B200 on the same
NVLink 5 switches, one hop between any two GPUs, and their 2- and 4-GPU curves agree with
GB200's within a few percent (:func:`stand_in_agreement`). Beyond 8 GPUs (TP 16-72, NVL72 only)
nothing is measured: the 8-GPU NCCL fit is extended as a ring (:meth:`AlphaBeta.with_gpus`), an
extrapolation and labelled so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .hardware import NIC_BANDWIDTH, get_gpu
from .models import ModelArch, get_model
from .units import MB, TB, MiB, curated_table as _table, no_faster_when_larger, require_choice, require_positive, words

OPS: tuple[str, ...] = ("all_reduce", "reduce_scatter", "all_gather")
ALGORITHMS: tuple[str, ...] = ("ring", "nvls")
#: The seed's all-reduce bandwidths (lines 364 and 369), bytes/s.
SEED_SAME_DOMAIN_BW = 1.8 * TB
SEED_CROSS_DOMAIN_BW = 0.9 * TB
#: The seed's all-reduce table (lines 380-383): TP size, message as printed, message bytes.
SEED_TABLE_ROWS: tuple[tuple[int, str, float], ...] = (
    (2, "32 MB", 32 * MB), (4, "32 MB", 32 * MB), (8, "32 MB", 32 * MB), (8, "128 MB (prefill)", 128 * MB))


def _n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"a collective needs an int number of GPUs >= 2, got {n!r}")
    return int(n)


def bus_factor(op: str, n: int) -> float:
    """Bytes each GPU sends per byte of message in a ring: 2(n-1)/n (all-reduce), (n-1)/n (others)."""
    require_choice("op", op, OPS)
    n = _n(n)
    return (2.0 if op == "all_reduce" else 1.0) * (n - 1) / n


def seed_allreduce_time(message_bytes: float, tp_degree: int, same_domain: bool = True) -> float:
    """The seed's ``compute_all_reduce_time`` in seconds (it returns microseconds):
    2 (tp-1)/tp x S / (1.8 TB/s same domain, 0.9 TB/s across)."""
    require_positive("message_bytes", message_bytes, allow_zero=True)
    bw = SEED_SAME_DOMAIN_BW if same_domain else SEED_CROSS_DOMAIN_BW
    return bus_factor("all_reduce", tp_degree) * message_bytes / bw


@dataclass(frozen=True)
class AlphaBeta:
    """t = latency_s + factor x S / bus_bandwidth (ring), or latency_s + S / bus_bandwidth (NVLS)."""

    latency_s: float
    bus_bandwidth: float  # bytes/s
    n: int  # GPUs the parameters describe
    label: str = ""

    def __post_init__(self):
        require_positive("latency_s", self.latency_s, allow_zero=True)
        require_positive("bus_bandwidth", self.bus_bandwidth)
        _n(self.n)

    def time(self, message_bytes, op: str = "all_reduce", algorithm: str = "ring"):
        """Seconds for ``op`` on a message of ``message_bytes`` (scalar or array) among ``n`` GPUs."""
        require_choice("algorithm", algorithm, ALGORITHMS)
        s = np.asarray(message_bytes, dtype=float)
        if (s < 0).any() or not np.isfinite(s).all():
            raise ValueError("message_bytes must be finite and >= 0")
        if algorithm == "nvls":
            if op != "all_reduce":
                raise ValueError("the NVLS model here covers all_reduce only")
            factor = 1.0
        else:
            factor = bus_factor(op, self.n)
        t = self.latency_s + factor * s / self.bus_bandwidth
        return float(t) if np.ndim(t) == 0 else t

    @property
    def step_latency_s(self) -> float:
        """Latency per ring step: the fixed term spread over the 2(n-1) steps of an all-reduce."""
        return self.latency_s / (2 * (self.n - 1))

    def with_gpus(self, n: int) -> "AlphaBeta":
        """The same link and per-step latency for a ring of ``n`` GPUs (an extrapolation)."""
        n = _n(n)
        return AlphaBeta(self.step_latency_s * 2 * (n - 1), self.bus_bandwidth, n, f"{self.label} -> {n} GPUs")


def _measurements():
    return _table("nccl_allreduce.csv")


def load_measurements() -> "pd.DataFrame":  # noqa: F821
    """The curated NCCL all-reduce points (half precision): system, num_gpus, bytes, latency_ms, source."""
    return _measurements().copy()


MEASURED_SYSTEMS: tuple[str, ...] = ("h100_sxm", "h200_sxm", "b200_sxm", "gb200")
#: A system measured on fewer GPUs than a TP group needs -> the system whose curves stand in for it.
STAND_INS: dict[str, str] = {"gb200": "b200_sxm"}
#: How the stand-ins are named in tables.
STAND_IN_NAMES: dict[str, str] = {"b200_sxm": "HGX B200"}

def fit_alpha_beta(system: str, n: int, *, min_bytes: float = 0.0) -> tuple[AlphaBeta, dict[str, float]]:
    """Fit t = t0 + 2(n-1)/n x S / B to the measured all-reduce of ``system`` on ``n`` GPUs,
    minimising the relative error. Returns the model and its error: median and max absolute
    percentage error over the points used, and their count."""
    require_choice("system", system, MEASURED_SYSTEMS)
    d = _measurements()
    d = d[(d.system == system) & (d.num_gpus == n) & (d.bytes >= min_bytes)]
    if len(d) < 2:
        have = sorted(set(_measurements()[_measurements().system == system].num_gpus))
        raise ValueError(f"no measurements of {system} on {n} GPUs; measured: {have}")
    t = d.latency_ms.to_numpy() / 1e3
    x = bus_factor("all_reduce", n) * d.bytes.to_numpy(dtype=float)
    a = np.column_stack([1 / t, x / t])  # (t0 + x / B) / t ~ 1
    (t0, inv_b), *_ = np.linalg.lstsq(a, np.ones_like(t), rcond=None)
    model = AlphaBeta(max(float(t0), 0.0), 1 / float(inv_b), n, f"{system} fit, {n} GPUs")
    err = np.abs(model.time(d.bytes.to_numpy(dtype=float)) / t - 1) * 100
    return model, {"median_abs_pct_err": float(np.median(err)), "max_abs_pct_err": float(err.max()),
                   "points": int(len(d))}


def fit_table(min_bytes: float = 0.0) -> "pd.DataFrame":  # noqa: F821
    """Fitted latency and bus bandwidth for every measured (system, GPU count), with fit error and
    the bus bandwidth measured at the largest message."""
    import pandas as pd

    rows = []
    d = _measurements()
    for system in MEASURED_SYSTEMS:
        for n in sorted(set(d[d.system == system].num_gpus)):
            m, err = fit_alpha_beta(system, int(n), min_bytes=min_bytes)
            big = d[(d.system == system) & (d.num_gpus == n)].sort_values("bytes").iloc[-1]
            rows.append({"system": system, "gpus": int(n), "latency_us": m.latency_s * 1e6,
                         "step_latency_us": m.step_latency_s * 1e6, "bus_bw_GBps": m.bus_bandwidth / 1e9,
                         "measured_busbw_at_max_GBps": bus_factor("all_reduce", int(n)) * big.bytes
                         / (big.latency_ms / 1e3) / 1e9, **err})
    return pd.DataFrame(rows)


def _measured_counts(system: str) -> list[int]:
    d = _measurements()
    return sorted(int(k) for k in set(d[d.system == require_choice("system", system, MEASURED_SYSTEMS)].num_gpus))


def system_fit(system: str, n: int) -> AlphaBeta:
    """The NCCL alpha-beta model of ``system`` on ``n`` GPUs: the fit where ``n`` was measured;
    for GB200 beyond its measured 4 GPUs, the HGX B200 fit on ``n`` (:data:`STAND_INS`); beyond
    8 GPUs (NVL72 only), the 8-GPU fit extended as a ring (an extrapolation, so labelled)."""
    n = _n(n)
    measured = _measured_counts(system)
    if n in measured:
        return fit_alpha_beta(system, n)[0]
    if system not in STAND_INS:
        raise ValueError(f"{system} was measured on {measured} GPUs; its NVLink domain holds at most {max(measured)}")
    proxy = STAND_INS[system]
    if n in _measured_counts(proxy):
        m = fit_alpha_beta(proxy, n)[0]
        return AlphaBeta(m.latency_s, m.bus_bandwidth, n, f"{proxy} fit, {n} GPUs (standing in for {system})")
    top = max(_measured_counts(proxy))
    base = fit_alpha_beta(proxy, top)[0].with_gpus(n)
    return AlphaBeta(base.latency_s, base.bus_bandwidth, n, f"{proxy} {top}-GPU fit extended as a ring to {n} GPUs "
                     f"(extrapolated, standing in for {system})")


# --------------------------------------------------------------------------------------------
# The serving engines' own all-reduce kernels (measured curves)
# --------------------------------------------------------------------------------------------

KERNELS: tuple[str, ...] = ("nccl", "trtllm", "vllm_graph", "vllm_eager")
#: Engine -> (its kernel, largest message it handles in bytes; NCCL above; None: every size).
ENGINE_KERNELS: dict[str, tuple[str, float | None]] = {
    "trtllm": ("trtllm", None),  # TensorRT-LLM's one-/two-shot kernels (AllReduceStrategy AUTO)
    "vllm": ("vllm_graph", 8 * MiB),  # vLLM CustomAllreduce max_size default 8 MiB, then NCCL
    "sglang": ("vllm_graph", 8 * MiB),  # SGLang ships vLLM's custom all-reduce (not measured itself)
    "nccl": ("nccl", None),
}


def _engine_measurements():
    return _table("engine_allreduce.csv")


def load_engine_measurements() -> "pd.DataFrame":  # noqa: F821
    """The curated engine all-reduce points (BF16): system, kernel, num_gpus, bytes, latency_ms, source."""
    return _engine_measurements().copy()


def _loglog(x, xs, ys):
    """Log-log interpolation between measured points (``xs`` increasing); below the smallest, the
    smallest's value (a latency floor); beyond the largest, the largest's value scaled by x / xs[-1]
    (the extra bytes or tokens at the largest point's rate)."""
    x = np.asarray(x, dtype=float)
    inside = np.exp(np.interp(np.log(np.clip(x, xs[0], xs[-1])), np.log(xs), np.log(ys)))
    return inside * np.maximum(x / xs[-1], 1.0)


@dataclass(frozen=True, eq=False)
class MeasuredCurve:
    """All-reduce time as measured: log-log interpolation between measured sizes; below the
    smallest, the smallest size's time (a latency floor); above the largest, that time plus the
    extra bytes at the largest size's algorithm bandwidth. A size measured slower than a larger
    one takes the larger one's time (:func:`nvlmodel.units.no_faster_when_larger`: a message padded
    to the larger size would run in it). Of the curves the engines run, this changes vLLM's kernel on
    8 B200 GPUs (the 8-GPU GB200 stand-in too) by up to 36 %, 26 us measured at 256-512 KiB
    against 17 us at 1 MiB, and every other by at most 18 %, at messages of 2 KiB or less.
    ``seconds`` keeps the measured times."""

    sizes: np.ndarray  # bytes, increasing
    seconds: np.ndarray
    n: int
    label: str
    system: str  # whose measurements these are
    for_system: str  # the system asked for (another where a stand-in's curve serves, :data:`STAND_INS`)
    #: the times :meth:`time` reads: ``seconds`` through their lower envelope, made once
    envelope: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "envelope", no_faster_when_larger(self.seconds))

    @property
    def own(self) -> bool:
        """Whether the curve was measured on the system asked for (not on its stand-in)."""
        return self.system == self.for_system

    def time(self, message_bytes):
        s = np.asarray(message_bytes, dtype=float)
        if (s < 0).any() or not np.isfinite(s).all():
            raise ValueError("message_bytes must be finite and >= 0")
        t = _loglog(s, self.sizes, self.envelope)
        return float(t) if np.ndim(t) == 0 else t


def allreduce_curve(system: str, n: int, kernel: str = "nccl") -> "MeasuredCurve | AlphaBeta":
    """The measured all-reduce curve of ``kernel`` (:data:`KERNELS`) on ``n`` GPUs of ``system``;
    a stand-in system's curve where ``system`` was not measured on ``n`` (:data:`STAND_INS`); beyond
    every measured count, :func:`system_fit` (an extrapolated ring)."""
    require_choice("kernel", kernel, KERNELS)
    n = _n(n)
    d = _measurements() if kernel == "nccl" else _engine_measurements()
    if kernel != "nccl":
        d = d[d.kernel == kernel]
    for who in (system, STAND_INS.get(system)):
        if who is None:
            continue
        pts = d[(d.system == who) & (d.num_gpus == n)].sort_values("bytes")
        if len(pts) >= 2:
            note = "" if who == system else f" (standing in for {system})"
            return MeasuredCurve(pts.bytes.to_numpy(float), pts.latency_ms.to_numpy(float) / 1e3, n,
                                 f"{who} {kernel}, {n} GPUs, measured{note}", who, system)
    return system_fit(system, n)


@dataclass(frozen=True, eq=False)
class EngineAllReduce:
    """What one serving engine's TP all-reduce costs: its own kernel up to ``limit`` bytes, NCCL above."""

    engine: str
    kernel: "MeasuredCurve | AlphaBeta"
    nccl: "MeasuredCurve | AlphaBeta"
    limit: float | None

    def time(self, message_bytes):
        s = np.asarray(message_bytes, dtype=float)
        t = self.kernel.time(s) if self.limit is None else np.where(s <= self.limit, self.kernel.time(s),
                                                                     self.nccl.time(s))
        return float(t) if np.ndim(t) == 0 else t

    @property
    def label(self) -> str:
        tail = "" if self.limit is None else f" up to {self.limit / MiB:.0f} MiB, then {self.nccl.label}"
        return f"{self.engine}: {self.kernel.label}{tail}"


@dataclass(frozen=True, eq=False)
class NodesAllReduce:
    """An all-reduce over ``nodes`` whole 8-GPU HGX nodes (a tensor-parallel group that spans them):
    NCCL inside each node as measured on its 8 GPUs (the engines' own kernels need every GPU on one
    NVLink fabric, so they hand a group across nodes to NCCL), plus the bytes that cross the
    network: a ring over the nodes reduces and gathers ``2 (nodes - 1) / nodes`` of the message
    through the nodes' eight NICs, one 400 Gb/s ConnectX-7 per GPU (at line rate: assumed). What
    the crossing costs beyond its bytes (the network's latency, NCCL's protocol between nodes) is
    not here: :attr:`nvlmodel.calibrate.Calibration.t_xar`, fitted on the rows that ran so.

    >>> ar = engine_allreduce("h100_sxm", 16)
    >>> inside = allreduce_curve("h100_sxm", 8, "nccl").time(8 * MiB)
    >>> round((ar.time(8 * MiB) - inside) * 1e6, 1)  # 8 MiB: half of it through 8 NICs at 50 GB/s
    21.0
    """

    intra: "MeasuredCurve | AlphaBeta"
    nodes: int

    def time(self, message_bytes):
        s = np.asarray(message_bytes, dtype=float)
        t = self.intra.time(s) + 2.0 * (self.nodes - 1) / self.nodes * s / HGX_NODE_GPUS / NIC_BANDWIDTH["connectx-7"]
        return float(t) if np.ndim(t) == 0 else t

    @property
    def label(self) -> str:
        return (f"{self.intra.label} inside each of {self.nodes} nodes + InfiniBand between them at 400 Gb/s per GPU "
                "(assumed), + a fitted cost per all-reduce (Calibration.t_xar)")


@lru_cache(maxsize=None)
def engine_allreduce(system: str, n: int, engine: str = "trtllm") -> "EngineAllReduce | NodesAllReduce":
    """The TP all-reduce of ``engine`` (trtllm, vllm, sglang or nccl) on ``n`` GPUs of ``system``;
    on more GPUs than one 8-GPU HGX node, whole nodes (:class:`NodesAllReduce`, any engine)."""
    kernel, limit = ENGINE_KERNELS[require_choice("engine", engine, ENGINE_KERNELS)]
    if system != "gb200" and n > HGX_NODE_GPUS:
        if n % HGX_NODE_GPUS:
            raise ValueError(f"an all-reduce over {n} GPUs of {system} spans nodes: whole {HGX_NODE_GPUS}-GPU nodes "
                             "only")
        return NodesAllReduce(allreduce_curve(system, HGX_NODE_GPUS, "nccl"), n // HGX_NODE_GPUS)
    nccl = allreduce_curve(system, n, "nccl")
    return EngineAllReduce(engine, allreduce_curve(system, n, kernel) if kernel != "nccl" else nccl, nccl, limit)


def stand_in_agreement(system: str = "gb200") -> "pd.DataFrame":  # noqa: F821
    """How far the stand-in's measured curves lie from ``system``'s where both were measured:
    median and largest |proxy / system - 1| (percent) per kernel and GPU count."""
    import pandas as pd

    proxy = STAND_INS[require_choice("system", system, tuple(STAND_INS))]
    rows = []
    for kernel in KERNELS:
        d = _measurements() if kernel == "nccl" else _engine_measurements()[lambda x: x.kernel == kernel]
        for n in sorted(set(d[d.system == system].num_gpus)):
            a = d[(d.system == system) & (d.num_gpus == n)].set_index("bytes").latency_ms
            b = d[(d.system == proxy) & (d.num_gpus == n)].set_index("bytes").latency_ms
            common = a.index.intersection(b.index)
            err = (b[common] / a[common] - 1).abs() * 100
            rows.append({"kernel": kernel, "gpus": int(n), "sizes": len(common),
                         "median_abs_pct": float(err.median()), "max_abs_pct": float(err.max())})
    return pd.DataFrame(rows)


def allreduce_panels(systems: tuple[str, ...] = ("h100_sxm", "gb200"), counts: tuple[int, ...] = (2, 4, 8)) -> list:
    """What the all-reduce figure draws, per system and GPU count: the measured NCCL points
    (:func:`allreduce_curve`: the system's own, or its stand-in's where it was not measured),
    whether they are its own, and the alpha-beta model (:func:`system_fit`)."""
    panels = []
    for system in systems:
        rows = []
        for n in counts:
            curve = allreduce_curve(system, n, "nccl")
            if not isinstance(curve, MeasuredCurve):
                raise ValueError(f"no measured NCCL curve for {system} on {n} GPUs, nor for a stand-in")
            rows.append({"n": n, "bytes": curve.sizes, "latency_s": curve.seconds, "own": curve.own,
                         "fit": system_fit(system, n)})
        panels.append((system, rows))
    return panels


def nvlink_ring(gpu_bw_per_direction: float, n: int, step_latency_s: float = 0.0) -> AlphaBeta:
    """The pure ring bound on a one-hop NVLink fabric: bus bandwidth = one GPU's NVLink bandwidth per
    direction, plus ``step_latency_s`` per ring step."""
    require_positive("gpu_bw_per_direction", gpu_bw_per_direction)
    require_positive("step_latency_s", step_latency_s, allow_zero=True)
    return AlphaBeta(step_latency_s * 2 * (_n(n) - 1), gpu_bw_per_direction, n, f"NVLink ring bound, {n} GPUs")


def tp_allreduce_bytes(model: str | ModelArch, tokens: int, bytes_per_element: float = 2.0) -> float:
    """Bytes of one tensor-parallel all-reduce: the hidden state of ``tokens`` tokens."""
    m = model if isinstance(model, ModelArch) else get_model(model)
    require_positive("tokens", tokens)
    require_positive("bytes_per_element", bytes_per_element)
    return tokens * m.hidden * bytes_per_element


def tp_step_allreduce_time(model: str | ModelArch, tokens: int, time_of_one, *,
                           bytes_per_element: float = 2.0) -> float:
    """TP communication of one forward step: two all-reduces per layer (after attention and after
    the MLP, Megatron-style) of the hidden state of ``tokens`` tokens. ``time_of_one(bytes)`` gives
    the time of one all-reduce (e.g. ``AlphaBeta(...).time`` or a lambda over
    :func:`seed_allreduce_time`)."""
    m = model if isinstance(model, ModelArch) else get_model(model)
    return 2 * m.layers * float(time_of_one(tp_allreduce_bytes(m, tokens, bytes_per_element)))


def tp_comm_table(model: str = "llama-3.1-405b", tp: int = 8, decode_batch: int = 256,
                  prefill_tokens: int = 4096) -> "pd.DataFrame":  # noqa: F821
    """TP all-reduce time per forward step and per token, decode and prefill: the seed's formula
    (same domain), the NVLink 5 ring bound, NCCL and TensorRT-LLM's own kernels as measured on
    GB200 (beyond 4 GPUs: on HGX B200, :data:`STAND_INS`) and on H100."""
    import pandas as pd

    gb, h = engine_allreduce("gb200", tp, "nccl"), None
    if tp <= 8:
        h = engine_allreduce("h100_sxm", tp, "nccl")
    models = {
        "seed formula (1.8 TB/s)": lambda b: seed_allreduce_time(b, tp),
        "NVLink 5 ring bound (900 GB/s)": nvlink_ring(get_gpu("gb200-b200").nvlink_bw_per_direction, tp).time,
        f"GB200 NCCL ({_provenance(gb.kernel)})": gb.time,
        f"GB200 TensorRT-LLM kernel ({_provenance(engine_allreduce('gb200', tp, 'trtllm').kernel)})":
            engine_allreduce("gb200", tp, "trtllm").time,
    }
    if h is not None:
        models["H100 NCCL (measured)"] = h.time
        models["H100 TensorRT-LLM kernel (measured)"] = engine_allreduce("h100_sxm", tp, "trtllm").time
    rows = []
    for phase, tokens in (("decode", decode_batch), ("prefill", prefill_tokens)):
        for name, fn in models.items():
            step = tp_step_allreduce_time(model, tokens, fn)
            rows.append({"phase": phase, "tokens per step": tokens, "model": name,
                         "message_MiB": tp_allreduce_bytes(model, tokens) / 2**20,
                         "one_allreduce_us": float(fn(tp_allreduce_bytes(model, tokens))) * 1e6,
                         "per_step_ms": step * 1e3, "per_token_us": step / tokens * 1e6})
    return pd.DataFrame(rows)


def _provenance(curve: "MeasuredCurve | AlphaBeta") -> str:
    """How a curve was obtained, in a few words: measured, measured on a stand-in, or extrapolated
    (:func:`allreduce_curve` falls back to a fit only beyond every measured count)."""
    if not isinstance(curve, MeasuredCurve):
        return "extrapolated"
    return "measured" if curve.own else f"{STAND_IN_NAMES[curve.system]} measured"


# --------------------------------------------------------------------------------------------
# Expert-parallel all-to-all (MoE dispatch and combine)
# --------------------------------------------------------------------------------------------

#: Weight precision of a deployment -> payload dtype of the measured GB200 dispatch kernel.
ALLTOALL_DTYPES: dict[str, str] = {"fp4": "nvfp4", "fp8": "fp8", "bf16": "bfloat16"}
#: Bytes per element of the dispatched activations by precision (NVFP4: 4.5 bits); combine is BF16.
DISPATCH_BYTES: dict[str, float] = {"fp4": 0.5625, "fp8": 1.0, "bf16": 2.0}
#: The shape the GB200 all-to-all was measured at (DeepSeek-V3: hidden 7,168, top-8).
MEASURED_MOE_SHAPE = (7168, 8)
#: Between HGX nodes, expert-parallel traffic leaves each GPU through its own NIC (one ConnectX-7,
#: 400 Gb/s, per GPU): an assumption (NCCL/NVSHMEM over InfiniBand at line rate), not a measurement.
HGX_NODE_GPUS = 8


def _alltoall_measurements():
    return _table("moe_alltoall.csv")


def _nccl_alltoall():
    return _table("nccl_alltoall.csv")


@lru_cache(maxsize=None)
def _gb200_alltoall_curves(dtype: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The measured GB200 MoE all-to-all of one payload dtype: EP size -> (tokens per rank,
    seconds), increasing (read from the table once: a simulation asks thousands of times)."""
    d = _alltoall_measurements()
    d = d[d.dtype == dtype]
    out = {}
    for e in sorted(set(d.ep)):
        pts = d[d.ep == e].sort_values("tokens_per_rank")
        out[int(e)] = (pts.tokens_per_rank.to_numpy(float), pts.latency_ms.to_numpy(float) / 1e3)
    return out


@lru_cache(maxsize=None)
def _nccl_alltoall_curve(system: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The measured NCCL all-to-all of ``n`` GPUs of ``system``: (bytes, seconds), increasing (read once)."""
    d = _nccl_alltoall()
    pts = d[(d.system == system) & (d.num_gpus == n)].sort_values("bytes")
    return pts.bytes.to_numpy(float), pts.latency_ms.to_numpy(float) / 1e3


def expected_destinations(ep: int, topk: int) -> float:
    """Expected distinct EP ranks one token is sent to when its ``topk`` experts fall uniformly
    among ``ep`` ranks: ep x (1 - (1 - 1/ep) ** topk)."""
    return ep * (1.0 - (1.0 - 1.0 / ep) ** topk)


@dataclass(frozen=True)
class MoEAllToAll:
    """Dispatch + combine time of one MoE layer for ``tokens`` per EP rank (scalar or array).

    ``gb200``: TensorRT-LLM's NVLink all-to-all as measured on GB200 NVL72 (EP 2-64; between
    measured EP sizes, log-log interpolation in EP), with other model shapes mapped to the measured
    one by payload (tokens x hidden x top-k). HGX systems: NCCL all-to-all as measured on 2/4/8
    GPUs of one node, each token's hidden state sent once to each distinct destination rank
    (:func:`expected_destinations`; dispatch in the weight precision, combine in BF16); beyond 8
    GPUs, the traffic that leaves the node goes through one NIC per GPU at line rate (assumed)."""

    system: str
    ep: int
    hidden: int
    topk: int
    precision: str
    label: str

    def time(self, tokens):
        t = np.asarray(tokens, dtype=float)
        if (t < 0).any() or not np.isfinite(t).all():
            raise ValueError("tokens must be finite and >= 0")
        if self.ep == 1:
            out = np.zeros_like(t)
        elif self.system == "gb200":
            out = self._gb200(t)
        else:
            out = self._hgx(t)
        out = np.where(t > 0, out, 0.0)
        return float(out) if np.ndim(out) == 0 else out

    def _gb200(self, t):
        curves = _gb200_alltoall_curves(ALLTOALL_DTYPES[self.precision])
        scale = (self.hidden * min(self.topk, self.ep)) / (MEASURED_MOE_SHAPE[0] * min(MEASURED_MOE_SHAPE[1], self.ep))
        eps = sorted(curves)
        if self.ep in curves:
            return _loglog(t * scale, *curves[self.ep])
        lo = max([e for e in eps if e < self.ep], default=eps[0])
        hi = min([e for e in eps if e > self.ep], default=eps[-1])
        if lo == hi:
            return _loglog(t * scale, *curves[lo]) * self.ep / lo  # beyond EP 64: grows with the ranks (extrapolated)
        w = (np.log(self.ep) - np.log(lo)) / (np.log(hi) - np.log(lo))
        return np.exp((1 - w) * np.log(_loglog(t * scale, *curves[lo])) + w * np.log(_loglog(t * scale, *curves[hi])))

    def _nccl(self, n: int, message_bytes):
        return _loglog(message_bytes, *_nccl_alltoall_curve(self.system, n))

    def _hgx(self, t):
        dest = expected_destinations(self.ep, self.topk)
        per_token = self.hidden * dest * (DISPATCH_BYTES[self.precision] + 2.0)  # dispatch + combine
        if self.ep <= HGX_NODE_GPUS:
            nccl_d = self._nccl(self.ep, t * self.hidden * dest * DISPATCH_BYTES[self.precision])
            nccl_c = self._nccl(self.ep, t * self.hidden * dest * 2.0)
            return nccl_d + nccl_c
        inside = HGX_NODE_GPUS / self.ep
        intra = (self._nccl(HGX_NODE_GPUS, t * self.hidden * dest * inside * DISPATCH_BYTES[self.precision])
                 + self._nccl(HGX_NODE_GPUS, t * self.hidden * dest * inside * 2.0))
        inter = t * per_token * (1 - inside) / NIC_BANDWIDTH["connectx-7"]
        return np.maximum(intra, inter) + self._nccl(HGX_NODE_GPUS, 0.0)  # plus one latency floor


ALLTOALL_SYSTEMS: tuple[str, ...] = ("h100_sxm", "h200_sxm", "b200_sxm", "gb200")


def moe_alltoall(system: str, ep: int, model: "str | ModelArch" = "deepseek-v3", precision: str = "fp8") -> MoEAllToAll:
    """The dispatch + combine of one MoE layer of ``model`` at ``ep``-way expert parallelism on
    ``system`` (:class:`MoEAllToAll`; ``ep = 1``: none)."""
    require_choice("system", system, ALLTOALL_SYSTEMS)
    require_choice("precision", precision, ALLTOALL_DTYPES)
    m = model if isinstance(model, ModelArch) else get_model(model)
    if not m.is_moe:
        raise ValueError(f"{m.name} is dense: it has no expert all-to-all")
    ep = int(ep)
    if ep < 1:
        raise ValueError(f"ep must be >= 1, got {ep}")
    if system == "gb200":
        label = ("TensorRT-LLM NVLink all-to-all, measured on GB200" + ("" if ep in (2, 4, 8, 16, 32, 64)
                 else " (interpolated in EP)" if ep < 64 else " (extrapolated beyond EP 64)"))
    elif ep <= HGX_NODE_GPUS:
        label = f"NCCL all-to-all, measured on {ep} GPUs of {words(system)}"
    else:
        label = (f"NCCL all-to-all inside each 8-GPU {words(system)} node + InfiniBand between nodes at 400 Gb/s per GPU "
                 "(assumed)")
    return MoEAllToAll(system, ep, m.hidden, m.experts_active, precision, label)


def deepep_comparison(system: str = "h100_sxm") -> "pd.DataFrame":  # noqa: F821
    """The HGX expert all-to-all model (:func:`moe_alltoall`, DeepSeek-V3 shape, FP8 dispatch and
    BF16 combine) at 128 tokens per rank beside DeepSeek's published DeepEP low-latency kernels on
    the same kind of network (H800, one 400 Gb/s InfiniBand NIC per GPU;
    ``nvlmodel/data/deepep_low_latency.csv``): evidence for the model, not fitted to it. Columns:
    ``EP``, ``DeepEP dispatch + combine (us)``, ``model (us)``, ``model / DeepEP``."""
    import pandas as pd

    d = _table("deepep_low_latency.csv")
    rows = []
    for r in d.itertuples():
        modelled = moe_alltoall(system, int(r.ep), "deepseek-v3", "fp8").time(float(r.tokens_per_rank)) * 1e6
        measured = float(r.dispatch_us + r.combine_us)
        rows.append({"EP": int(r.ep), "DeepEP dispatch + combine (us)": measured, "model (us)": modelled,
                     "model / DeepEP": modelled / measured})
    return pd.DataFrame(rows).set_index("EP")
