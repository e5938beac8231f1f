import math

import pytest

from nvlmodel import units


def test_decimal_and_binary_prefixes_differ():
    assert units.GB == 1_000_000_000
    assert units.GiB == 1_073_741_824
    assert units.TB / units.GB == 1000
    assert units.TiB / units.GiB == 1024


def test_convert_uses_decimal_bandwidth():
    assert units.convert(8e12, "TB/s") == 8.0
    assert units.convert(900e9, "GB/s") == 900.0
    assert units.convert(128 * 2**30, "GB") == pytest.approx(137.438953472)


def test_unknown_unit_lists_choices():
    with pytest.raises(ValueError, match="valid choices: .*TB/s"):
        units.scale("furlongs")


@pytest.mark.parametrize("bad", [-1, -0.5, math.inf, math.nan])
def test_require_positive_rejects(bad):
    with pytest.raises(ValueError, match="finite number > 0"):
        units.require_positive("size", bad)


def test_require_positive_zero_and_types():
    assert units.require_positive("n", 0, allow_zero=True) == 0
    with pytest.raises(ValueError):
        units.require_positive("n", 0)
    with pytest.raises(TypeError):
        units.require_positive("n", "3")
    with pytest.raises(TypeError):
        units.require_positive("n", True)


def test_require_index():
    assert units.require_index("GPU id", 71, 72) == 71
    with pytest.raises(ValueError, match="0..71"):
        units.require_index("GPU id", 72, 72)
    with pytest.raises(ValueError, match="0..71"):
        units.require_index("GPU id", -1, 72)
    with pytest.raises(TypeError):
        units.require_index("GPU id", 1.0, 72)
