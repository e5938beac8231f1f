"""Execute the jupytext notebooks with papermill; stage and build the Jupyter Book.

    python scripts/notebooks.py book       # execute every notebooks/*.md into _build/src, build _build/html
    python scripts/notebooks.py expected   # execute every notebooks/*.md into notebooks/*.ipynb (tracked)
    python scripts/notebooks.py fresh      # exit 0 if _build/src holds notebooks executed from these sources
    python scripts/notebooks.py check      # compare those with the expected outputs (as nbval would);
                                           # exit 3 when there is no fresh build to compare

Neither touches a tracked file except ``expected``, whose job is to regenerate the committed
expected outputs on purpose. Papermill runs each notebook with its working directory in a
``notebooks/`` folder, so a notebook's default ``figures_dir = "../_extra/figures"`` lands beside
the book config, where Sphinx copies it into ``_build/html/figures``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
STAGE = BUILD / "src"
#: Notebooks executed side by side by ``book`` and ``expected`` (each kernel is its own process).
JOBS = 2
#: Seconds each notebook took when ``expected`` last ran (informative; orders the executions so the
#: longest starts first and the two workers finish together).
DURATIONS = ROOT / "notebooks" / "durations.json"


def sources() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.md"))


def _coalesce_streams(outputs: list) -> list:
    """Copies of ``outputs`` with each stream's messages joined into one output, by nbval's own
    function (the kernel may send one ``print`` as two messages, by timing alone)."""
    import copy

    from nbval.plugin import coalesce_streams

    return coalesce_streams([copy.deepcopy(o) for o in outputs])


def _strip_volatile(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop timestamps and durations so that `make expected` diffs only what changed."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/plain")
            if isinstance(text, str):  # object reprs carry memory addresses
                out["data"]["text/plain"] = re.sub(r" at 0x[0-9a-f]+", "", text)
    return nb


def execute(md: Path, out: Path, cwd: Path) -> float:
    """Execute ``md`` with papermill (working directory ``cwd``) into ``out``; returns seconds taken."""
    import jupytext
    import papermill as pm

    start = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(md)
    for i, cell in enumerate(nb.cells):  # stable ids: `make expected` diffs only what changed
        cell["id"] = f"cell-{i:03d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    print(f"executing {md.relative_to(ROOT)} -> {out.relative_to(ROOT)}", flush=True)
    done = pm.execute_notebook(nb, None, kernel_name="python3", cwd=str(cwd), progress_bar=False)
    nbformat.write(_strip_volatile(done), out)
    return time.perf_counter() - start


def longest_first(mds: list[Path]) -> list[Path]:
    """``mds`` in the order to execute them: by the last recorded duration (:data:`DURATIONS`),
    longest first; a notebook without a record first of all (it may be the longest)."""
    known = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    return sorted(mds, key=lambda md: (md.stem in known, -known.get(md.stem, 0), md.name))


def execute_all(pairs: list[tuple[Path, Path]], cwd: Path) -> dict[str, float]:
    """Execute ``(source, output)`` pairs :data:`JOBS` at a time, longest first (each in its own kernel
    process; the figure manifest is locked). Returns seconds per notebook and prints them."""
    out_of = dict(pairs)
    order = longest_first(list(out_of))
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        took = dict(zip((md.stem for md in order), pool.map(lambda md: execute(md, out_of[md], cwd), order)))
    print("executed: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(took.items(), key=lambda kv: -kv[1]))
          + f"; {time.perf_counter() - start:.1f} s on {JOBS} workers", flush=True)
    return took


def expected() -> None:
    """Execute every chapter into its committed expected outputs, and record the simulation runs
    and calibration fits they made (:mod:`nvlmodel.recorded`: under this package, ``book`` reads
    them)."""
    import os
    import tempfile

    from nvlmodel import recorded

    with tempfile.TemporaryDirectory() as runs:
        os.environ[recorded.RECORD_ENV] = runs  # the kernels papermill starts inherit it
        try:
            took = execute_all([(md, md.with_suffix(".ipynb")) for md in sources()], ROOT / "notebooks")
        finally:
            del os.environ[recorded.RECORD_ENV]
        print(f"recorded {recorded.write(Path(runs))} simulation runs and fits in {recorded.PATH.relative_to(ROOT)}")
    DURATIONS.write_text(json.dumps({k: max(1, round(v)) for k, v in sorted(took.items())}, indent=1) + "\n")


GLUE_FIGURE = re.compile(r"```\{glue:figure\}[^\n]*\n((?::[\w-]+:[^\n]*\n)*)\n?(.*?)```", re.S)
GLUE_ROLE = re.compile(r"(\{glue(?::\w+)?\})`([^`]*)`")


def _from_chapter(caption: str, doc: str) -> str:
    """A caption's glue roles made to paste from ``doc`` (another page glues nothing of its own);
    a text role without a format gets ``:s``, since ``path::key:format`` reads its last colon as one."""
    def fix(m):
        role, body = m.groups()
        if "::" in body:
            return m.group(0)
        if role == "{glue:text}" and ":" not in body:
            body += ":s"
        return f"{role}`{doc}::{body}`"
    return GLUE_ROLE.sub(fix, caption)


def _glue_figures(markdown: str) -> list[tuple[str, str]]:
    """(name, caption) of each ``{glue:figure}`` directive in a markdown cell: a figure whose caption
    glues the run's parameters (captions in cell metadata cannot)."""
    out = []
    for options, caption in GLUE_FIGURE.findall(markdown):
        name = re.search(r"^:name:\s*(\S+)", options, re.M)
        if name:
            out.append((name.group(1), caption.strip()))
    return out


