"""Command line: ``python -m nvlmodel claims --json`` and ``python -m nvlmodel spec --gpu b200``."""

from __future__ import annotations

import argparse
import sys

from . import claims as ledger
from .fp4 import FORMATS
from .hardware import GPU_ALIASES, GPU_NAMES, PRESETS, get_gpu
from .models import MODEL_ALIASES, MODEL_NAMES
from .units import require_positive


def _claims(args: argparse.Namespace) -> int:
    rows = ledger.all_claims(section=args.section, status=args.status, verdict=args.verdict)
    if args.format == "json":
        print(ledger.to_json(rows))
    elif args.format == "markdown":
        print(ledger.to_markdown(rows))
    else:
        for r in ledger.to_records(rows):
            print(f"{r['id']:<34} {r['verdict']:<16} printed {r['printed']:<16} reproduced {r['reproduced']}"
                  f" {r['unit']}  datasheet {r['datasheet']}")
        print(", ".join(f"{n} {v}" for v, n in ledger.verdict_counts(rows).items()))
    return 0


def _spec(args: argparse.Namespace) -> int:
    gpu = get_gpu(args.gpu, args.preset)
    print(f"{gpu.name} ({args.preset} preset)")
    for r in gpu.rows():
        value = r["value"]
        text = "-" if value is None else (f"{value:,.6g}" if isinstance(value, float) else str(value))
        print(f"  {r['quantity']:<55} {text:>10} {r['unit']:<8} {r['source']}")
    return 0


# ---- input checks: every value a user gives is checked before any work starts ---------------

#: The largest file a reader accepts (scenario CSVs).
MAX_INPUT_BYTES = 16 * 2**20
#: Local Dask processes a command starts when ``--workers`` is not given (a sweep, a replay of
#: every measured row): this project's machines have two cores.
LOCAL_WORKERS = 2


def _context(model: str, tokens: int, what: str) -> None:
    """``tokens`` of context fit ``model``'s maximum context."""
    from .models import get_model

    m = get_model(model)
    if tokens > m.max_context:
        raise ValueError(f"{what} = {tokens:,} tokens exceeds {m.name}'s maximum context of {m.max_context:,}")


def _check_out(path: str) -> None:
    """``--out`` names a file this process can create or replace: its folder exists and is
    writable, and it is not a folder itself. Checked before the work, so a run is never lost to a
    bad path."""
    import os
    import stat

    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"--out {path}: is a folder; give a file name")
    if os.path.exists(path) and not os.path.islink(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"--out {path}: exists and is not a regular file (a device or a pipe); give a file name")
    if not os.path.isdir(folder):
        raise ValueError(f"--out {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--out {path}: folder {folder} is not writable")


