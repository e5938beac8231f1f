"""Spec registry: GPUs, the GB200 superchip and GPU systems, under two presets.

Presets
-------
``seed``
    The seed document's numbers and premises as written (spec table, lines 6-18; NVL72 box,
    lines 24-40). The document uses the printed tensor figures -- which are NVIDIA's 2:4-sparse
    peaks -- as the peak for dense inference, and it uses the printed NVLink figure (the total of
    both directions) as the rate of a one-way copy. The seed preset therefore stores the printed
    figure in *both* the dense and the sparse field, and in *both* the per-direction and the
    total NVLink field. That is the document's premise, recorded so that its numbers reproduce.
``datasheet``
    Public facts (``shared/REFERENCE.md``): dense and sparse peaks separately, the HBM bytes
    software sees (nvidia-smi's total, not the marketed "GB" nor MLPerf's GiB-scale labels),
    NVLink per direction = half the total, NVL72's 18 switch ASICs without memory.

Every value is in SI base units (bytes, bytes/s, FLOP/s, W, counts); every field carries its
display unit in the dataclass field metadata and its source in ``spec.sources[field]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from .premises import DATASHEET, SEED, Premises
from .units import GB, MB, MiB, TB, TFLOPS, convert, require_choice

PRESETS: tuple[str, ...] = ("seed", "datasheet")

#: Group sizes a worker or tensor-parallel group may take: powers of two, and a whole NVL72 rack.
TP_DEGREES: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 72)
#: HGX nodes one tensor-parallel group may span where its GPU's NVLink domain is one node: two, as
#: the measured rows that ran TP 16 on H100 spread it (over InfiniBand, whose all-reduce
#: :func:`nvlmodel.collectives.engine_allreduce` and :attr:`nvlmodel.calibrate.Calibration.t_xar`
#: price); a rack-scale domain (NVL72) is never spanned.
TP_NODES_MAX = 2
#: The measured systems (aiconfigurator's names, in its serving rows and kernel tables) -> the GPU
#: of this registry each is.
MEASURED_SYSTEMS: dict[str, str] = {"h100_sxm": "h100", "h200_sxm": "h200", "b200_sxm": "b200", "gb200": "gb200-b200"}

#: Tensor-core data types with a peak figure.
DTYPES: tuple[str, ...] = ("fp16", "bf16", "fp8", "fp4")


def _f(unit: str, doc: str) -> Any:
    return field(metadata={"unit": unit, "doc": doc})


@dataclass(frozen=True)
class Source:
    """Where a value comes from: a key of ``book/references.bib`` and the exact place in it."""

    key: str
    detail: str

    def __str__(self) -> str:
        return f"{self.key}: {self.detail}"


@dataclass(frozen=True)
class GPUSpec:
    """One GPU under one preset. Values in SI units; see each field's ``unit`` metadata."""

    key: str = _f("-", "registry name")
    name: str = _f("-", "display name")
    preset: str = _f("-", "preset the values belong to")
    architecture: str = _f("-", "GPU architecture")
    dies: int = _f("count", "compute dies per package")
    transistors: float = _f("billion", "transistor count")
    sms: int | None = _f("count", "streaming multiprocessors (None: not published)")
    fp16_dense_flops: float = _f("TFLOP/s", "FP16/BF16 tensor peak, dense")
    fp16_sparse_flops: float = _f("TFLOP/s", "FP16/BF16 tensor peak, 2:4 sparse")
    fp8_dense_flops: float = _f("TFLOP/s", "FP8 tensor peak, dense")
    fp8_sparse_flops: float = _f("TFLOP/s", "FP8 tensor peak, 2:4 sparse")
    fp4_dense_flops: float | None = _f("TFLOP/s", "FP4 tensor peak, dense (None: no FP4 cores)")
    fp4_sparse_flops: float | None = _f("TFLOP/s", "FP4 tensor peak, 2:4 sparse")
    hbm_bytes: float = _f("GB", "HBM capacity as marketed")
    hbm_visible_bytes: float = _f("GB", "HBM capacity visible to software (nvidia-smi total)")
    hbm_type: str = _f("-", "HBM generation")
    hbm_bandwidth: float = _f("TB/s", "HBM bandwidth")
    nvlink_generation: int = _f("count", "NVLink generation")
    nvlink_links: int = _f("count", "NVLink links per GPU")
    nvlink_bw_per_direction: float = _f("GB/s", "NVLink bandwidth per GPU, one direction")
    nvlink_bw_total: float = _f("GB/s", "NVLink bandwidth per GPU, both directions together")
    tdp_watts: float = _f("W", "board power (TDP)")
    l2_bytes: float = _f("MB", "L2 cache")
    nvlink_domain_gpus: int = _f("count", "GPUs one NVLink switch fabric joins (HGX baseboard 8, NVL72 rack 72)")
    sources: Mapping[str, Source] = field(default_factory=dict, compare=False, repr=False)

    def peak_flops(self, dtype: str, *, sparse: bool = False) -> float:
        """Tensor-core peak in FLOP/s for ``dtype`` (fp16, bf16, fp8, fp4), dense unless ``sparse``.

        Raises ``ValueError`` for an unknown dtype or one the GPU has no tensor cores for.
        """
        require_choice("dtype", dtype, DTYPES)
        base = "fp16" if dtype == "bf16" else dtype
        value = getattr(self, f"{base}_{'sparse' if sparse else 'dense'}_flops")
        if value is None:
            have = [d for d in DTYPES if getattr(self, f"{'fp16' if d == 'bf16' else d}_dense_flops")]
            raise ValueError(f"{self.name} has no {dtype} tensor cores; it supports: {', '.join(have)}")
        return value

    def rows(self) -> list[dict[str, Any]]:
        """Every numeric/text spec as ``{field, quantity, value, unit, source}`` in display units."""
        return [_row(self, f) for f in fields(self) if f.name not in ("key", "name", "sources", "preset")]

    def require_tp(self, tp: int, across_nodes: bool = False) -> int:
        """Return ``tp`` if a tensor-parallel group of that size fits in one NVLink domain of this
        GPU's system, or with ``across_nodes`` spans whole HGX nodes, at most :data:`TP_NODES_MAX`
        (TP 16 on 8-GPU nodes: its all-reduces then cross InfiniBand, which only the calibrated
        serving model prices, :func:`nvlmodel.calibrate.comm_time`); otherwise raise saying why."""
        if isinstance(tp, bool) or not isinstance(tp, int) or tp < 1:
            raise ValueError(f"tp must be a positive int, got {tp!r}")
        domain = self.nvlink_domain_gpus
        if tp <= domain or (across_nodes and tp <= self.max_tp and tp % domain == 0):
            return tp
        nodes = (f"; across nodes, whole {domain}-GPU nodes, at most {TP_NODES_MAX} of them" if across_nodes and
                 self.max_tp > domain else "")
        raise ValueError(f"tp={tp} exceeds one NVLink domain of {self.name} ({domain} GPUs: 8 on an HGX baseboard, 72 "
                         "in a GB200 NVL72 rack); tensor parallelism all-reduces every layer and is modelled within "
                         f"one NVLink domain{nodes}")

    @property
    def max_tp(self) -> int:
        """The largest tensor-parallel group the serving model holds on this GPU's system: its
        NVLink domain, or :data:`TP_NODES_MAX` whole nodes where the domain is one 8-GPU node."""
        return self.nvlink_domain_gpus * (TP_NODES_MAX if self.nvlink_domain_gpus <= 8 else 1)


