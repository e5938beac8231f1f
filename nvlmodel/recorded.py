"""Recorded runs: the numbers the simulation gave for the runs the book makes (the closed-loop
means of :func:`nvlmodel.serve.closed_loop_means`, the chat rack's summaries), so that a
chapter replaying thousands of measured rows (chapter 9: every row of both tables, the
calibration rows again under each other fit and step) reads them instead of simulating each again;
the loads of the document's rack claim (:func:`nvlmodel.serve.validate.rack_claim`); and every
engine's fitted calibration (:func:`nvlmodel.calibrate.fit_engines`, keyed by its calibration rows'
content: the packaged tables' and the intervals' leave-one-out fits), which every chapter that
predicts would otherwise fit again in its own process.

A run is keyed by everything it depends on that can vary between calls (:func:`run_key`): the
deployment (its every field and its calibration), the requests (every array), the clients, the
warm-up requests not counted, the seed, the SLA of a summary. Everything else it depends on is
the package: the file (:data:`PATH`) carries a digest of the package's code and data and of the
numeric libraries' versions
(:func:`package_digest`), and under any other package it is not read, so a changed model never
meets an old answer: its runs are simulated. ``python scripts/notebooks.py expected`` (which
re-executes every chapter) rewrites the file with the runs the chapters made, under
:data:`RECORD_ENV`; ``tests/test_serve.py`` replays recorded rows afresh and requires the same
numbers, bit for bit.

>>> key = run_key("means", "deployment", 4, 0)
>>> len(key), key == run_key("means", "deployment", 4, 0), key == run_key("means", "deployment", 8, 0)
(20, True, False)
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

#: The recorded runs (a comment line with the package digest, then ``key,values``: each run's
#: numbers, exact (Python's ``repr`` of each float), separated by spaces).
PATH = Path(__file__).resolve().parent / "data" / "replays.csv"
#: When set (to a folder), every process appends the runs it makes or reads there, one file per
#: process, for :func:`write` to gather (``scripts/notebooks.py expected`` sets it).
RECORD_ENV = "NVLMODEL_RECORD_RUNS"
#: When ``"1"``, no run is read from the record: every run is simulated (:func:`ignored`; an
#: environment variable, so that the processes a Dask cluster starts inside the block see it too).
IGNORE_ENV = "NVLMODEL_IGNORE_RECORDED_RUNS"
_HEADER = ("key", "values")
#: Runs this process has read from the record so far (what a command reports of its runs).
READ = {"runs": 0}


@functools.lru_cache(maxsize=None)
def package_digest() -> str:
    """SHA-256 over the package's code and data files (paths and bytes; this file's records left
    out) and the versions of Python, NumPy and pandas: what a run's answer depends on beyond its key."""
    import numpy
    import pandas

    root = PATH.parents[1]
    h = hashlib.sha256()
    files = sorted([*root.rglob("*.py"), *(root / "data").glob("*.csv")])
    for path in files:
        if path == PATH or "__pycache__" in path.parts:
            continue
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(f"python {sys.version_info[:2]} numpy {numpy.__version__} pandas {pandas.__version__}".encode())
    return h.hexdigest()


def run_key(*parts) -> str:
    """The key of one run: a hash of ``parts`` (what the run is, then its inputs): a dataclass whose
    every field is an array (a request table, :class:`~nvlmodel.serve.Requests`) by its arrays'
    bytes, an array by its bytes, anything else by its ``repr`` (a
    :class:`~nvlmodel.serve.Deployment`, a frozen dataclass: every field, its calibration
    included); 20 hex digits."""
    h = hashlib.sha256()
    for part in parts:
        fields = (dataclasses.fields(part) if dataclasses.is_dataclass(part) and not isinstance(part, type)
                  else ())
        arrays = [part]
        if fields and all(isinstance(getattr(part, f.name), np.ndarray) for f in fields):
            arrays = [getattr(part, f.name) for f in fields]
        for a in arrays:
            h.update(b"\0" + (a.tobytes() + str(a.dtype).encode() if hasattr(a, "tobytes") else repr(a).encode()))
    return h.hexdigest()[:20]


