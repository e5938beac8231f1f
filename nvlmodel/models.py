"""LLM architectures: parameter counts derived from the architecture, KV bytes per token, FLOPs.

Where the ``nominal_params`` premise holds (the ``seed`` preset) a model has the document's round parameter count (``70e9`` for "Llama
70B", line 84; ``405e9``, line 228); under ``datasheet`` the count is derived from the published
configuration (shared/REFERENCE.md): embeddings + per-layer attention and SwiGLU MLP + norms + an
untied LM head.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .premises import Premises, as_premises
from .units import require_choice, require_positive, require_positive_int


@dataclass(frozen=True)
class MLA:
    """Multi-head latent attention (DeepSeek-V2/V3): queries and keys/values pass through low-rank
    projections, and the cache holds one compressed latent (``kv_lora_rank``) plus one shared RoPE
    key (``qk_rope_head_dim``) per token per layer, whatever the number of heads."""

    q_lora_rank: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int

    @property
    def latent(self) -> int:
        """Elements cached per token per layer: the latent plus the shared RoPE key (576 for V3)."""
        return self.kv_lora_rank + self.qk_rope_head_dim


@dataclass(frozen=True)
class ModelArch:
    """A decoder-only transformer: grouped-query (or latent, ``mla``) attention, optionally with
    sliding-window layers, and SwiGLU MLPs that are dense or mixtures of experts.

    A mixture-of-experts model has ``experts`` routed experts of ``expert_ffn`` each, of which every
    token uses ``experts_active``, plus ``shared_experts`` every token uses; its first
    ``dense_layers`` layers keep a dense MLP of ``ffn``. Small terms are left out of the parameter
    count: biases, attention sinks, QK-norm weights and MoE router biases (each < 0.1 % here).

    ``redundant_experts``: replicas of routed experts that an expert-parallel deployment holds
    beside the ``experts`` (EPLB: SGLang's ``--ep-num-redundant-experts``, TensorRT-LLM's
    ``num_slots`` beyond the experts): the ``expert_slots`` spread over the ``ep`` ranks, so that
    ``ep`` need only divide the slots (256 + 32 = 288 over 24, 48 or 72 GPUs). A replica holds
    weights and takes a share of its expert's tokens; a token still uses ``experts_active``
    experts. Build one with :meth:`with_redundant_experts`."""

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
    experts: int = 0
    experts_active: int = 0
    shared_experts: int = 0
    expert_ffn: int = 0
    dense_layers: int | None = None  # layers with a dense MLP (None: all when experts == 0, else none)
    mla: MLA | None = None
    sliding_window: int = 0  # tokens a sliding-window layer attends to (0: none)
    sliding_layers: int = 0  # how many layers use the sliding window
    redundant_experts: int = 0  # replicas of routed experts held beside them (expert-parallel load balancing)

    # ---- structure ------------------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def expert_slots(self) -> int:
        """Routed experts held per MoE layer: the experts and their redundant replicas."""
        return self.experts + self.redundant_experts

    def with_redundant_experts(self, redundant: int) -> "ModelArch":
        """This model deployed with ``redundant`` replicas of its routed experts per MoE layer (an
        int >= 0; 0: the model itself). The key stays (the kernels are the same shapes); the name
        says it.

        >>> m = get_model("deepseek-v3").with_redundant_experts(32)
        >>> m.expert_slots, m.name, m.with_redundant_experts(0) == get_model("deepseek-v3")
        (288, 'DeepSeek-V3/R1 (+32 redundant experts)', True)
        """
        if isinstance(redundant, bool) or not isinstance(redundant, (int, np.integer)) or redundant < 0:
            raise ValueError(f"redundant_experts must be an int >= 0 (0: none), got {redundant!r}")
        if redundant and not self.is_moe:
            raise ValueError(f"{self.name} is dense: it has no experts to replicate")
        base = self.name.split(" (+")[0]
        return replace(self, redundant_experts=int(redundant),
                       name=f"{base} (+{int(redundant)} redundant experts)" if redundant else base)

    @property
    def n_dense_layers(self) -> int:
        if self.dense_layers is not None:
            return self.dense_layers
        return 0 if self.is_moe else self.layers

    @property
    def moe_layers(self) -> int:
        return self.layers - self.n_dense_layers

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def attention_params(self) -> int:
        """Weights of one layer's attention: q, k, v, o (GQA) or the MLA projections and their norms."""
        h = self.hidden
        if self.mla is not None:
            a = self.mla
            q = h * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * self.heads * (a.qk_nope_head_dim + a.qk_rope_head_dim)
            kv = h * a.latent + a.kv_lora_rank + a.kv_lora_rank * self.heads * (a.qk_nope_head_dim + a.v_head_dim)
            return q + kv + self.heads * a.v_head_dim * h
        return h * self.heads * self.head_dim + 2 * h * self.kv_heads * self.head_dim + self.heads * self.head_dim * h

    @property
    def expert_params(self) -> int:
        """One expert's SwiGLU MLP (gate, up, down)."""
        return 3 * self.hidden * self.expert_ffn

    @property
    def layer_params(self) -> int:
        """A dense layer: attention, MLP (gate, up, down) and two RMSNorm weights."""
        return self.attention_params + 3 * self.hidden * self.ffn + 2 * self.hidden

    @property
    def moe_layer_params(self) -> int:
        """A MoE layer: attention, every routed expert (and redundant replica) and shared expert,
        the router and two norms."""
        return (self.attention_params + (self.expert_slots + self.shared_experts) * self.expert_params
                + self.hidden * self.experts + 2 * self.hidden)

    @property
    def routed_expert_params(self) -> int:
        """All routed experts (and redundant replicas) of all MoE layers: what expert parallelism
        spreads over GPUs."""
        return self.moe_layers * self.expert_slots * self.expert_params

    @property
    def derived_params(self) -> int:
        """Embeddings + layers + final norm + untied LM head."""
        layers = self.n_dense_layers * self.layer_params + self.moe_layers * self.moe_layer_params
        return self.embedding_params + layers + self.hidden + self.vocab * self.hidden

    @property
    def active_params(self) -> int:
        """Parameters one token uses: all but the routed experts it is not sent to."""
        unused = self.moe_layers * (self.expert_slots - self.experts_active) * self.expert_params
        return self.derived_params - unused

    def params(self, premises: "str | Premises" = "datasheet") -> float:
        """Parameter count: the nominal round number where the ``nominal_params`` premise holds (the
        seed), else derived from the configuration."""
        return self.nominal_params if as_premises(premises).nominal_params else float(self.derived_params)

    def matmul_params(self, premises: "str | Premises" = "datasheet") -> float:
        """Parameters one token multiplies (the active ones, less the embedding table, which is a
        lookup). With nominal counts (the seed) every parameter counts (``2 *
        model_params`` FLOPs, line 65)."""
        p = as_premises(premises)
        return self.params(p) if p.nominal_params else float(self.active_params - self.embedding_params)

    # ---- KV cache -------------------------------------------------------------------------
    @property
    def full_attention_layers(self) -> int:
        return self.layers - self.sliding_layers

    def _kv_elements_per_layer(self, tp: int = 1) -> float:
        """KV elements one GPU of a TP group holds per token per layer: the MLA latent (replicated
        on every GPU of the group), or K and V of max(kv_heads / tp, 1) heads."""
        if self.mla is not None:
            return float(self.mla.latent)
        return 2 * self.kv_heads_per_gpu(tp) * self.head_dim

    def kv_bytes_per_token(self, kv_bytes_per_element: float) -> float:
        """2 (K and V) x layers x kv_heads x head_dim x bytes per element (seed line 198); MLA: layers
        x latent x bytes. Sliding-window layers hold at most ``sliding_window`` tokens of a sequence,
        so they are not counted per token (see :meth:`kv_bytes_per_sequence_per_gpu`)."""
        require_positive("kv_bytes_per_element", kv_bytes_per_element)
        return self.full_attention_layers * self._kv_elements_per_layer(1) * kv_bytes_per_element

    def kv_heads_per_gpu(self, tp: int) -> float:
        """KV heads each GPU of a TP group holds: ``kv_heads / tp``, but never less than one whole head.
        Beyond ``tp = kv_heads`` the KV heads are replicated (8 KV heads at TP 16: every head on two
        GPUs), so per-GPU KV stops shrinking while the weights keep shrinking."""
        require_positive_int("tp", tp)
        return max(self.kv_heads / tp, 1.0)

    def kv_bytes_per_token_per_gpu(self, kv_bytes_per_element: float, tp: int = 1) -> float:
        """KV bytes of one token held (and read in decode) by each GPU of a TP group of ``tp``:
        2 x layers x max(kv_heads / tp, 1) x head_dim x bytes per element (MLA: the whole latent on
        every GPU; sliding-window layers not counted per token)."""
        require_positive("kv_bytes_per_element", kv_bytes_per_element)
        return self.full_attention_layers * self._kv_elements_per_layer(tp) * kv_bytes_per_element

    def kv_bytes_per_sequence_per_gpu(self, context, kv_bytes_per_element: float, tp: int = 1):
        """KV bytes one GPU holds for a sequence of ``context`` tokens (scalar or array): full
        layers hold every token, sliding-window layers at most ``sliding_window``."""
        per_token = self.kv_bytes_per_token_per_gpu(kv_bytes_per_element, tp)
        window = 0.0
        if self.sliding_layers:
            window = (self.sliding_layers * self._kv_elements_per_layer(tp) * kv_bytes_per_element
                      * np.minimum(context, self.sliding_window))
        return per_token * context + window

    # ---- FLOPs ----------------------------------------------------------------------------
    def _attended(self, context):
        """Layer-tokens attended to by one new token at ``context``: full layers see all of it,
        sliding-window layers at most the window."""
        if self.sliding_layers:
            return self.full_attention_layers * context + self.sliding_layers * np.minimum(context, self.sliding_window)
        return self.layers * context

    def attention_dims(self, phase: str = "decode") -> tuple[int, int]:
        """(score dim, value dim) of one head's Q.K^T and A.V. GQA: head_dim twice. MLA in decode
        runs "absorbed" over the cached latent (576, 512); in prefill it expands keys and values
        per head (nope + rope = 192, v = 128), as the engines do."""
        require_choice("phase", phase, ("decode", "prefill"))
        if self.mla is None:
            return self.head_dim, self.head_dim
        a = self.mla
        if phase == "decode":
            return a.latent, a.kv_lora_rank
        return a.qk_nope_head_dim + a.qk_rope_head_dim, a.v_head_dim

    def attention_flops_per_token(self, context, phase: str = "decode"):
        """FLOPs of Q.K^T and A.V for one new token attending to ``context`` earlier tokens:
        2 x heads x (score dim + value dim) per layer-token attended (GQA: 4 x heads x head_dim)."""
        if np.any(np.asarray(context) < 0):
            raise ValueError(f"context must be >= 0, got {context!r}")
        qk, v = self.attention_dims(phase)
        return 2.0 * self.heads * (qk + v) * self._attended(context)

    def gemm_flops_per_token(self, premises: "str | Premises" = "datasheet") -> float:
        """FLOPs of the weight matrix multiplies for one token: ``2 x matmul params`` (MoE: the
        active experts only). These run at the weight format's tensor peak; attention's Q.K^T and
        A.V run at the KV dtype's (:meth:`attention_flops_per_token`)."""
        return 2.0 * self.matmul_params(premises)

    def flops_per_token(self, context: float = 0.0, premises: "str | Premises" = "datasheet") -> float:
        """Forward FLOPs for one token: ``2 * params`` where the ``weights_only_flops`` premise holds
        (the seed, line 65); otherwise ``2 * matmul params`` plus attention over ``context`` tokens."""
        p = as_premises(premises)
        if p.weights_only_flops:
            return 2.0 * self.params(p)
        require_positive("context", context, allow_zero=True)
        return 2.0 * self.matmul_params(p) + self.attention_flops_per_token(context)

    def prefill_attention_flops(self, prompt: int) -> float:
        """Causal attention FLOPs of one prompt (token i attends to the i tokens before it)."""
        if self.sliding_layers:
            return float(np.sum(self.attention_flops_per_token(np.arange(prompt, dtype=float), "prefill")))
        return self.attention_flops_per_token(prompt * (prompt - 1) / 2, "prefill")

    def prefill_flops(self, prompt: int, premises: "str | Premises" = "datasheet") -> float:
        """FLOPs to prefill one prompt of ``prompt`` tokens (causal attention: token i sees i)."""
        require_positive("prompt", prompt)
        p = as_premises(premises)
        if p.weights_only_flops:
            return prompt * self.flops_per_token(premises=p)
        return prompt * 2.0 * self.matmul_params(p) + self.prefill_attention_flops(prompt)

    # ---- mixture of experts ---------------------------------------------------------------
    def expected_experts_touched(self, tokens, ep: int = 1):
        """Expected distinct routed experts per MoE layer that ``tokens`` tokens (scalar or array)
        route to, on one of ``ep`` expert-parallel ranks, under uniform routing:
        (S / ep) x (1 - (1 - k / S) ** tokens), S the expert slots (:attr:`expert_slots`: a
        balancer spreads an expert's tokens over its replicas, so the ``k x tokens / ep``
        assignments of a rank fall evenly on its ``S / ep`` slots). Every expert weight a step
        touches is read once."""
        if not self.is_moe:
            raise ValueError(f"{self.name} is dense: it has no experts")
        require_positive_int("ep", ep)
        if self.expert_slots % ep:
            raise ValueError(f"ep={ep} does not divide the {self.expert_slots} experts of {self.name}")
        t = np.asarray(tokens, dtype=float)
        if (t < 0).any():
            raise ValueError("tokens must be >= 0")
        s = self.expert_slots
        e = s / ep * (1.0 - (1.0 - self.experts_active / s) ** t)
        return float(e) if np.ndim(e) == 0 else e

    def summary(self) -> dict:
        """Total and active parameters, KV bytes per token (one byte per element) and FLOPs per
        token (weights only) of the datasheet configuration."""
        return {"model": self.name, "kind": "MoE" if self.is_moe else "dense",
                "attention": "MLA" if self.mla else ("GQA + sliding window" if self.sliding_layers else "GQA"),
                "total_params": float(self.derived_params), "active_params": float(self.active_params),
                "kv_bytes_per_token_fp8": self.kv_bytes_per_token(1.0),
                "gemm_flops_per_token": self.gemm_flops_per_token()}


