"""One value per quantity across the book.

* Every glued name (myst-nb ``glue``) that two chapters share carries the same value in both: the
  committed executions (``notebooks/*.ipynb``, which ``test_notebooks`` keeps in step with the
  sources and a fresh build) are read, not re-executed. A few names are the page's own (its
  parameters, its summary box) and are allowed to differ.
* Each headline finding's best corrected value is stated, to the precision Key findings prints
  it, on the built page of the chapter the finding links to (skipped without a built book)."""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Glued names that describe the page they are on (its parameters and its summary), not a quantity.
PAGE_OWN = {"in_short", "model_name", "tp_text", "context_text"}
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def glued_values(paths) -> dict[str, dict[str, str]]:
    """name -> {page: value as recorded} for every glue record in the notebooks at ``paths``."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for path in paths:
        for cell in json.loads(Path(path).read_text())["cells"]:
            for o in cell.get("outputs", []):
                rec = o.get("metadata", {}).get("scrapbook")
                if rec:
                    data = o["data"]
                    value = next((data[k] for k in sorted(data) if k.endswith(("text/plain", "text/markdown"))), "")
                    out[rec["name"]][Path(path).stem] = value if isinstance(value, str) else "".join(value)
    return out


def conflicts(values: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {name: pages for name, pages in values.items()
            if name not in PAGE_OWN and len(set(pages.values())) > 1}


def test_a_name_glued_on_two_pages_has_one_value():
    values = glued_values(sorted((ROOT / "notebooks").glob("*.ipynb")))
    assert len(values) > 100  # the records were found
    shared = [n for n, pages in values.items() if len(pages) > 1 and n not in PAGE_OWN]
    assert shared, "no quantity is glued on two pages: the test would check nothing"
    assert not conflicts(values), conflicts(values)


def test_the_glue_check_fails_on_two_values(tmp_path):
    """What the check caught when it was written: chapters 7 and 8 glued ``tpot_target`` as 15 and 20."""
    def nb(name, value):
        p = tmp_path / f"{name}.ipynb"
        p.write_text(json.dumps({"cells": [{"outputs": [{"data": {"application/papermill.record/text/plain": value},
                                                         "metadata": {"scrapbook": {"name": "tpot_target"}}}]}]}))
        return p

    assert conflicts(glued_values([nb("07", "15.0"), nb("08", "20.0")])) == {"tpot_target": {"07": "15.0", "08": "20.0"}}
    assert not conflicts(glued_values([nb("07", "15.0"), nb("09", "15.0")]))


def _significant(token: str) -> int:
    digits = token.replace(",", "")
    if "." in digits:
        return len(digits.replace(".", "").lstrip("0"))
    return max(1, len(digits.rstrip("0")))


def _round_sig(x: float, sig: int) -> float:
    return 0.0 if x == 0 else round(x, sig - 1 - int(math.floor(math.log10(abs(x)))))


def stated(token: str, text: str) -> bool:
    """Whether ``text`` states the number ``token`` (e.g. ``94.6``, ``19,800``) to its precision:
    some number in ``text`` rounds to it at its significant figures."""
    value, sig = float(token.replace(",", "")), _significant(token)
    return any(_round_sig(float(n.replace(",", "")), sig) == _round_sig(value, sig) for n in NUMBER.findall(text))


def test_stated_reads_numbers_to_their_precision():
    assert stated("94.6", "the rack holds 94.64x an H100 node's sessions")
    assert stated("19,800", "about 19,782 output tokens/s")
    assert stated("429", "per-layer copies: 429.0 us")
    assert not stated("94.6", "about 112x a single H100 node's")
    assert not stated("31.7", "44.1 ms")


def _pages():
    from bs4 import BeautifulSoup

    html = ROOT / "_build" / "html" / "notebooks"
    if not html.is_dir():
        pytest.skip("no built book (make book)")
    pages = {}
    for f in sorted(html.glob("*.html")):
        raw = f.read_text()
        main = BeautifulSoup(raw, "html.parser").find("main")
        for t in main(["script", "style"]):
            t.decompose()
        pages[f.stem] = (raw, re.sub(r"\s+", " ", main.get_text(" ")))
    return pages


def test_each_finding_is_stated_on_the_chapter_it_links_to():
    from nvlmodel import findings

    pages = _pages()
    missing = []
    for item in findings.findings():
        page = next((p for p, (raw, _) in pages.items() if f'id="{item.chapter}"' in raw), None)
        assert page is not None, f"no built page carries the label {item.chapter}"
        for token in NUMBER.findall(item.best_text().split(" (")[0]):  # the value, not its interval
            if not stated(token, pages[page][1]):
                missing.append(f"{item.key}: {item.best_text()} not on {page}")
    assert not missing, missing
