"""Data layer: read a source (bundled name, LightGCN/RecBole/MovieLens folder,
or a table), clean it, split it per user, and cache the result.

>>> from gnnnas.data import load_dataset, DataOptions
>>> ds = load_dataset("online-retail", DataOptions(split="temporal"))
"""

from gnnnas.data.bundled import BUNDLED, BundledDataset
from gnnnas.data.dataset import Dataset, SplitData
from gnnnas.data.formats import FORMATS, Format, describe_formats, resolve_source
from gnnnas.data.loader import dataset_info, load_dataset
from gnnnas.data.options import DEFAULT_DATA, SPLIT_KINDS, DataOptions, add_data_arguments, options_from_args
from gnnnas.data.raw import RawData
from gnnnas.data.split import SPLITTERS

__all__ = [
    "BUNDLED", "BundledDataset", "DEFAULT_DATA", "DataOptions", "Dataset", "FORMATS", "Format", "RawData",
    "SPLITTERS", "SPLIT_KINDS", "SplitData", "add_data_arguments", "dataset_info", "describe_formats",
    "load_dataset", "options_from_args", "resolve_source",
]
