"""The claims ledger mechanism: one :class:`Claim` per number the seed document prints.

A claim stores the number *as printed* (a string, so that its rounding is known), the value the
package computes by the document's own method and inputs (``reproduced_value``), the same
quantity under the ``datasheet`` preset, and a status derived by one rule:

* ``not-derivable`` -- the package cannot compute the number from anything the document states;
* ``reproduced`` -- the computed value rounds to the printed one (half a unit of the last printed
  digit, or an explicit tolerance for verbal claims such as "doubles"), or the text lost the
  number and the value shown is what the document's method gives;
* ``inconsistent`` -- otherwise.

A status says whether the arithmetic follows; a reader also needs to know whether to trust the
number. The :attr:`Claim.verdict` is derived from the status and the datasheet value, never written
by hand:

* ``holds`` -- reproduced, and the datasheet value rounds to the printed number as well;
* ``false premise`` -- reproduced, but with public datasheet facts the number is different: the
  arithmetic is right, an input is not;
* ``arithmetic error`` -- inconsistent: the number does not follow from the document's own inputs;
* ``not derivable`` -- not derivable from anything the document states;
* ``hypothetical`` -- reproduced, but there is no datasheet counterpart: the number describes the
  document's own design (switch-memory promotion rules, TP groups per "domain") that no product has.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from ..units import UNIT_SCALES, require_choice

STATUSES: tuple[str, ...] = ("reproduced", "inconsistent", "not-derivable")
KINDS: tuple[str, ...] = ("input", "derived")
VERDICTS: tuple[str, ...] = ("holds", "false premise", "arithmetic error", "not derivable", "hypothetical")

class Section(NamedTuple):
    """A section of the seed document: its title, first and last line, and the book chapter that
    treats it."""

    title: str
    first: int
    last: int
    chapter: str


#: Sections of the seed document, declared where their builder is (:func:`builds`): id -> Section.
SECTIONS: dict[str, Section] = {}
#: Every registered builder with the sections its claims may belong to.
BUILDERS: dict[Callable[[], list["Claim"]], tuple[str, ...]] = {}


def builds(*declared: tuple[str, str, int, int, str], also: tuple[str, ...] = ()):
    """Register a ledger builder: it declares the sections ``(id, title, first line, last line,
    chapter)`` it owns, and names with ``also`` the sections declared elsewhere it adds claims to.
    Adding a section is this one decorator on its builder."""
    def register(builder):
        for sid, title, first, last, chapter in declared:
            if sid in SECTIONS:
                raise RuntimeError(f"section {sid!r} is declared twice")
            if not 1 <= first <= last:
                raise ValueError(f"section {sid!r}: lines {first}-{last} are not a range")
            SECTIONS[sid] = Section(title, first, last, chapter)
        BUILDERS[builder] = tuple(s[0] for s in declared) + tuple(also)
        return builder
    return register



_NUMBER = re.compile(r"[-+]?\d[\d,_]*(?:\.\d+)?(?:e[-+]?\d+)?")


def parse_printed(printed: str | None) -> tuple[float | None, float]:
    """The first number in a printed string and half a unit of its last digit.

    >>> parse_printed("2.27x")
    (2.27, 0.005)
    >>> parse_printed("13,824 GB")
    (13824.0, 0.5)
    >>> parse_printed("3.35e12")
    (3350000000000.0, 5000000000.0)
    """
    if printed is None:
        return None, math.nan
    m = _NUMBER.search(printed)
    if m is None:
        raise ValueError(f"no number in printed value {printed!r}")
    text = m.group(0).replace(",", "").replace("_", "")
    mantissa, _, exponent = text.partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return float(text), 0.5 * 10.0 ** (int(exponent or 0) - decimals)


@dataclass(frozen=True)
class Claim:
    """One numeric claim of the seed document and its reproduction. Values are in ``unit``.

    ``claim`` quotes the seed's line; text in square brackets is an editorial insertion (the
    column of a table row, or a note that the text lost the number)."""

    id: str
    section: str
    line: int
    claim: str
    unit: str
    printed: str | None
    seed_value: float | None
    reproduced_value: float | None
    status: str
    datasheet_value: float | None
    kind: str
    explanation: str
    #: The explanation before its values were filled in: every number in it is quoted from the
    #: document (or a line reference); computed numbers are ``{placeholders}`` (see :func:`make_claim`).
    explanation_template: str = field(default="", compare=False, repr=False)
    #: Absolute tolerance in ``unit`` the status used: half a unit of the printed number's last digit,
    #: or the explicit tolerance of a verbal claim (None: the text lost the number).
    tolerance: float | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("explanation_template")
        d["verdict"] = self.verdict
        d["chapter"] = self.chapter
        return d

    @property
    def verdict(self) -> str:
        """Whether to trust the printed number (module docstring): derived from :attr:`status` and
        :attr:`datasheet_value`, one of :data:`VERDICTS`."""
        if self.status == "not-derivable":
            return "not derivable"
        if self.status == "inconsistent":
            return "arithmetic error"
        if self.datasheet_value is None:
            return "hypothetical"
        target = self.seed_value if self.seed_value is not None else self.reproduced_value
        tol = self.tolerance if self.tolerance is not None and self.seed_value is not None else 0.0
        same = abs(self.datasheet_value - target) <= tol * (1 + 1e-9) + 1e-9 * max(1.0, abs(target))
        return "holds" if same else "false premise"

    @property
    def quote(self) -> str:
        """The seed's words alone: :attr:`claim` without the editorial insertions in square brackets."""
        return re.sub(r"\s*\[[^\]]*\]", "", self.claim).strip()

    @property
    def chapter(self) -> str:
        return SECTIONS[self.section][3]


