"""nvlmodel.plotting: the style applies in a context, savefig writes the manifest, show returns the
saved PNG, every figure has one name (its files and its label), and the Figures page refuses a
figure without its cell."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import jupytext
import matplotlib
import numpy as np
import pytest

from conftest import import_script

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nvlmodel import plotting  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.md"))


def test_import_changes_no_global_setting():
    code = ("import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt;"
            "before = dict(plt.rcParams); import nvlmodel.plotting;"
            "print(sorted(k for k in before if before[k] != plt.rcParams[k]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_style_sets_and_restores_only_its_keys():
    plt.rcParams["font.size"] = 13.0
    interactive = plt.rcParams["interactive"]
    with plotting.style():
        assert plt.rcParams["font.size"] == plotting.STYLE["font.size"]
    assert plt.rcParams["font.size"] == 13.0 and plt.rcParams["interactive"] == interactive
    fig = plotting.plot_e2m1_rounding()  # a plot function draws under the style
    assert fig.axes[0].xaxis.label.get_fontsize() == plotting.STYLE["axes.labelsize"]
    plt.rcParams["font.size"] = matplotlib.rcParamsDefault["font.size"]


def test_savefig_writes_files_and_manifest(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    paths = plotting.savefig(fig, tmp_path, "99-test", "line")
    assert [p.name for p in paths] == ["99-test-line.svg", "99-test-line.png", "99-test-line.csv"]
    assert all(p.exists() for p in paths)
    plotting.savefig(fig, tmp_path, "99-test", "again")
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["99-test-line"] == {"chapter": "99-test", "name": "line", "label": "fig-99-test-line",
                                 "files": ["99-test-line.svg", "99-test-line.png", "99-test-line.csv"]}
    assert (tmp_path / "99-test-line.csv").read_text().splitlines()[1:] == [
        "panel 1,,,,line,0,0,0", "panel 1,,,,line,0,1,1"]
    assert set(plotting.read_manifest(tmp_path)) == {"99-test-line", "99-test-again"}
    with pytest.raises(ValueError, match="lower-case"):
        plotting.savefig(fig, tmp_path, "99-test", "Bad Name")


def test_figure_data_reads_back_what_each_artist_draws():
    from nvlmodel.plotting.style import figure_data

    fig, (a, b, c) = plt.subplots(1, 3)
    a.plot([1, 2], [10, 20], label="measured")
    a.fill_between([1, 2], [9, 18], [11, 22], label="_band")  # no legend label: an empty series
    a.scatter([1.5], [15.0], label="point")
    a.set_title("A")
    b.bar(["H100", "B200"], [3.0, 7.0], label="tok/s")
    c.imshow(np.array([[1.0, 2.0], [3.0, 4.0]]))
    fig.canvas.draw()  # tick labels exist once drawn (savefig draws before reading)
    d = figure_data(fig)
    line = d[(d.kind == "line")]
    assert line[["panel", "series", "x", "y"]].values.tolist() == [["A", "measured", 1.0, 10.0], ["A", "measured", 2.0, 20.0]]
    assert d[d.kind == "points"][["x", "y"]].values.tolist() == [[1.5, 15.0]]
    band = d[d.kind == "band"]
    assert band.series.eq("").all() and band.y.min() == 9.0 and band.y.max() == 22.0
    bars = d[d.kind == "bar"]
    assert bars[["x_category", "y"]].values.tolist() == [["H100", 3.0], ["B200", 7.0]]
    cells = d[d.kind == "cell"].sort_values(["y", "x"])
    # imshow's default origin is upper: row 0 is drawn at y = 0 (the top), value 1 at (0, 0), 4 at (1, 1)
    assert cells[["x", "y", "value"]].values.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 2.0], [0.0, 1.0, 3.0], [1.0, 1.0, 4.0]]
    plt.close(fig)


def test_show_saves_closes_and_returns_the_saved_png_at_screen_size(tmp_path):
    """The notebook's figure is the saved 150-dpi PNG itself, shown at the figure's on-screen size
    (110 dpi) and closed, so Jupyter's inline backend does not draw it again."""
    from PIL import Image as PILImage

    fig, ax = plt.subplots(figsize=(4, 2), dpi=110)
    ax.plot([0, 1])
    image = plotting.show(fig, tmp_path, "99-test", "shown")
    png = tmp_path / "99-test-shown.png"
    assert png.exists() and (tmp_path / "99-test-shown.svg").exists()
    assert "99-test-shown" in plotting.read_manifest(tmp_path)
    assert image.data == png.read_bytes()
    assert image.width == round(PILImage.open(png).width * 110 / 150)
    assert not plt.fignum_exists(fig.number)


