"""Speed of the NVFP4 and MXFP4 round trip (quantize + dequantize) on 2**24 float32 values.

Prints elements per second for each format and, as its last line, the ratio of the NVFP4 round
trip to one numpy pass ``np.abs(x).max()`` over the same array, measured in the same run (best of
N repeats each, so the ratio compares like with like on a noisy machine).

    python benchmarks/fp4_quantize.py [--n 16777216] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nvlmodel import fp4


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up: first touch of the output pages
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2**24, help="number of float32 values (default 2**24)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats; the best is kept (default 5)")
    args = p.parse_args()
    x = fp4.weight_like("gaussian", args.n, rng_seed=0)
    base = best_of(lambda: np.abs(x).max(), args.repeats)
    print(f"baseline np.abs(x).max(): {base * 1e3:.1f} ms ({args.n / base / 1e9:.2f} G elements/s)")
    ratios = {}
    for fmt in ("mxfp4", "nvfp4"):
        tq = best_of(lambda: fp4.quantize(x, fmt), args.repeats)
        q = fp4.quantize(x, fmt)
        td = best_of(lambda: fp4.dequantize(q), args.repeats)
        trip = best_of(lambda: fp4.dequantize(fp4.quantize(x, fmt)), args.repeats)
        ratios[fmt] = trip / base
        print(f"{fmt}: quantize {tq * 1e3:.1f} ms, dequantize {td * 1e3:.1f} ms, round trip {trip * 1e3:.1f} ms "
              f"= {args.n / trip / 1e6:.0f} M elements/s ({ratios[fmt]:.1f}x the baseline pass)")
    print(f"nvfp4_round_trip_vs_abs_max: {ratios['nvfp4']:.1f}")


if __name__ == "__main__":
    main()
