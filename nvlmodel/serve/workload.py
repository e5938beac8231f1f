"""What the simulated clients send: request tables (ISL, OSL, a prefix group and how much of the
prompt it shares), arrivals open-loop (Poisson), closed-loop (N in flight) or replayed from a
trace CSV, and generators with shared prefixes (system prompts, multi-turn chat), deterministic
under a seed.

A request table is a :class:`Requests` of equal-length arrays: ``arrival`` (seconds; NaN for
closed-loop requests, which arrive when a client's previous one completes), ``isl``, ``osl``,
``group`` (requests of a group share the first ``prefix`` tokens of their prompt; -1: none) and
``keep`` (tokens a later request of the group may reuse once this one completes: the system
prompt, or in chat the whole conversation so far).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..units import require_choice, require_positive, require_positive_int

#: Workload shapes: no sharing, a few long system prompts, multi-turn conversations.
SHAPES: tuple[str, ...] = ("plain", "system-prompt", "chat")
#: Columns of a trace CSV; ``prefix_group`` and ``prefix_tokens`` are optional.
TRACE_COLUMNS: tuple[str, ...] = ("arrival_s", "isl", "osl")


@dataclass(frozen=True)
class Requests:
    """A table of requests (see the module docstring); arrays are validated on construction."""

    arrival: np.ndarray
    isl: np.ndarray
    osl: np.ndarray
    group: np.ndarray
    prefix: np.ndarray
    keep: np.ndarray

    def __post_init__(self):
        n = len(self.isl)
        if n == 0:
            raise ValueError("a workload needs at least one request")
        for name in ("arrival", "isl", "osl", "group", "prefix", "keep"):
            a = np.asarray(getattr(self, name))
            if a.shape != (n,):
                raise ValueError(f"{name} must have one value per request ({n}), got shape {a.shape}")
            object.__setattr__(self, name, a)
        for name in ("isl", "osl"):
            a = getattr(self, name)
            if not np.issubdtype(a.dtype, np.integer) or a.min() < 1:
                raise ValueError(f"{name} must hold integers >= 1")
        if np.any(self.prefix < 0) or np.any(self.prefix > self.isl):
            raise ValueError("prefix must be within 0..isl for every request")
        if np.any(self.keep < 0) or np.any(self.keep > self.isl + self.osl):
            raise ValueError("keep must be within 0..isl+osl for every request")
        a = self.arrival
        timed = a[~np.isnan(a)]
        if len(timed) and (timed.min() < 0 or np.any(np.diff(a) < 0)):
            raise ValueError("arrival times must be >= 0 and sorted")

    def __len__(self) -> int:
        return len(self.isl)

    @property
    def closed(self) -> bool:
        """Whether the requests arrive from closed-loop clients (no arrival times)."""
        return bool(np.isnan(self.arrival).all())


@dataclass(frozen=True)
class Workload:
    """A generator of request tables. ``isl``/``osl``: mean lengths; ``spread`` > 0 draws each
    uniformly in mean x [1 - spread, 1 + spread]. ``shape``: ``plain`` (nothing shared),
    ``system-prompt`` (``groups`` system prompts of ``prefix`` tokens, one per request at random,
    prepended to a private part of ``isl`` tokens), ``chat`` (``groups`` conversations in turn:
    turn k's prompt is the conversation so far plus ``isl`` new tokens, up to ``max_context``)."""

    isl: int = 1024
    osl: int = 256
    spread: float = 0.0
    shape: str = "plain"
    groups: int = 16
    prefix: int = 2048
    max_context: int = 16384

    def __post_init__(self):
        for what in ("isl", "osl", "groups", "max_context"):
            require_positive_int(what, getattr(self, what))
        if self.shape == "system-prompt":
            require_positive_int("prefix", self.prefix)
        if not 0 <= self.spread < 1:
            raise ValueError(f"spread must be in [0, 1), got {self.spread}")
        require_choice("workload shape", self.shape, SHAPES)

    def generate(self, n: int, *, rate: float | None = None, seed: int = 0) -> Requests:
        """``n`` requests; with ``rate`` (requests/s) Poisson arrivals, else closed-loop (no times)."""
        require_positive_int("n", n)
        rng = np.random.default_rng(seed)
        if rate is None:
            arrival = np.full(n, np.nan)
        else:
            arrival = np.cumsum(rng.exponential(1.0 / require_positive("rate", rate), n))
        isl, osl = (self._lengths(rng, mean, n) for mean in (self.isl, self.osl))
        group = np.full(n, -1, dtype=np.int64)
        prefix = np.zeros(n, dtype=np.int64)
        keep = np.zeros(n, dtype=np.int64)
        if self.shape == "system-prompt":
            group = rng.integers(self.groups, size=n)
            prefix = np.full(n, self.prefix, dtype=np.int64)
            isl = isl + prefix
            keep = prefix.copy()
        elif self.shape == "chat":
            group = rng.integers(self.groups, size=n)
            so_far = np.zeros(self.groups, dtype=np.int64)
            for i in range(n):  # each conversation grows by its turns, in arrival order
                g = group[i]
                if so_far[g] + isl[i] + osl[i] > self.max_context:
                    so_far[g] = 0  # a new conversation in this slot
                prefix[i] = so_far[g]
                isl[i] += so_far[g]
                so_far[g] = keep[i] = isl[i] + osl[i]
        return Requests(arrival, isl, osl, group, prefix, keep)

    def _lengths(self, rng, mean: int, n: int) -> np.ndarray:
        if self.spread == 0:
            return np.full(n, mean, dtype=np.int64)
        lo, hi = mean * (1 - self.spread), mean * (1 + self.spread)
        return np.maximum(1, np.rint(rng.uniform(lo, hi, n))).astype(np.int64)


def read_trace(path) -> Requests:
    """A trace CSV: ``arrival_s`` (sorted seconds), ``isl``, ``osl``, and optionally
    ``prefix_group`` (int, -1 none) and ``prefix_tokens`` (shared prompt tokens of the group).
    A malformed file raises ``ValueError`` naming the column or row."""
    import pandas as pd

    try:
        d = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"cannot read trace {path}: {e}") from e
    missing = [c for c in TRACE_COLUMNS if c not in d.columns]
    if missing:
        raise ValueError(f"trace {path} lacks column(s) {missing}; needs {list(TRACE_COLUMNS)}, optionally "
                         "prefix_group and prefix_tokens")
    cols = {}
    for c in TRACE_COLUMNS + ("prefix_group", "prefix_tokens"):
        if c not in d.columns:
            continue
        v = pd.to_numeric(d[c], errors="coerce")
        bad = v.isna() | ~np.isfinite(v)
        if bad.any():
            raise ValueError(f"trace column {c!r} has a missing or non-numeric value in row {int(bad.idxmax()) + 2}")
        if c != "arrival_s" and (v != np.round(v)).any():
            raise ValueError(f"trace column {c!r} must hold integers (row {int((v != np.round(v)).idxmax()) + 2})")
        cols[c] = v.to_numpy()
    n = len(d)
    group = cols.get("prefix_group", np.full(n, -1)).astype(np.int64)
    prefix = cols.get("prefix_tokens", np.zeros(n)).astype(np.int64)
    prefix = np.where(group < 0, 0, prefix)
    try:
        return Requests(cols["arrival_s"].astype(float), cols["isl"].astype(np.int64), cols["osl"].astype(np.int64),
                        group, prefix, prefix.copy())
    except ValueError as e:
        raise ValueError(f"trace {path}: {e}") from e