def _write_atomic(frame, path: str) -> None:
    """Write ``frame`` as CSV to ``path`` through a temporary file in the same folder, renamed over
    ``path`` only once complete: a failed write leaves any previous file as it was (a symlink at
    ``path`` is replaced, not followed)."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".nvlmodel-", suffix=".csv", dir=folder)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            frame.to_csv(f, index=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_regular(path: str) -> str:
    """The text of a regular file of at most :data:`MAX_INPUT_BYTES` (not a device, FIFO or folder)."""
    import os
    import stat

    try:
        st = os.stat(path)
    except OSError as e:
        raise ValueError(f"cannot read {path!r}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path!r} is not a regular file")
    if st.st_size > MAX_INPUT_BYTES:
        raise ValueError(f"{path!r} is {st.st_size / 2**20:.0f} MiB; at most {MAX_INPUT_BYTES // 2**20} MiB")
    with open(path, encoding="utf-8", errors="strict") as f:
        return f.read()


def _check(args: argparse.Namespace) -> None:
    """Every option of the chosen command, checked before any work (raises ValueError naming it)."""
    cmd = args.command
    if cmd == "roofline":
        for b in args.batch:
            require_positive("--batch", b)
        require_positive("--context", args.context, allow_zero=True)
        require_positive("--prompt", args.prompt)
        require_positive("--tp", args.tp)
        if not 0 < require_positive("--kv-bytes", args.kv_bytes) <= 4:
            raise ValueError(f"--kv-bytes is bytes per KV element, 0 < x <= 4 (1 = FP8, 2 = FP16), got {args.kv_bytes!r}")
        _context(args.model, args.context, "--context")
        _context(args.model, args.prompt, "--prompt")
    elif cmd == "endtoend":
        for what in ("tp", "prompt", "batch", "context"):
            require_positive(f"--{what}", getattr(args, what))
        _context(args.model, args.prompt, "--prompt")
        _context(args.model, args.context, "--context")
    elif cmd == "best":
        require_positive("--isl", args.isl)
        require_positive("--osl", args.osl)
        _context(args.model, args.isl + args.osl, "--isl + --osl")
        require_positive("--ttft-ms", args.ttft_ms)
        require_positive("--tpot-ms", args.tpot_ms)
        if not 1 <= args.max_gpus <= 72:
            raise ValueError(f"--max-gpus must be 1..72 (one rack or nine 8-GPU nodes), got {args.max_gpus}")
        if args.price_per_gpu_hour is not None:
            require_positive("--price-per-gpu-hour", args.price_per_gpu_hour)
    elif cmd == "serve":
        _check_serve(args)
    elif cmd == "calibrate":
        _check_calibrate(args)


#: What each ``calibrate`` report groups its rows by when ``--by`` is not given.
CALIBRATE_GROUPS = {"errors": ("split",), "coverage": ("split", "system"), "anchored": ("system",)}


def _check_calibrate(args: argparse.Namespace) -> None:
    """The options of ``calibrate`` that only some of its reports read are refused where no report
    would read them (never silently dropped); ``--by`` groups whichever report is asked for, and the
    defaults are filled in here."""
    from .serve.validate import PROTOCOL

    if args.coverage and args.anchored:
        raise ValueError("--coverage and --anchored are two reports: ask for one")
    if args.ttft_from != "simulation":
        for opt, given in (("--protocol", args.protocol), ("--dask-workers", args.workers)):
            if given is not None:
                raise ValueError(f"{opt} sets how the simulation replays the rows: give --ttft-from simulation with it")
    if args.all_rows and (args.coverage or args.anchored):
        raise ValueError(f"--all-rows adds rows whose KV cache does not fit to the error tables; "
                         f"{'--coverage' if args.coverage else '--anchored'} counts only rows the model describes")
    if args.workers is not None:
        require_positive("--dask-workers", args.workers)
    args.protocol = args.protocol or PROTOCOL
    args.workers = args.workers or LOCAL_WORKERS
    report = "coverage" if args.coverage else "anchored" if args.anchored else "errors"
    if args.by and len(set(args.by)) < len(args.by):
        raise ValueError(f"--by: name each column once, got {' '.join(args.by)}")
    args.by = tuple(args.by) if args.by else CALIBRATE_GROUPS[report]


def _check_serve(args: argparse.Namespace) -> None:
    import os

    if args.sweep is None:
        for opt, given in (("--dask-workers", args.workers), ("--scheduler", args.scheduler)):
            if given is not None:
                raise ValueError(f"{opt} runs a sweep on Dask: give --sweep FILE with it")
        if args.rate is not None and args.concurrency is not None:
            raise ValueError("give --rate (open loop) or --concurrency (closed loop), not both")
        if args.rate is not None:
            require_positive("--rate", args.rate)
        if args.concurrency is not None:
            require_positive("--concurrency", args.concurrency)
        for what in ("tp", "workers_per_rack", "isl", "osl", "requests"):
            require_positive("--" + what.replace("_", "-"), getattr(args, what))
        require_positive("--seed", args.seed, allow_zero=True)
        from .serve.sweep import MAX_REQUESTS

        if args.requests > MAX_REQUESTS:
            raise ValueError(f"--requests {args.requests:,}: at most {MAX_REQUESTS:,} (about 264 bytes each are "
                             "allocated up front); split the run")
        _context(args.model, args.isl + args.osl, "--isl + --osl")
    else:
        if args.workers is not None and args.scheduler is not None:
            raise ValueError("--dask-workers sizes a local cluster; --scheduler uses an existing one: give one")
        if args.workers is not None and not 1 <= args.workers <= (os.cpu_count() or 1):
            raise ValueError(f"--dask-workers must be 1..{os.cpu_count() or 1} (this machine's cores), got {args.workers}")
        single = [o for o, v in (("--rate", args.rate), ("--concurrency", args.concurrency)) if v is not None]
        if single:
            raise ValueError(f"{single[0]} is a field of each sweep row; with --sweep give it in the CSV")
    if args.out:
        _check_out(args.out)


def _print_frame(frame) -> None:
    import pandas as pd

    from .units import fmt_value

    with pd.option_context("display.float_format", fmt_value, "display.width", 160, "display.max_columns", 20):
        print(frame.to_string(index=False))


def _roofline(args: argparse.Namespace) -> int:
    import pandas as pd

    from .roofline import crossover_batch, decode_step, prefill

    rows = []
    for b in args.batch:
        s = decode_step(args.gpu, args.model, args.format, batch=b, context=args.context,
                        kv_bytes_per_element=args.kv_bytes, tp=args.tp, premises=args.preset)
        rows.append({"batch": b, "tokens_per_s": s.tokens_per_s, "tpot_ms": s.time * 1e3,
                     "memory_ms": s.t_memory * 1e3, "compute_ms": s.t_compute * 1e3, "bottleneck": s.bottleneck})
    print(f"decode, {args.model} on {args.gpu} ({args.format}, TP{args.tp}, {args.preset} preset, "
          f"context {args.context:,} tokens)")
    _print_frame(pd.DataFrame(rows))
    p = prefill(args.gpu, args.model, args.format, prompt=args.prompt, tp=args.tp,
                kv_bytes_per_element=args.kv_bytes, premises=args.preset)
    b = crossover_batch(args.gpu, args.model, args.format, context=args.context,
                        kv_bytes_per_element=args.kv_bytes, tp=args.tp, premises=args.preset)
    print(f"prefill of {args.prompt:,} tokens (TTFT): {p.time * 1e3:.1f} ms ({p.bottleneck}-bound); "
          f"compute-bound from batch {b:,.0f}" if b != float("inf") else
          f"prefill of {args.prompt:,} tokens (TTFT): {p.time * 1e3:.1f} ms ({p.bottleneck}-bound); "
          "decode never turns compute-bound at this context")
    return 0


def _capacity(args: argparse.Namespace) -> int:
    from .kvbm import capacity_table

    print(f"KV capacity, {args.model}, {args.preset} preset (the seed's table, lines 244-248)")
    _print_frame(capacity_table(args.preset, args.model))
    return 0


def _endtoend(args: argparse.Namespace) -> int:
    from .endtoend import Scenario, table

    print(f"8x H100 (FP8) vs one NVL72 replica (FP4), {args.model}, TP{args.tp}, prompt {args.prompt}, "
          f"batch {args.batch}, context {args.context}")
    _print_frame(table(Scenario(model=args.model, tp=args.tp, prompt=args.prompt, batch=args.batch,
                                context=args.context)))
    return 0


def _allreduce(args: argparse.Namespace) -> int:
    from .collectives import fit_table, tp_comm_table

    print("alpha-beta fits to NCCL all-reduce (half precision), measured data: aiconfigurator")
    _print_frame(fit_table())
    print(f"\nTP all-reduce per step, {args.model}, TP{args.tp}")
    _print_frame(tp_comm_table(args.model, tp=args.tp))
    return 0


def _static_coverage(table: str, step: str, by: tuple[str, ...]):
    """The static model's interval coverage of one measured table (calibrate.intervals.step_coverage
    with both step models' fits), per ``by`` group."""
    from . import calibrate
    from .calibrate.intervals import other_step, step_coverage

    return step_coverage(calibrate.load_measurements(table=table),
                         {s_: calibrate.fitted(s_, table=table) for s_ in (step, other_step(step))}, step, by=by)


