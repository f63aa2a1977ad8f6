"""gnnnas: neural architecture search over graph-neural-network recommenders."""

from gnnnas._malloc import tune_allocator

__version__ = "0.1.0"

tune_allocator()

from gnnnas.models.presets import PRESETS  # noqa: E402
from gnnnas.models.spec import ArchSpec, LayerSpec, TrainingSpec  # noqa: E402

__all__ = ["PRESETS", "ArchSpec", "LayerSpec", "TrainingSpec", "__version__"]
