"""The ledger: its rule, its hand-checked values, and its agreement with the seed text."""

import json
import math
import re

import pytest

from nvlmodel.claims import (
    SECTIONS,
    all_claims,
    get_claim,
    make_claim,
    parse_printed,
    status_counts,
    to_json,
    to_markdown,
)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("\u2019", "'").replace("\u2014", "-")).strip().lower()


def test_every_quote_is_on_its_line(seed_lines):
    for c in all_claims():
        line = _norm(seed_lines[c.line - 1])
        quote = re.sub(r"\[[^\]]*\]", "", _norm(c.claim))  # [..] marks an editorial insertion
        parts = [p.strip() for p in re.split(r":|\(|\)", quote) if p.strip()]
        # The quote's pieces (row label, values) all appear on the cited line.
        for p in parts:
            for word in re.findall(r"[\w.,]+", p):
                if word in ("b200", "h100", "ratio"):
                    continue  # table rows name the column, not the line
                assert word in line, (c.id, word, c.line)


def test_printed_numbers_are_on_their_line(seed_lines):
    for c in all_claims():
        if c.printed is None:
            continue
        number = re.search(r"[\d,_]+(?:\.\d+)?", c.printed).group(0)
        verbal = re.search(r"\(([^)]+)\)", c.printed)
        text = _norm(seed_lines[c.line - 1])
        assert (verbal.group(1) if verbal else number) in text, (c.id, c.printed)


def test_parse_printed():
    assert parse_printed("2.27x") == (2.27, 0.005)
    assert parse_printed("13,824 GB") == (13824.0, 0.5)
    assert parse_printed("1.8 TB/s") == (1.8, 0.05)
    assert parse_printed(None)[0] is None
    with pytest.raises(ValueError, match="no number"):
        parse_printed("N/A")


def test_status_rule():
    ok = make_claim(id="t.a", section="nvl72", line=34, claim="q", unit="TB/s", printed="130 TB/s", reproduced=129.6)
    assert ok.status == "reproduced" and ok.seed_value == 130
    bad = make_claim(id="t.b", section="nvl72", line=27, claim="q", unit="TB", printed="13.5 TB", reproduced=13.824,
                     explanation="binary step")
    assert bad.status == "inconsistent"
    lost = make_claim(id="t.c", section="kvbm", line=192, claim="q", unit="GB", printed=None, reproduced=163.7)
    assert lost.status == "reproduced" and lost.seed_value is None
    nd = make_claim(id="t.d", section="endtoend", line=420, claim="q", unit="x", printed="4.5x", reproduced=None,
                    explanation="no inputs")
    assert nd.status == "not-derivable"
    # 2.4 is not "doubles" with a verbal tolerance of 0.05, though it rounds to 2 at integer precision.
    assert make_claim(id="t.e", section="intro", line=1, claim="q", unit="x", printed="2x", reproduced=2.4,
                      explanation="e", tolerance=0.05).status == "inconsistent"


def test_bad_claims_are_rejected():
    with pytest.raises(ValueError, match="needs an explanation"):
        make_claim(id="t.x", section="nvl72", line=27, claim="q", unit="TB", printed="13.5 TB", reproduced=13.824)
    with pytest.raises(ValueError, match="outside section 'nvl72'"):
        make_claim(id="t.x", section="nvl72", line=300, claim="q", unit="TB", printed="1 TB", reproduced=1)
    with pytest.raises(ValueError, match="unknown section"):
        make_claim(id="t.x", section="appendix", line=1, claim="q", unit="TB", printed="1 TB", reproduced=1)
    with pytest.raises(ValueError, match="unknown unit"):
        make_claim(id="t.x", section="nvl72", line=27, claim="q", unit="parsecs", printed="1", reproduced=1)


def test_hardware_values_by_hand():
    c = get_claim("nvl72.total-hbm-tb")
    assert (c.seed_value, c.reproduced_value, c.status) == (13.5, 72 * 192 / 1000, "inconsistent")
    assert c.datasheet_value == pytest.approx(72 * 189_471 * 2**20 / 1e12)  # nvidia-smi MiB, as TB
    c = get_claim("nvl72.total-bisection")
    assert c.reproduced_value == pytest.approx(72 * 1.8) and c.status == "reproduced"
    assert c.datasheet_value == pytest.approx(36 * 0.9 * 2)
    c = get_claim("intro.hbm-bandwidth-triples")
    assert c.reproduced_value == pytest.approx(8 / 3.35) and c.status == "inconsistent"
    assert get_claim("spec.ratio.sms").reproduced_value == pytest.approx(192 / 132)
    assert get_claim("spec.ratio.sms").datasheet_value == pytest.approx(148 / 132)
    assert get_claim("nvl72.total-fp4").datasheet_value == 720
    assert get_claim("nvl72.switch-memory-total").datasheet_value == 0


