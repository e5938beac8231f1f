"""FP4 numerics: E2M1 codes, MXFP4 and NVFP4 block scaling, and the formats they are compared with.

E2M1 (OCP Microscaling spec v1.0; NVIDIA NVFP4): 1 sign, 2 exponent (bias 1), 1 mantissa bit,
subnormals, no Inf/NaN. Magnitudes {0, 0.5, 1, 1.5, 2, 3, 4, 6}; code = sign << 3 | magnitude index.

Block-scaled formats
--------------------
``mxfp4``
    32 E2M1 elements share one E8M0 scale (a power of two): ``X = 2**(floor(log2(amax)) - 2)``, the
    OCP rule (2 is the largest E2M1 exponent), elements ``x / X`` rounded to E2M1 with saturation.
    4 + 8/32 = 4.25 bits per element.
``nvfp4``
    16 E2M1 elements share one FP8 E4M3 scale, and the tensor has one FP32 scale
    ``s_t = amax / (448 * 6)`` (torchao's choice); block scale ``e4m3(amax_b / 6 / s_t)``.
    4 + 8/16 = 4.5 bits per element (the tensor scale adds 32 bits per tensor).

Every array function takes float32/float64 numpy arrays, rejects non-finite values, and works on
whole arrays at once (no Python loop over elements or blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .units import require_choice

#: E2M1 magnitudes by code 0..7.
E2M1_MAGNITUDES = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0], dtype=np.float32)
#: E2M1 value of each 4-bit code 0..15 (code 8 is -0.0).
E2M1_VALUES = np.concatenate([E2M1_MAGNITUDES, -E2M1_MAGNITUDES]).astype(np.float32)
E2M1_MAX = 6.0
E2M1_EMAX = 2  # exponent of the largest normal, 6 = 1.5 * 2**2
E2M1_BITS = {"sign": 1, "exponent": 2, "mantissa": 1}
E4M3_MAX = 448.0
E4M3_MIN_EXP = -6  # smallest normal exponent; subnormal step 2**-9

# Code of a rounded magnitude q, looked up by int(2 * q): 0, .5, 1, 1.5, 2 -> 0..4; 3 -> 5; 4 -> 6; 6 -> 7.
_CODE_OF_TWICE = np.zeros(13, dtype=np.uint8)
_CODE_OF_TWICE[[0, 1, 2, 3, 4, 6, 8, 12]] = np.arange(8, dtype=np.uint8)


def _check(x: np.ndarray, what: str = "x") -> np.ndarray:
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{what} must be a float32 or float64 array, got dtype {x.dtype}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} holds non-finite values (NaN or Inf); FP4 formats have no encoding for them")
    return x


# --------------------------------------------------------------------------------------------
# E2M1
# --------------------------------------------------------------------------------------------

def e2m1_round(a: np.ndarray) -> np.ndarray:
    """Round non-negative magnitudes to the E2M1 grid: nearest, ties to even code, saturating at 6.

    Within each binade the grid is uniform (step 0.5 below 2, 1 in [2, 4), 2 in [4, 6]); ``np.rint``
    rounds half to even *multiples of the step*, which are exactly the E2M1 codes with mantissa 0.
    This is the reference rounding (float64, plainly correct); :func:`e2m1_encode` uses a table
    built from it for float32 input.
    """
    a = np.minimum(np.asarray(a, dtype=np.float64), E2M1_MAX)
    step = np.where(a < 2, 0.5, np.where(a < 4, 1.0, 2.0))
    return np.rint(a / step) * step


def _reference_codes(x: np.ndarray) -> np.ndarray:
    codes = _CODE_OF_TWICE[(e2m1_round(np.abs(x)) * 2).astype(np.int8)]
    return codes | (np.signbit(x).astype(np.uint8) << 3)


def _build_encode_table() -> np.ndarray:
    """Code for every float32 key ``(bits >> 21) << 1 | (bits & 0x1FFFFF != 0)``: sign, exponent, the
    top two mantissa bits, and whether any lower bit is set. Every E2M1 rounding midpoint (0.25,
    0.75, 1.25, 1.75, 2.5, 3.5, 5) has at most two mantissa bits, so all floats sharing a key round
    alike: the key's own value when the lower bits are zero, a value just above it otherwise."""
    keys = np.arange(4096, dtype=np.uint32)
    lo = ((keys >> 1) << 21).view(np.float32)
    lo = np.where(np.isfinite(lo), lo, np.copysign(np.float32(E2M1_MAX), lo)).astype(np.float64)
    rep = np.where(keys & 1, lo * (1 + 2.0**-30) + np.copysign(2.0**-160, lo), lo)
    return _reference_codes(rep)


