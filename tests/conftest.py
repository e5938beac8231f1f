import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def seed_path() -> Path | None:
    """The seed document: $NVLMODEL_SEED, or shared/seed beside the checkout (as in CI)."""
    env = os.environ.get("NVLMODEL_SEED")
    if env:
        return Path(env)
    hits = sorted((ROOT.parent / "shared" / "seed").glob("*.txt"))
    return hits[0] if hits else None


@pytest.fixture(scope="session")
def seed_lines() -> list[str]:
    p = seed_path()
    if p is None or not p.exists():
        pytest.skip("seed document not found (set NVLMODEL_SEED)")
    return p.read_text(encoding="utf-8").splitlines()
