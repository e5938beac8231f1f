"""Each jupytext source (notebooks/NN-*.md) and its committed executed notebook hold the same code
and prose; each carries a papermill parameters cell and checked outputs."""

import math
from pathlib import Path

import jupytext
import nbformat
import pytest

from conftest import import_script

NB = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NB.glob("[0-9][0-9]-*.md"))


def _cells(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]


def test_there_are_notebooks():
    assert SOURCES, "no notebooks/NN-*.md found"


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_md_and_ipynb_in_sync(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} missing: run `make expected` and commit it"
    src, done = jupytext.read(md), nbformat.read(ipynb, as_version=4)
    assert _cells(src) == _cells(done), f"{ipynb.name} is stale: run `make expected` and commit it"
    assert all(c.get("execution_count") for c in done.cells if c.cell_type == "code"), "not fully executed"


#: Pages with nothing a reader could rerun differently (no parameters cell): the changes appendix
#: prints recorded and recomputed values of other chapters' defaults.
NO_PARAMETERS = {"91-changes.md"}


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_notebook_has_parameters_and_checks(md):
    tags = [t for c in jupytext.read(md).cells for t in c.metadata.get("tags", [])]
    assert tags.count("parameters") == (0 if md.name in NO_PARAMETERS else 1)
    assert "nbval-check-output" in tags


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_no_warnings_or_errors_in_committed_outputs(md):
    nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("name") != "stderr", f"{md.name}: stderr output (a warning?) in:\n{cell.source[:200]}"
            assert out.get("output_type") != "error", f"{md.name}: error output in:\n{cell.source[:200]}"


def _script():
    return import_script("notebooks")


def test_check_of_a_fresh_build_fails_when_an_expected_number_changes():
    """`make test` compares a fresh build's executions with the expected outputs instead of executing
    the notebooks again: the comparison passes on identical outputs, ignores what nbval's sanitiser
    ignores (memory addresses), and fails when one checked number changes."""
    import copy
    import re

    script = _script()
    expected = nbformat.read(NB / "07-validation.ipynb", as_version=4)
    assert script.compare(expected, copy.deepcopy(expected)) == []
    executed = copy.deepcopy(expected)
    out = next(o for c in executed.cells if "nbval-check-output" in c.metadata.get("tags", [])
               for o in c.outputs if o.output_type == "stream" and re.search(r"\d\.\d", o.text))
    out.text = re.sub(r"(\d)\.(\d)", lambda m: f"{m[1]}.{(int(m[2]) + 1) % 10}", out.text, count=1)
    assert script.compare(expected, executed), "a changed expected number must fail the check"
    moved = copy.deepcopy(expected)
    moved.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="at 0x7f00aa")]
    expected.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="at 0x7f11bb")]
    expected.cells[0].metadata["tags"] = moved.cells[0].metadata["tags"] = ["nbval-check-output"]
    assert script.compare(expected, moved) == []


def test_check_reads_a_print_split_into_two_stream_messages_as_one():
    """The kernel may send one print as two stream messages ("...}" then "\\n"), by timing alone
    (CI failed on it once, chapter 6). nbval joins consecutive outputs of one stream before comparing;
    the check does the same, and a different text split the same way still fails."""
    script = _script()
    new = nbformat.v4.new_output
    expected = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "print(d)", metadata={"tags": ["nbval-check-output"]},
        outputs=[new("stream", name="stdout", text="{'holds': 7}\n")])])
    split = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "print(d)", metadata={"tags": ["nbval-check-output"]},
        outputs=[new("stream", name="stdout", text="{'holds': 7}"), new("stream", name="stdout", text="\n")])])
    assert script.compare(expected, split) == []
    split.cells[0].outputs[0].text = "{'holds': 8}"
    assert script.compare(expected, split), "a changed number split over two messages must still fail"
    split.cells[0].outputs[0].text = "{'holds': 7}"
    split.cells[0].outputs[1].name = "stderr"  # another stream is another output
    assert script.compare(expected, split)


def test_check_without_a_fresh_build_exits_3(monkeypatch):
    """`make test` tells "no fresh build: execute with nbval" (3) from "the outputs differ" (1)."""
    script = _script()
    monkeypatch.setattr(script, "fresh", lambda: False)
    with pytest.raises(SystemExit) as e:
        script.check()
    assert e.value.code == script.NOT_FRESH == 3


