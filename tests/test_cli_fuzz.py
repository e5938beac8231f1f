"""The command line never shows a traceback or hangs: random options and values per subcommand
end in exit 0 (or 1: an empty frontier), or exit 2 with one line on stderr. Inputs are drawn by
hypothesis from each subcommand's options and a pool of hostile values (negative, zero, NaN,
infinite, huge, fractional, text, empty); the heavy commands get small loads so that a valid draw
runs quickly. The test prints how many inputs it tried."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nvlmodel.cli import main

HOSTILE = ["-1", "0", "1", "2", "8", "8.7", "nan", "inf", "-inf", "1e308", "99999999999", "abc", "", "4096",
           "gb200", "b200", "h100", "llama-3.1-8b", "deepseek-r1", "fp4", "tcp://127.0.0.1:1", "/dev/null", "/tmp"]
OPTIONS = {
    "spec": ["--gpu", "--preset"],
    "claims": ["--section", "--status", "--verdict"],
    "roofline": ["--gpu", "--model", "--format", "--preset", "--batch", "--context", "--prompt", "--kv-bytes", "--tp"],
    "capacity": ["--model", "--preset"],
    "endtoend": ["--model", "--tp", "--prompt", "--batch", "--context"],
    "allreduce": ["--tp", "--model"],
    "serve": ["--system", "--model", "--precision", "--tp", "--workers-per-rack", "--policy", "--isl", "--osl",
              "--rate", "--concurrency", "--seed", "--workers", "--dask-workers", "--scheduler", "--sweep", "--out"],
    "best": ["--model", "--isl", "--osl", "--ttft-ms", "--tpot-ms", "--systems", "--max-gpus",
             "--price-per-gpu-hour", "--step"],
}
#: Appended to keep a valid draw cheap (argparse keeps the last value of an option).
CHEAP = {"serve": ["--requests", "6", "--quiet"], "best": ["--max-gpus", "8", "--systems", "gb200"],
         "roofline": [], "endtoend": []}
TRIED = []
#: The fuzz runs in a scratch directory: a drawn ``--out 99999999999`` writes a file where it runs.
SCRATCH = tempfile.TemporaryDirectory(prefix="nvlmodel-fuzz-")


class FuzzReport(UserWarning):
    """How many inputs the fuzz test tried (reported in the warnings summary)."""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None,
          derandomize=True)
@given(data=st.data())
def test_cli_fuzz_exits_0_1_or_2_with_one_line(data):
    cmd = data.draw(st.sampled_from(sorted(OPTIONS)))
    argv = [cmd]
    for opt in data.draw(st.lists(st.sampled_from(OPTIONS[cmd]), max_size=4, unique=True)):
        argv += [opt, data.draw(st.sampled_from(HOSTILE))]
    if cmd in ("roofline",) and "--gpu" not in argv:
        argv += ["--gpu", "b200"]
    if cmd == "spec" and "--gpu" not in argv:
        argv += ["--gpu", "b200"]
    if cmd in ("best",) and "--model" not in argv:
        argv += ["--model", "qwen3-32b"]
    argv += CHEAP.get(cmd, [])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(SCRATCH.name):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse: --help (0) or a usage error (2)
            code = e.code
    TRIED.append((argv, code))
    text = err.getvalue()
    assert "Traceback" not in text, (argv, text)
    assert code in (0, 1, 2), (argv, code, text)
    if code == 2:
        assert len(text.strip().splitlines()) == 1, (argv, text)
        assert "internal error" not in text, (argv, text)


def test_cli_fuzz_reports_how_many_inputs_it_tried():
    import warnings

    codes = [c for _, c in TRIED]
    # a warning, so that the count shows in the test run's summary (printed output of a passing test does not)
    warnings.warn(FuzzReport(f"CLI fuzz: {len(TRIED)} inputs tried across {len({a[0] for a, _ in TRIED})} "
                             f"subcommands: {codes.count(0)} ran, {codes.count(1)} empty frontiers, "
                             f"{codes.count(2)} refused"), stacklevel=1)
    if not TRIED:
        pytest.skip("run with the fuzz test")
    assert len(TRIED) == 300 and len({a[0] for a, _ in TRIED}) == len(OPTIONS)
    assert os.getcwd() != SCRATCH.name  # the scratch directory was left after every draw
    assert codes.count(0) > 0 and codes.count(2) > 0  # both valid and hostile draws were exercised
