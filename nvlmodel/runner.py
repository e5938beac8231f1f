"""The seed's ``BlackwellModelRunner`` (lines 470-523): per-layer precision and memory savings.

The seed prices FP4 weights at 0.5 byte per parameter; here the FP4 bytes come from the chosen
format: ``fp4-seed`` (0.5, the document), ``mxfp4`` (4.25 bits) or ``nvfp4`` (4.5 bits, what
Blackwell's FP4 tensor cores consume).
"""

from __future__ import annotations

from collections.abc import Mapping

from .fp4 import get_format
from .models import ModelArch, get_model
from .roofline import FP4_MODES
from .units import GB, require_choice, require_index, require_positive

WEIGHT_DTYPES = ("fp4", "fp8", "fp16")
KV_DTYPES = ("fp8", "fp16")
OUTPUT_DTYPES = ("fp16", "fp8")
FP4_FORMATS = ("fp4-seed", "mxfp4", "nvfp4")
_BYTES = {"fp8": 1.0, "fp16": 2.0}


class BlackwellModelRunner:
    """Precision configuration of a model on Blackwell: FP4 (or FP8/FP16) weights, FP32
    accumulation, FP16 or FP8 output; KV cache in FP8 or FP16.

    ``precision_config`` keys: ``weight_dtype`` (fp4, fp8, fp16; default fp4), ``kv_dtype``
    (fp8, fp16; default fp8), ``output_dtype`` (fp16, fp8; default fp16). ``fp4_format`` picks what
    an FP4 weight costs: ``nvfp4`` (default), ``mxfp4`` or the seed's ``fp4-seed``. ``fp4_mode``
    picks the activations of FP4 linear layers: ``w4a4`` (default; NVFP4 activations, what
    TensorRT-LLM and vLLM run for NVFP4 checkpoints, at the FP4 tensor peak the roofline uses) or
    ``w4a8`` (FP8 activations, as the seed's sketch writes, lines 483-505, which runs at the FP8
    peak: half the rate the seed's throughput figures assume). FP8 and FP16 linear layers take
    activations of their own dtype.
    """

    def __init__(self, model: str | ModelArch, precision_config: Mapping[str, str] | None = None,
                 *, fp4_format: str = "nvfp4", fp4_mode: str = "w4a4"):
        self.model = model if isinstance(model, ModelArch) else get_model(model)
        cfg = dict(precision_config or {})
        unknown = set(cfg) - {"weight_dtype", "kv_dtype", "output_dtype"}
        if unknown:
            raise ValueError(f"unknown precision_config keys {sorted(unknown)}; valid: weight_dtype, kv_dtype, "
                             "output_dtype")
        self.weight_dtype = require_choice("weight_dtype", cfg.get("weight_dtype", "fp4"), WEIGHT_DTYPES)
        self.kv_dtype = require_choice("kv_dtype", cfg.get("kv_dtype", "fp8"), KV_DTYPES)
        self.output_dtype = require_choice("output_dtype", cfg.get("output_dtype", "fp16"), OUTPUT_DTYPES)
        self.fp4_format = require_choice("fp4_format", fp4_format, FP4_FORMATS)
        self.fp4_mode = require_choice("fp4_mode", fp4_mode, FP4_MODES)

    def __repr__(self) -> str:
        return (f"BlackwellModelRunner({self.model.key!r}, weight={self.weight_dtype}, kv={self.kv_dtype}, "
                f"output={self.output_dtype}, fp4_format={self.fp4_format!r}, fp4_mode={self.fp4_mode!r})")

    @property
    def activation_dtype(self) -> str:
        """Activations of the linear layers: FP4 weights take FP4 (W4A4) or FP8 (W4A8) activations by
        ``fp4_mode``; FP8 and FP16 weights take their own dtype."""
        if self.weight_dtype == "fp4":
            return FP4_MODES[self.fp4_mode]
        return self.weight_dtype

    def configure_layer(self, layer_idx: int) -> dict[str, dict[str, str]]:
        """Tensor-core dtypes of one layer (seed lines 483-505): attention reads Q in FP8 and K, V in
        the KV dtype; linear layers take weights in the weight dtype and activations in
        :attr:`activation_dtype`; FP32 accumulation; output in the output dtype."""
        require_index("layer_idx", layer_idx, self.model.layers)
        return {
            "attention": {"q_dtype": "fp8", "k_dtype": self.kv_dtype, "v_dtype": self.kv_dtype,
                          "accumulator": "fp32", "output": self.output_dtype},
            "linear": {"weight_dtype": self.weight_dtype, "activation_dtype": self.activation_dtype,
                       "accumulator": "fp32", "output": self.output_dtype},
        }

    def bytes_per_param(self, dtype: str | None = None) -> float:
        """Storage bytes per weight of ``dtype`` (default: the configured weight dtype); FP4 from
        :attr:`fp4_format`, block-scale overhead included."""
        d = require_choice("dtype", dtype or self.weight_dtype, WEIGHT_DTYPES)
        return get_format(self.fp4_format).bytes_per_element if d == "fp4" else _BYTES[d]

    def kv_bytes_per_token(self) -> float:
        return self.model.kv_bytes_per_token(_BYTES[self.kv_dtype])

    def estimate_memory_savings(self, model_params: float | None = None) -> dict[str, float]:
        """Weight memory (GB) in FP4/FP8/FP16 and the savings of FP4 (seed lines 506-523).
        ``model_params`` defaults to the model's parameter count (derived from its architecture;
        the seed uses round numbers such as 405e9)."""
        p = float(self.model.derived_params) if model_params is None else require_positive("model_params",
                                                                                             model_params)
        fp4, fp8, fp16 = (p * self.bytes_per_param(d) for d in ("fp4", "fp8", "fp16"))
        return {
            "fp4_gb": fp4 / GB, "fp8_gb": fp8 / GB, "fp16_gb": fp16 / GB,
            "savings_fp4_vs_fp8_gb": (fp8 - fp4) / GB, "savings_fp4_vs_fp16_gb": (fp16 - fp4) / GB,
        }