def test_fresh_digest_changes_with_the_sources(tmp_path, monkeypatch):
    """A build is fresh only for the inputs it was executed from: the digest moves with a source."""
    script = _script()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01-a.md").write_text("x = 1\n")
    monkeypatch.setattr(script, "ROOT", tmp_path)
    before = script.inputs_digest()
    (tmp_path / "notebooks" / "01-a.md").write_text("x = 2\n")
    assert script.inputs_digest() != before


def _glued(nb) -> dict[str, str]:
    """The text of every value a notebook glued (myst-nb keeps the key in the output's metadata)."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            meta = o.get("metadata", {}).get("scrapbook", {})
            if meta.get("name"):
                out[meta["name"]] = "".join(o.get("data", {}).get(meta.get("mime_prefix", "") + "text/plain", ""))
    return out


class TestRerun:
    """Its own scope for pytest-xdist (--dist loadscope): two chapter executions, on one worker while
    the other takes other tests."""

    @pytest.mark.slow
    def test_rerun_with_other_parameters_names_them_and_keeps_the_cited_figures(self, tmp_path):
        """Chapters 1 and 6 rerun with other parameters, as the README's recipe does: captions and labels
        name the new parameters, and the figures go to a folder named for them, never over the stable
        files a citation points at."""
        import papermill as pm

        cwd = tmp_path / "notebooks"
        cwd.mkdir()
        stable = tmp_path / "_extra" / "figures"
        runs = {"01-hardware": {"gpu_a": "h200", "gpu_b": "h100"}, "06-end-to-end": {"batch": 64, "prompt": 2048}}
        done = {}
        for chapter, params in runs.items():
            nb = jupytext.read(NB / f"{chapter}.md")
            out = cwd / f"{chapter}.ipynb"
            pm.execute_notebook(nb, str(out), parameters=params, cwd=str(cwd), kernel_name="python3",
                                progress_bar=False)
            done[chapter] = nbformat.read(out, as_version=4)
        assert not list(stable.glob("*.svg")), "a rerun with other parameters wrote over the stable figure files"
        assert sorted(p.name for p in (stable / "runs").iterdir()) == [
            "01-hardware--gpu_a=h200", "06-end-to-end--batch=64--prompt=2048"]
        assert (stable / "runs" / "01-hardware--gpu_a=h200" / "01-hardware-spec-ratios.svg").exists()
        hw = _glued(done["01-hardware"])
        assert "H200" in hw["name_a"] and "premises" in hw["seed_label_a"]  # H200 is not in the document
        text = "\n".join("".join(o.get("data", {}).get("text/plain", "")) + "".join(o.get("text", ""))
                         for c in done["06-end-to-end"].cells for o in c.get("outputs", []))
        assert "Decode throughput (batch=64)" in text and "Prefill throughput (2K input)" in text
        assert "batch=256" not in text and "(4K input)" not in text


class TestRerunOwnMeasurements:
    """Its own scope for pytest-xdist: one chapter execution."""

    @pytest.mark.slow
    def test_chapter_7_runs_on_measurements_of_ones_own(self, tmp_path):
        """Chapter 7 with ``measurements_csv`` (the README's recipe) on rows of one engine measured
        on one Hopper GPU, the vLLM H100 and B200 rows of the curated table, and that engine's
        headline: it runs through, its errors are those rows' (the held-out B200 TPOT error differs
        from the curated table's), and with no transfer between Hopper GPUs to measure, the dense
        intervals for a new GPU are not widened (their factors are NaN) and no anchor is scored on
        them, while the serving table's are widened and anchored as in the book."""
        import pandas as pd
        import papermill as pm

        from nvlmodel.calibrate.data import _measurements

        rows = pd.read_csv(NB.parent / "nvlmodel" / "data" / "measurements.csv")
        mine = tmp_path / "mine.csv"
        rows[(rows.backend == "vllm") & (rows.system != "h200_sxm")].to_csv(mine, index=False)
        out = tmp_path / "07.ipynb"
        pm.execute_notebook(jupytext.read(NB / "07-validation.md"), str(out), kernel_name="python3",
                            parameters={"measurements_csv": str(mine), "headline_engine": "vllm@2026-04-06",
                                        "figures_dir": str(tmp_path / "figures")},
                            cwd=str(NB), progress_bar=False)
        glued = _glued(nbformat.read(out, as_version=4))
        curated = _glued(nbformat.read(NB / "07-validation.ipynb", as_version=4))
        assert len(_measurements("dense")) > (rows.backend == "vllm").sum()
        assert float(glued["held_tpot"]) != pytest.approx(float(curated["held_tpot"]), rel=1e-3)
        assert math.isnan(float(glued["widen_dense_tpot"])) and not math.isnan(float(curated["widen_dense_tpot"]))
        assert float(glued["widen_serving_tpot"]) == pytest.approx(float(curated["widen_serving_tpot"]))
        # nor what one measurement buys on the dense rows; the serving table's is the curated one
        assert math.isnan(float(glued["anch_dense_h100_tpot_after"]))
        assert float(glued["anch_serving_h100_tpot_after"]) == pytest.approx(float(curated["anch_serving_h100_tpot_after"]))


def test_executions_start_with_the_longest(tmp_path, monkeypatch):
    """Two workers finish together when the longest notebook starts first: order by the recorded
    durations, longest first, and a notebook without a record before all of them."""
    import json

    script = _script()
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps({"01-a": 3, "02-b": 40, "03-c": 7}))
    monkeypatch.setattr(script, "DURATIONS", durations)
    mds = [Path(f"{n}.md") for n in ("01-a", "02-b", "03-c", "04-new")]
    assert [p.stem for p in script.longest_first(mds)] == ["04-new", "02-b", "03-c", "01-a"]
    monkeypatch.setattr(script, "DURATIONS", tmp_path / "missing.json")
    assert [p.stem for p in script.longest_first(mds)] == ["01-a", "02-b", "03-c", "04-new"]


