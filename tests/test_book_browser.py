"""The rendered book, as a reader's browser sees it: every page renders (a non-blank screenshot);
at a desktop and a phone width every <img> loads, nothing scrolls the page sideways or is clipped,
no table is cut at the window, figures are drawn at the column's width; no console errors; and no
internal link or anchor is broken.

Needs the built book (``make book``; built here if missing) and Debian's ``chromium`` (``.ci/run``
installs it). Outside CI, a missing Chromium skips these tests; in CI it fails them.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return exe


@pytest.fixture(scope="module")
def book() -> Path:
    if not (HTML / "index.html").exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "notebooks.py"), "book"], check=True)
    return HTML


def pages(book: Path) -> list[Path]:
    return sorted(book.glob("notebooks/*.html")) + sorted(book.glob("book/*.html"))


#: The harness, one page for one browser launch. Every page (and an empty control page) is shown in
#: an iframe of a reader's 1300 x 900 px desktop window, drawn at half size in a grid: the contact
#: sheet, which the screenshot shows whole and each cell is checked apart. Then, out of the
#: screenshot, every page is loaded again in a 420 x 900 px phone window, and the control page at the
#: desktop width without the book's stylesheet. Each window (900 px tall: the book's CSS sizes some
#: boxes by the window's height) is reported to the console: images that did not load, figures,
#: horizontal overflow of the page, content clipped by ``overflow: hidden`` and content that scrolls
#: sideways inside a box taller than the window (its scroll bar out of sight: the reader sees a cut
#: table).
HARNESS = """<!doctype html><html><body style="margin:0;background:#fff">
<script>
const P = new URLSearchParams(location.search);
const list = k => (P.get(k) || "").split(",").filter(Boolean);
const [W, S, COLS, WIN, PHONE] = ["w", "scale", "cols", "win", "phone"].map(k => Number(P.get(k)));
function inspect(doc, page, width, strip) {
  const main = doc.querySelector("main") || doc.body;
  const imgs = Array.from(doc.images);
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src"));
  const clipped = [], unreachable = [];
  for (const el of main.querySelectorAll("*")) {
    if (el.closest("mjx-container, .math, .prev-next-area")) continue;  // MathJax's hidden copy, theme ellipses
    if (el.scrollWidth <= el.clientWidth + 1) continue;
    const cs = doc.defaultView.getComputedStyle(el);
    const name = el.tagName.toLowerCase() + "." + String(el.className || "").split(" ").join(".")
                 + " " + el.scrollWidth + ">" + el.clientWidth;
    if (cs.overflowX === "hidden" || cs.overflowX === "clip") clipped.push(name);
    else if ((cs.overflowX === "auto" || cs.overflowX === "scroll") && el.clientHeight > WIN) unreachable.push(name);
  }
  const column = main.clientWidth;
  // output boxes whose table is wider than the box: a reader sees some of its columns
  const sideways = Array.from(main.querySelectorAll(".cell_output .output.text_html"))
    .filter(b => b.scrollWidth > b.clientWidth + 1)
    .map(b => (b.closest("section[id]") || {id: "?"}).id + " " + b.scrollWidth + ">" + b.clientWidth);
  // each saved figure's drawn size over the size it was drawn for (its text scales by as much)
  const scales = Array.from(doc.querySelectorAll("figure[id^='fig-'] img"))
    .map(i => [i.closest("figure").id, i.getBoundingClientRect().width / (parseFloat(i.style.width) || i.naturalWidth)]);
  const figs = Array.from(doc.querySelectorAll("figure img, .figure img"));
  return {page, width, strip, images: imgs.length, figures: figs.length, bad, column,
          overflow: doc.documentElement.scrollWidth - doc.documentElement.clientWidth,
          clipped: clipped.slice(0, 5), unreachable: unreachable.slice(0, 5), sideways: sideways.slice(0, 5), scales,
          figure_widths: figs.map(i => parseFloat(i.style.width) || i.naturalWidth)};  // the size it is drawn for
}
function frame(src, parent, width, height, scale = 1, left = 0, top = 0) {
  const box = document.createElement("div");
  box.style.cssText = `position:absolute;left:${left}px;top:${top}px;width:${width * scale}px;`
                      + `height:${height * scale}px;overflow:hidden`;
  const f = document.createElement("iframe");
  f.style.cssText = `width:${width}px;height:${height}px;border:0;transform:scale(${scale});transform-origin:0 0`;
  box.appendChild(f);
  parent.appendChild(box);
  return new Promise(res => { f.onload = () => res(f); f.src = src; });
}
async function run() {
  const sheet = list("sheet");
  const cells = await Promise.all(sheet.map((p, i) => frame(p, document.body, W, WIN, S, (i % COLS) * W * S,
                                                                 Math.floor(i / COLS) * WIN * S)));
  await new Promise(res => setTimeout(res, 300));
  cells.forEach((f, i) => console.log("NVLREPORT " + JSON.stringify(inspect(f.contentDocument, sheet[i], W, false))));
  // then one window at a time inside a box of no size: laid out, out of the screenshot, and the
  // sheet's page does not scroll
  const hidden = document.createElement("div");
  hidden.style.cssText = "position:absolute;left:0;top:0;width:0;height:0;overflow:hidden";
  document.body.appendChild(hidden);
  for (const [key, width, strip] of [["pages", PHONE, false], ["strip", W, true]]) {
    for (const p of list(key)) {
      const f = await frame(p, hidden, width, WIN);
      if (strip) f.contentDocument.querySelectorAll('link[href*="nvlmodel.css"]').forEach(l => l.remove());
      await new Promise(res => setTimeout(res, 300));
      console.log("NVLREPORT " + JSON.stringify(inspect(f.contentDocument, p, width, strip)));
      f.parentNode.remove();
    }
  }
  console.log("NVLDONE");
}
run();
</script></body></html>"""
WIDTHS = (1300, 420)  # a desktop window and a phone
#: The reader's window height (a box taller than it hides its sideways scroll bar from the reader)
#: and the contact sheet: each desktop window at half size, four to a row.
WINDOW_H, SHOT_SCALE, SHOT_COLS = 900, 0.5, 4
CELL_W, CELL_H = int(WIDTHS[0] * SHOT_SCALE), int(WINDOW_H * SHOT_SCALE)
#: Controls, checked in the same launch: an empty page (its cell must be blank) and the errata without
#: the book's stylesheet (its full ledger, wider than the column and taller than the window, must be
#: reported as cut: the state it was in before that was fixed).
BLANK, UNSTYLED = "/blank.html", "/site/notebooks/90-errata.html"


class _Server(str):
    """The server's address (a str), with the folder it serves as ``root``."""

    def __new__(cls, url: str, root: Path):
        obj = super().__new__(cls, url)
        obj.root = root
        return obj


