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
