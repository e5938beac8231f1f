"""The claims ledger: every number the seed document prints, reproduced or explained.

>>> from nvlmodel.claims import all_claims
>>> c = {c.id: c for c in all_claims()}["nvl72.total-hbm-tb"]
>>> (c.printed, c.reproduced_value, c.status)
('13.5 TB', 13.824, 'inconsistent')

Each section of the document is declared where its builder is, by :func:`~nvlmodel.claims.core.builds`
on the builder (a function in a module of this package, which imports every module it holds): adding a
section is that one decorator. ``python -m nvlmodel claims --json`` prints the whole ledger.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections import Counter
from functools import lru_cache

from ..units import fmt_value, require_choice
from .core import (BUILDERS, KINDS, SECTIONS, STATUSES, VERDICTS, Builder, Claim, Section, builds, make_claim,
                   parse_printed)

for _module in pkgutil.iter_modules(__path__):  # every builder module registers its sections on import
    importlib.import_module(f"{__name__}.{_module.name}")
_in_order = sorted(SECTIONS.items(), key=lambda kv: kv[1].first)  # document order, whatever the import order
SECTIONS.clear()
SECTIONS.update(_in_order)


@lru_cache(maxsize=1)
def _ledger() -> tuple[Claim, ...]:
    claims = []
    for build, sections in BUILDERS.items():
        for c in build():
            if c.section not in sections:
                raise RuntimeError(f"{build.__name__} made claim {c.id!r} of section {c.section!r}; it builds "
                                   f"{', '.join(sections)}")
            claims.append(c)
    seen: set[str] = set()
    for c in claims:
        if c.id in seen:
            raise RuntimeError(f"duplicate claim id {c.id!r}")
        seen.add(c.id)
    return tuple(sorted(claims, key=lambda c: (c.line, _order(c))))


def _order(c: Claim) -> int:
    return SECTIONS[c.section].first


def all_claims(section: str | None = None, status: str | None = None, verdict: str | None = None) -> list[Claim]:
    """The ledger in document order, optionally filtered by ``section``, ``status`` and ``verdict``."""
    if section is not None:
        require_choice("section", section, SECTIONS)
    if status is not None:
        require_choice("status", status, STATUSES)
    if verdict is not None:
        require_choice("verdict", verdict, VERDICTS)
    return [c for c in _ledger() if section in (None, c.section) and status in (None, c.status)
            and verdict in (None, c.verdict)]


def get_claim(claim_id: str) -> Claim:
    """One claim by id; an unknown id raises ``KeyError`` naming near matches."""
    for c in _ledger():
        if c.id == claim_id:
            return c
    prefix = claim_id.split(".")[0]
    near = [c.id for c in _ledger() if c.id.startswith(prefix)] or [c.id for c in _ledger()][:10]
    raise KeyError(f"unknown claim id {claim_id!r}; ids like it: {', '.join(near)}")


def status_counts(claims: list[Claim] | None = None) -> dict[str, int]:
    """Number of claims per status (every status present, zero included)."""
    counts = Counter(c.status for c in (all_claims() if claims is None else claims))
    return {s: counts.get(s, 0) for s in STATUSES}


def verdict_counts(claims: list[Claim] | None = None) -> dict[str, int]:
    """Number of claims per verdict (every verdict present, zero included): what a reader may trust."""
    counts = Counter(c.verdict for c in (all_claims() if claims is None else claims))
    return {v: counts.get(v, 0) for v in VERDICTS}


def verdict_table(claims: list[Claim] | None = None) -> "pd.DataFrame":  # noqa: F821
    """The ledger's verdicts per section of the seed document: one row per section (its title and
    lines, in the document's order) and a total, one column per verdict (:data:`VERDICTS`)."""
    import pandas as pd

    claims = all_claims() if claims is None else claims
    rows = {}
    for key, sec in sorted(SECTIONS.items(), key=lambda kv: kv[1].first):
        counts = verdict_counts([c for c in claims if c.section == key])
        if any(counts.values()):
            rows[f"{sec.title} (lines {sec.first}-{sec.last})"] = counts
    rows["all sections"] = verdict_counts(claims)
    out = pd.DataFrame.from_dict(rows, orient="index")[list(VERDICTS)]
    out.index.name = "section of the document"
    return out