def figures_page(notebooks: list[Path], manifest: dict) -> str:
    """The Figures page: every figure the executed chapters saved (``manifest``, written by
    ``nvlmodel.plotting.savefig``), with its number (numref on its label), caption, stable files and
    how to cite it. A saved figure without a captioned cell of that label, or the reverse, fails."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    captions = {}
    for nb_path in notebooks:
        for cell in nbformat.read(nb_path, as_version=4).cells:
            fig = cell.metadata.get("mystnb", {}).get("figure")
            if cell.cell_type == "code" and fig:
                captions[fig["name"]] = " ".join(fig.get("caption", "").split())
            elif cell.cell_type == "markdown":
                for name, caption in _glue_figures(cell.source):
                    # the caption's glued values live in the chapter: paste them from there
                    captions[name] = _from_chapter(" ".join(caption.split()), f"../notebooks/{nb_path.name}")  # the file, relative to book/
    saved = {e["label"]: (stem, e) for stem, e in manifest.items()}
    if set(saved) != set(captions):
        raise SystemExit(f"figures saved without a captioned cell: {sorted(set(saved) - set(captions))}; "
                         f"captioned cells whose figure was not saved: {sorted(set(captions) - set(saved))}")
    lines = ["(figures-page)=", "# Figures", "",
             "Every figure of the book, with its stable file names. Cite a figure by its file name and the",
             f"commit the book was built from (this build: `{commit}`); figure numbers follow the chapter",
             "order and may change as chapters are added, file names do not. See also `CITATION.cff`;",
             '<a href="../figures/manifest.json">manifest.json</a> lists every figure as data.', ""]
    order = {p.stem: i for i, p in enumerate(notebooks)}
    for label, (stem, e) in sorted(saved.items(), key=lambda kv: (order.get(kv[1][1]["chapter"], 99),
                                                                  list(captions).index(kv[0]))):
        lines += [f"## {{numref}}`{label}`", "", captions[label], "",
                  f'Files: <a href="../figures/{stem}.svg">{stem}.svg</a> · '
                  f'<a href="../figures/{stem}.png">{stem}.png</a> · '
                  f'<a href="../figures/{stem}.csv">{stem}.csv</a> (the numbers drawn)', "",
                  f"Cite as: nvlmodel developers (2026), *nvlmodel: Dynamo on GB200 NVL72, reproduced and "
                  f"corrected*, figure `figures/{stem}.svg`, commit `{commit}`.", ""]
    return "\n".join(lines)


def book() -> None:
    from nvlmodel.plotting import read_manifest

    if STAGE.exists():
        shutil.rmtree(STAGE)
    STAGE.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, STAGE / name)
    shutil.copytree(ROOT / "book", STAGE / "book")
    executed = [STAGE / "notebooks" / md.with_suffix(".ipynb").name for md in sources()]
    digest = inputs_digest()
    execute_all(list(zip(sources(), executed)), STAGE / "notebooks")
    FRESH.write_text(digest + "\n")  # the inputs these executions saw (checked by `make test`)
    figures = STAGE / "_extra" / "figures"  # where the chapters' default figures_dir lands
    (STAGE / "book" / "figures.md").write_text(figures_page(executed, read_manifest(figures)), encoding="utf-8")
    html = BUILD / "html"
    if html.exists():
        shutil.rmtree(html)
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(STAGE), "--path-output", str(ROOT),
           "--warningiserror", "--keep-going"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"book: {html / 'index.html'} (Sphinx {time.perf_counter() - start:.1f} s)")


#: What the executed notebooks depend on: a build made from other versions of these is not fresh.
INPUTS = ("notebooks/*.md", "nvlmodel/**/*.py", "nvlmodel/data/**/*", "scripts/notebooks.py", "requirements.lock",
          "_config.yml", "_toc.yml")
FRESH = STAGE / "notebooks" / "sources.sha256"


def inputs_digest() -> str:
    """SHA-256 over the paths and bytes of everything the executed notebooks depend on (:data:`INPUTS`)."""
    h = hashlib.sha256()
    for path in sorted({p for pattern in INPUTS for p in ROOT.glob(pattern) if p.is_file()}):
        if "__pycache__" in path.parts:
            continue
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def fresh() -> bool:
    """Whether ``_build/src`` holds every notebook executed by ``book`` from the current inputs."""
    return (FRESH.exists() and FRESH.read_text().strip() == inputs_digest()
            and all((STAGE / "notebooks" / md.with_suffix(".ipynb").name).exists() for md in sources()))


def _sanitizers() -> list[tuple[re.Pattern, str]]:
    """The regex replacements of tests/nbval_sanitize.cfg (the ones nbval applies)."""
    text = (ROOT / "tests" / "nbval_sanitize.cfg").read_text()
    pairs = re.findall(r"^regex: (.*)$\s*^replace: (.*)$", text, flags=re.M)
    return [(re.compile(rx), rep) for rx, rep in pairs]


def _checked_outputs(nb: nbformat.NotebookNode, sanitize) -> list[list[str]]:
    """Per code cell tagged ``nbval-check-output``, its text outputs (plain data and streams), sanitised."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "nbval-check-output" not in cell.metadata.get("tags", []):
            continue
        texts = []
        for o in _coalesce_streams(cell.get("outputs", [])):
            t = o.get("text") if o.get("output_type") == "stream" else o.get("data", {}).get("text/plain")
            if t is None:
                continue
            t = "".join(t) if isinstance(t, list) else t
            for rx, rep in sanitize:
                t = rx.sub(rep, t)
            texts.append(t)
        out.append(texts)
    return out