@dataclass(frozen=True)
class SuperchipSpec:
    """A Grace + GPU superchip (GB200: one Grace CPU, two B200 GPUs, joined by NVLink-C2C)."""

    key: str = _f("-", "registry name")
    name: str = _f("-", "display name")
    preset: str = _f("-", "preset")
    gpu: GPUSpec = _f("-", "the GPU in the superchip")
    gpus: int = _f("count", "GPUs per superchip")
    cpus: int = _f("count", "Grace CPUs per superchip")
    cpu_cores: int = _f("count", "Arm Neoverse V2 cores per Grace CPU")
    cpu_memory_bytes: float = _f("GB", "LPDDR5X per Grace CPU (maximum)")
    c2c_bw_total: float = _f("GB/s", "NVLink-C2C CPU-GPU bandwidth, both directions together")
    sources: Mapping[str, Source] = field(default_factory=dict, compare=False, repr=False)

    def rows(self) -> list[dict[str, Any]]:
        return [_row(self, f) for f in fields(self) if f.name not in ("key", "name", "sources", "preset", "gpu")]


@dataclass(frozen=True)
class SystemSpec:
    """A multi-GPU system joined by NVLink switches: the NVL72 rack or an 8-GPU HGX baseboard."""

    key: str = _f("-", "registry name")
    name: str = _f("-", "display name")
    preset: str = _f("-", "preset")
    gpu: GPUSpec = _f("-", "the GPU")
    superchip: SuperchipSpec | None = _f("-", "the superchip (None for HGX)")
    num_gpus: int = _f("count", "GPUs")
    compute_trays: int = _f("count", "compute trays (1 for an HGX baseboard)")
    switch_trays: int = _f("count", "NVLink switch trays (0 for HGX: switches on the baseboard)")
    switch_chips: int = _f("count", "NVSwitch ASICs")
    switch_memory_bytes: float = _f("GB", "memory per NVSwitch ASIC")
    sources: Mapping[str, Source] = field(default_factory=dict, compare=False, repr=False)

    @property
    def num_superchips(self) -> int:
        return self.num_gpus // self.superchip.gpus if self.superchip else 0

    @property
    def num_cpus(self) -> int:
        return self.num_superchips * self.superchip.cpus if self.superchip else 0

    @property
    def total_hbm_bytes(self) -> float:
        """Physical HBM of all GPUs, bytes."""
        return self.num_gpus * self.gpu.hbm_bytes

    @property
    def total_hbm_visible_bytes(self) -> float:
        return self.num_gpus * self.gpu.hbm_visible_bytes

    @property
    def total_hbm_bandwidth(self) -> float:
        """Sum of every GPU's HBM bandwidth, bytes/s."""
        return self.num_gpus * self.gpu.hbm_bandwidth

    @property
    def total_nvlink_bw(self) -> float:
        """Sum of every GPU's NVLink bandwidth, both directions, bytes/s (NVIDIA's "130 TB/s")."""
        return self.num_gpus * self.gpu.nvlink_bw_total

    @property
    def bisection_bw(self) -> float:
        """Bidirectional bandwidth across a cut into two equal halves of a non-blocking one-hop
        fabric: each GPU of one half sends to the other half at its per-direction rate, both ways."""
        return 2 * (self.num_gpus // 2) * self.gpu.nvlink_bw_per_direction

    @property
    def total_switch_memory_bytes(self) -> float:
        return self.switch_chips * self.switch_memory_bytes

    def total_flops(self, dtype: str, *, sparse: bool = False) -> float:
        """Sum of every GPU's tensor peak for ``dtype``, FLOP/s."""
        return self.num_gpus * self.gpu.peak_flops(dtype, sparse=sparse)


def _row(spec: Any, f: Any) -> dict[str, Any]:
    value = getattr(spec, f.name)
    unit = f.metadata["unit"]
    if isinstance(value, int | float) and not isinstance(value, bool) and unit not in ("-", "count", "W"):
        value = convert(value, unit)
    return {
        "field": f.name,
        "quantity": f.metadata["doc"],
        "value": value,
        "unit": "" if unit in ("-", "count") else unit,
        "source": str(spec.sources.get(f.name, "")),
    }


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------

_SEED_TABLE = "seed"
_DS_H100 = "nvidia-h100-datasheet"
_DS_H200 = "nvidia-h200-datasheet"
_DS_BW = "nvidia-blackwell-brief"
_NVLINK = "nvidia-nvlink"
_MLPERF = "mlperf-inference"
_SMI = "nvidia-smi-memory"
_AO = "pytorch-ao-4002"
_NVL72 = "nvidia-gb200-nvl72"
_GRACE = "nvidia-grace"


def _src(key: str, detail: str, names: str) -> dict[str, Source]:
    return {n: Source(key, detail) for n in names.split()}


_SEED_PEAK_NOTE = (
    "spec table line {line}, as printed; NVIDIA's 2:4-sparse peak, which the document uses as "
    "the peak for dense inference, so the seed preset stores it as both dense and sparse"
)
_SEED_NVLINK_NOTE = (
    "spec table line 16 / ModelExpress line 108, as printed; the total of both directions, which "
    "the document uses as the rate of a one-way copy, so the seed preset stores it as both"
)


def _seed_sources(extra: Mapping[str, Source] | None = None) -> dict[str, Source]:
    s: dict[str, Source] = {}
    s |= _src(_SEED_TABLE, "spec table line 8", "architecture dies")
    s |= _src(_SEED_TABLE, "spec table line 9", "transistors")
    s |= _src(_SEED_TABLE, "spec table line 10", "sms")
    s |= _src(_SEED_TABLE, _SEED_PEAK_NOTE.format(line=11), "fp16_dense_flops fp16_sparse_flops")
    s |= _src(_SEED_TABLE, _SEED_PEAK_NOTE.format(line=12), "fp8_dense_flops fp8_sparse_flops")
    s |= _src(_SEED_TABLE, _SEED_PEAK_NOTE.format(line=13), "fp4_dense_flops fp4_sparse_flops")
    s |= _src(_SEED_TABLE, "spec table line 14; the document uses all of it", "hbm_bytes hbm_visible_bytes hbm_type")
    s |= _src(_SEED_TABLE, "spec table line 15", "hbm_bandwidth")
    s |= _src(_SEED_TABLE, _SEED_NVLINK_NOTE, "nvlink_bw_per_direction nvlink_bw_total")
    s |= _src(_NVLINK, "not in the seed; NVLink generation and 18 links per GPU", "nvlink_generation nvlink_links")
    s |= _src(_SEED_TABLE, "spec table line 17", "tdp_watts")
    s |= _src(_SEED_TABLE, "spec table line 18", "l2_bytes")
    s |= _src("nvidia-hgx-h100", "not in the seed; 8 GPUs per HGX baseboard", "nvlink_domain_gpus")
    return s | dict(extra or {})


_H100_DS = GPUSpec(
    key="h100", name="H100 SXM", preset="datasheet", architecture="Hopper", dies=1,
    transistors=80e9, sms=132,
    fp16_dense_flops=989.5 * TFLOPS, fp16_sparse_flops=1979 * TFLOPS,
    fp8_dense_flops=1979 * TFLOPS, fp8_sparse_flops=3958 * TFLOPS,
    fp4_dense_flops=None, fp4_sparse_flops=None,
    hbm_bytes=80 * GB, hbm_visible_bytes=81_559 * MiB, hbm_type="HBM3", hbm_bandwidth=3.35 * TB,
    nvlink_generation=4, nvlink_links=18,
    nvlink_bw_per_direction=450 * GB, nvlink_bw_total=900 * GB,
    tdp_watts=700, l2_bytes=50 * MB, nvlink_domain_gpus=8,
    sources=(
        _src(_DS_H100, "H100 SXM column", "architecture dies transistors sms hbm_bytes "
             "hbm_type hbm_bandwidth tdp_watts l2_bytes")
        | _src(_SMI, "nvidia-smi: H100 80GB HBM3, 81,559 MiB total", "hbm_visible_bytes")
        | _src(_DS_H100, "H100 SXM; figures 'shown with sparsity', dense is half",
               "fp16_dense_flops fp16_sparse_flops fp8_dense_flops fp8_sparse_flops")
        | _src(_DS_H100, "Hopper has no FP4 tensor cores", "fp4_dense_flops fp4_sparse_flops")
        | _src("nvidia-hgx-h100", "HGX H100: 8 GPUs on one NVSwitch baseboard", "nvlink_domain_gpus")
        | _src(_NVLINK, "NVLink 4: 18 links, 900 GB/s total = 450 GB/s per direction",
               "nvlink_generation nvlink_links nvlink_bw_per_direction nvlink_bw_total")
    ),
)

_H200_DS = replace(
    _H100_DS, key="h200", name="H200 SXM", hbm_bytes=141 * GB, hbm_visible_bytes=143_771 * MiB,
    hbm_type="HBM3e", hbm_bandwidth=4.8 * TB,
    sources=dict(_H100_DS.sources)
    | _src(_DS_H200, "H200 SXM: H100 compute, 141 GB HBM3e at 4.8 TB/s", "hbm_bytes hbm_type hbm_bandwidth")
    | _src(_SMI, "nvidia-smi: H200, 143,771 MiB total", "hbm_visible_bytes"),
)

_B200_DS = GPUSpec(
    key="b200", name="B200 (HGX)", preset="datasheet", architecture="Blackwell", dies=2,
    transistors=208e9, sms=148,
    fp16_dense_flops=2250 * TFLOPS, fp16_sparse_flops=4500 * TFLOPS,
    fp8_dense_flops=4500 * TFLOPS, fp8_sparse_flops=9000 * TFLOPS,
    fp4_dense_flops=9000 * TFLOPS, fp4_sparse_flops=18000 * TFLOPS,
    hbm_bytes=192 * GB, hbm_visible_bytes=183_359 * MiB, hbm_type="HBM3e", hbm_bandwidth=8 * TB,
    nvlink_generation=5, nvlink_links=18,
    nvlink_bw_per_direction=900 * GB, nvlink_bw_total=1800 * GB,
    tdp_watts=1000, l2_bytes=126.5 * MB, nvlink_domain_gpus=8,
    sources=(
        _src(_DS_BW, "HGX B200 (1,000 W): two reticle-limited dies, 208 B transistors",
             "architecture dies transistors tdp_watts hbm_type hbm_bytes hbm_bandwidth")
        | _src(_DS_BW, "HGX B200; dense = half the 2:4-sparse figure",
               "fp16_dense_flops fp16_sparse_flops fp8_dense_flops fp8_sparse_flops fp4_dense_flops "
               "fp4_sparse_flops")
        | _src(_SMI, "nvidia-smi: B200, 183,359 MiB total (MLPerf's 'B200-SXM-180GB' is this in GiB)", "hbm_visible_bytes")
        | _src(_AO, "device query (SM count and L2 are not published by NVIDIA)", "sms l2_bytes")
        | _src(_DS_BW, "HGX B200: 8 GPUs on one NVSwitch baseboard", "nvlink_domain_gpus")
        | _src(_NVLINK, "NVLink 5: 18 links x 100 GB/s = 1.8 TB/s total = 900 GB/s per direction",
               "nvlink_generation nvlink_links nvlink_bw_per_direction nvlink_bw_total")
    ),
)

_GB200_B200_DS = replace(
    _B200_DS, key="gb200-b200", name="B200 in GB200", hbm_visible_bytes=189_471 * MiB,
    fp16_dense_flops=2500 * TFLOPS, fp16_sparse_flops=5000 * TFLOPS,
    fp8_dense_flops=5000 * TFLOPS, fp8_sparse_flops=10000 * TFLOPS,
    fp4_dense_flops=10000 * TFLOPS, fp4_sparse_flops=20000 * TFLOPS,
    tdp_watts=1200, nvlink_domain_gpus=72,
    sources=dict(_B200_DS.sources)
    | _src(_DS_BW, "GB200 (1,200 W per GPU); dense = half the 2:4-sparse figure",
           "fp16_dense_flops fp16_sparse_flops fp8_dense_flops fp8_sparse_flops fp4_dense_flops "
           "fp4_sparse_flops tdp_watts")
    | _src(_NVL72, "NVL72: one NVLink switch fabric joins all 72 GPUs", "nvlink_domain_gpus")
    | _src(_SMI, "nvidia-smi: GB200, 189,471 MiB total per GPU (MLPerf's 'GB200-186GB' is this in GiB)", "hbm_visible_bytes"),
)

_H100_SEED = replace(
    _H100_DS, preset="seed", hbm_visible_bytes=80 * GB,
    fp16_dense_flops=1979 * TFLOPS, fp8_dense_flops=3958 * TFLOPS,
    nvlink_bw_per_direction=900 * GB,
    sources=_seed_sources(_src(_DS_H100, "not in the seed (H100 has no FP4)", "fp4_dense_flops fp4_sparse_flops")),
)

_H200_SEED = replace(
    _H100_SEED, key="h200", name="H200 SXM", hbm_bytes=141 * GB, hbm_visible_bytes=141 * GB,
    hbm_type="HBM3e", hbm_bandwidth=4.8 * TB,
    sources=dict(_H100_SEED.sources)
    | _src(_DS_H200, "not in the seed; H100 seed values (same compute), datasheet memory",
           "hbm_bytes hbm_visible_bytes hbm_type hbm_bandwidth"),
)

_B200_SEED = GPUSpec(
    key="b200", name="B200 (HGX)", preset="seed", architecture="Blackwell", dies=2,
    transistors=208e9, sms=192,
    fp16_dense_flops=4500 * TFLOPS, fp16_sparse_flops=4500 * TFLOPS,
    fp8_dense_flops=9000 * TFLOPS, fp8_sparse_flops=9000 * TFLOPS,
    fp4_dense_flops=18000 * TFLOPS, fp4_sparse_flops=18000 * TFLOPS,
    hbm_bytes=192 * GB, hbm_visible_bytes=192 * GB, hbm_type="HBM3e", hbm_bandwidth=8 * TB,
    nvlink_generation=5, nvlink_links=18,
    nvlink_bw_per_direction=1800 * GB, nvlink_bw_total=1800 * GB,
    tdp_watts=1000, l2_bytes=128 * MB, nvlink_domain_gpus=8,
    sources=_seed_sources(),
)

#: The document treats the GPUs of the NVL72 as the B200 of its spec table.
_GB200_B200_SEED = replace(
    _B200_SEED, key="gb200-b200", name="B200 in GB200", nvlink_domain_gpus=72,
    sources=_seed_sources(_src(_SEED_TABLE, "NVL72 box line 26: the table's B200", "architecture")
                          | _src(_SEED_TABLE, "NVL72 box lines 24-40: 72 GPUs on NVLink switches",
                                 "nvlink_domain_gpus")),
)

_GPUS: dict[tuple[str, str], GPUSpec] = {
    (g.key, g.preset): g
    for g in (_H100_DS, _H200_DS, _B200_DS, _GB200_B200_DS, _H100_SEED, _H200_SEED, _B200_SEED, _GB200_B200_SEED)
}

#: Registry names of the GPUs, and accepted aliases.
GPU_NAMES: tuple[str, ...] = tuple(dict.fromkeys(key for key, _ in _GPUS))  # registry order
GPU_ALIASES: Mapping[str, str] = MappingProxyType(
    {"h100-sxm": "h100", "h200-sxm": "h200", "b200-hgx": "b200", "b200-sxm": "b200", "gb200": "gb200-b200"}
)


#: The GPUs the seed document itself describes (its spec table's B200 and H100, the GB200's B200).
DOCUMENT_GPUS: tuple[str, ...] = ("b200", "h100", "gb200-b200")


def seed_label(name: str) -> str:
    """How to label a GPU's ``seed`` values: ``"seed"`` for a GPU the document describes, else
    ``"seed premises"`` -- the document never gives its numbers, only its premises (sparse peaks as
    dense, both NVLink directions as one) applied to the datasheet."""
    key = GPU_ALIASES.get(str(name).lower(), str(name).lower())
    require_choice("GPU", key if key in GPU_NAMES else name, GPU_NAMES + tuple(GPU_ALIASES))
    return "seed" if key in DOCUMENT_GPUS else "seed premises"


def _preset(preset: str) -> str:
    return require_choice("preset", preset, PRESETS)


def get_gpu(name: str, preset: "str | Premises" = "datasheet") -> GPUSpec:
    """Return the GPU spec ``name`` (one of :data:`GPU_NAMES` or an alias) under ``preset``: a preset
    name, or a :class:`~nvlmodel.premises.Premises` (SEED and DATASHEET give the presets; a mixture
    gives the datasheet spec with the document's value wherever a premise holds)."""
    if isinstance(preset, Premises):
        if preset not in (SEED, DATASHEET):
            from .premises import gpu_under

            return gpu_under(name, preset)
        preset = preset.name
    _preset(preset)
    key = GPU_ALIASES.get(str(name).lower(), str(name).lower())
    require_choice("GPU", key if key in GPU_NAMES else name, GPU_NAMES + tuple(GPU_ALIASES))
    return _GPUS[(key, preset)]


def get_superchip(name: str = "gb200", preset: str = "datasheet") -> SuperchipSpec:
    """Return the superchip spec (only ``"gb200"``) under ``preset``."""
    require_choice("superchip", name, ("gb200",))
    seed = _preset(preset) == "seed"
    grace = _src(_GRACE, "Grace CPU: 72 Neoverse V2 cores, up to 480 GB LPDDR5X, NVLink-C2C 900 GB/s",
                 "cpu_cores cpu_memory_bytes c2c_bw_total")
    layout = _src(_SEED_TABLE if seed else _NVL72, "line 20: two B200 GPUs with one Grace CPU" if seed
                  else "one Grace CPU + two B200 GPUs", "gpus cpus")
    return SuperchipSpec(
        key="gb200", name="GB200 superchip", preset=preset, gpu=get_gpu("gb200-b200", preset),
        gpus=2, cpus=1, cpu_cores=72, cpu_memory_bytes=480 * GB, c2c_bw_total=900 * GB,
        sources=grace | layout,
    )


#: Network interface line rate per GPU, bytes/s: ConnectX-7 (400 Gb/s, GB200 and HGX trays) and
#: ConnectX-8 (800 Gb/s, GB300) (shared/REFERENCE.md, inter-rack; Medium confidence).
NIC_BANDWIDTH: Mapping[str, float] = MappingProxyType({"connectx-7": 400e9 / 8, "connectx-8": 800e9 / 8})
#: PCIe 5.0 x16 between an HGX GPU and host memory, one direction, bytes/s: 32 GT/s x 16 lanes with
#: 128b/130b encoding (PCI-SIG PCIe 5.0 base specification, ``pcie5``).
PCIE5_X16_BANDWIDTH = 32e9 * 16 * 128 / 130 / 8
#: Measured: the ModelExpress POC moved Llama-3.1-70B TP8 GPU to GPU over NIXL/RDMA at ~112 Gb/s per
#: rank, bytes/s (ai-dynamo/modelexpress docs/BENCHMARKS.md; ``modelexpress-benchmarks``).
MODELEXPRESS_RDMA_PER_RANK = 112e9 / 8

SYSTEM_NAMES: tuple[str, ...] = ("nvl72", "hgx-h100", "hgx-b200")

#: Power of a whole system at full load, W (GPUs, CPUs, memory, NICs, NVLink switches, fans; the
#: power supplies' maximum input), with its GPU count and source: the denominator of tokens per
#: joule at the wall. HGX figures are NVIDIA's DGX maxima (the DGX is the HGX baseboard in
#: NVIDIA's own chassis); the NVL72 figure is the ~120 kW integrators and the trade press report
#: for a GB200 NVL72 rack (NVIDIA publishes no single figure; Medium confidence).
SYSTEM_POWER: Mapping[str, tuple[float, int, Source]] = MappingProxyType({
    "hgx-h100": (10_200.0, 8, Source("nvidia-dgx-h100-guide", "DGX H100/H200: 10.2 kW max (six 3.3 kW PSUs)")),
    "hgx-h200": (10_200.0, 8, Source("nvidia-dgx-h100-guide", "DGX H100/H200: 10.2 kW max (six 3.3 kW PSUs)")),
    "hgx-b200": (14_300.0, 8, Source("nvidia-dgx-b200-guide", "DGX B200: 14.3 kW max (six 3.3 kW PSUs)")),
    "nvl72": (120_000.0, 72, Source("nvl72-rack-power", "GB200 NVL72: about 120 kW per rack (reported)")),
})


def get_system(name: str, preset: str = "datasheet") -> SystemSpec:
    """Return a system spec: ``"nvl72"`` (GB200 NVL72 rack), ``"hgx-h100"`` or ``"hgx-b200"``
    (8-GPU baseboards with NVSwitch chips on board) under ``preset``."""
    require_choice("system", name, SYSTEM_NAMES)
    seed = _preset(preset) == "seed"
    if name == "nvl72":
        if seed:
            src = _src(_SEED_TABLE, "NVL72 box lines 26-38: 36 superchips, '9 NVSwitches x 128 GB HBM3e'",
                       "num_gpus switch_chips switch_memory_bytes") | _src(
                _NVL72, "not in the seed; 18 compute trays, 9 switch trays", "compute_trays switch_trays")
            chips, mem = 9, 128 * GB
        else:
            src = _src(_NVL72, "18 compute trays, 9 NVLink switch trays of 2 ASICs each; switch ASICs "
                       "carry no HBM", "num_gpus compute_trays switch_trays switch_chips switch_memory_bytes")
            chips, mem = 18, 0.0
        sc = get_superchip("gb200", preset)
        return SystemSpec(key=name, name="GB200 NVL72", preset=preset, gpu=sc.gpu, superchip=sc,
                          num_gpus=72, compute_trays=18, switch_trays=9, switch_chips=chips,
                          switch_memory_bytes=mem, sources=src)
    gpu = get_gpu(name.split("-")[1], preset)
    src = _src(_DS_H100 if name == "hgx-h100" else _DS_BW,
               "8 GPUs on one baseboard, 4 NVSwitch chips (H100) / 2 (B200), one switch hop",
               "num_gpus compute_trays switch_trays switch_chips switch_memory_bytes")
    return SystemSpec(key=name, name=f"HGX {gpu.name.split()[0]} 8-GPU", preset=preset, gpu=gpu,
                      superchip=None, num_gpus=8, compute_trays=1, switch_trays=0,
                      switch_chips=4 if name == "hgx-h100" else 2, switch_memory_bytes=0.0, sources=src)


#: The rows of the seed's spec table (lines 6-18): label, GPUSpec field, display unit.
SPEC_TABLE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("Transistors", "transistors", "billion"),
    ("SMs", "sms", "count"),
    ("FP16 Tensor TFLOPS", "fp16_dense_flops", "TFLOP/s"),
    ("FP8 Tensor TFLOPS", "fp8_dense_flops", "TFLOP/s"),
    ("FP4 Tensor TFLOPS", "fp4_dense_flops", "TFLOP/s"),
    ("HBM capacity", "hbm_bytes", "GB"),
    ("HBM bandwidth", "hbm_bandwidth", "TB/s"),
    ("NVLink bandwidth (per GPU)", "nvlink_bw_total", "GB/s"),
    ("TDP", "tdp_watts", "W"),
    ("L2 cache", "l2_bytes", "MB"),
)


