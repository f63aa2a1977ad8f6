"""gnnnas: neural architecture search over graph-neural-network recommenders."""

from gnnnas._malloc import tune_allocator

__version__ = "0.1.0"

tune_allocator()

from gnnnas.models.presets import PRESETS  # noqa: E402
from gnnnas.models.spec import ArchSpec, LayerSpec, TrainingSpec  # noqa: E402

__all__ = ["PRESETS", "ArchSpec", "LayerSpec", "TrainingSpec", "__version__"]


def __getattr__(name: str):
    # Imported on first use: ``import gnnnas`` stays fast (no optuna, no search machinery).
    if name == "search":
        import gnnnas.search as search  # the package module is callable: gnnnas.search(...)
        return search
    if name in ("load", "TrainedRecommender"):
        import gnnnas.export as export
        return getattr(export, name)
    if name == "SearchResult":
        from gnnnas.search.api import SearchResult
        return SearchResult
    raise AttributeError(f"module 'gnnnas' has no attribute {name!r}")
