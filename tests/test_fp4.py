"""FP4 numerics against hand-written tables and properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nvlmodel import fp4

# Every E2M1 code and its value, written out (OCP MX v1.0, table of E2M1 values).
E2M1_TABLE = {
    0b0000: 0.0, 0b0001: 0.5, 0b0010: 1.0, 0b0011: 1.5, 0b0100: 2.0, 0b0101: 3.0, 0b0110: 4.0, 0b0111: 6.0,
    0b1000: -0.0, 0b1001: -0.5, 0b1010: -1.0, 0b1011: -1.5, 0b1100: -2.0, 0b1101: -3.0, 0b1110: -4.0,
    0b1111: -6.0,
}


def test_decode_full_table():
    codes = np.array(list(E2M1_TABLE), dtype=np.uint8)
    got = fp4.e2m1_decode(codes)
    assert got.tolist() == list(E2M1_TABLE.values())
    assert np.signbit(got[8]) and not np.signbit(got[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_representable_value_round_trips(dtype):
    codes = np.arange(16, dtype=np.uint8)
    values = fp4.e2m1_decode(codes).astype(dtype)
    assert fp4.e2m1_encode(values).tolist() == codes.tolist()


# Midpoints go to the code whose mantissa bit is 0 (the even code).
TIES = [(0.25, 0.0), (0.75, 1.0), (1.25, 1.0), (1.75, 2.0), (2.5, 2.0), (3.5, 4.0), (5.0, 4.0),
        (-0.25, -0.0), (-1.75, -2.0), (-5.0, -4.0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x,expected", TIES)
def test_ties_to_even(x, expected, dtype):
    got = fp4.e2m1_decode(fp4.e2m1_encode(np.array([x], dtype=dtype)))[0]
    assert got == expected and np.signbit(got) == np.signbit(expected)


def test_nearest_saturation_and_signed_zero():
    x = np.array([0.26, 0.74, 1.26, 2.49, 2.51, 4.99, 5.01, 6.5, 1e30, -7.0, -0.1, -0.0, 1e-40], np.float32)
    want = [0.5, 0.5, 1.5, 2.0, 3.0, 4.0, 6.0, 6.0, 6.0, -6.0, -0.0, -0.0, 0.0]
    got = fp4.e2m1_decode(fp4.e2m1_encode(x))
    assert got.tolist() == want
    assert np.signbit(got[10]) and np.signbit(got[11])


def test_table_encoder_matches_reference_on_random_bit_patterns():
    rng = np.random.default_rng(7)
    f = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    f = f[np.isfinite(f)]
    assert (fp4.e2m1_encode(f) == fp4.e2m1_encode(f.astype(np.float64))).all()


def test_pack_unpack():
    codes = np.array([1, 2, 15, 0, 8, 7], dtype=np.uint8)
    packed = fp4.pack_fp4(codes)
    assert packed.tolist() == [0x21, 0x0F, 0x78]
    assert fp4.unpack_fp4(packed).tolist() == codes.tolist()
    with pytest.raises(ValueError, match="even number"):
        fp4.pack_fp4(codes[:5])
    with pytest.raises(ValueError, match="0..15"):
        fp4.pack_fp4(np.array([16, 0], dtype=np.uint8))


def test_e4m3_round_by_hand():
    x = np.array([448, 500, -1000, 1.0, 17, 19, 2.0**-10, 1.5 * 2.0**-10, 2.0**-9, 0.0], np.float32)
    want = [448, 448, -448, 1.0, 16, 20, 0.0, 2.0**-9, 2.0**-9, 0.0]
    assert fp4.e4m3_round(x).tolist() == want


def test_bits_per_element_come_from_the_format():
    assert fp4.get_format("mxfp4").bits_per_element == 4 + 8 / 32 == 4.25
    assert fp4.get_format("nvfp4").bits_per_element == 4 + 8 / 16 == 4.5
    assert fp4.get_format("fp4-seed").bytes_per_element == 0.5
    assert fp4.get_format("int4-g128").bits_per_element == 4 + 16 / 128
    q = fp4.quantize(fp4.weight_like("gaussian", 2**12), "nvfp4")
    assert q.nbytes == 2**12 // 2 + 2**12 // 16 + 4  # codes + E4M3 scales + FP32 tensor scale


def test_mxfp4_scale_is_the_ocp_power_of_two():
    x = np.zeros(32, np.float32)
    x[0] = 5.0  # floor(log2 5) = 2 -> X = 2**(2 - 2) = 1
    q = fp4.quantize(x, "mxfp4")
    assert q.scales.tolist() == [1.0]
    x[0] = 7.9  # amax/X = 7.9 saturates to 6 (OCP rule, not an error)
    assert fp4.dequantize(fp4.quantize(x, "mxfp4"))[0] == 6.0


def test_nvfp4_scales_by_hand():
    x = np.zeros(32, np.float32)
    x[0], x[16] = 6.0, 0.75  # tensor amax 6 -> s_t = 6 / 2688; block 0 scale 6/6/s_t = 448
    q = fp4.quantize(x, "nvfp4")
    assert q.tensor_scale == pytest.approx(6 / (448 * 6))
    assert q.scales[0] == 448.0
    assert q.scales[1] == fp4.e4m3_round(np.array([0.75 / 6 / q.tensor_scale], np.float32))[0] == 56.0
    d = fp4.dequantize(q)
    assert d[0] == pytest.approx(6.0) and d[16] == pytest.approx(0.75)


def test_zero_blocks_and_padding():
    x = np.zeros(40, np.float32)
    for fmt in ("mxfp4", "nvfp4"):
        assert (fp4.dequantize(fp4.quantize(x, fmt, pad=True)) == 0).all()
        assert fp4.dequantize(fp4.quantize(x, fmt, pad=True)).size == 40


@pytest.mark.parametrize("fmt", ["mxfp4", "nvfp4"])
def test_bad_input(fmt):
    with pytest.raises(ValueError, match="not a multiple of the block size"):
        fp4.quantize(np.ones(33, np.float32), fmt)
    for bad in (np.nan, np.inf, -np.inf):
        x = np.ones(64, np.float32)
        x[5] = bad
        with pytest.raises(ValueError, match="non-finite"):
            fp4.quantize(x, fmt)
    with pytest.raises(TypeError, match="float32 or float64"):
        fp4.quantize(np.ones(64, np.int32), fmt)
    with pytest.raises(ValueError, match="valid choices: mxfp4, nvfp4"):
        fp4.quantize(np.ones(64, np.float32), "fp5")
    with pytest.raises(ValueError, match="non-finite"):
        fp4.e2m1_encode(np.array([np.nan], np.float32))
    with pytest.raises(ValueError, match="valid choices: gaussian, laplace, outliers"):
        fp4.weight_like("uniform", 10)


def test_int4_and_fp8_by_hand():
    x = np.array([7.0, -3.5, 1.0, 0.2] + [0.0] * 28, np.float32)  # scale 7/7 = 1
    assert fp4.fake_quantize(x, "int4-g32")[:4].tolist() == [7.0, -4.0, 1.0, 0.0]  # -3.5 ties to even -4
    y = np.array([448.0, 17.0], np.float32)  # scale 1: E4M3 rounding of 17 is 16
    assert fp4.fake_quantize(y, "fp8").tolist() == [448.0, 16.0]


def test_error_metrics_by_hand():
    m = fp4.error_metrics(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    assert m["mse"] == 0.5
    assert m["sqnr_db"] == pytest.approx(10 * math.log10(5 / 1))
    assert m["max_rel_error"] == 0.5 and m["max_err_over_amax"] == 0.5


def test_fp4_is_noisier_than_fp8_and_nvfp4_beats_mxfp4_on_outliers():
    r = fp4.quantization_report(n=2**14).set_index(["weights", "format"])["sqnr_db"]
    for kind in fp4.WEIGHT_KINDS:
        assert r[(kind, "fp8")] > r[(kind, "nvfp4")] + 6  # 4 more bits: ~10 dB in practice
    assert r[("outliers", "nvfp4")] > r[("outliers", "mxfp4")]


blocks = hnp.arrays(np.float32, 16, elements=st.floats(-1e4, 1e4, width=32, allow_subnormal=False))


@settings(max_examples=200, deadline=None)
@given(blocks)
def test_nvfp4_picks_the_nearest_representable_value_for_its_block_scale(x):
    q = fp4.quantize(x, "nvfp4")
    d = fp4.dequantize(q).astype(np.float64)
    s = float(q.scales[0]) * q.tensor_scale
    grid = np.concatenate([fp4.E2M1_MAGNITUDES, -fp4.E2M1_MAGNITUDES]).astype(np.float64) * s
    best = np.min(np.abs(grid[None, :] - x.astype(np.float64)[:, None]), axis=1)
    # The product x * (1/s) is formed in float32, so allow its rounding (a few ulps of x).
    assert (np.abs(d - x) <= best + 1e-6 * np.abs(x) + 1e-30).all()


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, 32, elements=st.floats(-100, 100, width=32)), st.sampled_from(["mxfp4", "nvfp4"]))
def test_monotone_within_a_block(x, fmt):
    xs = np.sort(x[: fp4.get_format(fmt).block_size])  # one block: one scale
    d = fp4.dequantize(fp4.quantize(xs, fmt))
    assert (np.diff(d) >= 0).all()


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float32, 64, elements=st.floats(-1e3, 1e3, width=32)))
def test_scales_are_representable(x):
    mx = fp4.quantize(x, "mxfp4").scales
    assert (np.exp2(np.round(np.log2(mx))) == mx).all()
    nv = fp4.quantize(x, "nvfp4").scales
    assert (fp4.e4m3_round(nv) == nv).all()


@pytest.mark.parametrize("fmt", ["mxfp4", "nvfp4"])
def test_tiny_blocks_do_not_overflow(fmt):
    x = np.zeros(32, np.float32)
    x[:16] = 1e-38  # a block whose scale is a float32 subnormal
    x[16] = 1.0
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        d = fp4.dequantize(fp4.quantize(x, fmt))
    assert np.isfinite(d).all() and d[16] == pytest.approx(1.0)


def test_subnormal_tensor_does_not_overflow_the_nvfp4_scale():
    x = np.full(16, 1e-45, np.float32)  # found by hypothesis: amax / 2688 underflows float32
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        d = fp4.dequantize(fp4.quantize(x, "nvfp4"))
    assert np.isfinite(d).all() and np.abs(d - x).max() <= 1.5e-45