class TestNbvalFallback:
    """Its own scope for pytest-xdist (--dist loadscope): a chapter executed by nbval, on one worker
    while the other takes other tests."""

    @pytest.mark.slow
    def test_nbval_fallback_passes_on_a_committed_notebook(self, tmp_path):
        """Without a fresh build, `make test` executes the notebooks with nbval, whose kernel stores no
        input history: a chapter must still run there (it once failed in run_dir_here) and match."""
        import shutil
        import subprocess
        import sys

        (tmp_path / "notebooks").mkdir()
        nb = shutil.copy(NB / "02-fp4.ipynb", tmp_path / "notebooks")
        done = subprocess.run([sys.executable, "-m", "pytest", str(nb), "--nbval-lax", "--nbval-current-env",
                               "--nbval-sanitize-with", str(NB.parent / "tests" / "nbval_sanitize.cfg"),
                               "-p", "no:cacheprovider", "-q", "-p", "no:xdist"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stdout[-3000:]
        assert " passed" in done.stdout and "failed" not in done.stdout
        figure = tmp_path / "_extra" / "figures" / "02-fp4-e2m1-rounding.svg"
        assert figure.exists(), "figures go to the stable folder"


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_every_chapter_sets_the_book_table_display_once(md):
    """One call, not per-chapter options: chapters 0 and 7-9 once cut text cells at pandas' 50
    characters (the findings table's scope) because they set one option and not the other."""
    text = md.read_text()
    assert text.count("units.display_tables()") == 1 and "pd.options.display" not in text


def test_every_citation_label_names_one_source():
    """The book cites author-year ("[NVIDIA, 2025c]"): two sources of one author and year need a letter
    each, or the label points a reader who has only the text at either; and every key a page cites
    is in the bibliography."""
    import re

    bib = (NB.parent / "book" / "references.bib").read_text()
    entries = re.findall(r"@\w+\{([^,]+),(.*?)\n\}", bib, re.S)
    labels = {}
    for key, body in entries:
        author = re.search(r"author\s*=\s*\{(.*?)\},?\n", body)
        year = re.search(r"year\s*=\s*\{(.*?)\}", body)
        label = (author.group(1) if author else key, year.group(1) if year else "")
        assert label not in labels, f"{key} and {labels[label]} both cite as {label}: give each year a letter"
        labels[label] = key
    cited = {k.strip() for md in SOURCES for group in re.findall(r"\{cite[pt]?\}`([^`]+)`", md.read_text())
             for k in group.split(",")}
    assert cited and cited <= {k for k, _ in entries}, sorted(cited - {k for k, _ in entries})