def spec_value(gpu: GPUSpec, attribute: str, unit: str) -> float | None:
    """A spec field in a display unit (None where the GPU has no such value)."""
    value = getattr(gpu, attribute)
    return None if value is None else convert(value, unit)


def spec_table(gpu_a: str = "b200", gpu_b: str = "h100", preset: str = "seed",
               *, visible_hbm: bool = False) -> pd.DataFrame:  # noqa: F821
    """The seed's spec table (lines 6-18) for two GPUs under ``preset``, with the ratio a/b.

    Tensor rows use the dense field (under ``seed`` that is the printed, sparse figure).
    ``visible_hbm`` swaps marketed HBM for the bytes software sees in the capacity row.
    """
    import pandas as pd

    a, b = get_gpu(gpu_a, preset), get_gpu(gpu_b, preset)
    rows = []
    for label, attr, unit in SPEC_TABLE_ROWS:
        if visible_hbm and attr == "hbm_bytes":
            attr, label = "hbm_visible_bytes", "HBM capacity (visible to software)"
        va, vb = spec_value(a, attr, unit), spec_value(b, attr, unit)
        ratio = va / vb if va is not None and vb else None
        rows.append({"specification": label, "unit": "" if unit == "count" else unit,
                     a.name: va, b.name: vb, "ratio": ratio})
    return pd.DataFrame(rows)


