"""nvlmodel: executable, tested models of NVIDIA Dynamo on Blackwell GB200 NVL72.

Each subsystem of the seed document is a module: :mod:`~nvlmodel.units`,
:mod:`~nvlmodel.hardware` (spec registry, ``seed`` and ``datasheet`` presets),
:mod:`~nvlmodel.topology` (the NVL72 rack and an HGX node), :mod:`~nvlmodel.claims` (the ledger
of the document's numbers) and :mod:`~nvlmodel.plotting` (one figure style, stable file names).
"""

from .hardware import (
    GPU_NAMES,
    PRESETS,
    SYSTEM_NAMES,
    GPUSpec,
    SuperchipSpec,
    SystemSpec,
    get_gpu,
    get_superchip,
    get_system,
    spec_table,
)
from .topology import VIEWS, HGXTopology, NVL72Topology

__version__ = "0.1.0"

__all__ = [
    "GPU_NAMES",
    "PRESETS",
    "SYSTEM_NAMES",
    "VIEWS",
    "GPUSpec",
    "HGXTopology",
    "NVL72Topology",
    "SuperchipSpec",
    "SystemSpec",
    "__version__",
    "get_gpu",
    "get_superchip",
    "get_system",
    "spec_table",
]