def _coverage(args: argparse.Namespace, step: str) -> int:
    from .calibrate.intervals import NOMINAL, other_step

    alt = other_step(step)
    print(f"coverage of {NOMINAL:.0%} prediction intervals around the {step} step's predictions: conformal "
          f"quantiles of the fit's own errors on H100/H200 rows; a new GPU takes the hull with the same interval of "
          f"the {alt} step's prediction, both widened by the factor that makes the hull hold {NOMINAL:.0%} of one "
          f"Hopper GPU's rows when fitted on the other (calibrate.intervals.transfer_widening)")
    for table in args.tables:
        t = _static_coverage(table, step, args.by)
        print(f"\n{table} table")
        _print_frame(t.round({"coverage": 2}))
    return 0


def _coverage_simulated(args: argparse.Namespace, step: str) -> int:
    import pandas as pd

    from . import calibrate
    from .calibrate.intervals import NOMINAL, other_step
    from .serve.validate import SIM_STEPS, replay, replay_coverage, sim_transfer_widening

    print(f"coverage of {NOMINAL:.0%} prediction intervals around both predictors' TPOT and TTFT: the static model's "
          f"(the {step} step's, a new GPU's the hull with the {other_step(step)} step's, as calibrate --coverage) and the "
          f"simulation's (replaying each row with its table's step of record, clients following {args.protocol}'s "
          "protocol; split conformal on its own errors on H100/H200 rows, a new GPU's widened by the factor that makes "
          f"them hold {NOMINAL:.0%} of one Hopper GPU's rows replayed with a fit on the other: "
          "serve.validate.sim_transfer_widening). The book's predictor of record: TPOT static, TTFT simulation")
    for table in args.tables:
        d = calibrate.load_measurements(table=table)
        static = _static_coverage(table, step, args.by)
        steps = args.step or SIM_STEPS[table]
        rep = replay(d, modes=("agg", "disagg"), protocol=args.protocol, step=steps, static_step=step,
                     fits_only=True, workers=args.workers, progress=True)
        w = sim_transfer_widening(d, steps, protocol=args.protocol, workers=args.workers)
        t = pd.concat([static.assign(predictor="static"),
                       replay_coverage(rep, w, by=args.by).assign(predictor="simulation")])
        record = {"tpot": "static", "ttft": "simulation"}
        t["of_record"] = (t.predictor == t.metric.map(record)).map({True: "yes", False: ""})
        t = t.sort_values([*args.by, "metric", "predictor"], kind="stable")
        print(f"\n{table} table (simulated steps from the {steps}; the simulation's widening: "
              f"{', '.join(f'{m} {v:.2f}' for m, v in w.items())})")
        _print_frame(t[[*args.by, "metric", "predictor", "of_record", "nominal", "coverage", "rows"]]
                     .round({"coverage": 2}))
    return 0