def test_ledger_invariants():
    claims = all_claims()
    assert len({c.id for c in claims}) == len(claims)
    assert [c.line for c in claims] == sorted(c.line for c in claims)
    for c in claims:
        assert c.section in SECTIONS
        lo, hi = SECTIONS[c.section][1:3]
        assert lo <= c.line <= hi
        if c.status != "reproduced":
            assert c.explanation
        # Where the datasheet disagrees with the document's value, the ledger says why.
        if c.datasheet_value is not None and c.reproduced_value is not None:
            if abs(c.datasheet_value - c.reproduced_value) > 1e-9 * max(1, abs(c.reproduced_value)):
                assert c.explanation, c.id


def test_counts_and_filters():
    counts = status_counts()
    assert sum(counts.values()) == len(all_claims())
    assert counts["inconsistent"] == len(all_claims(status="inconsistent")) >= 3
    assert all(c.section == "nvl72" for c in all_claims(section="nvl72"))
    with pytest.raises(ValueError, match="valid choices: reproduced, inconsistent, not-derivable"):
        all_claims(status="wrong")
    with pytest.raises(KeyError, match="ids like it: nvl72"):
        get_claim("nvl72.nonsense")


def test_exports():
    data = json.loads(to_json())
    assert len(data) == len(all_claims())
    assert set(data[0]) >= {"id", "section", "claim", "unit", "seed_value", "reproduced_value", "status",
                            "datasheet_value", "explanation"}
    md = to_markdown()
    assert md.count("\n") == len(all_claims()) + 1


def test_section_frame_is_deterministic_and_filtered():
    from nvlmodel.claims import section_frame

    a, b = section_frame("runner").to_html(), section_frame("runner").to_html()
    assert a == b and 'class="dataframe ledger"' in a
    assert section_frame("runner").data.index.tolist() == [509, 510, 511, 514, 515, 516]
    with pytest.raises(ValueError, match="unknown section"):
        section_frame("appendix")


_NOT_CLAIMS = [
    r"\b(?:[A-Za-z]+\d+[\w.]*|\d+[A-Za-z]\w*)",  # names: H100, FP4, NVL72, L1.5, 405B, 128K, 4K, fp8_bytes
    r"\b1e(?:6|9|12)\b|\b1000\b",  # unit conversions in code
    r"\[0\]|[=<>!+-]=?\s*[0-3]\b|\b[0-3]\s*[*+-]|\(\s*tp(?:_degree)?\s*-\s*1\s*\)",  # loop and index constants
    r"^\s*\d\.\s",  # list numbering
    r"\b\w+_\w*\d\w*",  # identifiers: llama_405b, nvl72_rack, fp8_bytes
    r"NVLink \d\.\d|TP=\d+|\b\d+x\b|\b\d+-GPU\b|\b1 layer\b|, 0\)",  # labels and defaults, not quantities
]


def test_every_number_of_the_document_is_in_the_ledger(seed_lines):
    """Lines without a claim hold no number but names, unit conversions, code constants or list markers."""
    have = {c.line for c in all_claims()}
    missing = []
    for i, line in enumerate(seed_lines, 1):
        if i in have:
            continue
        rest = line
        for pattern in _NOT_CLAIMS:
            rest = re.sub(pattern, " ", rest)
        if re.search(r"\d", rest):
            missing.append(f"{i}: {line.strip()[:90]}")
    assert not missing, "numbers without a claim:\n" + "\n".join(missing)


def test_sections_are_declared_at_their_builders():
    from nvlmodel.claims import BUILDERS, SECTIONS
    from nvlmodel.claims.core import builds

    assert [s.first for s in SECTIONS.values()] == sorted(s.first for s in SECTIONS.values())  # document order
    owned = [sid for sections in BUILDERS.values() for sid in sections]
    assert set(owned) == set(SECTIONS)  # every section has a builder, every builder's sections exist
    with pytest.raises(RuntimeError, match="declared twice"):
        builds(("kvbm", "again", 189, 312, "04-kvbm"))(lambda: [])
    with pytest.raises(ValueError, match="not a range"):
        builds(("new-section", "backwards", 20, 10, "04-kvbm"))(lambda: [])


def test_claims_are_made_with_keywords():
    with pytest.raises(TypeError):
        make_claim("t.p", "nvl72", 34, "q", "TB/s", "130 TB/s", 129.6)  # noqa: positional on purpose


_NUMERAL = re.compile(r"(?<![\w.])\d[\d,_]*(?:\.\d+)?")


