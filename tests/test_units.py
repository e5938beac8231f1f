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


def test_readable_tables_name_units_and_dash_what_does_not_apply():
    import pandas as pd

    from nvlmodel import units

    f = pd.DataFrame({"kv_budget_per_gpu_gb": [42.5, float("nan")], "backend": ["vllm", None], "tp_degree": [8, 4]})
    out = units.readable(f.set_index("tp_degree"))
    assert list(out.columns) == ["KV budget per GPU (GB)", "backend"] and out.index.name == "TP degree"
    assert out.iloc[1].tolist() == ["—", "—"] and out.iloc[0, 0] == "42.5"
    assert units.fmt_value(4.567e7) == "45,670,000"  # no scientific notation in a table
    counts = units.readable(pd.DataFrame({"prefill_tokens_saved": [2572672, 12], "fits": [True, False]}))
    assert counts.iloc[:, 0].tolist() == ["2,572,672", "12"] and counts.fits.tolist() == [True, False]


def test_display_tables_shows_text_cells_whole_and_numbers_as_fmt_value():
    import pandas as pd

    from nvlmodel import units

    why = "TP all-reduce from each engine's measured kernels instead of an extrapolation from 8 GPUs"
    f = pd.DataFrame({"why": [why], "x": [18000.0]})
    with pd.option_context("display.max_colwidth", 50, "display.float_format", None):
        assert why not in f._repr_html_()  # what Jupyter shows: pandas cuts it by default
        units.display_tables()
        assert why in f._repr_html_() and "18,000" in f._repr_html_() and why in repr(f)
