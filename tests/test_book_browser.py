"""The rendered book, as a reader's browser sees it: every chapter renders (a non-blank screenshot),
every <img> loads, and no internal link or anchor is broken.

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


@pytest.fixture(scope="module")
def server(book: Path):
    """Serve a folder holding the book (as /book) and a harness page, on loopback only."""
    root = Path(tempfile.mkdtemp(prefix="nvlbook-"))
    (root / "site").symlink_to(book, target_is_directory=True)
    (root / "check.html").write_text("""<!doctype html><html><body><pre id="result">pending</pre>
<iframe id="f" style="width:1200px;height:900px"></iframe>
<script>
const page = new URLSearchParams(location.search).get("page");
const f = document.getElementById("f");
f.addEventListener("load", () => {
  const imgs = Array.from(f.contentDocument.images);
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src"));
  const figs = f.contentDocument.querySelectorAll("figure img, .figure img").length;
  document.getElementById("result").textContent = JSON.stringify({images: imgs.length, figures: figs, bad: bad});
});
f.src = page;
</script></body></html>""")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    shutil.rmtree(root, ignore_errors=True)


def _run(exe: str, *args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                              timeout=120).stdout


def test_every_chapter_renders_with_its_figures(book, server, tmp_path):
    from PIL import Image, ImageStat

    exe = _chromium()
    chapters = sorted(book.glob("notebooks/*.html"))
    assert len(chapters) >= 8, "expected the seven chapters and the errata page"
    for page in pages(book):
        rel = page.relative_to(book).as_posix()
        shot = tmp_path / (page.stem + ".png")
        _run(exe, "--window-size=1300,2400", f"--screenshot={shot}", f"{server}/site/{rel}")
        img = Image.open(shot).convert("L")
        assert ImageStat.Stat(img).stddev[0] > 10, f"{rel} renders blank"
        dom = _run(exe, "--virtual-time-budget=15000", "--dump-dom", f"{server}/check.html?page=/site/{rel}")
        m = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
        assert m and m.group(1) != "pending", f"{rel}: the harness did not finish"
        result = json.loads(m.group(1).replace("&quot;", '"'))
        assert result["bad"] == [], f"{rel}: images that did not load: {result['bad']}"
        if page in chapters and not page.stem.startswith("90-"):
            assert result["figures"] >= 2, f"{rel} shows {result['figures']} figures"


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
