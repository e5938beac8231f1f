"""Each jupytext source (notebooks/NN-*.md) and its committed executed notebook hold the same code
and prose; each carries a papermill parameters cell and checked outputs."""

from pathlib import Path

import jupytext
import nbformat
import pytest

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


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_notebook_has_parameters_and_checks(md):
    tags = [t for c in jupytext.read(md).cells for t in c.metadata.get("tags", [])]
    assert tags.count("parameters") == 1
    assert "nbval-check-output" in tags


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_no_warnings_or_errors_in_committed_outputs(md):
    nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("name") != "stderr", f"{md.name}: stderr output (a warning?) in:\n{cell.source[:200]}"
            assert out.get("output_type") != "error", f"{md.name}: error output in:\n{cell.source[:200]}"