def make_claim(
    *,
    id: str,
    section: str,
    line: int,
    claim: str,
    unit: str,
    printed: str | None,
    reproduced: float | None,
    datasheet: float | None = None,
    explanation: str = "",
    values: Mapping[str, Any] | None = None,
    kind: str = "derived",
    tolerance: float | None = None,
) -> Claim:
    """Build a :class:`Claim` (keyword arguments only), deriving ``seed_value`` from ``printed`` and the status by the rule
    in the module docstring. ``tolerance`` (absolute, in ``unit``) replaces the printed rounding
    for verbal claims ("doubles", "~500ns"). ``explanation`` is a template filled from ``values``
    (``str.format`` fields, e.g. ``"{gb:.1f} GB"``), so that a changed model changes the sentence;
    the numbers it writes out itself are the document's (a test holds it to that)."""
    require_choice("section", section, SECTIONS)
    require_choice("unit", unit, UNIT_SCALES)
    require_choice("kind", kind, KINDS)
    first, last = SECTIONS[section][1:3]
    if not first <= line <= last:
        raise ValueError(f"claim {id!r}: line {line} is outside section {section!r} (lines {first}-{last})")
    seed_value, half_unit = parse_printed(printed)
    tol = half_unit if tolerance is None else tolerance
    if reproduced is None:
        status = "not-derivable"
    elif seed_value is None or abs(reproduced - seed_value) <= tol * (1 + 1e-9):
        status = "reproduced"
    else:
        status = "inconsistent"
    if status != "reproduced" and not explanation:
        raise ValueError(f"claim {id!r} is {status}: it needs an explanation")
    try:
        text = explanation.format(**values) if values is not None else explanation
    except (KeyError, IndexError) as e:
        raise ValueError(f"claim {id!r}: explanation has a field without a value: {e}") from None
    return Claim(id=id, section=section, line=line, claim=claim, unit=unit, printed=printed,
                 seed_value=seed_value, reproduced_value=_clean(reproduced),
                 status=status, datasheet_value=_clean(datasheet), kind=kind, explanation=text,
                 explanation_template=explanation, tolerance=None if seed_value is None else tol)


def _clean(v: float | None) -> float | None:
    """Round away binary noise (``0.1 + 0.2``) so that JSON and tables read as the math does."""
    return None if v is None else float(f"{v:.12g}")


#: A section builder returns the claims of one part of the document.
Builder = Callable[[], list[Claim]]
