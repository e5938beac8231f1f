import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]


# No wall-clock limits in tests: hypothesis's default 200 ms deadline per example failed on a slow
# machine when an example was the first to import a module (networkx, imported where a graph is built).
settings.register_profile("nvlmodel", deadline=None)
settings.load_profile("nvlmodel")


def import_script(name: str):
    """``scripts/<name>.py`` as a fresh module: the scripts are not a package, and one may import a
    sibling, so ``scripts/`` is on the path while it loads."""
    import importlib.util
    import sys

    path = ROOT / "scripts" / f"{name}.py"
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"script_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.pop(0)


def seed_path() -> Path | None:
    """The seed document: $NVLMODEL_SEED, or shared/seed beside the checkout (as in CI)."""
    env = os.environ.get("NVLMODEL_SEED")
    if env:
        return Path(env)
    hits = sorted((ROOT.parent / "shared" / "seed").glob("*.txt"))
    return hits[0] if hits else None


def pytest_collection_modifyitems(config, items):
    """The slow tests first. With `make test`'s pytest-xdist (--dist loadscope --no-loadscope-reorder:
    scopes in collection order) each worker then starts on a long scope -- the browser module, the
    chapter reruns, nbval's execution -- and the short tests fill in around them (longest first, as
    the book's notebooks are executed), instead of two long scopes meeting on one worker at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def seed_lines() -> list[str]:
    p = seed_path()
    if p is None or not p.exists():
        pytest.skip("seed document not found (set NVLMODEL_SEED)")
    return p.read_text(encoding="utf-8").splitlines()