def _calibrate_simulated(args: argparse.Namespace, static_step: str) -> int:
    from . import calibrate
    from . import recorded
    from .serve.validate import PROTOCOLS, SIM_STEPS, replay, replay_summary

    steps = {table: args.step or SIM_STEPS[table] for table in SIM_STEPS}
    print(f"TTFT and TPOT from the request-level simulation replaying each measured row (closed-loop clients "
          f"following {args.protocol}'s protocol: {PROTOCOLS[args.protocol].source}; the static fit's parameters), "
          f"beside the static model's (steps from the {static_step}); the simulation's steps from "
          f"{'the ' + args.step if args.step else 'each table its step of record, nvlmodel.serve.validate.SIM_STEPS'}; "
          "aggregated and disaggregated deployments as recorded (a row of more than 72 GPUs, one simulated rack, "
          "is not replayed; a row run with MTP speculative decoding is charged its speculative step per token emitted)")
    for table in args.tables:
        read = recorded.READ["runs"]
        rows = replay(calibrate.load_measurements(table=table), modes=("agg", "disagg"), protocol=args.protocol,
                      step=steps[table], static_step=static_step, fits_only=not args.all_rows,
                      workers=args.workers, progress=True)
        print(f"\n{table} table ({len(rows)} rows replayed, {recorded.READ['runs'] - read} of them read from the runs "
              f"this package recorded, nvlmodel.recorded; simulated steps from the {steps[table]})")
        _print_frame(replay_summary(rows, args.by).round(1))
    return 0


def _anchored(args: argparse.Namespace, step: str) -> int:
    from . import calibrate
    from .calibrate.intervals import ANCHORS, anchored_band, anchored_residuals, anchored_summary
    from .serve.validate import SIM_STEPS, sim_anchored_residuals, sim_transfer_replays

    sim = args.ttft_from == "simulation"
    print("one measured row per deployment on a new GPU, on calibration rows alone: each Hopper GPU's rows predicted "
          f"by {'the simulation (clients following ' + args.protocol + chr(39) + 's protocol) with ' if sim else ''}"
          "a fit on the other GPU alone, the row of lowest concurrency of each deployment (or of each engine and model) "
          "its anchor (left out), the others moved by what the prediction missed on it, in ms "
          "(calibrate.intervals.anchored); median absolute errors, percent, before and after the move, and the 80 % "
          "band of measured / predicted, pooled")
    for table in args.tables:
        d = calibrate.load_measurements(table=table)
        steps = args.step or SIM_STEPS[table] if sim else step
        reps = sim_transfer_replays(d, steps, protocol=args.protocol, workers=args.workers) if sim else None
        for anchor in ANCHORS:
            a = (sim_anchored_residuals(d, steps, protocol=args.protocol, replays=reps, anchor=anchor) if sim
                 else anchored_residuals(d, steps, anchor=anchor))
            print(f"\n{table} table, one anchor per {anchor} ({'simulated, ' if sim else ''}steps from the {steps})")
            _print_frame(anchored_summary(a, args.by).round(1).reset_index())
            for m in ("tpot", "ttft"):
                failed = int(a[f"{m}_anchor_failed"].sum())
                if failed:
                    print(f"{m} band: none ({failed} rows moved to zero or below)")
                    continue
                band = anchored_band(a, m)
                print(f"{m} band: " + ", ".join(f"{w} x{lo:.2f}-{hi:.2f}" for w, (lo, hi) in band.items()))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from .calibrate import STATIC_STEP

    step = args.step or STATIC_STEP  # the static model's; the simulation's default is per table
    if args.anchored:
        return _anchored(args, step)
    if args.coverage:
        return _coverage_simulated(args, step) if args.ttft_from == "simulation" else _coverage(args, step)
    if args.ttft_from == "simulation":
        return _calibrate_simulated(args, step)
    if "dense" in args.tables:
        _calibrate_dense(args, step)
    if "serving" in args.tables:
        _calibrate_serving(args, step)
    return 0