def compare(expected_nb: nbformat.NotebookNode, executed_nb: nbformat.NotebookNode) -> list[str]:
    """The differences between the checked outputs of two executions of one notebook, as nbval
    reports them in lax mode (empty: they agree)."""
    sanitize = _sanitizers()
    a, b = _checked_outputs(expected_nb, sanitize), _checked_outputs(executed_nb, sanitize)
    if len(a) != len(b):
        return [f"{len(a)} checked cells expected, {len(b)} executed"]
    return [f"checked cell {i}: expected\n{x}\n--- got\n{y}" for i, (x, y) in enumerate(zip(a, b)) if x != y]


#: ``check``'s exit status when there is no fresh build (``make test`` then executes the notebooks with nbval).
NOT_FRESH = 3


def check() -> None:
    """Compare the fresh build's executed notebooks with the committed expected outputs; fail on any
    difference; exit :data:`NOT_FRESH` when there is no fresh build to compare."""
    if not fresh():
        print("no fresh build in _build/src (run `make book` first): nothing to compare", file=sys.stderr)
        sys.exit(NOT_FRESH)
    failed = []
    for md in sources():
        diffs = compare(nbformat.read(md.with_suffix(".ipynb"), as_version=4),
                        nbformat.read(STAGE / "notebooks" / md.with_suffix(".ipynb").name, as_version=4))
        failed += [f"{md.name}: {d}" for d in diffs]
    if failed:
        raise SystemExit("executed notebooks differ from the expected outputs:\n" + "\n".join(failed))
    print(f"{len(sources())} executed notebooks match their expected outputs")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["book", "expected", "fresh", "check"])
    args = p.parse_args()
    if args.what == "fresh":
        sys.exit(0 if fresh() else 1)
    {"book": book, "expected": expected, "check": check}[args.what]()


if __name__ == "__main__":
    main()
