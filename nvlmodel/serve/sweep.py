"""Many scenarios through Dask: one simulation per scenario on a ``dask.distributed`` cluster (a
local one by default, or an existing one by scheduler address), gathered into one tidy table.

A scenario is a flat mapping (a row of a CSV): :class:`~nvlmodel.serve.Deployment` fields
(``system``, ``model``, ``precision``, ``tp``, ``workers``, ``mode``, ``policy``, ``tiers`` as
``peer+host``, ...), :class:`~nvlmodel.serve.Workload` fields (``isl``, ``osl``, ``spread``,
``shape``, ``groups``, ``prefix``), and the load: ``rate`` (requests/s, open loop) or
``concurrency`` (closed loop), ``requests`` and ``seed``; ``ttft_slo`` and ``tpot_slo`` (seconds)
set the goodput SLA."""

from __future__ import annotations

import dataclasses
import math

from ..units import require_positive_int
from .engine import Deployment, simulate
from .workload import Workload

_DEPLOYMENT = {f.name for f in dataclasses.fields(Deployment)} - {"calibration"}
_WORKLOAD = {f.name for f in dataclasses.fields(Workload)}
_RUN = {"rate", "concurrency", "requests", "seed", "ttft_slo", "tpot_slo", "scenario"}
#: A scenario's integer and number fields: every field of Deployment and Workload so declared (a CSV
#: gives text; a field added to either is cast without being listed here), and the run's own.
_FIELDS = [f for c in (Deployment, Workload) for f in dataclasses.fields(c)]
_INTS = {f.name for f in _FIELDS if f.type in ("int", "int | None")} | {"concurrency", "requests", "seed"}
_FLOATS = {f.name for f in _FIELDS if f.type in ("float", "float | None")} | {"rate", "ttft_slo", "tpot_slo"}
#: The most requests one scenario may ask for: about 264 bytes each are allocated before the first
#: event, so this bounds a run at about half a gigabyte (a policy, not a hardware fact).
MAX_REQUESTS = 2 * 10**6


def _int(k: str, v) -> int:
    """An integer field: an int, or a number or text that is one (``8``, ``8.0``); ``8.7`` raises."""
    if isinstance(v, bool):
        raise ValueError(f"{k} must be an integer, got {v!r}")
    if isinstance(v, int):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{k} must be an integer, got {v!r}") from None
    if not math.isfinite(f) or not f.is_integer():
        raise ValueError(f"{k} must be an integer, got {v!r}")
    return int(f)


def _float(k: str, v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{k} must be a number, got {v!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"{k} must be a finite number, got {v!r}")
    return f


def _clean(scenario: dict) -> dict:
    """Drop empty cells (a CSV's blanks), cast integer and number fields (an integer field must hold
    an integer: ``tp=8.7`` raises), split ``tiers``; unknown keys raise."""
    out = {}
    for k, v in scenario.items():
        if v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip()):
            continue
        if k not in _DEPLOYMENT | _WORKLOAD | _RUN:
            raise ValueError(f"unknown scenario field {k!r}; fields: {', '.join(sorted(_DEPLOYMENT | _WORKLOAD | _RUN))}")
        if isinstance(v, str):
            v = v.strip()
        if k == "tiers":
            v = tuple(t for t in str(v).replace(",", "+").split("+") if t)
        elif k in _INTS:
            v = _int(k, v)
        elif k in _FLOATS:
            v = _float(k, v)
        out[k] = v
    return out


def check_scenario(scenario: dict) -> dict:
    """The cleaned scenario if every field is valid and the deployment and workload can be built;
    else ``ValueError`` naming the field. Cheap: no simulation runs."""
    return _build(scenario)[0]


def _build(scenario: dict) -> tuple[dict, Deployment, Workload]:
    """:func:`check_scenario`'s checks, returning the cleaned scenario with its deployment and workload."""
    s = _clean(scenario)
    if ("rate" in s) == ("concurrency" in s):
        raise ValueError("a scenario needs exactly one of rate (open loop) or concurrency (closed loop)")
    if "rate" in s and s["rate"] <= 0:
        raise ValueError(f"rate must be > 0 requests/s, got {s['rate']!r}")
    if "concurrency" in s:
        require_positive_int("concurrency", s["concurrency"])
    n = require_positive_int("requests", s.get("requests", 1000))
    if n > MAX_REQUESTS:
        raise ValueError(f"requests = {n:,}: at most {MAX_REQUESTS:,} per scenario")
    if s.get("seed", 0) < 0:
        raise ValueError(f"seed must be >= 0, got {s['seed']}")
    for k in ("ttft_slo", "tpot_slo"):
        if k in s and s[k] <= 0:
            raise ValueError(f"{k} must be > 0 seconds, got {s[k]!r}")
    d = Deployment(**{k: v for k, v in s.items() if k in _DEPLOYMENT})
    w = Workload(**{k: v for k, v in s.items() if k in _WORKLOAD})
    limit = d.config.arch.max_context
    if w.isl + w.osl > limit:
        raise ValueError(f"isl + osl = {w.isl + w.osl:,} exceeds {d.config.arch.name}'s maximum context of {limit:,}")
    return s, d, w


