"""Book-local Sphinx fixes.

Figures: a figure's image gets its caption as alt text (myst-nb leaves notebook images without
one), so a screen reader reads what the figure shows; and a figure saved by
``nvlmodel.plotting.savefig`` (label ``fig-<chapter>-<name>``) gets a link to the numbers it draws
(``figures/<chapter>-<name>.csv``) at the end of its caption.

sphinx-thebe registers its inline configuration script on every ``env-before-read-docs``; with
sphinxcontrib-bibtex the documents are read twice, so every page declared ``const THEBE_JS_URL``
twice and the browser logged a SyntaxError. Thebe is off in this book: keep one copy of each script.

References: the text cites author-year ("NVIDIA, 2024c"), and ``book/references.bib`` gives two
sources of one author and year a letter each in their year (a test holds it). The bibliography's
labels (pybtex's ``alpha``) take a year's last two characters, "[NVIDIA4c]"; the ``alphayear``
style takes its last two digits and the letter, "[NVIDIA24c]", the label the text's citation names.
"""

import re


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    files = context.get("script_files")
    if not files:
        return
    seen, kept = set(), []
    for js in files:
        # the same script registered twice may carry another priority
        # (and an inline script's filename may be None or ""): compare what it says
        key = (getattr(js, "filename", str(js)) or "", tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def _data_link(app, fig, caption, docname):
    """Append "Data (CSV)" to ``caption`` when the figure's CSV was saved beside its files."""
    import os

    from docutils import nodes

    label = next((i for i in fig.get("ids", []) if i.startswith("fig-")), None)
    if label is None:
        return
    stem = label[len("fig-"):]
    if not os.path.exists(os.path.join(app.srcdir, "_extra", "figures", f"{stem}.csv")):
        return
    depth = docname.count("/")
    uri = "../" * depth + f"figures/{stem}.csv"
    caption += nodes.Text(" ")
    caption += nodes.reference("", "Data (CSV)", refuri=uri, classes=["figure-data"])


def _alt_from_caption(app, doctree, docname):
    from docutils import nodes

    for fig in doctree.findall(nodes.figure):
        captions = list(fig.findall(nodes.caption))
        if not captions:
            continue
        text = " ".join(captions[0].astext().split())
        for img in fig.findall(nodes.image):
            alt = img.get("alt", "")
            if not alt or "/" in alt or alt.endswith((".png", ".svg")):
                img["alt"] = text if len(text) <= 300 else text[:297] + "..."
        _data_link(app, fig, captions[0], docname)


def _alphayear_style():
    """pybtex's ``alpha`` formatting style with the year's last two digits and its letter in the label."""
    from pybtex.style.formatting.alpha import Style
    from pybtex.style.labels.alpha import LabelStyle

    class YearLetterLabels(LabelStyle):
        def format_label(self, entry):
            label = super().format_label(entry)
            year = entry.fields.get("year", "")
            m = re.fullmatch(r"\d*(\d\d)([a-z]?)", year)
            return label[: len(label) - 2] + m.group(1) + m.group(2) if m and label.endswith(year[-2:]) else label

    class AlphaYear(Style):
        default_label_style = YearLetterLabels

    return AlphaYear


def setup(app):
    from pybtex.plugin import register_plugin

    register_plugin("pybtex.style.formatting", "alphayear", _alphayear_style())
    app.connect("doctree-resolved", _alt_from_caption)
    app.connect("html-page-context", _dedupe_scripts, priority=900)  # after every extension added its scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