_ENCODE_TABLE = _build_encode_table()
#: Both float32 values of each packed byte (low nibble first) as one uint64, so that decoding is a
#: 1-D gather of 8-byte items (a 2-D fancy index is several times slower).
_PAIR_TABLE = np.ascontiguousarray(
    np.stack([E2M1_VALUES[np.arange(256) & 0x0F], E2M1_VALUES[np.arange(256) >> 4]], axis=1)
).view(np.uint64).ravel()


def _encode_f32(y: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(y, dtype=np.float32).view(np.uint32)
    key = bits >> 21
    key <<= 1
    key |= (bits & ((1 << 21) - 1)) != 0
    return _ENCODE_TABLE[key]


def e2m1_encode(x: np.ndarray) -> np.ndarray:
    """Encode values to 4-bit E2M1 codes (uint8, one per element): round to nearest, ties to even,
    saturate at +-6, keep the sign of zero (-0.0 and negatives that round to 0 give code 8).
    float32 goes through a 4096-entry table; float64 through the reference rounding (converting it
    to float32 first could round a value onto a midpoint)."""
    x = _check(x)
    return _encode_f32(x) if x.dtype == np.float32 else _reference_codes(x)


def e2m1_decode(codes: np.ndarray) -> np.ndarray:
    """Decode 4-bit E2M1 codes (integers 0..15) to float32."""
    codes = np.asarray(codes)
    if codes.dtype.kind not in "ui":
        raise TypeError(f"codes must be an integer array, got dtype {codes.dtype}")
    if codes.size and (codes.min() < 0 or codes.max() > 15):
        raise ValueError("E2M1 codes must be in 0..15")
    return E2M1_VALUES[codes]


def pack_fp4(codes: np.ndarray) -> np.ndarray:
    """Pack 4-bit codes two per byte: element 2i in the low nibble, 2i+1 in the high nibble."""
    codes = np.asarray(codes, dtype=np.uint8).ravel()
    if codes.size % 2:
        raise ValueError(f"pack_fp4 needs an even number of codes, got {codes.size}; pad the last block")
    if codes.size and codes.max() > 15:
        raise ValueError("codes must be in 0..15 to fit a nibble")
    return codes[0::2] | (codes[1::2] << 4)


def unpack_fp4(packed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_fp4`: two codes per byte, low nibble first."""
    packed = np.asarray(packed)
    if packed.dtype != np.uint8:
        raise TypeError(f"packed must be uint8, got {packed.dtype}")
    out = np.empty(packed.size * 2, dtype=np.uint8)
    out[0::2] = packed & 0x0F
    out[1::2] = packed >> 4
    return out


# --------------------------------------------------------------------------------------------
# FP8 E4M3 (the NVFP4 block scale, and a comparison format)
# --------------------------------------------------------------------------------------------

def e4m3_round(x: np.ndarray) -> np.ndarray:
    """Round to the nearest FP8 E4M3 (``fn`` variant: bias 7, max 448, subnormal step 2**-9),
    ties to even, saturating at +-448. Returns the same dtype as ``x``."""
    x = _check(x)
    a = np.minimum(np.abs(x), E4M3_MAX)
    with np.errstate(divide="ignore"):
        e = np.floor(np.log2(np.where(a > 0, a, 1.0)))
    step = np.exp2(np.maximum(e, E4M3_MIN_EXP) - 3).astype(x.dtype)
    return np.copysign(np.minimum(np.rint(a / step) * step, E4M3_MAX), x).astype(x.dtype)


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Format:
    """A weight storage format: element bits, block size and scale bits give bits per element."""

    name: str
    element_bits: int
    block_size: int | None  # elements sharing one scale (None: per-tensor)
    scale_bits: int  # bits of each block (or per-tensor) scale
    description: str

    @property
    def bits_per_element(self) -> float:
        """Storage bits per element including block-scale overhead (per-tensor scales excluded)."""
        return self.element_bits + (self.scale_bits / self.block_size if self.block_size else 0.0)

    @property
    def bytes_per_element(self) -> float:
        return self.bits_per_element / 8


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("fp16", 16, None, 0, "IEEE half / bfloat16, no scale"),
        Format("fp8", 8, None, 0, "FP8 E4M3 with one FP32 per-tensor scale"),
        Format("fp4-seed", 4, None, 0, "the seed's FP4: 0.5 byte per parameter, scales ignored"),
        Format("mxfp4", 4, 32, 8, "OCP MXFP4: E2M1, 32-element blocks, E8M0 scale"),
        Format("nvfp4", 4, 16, 8, "NVIDIA NVFP4: E2M1, 16-element blocks, E4M3 scale, FP32 tensor scale"),
        Format("int4-g32", 4, 32, 16, "symmetric INT4, 32-element groups, FP16 scale"),
        Format("int4-g128", 4, 128, 16, "symmetric INT4, 128-element groups, FP16 scale"),
    )
}


def get_format(name: str) -> Format:
    """A weight format by name (see :data:`FORMATS`)."""
    return FORMATS[require_choice("format", name, FORMATS)]


def _blocks(x: np.ndarray, block: int, pad: bool, check: bool = True) -> tuple[np.ndarray, int]:
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"x must be a float32 or float64 array, got dtype {x.dtype}")
    if check:
        _check(x)
    x = x.astype(np.float32, copy=False).ravel()
    n = x.size
    if n % block:
        if not pad:
            raise ValueError(f"length {n} is not a multiple of the block size {block}; pass pad=True to zero-pad")
        x = np.concatenate([x, np.zeros(block - n % block, dtype=np.float32)])
    return x.reshape(-1, block), n


@dataclass(frozen=True)
class Quantized:
    """A block-quantized tensor: packed E2M1 codes, one scale per block, and an FP32 tensor scale."""

    format: str
    packed: np.ndarray  # uint8, two codes per byte
    scales: np.ndarray  # float32 per-block scale as stored (E8M0 or E4M3 value)
    tensor_scale: float  # 1.0 for MXFP4
    size: int  # number of elements before padding

    @property
    def nbytes(self) -> int:
        """Storage: packed codes + 1 byte per block scale + 4 bytes of tensor scale (NVFP4)."""
        return self.packed.nbytes + self.scales.size + (4 if self.format == "nvfp4" else 0)


def quantize(x: np.ndarray, fmt: str = "nvfp4", *, pad: bool = False) -> Quantized:
    """Quantize a float array to ``mxfp4`` or ``nvfp4`` (packed codes + scales). The length must be
    a multiple of the block size unless ``pad`` (zero padding) is requested."""
    require_choice("block FP4 format", fmt, ("mxfp4", "nvfp4"))
    f = FORMATS[fmt]
    xb, n = _blocks(x, f.block_size, pad, check=False)
    amax = _block_amax(xb)
    if not np.isfinite(amax).all():  # NaN and Inf propagate into the block maximum
        raise ValueError("x holds non-finite values (NaN or Inf); FP4 formats have no encoding for them")
    if fmt == "mxfp4":
        with np.errstate(divide="ignore"):
            e = np.floor(np.log2(np.where(amax > 0, amax, 2.0**-127))) - E2M1_EMAX
        scales = np.exp2(np.clip(e, -127, 127)).astype(np.float32)
        tensor_scale = 1.0
        eff = scales
    else:
        t_amax = float(amax.max()) if amax.size else 0.0
        tensor_scale = t_amax / (E4M3_MAX * E2M1_MAX) if t_amax > 0 else 1.0
        # In float64: for a tensor of float32 subnormals, tensor_scale underflows float32.
        scales = e4m3_round(amax.astype(np.float64) / E2M1_MAX / tensor_scale).astype(np.float32)
        eff = (scales.astype(np.float64) * tensor_scale).astype(np.float32)
    # Divide rather than multiply by 1/scale: a subnormal scale would overflow its inverse to inf
    # (and 0 * inf is NaN). An all-zero block has scale 0; dividing it by 1 keeps its zeros.
    safe = np.where(eff > 0, eff, np.float32(1.0)).astype(np.float32)
    codes = _encode_f32(np.divide(xb, safe[:, None], dtype=np.float32))
    return Quantized(fmt, codes[:, 0::2] | (codes[:, 1::2] << 4), scales, float(tensor_scale), n)


def _block_amax(xb: np.ndarray) -> np.ndarray:
    """Per-row max |x| of an (nblocks, block) array (``reduceat`` beats ``max(axis=1)`` on short rows)."""
    a = np.abs(xb).ravel()
    return np.maximum.reduceat(a, np.arange(0, a.size, xb.shape[1])) if a.size else np.zeros(0, np.float32)


def dequantize(q: Quantized) -> np.ndarray:
    """Float32 values of a :class:`Quantized` tensor (padding removed)."""
    f = get_format(q.format)
    vals = _PAIR_TABLE[q.packed.ravel()].view(np.float32).reshape(-1, f.block_size)
    vals *= (q.scales.astype(np.float64) * q.tensor_scale).astype(np.float32)[:, None]
    return vals.ravel()[: q.size]


def fake_quantize(x: np.ndarray, fmt: str, *, pad: bool = True) -> np.ndarray:
    """Round-trip ``x`` through ``fmt`` and return the values a kernel would see (same length).

    ``fmt``: ``mxfp4``, ``nvfp4``, ``fp8`` (E4M3, per-tensor scale amax / 448), ``int4-g32`` or
    ``int4-g128`` (symmetric, scale amax / 7 per group), ``fp16``."""
    require_choice("format", fmt, ("mxfp4", "nvfp4", "fp8", "int4-g32", "int4-g128", "fp16"))
    x = _check(x)
    if fmt in ("mxfp4", "nvfp4"):
        return dequantize(quantize(x, fmt, pad=pad))
    if fmt == "fp16":
        return x.astype(np.float16).astype(np.float32)
    if fmt == "fp8":
        amax = float(np.abs(x).max()) if x.size else 0.0
        s = amax / E4M3_MAX if amax > 0 else 1.0
        return (e4m3_round((x / s).astype(np.float32)) * np.float32(s)).astype(np.float32)
    group = FORMATS[fmt].block_size
    xb, n = _blocks(x, group, pad)
    s = (np.abs(xb).max(axis=1) / 7).astype(np.float16).astype(np.float32)
    inv = np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)
    return (np.clip(np.rint(xb * inv[:, None]), -8, 7) * s[:, None]).ravel()[:n]


# --------------------------------------------------------------------------------------------
# Error metrics and synthetic weights
# --------------------------------------------------------------------------------------------

def error_metrics(x: np.ndarray, q: np.ndarray) -> dict[str, float]:
    """``mse``; ``sqnr_db`` = 10 log10(sum x^2 / sum (x-q)^2); ``max_rel_error`` = max |x-q| / |x|
    over non-zero x (values flushed to zero count as 1); ``max_err_over_amax`` = max |x-q| / max |x|."""
    x = _check(x).astype(np.float64)
    q = _check(q, "q").astype(np.float64)
    if x.shape != q.shape:
        raise ValueError(f"x and q differ in shape: {x.shape} vs {q.shape}")
    err = x - q
    nz = x != 0
    noise = float(np.sum(err**2))
    return {
        "mse": float(np.mean(err**2)),
        "sqnr_db": float(10 * np.log10(np.sum(x**2) / noise)) if noise > 0 else float("inf"),
        "max_rel_error": float(np.max(np.abs(err[nz]) / np.abs(x[nz]))) if nz.any() else 0.0,
        "max_err_over_amax": float(np.max(np.abs(err)) / np.max(np.abs(x))) if nz.any() else 0.0,
    }


WEIGHT_KINDS: tuple[str, ...] = ("gaussian", "laplace", "outliers")


def weight_like(kind: str, n: int, rng_seed: int = 0, *, std: float = 0.02) -> np.ndarray:
    """Synthetic weight-like float32 data: ``gaussian``; ``laplace`` (same std); ``outliers``
    (Gaussian with 0.1 % of entries multiplied by 20, as in LLM channels with outliers)."""
    require_choice("weight kind", kind, WEIGHT_KINDS)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(rng_seed)
    if kind == "gaussian":
        x = rng.normal(0, std, n)
    elif kind == "laplace":
        x = rng.laplace(0, std / np.sqrt(2), n)
    else:
        x = rng.normal(0, std, n)
        idx = rng.choice(n, size=max(1, n // 1000), replace=False)
        x[idx] *= 20
    return x.astype(np.float32)


def quantization_report(n: int = 2**16, rng_seed: int = 0,
                        formats: tuple[str, ...] = ("fp8", "nvfp4", "mxfp4", "int4-g32", "int4-g128")
                        ) -> "pd.DataFrame":  # noqa: F821
    """Error of each format on each synthetic weight kind: one row per (kind, format)."""
    import pandas as pd

    rows = []
    for kind in WEIGHT_KINDS:
        x = weight_like(kind, n, rng_seed)
        for fmt in formats:
            rows.append({"weights": kind, "format": fmt, "bits_per_element": get_format(fmt).bits_per_element,
                         **error_metrics(x, fake_quantize(x, fmt))})
    return pd.DataFrame(rows)
