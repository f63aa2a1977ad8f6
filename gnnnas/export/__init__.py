"""Model bundles: a trained recommender in a self-contained folder.

>>> from gnnnas.export import save_bundle, load
>>> save_bundle("runs/best", spec, model, dataset, {"val": val, "test": test})
>>> rec = load("runs/best")           # also gnnnas.load
>>> rec.recommend(["17850"], k=10)    # {"17850": [("85123A", 3.21), ...]}

See :mod:`gnnnas.export.bundle` for the files and :class:`TrainedRecommender`
for what a loaded bundle offers.
"""

from gnnnas.export.bundle import FORMAT_VERSION, is_bundle, save_bundle
from gnnnas.export.trained import Evaluation, TrainedRecommender, load

__all__ = ["FORMAT_VERSION", "Evaluation", "TrainedRecommender", "is_bundle", "load", "save_bundle"]