def digest_of(path: Path = PATH) -> str | None:
    """The package digest a record file was written under (None: no file)."""
    if not path.exists():
        return None
    with path.open() as f:
        first = f.readline()
    if not first.startswith("# package "):
        raise ValueError(f"{path}: the first line must be '# package <digest>', got {first.strip()!r}")
    return first.split()[-1]


def read(path: Path = PATH) -> tuple[str | None, dict[str, tuple[float, ...]]]:
    """The digest a record file was written under and its runs (``{key: numbers}``); ``(None, {})``
    when there is no file."""
    digest = digest_of(path)
    if digest is None:
        return None, {}
    with path.open(newline="") as f:
        f.readline()
        rows = csv.reader(f)
        if tuple(next(rows, ())) != _HEADER:
            raise ValueError(f"{path}: the second line must be the header {','.join(_HEADER)}")
        return digest, {r[0]: tuple(float(v) for v in r[1].split()) for r in rows}


@functools.lru_cache(maxsize=None)
def _runs() -> dict[str, tuple[float, ...]]:
    return read()[1] if fresh() else {}


def fresh() -> bool:
    """Whether the recorded runs were written by this package (:func:`package_digest`)."""
    return digest_of() == package_digest()


def lookup(key: str) -> tuple[float, ...] | None:
    """The recorded answer of run ``key`` under this package, or None (none recorded, the record
    written by another package, or reading turned off: :func:`ignored`)."""
    return None if os.environ.get(IGNORE_ENV) == "1" else _runs().get(key)


def note(key: str, numbers) -> None:
    """Append run ``key`` and its ``numbers`` to this process's file in the folder :data:`RECORD_ENV`
    names (nothing when it is unset)."""
    folder = _record_folder()
    if folder is None:
        return
    with open(folder / f"{os.getpid()}.csv", "a", newline="") as f:
        csv.writer(f, lineterminator="\n").writerow([key, " ".join(repr(float(v)) for v in numbers)])


def _record_folder() -> Path | None:
    """The folder :data:`RECORD_ENV` names (None: unset); one that is not a directory raises."""
    folder = os.environ.get(RECORD_ENV)
    if not folder:
        return None
    if not Path(folder).is_dir():
        raise ValueError(f"{RECORD_ENV} must name an existing directory to note runs in, got {folder!r}")
    return Path(folder)


def recall(key: str, simulate) -> tuple[float, ...]:
    """Run ``key``'s numbers: recorded under this package (:func:`lookup`), else ``simulate()``'s (a
    sequence of numbers); either way noted (:func:`note`; a bad :data:`RECORD_ENV` fails first)."""
    _record_folder()
    out = lookup(key)
    if out is None:
        out = tuple(float(v) for v in simulate())
    else:
        READ["runs"] += 1
    note(key, out)
    return out


@contextlib.contextmanager
def ignored():
    """Within the block, every run is simulated, as with no record (to check the record against),
    in this process and in any it starts."""
    before = os.environ.get(IGNORE_ENV)
    os.environ[IGNORE_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[IGNORE_ENV]
        else:
            os.environ[IGNORE_ENV] = before


def write(folder: Path, path: Path = PATH) -> int:
    """Gather the runs noted in ``folder`` (:func:`note`) into ``path`` under this package's digest,
    sorted by key, each once; returns how many. Only runs noted are kept: the file holds the runs
    the chapters made, no older ones."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder must be the directory the runs were noted in ({RECORD_ENV}), got {str(folder)!r}")
    runs: dict[str, list[str]] = {}
    for part in sorted(folder.glob("*.csv")):
        with part.open(newline="") as f:
            for row in csv.reader(f):
                if len(row) != len(_HEADER):
                    raise ValueError(f"{part}: a noted run has {len(row)} fields, expected {len(_HEADER)}")
                if runs.setdefault(row[0], row) != row:
                    raise ValueError(f"run {row[0]} was noted twice with different answers: {runs[row[0]]} and {row}")
    with path.open("w", newline="") as f:
        f.write(f"# package {package_digest()}\n")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(_HEADER)
        w.writerows(runs[k] for k in sorted(runs))
    _runs.cache_clear()
    return len(runs)
