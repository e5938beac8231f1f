"""The seed document's own inputs, in one place, each with the line that states it.

Hardware facts live in the registry (:mod:`nvlmodel.hardware`), model facts in
:mod:`nvlmodel.models`; what is here is what the *document* chose: the KV block it copies, the
session length it counts, the rack's TP degree, the workspace it holds back, the bytes it gives each
quantization, and what each quantization name stands for under either preset. A test rejects large
numeric literals elsewhere in the package.
"""

from __future__ import annotations

from types import MappingProxyType

#: The KV block the document copies across the rack, bytes (lines 304, 309: "5.24 MB").
KV_BLOCK_BYTES = 5.24e6
#: Tokens of one "128K" session (line 224: ``int(total_tokens / 128_000)``).
SESSION_TOKENS = 128_000
#: Tokens of the end-to-end comparison's prompt ("4K input", lines 420, 422).
PREFILL_TOKENS = 4096
#: Tensor-parallel degree of one replica on the rack (line 236: ``'tp_degree': 8``).
RACK_TP = 8
#: HBM held back per GPU for activations and workspace, bytes (line 211: ``- 3e9``).
WORKSPACE_BYTES = 3e9
#: Bytes per parameter of each quantization name (lines 53-60).
QUANT_BYTES = MappingProxyType({"FP16": 2.0, "FP8": 1.0, "FP4": 0.5, "INT4": 0.5})
#: The weight format (:mod:`nvlmodel.fp4`) each quantization name stands for, under each preset:
#: the document's 0.5-byte FP4, or NVFP4 with its scales.
FORMAT_FOR = MappingProxyType({
    "seed": MappingProxyType({"FP16": "fp16", "FP8": "fp8", "FP4": "fp4-seed", "INT4": "fp4-seed"}),
    "datasheet": MappingProxyType({"FP16": "fp16", "FP8": "fp8", "FP4": "nvfp4", "INT4": "int4-g128"}),
})
#: The capacity code's inputs (lines 227-236), as the document writes them.
LLAMA_405B_CONFIG = MappingProxyType({"total_params": 405e9, "weight_dtype_bytes": 0.5, "num_layers": 126,
                                      "num_kv_heads": 8, "head_dim": 128, "kv_dtype_bytes": 1})
B200_CONFIG = MappingProxyType({"hbm_gb": 192})
NVL72_CONFIG = MappingProxyType({"num_gpus": 72, "tp_degree": RACK_TP})

__all__ = ["B200_CONFIG", "FORMAT_FOR", "KV_BLOCK_BYTES", "LLAMA_405B_CONFIG", "NVL72_CONFIG", "QUANT_BYTES",
           "PREFILL_TOKENS", "RACK_TP", "SESSION_TOKENS", "WORKSPACE_BYTES"]
