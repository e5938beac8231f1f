"""Kernel step lookups: the measured-kernel terms of every modelled serving row
(:func:`nvlmodel.calibrate.model.kernel_times`, three kernel steps a row), with the package's store
of kernel steps (:func:`nvlmodel.kernels.step_time` keeps each step of a scalar batch: a prompt's
prefill is asked for at every concurrency of its deployment) against the same lookups recomputed
every time, run in this process. Both start from empty stores; the best of two runs each. Prints
as its last line ``speedup_vs_uncached: <ratio>``.

    python benchmarks/kernel_steps.py
"""

from __future__ import annotations

import importlib
import time

from nvlmodel import calibrate, kernels
from nvlmodel.calibrate.data import _config

model = importlib.import_module("nvlmodel.calibrate.model")


KEPT = kernels._step_time_of


def run(configs) -> float:
    """Seconds to take every configuration's kernel terms from empty stores."""
    model._unit_terms_of.cache_clear()
    KEPT.cache_clear()
    t = time.perf_counter()
    for c in configs:
        model.kernel_times(c)
    return time.perf_counter() - t


def main() -> None:
    d = calibrate.load_measurements(table="serving")
    configs = [_config(r) for r in d[d.left_out.fillna("") == ""].itertuples()]
    kernels._step_time_of = lambda *a: KEPT.__wrapped__(*a)  # every lookup recomputed
    try:
        base = min(run(configs) for _ in range(2))
    finally:
        kernels._step_time_of = KEPT
    new = min(run(configs) for _ in range(2))
    print(f"kernel terms of {len(configs)} serving rows: recomputed {base:.2f} s, kept {new:.2f} s")
    print(f"speedup_vs_uncached: {base / new:.2f}")


if __name__ == "__main__":
    main()
