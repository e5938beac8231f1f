"""The book's figure style (applied in a context, :func:`style`; importing changes no global
matplotlib setting), the axes helper every plot function shares, and stable figure files:
:func:`savefig` writes ``<figures_dir>/<chapter>-<name>.svg`` and ``.png`` with fixed metadata and
records the figure in ``<figures_dir>/manifest.json``; its label in the book is
``fig-<chapter>-<name>`` (:func:`figure_label`)."""

from __future__ import annotations

import fcntl
import functools
import json
import re
import struct
from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..units import require_choice

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "legend.frameon": False,
    "svg.hashsalt": "nvlmodel",
    "svg.fonttype": "none",
}


@contextmanager
def style():
    """The book's figure style for the duration of a ``with`` block: only the keys of :data:`STYLE`
    are set and restored afterwards (``plt.rc_context`` would also restore ``interactive``, which
    stops Jupyter's inline backend from showing later figures)."""
    saved = {k: plt.rcParams[k] for k in STYLE}
    plt.rcParams.update(STYLE)
    try:
        yield
    finally:
        plt.rcParams.update(saved)


def _axes(ax, n: int = 1, **subplots):
    """The figure and axes a plot function draws on: ``ax`` (one Axes, or a sequence of ``n``) when the
    caller gives it, else a new figure with ``n`` axes in a row (``plt.subplots`` keywords)."""
    if ax is None:
        return plt.subplots(1, n, **subplots)
    axes = np.atleast_1d(np.asarray(ax, dtype=object))
    if axes.size != n:
        raise ValueError(f"this figure draws on {n} axes, got {axes.size}")
    return axes.flat[0].figure, (axes if n > 1 else axes.flat[0])


def _require_columns(frame, columns) -> None:
    """``frame`` has every one of ``columns``; else ``KeyError`` naming the first missing and what it has."""
    for col in columns:
        if col not in frame.columns:
            raise KeyError(f"column {col!r} missing; the frame has {', '.join(map(str, frame.columns))}")


def _styled(fn):
    """Draw ``fn``'s figure under :func:`style`."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with style():
            return fn(*args, **kwargs)
    return wrapper

#: Colours by preset, used by every chapter.
PRESET_COLORS = {"seed": "#c44e52", "datasheet": "#4c72b0"}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def figure_path(figures_dir: str | Path, chapter: str, name: str, ext: str = "svg") -> Path:
    """The stable path of a figure: ``<figures_dir>/<chapter>-<name>.<ext>``."""
    for what, v in (("chapter", chapter), ("figure name", name)):
        if not _SLUG.match(v):
            raise ValueError(f"{what} {v!r} must be lower-case letters, digits and dashes")
    require_choice("figure format", ext, ("svg", "png", "csv"))
    return Path(figures_dir) / f"{chapter}-{name}.{ext}"


def figure_label(chapter: str, name: str) -> str:
    """The figure's label in the book (for ``{numref}``): ``fig-<chapter>-<name>``, the same name as its files."""
    figure_path(".", chapter, name)  # validates both
    return f"fig-{chapter}-{name}"


_NUMERIC_TICK = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)(\^[-+]?\d+|e[-+]?\d+)?[x%]?")


def _numeric_tick(text: str) -> bool:
    """Whether a tick label writes a number (``20``, ``1,000``, ``$\\mathdefault{10^{3}}$``, ``−5``, ``2x``)."""
    t = text.replace("\\mathdefault", "").translate({ord(c): None for c in "${}, "}).replace("\u2212", "-")
    return bool(_NUMERIC_TICK.fullmatch(t.replace("\\times", "")))


def _label(artist) -> str:
    label = str(artist.get_label() or "")
    return "" if label.startswith("_") else label  # matplotlib's "_child0" and the like name nothing