def hbm_table() -> pd.DataFrame:  # noqa: F821
    """HBM per GPU as marketed and as software sees it (nvidia-smi's total), in GB, MiB and GiB: the
    marketed "GB" and MLPerf's system labels (B200-SXM-180GB, GB200-186GB) are not usable bytes."""
    import pandas as pd

    rows = []
    for name in GPU_NAMES:
        g = get_gpu(name, "datasheet")
        rows.append({"GPU": g.name, "marketed (GB)": g.hbm_bytes / GB, "nvidia-smi (MiB)": g.hbm_visible_bytes / MiB,
                     "visible (GB, 1e9 B)": g.hbm_visible_bytes / GB, "visible (GiB)": g.hbm_visible_bytes / 2**30,
                     "source": str(g.sources["hbm_visible_bytes"])})
    return pd.DataFrame(rows)


#: Rack-level totals shown for a system: label, display unit, and how to compute it from a SystemSpec.
SYSTEM_TOTALS: tuple[tuple[str, str, Any], ...] = (
    ("GPUs", "count", lambda s: s.num_gpus),
    ("Grace CPUs", "count", lambda s: s.num_cpus),
    ("HBM, marketed", "TB", lambda s: s.total_hbm_bytes),
    ("HBM, visible to software", "TB", lambda s: s.total_hbm_visible_bytes),
    ("HBM bandwidth", "TB/s", lambda s: s.total_hbm_bandwidth),
    ("FP4 tensor peak, dense", "PFLOP/s", lambda s: s.total_flops("fp4")),
    ("FP4 tensor peak, 2:4 sparse", "PFLOP/s", lambda s: s.total_flops("fp4", sparse=True)),
    ("FP8 tensor peak, dense", "PFLOP/s", lambda s: s.total_flops("fp8")),
    ("NVLink, sum over GPUs (both directions)", "TB/s", lambda s: s.total_nvlink_bw),
    ("NVLink bisection (both directions)", "TB/s", lambda s: s.bisection_bw),
    ("NVSwitch ASICs", "count", lambda s: s.switch_chips),
    ("NVSwitch memory", "GB", lambda s: s.total_switch_memory_bytes),
)


def system_totals(name: str = "nvl72") -> pd.DataFrame:  # noqa: F821
    """Totals of a system under both presets: ``quantity, unit, seed, datasheet``.

    Under ``seed`` the bisection row applies the document's per-direction premise (1.8 TB/s per GPU
    each way), so it shows what the seed's numbers imply, not what the document printed."""
    import pandas as pd

    specs = {p: get_system(name, p) for p in PRESETS}
    rows = []
    for label, unit, fn in SYSTEM_TOTALS:
        row = {"quantity": label, "unit": "" if unit == "count" else unit}
        for p, s in specs.items():
            row[p] = fn(s) if unit == "count" else convert(fn(s), unit)
        rows.append(row)
    return pd.DataFrame(rows)