_MODELS = {
    m.key: m
    for m in (
        ModelArch("llama-3.1-8b", "Llama 3.1 8B", 32, 4096, 32, 8, 128, 14336, 128256, 131072, 8e9),
        ModelArch("llama-3.1-70b", "Llama 3.1 70B", 80, 8192, 64, 8, 128, 28672, 128256, 131072, 70e9),
        ModelArch("llama-3.1-405b", "Llama 3.1 405B", 126, 16384, 128, 8, 128, 53248, 128256, 131072, 405e9),
        ModelArch("llama-2-70b", "Llama 2 70B", 80, 8192, 64, 8, 128, 28672, 32000, 4096, 70e9),
        ModelArch("qwen3-32b", "Qwen3-32B", 64, 5120, 64, 8, 128, 25600, 151936, 131072, 32e9),
        ModelArch("deepseek-v3", "DeepSeek-V3/R1", 61, 7168, 128, 128, 128, 18432, 129280, 163840, 671e9,
                  experts=256, experts_active=8, shared_experts=1, expert_ffn=2048, dense_layers=3,
                  mla=MLA(q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64,
                          v_head_dim=128)),
        ModelArch("qwen3-235b-a22b", "Qwen3-235B-A22B", 94, 4096, 64, 4, 128, 12288, 151936, 131072, 235e9,
                  experts=128, experts_active=8, expert_ffn=1536),
        ModelArch("gpt-oss-120b", "gpt-oss-120b", 36, 2880, 64, 8, 64, 2880, 201088, 131072, 117e9,
                  experts=128, experts_active=4, expert_ffn=2880, sliding_window=128, sliding_layers=18),
    )
}
MODEL_NAMES: tuple[str, ...] = tuple(_MODELS)
#: The document's "Llama 70B" (line 81) and "Llama 405B" (line 226).
MODEL_ALIASES = {"llama-70b": "llama-3.1-70b", "llama-405b": "llama-3.1-405b", "llama-8b": "llama-3.1-8b",
                 "deepseek-r1": "deepseek-v3"}


def get_model(name: str) -> ModelArch:
    """A model by registry name (:data:`MODEL_NAMES`) or alias (``llama-70b``, ``llama-405b``)."""
    key = MODEL_ALIASES.get(name, name)
    require_choice("model", key if key in _MODELS else name, MODEL_NAMES + tuple(MODEL_ALIASES))
    return _MODELS[key]
