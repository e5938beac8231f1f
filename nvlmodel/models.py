"""LLM architectures: parameter counts derived from the architecture, KV bytes per token, FLOPs.

Where the ``nominal_params`` premise holds (the ``seed`` preset) a model has the document's round parameter count (``70e9`` for "Llama
70B", line 84; ``405e9``, line 228); under ``datasheet`` the count is derived from the published
configuration (shared/REFERENCE.md): embeddings + per-layer attention and SwiGLU MLP + norms + an
untied LM head.
"""

from __future__ import annotations

from dataclasses import dataclass

from .premises import Premises, as_premises
from .units import require_choice, require_positive, require_positive_int


@dataclass(frozen=True)
class ModelArch:
    """A dense decoder-only transformer with grouped-query attention and a SwiGLU MLP."""

    key: str
    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    max_context: int
    nominal_params: float  # the round count in the model's name, as the seed uses it

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def layer_params(self) -> int:
        """Attention (q, k, v, o), MLP (gate, up, down) and two RMSNorm weights of one layer."""
        q = self.hidden * self.heads * self.head_dim
        kv = 2 * self.hidden * self.kv_heads * self.head_dim
        o = self.heads * self.head_dim * self.hidden
        mlp = 3 * self.hidden * self.ffn
        return q + kv + o + mlp + 2 * self.hidden

    @property
    def derived_params(self) -> int:
        """Embeddings + layers + final norm + untied LM head."""
        return self.embedding_params + self.layers * self.layer_params + self.hidden + self.vocab * self.hidden

    def params(self, premises: "str | Premises" = "datasheet") -> float:
        """Parameter count: the nominal round number where the ``nominal_params`` premise holds (the
        seed), else derived from the configuration."""
        return self.nominal_params if as_premises(premises).nominal_params else float(self.derived_params)

    def matmul_params(self, premises: "str | Premises" = "datasheet") -> float:
        """Parameters that take part in a matrix multiply per token (all but the embedding table,
        which is a lookup). With nominal counts (the seed) every parameter counts (``2 *
        model_params`` FLOPs, line 65)."""
        p = as_premises(premises)
        return self.params(p) if p.nominal_params else float(self.derived_params - self.embedding_params)

    def kv_bytes_per_token(self, kv_bytes_per_element: float) -> float:
        """2 (K and V) x layers x kv_heads x head_dim x bytes per element (seed line 198)."""
        require_positive("kv_bytes_per_element", kv_bytes_per_element)
        return 2 * self.layers * self.kv_heads * self.head_dim * kv_bytes_per_element

    def kv_heads_per_gpu(self, tp: int) -> float:
        """KV heads each GPU of a TP group holds: ``kv_heads / tp``, but never less than one whole head.
        Beyond ``tp = kv_heads`` the KV heads are replicated (8 KV heads at TP 16: every head on two
        GPUs), so per-GPU KV stops shrinking while the weights keep shrinking."""
        require_positive_int("tp", tp)
        return max(self.kv_heads / tp, 1.0)

    def kv_bytes_per_token_per_gpu(self, kv_bytes_per_element: float, tp: int = 1) -> float:
        """KV bytes of one token held (and read in decode) by each GPU of a TP group of ``tp``:
        2 x layers x max(kv_heads / tp, 1) x head_dim x bytes per element."""
        require_positive("kv_bytes_per_element", kv_bytes_per_element)
        return 2 * self.layers * self.kv_heads_per_gpu(tp) * self.head_dim * kv_bytes_per_element

    def attention_flops_per_token(self, context: float) -> float:
        """FLOPs of Q.K^T and A.V for one new token attending to ``context`` earlier tokens."""
        require_positive("context", context, allow_zero=True)
        return 4.0 * self.layers * self.heads * self.head_dim * context

    def gemm_flops_per_token(self, premises: "str | Premises" = "datasheet") -> float:
        """FLOPs of the weight matrix multiplies for one token: ``2 x matmul params``. These run at
        the weight format's tensor peak; attention's Q.K^T and A.V run at the KV dtype's
        (:meth:`attention_flops_per_token`)."""
        return 2.0 * self.matmul_params(premises)

    def flops_per_token(self, context: float = 0.0, premises: "str | Premises" = "datasheet") -> float:
        """Forward FLOPs for one token: ``2 * params`` where the ``weights_only_flops`` premise holds
        (the seed, line 65); otherwise ``2 * matmul params`` plus attention over ``context`` tokens."""
        p = as_premises(premises)
        if p.weights_only_flops:
            return 2.0 * self.params(p)
        return 2.0 * self.matmul_params(p) + self.attention_flops_per_token(context)

    def prefill_flops(self, prompt: int, premises: "str | Premises" = "datasheet") -> float:
        """FLOPs to prefill one prompt of ``prompt`` tokens (causal attention: token i sees i)."""
        require_positive("prompt", prompt)
        p = as_premises(premises)
        if p.weights_only_flops:
            return prompt * self.flops_per_token(premises=p)
        return prompt * 2.0 * self.matmul_params(p) + self.attention_flops_per_token(prompt * (prompt - 1) / 2)


_MODELS = {
    m.key: m
    for m in (
        ModelArch("llama-3.1-8b", "Llama 3.1 8B", 32, 4096, 32, 8, 128, 14336, 128256, 131072, 8e9),
        ModelArch("llama-3.1-70b", "Llama 3.1 70B", 80, 8192, 64, 8, 128, 28672, 128256, 131072, 70e9),
        ModelArch("llama-3.1-405b", "Llama 3.1 405B", 126, 16384, 128, 8, 128, 53248, 128256, 131072, 405e9),
        ModelArch("llama-2-70b", "Llama 2 70B", 80, 8192, 64, 8, 128, 28672, 32000, 4096, 70e9),
    )
}
MODEL_NAMES: tuple[str, ...] = tuple(_MODELS)
#: The document's "Llama 70B" (line 81) and "Llama 405B" (line 226).
MODEL_ALIASES = {"llama-70b": "llama-3.1-70b", "llama-405b": "llama-3.1-405b", "llama-8b": "llama-3.1-8b"}


def get_model(name: str) -> ModelArch:
    """A model by registry name (:data:`MODEL_NAMES`) or alias (``llama-70b``, ``llama-405b``)."""
    key = MODEL_ALIASES.get(name, name)
    require_choice("model", key if key in _MODELS else name, MODEL_NAMES + tuple(MODEL_ALIASES))
    return _MODELS[key]
