"""The rendered book, as a reader's browser sees it: every page renders (a non-blank screenshot);
at a desktop and a phone width every <img> loads, nothing scrolls the page sideways or is clipped,
no table is cut at the window, figures are drawn at the column's width; no console errors; and no
internal link or anchor is broken.

Needs the built book (``make book``; built here if missing) and Debian's ``chromium`` (``.ci/run``
installs it). Outside CI, a missing Chromium skips these tests; in CI it fails them.
"""

from __future__ import annotations

import functools
import html
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


#: The harness: loads each page in an iframe of each width and reports, per page and width, images
#: that did not load, figures, horizontal overflow of the page, content clipped by ``overflow:
#: hidden`` and content that scrolls sideways inside a box taller than the window (its scroll bar
#: out of sight: the reader sees a cut table). ``strip`` removes the book's stylesheet first.
HARNESS = """<!doctype html><html><body><pre id="result">pending</pre>
<script>
const params = new URLSearchParams(location.search);
const pages = params.get("pages").split(","), widths = params.get("widths").split(",").map(Number);
const strip = params.get("strip") === "1";
function inspect(doc, page, width) {
  const main = doc.querySelector("main") || doc.body;
  const imgs = Array.from(doc.images);
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src"));
  const clipped = [], unreachable = [], vh = doc.documentElement.clientHeight;
  for (const el of main.querySelectorAll("*")) {
    if (el.closest("mjx-container, .math, .prev-next-area")) continue;  // MathJax's hidden copy, theme ellipses
    if (el.scrollWidth <= el.clientWidth + 1) continue;
    const cs = doc.defaultView.getComputedStyle(el);
    const name = el.tagName.toLowerCase() + "." + String(el.className || "").split(" ").join(".")
                 + " " + el.scrollWidth + ">" + el.clientWidth;
    if (cs.overflowX === "hidden" || cs.overflowX === "clip") clipped.push(name);
    else if ((cs.overflowX === "auto" || cs.overflowX === "scroll") && el.clientHeight > vh) unreachable.push(name);
  }
  const column = main.clientWidth;
  const figs = Array.from(doc.querySelectorAll("figure img, .figure img"));
  return {page, width, images: imgs.length, figures: figs.length, bad, column,
          overflow: doc.documentElement.scrollWidth - doc.documentElement.clientWidth,
          clipped: clipped.slice(0, 5), unreachable: unreachable.slice(0, 5),
          figure_widths: figs.map(i => parseFloat(i.style.width) || i.naturalWidth)};  // the size it is drawn for
}
async function run() {
  const out = [];
  for (const width of widths) for (const page of pages) {
    const f = document.createElement("iframe");
    f.style.width = width + "px"; f.style.height = "900px";
    await new Promise(res => { f.onload = res; f.src = page; document.body.appendChild(f); });
    if (strip) f.contentDocument.querySelectorAll('link[href*="nvlmodel.css"]').forEach(l => l.remove());
    await new Promise(res => setTimeout(res, 300));
    out.push(inspect(f.contentDocument, page, width));
    f.remove();
  }
  document.getElementById("result").textContent = JSON.stringify(out);
}
run();
</script></body></html>"""
WIDTHS = (1300, 420)  # a desktop window and a phone


class _Server(str):
    """The server's address (a str), with the folder it serves as ``root``."""

    def __new__(cls, url: str, root: Path):
        obj = super().__new__(cls, url)
        obj.root = root
        return obj


@pytest.fixture(scope="module")
def server(book: Path):
    """Serve a folder holding the book (as /site) and the harness page, on loopback only."""
    root = Path(tempfile.mkdtemp(prefix="nvlbook-"))
    (root / "site").symlink_to(book, target_is_directory=True)
    (root / "check.html").write_text(HARNESS)
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


def _harness(exe: str, server: str, pages: list[str], widths=WIDTHS, strip: bool = False):
    """One browser launch: every page at every width. Returns the reports and the console lines."""
    query = f"pages={','.join('/site/' + p for p in pages)}&widths={','.join(map(str, widths))}"
    done = _run(exe, "--virtual-time-budget=300000", "--enable-logging=stderr", "--v=0", "--dump-dom",
                f"{server}/check.html?{query}" + ("&strip=1" if strip else ""))
    m = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    assert m and m.group(1) != "pending", "the harness did not finish"
    reports = json.loads(html.unescape(m.group(1)))
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    return reports, console