def _calibrate_dense(args: argparse.Namespace, step: str) -> None:
    from . import calibrate

    print(f"fitted parameters per engine (H100 and H200 rows only), steps from the {step}, measured data: "
          "aiconfigurator")
    dense = calibrate.load_measurements()
    cal = calibrate.fitted(step)
    _print_frame(calibrate.calibration_table(dense, cal))
    pred = calibrate.predictions(dense, cal)
    rows = pred if args.all_rows else pred[pred.kv_fits]
    print(f"\nerror by split ({'all rows' if args.all_rows else 'rows whose KV cache fits'}; held-out = B200, "
          "never fitted)")
    _print_frame(calibrate.error_summary(rows, by=tuple(args.by)))
    print(f"\nB200 FP4 over H100 FP8 per GPU, {calibrate.HEADLINE_ENGINE}'s fit, steps from the {step}")
    _print_frame(calibrate.headline(calibrations=cal))


def _calibrate_serving(args: argparse.Namespace, step: str) -> None:
    from . import calibrate

    serving = calibrate.load_measurements(table="serving")
    cal = calibrate.fit_engines(serving, step)
    print("\nchapter 8: MoE and dense Qwen models, aggregated and disaggregated (serving table); fitted on "
          "H100/H200 rows only")
    _print_frame(calibrate.calibration_table(serving, cal))
    pred = calibrate.predictions(serving, cal)
    print(f"\nerror ({'all modelled rows' if args.all_rows else 'rows whose KV cache fits'}; held-out = B200 "
          "and GB200, never fitted)")
    _print_frame(calibrate.error_summary(pred if args.all_rows else pred[pred.kv_fits], by=tuple(args.by)))
    print("\nrows left out, and why")
    _print_frame(calibrate.left_out_table(serving))