def _unquoted_numerals(template: str, quoted: set[str]) -> list[str]:
    from nvlmodel.models import MODEL_NAMES, get_model

    t = re.sub(r"\{[^{}]*\}", "", template)  # filled from values
    t = re.sub(r'"[^"]*"', "", t)  # quotations (system names)
    t = re.sub(r"\blines? \d+(?:-\d+)?(?:,? (?:and )?\d+)*", "", t)  # line references
    t = re.sub(r"(PR|issue) #?\d+", "", t)  # source references
    for name in sorted([get_model(m).name for m in MODEL_NAMES] + ["Llama 70B", "Llama 405B"], key=len, reverse=True):
        t = t.replace(name, "")
    return [n for n in _NUMERAL.findall(t) if n.replace(",", "").replace("_", "") not in quoted]


def test_explanations_write_out_only_the_documents_numbers():
    """A number an explanation writes out itself must be one the document prints (the ledger quotes every
    one); every computed number is a template field filled from a value, so a changed model changes the
    sentence (make_claim(values=...))."""
    ledger = all_claims()
    quoted = {n.replace(",", "").replace("_", "") for c in ledger for n in _NUMERAL.findall(c.claim + " " + (c.printed or ""))}
    typed = {c.id: bad for c in ledger if (bad := _unquoted_numerals(c.explanation_template, quoted))}
    assert not typed, f"explanations with typed numbers (fill them from values): {typed}"
    # The check bites: a typed computed number is caught, a filled one is not.
    assert _unquoted_numerals("software sees 198.7 GB", quoted) == ["198.7"]
    assert _unquoted_numerals("software sees {gb:.1f} GB, not 192 GB (line 14)", quoted) == []


def test_every_verdict_follows_from_status_and_datasheet_value():
    """Derived here independently of Claim.verdict: printed number (or the reproduced value when the
    text lost it) against the datasheet value within the printed rounding."""
    from nvlmodel.claims import all_claims

    for c in all_claims():
        if c.status == "not-derivable":
            expected = "not derivable"
        elif c.status == "inconsistent":
            expected = "arithmetic error"
        elif c.datasheet_value is None:
            expected = "hypothetical"
        elif c.seed_value is None:
            expected = "holds" if math.isclose(c.datasheet_value, c.reproduced_value, rel_tol=1e-9) else "false premise"
        else:
            _, half = parse_printed(c.printed)
            near = abs(c.datasheet_value - c.seed_value) <= (c.tolerance or half) * (1 + 1e-9) + 1e-9 * max(1, abs(c.seed_value))
            expected = "holds" if near else "false premise"
        assert c.verdict == expected, c.id
        assert c.to_dict()["verdict"] == expected


def test_verdicts_of_known_claims_and_no_hand_written_verdict():
    from nvlmodel.claims import get_claim, make_claim

    assert get_claim("nvl72.total-hbm-tb").verdict == "arithmetic error"  # 72 x 192 GB is 13.8 TB, not 13.5
    switch = [c for c in all_claims(section="nvl72") if c.datasheet_value == 0.0 and c.status == "reproduced"]
    assert switch and all(c.verdict == "false premise" for c in switch)  # NVSwitch memory: datasheet 0
    assert get_claim("gang.tp8-groups-per-domain").verdict == "hypothetical"  # no domains on real hardware
    with pytest.raises(TypeError):
        make_claim(id="x", section="nvl72", line=30, claim="x", unit="x", printed="2x", reproduced=2.0,
                   verdict="holds")
    # the same printed number holds or rests on a false premise depending on the datasheet value alone
    ok = make_claim(id="x", section="nvl72", line=30, claim="x", unit="x", printed="2.0x", reproduced=2.0, datasheet=2.04)
    bad = make_claim(id="x", section="nvl72", line=30, claim="x", unit="x", printed="2.0x", reproduced=2.0, datasheet=2.1)
    assert (ok.verdict, bad.verdict) == ("holds", "false premise")


def test_summary_box_counts_and_links():
    from nvlmodel.claims import summary_box, verdict_counts

    box = summary_box("modelexpress")
    rows = all_claims(section="modelexpress")
    v = verdict_counts(rows)
    assert f"{len(rows)} numbers" in box and f"**What holds**: {v['holds']} of them" in box
    assert f"{v['false premise']} rest on a false premise" in box
    ids = {c.id for c in all_claims()}
    linked = re.findall(r'href="90-errata.html#claim-([^"]+)"', box)
    assert linked and set(linked) <= ids
    for cid in linked:  # the numbers to use are the datasheet values of claims that are wrong
        c = get_claim(cid)
        assert c.verdict in ("false premise", "arithmetic error")
    with pytest.raises(ValueError, match="section"):
        summary_box()


def test_verdict_table_counts_every_claim_once_per_section():
    from nvlmodel import claims

    t = claims.verdict_table()
    total = t.loc["all sections"]
    assert total.to_dict() == claims.verdict_counts()
    assert (t.drop(index="all sections").sum() == total).all()
    assert total.sum() == len(claims.all_claims())