@pytest.fixture(scope="module")
def reports(book, server):
    exe = _chromium()
    return _harness(exe, server, [p.relative_to(book).as_posix() for p in pages(book)])


#: Every page as a reader's 1300 x 2400 px window, drawn at half size in a grid of iframes: one
#: screenshot (one browser launch) shows them all, and each cell is checked apart.
SHOT_W, SHOT_H, SHOT_SCALE, SHOT_COLS = 1300, 2400, 0.5, 4
CELL_W, CELL_H = int(SHOT_W * SHOT_SCALE), int(SHOT_H * SHOT_SCALE)


def _contact_sheet(pages: list[str]) -> str:
    frames = "".join(
        f'<div style="position:absolute;left:{(i % SHOT_COLS) * CELL_W}px;top:{(i // SHOT_COLS) * CELL_H}px;'
        f'width:{CELL_W}px;height:{CELL_H}px;overflow:hidden"><iframe src="/site/{page}" scrolling="no" '
        f'style="width:{SHOT_W}px;height:{SHOT_H}px;border:0;transform:scale({SHOT_SCALE});transform-origin:0 0">'
        "</iframe></div>" for i, page in enumerate(pages))
    return f"<!doctype html><html><body style='margin:0;background:#fff'>{frames}</body></html>"


def _blank_pages(server, tmp_path: Path, name: str, pages: list[str]) -> list[str]:
    """Screenshot ``pages`` as one contact sheet (one browser launch) and return those whose cell is
    blank (grey-level standard deviation at most 10)."""
    from PIL import Image, ImageStat

    (Path(server.root) / f"{name}.html").write_text(_contact_sheet(pages))
    rows = -(-len(pages) // SHOT_COLS)
    shot = tmp_path / f"{name}.png"
    _run(_chromium(), f"--window-size={SHOT_COLS * CELL_W},{rows * CELL_H}", "--virtual-time-budget=5000",
         "--hide-scrollbars", f"--screenshot={shot}", f"{server}/{name}.html")
    sheet = Image.open(shot).convert("L")
    assert sheet.size == (SHOT_COLS * CELL_W, rows * CELL_H), sheet.size
    blank = []
    for i, page in enumerate(pages):
        x, y = (i % SHOT_COLS) * CELL_W, (i // SHOT_COLS) * CELL_H
        if ImageStat.Stat(sheet.crop((x, y, x + CELL_W, y + CELL_H))).stddev[0] <= 10:
            blank.append(page)
    return blank


def test_every_page_renders(book, server, tmp_path):
    """One screenshot of every page (a contact sheet, one launch); no cell may be blank."""
    chapters = sorted(book.glob("notebooks/*.html"))
    assert len(chapters) >= 8, "expected the chapters and the errata page"
    blank = _blank_pages(server, tmp_path, "sheet", [p.relative_to(book).as_posix() for p in pages(book)])
    assert not blank, f"pages that render blank: {blank}"


def test_a_blank_page_is_caught(server, tmp_path):
    """The contact sheet's check is not vacuous: beside a real page, an empty page's cell is blank."""
    (Path(server.root) / "site-blank.html").write_text("<!doctype html><html><body></body></html>")
    assert _blank_pages(server, tmp_path, "sheet-blank", ["book/intro.html", "../site-blank.html"]) == [
        "../site-blank.html"]


def test_every_page_fits_both_widths_and_shows_its_figures(book, reports):
    results, _ = reports
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
        if r["page"].startswith("/site/notebooks/") and not stem.startswith("90-"):
            need = 1 if stem.startswith("00-") else 2
            if r["figures"] < need:
                problems.append(f"{where}: shows {r['figures']} figures")
    assert not problems, "\n".join(problems)


def test_no_console_errors(reports):
    _, console = reports
    errors = [line for line in console if re.search(r"Uncaught|Error", line)]
    assert not errors, "console errors:\n" + "\n".join(errors[:10])


def test_the_fit_check_catches_a_table_cut_at_the_window(book, server):
    """Without the book's stylesheet the errata's full ledger is wider than the column and taller
    than the window: the check must say so (the state the ledger was in before this was fixed)."""
    exe = _chromium()
    results, _ = _harness(exe, server, ["notebooks/90-errata.html"], widths=(1300,), strip=True)
    assert results[0]["unreachable"], results[0]


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