def summary_box(*sections: str, top: int = 3) -> str:
    """A chapter's closing summary in MyST markdown, from the ledger of ``sections``: what the seed
    says (how many numbers, where), what holds, what is wrong (verdict counts) and the numbers to
    use instead: the ``top`` printed numbers furthest from their datasheet value, each linked to its
    row of the errata."""
    import html
    import math

    if not sections:
        raise ValueError(f"name at least one section; sections: {', '.join(SECTIONS)}")
    rows = [c for s in sections for c in all_claims(section=s)]
    v = verdict_counts(rows)
    spans = sorted((SECTIONS[s].first, SECTIONS[s].last) for s in sections)
    wrong = [c for c in rows if c.verdict in ("false premise", "arithmetic error") and c.seed_value
             and c.datasheet_value and c.unit != "count"]
    wrong.sort(key=lambda c: -abs(math.log(abs(c.datasheet_value / c.seed_value))))
    kinds = [(v["false premise"], "rest on a false premise"), (v["arithmetic error"], "do not follow from the "
             "document's own inputs"), (v["hypothetical"], "describe hardware that does not exist"),
             (v["not derivable"], "cannot be derived from what it states")]
    out = [f"- **The seed says**: {len(rows)} numbers (lines {', '.join(f'{a}-{b}' for a, b in spans)}).",
           f"- **What holds**: {v['holds']} of them, with datasheet facts too.",
           "- **What is wrong**: " + "; ".join(f"{n} {text}" for n, text in kinds if n) + "."]
    if wrong:
        def one(c):
            unit = "" if c.unit == "1" else c.unit
            link = f'<a href="90-errata.html#claim-{html.escape(c.id)}">{html.escape(c.id)}</a>'
            return f'"{c.quote}": **{_with_unit(fmt_value(c.datasheet_value), unit)}**, not {c.printed} ({link})'
        out.append("- **Numbers to use**: " + "; ".join(one(c) for c in wrong[:top]) + ".")
    return "\n".join(out)


def to_json(claims: list[Claim] | None = None) -> str:
    """The ledger as a JSON list of objects (the fields of :class:`Claim`)."""
    return json.dumps([c.to_dict() for c in (all_claims() if claims is None else claims)], indent=2)


RECORD_COLUMNS = ("id", "section", "line", "claim", "unit", "printed", "reproduced", "status", "verdict", "datasheet",
                  "explanation")


def to_records(claims: list[Claim] | None = None) -> list[dict[str, str]]:
    """Rows for display: values formatted, one dict per claim."""
    return [
        {
            "id": c.id, "section": c.section, "line": str(c.line), "claim": c.claim,
            "unit": "" if c.unit in ("1", "count") else c.unit,
            "printed": c.printed or "(lost)", "reproduced": fmt_value(c.reproduced_value),
            "status": c.status, "verdict": c.verdict, "datasheet": fmt_value(c.datasheet_value),
            "explanation": c.explanation,
        }
        for c in (all_claims() if claims is None else claims)
    ]


def _with_unit(value: str, unit: str) -> str:
    if value == "—" or not unit:
        return value
    return f"{value}x" if unit == "x" else f"{value} {unit}"


def section_frame(*sections: str, columns: tuple[str, ...] = ("line", "claim", "printed", "reproduced", "verdict",
                                                            "datasheet", "explanation")
                  ) -> "pd.io.formats.style.Styler":  # noqa: F821
    """The claims of ``sections`` as a display table indexed by the seed line, values formatted with
    their unit, styled with the book's ``ledger`` CSS class (room for the explanation column)."""
    import pandas as pd

    rows = [r for s in sections for r in to_records(all_claims(section=s))]
    for r in rows:
        r["reproduced"], r["datasheet"] = (_with_unit(r[k], r["unit"]) for k in ("reproduced", "datasheet"))
    frame = pd.DataFrame(rows, columns=list(RECORD_COLUMNS))[list(columns)].astype({"line": int}).set_index("line")
    return frame.style.set_table_attributes('class="dataframe ledger"').set_uuid("ledger-" + "-".join(sections))


