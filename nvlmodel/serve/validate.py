"""Replaying the measured closed-loop rows through the simulation, and comparing its TTFT and TPOT
with the static model of chapter 7 on the same rows (calibration and held-out)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..calibrate import STATIC_STEP, STEP_MODELS, Calibration, fit_engines, fitted, kv_capacity_of, predictions, startup_wave
from ..calibrate.data import _config, _given, engine_settings
from ..units import require_choice, require_positive_int
from .. import recorded
from .engine import Deployment, calibrations, closed_loop_means, means_key, simulate
from .workload import Requests, Workload


@dataclass(frozen=True)
class Protocol:
    """How a benchmark client loads an engine in a closed loop: ``concurrency`` clients start
    together and each sends ``per_client`` requests, one after another; each request's input and
    output lengths are drawn uniformly among the integers in [``low`` x nominal, nominal] (``low =
    1``: every request the nominal lengths), and its answer runs to its drawn length (EOS ignored).
    The first ``warmup`` requests per client are sent but not counted (the clients do not stop in
    between). A client whose warm-up phase drains before the counted requests start (aiperf's) is a
    fresh run of the counted requests, from an idle engine: ``warmup=0``. The reported TTFT and
    TPOT are means over the counted requests."""

    per_client: int
    low: float = 1.0
    warmup: int = 0
    source: str = ""

    def __post_init__(self):
        require_positive_int("per_client", self.per_client)
        if not 0 < self.low <= 1:
            raise ValueError(f"low must be in (0, 1], got {self.low!r}")
        if not (isinstance(self.warmup, int) and self.warmup >= 0):
            raise ValueError(f"warmup must be an int >= 0, got {self.warmup!r}")

    def requests(self, isl: int, osl: int, concurrency: int, seed: int = 0) -> Requests:
        """The request table of one run: ``concurrency x (warmup + per_client)`` closed-loop
        requests in the order the clients send them."""
        n = require_positive_int("concurrency", concurrency) * (self.warmup + self.per_client)
        rng = np.random.default_rng(seed)

        def lengths(nominal: int) -> np.ndarray:
            if self.low == 1:
                return np.full(n, nominal, dtype=np.int64)
            return rng.integers(max(1, int(nominal * self.low)), nominal + 1, size=n, dtype=np.int64)

        zeros = np.zeros(n, dtype=np.int64)
        return Requests(np.full(n, np.nan), lengths(isl), lengths(osl), zeros - 1, zeros, zeros.copy())

    def startup_wait(self, clients: int, servers: int, service_s: float) -> float:
        """What the run's start adds to the mean TTFT this protocol reports, by hand: the
        ``clients`` send their first requests at once, into ``servers`` that each take one prompt
        of ``service_s`` at a time (a disaggregated prefill pool: one prompt per attention rank per
        step), so the j-th first request of a server waits ``j x service_s``
        (:func:`nvlmodel.calibrate.startup_wave`); that wave is one request in ``per_client`` of
        those counted (none when warm-up requests absorb it). The backlog's tail, which some second
        requests still meet, is left out.

        >>> round(PROTOCOLS["inferencemax"].startup_wait(8, 4, 1.0), 3)  # waits 0,0,0,0,1,1,1,1: 0.5 s / 10
        0.05
        """
        require_positive_int("clients", clients)
        require_positive_int("servers", servers)
        if not service_s >= 0:
            raise ValueError(f"service_s must be a number >= 0, got {service_s!r}")
        return 0.0 if self.warmup else startup_wave(clients / servers, service_s) / self.per_client


#: Benchmark protocols a replay can follow. The serving rows do not record theirs; ``inferencemax``
#: is the replay's default (an assumption; chapter 9 shows the others' effect).
PROTOCOLS: dict[str, Protocol] = {
    "inferencemax": Protocol(
        per_client=10, low=0.8,
        source="InferenceMAX's client (vLLM benchmark_serving.py --dataset-name random --random-range-ratio 0.8 "
               "--num-prompts 10 x concurrency --max-concurrency --request-rate inf --ignore-eos): lengths in "
               "[0.8, 1] x nominal, 10 requests per client"),
    "aiperf": Protocol(
        per_client=20, low=1.0, warmup=0,
        source="aiconfigurator's generated benchmark (bench_run.sh.j2: aiperf --isl-stddev 0 --osl-stddev 0 "
               "--num-requests 20 x concurrency --warmup-request-count 2 x concurrency): fixed lengths; aiperf "
               "waits for a phase's requests to return before the next phase starts (aiperf/timing/"
               "credit_issuing_strategy.py, _execute_phases), so the warm-up drains and the counted requests "
               "start together from an idle engine, as a fresh run's do"),
    "lockstep": Protocol(
        per_client=4, low=1.0,
        source="the previous edition's replay: fixed lengths, 4 requests per client (clients run in lockstep)"),
}
#: The protocol replays follow unless told otherwise.
PROTOCOL = "inferencemax"


_DISAGG_FIELDS = ("workers", "prefill_tp", "prefill_attention_dp", "prefill_ep", "prefill_workers")
#: Extra tokens per step the benchmark configurations allow beyond one prompt (see :func:`benchmark_limits`).
BENCHMARK_EXTRA_TOKENS = 1500


#: TensorRT-LLM's attention-DP balance as InferenceMAX's scripts configure it, by model (and, for
#: these models' rows, the scripts' ``max_num_tokens``: :func:`benchmark_limits`): its
#: DeepSeek-R1 scripts (``benchmarks/dsr1_fp8_h200_trt_slurm.sh``, ``dsr1_fp8_b200_trt_slurm.sh``,
#: ``dsr1_fp4_b200_trt_slurm.sh``) add ``attention_dp_config: {enable_balance: true, timeout_iters:
#: 60, batching_wait_iters: 0}`` wherever they turn attention DP on. Their gpt-oss script turns the
#: balance on with TensorRT-LLM's default timeout and batching wait, which the simulation does not
#: hold (:class:`~nvlmodel.serve.Deployment` ``adp_balance_iters`` has no batching wait), so those
#: rows are replayed without it.
INFERENCEMAX_ADP_BALANCE: dict[str, int] = {"deepseek-v3": 60}
#: The data dumps whose rows InferenceMAX's scripts measured (the dated exports: chapter 9).
INFERENCEMAX_HARNESS = "dated export"
#: The fewest tokens per step InferenceMAX's DeepSeek-R1 TensorRT-LLM scripts set, and the day they
#: began to: ``MAX_NUM_TOKENS > 8192 ? MAX_NUM_TOKENS : 8192`` after the (CONC + ISL + 64) rule, from
#: 2026-01-21 in every later version (SemiAnalysisAI/InferenceX 64af5a771, "Adding evals after
#: throughput benchmarks": ``benchmarks/dsr1_fp8_h200_trt_slurm.sh``, ``dsr1_fp8_b200_trt_slurm.sh``,
#: ``dsr1_fp4_b200_trt_slurm.sh``, then ``single_node/dsr1_*_trt.sh``).
INFERENCEMAX_TRT_MIN_TOKENS: tuple[int, str] = (8192, "2026-01-21")


def benchmark_limits(row) -> dict:
    """The engine limits of the deployments the measured rows were benchmarked with, as
    aiconfigurator's benchmark rules set them (``src/aiconfigurator/generator/rule_plugin/benchmark/
    trtllm.rule`` and ``vllm.rule``), per attention rank: an aggregated worker takes
    ``max_batch_size`` sequences (the row's concurrency over its workers and ranks) and
    ``max_batch_size + isl + 1500`` tokens per step; a disaggregated prefill worker one prompt
    (``max_batch_size = 1``) of ``isl + 1500`` tokens; a decode worker ``max_batch_size`` sequences
    and as many tokens. A disaggregated row whose benchmark configuration names its limits
    (``decode_max_batch``, ``prefill_max_batch``, ``prefill_max_tokens``: InferenceMAX's, recovered with
    its layout) runs with those: fewer decode seats than its concurrency per rank leave requests
    waiting for one. TensorRT-LLM rounds token budgets up to its 32-token blocks. InferenceMAX's
    aggregated DeepSeek-R1 runs under TensorRT-LLM follow their scripts instead
    (:data:`INFERENCEMAX_ADP_BALANCE`): ``(concurrency + isl + 64)`` tokens per step and rank,
    rounded up to 64 (at least 8,192 for rows measured from 2026-01-21:
    :data:`INFERENCEMAX_TRT_MIN_TOKENS`), and with attention DP the scripts' attention-DP balance. A
    row that names its script's tokens per step (``max_num_tokens``) runs with them. Returned as
    :class:`~nvlmodel.serve.Deployment` keywords; what else a row's script set (its batch wait,
    receive interval, KV dtype, MoE kernel, draft tokens) is
    :func:`nvlmodel.calibrate.data.engine_settings`'s."""
    ranks = 1
    for col in ("workers", "attention_dp"):
        ranks *= int(getattr(row, col)) if _given(row, col) else 1
    batch = max(1, -(-int(row.concurrency) // ranks))
    block = 32 if str(row.engine).startswith("trtllm") else 1

    def up(n):
        return -(-n // block) * block

    if getattr(row, "mode", "agg") == "disagg":
        # a row whose configuration names its engine limits (InferenceMAX's: scripts/curate_serving.py)
        # runs with them: its decode seats per rank, its prefill prompts and tokens per step
        seats = min(batch, int(row.decode_max_batch)) if _given(row, "decode_max_batch") else batch
        prompts = int(row.prefill_max_batch) if _given(row, "prefill_max_batch") else 1
        tokens = (int(row.prefill_max_tokens) if _given(row, "prefill_max_tokens")
                  else int(row.isl) + BENCHMARK_EXTRA_TOKENS)
        return dict(max_seqs=seats, token_budget=up(seats), prefill_max_seqs=prompts, prefill_token_budget=up(tokens))
    out = dict(max_seqs=batch, token_budget=up(batch + int(row.isl) + BENCHMARK_EXTRA_TOKENS))
    if _given(row, "max_num_tokens"):  # the tokens per step a benchmark script set (scripts/curate_measurements.py)
        out["token_budget"] = up(int(row.max_num_tokens))
    if (str(row.engine).startswith("trtllm") and str(getattr(row, "harness", "")).startswith(INFERENCEMAX_HARNESS)
            and getattr(row, "model", None) in INFERENCEMAX_ADP_BALANCE):
        # the script's max_num_tokens, per attention rank
        out["token_budget"] = inferencemax_trt_tokens(int(row.concurrency), int(row.isl), getattr(row, "measured", ""))
        if _given(row, "attention_dp") and int(row.attention_dp) > 1:
            out["adp_balance_iters"] = INFERENCEMAX_ADP_BALANCE[row.model]
    return out


def inferencemax_trt_tokens(concurrency: int, isl: int, measured="") -> int:
    """The tokens per step (``max_num_tokens``) InferenceMAX's DeepSeek-R1 TensorRT-LLM scripts set
    for a run of ``concurrency`` clients and ``isl``-token prompts measured on the day ``measured``
    (ISO; anything else, such as a missing value, counts as before every change): (concurrency +
    isl + 64) rounded up to 64, and at least 8,192 from the day the scripts said so
    (:data:`INFERENCEMAX_TRT_MIN_TOKENS`).

    >>> inferencemax_trt_tokens(256, 1024, "2026-01-20"), inferencemax_trt_tokens(256, 1024, "2026-01-21")
    (1344, 8192)
    """
    tokens = -(-(require_positive_int("concurrency", concurrency) + require_positive_int("isl", isl) + 64) // 64) * 64
    least, since = INFERENCEMAX_TRT_MIN_TOKENS
    return max(tokens, least) if isinstance(measured, str) and measured >= since else tokens


def _protocol(protocol: "str | Protocol") -> Protocol:
    return protocol if isinstance(protocol, Protocol) else PROTOCOLS[require_choice("protocol", protocol, PROTOCOLS)]


#: The step model each table's simulated TTFT (the book's predictor of record for TTFT) is taken
#: with, by one rule applied to calibration rows only: the step whose replay errs less on the
#: table's H100/H200 rows (median absolute TTFT error; :func:`sim_step_evidence` recomputes it).
#: At 89dbce6, all calibration rows: dense 18.9 % (roofline) against 23.3 % (kernels); serving
#: 34.9 % (roofline) against 29.2 % (kernels); since a prompt is charged to one attention-DP rank
#: and prefill attention is fitted over prompt lengths (serving only; dense workers have one rank and
#: their GQA attention is a small part), serving 34.8 % against 27.7 %; with the serving table's
#: repaired layouts (more H200 rows), 35.0 % against 28.3 %; without the rows whose TPOT beats the
#: hardware bound of their recorded batch (:data:`nvlmodel.calibrate.data.BELOW_BOUND`: eight H100
#: vLLM rows, which had pulled vLLM's fit to full bandwidth and peak), dense 18.9 % against 23.3 %,
#: serving 29.7 % against 29.4 % (29.6 % against 29.3 % once the database dump's rows of the 2026-04-06
#: layout error are corrected): a near tie, so chapter 9 applies the rule to every row and
#: stops if it disagrees with this constant. With the roofline's step in two phases (weight GEMMs,
#: then attention: :func:`nvlmodel.calibrate.model._steps`), dense 19.4 % against 23.3 %, serving
#: 29.4 % against 29.3 %. Since the replay schedules InferenceMAX's vLLM gpt-oss-120b rows with
#: their scripts' 8,192 tokens per step, serving 29.2 % against 29.8 %: the lower error changed sides
#: on a difference the rows cannot resolve, so a tie now goes to the measured kernels
#: (:func:`pick_step`; dense 16.6 % against 19.6 % is no tie). With the TensorRT-LLM gpt-oss rows'
#: 20,000 tokens per step too, serving 29.4 % against 29.5 %, a tie. Since the kernel step's linear
#: layers take each engine's fitted scale at large steps (:attr:`nvlmodel.calibrate.Calibration.kernel_scale`:
#: vLLM's builds 1.3 and 1.5, the others 1), dense 16.6 % against 16.3 %, a tie that goes to the
#: kernels, and serving 29.4 % against 23.8 %, the kernels by 3.7 to 7.0 points. (Earlier editions printed
#: the held-out errors of both dense steps: the kernels' were the lower.) The static model and the
#: deployment search keep the roofline (chapter 8 says why).
SIM_STEPS: dict[str, str] = {"dense": "kernels", "serving": "kernels"}
#: How :func:`pick_step` decides whether two steps' replays differ: a paired bootstrap of the rows,
#: this many resamples from this seed, and the difference of the median errors beyond zero at this level.
STEP_BOOTSTRAP: tuple[int, int, float] = (1000, 0, 0.90)
#: The step a tie goes to: the engines' measured kernels (issue 27's step time; the roofline's
#: fractions of peak are fitted, the kernels measured).
TIE_STEP = "kernels"


def pick_step(errors: "pd.DataFrame") -> tuple[str, float, float]:  # noqa: F821
    """The step whose replay errs less on the same rows: ``errors`` holds one column of absolute
    TTFT errors per step (``roofline``, ``kernels``), one row per measured row. A paired bootstrap
    (:data:`STEP_BOOTSTRAP`) gives the interval of the kernels' median error less the roofline's;
    an interval on one side of zero picks the lower, one that holds zero is a tie
    (:data:`TIE_STEP`). Returns (step, low, high).

    >>> import pandas as pd
    >>> e = pd.DataFrame({"roofline": [10.0, 20, 30, 40] * 25, "kernels": [12.0, 22, 32, 42] * 25})
    >>> pick_step(e)[0], pick_step(e.assign(kernels=e.roofline))[0]
    ('roofline', 'kernels')
    """
    missing = [s for s in STEP_MODELS if s not in errors.columns]
    if missing:
        raise ValueError(f"errors lack columns {missing}; one per step: {', '.join(STEP_MODELS)}")
    e = errors[list(STEP_MODELS)].dropna().to_numpy(float)
    if len(e) == 0:
        raise ValueError("errors has no row with both steps' errors")
    n, seed, level = STEP_BOOTSTRAP
    ix = np.random.default_rng(seed).integers(0, len(e), (n, len(e)))
    k, r = STEP_MODELS.index("kernels"), STEP_MODELS.index("roofline")
    diff = np.median(e[ix, k], axis=1) - np.median(e[ix, r], axis=1)
    lo, hi = (float(x) for x in np.percentile(diff, [50 * (1 - level), 50 * (1 + level)]))
    step = "kernels" if hi < 0 else "roofline" if lo > 0 else TIE_STEP
    return step, lo, hi


def sim_step_evidence(*, every: int = 1, workers: int = 1, protocol: "str | Protocol" = PROTOCOL,
                      replays: "dict[tuple[str, str], pd.DataFrame] | None" = None,  # noqa: F821
                      tables: "tuple[str, ...] | None" = None) -> "pd.DataFrame":  # noqa: F821
    """The rule behind :data:`SIM_STEPS`: each table's calibration rows (every ``every``-th of
    those whose KV fits; held-out rows are not loaded) replayed with each step model, with the
    simulation's median absolute and signed TTFT errors and its TPOT error, and which step the
    rule picks (:func:`pick_step`: the lower median absolute TTFT error where the rows resolve the
    difference, else the measured kernels; ``diff_lo``/``diff_hi``, the interval of the kernels'
    median error less the roofline's). Index (table, step); ``tables``: which (default all of
    :data:`nvlmodel.calibrate.TABLES`).

    ``replays``: ``{(table, step): replay}`` already run (:func:`replay` of the table's rows whose
    KV fits, both modes, under ``protocol``, every row: chapter 9's, for instance); their
    calibration rows stand in for replaying them again (the same runs: each row's is
    deterministic). Only with ``every=1``."""
    import pandas as pd

    from ..calibrate import TABLES, load_measurements

    replays = dict(replays or {})
    if replays and every != 1:
        raise ValueError(f"replays stand in for every row's run: every must be 1, got {every}")
    for table, step in replays:
        require_choice("replays table", table, TABLES)
        require_choice("replays step", step, STEP_MODELS)
    tables = tuple(TABLES) if tables is None else tuple(require_choice("table", t, TABLES) for t in tables)
    rows = []
    for table in tables:
        d = load_measurements(table=table)
        d = d[d.split == "calibration"]
        errors = {}
        for step in STEP_MODELS:
            if (table, step) in replays:
                rep = replays[(table, step)]
                rep = rep[rep.split == "calibration"]
            else:
                rep = replay(d, modes=("agg", "disagg"), protocol=protocol, step=step, fits_only=True,
                             workers=workers, every=every)
            errors[step] = rep.set_index("source_id").ttft_sim_err_pct.abs()
            rows.append({"table": table, "step": step, "rows": len(rep),
                         "ttft_sim_MdAPE_pct": float(rep.ttft_sim_err_pct.abs().median()),
                         "ttft_sim_bias_pct": float(rep.ttft_sim_err_pct.median()),
                         "tpot_sim_MdAPE_pct": float(rep.tpot_sim_err_pct.abs().median())})
        picked, lo, hi = pick_step(pd.DataFrame(errors))
        for r in rows[-len(STEP_MODELS):]:
            r.update(diff_lo=lo, diff_hi=hi, picked=r["step"] == picked)
    return pd.DataFrame(rows).set_index(["table", "step"])


def replay_row(row, calibration: Calibration | None = None, *, protocol: "str | Protocol" = PROTOCOL) -> dict:
    """Simulate one measured row: its deployment (aggregated: its workers of the row's TP;
    disaggregated: its decode and prefill pools as recorded) with the engine limits it was
    benchmarked with (:func:`benchmark_limits`), ``concurrency`` closed-loop clients following
    ``protocol`` (a name of :data:`PROTOCOLS` or a :class:`Protocol`), the row's engine
    calibration. Returns mean TTFT and TPOT in ms over the counted requests."""
    return _replayed_means(*_replay_inputs(row, calibration, _protocol(protocol)))


def _replayed_means(d: Deployment, reqs: Requests, c: int, skip: int) -> dict:
    ttft, tpot, preemptions = closed_loop_means(d, reqs, c, skip=skip)
    return {"ttft_sim_ms": ttft * 1e3, "tpot_sim_ms": tpot * 1e3, "preemptions": preemptions}


def _replay_inputs(row, calibration: Calibration | None, proto: Protocol):
    """What :func:`replay_row` simulates: the row's deployment, its requests, clients and warm-up
    requests not counted."""
    par = {c: int(getattr(row, c)) for c in ("attention_dp", "ep") if _given(row, c)}
    if getattr(row, "mode", "agg") == "disagg":
        par.update(mode="disagg", **{c: int(getattr(row, c)) for c in _DISAGG_FIELDS if _given(row, c)})
    elif _given(row, "workers"):
        par["workers"] = int(row.workers)
    par.update(benchmark_limits(row))
    par.update(engine_settings(row))  # what else its benchmark configured, as the static model reads it
    d = Deployment(row.system, row.model, row.precision, tp=int(row.tp), engine=row.engine, **par,
                   calibration=calibration if calibration is not None else calibrations()[row.engine])
    c = int(row.concurrency)
    return d, proto.requests(int(row.isl), int(row.osl), c), c, c * proto.warmup


def replay(measurements: "pd.DataFrame | None" = None, *, protocol: "str | Protocol" = PROTOCOL,
           sim_calibrations: "dict[str, Calibration] | None" = None,
           modes: tuple[str, ...] = ("agg",), step: str = STATIC_STEP, static_step: str | None = None,
           fits_only: bool = False, workers: int = 1, every: int = 1,
           progress: bool = False) -> "pd.DataFrame":  # noqa: F821
    """Every row of ``modes`` (``agg``, ``disagg``) the static model predicts
    (:func:`nvlmodel.calibrate.predictions`, with its own fit) whose deployment one simulated rack
    holds (at most 72 GPUs) and whose workers have room for any KV cache after weights and
    workspace (:func:`nvlmodel.calibrate.kv_capacity_of`; a row beyond that cannot be simulated),
    with the simulation's TTFT and TPOT beside the static ones and both signed errors (percent).
    Aggregated rows of several workers are replayed whole. The simulation uses
    ``sim_calibrations`` per engine (default: the static fit's parameters; its ``q`` is not used,
    queueing happens in the simulation). Clients follow ``protocol`` (:data:`PROTOCOLS`); steps
    come from ``step`` (:data:`nvlmodel.calibrate.STEP_MODELS`: the calibration fitted with it), the
    static model's columns from ``static_step`` (default: ``step``; the book's static predictor
    takes :data:`nvlmodel.calibrate.STATIC_STEP`, its simulation per table :data:`SIM_STEPS`).
    ``fits_only``: only the rows whose KV cache fits (those the error tables count). ``workers`` > 1
    replays the rows on a local Dask cluster of that many single-threaded processes (the same
    numbers: each row's run is deterministic). ``every`` > 1 replays every ``every``-th of those
    rows only (the static fit still uses all of them). ``progress`` shows a bar of rows replayed."""
    import pandas as pd

    proto = _protocol(protocol)
    require_positive_int("workers", workers)
    pred, cal = _replay_plan(measurements, modes, step, static_step, fits_only, every, sim_calibrations)
    return _replayed(pred, cal, proto, workers, progress)


def _replay_plan(measurements, modes, step, static_step, fits_only, every, sim_calibrations):
    """What :func:`replay` replays: the static predictions of the rows it keeps, and the
    simulation's calibrations (per engine)."""
    import pandas as pd

    for m in modes:
        if m not in ("agg", "disagg"):
            raise ValueError(f"modes must be 'agg' and/or 'disagg', got {m!r}")
    require_positive_int("every", every)
    step = require_choice("step", step, STEP_MODELS)
    static_step = step if static_step is None else require_choice("static_step", static_step, STEP_MODELS)
    static = _static(measurements, static_step)
    pred = predictions(measurements, static)
    mode = pred["mode"].fillna("agg") if "mode" in pred.columns else pd.Series("agg", index=pred.index)
    pred = pred[mode.isin(modes) & (pred.kv_fits if fits_only else True)]
    pred = pred[[_simulable(r) for r in pred.itertuples()]].iloc[::every]
    if sim_calibrations is not None:
        return pred, sim_calibrations
    return pred, static if static_step == step else _static(measurements, step)


def _replayed(pred, cal, proto: Protocol, workers: int, progress: bool = False) -> "pd.DataFrame":  # noqa: F821
    """The rows of ``pred`` replayed (:func:`_replay_rows`) beside their static predictions, with
    both signed errors (:func:`replay`'s table)."""
    import pandas as pd

    out = pd.concat([pred.reset_index(drop=True), pd.DataFrame(_replay_rows(pred, cal, proto, workers, progress))],
                    axis=1)
    for m in ("ttft", "tpot"):
        out[f"{m}_sim_err_pct"] = (out[f"{m}_sim_ms"] / out[f"{m}_ms"] - 1) * 100
    return out


def protocol_sensitivity(measurements: "pd.DataFrame | None" = None, *,  # noqa: F821
                         protocols: tuple[str, ...] = tuple(PROTOCOLS), every: int = 4,
                         by: tuple[str, ...] = ("split", "system"), workers: int = 1, step: str = STATIC_STEP,
                         replays: "dict[str, pd.DataFrame] | None" = None) -> "pd.DataFrame":  # noqa: F821
    """How much the replay's answer depends on the benchmark protocol it assumes: every
    ``every``-th aggregated row whose KV fits (:func:`replay`, steps from ``step``), replayed under
    each of ``protocols`` (names of :data:`PROTOCOLS`), with the simulation's median absolute and
    signed TTFT errors and its TPOT error per ``by`` group. One row per protocol and group.

    ``replays``: ``{protocol: replay}`` already run on every row of ``measurements`` whose KV fits
    (any modes, this ``step``; chapter 9's, for instance): its aggregated rows, every ``every``-th,
    are the same runs and stand in for replaying them again."""
    import pandas as pd

    for p in protocols:
        require_choice("protocol", p, PROTOCOLS)
    require_choice("step", step, STEP_MODELS)
    require_positive_int("every", every)
    replays = dict(replays or {})
    for p in replays:
        require_choice("replays protocol", p, PROTOCOLS)
    require_positive_int("workers", workers)
    parts, plan = {}, None
    for p in protocols:
        if p in replays:
            rep = replays[p]
            rep = rep[(rep["mode"].fillna("agg") if "mode" in rep.columns else pd.Series("agg", index=rep.index))
                      == "agg"].iloc[::every]
        else:  # the rows and their calibrations are the same under every protocol: planned once
            plan = plan or _replay_plan(measurements, ("agg",), step, None, True, every, None)
            rep = _replayed(*plan, PROTOCOLS[p], workers)
        s = replay_summary(rep, by).set_index(list(by))
        parts[p] = s[["rows", "ttft_sim_MdAPE_pct", "ttft_sim_bias_pct", "tpot_sim_MdAPE_pct"]]
    return pd.concat(parts, names=["protocol"])


def _replay_chunk(rows: list[dict], cals: list[Calibration], protocol: Protocol) -> list[dict]:
    from types import SimpleNamespace

    return [replay_row(SimpleNamespace(**r), c, protocol=protocol) for r, c in zip(rows, cals)]


def _replay_rows(pred: "pd.DataFrame", cal: "dict | list", proto: Protocol, workers: int,  # noqa: F821
                 progress: bool = False) -> list[dict]:
    """:func:`replay_row` of every row of ``pred``, in order, with ``cal`` (per engine, or a list
    of one calibration per row); on ``workers`` Dask processes when more than one, in ``4 x
    workers`` chunks of about equal simulated requests (largest rows first, each to the lightest
    chunk so far). Rows whose runs are recorded under this package (:mod:`~nvlmodel.recorded`)
    are read here first, and a cluster starts only for the others. ``progress``: a bar of rows
    replayed (on stderr; the plain bar, whose import warns nothing in a notebook that leaves it off)."""
    from tqdm import tqdm

    cals = [cal[e] for e in pred.engine] if isinstance(cal, dict) else list(cal)
    if len(cals) != len(pred):
        raise ValueError(f"one calibration per row is needed: {len(cals)} for {len(pred)} rows")
    bar = tqdm(total=len(pred), unit="row", disable=not progress)
    if workers == 1 or len(pred) < 2:
        out = []
        for r, c in zip(pred.itertuples(), cals):
            out.append(replay_row(r, c, protocol=proto))
            bar.update(1)
        bar.close()
        return out
    out, left = [None] * len(pred), {}  # left: the rows to simulate, by index, with their inputs
    for i, (r, c) in enumerate(zip(pred.itertuples(), cals)):
        inputs = _replay_inputs(r, c, proto)
        if recorded.lookup(means_key(*inputs)) is None:
            left[i] = inputs
        else:  # recorded: read (and noted) here, as replay_row reads it
            out[i] = _replayed_means(*inputs)
            bar.update(1)
    if len(left) < 2:  # no cluster for one run
        for i, inputs in left.items():
            out[i] = _replayed_means(*inputs)
            bar.update(1)
        bar.close()
        return out
    from distributed import Client, as_completed

    from .sweep import local_cluster

    all_records = pred.to_dict("records")
    records = {i: all_records[i] for i in left}
    chunks: list[list[int]] = [[] for _ in range(min(4 * workers, len(records)))]
    load = [0] * len(chunks)
    for i in sorted(records, key=lambda i: -int(records[i]["concurrency"])):
        k = load.index(min(load))
        chunks[k].append(i)
        load[k] += int(records[i]["concurrency"])
    with local_cluster(workers) as cluster, Client(cluster) as client:
        futures = [client.submit(_replay_chunk, [records[i] for i in c], [cals[i] for i in c],
                                 proto, pure=False) for c in chunks]
        chunk_of = {f.key: c for f, c in zip(futures, chunks)}
        for f in as_completed(futures):
            for i, r in zip(chunk_of[f.key], f.result()):
                out[i] = r
            bar.update(len(chunk_of[f.key]))
    bar.close()
    return out


def _simulable(row) -> bool:
    """Whether a row's deployment fits one simulated rack with room for KV in every worker."""
    cfg = _config(row)
    if cfg.total_gpus > 72:
        return False
    return kv_capacity_of(cfg) is not None and (cfg.mode != "disagg" or kv_capacity_of(cfg, prefill=True) is not None)


def _static(measurements, step: str = STATIC_STEP) -> dict[str, Calibration]:
    """The static model's calibrations of ``measurements`` with steps from ``step``: rows whose
    calibration rows are a packaged table's (None; the table, or a part of it holding all its
    calibration rows: a fit reads those alone) take that table's cached fit (:func:`fitted`, the
    same numbers without fitting the serving table again at every replay), any other rows their own."""
    from ..calibrate import TABLES, calibration_rows
    from ..calibrate.data import _measurements

    if measurements is None:
        return fitted(step)
    mine = calibration_rows(measurements)
    for table in TABLES:
        packaged = calibration_rows(_measurements(table))
        if mine.shape == packaged.shape and mine.equals(packaged):
            return fitted(step, table)
    return fit_engines(measurements, step)


def replay_summary(rep: "pd.DataFrame", by: tuple[str, ...] = ("split",)) -> "pd.DataFrame":  # noqa: F821
    """Median absolute and signed percentage errors of TTFT and TPOT, static model and simulation,
    grouped by ``by``."""
    import pandas as pd

    out = []
    for key, g in rep.groupby(list(by), sort=True):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row["rows"] = len(g)
        for m in ("ttft", "tpot"):
            for name, col in (("static", f"{m}_err_pct"), ("sim", f"{m}_sim_err_pct")):
                row[f"{m}_{name}_MdAPE_pct"] = float(np.median(np.abs(g[col])))
                row[f"{m}_{name}_bias_pct"] = float(np.median(g[col]))
        out.append(row)
    return pd.DataFrame(out)


def _as_predictions(rep: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    """A replay's rows (:func:`replay`) with the simulation's TTFT and TPOT as the predictions
    (``{metric}_pred_ms``), the form the interval functions of
    :mod:`nvlmodel.calibrate.intervals` read."""
    out = rep.copy()
    for m in ("ttft", "tpot"):
        out[f"{m}_pred_ms"] = rep[f"{m}_sim_ms"].to_numpy(float)
    return out


def sim_transfer_widening(measurements: "pd.DataFrame", step: str, *,  # noqa: F821
                          protocol: "str | Protocol" = PROTOCOL, nominal: float | None = None,
                          workers: int = 1, replays: "list | None" = None) -> dict[str, float]:
    """The simulation's :func:`nvlmodel.calibrate.intervals.transfer_widening`, on calibration
    rows alone: each Hopper GPU's rows of ``measurements`` (those whose KV fits and one rack holds)
    replayed with the static parameters fitted on the other Hopper GPU's rows alone (steps from
    ``step``), their intervals taken from that fit's own rows replayed alike; ``{metric: s}``, the
    least factor on :data:`~nvlmodel.calibrate.intervals.WIDENING_GRID` by which those intervals'
    log-width must grow to hold ``nominal`` (default
    :data:`~nvlmodel.calibrate.intervals.NOMINAL`) of the other GPU's rows, both directions
    pooled. One step model: the simulation replays the table's step of record only, so there is
    no hull of two models (replaying both would double the runs). ``workers`` > 1 replays on a
    local Dask cluster (the same numbers). ``replays``: :func:`sim_transfer_replays` of the same
    arguments, already run."""
    from ..calibrate.intervals import NOMINAL, _bounds, _widening_of, residual_quantiles
    from ..calibrate.model import METRICS

    nominal = NOMINAL if nominal is None else nominal
    parts = []
    replays = sim_transfer_replays(measurements, step, protocol=protocol, workers=workers) if replays is None \
        else replays
    for system, fitted_on, own, scored in replays:
        b = _bounds(scored, residual_quantiles(own, nominal), None, None)
        parts.append((system, fitted_on, {m: (scored[f"{m}_ms"].to_numpy(float), b[m], None) for m in METRICS}))
    return _widening_of(parts, nominal)


def sim_transfer_replays(measurements: "pd.DataFrame", step: str, *,  # noqa: F821
                         protocol: "str | Protocol" = PROTOCOL, workers: int = 1) -> list:
    """The replays behind :func:`sim_transfer_widening` and :func:`sim_anchored_residuals`: for each
    Hopper GPU with an engine also measured on the other, ``(system, the other GPU's rows, those rows
    replayed, this GPU's rows replayed)``, both with the parameters fitted on the other GPU alone
    (rows whose KV fits and one rack holds; the replays as predictions: the simulation's TTFT and
    TPOT in ``{metric}_pred_ms``). ``workers`` > 1 replays on a local Dask cluster."""
    import pandas as pd

    from ..calibrate.intervals import _fit_on, _leave_one_system_out

    require_choice("step", step, STEP_MODELS)
    require_positive_int("workers", workers)
    proto = _protocol(protocol)
    jobs = []
    for system, fitted_on, scored in _leave_one_system_out(measurements):
        cal = _fit_on(fitted_on, step)
        for part in (fitted_on, scored):
            p = predictions(part, cal)
            p = p[p.kv_fits.to_numpy(bool)]
            jobs.append((system, fitted_on, p[[_simulable(r) for r in p.itertuples()]], cal))
    if not jobs:
        raise ValueError("no engine is measured on two calibration systems: no transfer to calibrate the width on")
    rows = pd.concat([j[2] for j in jobs], ignore_index=True)
    sims = pd.DataFrame(_replay_rows(rows, [j[3][e] for j in jobs for e in j[2].engine], proto, workers))
    at, simulated = 0, []
    for _, _, p, _ in jobs:
        p = p.reset_index(drop=True)
        simulated.append(_as_predictions(pd.concat([p, sims.iloc[at:at + len(p)].reset_index(drop=True)], axis=1)))
        at += len(p)
    return [(system, fitted_on, own, scored)
            for (system, fitted_on, _, _), own, scored in zip(jobs[::2], simulated[::2], simulated[1::2])]


def sim_anchored_residuals(measurements: "pd.DataFrame", step: str, *,  # noqa: F821
                           protocol: "str | Protocol" = PROTOCOL, workers: int = 1,
                           replays: "list | None" = None, anchor: str = "deployment") -> "pd.DataFrame":  # noqa: F821
    """:func:`nvlmodel.calibrate.intervals.anchored_residuals` of the simulation: each Hopper GPU's
    rows replayed with the parameters fitted on the other alone (the runs of
    :func:`sim_transfer_widening`), each deployment's row of lowest concurrency taken as its
    anchor, the others' simulated TTFT and TPOT moved by what the simulation missed on it
    (:func:`~nvlmodel.calibrate.intervals.anchored`); the anchors left out. Calibration rows only.
    ``replays``: :func:`sim_transfer_replays` of the same arguments, already run. ``anchor``: one
    anchor per deployment or per engine and model (:data:`nvlmodel.calibrate.intervals.ANCHORS`)."""
    import pandas as pd

    from ..calibrate.intervals import ANCHORS, anchored_on_first_rows

    require_choice("anchor", anchor, ANCHORS)
    replays = sim_transfer_replays(measurements, step, protocol=protocol, workers=workers) if replays is None \
        else replays
    return pd.concat([anchored_on_first_rows(scored, anchor) for _, _, _, scored in replays], ignore_index=True)


def replay_coverage(rep: "pd.DataFrame", widening: dict, *, nominal: float | None = None,  # noqa: F821
                    by: tuple[str, ...] = ("split", "system")) -> "pd.DataFrame":  # noqa: F821
    """:func:`nvlmodel.calibrate.intervals.coverage_table` of the simulation's predictions: a
    replay's rows (:func:`replay`) inside their intervals, taken from the simulation's own errors
    on the replay's calibration rows (split conformal per metric and regime), a new GPU's widened
    by ``widening`` (:func:`sim_transfer_widening`)."""
    from ..calibrate.intervals import NOMINAL, coverage_table

    return coverage_table(_as_predictions(rep), NOMINAL if nominal is None else nominal, by, widening=widening)


#: Arrival rates (requests/s to the rack) at which :func:`rack_claim` tests the document's rack claim.
RACK_RATES: tuple[float, ...] = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0)
#: How finely (requests/s) :func:`rack_claim` bisects the rack's capacity between two rates of the grid.
RACK_RESOLUTION = 1.0


def rack_claim(ttft_limit_s: float = 2.0, tpot_limit_s: float = 0.05, sla_share: float = 0.9, *,
               rates: tuple[float, ...] = RACK_RATES, seconds: float = 40.0, seed: int = 0,
               resolution: float = RACK_RESOLUTION) -> "pd.DataFrame":  # noqa: F821
    """The document's rack claim (Llama 405B, nine TP8 replicas on one NVL72, line 462) under load:
    4,096-token prompts, 1,024-token answers, Poisson arrivals at each of ``rates`` for ``seconds``,
    FP4 weights. One row per rate: output tokens/s of the rack, requests in flight, the share of
    requests within (``ttft_limit_s``, ``tpot_limit_s``), p90 TTFT and TPOT. Between the highest
    rate that meets the SLA (``sla_share`` of requests within it) and the next rate tried, the
    rate is then bisected to ``resolution`` requests/s (those runs are rows too; 0: the grid alone),
    so the answer is not a grid point below the rack's capacity. ``attrs`` holds the best rate
    within the SLA (``rate_within_sla``), its ``tok_s_within_sla`` and ``in_flight_within_sla``
    (0 when no rate meets it)."""
    import pandas as pd

    if not 0 < sla_share <= 1:
        raise ValueError(f"sla_share must be in (0, 1], got {sla_share!r}")
    if not (np.isfinite(resolution) and resolution >= 0):
        raise ValueError(f"resolution must be a finite number >= 0 (requests/s), got {resolution!r}")

    def run(rate):
        return dict(_rack_run(float(rate), seconds, seed, ttft_limit_s, tpot_limit_s))

    rows = [run(rate) for rate in sorted(rates)]
    passing = [r["requests/s"] for r in rows if r["within SLA"] >= sla_share]
    if passing and resolution > 0:
        lo = max(passing)
        above = [r["requests/s"] for r in rows if r["requests/s"] > lo]
        hi = min(above) if above else None
        while hi is not None and hi - lo > resolution:  # the share within the SLA falls as the load rises
            mid = (lo + hi) / 2
            rows.append(run(mid))
            lo, hi = (mid, hi) if rows[-1]["within SLA"] >= sla_share else (lo, mid)
    out = pd.DataFrame(rows).set_index("requests/s").sort_index()
    ok = out[out["within SLA"] >= sla_share]
    best = ok.index.max() if len(ok) else None
    out.attrs["rate_within_sla"] = float(best) if best is not None else 0.0
    out.attrs["tok_s_within_sla"] = float(ok.loc[best, "output tok/s (rack)"]) if best is not None else 0.0
    out.attrs["in_flight_within_sla"] = float(ok.loc[best, "users in flight"]) if best is not None else 0.0
    return out


#: What one load of :func:`rack_claim` reports, in the order its run is recorded.
_RACK_COLUMNS = ("output tok/s (rack)", "users in flight", "within SLA", "TTFT p90 (s)", "TPOT p90 (ms)")


@functools.lru_cache(maxsize=128)
def _rack_run(rate: float, seconds: float, seed: int, ttft_limit_s: float, tpot_limit_s: float) -> dict:
    """One load of :func:`rack_claim` (cached: the chapter's table and :func:`rack_capacity` share
    runs; recorded under this package, :mod:`nvlmodel.recorded`)."""
    rack = Deployment("gb200", "llama-3.1-405b", "fp4", tp=8, workers=9)
    reqs = Workload(isl=4096, osl=1024, spread=0.5).generate(int(rate * seconds), rate=rate, seed=seed)

    def run():
        res = simulate(rack, reqs)
        s = res.summary(ttft_limit_s, tpot_limit_s)
        return (s["output_tokens_per_s"], res.in_system_area / res.duration, s["sla_met"], s["ttft_p90_s"],
                s["tpot_p90_s"] * 1e3)

    numbers = recorded.recall(recorded.run_key("rack claim load", rack, reqs, ttft_limit_s, tpot_limit_s), run)
    return {"requests/s": rate, **dict(zip(_RACK_COLUMNS, numbers))}


def rack_capacity(ttft_limit_s: float = 2.0, tpot_limit_s: float = 0.05, sla_share: float = 0.9, *,
                  seeds: tuple[int, ...] = (0, 1, 2), **kw) -> dict:
    """:func:`rack_claim` over ``seeds`` (each a different draw of the arrivals and lengths): the
    median of the rack's output tokens/s within the SLA (``tok_s``) with the lowest and highest
    (``tok_s_lo``, ``tok_s_hi``: the simulation's sampling spread, not the step model's error), the
    median requests in flight (``in_flight``) and rate (``rate``), and ``seeds``. The one value the
    book prints for the document's rack claim."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must name at least one seed, each once, got {seeds!r}")
    runs = [rack_claim(ttft_limit_s, tpot_limit_s, sla_share, seed=s, **kw).attrs for s in seeds]
    tok = np.array([r["tok_s_within_sla"] for r in runs])
    return {"tok_s": float(np.median(tok)), "tok_s_lo": float(tok.min()), "tok_s_hi": float(tok.max()),
            "in_flight": float(np.median([r["in_flight_within_sla"] for r in runs])),
            "rate": float(np.median([r["rate_within_sla"] for r in runs])), "seeds": len(seeds)}


#: Chapter 9's multi-turn chat on one NVL72 rack of nine TP8 replicas (FP4): each turn's prompt is
#: the conversation so far plus about 512 new tokens, 20,000 turns arriving at 250 per second.
CHAT_WORKLOAD = dict(isl=512, osl=256, spread=0.5, shape="chat", groups=3000, max_context=24576)
CHAT_REQUESTS, CHAT_RATE = 20_000, 250.0
#: What each variant of the chat rack changes from nine TP8 replicas with one policy and no tiers.
CHAT_VARIANTS: dict[str, dict] = {
    "random routing": dict(policy="random"),
    "least-loaded routing": dict(policy="least-loaded"),
    "KV-aware routing (Dynamo cost)": dict(policy="dynamo"),
    "KV-aware + peer HBM over NVLink": dict(policy="dynamo", tiers=("peer",)),
    "KV-aware + peer HBM + Grace memory (G2)": dict(policy="dynamo", tiers=("peer", "host")),
    "KV-aware + switch tier (seed hypothesis)": dict(policy="dynamo", tiers=("peer", "host", "switch")),
    "disaggregated: 3 prefill + 6 decode TP8": dict(policy="dynamo", tiers=("peer", "host"), mode="disagg",
                                                    workers=6, prefill_workers=3),
}
#: The Dynamo features the chat rack isolates: feature -> (variant with it, variant without it).
CHAT_GAINS: dict[str, tuple[str, str]] = {
    "KV-aware routing": ("KV-aware routing (Dynamo cost)", "random routing"),
    "peer-HBM tier over NVLink": ("KV-aware + peer HBM over NVLink", "KV-aware routing (Dynamo cost)"),
}


def _chat_base(model: str) -> dict:
    return dict(system="gb200", model=model, precision="fp4", tp=8, workers=9)


def chat_deployment(model: str = "llama-3.1-70b") -> Deployment:
    """The chat rack's base deployment: nine TP8 replicas of ``model`` in FP4 on one GB200 NVL72."""
    return Deployment(**_chat_base(model))


def chat_rack(variants: tuple[str, ...] | None = None, *, model: str = "llama-3.1-70b", seed: int = 0,
              ttft_limit_s: float = 2.0, tpot_limit_s: float = 0.05) -> "pd.DataFrame":  # noqa: F821
    """The chat rack (:data:`CHAT_WORKLOAD`) under each of ``variants`` (names of
    :data:`CHAT_VARIANTS`, default all), one simulation each with ``seed``: TTFT p50/p90, TPOT
    p50, goodput per GPU within (``ttft_limit_s``, ``tpot_limit_s``) and where prompts' prefixes
    were found (HBM, peer HBM, Grace memory, switch)."""
    import pandas as pd

    names = tuple(CHAT_VARIANTS) if variants is None else tuple(variants)
    for name in names:
        if name not in CHAT_VARIANTS:
            raise ValueError(f"variant must be one of {sorted(CHAT_VARIANTS)}, got {name!r}")
    return pd.DataFrame([{"variant": name, **_chat_run(name, model, seed, ttft_limit_s, tpot_limit_s)}
                         for name in names]).set_index("variant")


@functools.lru_cache(maxsize=64)
def _chat_run(name: str, model: str, seed: int, ttft_limit_s: float, tpot_limit_s: float) -> dict:
    """One variant of the chat rack, one seed (cached: chapter 9's table and :func:`chat_gains` share
    runs; recorded: :mod:`~nvlmodel.recorded`)."""
    reqs = Workload(**CHAT_WORKLOAD).generate(CHAT_REQUESTS, rate=CHAT_RATE, seed=seed)
    d = Deployment(**{**_chat_base(model), **CHAT_VARIANTS[name]})

    def run():
        s = simulate(d, reqs, seed=seed).summary(ttft_limit_s, tpot_limit_s)
        return [s["ttft_p50_s"], s["ttft_p90_s"], s["tpot_p50_s"] * 1e3, s["goodput_tokens_per_s_per_gpu"],
                s["hit_g1"], s["hit_peer"], s["hit_host"], s["hit_switch"]]

    numbers = recorded.recall(recorded.run_key("chat rack summary", d, reqs, seed, ttft_limit_s, tpot_limit_s), run)
    return dict(zip(("TTFT p50 (s)", "TTFT p90 (s)", "TPOT p50 (ms)", "goodput tok/s/GPU", "HBM hit", "peer hit",
                     "G2 hit", "switch hit"), numbers))


#: Seeds over which :func:`chat_gains` repeats the chat rack.
GAIN_SEEDS: tuple[int, ...] = (0, 1, 2)


def chat_gains(*, model: str = "llama-3.1-70b", seeds: tuple[int, ...] = GAIN_SEEDS, ttft_limit_s: float = 2.0,
               tpot_limit_s: float = 0.05) -> "pd.DataFrame":  # noqa: F821
    """What each feature of :data:`CHAT_GAINS` multiplies the chat rack's goodput per GPU by: the
    median over ``seeds`` (each a different draw of the conversations and arrivals) as ``gain``,
    and the lowest and highest as ``gain_lo`` and ``gain_hi``. The range is the simulation's
    sampling spread only, not the step model's error (which cancels to first order in a ratio of
    two runs of the same rack)."""
    import pandas as pd

    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must name at least one seed, each once, got {seeds!r}")
    needed = tuple(dict.fromkeys(v for pair in CHAT_GAINS.values() for v in pair))
    runs = [chat_rack(needed, model=model, seed=s, ttft_limit_s=ttft_limit_s, tpot_limit_s=tpot_limit_s)
            ["goodput tok/s/GPU"] for s in seeds]
    rows = []
    for feature, (with_, without) in CHAT_GAINS.items():
        g = np.array([r[with_] / r[without] for r in runs])
        rows.append({"feature": feature, "gain": float(np.median(g)), "gain_lo": float(g.min()),
                     "gain_hi": float(g.max()), "seeds": len(seeds)})
    return pd.DataFrame(rows).set_index("feature")