def _best(args: argparse.Namespace) -> int:
    from . import search
    from .buyer import frontier_intervals, interval_view

    sla = search.SLA(args.ttft_ms / 1e3, args.tpot_ms / 1e3)
    front = search.best(args.model, args.isl, args.osl, sla, systems=tuple(args.systems), max_gpus=args.max_gpus,
                        price_per_gpu_hour=args.price_per_gpu_hour, calibrations=search.fitted_serving(args.step))
    print(f"{front.attrs['candidates']:,} candidate deployments of {args.model}, ISL {args.isl}, OSL {args.osl}; "
          f"SLA TTFT <= {args.ttft_ms:g} ms, TPOT <= {args.tpot_ms:g} ms")
    if front.empty:
        print(f"empty frontier: {front.attrs['why']}")
        return 1
    front = frontier_intervals(front, args.model, args.isl, args.osl, args.step)
    shown = ["tpot_ms", "tok_s_per_user", "tok_s_per_gpu", "tok_per_joule", "gpu_h_per_mtok"] + (
        ["cost_per_mtok"] if args.price_per_gpu_hour else [])
    cols = ["system", "precision", "mode", "prefill_shape", "decode_shape", "batch", "prefill_workers",
            "decode_workers", "gpus", "ttft_s"] + shown + ["step_source", "extrapolated"]
    if args.simulate:
        front = search.simulate_frontier(front, args.model, args.isl, args.osl,  # the search's own step
                                         calibrations=search.fitted_serving(args.step), progress=True)
        print(f"simulated with the search's steps (the {args.step}), at the load it assumed (sim_clients: "
              "search.frontier_clients); sim_ttft_s: the benchmark's mean, every client's first request sent at "
              "once; sim_ttft_steady_s: the run's second half; startup_s: that first wave's share by hand")
        cols += ["sim_clients", "sim_ttft_s", "sim_ttft_steady_s", "startup_s", "sim_tpot_s", "sim_status"]
    view = interval_view(front.assign(tpot_ms=front.tpot_s * 1e3, tpot_ms_lo=front.tpot_lo_s * 1e3,
                                      tpot_ms_hi=front.tpot_hi_s * 1e3), tuple(shown))
    _print_frame(view[cols])
    print("value (80 % interval), from the serving table's calibration errors of TPOT, widened where a point is "
          "extrapolated and for a GPU no fit has seen (nvlmodel.buyer.frontier_intervals; throughput goes as 1 / TPOT; "
          "where the model erred one way on those rows, an interval lies wholly on one side of its value); "
          "ttft_s: the static formula's point (its intervals hold fewer Blackwell rows than they claim: chapter 7; "
          "--simulate replays the points)")
    eps = {s[2] for s in list(front.decode_shape) + [p for p in front.prefill_shape if p is not None]}
    replicas = sorted((ep, r) for ep in eps if (r := search.redundant_experts_for(args.model, ep)))
    if replicas:  # an expert-parallel split the experts do not divide: the worker holds replicas
        print("expert-parallel workers whose GPUs do not divide the experts hold redundant experts (load-balancing "
              "replicas, search.redundant_experts_for): " + ", ".join(f"EP{ep}: {r}" for ep, r in replicas))
    print("tok_per_joule: output tokens per joule at the system's maximum power (nvlmodel.energy); "
          "gpu_h_per_mtok: GPU-hours per million output tokens"
          + ("; cost_per_mtok at the price given" if args.price_per_gpu_hour else
             " (--price-per-gpu-hour P adds the cost)"))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import pandas as pd

    from .serve.sweep import parse_scenarios, run_scenario, sweep

    status = 0
    if args.sweep is not None:
        scenarios = parse_scenarios(_read_regular(args.sweep), source=args.sweep)  # every row checked
        out = sweep(scenarios, scheduler=args.scheduler, workers=args.workers or LOCAL_WORKERS, progress=not args.quiet)
        bad = out[out.status != "ok"]
        for line, why in zip(bad.line, bad.status):
            print(f"nvlmodel serve: {args.sweep} line {line}: {why}", file=sys.stderr)
        status = 2 if len(bad) else 0
    else:
        scenario = {"system": args.system, "model": args.model, "precision": args.precision, "tp": args.tp,
                    "workers": args.workers_per_rack, "policy": args.policy, "tiers": "+".join(args.tiers),
                    "isl": args.isl, "osl": args.osl, "requests": args.requests, "seed": args.seed}
        if args.rate is not None:
            scenario["rate"] = args.rate
        else:
            scenario["concurrency"] = args.concurrency if args.concurrency is not None else 64
        out = pd.DataFrame([run_scenario(scenario)])
    if args.out:
        _write_atomic(out, args.out)
        print(f"wrote {len(out)} scenario(s) to {args.out}")
    else:
        _print_frame(out)
    return status


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (``nvlmodel CMD: error: ...``), exit 2, as every other
    input error of the command line; ``--help`` shows the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from .calibrate.data import TABLES
    from .calibrate.model import STATIC_STEP, STEP_MODELS, SYSTEMS, WEIGHT_FORMAT
    from .serve.validate import PROTOCOL, PROTOCOLS

    p = _Parser(prog="nvlmodel", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("claims", help="the ledger of the seed document's numbers",
                       description="Print every numeric claim of the seed document with the value the "
                       "package reproduces by the document's own method, its status, its verdict and the datasheet value.")
    fmt = c.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="format", action="store_const", const="json", help="JSON list of claims")
    fmt.add_argument("--markdown", dest="format", action="store_const", const="markdown",
                     help="markdown table")
    c.add_argument("--section", choices=list(ledger.SECTIONS), help="only this section of the document")
    c.add_argument("--status", choices=list(ledger.STATUSES), help="only claims with this status")
    c.add_argument("--verdict", choices=list(ledger.VERDICTS),
                   help="only claims with this verdict (holds, false premise, ...: whether to trust the number)")
    c.set_defaults(func=_claims, format="text")

    s = sub.add_parser("spec", help="one GPU's specs under a preset, with sources",
                       description="Print every field of a GPU spec in display units with its source.")
    s.add_argument("--gpu", required=True, choices=list(GPU_NAMES) + list(GPU_ALIASES),
                   help="GPU registry name or alias")
    s.add_argument("--preset", default="datasheet", choices=list(PRESETS),
                   help="seed: the document's numbers as written; datasheet: public facts (default)")
    s.set_defaults(func=_spec)

    models = list(MODEL_NAMES) + list(MODEL_ALIASES)
    r = sub.add_parser("roofline", help="decode and prefill bounds for one GPU, model and format",
                       description="Decode step time and throughput against batch (weights + KV reads at a "
                       "context, dense peaks under datasheet), the prefill time of one prompt, and the batch at "
                       "which decode turns compute-bound.")
    r.add_argument("--gpu", required=True, choices=list(GPU_NAMES) + list(GPU_ALIASES), help="GPU registry name")
    r.add_argument("--model", default="llama-3.1-70b", choices=models, help="model (default llama-3.1-70b)")
    r.add_argument("--format", default="nvfp4", choices=[f for f in FORMATS],
                   help="weight format; bytes per weight include block scales (default nvfp4)")
    r.add_argument("--preset", default="datasheet", choices=list(PRESETS), help="seed or datasheet (default)")
    r.add_argument("--batch", type=int, nargs="+", default=[1, 8, 64, 256], help="decode batch sizes")
    r.add_argument("--context", type=int, default=4096, help="KV tokens each sequence reads (default 4096)")
    r.add_argument("--prompt", type=int, default=4096, help="prompt length for the prefill time (default 4096)")
    r.add_argument("--kv-bytes", type=float, default=1.0, help="bytes per KV element (1 = FP8, 2 = FP16)")
    r.add_argument("--tp", type=int, default=1, help="tensor-parallel GPUs sharing the model (default 1)")
    r.set_defaults(func=_roofline)

    c2 = sub.add_parser("capacity", help="the KV capacity table (8x H100, 72x H100, NVL72)",
                        description="KV budget per GPU, total, 128K sessions and tokens for the seed's three "
                        "configurations, by the document's formula (seed) or with datasheet facts.")
    c2.add_argument("--model", default="llama-3.1-405b", choices=models)
    c2.add_argument("--preset", default="datasheet", choices=list(PRESETS))
    c2.set_defaults(func=_capacity)

    e = sub.add_parser("endtoend", help="the H100 x8 vs NVL72 replica table under both presets",
                       description="Every cell of the seed's end-to-end table, by its own method and with "
                       "datasheet facts, and the NVL72 advantage of each.")
    e.add_argument("--model", default="llama-3.1-405b", choices=models)
    e.add_argument("--tp", type=int, default=8)
    e.add_argument("--prompt", type=int, default=4096)
    e.add_argument("--batch", type=int, default=256)
    e.add_argument("--context", type=int, default=4096)
    e.set_defaults(func=_endtoend)

    a = sub.add_parser("allreduce", help="NCCL alpha-beta fits and TP all-reduce cost per step",
                       description="Fitted latency and bus bandwidth per measured system and GPU count, and the "
                       "TP all-reduce time of a decode and a prefill step under each model.")
    a.add_argument("--model", default="llama-3.1-405b", choices=models)
    a.add_argument("--tp", type=int, default=8, choices=[2, 4, 8])
    a.set_defaults(func=_allreduce)

    k = sub.add_parser("calibrate", help="the static model calibrated on measured H100/H200 serving, checked on B200",
                       description="Fit per-engine parameters (the roofline's bandwidth and compute fractions, or the "
                       "measured kernels' scale; per-step, per-call and per-request overheads, prefill queueing) on "
                       "H100/H200 rows of aiconfigurator's measured "
                       "serving data, predict the B200 rows without refitting, and print the errors.")
    k.add_argument("--by", nargs="+", default=None,
                   choices=["split", "system", "engine", "backend", "precision", "model", "mode", "tp", "step_source",
                            "harness", "client_warmup"],
                   help="columns to group the report by (default: split for the error tables; split and system for "
                   "--coverage; system for --anchored)")
    k.add_argument("--all-rows", action="store_true",
                   help="include rows whose KV cache does not fit (the error tables; not --coverage or --anchored)")
    k.add_argument("--ttft-from", choices=["static", "simulation"], default="static",
                   help="latencies from the static model (default) or from the simulation replaying every row")
    k.add_argument("--protocol", choices=list(PROTOCOLS), default=None,
                   help=f"with --ttft-from simulation: the benchmark clients' protocol to replay (default: {PROTOCOL})")
    k.add_argument("--dask-workers", "--workers", dest="workers", metavar="N", type=int, default=None,
                   help=f"with --ttft-from simulation: local Dask processes replaying the rows (default {LOCAL_WORKERS}; "
                   "1: none; --workers is the old name)")
    k.add_argument("--coverage", action="store_true",
                   help="instead: how often measured rows fall inside their 80%% prediction intervals, by split and "
                   "system (with --ttft-from simulation: the simulation's intervals too)")
    k.add_argument("--anchored", action="store_true",
                   help="instead: what one measured row per deployment buys on a GPU the fit has not seen, from one "
                   "Hopper GPU to the other (calibration rows only; with --ttft-from simulation: the simulation's)")
    k.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES),
                   help="which measured tables (default both): dense, chapter 7's Llama rows; serving, chapter 8's "
                   "MoE, Qwen and disaggregated rows")
    k.add_argument("--step", choices=STEP_MODELS, default=None,
                   help="step times from the roofline at fitted fractions of peak or from the engines' measured "
                   "kernels with fitted per-step and per-call costs (default: the static formula's, "
                   f"nvlmodel.calibrate.STATIC_STEP, the {STATIC_STEP}; with --ttft-from simulation, each table's step "
                   "of record for the simulation, nvlmodel.serve.validate.SIM_STEPS)")
    k.set_defaults(func=_calibrate)

    from .search import SEARCH_SYSTEMS

    b = sub.add_parser("best", help="best deployments of a model under a latency SLA, per system",
                       description="Enumerate aggregated and disaggregated deployments on H100 HGX, H200 HGX, "
                       "B200 HGX and one GB200 NVL72 rack, predict them with the calibrated model, and print the Pareto frontier "
                       "of output tokens/s per GPU against tokens/s per user among those meeting the SLA.")
    b.add_argument("--model", required=True, choices=list(models), help="model registry name or alias")
    b.add_argument("--isl", type=int, default=1024, help="input tokens per request (default 1024)")
    b.add_argument("--osl", type=int, default=1024, help="output tokens per request (default 1024)")
    b.add_argument("--ttft-ms", type=float, default=2000.0, help="TTFT limit, ms (default 2000)")
    b.add_argument("--tpot-ms", type=float, default=50.0, help="TPOT limit, ms (default 50)")
    b.add_argument("--systems", nargs="+", default=list(SEARCH_SYSTEMS), choices=list(SEARCH_SYSTEMS),
                   help="systems to search (default: all)")
    b.add_argument("--max-gpus", type=int, default=72, help="GPU budget per deployment (default 72)")
    b.add_argument("--step", choices=STEP_MODELS, default=STATIC_STEP,
                   help=f"step times from the engines' measured kernels with fitted overheads or from the calibrated "
                   f"roofline (default: the {STATIC_STEP}, nvlmodel.calibrate.STATIC_STEP), for the search and its "
                   "--simulate re-check alike")
    b.add_argument("--simulate", action="store_true",
                   help="re-check every frontier point with the request-level simulation (closed-loop clients at "
                   "its concurrency, as chapter 9's replay loads measured rows: lengths in [0.8, 1] x nominal, 10 requests "
                   "per client): adds simulated TTFT (the benchmark's mean, and the steady state after the start's "
                   "wave has drained), TPOT, and for disaggregated points the start-up wave's share by hand")
    b.add_argument("--price-per-gpu-hour", type=float, default=None,
                   help="your price per GPU-hour, any currency: adds cost per million output tokens (no default)")
    b.set_defaults(func=_best)

    from .kvbm.routing import POLICIES
    from .serve import TIERS

    v = sub.add_parser("serve", help="simulate a deployment under load (one scenario, or a sweep on Dask)",
                       description="Request-level simulation of a deployment in one rack: one scenario from the "
                       "options, or every row of a scenario CSV (--sweep) on a Dask cluster, written as one table.")
    v.add_argument("--sweep", metavar="FILE", help="CSV of scenarios, one per row (see nvlmodel.serve.sweep)")
    v.add_argument("--scheduler", help="with --sweep: address of an existing Dask scheduler (default: a local cluster)")
    v.add_argument("--dask-workers", "--workers", dest="workers", metavar="N", type=int, default=None,
                   help=f"with --sweep: local Dask worker processes (default {LOCAL_WORKERS}; --workers is the old name; "
                   "engine workers are --workers-per-rack, or the CSV's workers column)")
    v.add_argument("--out", help="write the table to this CSV instead of printing it; an existing file is "
                   "replaced, whole, only once the table is complete")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.add_argument("--system", default="gb200", choices=list(SYSTEMS))
    v.add_argument("--model", default="llama-3.1-70b", choices=models)
    v.add_argument("--precision", default="fp4", choices=list(WEIGHT_FORMAT))
    v.add_argument("--tp", type=int, default=8)
    v.add_argument("--workers-per-rack", type=int, default=1, help="engine workers (default 1)")
    v.add_argument("--policy", default="dynamo", choices=list(POLICIES))
    v.add_argument("--tiers", nargs="*", default=[], choices=list(TIERS))
    v.add_argument("--isl", type=int, default=1024)
    v.add_argument("--osl", type=int, default=1024)
    v.add_argument("--requests", type=int, default=1000)
    v.add_argument("--rate", type=float, help="open loop at this many requests/s")
    v.add_argument("--concurrency", type=int, default=None,
                   help="closed loop with this many clients (the default, with 64)")
    v.add_argument("--seed", type=int, default=0)
    v.set_defaults(func=_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command. Every error from what the user gave ends in one line on stderr and exit 2;
    Ctrl-C in exit 130; an internal error in one line and exit 1 (``NVLMODEL_TRACEBACK=1`` shows
    the traceback). Never a traceback by default."""
    import os

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        return 130
    try:
        _check(args)
        return args.func(args)
    except KeyboardInterrupt:
        print(f"nvlmodel {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, TypeError, OSError) as exc:  # from the user's input: a clear message, exit 2
        if os.environ.get("NVLMODEL_TRACEBACK"):
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"nvlmodel {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: say so in one line
        if os.environ.get("NVLMODEL_TRACEBACK"):
            raise
        print(f"nvlmodel {args.command}: internal error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
              "rerun with NVLMODEL_TRACEBACK=1 for the traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