def to_html_filterable(claims: list[Claim] | None = None, table_id: str = "ledger") -> str:
    """The ledger as an HTML table with a text filter and verdict and status menus (a few lines of
    inline JavaScript, no network): what the errata chapter shows. Each row is anchored by its claim
    id (``#claim-<id>``), so a citation can point at one claim."""
    import html

    rows = to_records(claims)
    for r in rows:
        r["reproduced"], r["datasheet"] = (_with_unit(r[k], r["unit"]) for k in ("reproduced", "datasheet"))
    cols = ["line", "claim", "verdict", "status", "printed", "reproduced", "datasheet", "explanation"]
    head = "".join(f"<th>{c}</th>" for c in ["id"] + cols)

    def cells(r):
        anchor = f'<td><a class="claim-id" href="#claim-{html.escape(r["id"])}">{html.escape(r["id"])}</a></td>'
        return anchor + "".join(f"<td>{html.escape(r[c])}</td>" for c in cols)

    body = "\n".join(
        f'<tr id="claim-{html.escape(r["id"])}" data-status="{r["status"]}" data-verdict="{r["verdict"]}">'
        + cells(r) + "</tr>" for r in rows)
    verdicts = "".join(f'<option value="{v}">{v}</option>' for v in VERDICTS)
    statuses = "".join(f'<option value="{s}">{s}</option>' for s in STATUSES)
    return f"""<div class="ledger-filter">
<input type="search" id="{table_id}-q" placeholder="filter: any text, e.g. NVLink or 405B" size="30">
<select id="{table_id}-v" aria-label="verdict"><option value="">all verdicts</option>{verdicts}</select>
<select id="{table_id}-s" aria-label="status"><option value="">all statuses</option>{statuses}</select>
<span id="{table_id}-n"></span></div>
<div class="table-scroll"><table id="{table_id}" class="dataframe ledger"><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table></div>
<script>
(function() {{
  const q = document.getElementById("{table_id}-q"), s = document.getElementById("{table_id}-s");
  const v = document.getElementById("{table_id}-v"), n = document.getElementById("{table_id}-n");
  const rows = Array.from(document.querySelectorAll("#{table_id} tbody tr"));
  function apply() {{
    const text = q.value.toLowerCase(), status = s.value, verdict = v.value; let shown = 0;
    rows.forEach(r => {{
      const ok = (!status || r.dataset.status === status) && (!verdict || r.dataset.verdict === verdict)
                 && r.textContent.toLowerCase().includes(text);
      r.style.display = ok ? "" : "none"; shown += ok;
    }});
    n.textContent = " " + shown + " of " + rows.length + " claims";
  }}
  q.addEventListener("input", apply); s.addEventListener("change", apply); v.addEventListener("change", apply); apply();
}})();
</script>"""


def write_exports(directory) -> dict[str, "Path"]:  # noqa: F821
    """Write the full ledger as ``ledger.csv`` and ``ledger.json`` under ``directory`` (created if
    needed): every field of every claim, verdict included, values unformatted. Returns the paths."""
    import csv
    from pathlib import Path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    records = [c.to_dict() for c in all_claims()]
    paths = {"csv": out / "ledger.csv", "json": out / "ledger.json"}
    paths["json"].write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")  # as to_json writes it
    with paths["csv"].open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(records[0]))
        w.writeheader()
        w.writerows(records)
    return paths


def to_markdown(claims: list[Claim] | None = None) -> str:
    """The ledger as a GitHub/MyST markdown table."""
    rows = to_records(claims)
    cols = ["id", "line", "claim", "unit", "printed", "reproduced", "status", "verdict", "datasheet", "explanation"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(r[k].replace("|", "\\|") for k in cols) + " |")
    return "\n".join(out)


__all__ = [
    "BUILDERS",
    "KINDS",
    "SECTIONS",
    "STATUSES",
    "VERDICTS",
    "Claim",
    "Section",
    "builds",
    "all_claims",
    "get_claim",
    "make_claim",
    "parse_printed",
    "status_counts",
    "summary_box",
    "to_json",
    "to_markdown",
    "to_records",
    "to_html_filterable",
    "verdict_counts",
    "write_exports",
]