@pytest.mark.parametrize("md", SOURCES, ids=lambda p: p.name)
def test_every_figure_has_one_name(md):
    """A captioned figure cell saves exactly one figure, and its label is fig-<chapter>-<name>."""
    for cell in jupytext.read(md).cells:
        fig = cell.metadata.get("mystnb", {}).get("figure")
        if cell.cell_type != "code" or not fig:
            continue
        names = [n.args[3].value for n in ast.walk(ast.parse(cell.source))
                 if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "show" and len(n.args) >= 4]
        assert len(names) == 1, f"{md.name}: figure {fig['name']} must save exactly one figure"
        assert fig["name"] == plotting.figure_label(md.stem, names[0])


def test_figures_page_refuses_a_figure_without_its_cell(tmp_path):
    script = import_script("notebooks")
    nb = jupytext.read(ROOT / "notebooks" / "04-kvbm.md")
    path = tmp_path / "04-kvbm.ipynb"
    import nbformat
    nbformat.write(nb, path)
    manifest = {f"04-kvbm-{n}": {"chapter": "04-kvbm", "name": n, "label": f"fig-04-kvbm-{n}", "files": []}
                for n in ("capacity", "routing", "tiers")}
    assert "{numref}`fig-04-kvbm-routing`" in script.figures_page([path], manifest)
    manifest["04-kvbm-orphan"] = {"chapter": "04-kvbm", "name": "orphan", "label": "fig-04-kvbm-orphan", "files": []}
    with pytest.raises(SystemExit, match="orphan"):
        script.figures_page([path], manifest)


def test_plot_functions_draw_on_the_axes_given():
    import inspect

    for name, fn in inspect.getmembers(plotting, inspect.isfunction):
        if name.startswith("plot_"):
            params = inspect.signature(fn).parameters
            assert "ax" in params or "axes" in params, f"{name} takes no ax= / axes="
    fig, ax = plt.subplots()
    assert plotting.plot_e2m1_rounding(ax=ax) is fig and ax.lines  # drew on the caller's axes
    from nvlmodel import collectives

    fig, axes = plt.subplots(1, 2)
    assert plotting.plot_allreduce(collectives.allreduce_panels(), axes=axes) is fig
    with pytest.raises(ValueError, match="draws on 2 axes"):
        plotting.plot_allreduce(collectives.allreduce_panels(), axes=[axes[0]])
    plt.close("all")


def test_tokens_per_joule_figure_labels_every_bar():
    import pandas as pd

    best = pd.DataFrame({"model": ["A", "A", "B"], "system": ["H100 HGX", "GB200 NVL72", "GB200 NVL72"],
                         "tok_per_joule": [0.5, 5.0, 4.0], "tok_per_joule_gpu_only": [1.0, 7.0, 6.0]})
    fig = plotting.plot_tokens_per_joule(best)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["0.5", "4", "5"]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "output tokens per joule"
    with pytest.raises(KeyError, match="tok_per_joule_gpu_only"):
        plotting.plot_tokens_per_joule(best.drop(columns="tok_per_joule_gpu_only"))
    plt.close("all")


def test_run_dir_keeps_default_runs_on_the_stable_files():
    d = {"gpu_a": "b200", "gpu_b": "h100"}
    assert plotting.run_dir("figs", "01-hardware", d, dict(d)) == Path("figs")
    assert plotting.run_dir("figs", "01-hardware", d, {"gpu_a": "h200", "gpu_b": "h100"}) == \
        Path("figs/runs/01-hardware--gpu_a=h200")
    with pytest.raises(ValueError, match="gpu_a, gpu_b"):
        plotting.run_dir("figs", "01-hardware", d, {"gpu_c": "x"})
    # as a kernel sees it: the parameters cell first, papermill's injected cell after it
    ns = {"In": ["", 'lo, hi = 1.0, 2  # range\nfigures_dir = "../_extra/figures"\n', "hi = 3\n"],
          "lo": 1.0, "hi": 3, "figures_dir": "x"}
    assert plotting.run_dir_here("figs", "02-fp4", ns) == Path("figs/runs/02-fp4--hi=3")
    with pytest.raises(RuntimeError, match="figures_dir"):
        plotting.run_dir_here("figs", "02-fp4", {"In": ["x = 1"]})
    # nbval executes the committed notebook without storing its input history: the defaults
    assert plotting.run_dir_here("figs", "02-fp4", {"In": [""], "hi": 3}) == Path("figs")


