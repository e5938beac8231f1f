"""The key findings page: every row restates its ledger claim, picks the strongest evidence, and
links to a chapter that exists."""

import re
from pathlib import Path

import numpy as np
import pytest

from nvlmodel import claims, findings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def items():
    return findings.findings()


#: Rows restated per GPU for Llama-3.1-70B (one scope per row): their datasheet bound is computed at
#: that scope, not taken from the ledger's claim about another model and batch.
PER_GPU = ("per-gpu", "decode", "prefill")


def test_each_finding_restates_its_claim(items):
    assert len(items) == 7
    for f in items:
        c = claims.get_claim(f.claim_id)
        if f.key == "sessions":  # a ratio of two cells: checked below
            continue
        assert (f.printed_value, f.seed) == (c.seed_value, c.reproduced_value), f.key
        if f.key not in PER_GPU:
            assert f.datasheet == c.datasheet_value, f.key


def test_per_gpu_rows_hold_one_scope(items):
    """Each per-GPU row's bound, calibrated and measured values describe the same model, GPUs and
    load (chapter 6's waterfall of that point; the prefill bound is the roofline at full peak), so
    the bound is never below what was measured or calibrated: the 405B table's 2.16x bound sat
    beside a 70B measurement of 3.22x before."""
    from nvlmodel.calibrate import waterfall
    from nvlmodel.roofline import prefill

    by = {f.key: f for f in items}
    for key, point in (("per-gpu", 0), ("decode", 1)):
        w = waterfall(point).set_index("kind").ratio
        f = by[key]
        assert (f.datasheet, f.calibrated) == (w["bound"], w["calibrated"]), key
        assert f.datasheet >= f.calibrated and (f.measured is None or f.datasheet >= f.measured[1]), key
    assert by["per-gpu"].measured is None  # nothing was measured at batch 1
    bound = prefill("h100", "llama-3.1-70b", "fp8", prompt=4096).time / prefill("b200", "llama-3.1-70b", "nvfp4",
                                                                                  prompt=4096).time
    assert by["prefill"].datasheet == pytest.approx(bound) and by["prefill"].datasheet >= by["prefill"].calibrated - 1e-9


def test_sessions_ratio_by_hand(items):
    # the table's printed cells: 356 sessions on the NVL72 against 0.66 on one 8x H100 node
    s = {f.key: f for f in items}["sessions"]
    assert s.printed_value == pytest.approx(356 / 0.66)
    from nvlmodel import kvbm

    cap = kvbm.capacity_table("seed", "llama-3.1-405b").set_index("configuration").sessions_128k
    nvl, h8 = cap["72x B200 NVL72 (FP4 weights, FP8 KV)"], cap["8x H100 (FP8 weights, FP16 KV)"]
    assert s.seed == pytest.approx(nvl / h8)


def test_best_value_follows_the_strongest_evidence(items):
    order = ("measured", "simulated", "calibrated", "bound")
    for f in items:
        have = {"measured": f.measured is not None, "simulated": f.simulated is not None,
                "calibrated": f.calibrated is not None, "bound": f.datasheet is not None}
        assert f.basis == next(b for b in order if have[b]), f.key
    by = {f.key: f for f in items}
    assert by["rack"].best == by["rack"].simulated and by["swap"].best == by["swap"].datasheet
    # left of 1 in the figure means worse for the reader: a slower swap than printed is below 1
    assert by["swap"].relative(by["swap"].datasheet) < 1 and by["swap"].relative(by["swap"].printed_value) == 1


def test_table_and_lines_link_to_chapters_that_exist(items):
    t = findings.table(items)
    assert list(t.index) == [f.finding for f in items]
    # what a reader cites is in view before the wide table scrolls; the long scope text is last
    assert list(t.columns[:3]) == ["printed", "best corrected value", "basis"] and t.columns[-1] == "scope"
    scopes = findings.scope_lines(items).splitlines()  # listed under the page's table, one per row, in order
    assert [s.split("**")[1] for s in scopes] == list(t.index) and all(f.scope in s for f, s in zip(items, scopes))
    assert (t.loc[items[3].finding, "measured"]) == "—"  # no measurement of sessions: a dash, not NaN
    labels = {m for md in (ROOT / "notebooks").glob("*.md") for m in re.findall(r"^\(([\w-]+)\)=", md.read_text(), re.M)}
    for ref in re.findall(r"\{ref\}`([\w-]+)`", findings.markdown_lines(items)):
        assert ref in labels, ref


def test_calibrated_ratios_carry_their_propagated_interval(items):
    """The per-GPU rows' calibrated ratios (B200, never fitted, over H100) carry the 80 % interval
    propagated from both sides' dense-row errors, and the page prints them to its precision."""
    from nvlmodel.calibrate import fitted, load_measurements, predictions
    from nvlmodel.calibrate.intervals import log_residuals, throughput_ratio_interval, transfer_residuals

    from nvlmodel.calibrate import headline

    d = load_measurements()

    def interval(ratio, step):
        own = log_residuals(predictions(d, fitted(step)), "tpot")
        new = np.concatenate([own, log_residuals(transfer_residuals(d, step), "tpot")])
        return throughput_ratio_interval(ratio, new, own)

    by = {f.key: f for f in items}
    dec = by["decode"]
    # B200 is a GPU neither step model was fitted on: the hull of the book's step's interval (the
    # kernels') and the other step's interval around its own ratio at the same point (batch 64)
    from nvlmodel.calibrate import STATIC_STEP
    from nvlmodel.calibrate.intervals import other_step

    lo_r, hi_r = interval(dec.calibrated, STATIC_STEP)
    lo_k, hi_k = interval(float(headline(calibrations=fitted(other_step(STATIC_STEP))).calibrated_ratio.iloc[1]),
                          other_step(STATIC_STEP))
    assert dec.calibrated_interval == pytest.approx((min(lo_r, lo_k), max(hi_r, hi_k)))
    lo, hi = dec.calibrated_interval
    assert lo < dec.calibrated < hi and lo <= dec.measured[1] <= hi  # the measurement falls inside
    assert by["per-gpu"].best_text() == findings.with_interval(by["per-gpu"].calibrated,
                                                               *by["per-gpu"].calibrated_interval).replace(" (", "x (")
    assert all(f.calibrated_interval is None for f in items if f.key not in PER_GPU)
