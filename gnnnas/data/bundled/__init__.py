"""Datasets shipped inside the package, by name (:data:`BUNDLED`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from gnnnas.data.bundled.online_retail_loader import FILES as _RETAIL_FILES
from gnnnas.data.bundled.online_retail_loader import load as _load_retail
from gnnnas.data.options import DataOptions
from gnnnas.data.raw import RawData


@dataclass(frozen=True)
class BundledDataset:
    """A named dataset inside the package: what it is, its files, how to read them."""

    name: str
    description: str
    files: tuple[Path, ...]
    loader: Callable[[DataOptions], RawData]


BUNDLED: dict[str, BundledDataset] = {
    ds.name: ds
    for ds in (
        BundledDataset(
            name="online-retail",
            description="UCI Online Retail (UK gift shop, 2010-12..2011-12; CC0): 4,339 customers x 3,665 "
                        "products, 266,802 purchases with first-purchase time; rating = purchase lines; "
                        "item text = product description",
            files=_RETAIL_FILES,
            loader=_load_retail,
        ),
    )
}
