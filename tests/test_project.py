"""Project wiring: the README's commands, CI, and the conda environment stay in agreement."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    for cmd in ("make book", "make test"):
        assert cmd in readme and re.search(rf"^{cmd}$", ci, re.MULTILINE), cmd


def test_environment_yml_installs_the_locked_project():
    env = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in env and "-r requirements.lock" in env and "-e ." in env


def test_lock_covers_every_declared_dependency():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = meta["dependencies"] + [d for extra in meta["optional-dependencies"].values() for d in extra]
    locked = {line.split("==")[0].strip().lower() for line in (ROOT / "requirements.lock").read_text().splitlines()
              if "==" in line and not line.startswith("#")}
    for d in deps:
        name = re.split(r"[<>=!~\[ ]", d)[0].lower()
        assert name in locked, f"{name} is declared in pyproject.toml but missing from requirements.lock: make lock"


def test_generated_paths_are_ignored():
    ignored = (ROOT / ".gitignore").read_text().split()
    for p in (".venv/", "_build/", "_extra/"):
        assert p in ignored


def test_the_checkout_root_holds_only_project_files():
    """A run's output written where it ran (the CLI fuzz once drew ``--out 99999999999`` and the file
    was committed) shows here: the root's tracked files are the project's own."""
    import subprocess

    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        import pytest

        pytest.skip("not a git checkout")
    root_files = {p for p in tracked.splitlines() if "/" not in p}
    assert root_files <= {".gitignore", "CITATION.cff", "Makefile", "README.md", "_config.yml", "_toc.yml",
                          "environment.yml", "pyproject.toml", "requirements.lock"}, sorted(root_files)


def test_no_hardware_or_document_literals_outside_their_homes():
    """Hardware facts live in the registry, model facts in the model registry, the document's inputs
    in nvlmodel.document, unit factors in nvlmodel.units: any other module writing a large number
    (other than an exact power of ten, a unit factor) is copying a fact that can go stale."""
    import ast
    import math

    homes = {"hardware.py", "document.py", "units.py", "models.py"}
    found = []
    for path in sorted((ROOT / "nvlmodel").rglob("*.py")):
        if path.name in homes and path.parent.name == "nvlmodel":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            v = getattr(node, "value", None) if isinstance(node, ast.Constant) else None
            if isinstance(v, bool) or not isinstance(v, int | float) or abs(v) < 1e5:
                continue
            if math.log10(abs(v)).is_integer() or math.log2(abs(v)).is_integer():
                continue  # 1e6, 1e9, 1e12: a unit factor; 2**17 tokens: a size
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {v!r}")
    assert not found, "large literals outside the registry, models, units and document modules:\n" + "\n".join(found)


def test_lower_floors_import_no_upper_ones():
    """One direction of dependency: the spec registry, models, formats, premises, rooflines and
    kernel tables never import the calibrated model, the search, the simulation or the book's pages
    (before this test, premises.waterfall imported the calibrated model from the lowest floor)."""
    import ast

    lower = ("units", "document", "hardware", "models", "fp4", "premises", "roofline", "kernels", "topology")
    upper = ("calibrate", "search", "serve", "findings", "changelog", "cli", "plotting", "energy", "endtoend")
    found = []
    for name in lower:
        tree = ast.parse((ROOT / "nvlmodel" / f"{name}.py").read_text())
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                mods = [node.module or ""] + [a.name for a in node.names if not node.module]
            elif isinstance(node, ast.Import):
                mods = [a.name.removeprefix("nvlmodel.") for a in node.names if a.name.startswith("nvlmodel")]
            found += [f"{name} imports {m}" for m in mods if m.split(".")[0] in upper]
    assert not found, found