def figure_data(fig: plt.Figure) -> "pd.DataFrame":  # noqa: F821
    """The numbers a figure draws, read back from its artists, one row per point: ``panel`` (the
    axes' title, else its position), its axis labels, ``series`` (the artist's legend label),
    ``kind`` (``line``, ``points``, ``bar``, ``band``, ``segment``, ``cell`` of a heat map),
    ``part`` (which bar, band outline, segment or cell), ``x`` and ``y`` in data units, a heat map
    cell's ``value``, and ``x_category`` where the x axis is labelled by category (bars). A
    diagram drawn with shapes only has no rows. What a reader needs to re-plot or cite a figure's values without
    rerunning the chapter."""
    import pandas as pd
    from matplotlib.collections import LineCollection, PathCollection, PolyCollection
    from matplotlib.container import BarContainer

    rows = []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.has_data():
            continue
        base = {"panel": ax.get_title() or f"panel {i + 1}", "x_label": ax.get_xlabel(), "y_label": ax.get_ylabel()}
        ticks = {round(float(t), 6): lab.get_text() for t, lab in zip(ax.get_xticks(), ax.get_xticklabels())}
        categorical = any(t and not _numeric_tick(t) for t in ticks.values())

        def add(series, kind, part, xs, ys):
            for x, y in zip(np.ravel(xs), np.ravel(ys)):
                row = {**base, "series": series, "kind": kind, "part": part, "x": float(x), "y": float(y)}
                if categorical:
                    row["x_category"] = ticks.get(round(float(x), 6), "")
                rows.append(row)

        for line in ax.get_lines():
            x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            if x.size:
                add(_label(line), "line", 0, x, y)
        bars = set()
        for c in ax.containers:
            if isinstance(c, BarContainer):
                for j, r in enumerate(c.patches):
                    bars.add(id(r))
                    add(_label(c), "bar", j, r.get_x() + r.get_width() / 2, r.get_y() + r.get_height())
        for coll in ax.collections:
            if isinstance(coll, PathCollection):
                off = np.asarray(coll.get_offsets(), float).reshape(-1, 2)
                add(_label(coll), "points", 0, off[:, 0], off[:, 1])
            elif isinstance(coll, LineCollection):
                for j, seg in enumerate(coll.get_segments()):
                    add(_label(coll), "segment", j, seg[:, 0], seg[:, 1])
            elif isinstance(coll, PolyCollection):
                for j, path in enumerate(coll.get_paths()):
                    add(_label(coll), "band", j, path.vertices[:, 0], path.vertices[:, 1])
        for img in ax.images:  # a heat map: one row per cell, its value in ``value``
            a = np.ma.filled(np.ma.asarray(img.get_array(), float), np.nan)
            if a.ndim != 2:
                continue
            x0, x1, y0, y1 = img.get_extent()
            nr, nc = a.shape
            xs = x0 + (np.arange(nc) + 0.5) * (x1 - x0) / nc
            ys = y0 + (np.arange(nr) + 0.5) * (y1 - y0) / nr
            if img.origin == "upper":
                ys = ys[::-1]
            for r in range(nr):
                for c in range(nc):
                    rows.append({**base, "series": _label(img), "kind": "cell", "part": r * nc + c,
                                 "x": float(xs[c]), "y": float(ys[r]), "value": float(a[r, c])})
    cols = ["panel", "x_label", "y_label", "series", "kind", "part", "x", "y"]
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=cols)
    return out[cols + [c for c in ("value", "x_category") if c in out]]


MANIFEST = "manifest.json"


def savefig(fig: plt.Figure, figures_dir: str | Path, chapter: str, name: str) -> list[Path]:
    """Save ``fig`` as SVG and PNG under stable names (deterministic metadata, the book's style) and
    the numbers it draws as CSV (:func:`figure_data`), record it in ``<figures_dir>/manifest.json``
    (stem -> chapter, name, label, files) and return the paths."""
    paths = []
    Path(figures_dir).mkdir(parents=True, exist_ok=True)
    with style():
        for ext, meta in (("svg", {"Date": None, "Creator": "nvlmodel"}), ("png", {"Software": "nvlmodel"})):
            path = figure_path(figures_dir, chapter, name, ext)
            fig.savefig(path, metadata=meta, bbox_inches="tight")
            paths.append(path)
    csv = figure_path(figures_dir, chapter, name, "csv")
    figure_data(fig).to_csv(csv, index=False, float_format="%.6g", lineterminator="\n")
    paths.append(csv)
    manifest = Path(figures_dir) / MANIFEST
    with open(manifest, "a+", encoding="utf-8") as f:  # locked: chapters may run side by side
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        text = f.read()
        entries = json.loads(text) if text.strip() else {}
        entries[f"{chapter}-{name}"] = {"chapter": chapter, "name": name, "label": figure_label(chapter, name),
                                        "files": [p.name for p in paths]}
        f.seek(0)
        f.truncate()
        f.write(json.dumps(dict(sorted(entries.items())), indent=1) + "\n")
    return paths