def test_glued_captions_paste_from_their_chapter_on_the_figures_page():
    script = import_script("notebooks")
    md = ("```{glue:figure} fig_key\n:name: fig-01-hardware-x\n:alt: bars\n\n"
          "Ratio of {glue:text}`name_a` at {glue:text}`v:.1f`.\n```\n")
    assert script._glue_figures(md) == [("fig-01-hardware-x", "Ratio of {glue:text}`name_a` at {glue:text}`v:.1f`.")]
    assert script._from_chapter("a {glue:text}`name_a` b {glue:text}`v:.1f`", "../notebooks/01-hardware.ipynb") == (
        "a {glue:text}`../notebooks/01-hardware.ipynb::name_a:s` b {glue:text}`../notebooks/01-hardware.ipynb::v:.1f`")


def test_latency_cdfs_tick_labels_and_legend_stay_clear_of_each_other_and_the_curves():
    """Chapter 9's figure once had overlapping "3 x 10^-2" labels on a TPOT axis inside one decade and
    its legend over the slowest curves: the visible tick labels of each axis must not overlap, and
    the legend sits below both panels."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    runs = {f"deployment {i}": pd.DataFrame({"ttft_s": rng.uniform(0.07, 0.4, 200) * (1 + i),
                                              "tpot_s": rng.uniform(0.006, 0.06, 200)}) for i in range(4)}
    fig = plotting.plot_latency_cdfs(runs, 2.0, 0.05)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    for ax in fig.axes:
        boxes = [t.get_window_extent(r) for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        assert len(boxes) >= 3, "an axis needs labelled ticks to be read"
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), ax.get_xlabel()
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == list(runs)
    top = legend.get_window_extent(r).y1
    assert all(top <= ax.xaxis.label.get_window_extent(r).y0 for ax in fig.axes), "legend below the panels"
    plt.close("all")


@pytest.mark.parametrize("plot, have", [(plotting.plot_ratio_curve, "ratio"),
                                        (plotting.plot_kernel_efficiency, "system"),
                                        (plotting.plot_tokens_per_joule, "model")])
def test_a_frame_without_a_needed_column_is_refused_by_name(plot, have):
    import pandas as pd

    with pytest.raises(KeyError, match=rf"column '\w+' missing; the frame has {have}\"$"):
        plot(pd.DataFrame({have: [1]}))


def test_validation_figures_name_systems_and_engines_in_words():
    """Figure titles and legends write B200 SXM and TensorRT-LLM, never the ids b200_sxm or trtllm."""
    import pandas as pd

    pred = pd.DataFrame({"system": ["h100_sxm", "b200_sxm"] * 3, "split": ["calibration", "held-out"] * 3,
                         "precision": ["fp8"] * 6, "backend": ["trtllm"] * 6, "kv_fits": True,
                         "concurrency": [1, 1, 8, 8, 64, 64], "tpot_ms": [10.0, 8, 12, 9, 20, 15],
                         "tpot_pred_ms": [11.0, 7, 12, 8, 19, 14], "ttft_ms": [100.0, 90, 150, 120, 400, 300],
                         "ttft_pred_ms": [90.0, 80, 160, 100, 350, 250], "tpot_err_pct": 0.0, "ttft_err_pct": 0.0})
    figs = [plotting.plot_predicted_vs_measured(pred, "tpot"), plotting.plot_error_by(pred, "concurrency")]
    texts = [t.get_text() for f in figs for ax in f.axes
             for t in [ax.title, *(ax.get_legend().get_texts() if ax.get_legend() else [])]]
    assert any("B200 SXM" in t for t in texts) and any("TensorRT-LLM" in t for t in texts), texts
    assert not any("_sxm" in t or "trtllm" in t for t in texts), texts
    plt.close("all")


def test_headline_draws_the_other_step_on_the_calibrated_bars_and_refuses_a_short_list():
    import pandas as pd

    table = pd.DataFrame({"point": ["a", "b"], "printed_ratio": [4.8, 3.6], "calibrated_ratio": [2.0, 2.4]})
    fig = plotting.plot_headline(table, {"b": 3.2}, other=[3.05, 3.4], other_label="roofline")
    ax = fig.axes[0]
    circles = [ln for ln in ax.get_lines() if ln.get_label() == "roofline"]
    assert len(circles) == 1 and list(circles[0].get_xdata()) == [3.05, 3.4]
    # on the calibrated bars' rows (y - 0.2 of each point), not the printed ones
    assert list(circles[0].get_ydata()) == pytest.approx([-0.2, 0.8])
    assert ax.get_xlim()[1] == pytest.approx(1.15 * 4.8)
    plt.close(fig)
    with pytest.raises(ValueError, match="one positive ratio per point"):
        plotting.plot_headline(table, other=[3.0])