def run_scenario(scenario: dict) -> dict:
    """Simulate one scenario; returns the scenario with :meth:`SimResult.summary` beside it."""
    s, d, w = _build(scenario)
    reqs = w.generate(s.get("requests", 1000), rate=s.get("rate"), seed=s.get("seed", 0))
    res = simulate(d, reqs, concurrency=s.get("concurrency"), seed=s.get("seed", 0), progress=False)
    summary = res.summary(s.get("ttft_slo", 2.0), s.get("tpot_slo", 0.05))
    return {**scenario, "gpus": d.gpus, **{k: float(v) for k, v in summary.items()}}


def _run_safe(scenario: dict) -> dict:
    """:func:`run_scenario`, with a failure reported in the row (``status``) instead of raised."""
    try:
        return {**run_scenario(scenario), "status": "ok"}
    except Exception as e:  # noqa: BLE001 - reported per row; the sweep keeps the other rows
        return {**scenario, "status": f"failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}


def parse_scenarios(text: str, *, source: str = "scenarios") -> "pd.DataFrame":  # noqa: F821
    """Scenario rows from CSV ``text``, strictly: a header, then rows of exactly as many fields
    (a trailing comma is a field too: no silent shift), each a scenario with its ``line`` number.
    Blank lines are skipped; an empty table raises."""
    import csv
    import io

    import pandas as pd

    reader = csv.reader(io.StringIO(text))
    rows, header = [], None
    for raw in reader:
        line = reader.line_num
        if not raw or all(not c.strip() for c in raw):
            continue
        if header is None:
            header = [c.strip() for c in raw]
            if len(set(header)) != len(header) or any(not h for h in header):
                raise ValueError(f"{source} line {line}: the header must name each column once, got {raw}")
            continue
        if len(raw) != len(header):
            raise ValueError(f"{source} line {line}: {len(raw)} fields, the header has {len(header)}"
                             + (" (a trailing comma?)" if len(raw) == len(header) + 1 and not raw[-1].strip() else ""))
        rows.append({"line": line, **dict(zip(header, raw))})
    if not rows:
        raise ValueError(f"{source}: no scenario rows (a header and at least one row are needed)")
    return pd.DataFrame(rows, dtype=object)


def sweep(scenarios, *, scheduler: str | None = None, workers: int = 2, processes: bool = True,
          progress: bool = True, timeout_s: float = 10.0) -> "pd.DataFrame":  # noqa: F821
    """Run ``scenarios`` (a list of mappings or a DataFrame, one row each; a ``line`` column, as
    :func:`parse_scenarios` gives, names rows in messages) on a Dask cluster: an existing one at
    ``scheduler`` (``tcp://host:8786``, reached within ``timeout_s``), else a local cluster of
    ``workers`` single-threaded processes (``processes=False``: one worker thread in this process,
    for a few short runs that would not repay starting processes on a machine already busy).

    Every row is checked before a cluster starts (:func:`check_scenario`); the invalid ones are not
    run. Returns one row per scenario, in input order, with ``status``: ``ok``, ``invalid: why`` or
    ``failed: why`` (a run that raised); the good rows' results are kept whatever the others do."""
    import pandas as pd

    require_positive_int("workers", workers)
    rows = scenarios.to_dict("records") if isinstance(scenarios, pd.DataFrame) else [dict(s) for s in scenarios]
    if not rows:
        raise ValueError("no scenarios to run")
    lines = [r.pop("line", i + 1) for i, r in enumerate(rows)]
    out: list = [None] * len(rows)
    todo = []
    for i, r in enumerate(rows):
        try:
            check_scenario(r)
            todo.append(i)
        except (ValueError, KeyError, TypeError) as e:
            out[i] = {**r, "status": f"invalid: {str(e).splitlines()[0]}"}
    if todo:
        _run_on_dask(rows, todo, out, scheduler, workers, processes, progress, timeout_s)
    frame = pd.DataFrame(out)
    frame.insert(0, "line", lines)
    return frame


def local_cluster(workers: int, processes: bool = True):
    """The package's local Dask cluster: ``workers`` single-threaded worker processes (or, with
    ``processes=False``, one worker thread in this process), no dashboard. A sweep and a replay of
    measured rows (:func:`nvlmodel.serve.validate.replay`) both start theirs here."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers if processes else 1, threads_per_worker=1, processes=processes,
                        dashboard_address=None)


def _run_on_dask(rows, todo, out, scheduler, workers, processes, progress, timeout_s) -> None:
    from distributed import Client, as_completed

    cluster = None
    if scheduler is None:
        cluster = local_cluster(workers, processes)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as e:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler} within {timeout_s:g} s: "
                             f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    try:
        futures = client.map(_run_safe, [rows[i] for i in todo], pure=False)
        index = {f.key: i for f, i in zip(futures, todo)}
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), unit="scenario")
        for f in as_completed(futures):
            out[index[f.key]] = f.result()
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
