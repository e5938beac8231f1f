"""Measurements and splits: the curated rows (or a reader's CSV), each with its engine, split
(calibration: H100/H200; held-out: the rest) and whether its KV cache fits."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from .model import CALIBRATION_SYSTEMS, Config, kv_fits


#: Columns a measurement table must have (``nvlmodel/data/measurements.csv`` has more).
REQUIRED_COLUMNS: tuple[str, ...] = ("system", "backend", "campaign", "model", "precision", "isl", "osl",
                                     "concurrency", "tp", "ttft_ms", "tpot_ms")


def _prepare(d: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    missing = [c for c in REQUIRED_COLUMNS if c not in d.columns]
    if missing:
        raise ValueError(f"measurements lack columns {missing}; required: {', '.join(REQUIRED_COLUMNS)}")
    d = d.copy()
    d["engine"] = d.backend + "@" + d.campaign.astype(str)
    d["split"] = np.where(d.system.isin(CALIBRATION_SYSTEMS), "calibration", "held-out")
    d["kv_fits"] = [kv_fits(_config(r)) for r in d.itertuples()]  # validates every row
    return d


@lru_cache(maxsize=1)
def _measurements():
    import pandas as pd

    with resources.files("nvlmodel.data").joinpath("measurements.csv").open() as f:
        d = pd.read_csv(f, dtype={"backend_version": str, "precision_note": str, "gemm_quant_mode": str,
                                  "campaign": str})
    return _prepare(d)


def load_measurements(path: "str | None" = None) -> "pd.DataFrame":  # noqa: F821
    """The curated measured rows (or your own CSV at ``path`` with :data:`REQUIRED_COLUMNS`), with
    their ``engine`` (backend@campaign), ``split`` (calibration: H100/H200; held-out: the rest)
    and whether their KV cache fits (``kv_fits``)."""
    if path is None:
        return _measurements().copy()
    import pandas as pd

    return _prepare(pd.read_csv(path, dtype={"campaign": str}))


def _config(row) -> Config:
    kv = getattr(row, "kv_dtype", None)
    return Config(row.system, row.model, row.precision, int(row.tp), int(row.concurrency), int(row.isl),
                  int(row.osl), backend=row.backend, kv_dtype=kv if isinstance(kv, str) and kv else None)


def calibration_rows(measurements: "pd.DataFrame") -> "pd.DataFrame":  # noqa: F821
    """The rows a fit may use: calibration systems only, and only those whose KV fits."""
    return measurements[measurements.system.isin(CALIBRATION_SYSTEMS) & measurements.kv_fits]