@pytest.fixture(scope="module")
def server(book: Path):
    """Serve a folder holding the book (as /site), the harness page and an empty page, on loopback only."""
    root = Path(tempfile.mkdtemp(prefix="nvlbook-"))
    (root / "site").symlink_to(book, target_is_directory=True)
    (root / "check.html").write_text(HARNESS)
    (root / BLANK.lstrip("/")).write_text("<!doctype html><html><body></body></html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield _Server(f"http://127.0.0.1:{httpd.server_address[1]}", root)
    httpd.shutdown()
    shutil.rmtree(root, ignore_errors=True)


def _run(exe: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                              timeout=300)


def _blank_cells(shot: Path, pages: list[str]) -> list[str]:
    """The pages whose cell of the contact sheet ``shot`` is blank (grey-level standard deviation at most 10)."""
    from PIL import Image, ImageStat

    rows = -(-len(pages) // SHOT_COLS)
    sheet = Image.open(shot).convert("L")
    assert sheet.size == (SHOT_COLS * CELL_W, rows * CELL_H), sheet.size
    blank = []
    for i, page in enumerate(pages):
        x, y = (i % SHOT_COLS) * CELL_W, (i // SHOT_COLS) * CELL_H
        if ImageStat.Stat(sheet.crop((x, y, x + CELL_W, y + CELL_H))).stddev[0] <= 10:
            blank.append(page)
    return blank


@pytest.fixture(scope="module")
def browsed(book, server, tmp_path_factory):
    """One browser launch (:data:`HARNESS`): every page of the book and the controls. Returns the
    reports, the console lines and the pages whose screenshot cell is blank."""
    exe = _chromium()
    site = ["/site/" + p.relative_to(book).as_posix() for p in pages(book)]
    sheet = site + [BLANK]
    query = (f"sheet={','.join(sheet)}&pages={','.join(site)}&strip={UNSTYLED}&w={WIDTHS[0]}"
             f"&scale={SHOT_SCALE}&cols={SHOT_COLS}&win={WINDOW_H}&phone={WIDTHS[1]}")
    shot = tmp_path_factory.mktemp("browser") / "sheet.png"
    rows = -(-len(sheet) // SHOT_COLS)
    done = _run(exe, f"--window-size={SHOT_COLS * CELL_W},{rows * CELL_H}", "--virtual-time-budget=300000",
                "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
                f"{server}/check.html?{query}")
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    assert any("NVLDONE" in line for line in console), "the harness did not finish:\n" + done.stderr[-2000:]
    reports = [json.loads(m.group(1)) for line in console if (m := re.search(r'"NVLREPORT (\{.*\})", source:', line))]
    assert len(reports) == len(sheet) + len(site) + 1, len(reports)
    return {"reports": reports, "console": [line for line in console if "NVLREPORT" not in line and "NVLDONE" not in line],
            "blank": _blank_cells(shot, sheet)}


def test_every_page_renders(book, browsed):
    """One screenshot of every page (a contact sheet, one launch); no cell may be blank."""
    chapters = sorted(book.glob("notebooks/*.html"))
    assert len(chapters) >= 8, "expected the chapters and the errata page"
    blank = [p for p in browsed["blank"] if p != BLANK]
    assert not blank, f"pages that render blank: {blank}"


def test_a_blank_page_is_caught(browsed):
    """The contact sheet's check is not vacuous: the empty control page's cell is blank (and it is
    the only one, by the test above)."""
    assert BLANK in browsed["blank"]


def test_every_page_fits_both_widths_and_shows_its_figures(book, browsed):
    results = [r for r in browsed["reports"] if r["page"] != BLANK and not r["strip"]]
    assert len(results) == len(pages(book)) * len(WIDTHS)
    problems = []
    for r in results:
        where = f"{r['page']} at {r['width']} px"
        if r["bad"]:
            problems.append(f"{where}: images that did not load: {r['bad']}")
        if r["overflow"] > 1:
            problems.append(f"{where}: the page scrolls sideways by {r['overflow']} px")
        if r["clipped"]:
            problems.append(f"{where}: content clipped: {r['clipped']}")
        if r["unreachable"]:
            problems.append(f"{where}: scrolls sideways inside a box taller than the window: {r['unreachable']}")
        if r["width"] == WIDTHS[0]:
            # figures drawn at the column's width: shown at (nearly) the size they were drawn for (a
            # PNG's on-screen width; its pixels are denser), so their text stays legible
            wide = [w for w in r["figure_widths"] if w > 1.1 * r["column"]]
            if wide:
                problems.append(f"{where}: figures {wide} px wide in a {r['column']} px column")
        stem = r["page"].rsplit("/", 1)[-1]
        if r["page"].startswith("/site/notebooks/") and int(stem[:2]) < 90:  # back matter has no figures
            need = 1 if stem.startswith("00-") else 2
            if r["figures"] < need:
                problems.append(f"{where}: shows {r['figures']} figures")
    assert not problems, "\n".join(problems)


#: The smallest text a figure may show on a phone, in CSS pixels.
MIN_FIGURE_TEXT_PX = 9.0


def _smallest_font_pt(svg: Path) -> float:
    """The smallest font size (points) of the text in a saved SVG figure (``svg.fonttype: none``
    keeps text as text, its size in points)."""
    sizes = [float(v) for v in re.findall(r"font(?:-size:\s*|:\s*[a-z ]*?)([\d.]+)px", svg.read_text())]
    assert sizes, f"no text sizes found in {svg.name}"
    return min(sizes)


def test_every_table_fits_a_phone(book, browsed):
    """At 420 px no output table shows only some of its columns: a table wider than the column is
    stacked into cards (book/_static/nvlmodel.js); the Key findings tables first of all."""
    phone = [r for r in browsed["reports"] if r["width"] == WIDTHS[1] and not r["strip"] and r["page"] != BLANK]
    assert any(r["page"].endswith("00-findings.html") for r in phone)
    cut = [f"{r['page']}: {r['sideways']}" for r in phone if r["sideways"]]
    assert not cut, "tables cut at 420 px:\n" + "\n".join(cut)


def test_the_table_check_catches_a_wide_table(browsed):
    """Without the book's stylesheet the errata's ledger is not stacked: the check must see it cut."""
    (control,) = [r for r in browsed["reports"] if r["strip"]]
    assert control["sideways"], control


def test_figure_text_is_legible_on_a_phone(book, browsed):
    """At 420 px every saved figure is drawn large enough that its smallest text is at least
    :data:`MIN_FIGURE_TEXT_PX` (the figure's SVG twin gives the sizes; the page, the scale)."""
    from nvlmodel.plotting import STYLE

    small = []
    checked = 0
    for r in browsed["reports"]:
        if r["width"] != WIDTHS[1] or r["strip"]:
            continue
        for fig_id, scale in r["scales"]:
            svg = book / "figures" / f"{fig_id[len('fig-'):]}.svg"
            px = _smallest_font_pt(svg) / 72 * STYLE["figure.dpi"] * scale
            checked += 1
            if px < MIN_FIGURE_TEXT_PX:
                small.append(f"{fig_id}: {px:.1f} px")
    assert checked >= 20, checked
    assert not small, f"figure text under {MIN_FIGURE_TEXT_PX} px at {WIDTHS[1]} px: {small}"


def test_no_console_errors(browsed):
    errors = [line for line in browsed["console"] if re.search(r"Uncaught|Error", line)]
    assert not errors, "console errors:\n" + "\n".join(errors[:10])


def test_the_fit_check_catches_a_table_cut_at_the_window(browsed):
    """Without the book's stylesheet the errata's full ledger is wider than the column and taller
    than the window: the check must say so (the state the ledger was in before this was fixed)."""
    (control,) = [r for r in browsed["reports"] if r["strip"]]
    assert control["page"] == UNSTYLED and control["unreachable"], control


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key])


def test_no_internal_link_is_broken(book):
    parsed: dict[Path, _Links] = {}

    def parse(p: Path) -> _Links:
        if p not in parsed:
            parsed[p] = _Links()
            parsed[p].feed(p.read_text(encoding="utf-8", errors="replace"))
        return parsed[p]

    broken, checked = [], 0
    for page in sorted(book.rglob("*.html")):
        if page.relative_to(book).parts[0] in ("_static", "_sources"):
            continue  # theme templates and sources, not pages
        for link in parse(page).links:
            url = urlsplit(link)
            if url.scheme or url.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            checked += 1
            target = page if not url.path else (page.parent / unquote(url.path)).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(book)} -> {link}")
            elif url.fragment and target.suffix == ".html" and url.fragment not in parse(target).ids:
                broken.append(f"{page.relative_to(book)} -> {link} (no such anchor)")
    assert checked > 200, f"only {checked} internal links found: is the book built?"
    assert not broken, "broken internal links:\n" + "\n".join(broken[:30])