def show(fig: plt.Figure, figures_dir: str | Path, chapter: str, name: str):
    """Save ``fig`` under its stable names (:func:`savefig`), close it, and return the saved PNG as
    the image a notebook shows (an ``IPython.display.Image``, needs IPython), at the size the figure
    has on screen (``fig.dpi``; the file is drawn at ``savefig.dpi``, so it is sharper, not larger).
    The figure is drawn once per file: Jupyter's inline backend does not draw it a third time."""
    from IPython.display import Image

    png = figure_path(figures_dir, chapter, name, "png")
    savefig(fig, figures_dir, chapter, name)
    plt.close(fig)
    data = png.read_bytes()
    width = struct.unpack(">I", data[16:20])[0]  # the PNG header's width
    return Image(data=data, format="png", width=round(width * fig.dpi / STYLE["savefig.dpi"]))


def read_manifest(figures_dir: str | Path) -> dict:
    """The figures :func:`savefig` recorded under ``figures_dir`` (empty when none)."""
    manifest = Path(figures_dir) / MANIFEST
    return json.loads(manifest.read_text()) if manifest.exists() else {}


def run_dir(figures_dir: str | Path, chapter: str, defaults: dict, values: dict) -> Path:
    """Where a run of ``chapter`` saves its figures: ``figures_dir`` itself when every parameter has
    its default (the stable, cited files), else ``<figures_dir>/runs/<chapter>--<name>=<value>...``,
    named for the parameters that differ, so a rerun never overwrites a cited figure."""
    figure_path(".", chapter, "x")  # validates the chapter
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise ValueError(f"parameters {unknown} have no default; the chapter's parameters: {', '.join(defaults)}")
    changed = {k: v for k, v in values.items() if v != defaults[k]}
    if not changed:
        return Path(figures_dir)
    slug = "--".join(f"{k}={re.sub(r'[^A-Za-z0-9._-]+', '_', str(v))}" for k, v in sorted(changed.items()))
    return Path(figures_dir) / "runs" / f"{chapter}--{slug}"


def run_dir_here(figures_dir: str | Path, chapter: str, namespace: dict | None = None) -> Path:
    """:func:`run_dir` for the notebook this is called from: the defaults are the values its
    parameters cell assigns (the first cell the kernel ran that sets ``figures_dir``: papermill injects
    its own cell after it), the values what they hold now. ``figures_dir`` is not part of the name.
    A kernel that keeps no input history (nbval executes cells without storing them) ran the notebook
    as committed, with its defaults: the stable ``figures_dir``."""
    if namespace is None:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            raise RuntimeError("run_dir_here needs a notebook kernel; call run_dir(figures_dir, chapter, defaults, values)")
        namespace = shell.user_ns
    history = [c for c in namespace.get("In", []) if c]
    if not history:
        return Path(figures_dir)
    cells = [c for c in history if re.search(r"^figures_dir\s*=", c, re.M)]
    if not cells:
        raise RuntimeError("no executed parameters cell setting figures_dir: run_dir_here reads the first one")
    defaults: dict = {}
    exec(cells[0], {"__builtins__": {}}, defaults)  # the cell the kernel already ran: its default values
    defaults.pop("figures_dir", None)
    return run_dir(figures_dir, chapter, defaults, {k: namespace[k] for k in defaults})
