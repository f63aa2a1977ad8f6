"""Reads the bundled ``online_retail/`` files (built by :mod:`.build_online_retail`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gnnnas.data.options import DataOptions
from gnnnas.data.raw import RawData

FOLDER = Path(__file__).resolve().parent / "online_retail"
FILES = (FOLDER / "interactions.csv.gz", FOLDER / "items.csv.gz")


def load(options: DataOptions) -> RawData:
    """Customer-product purchases; ``rating`` is the number of purchase lines, so
    ``--rating-threshold 2`` keeps repeat purchases."""
    inter_path, items_path = FILES
    frame = pd.read_csv(inter_path, dtype={"customer": str, "stock_code": str,
                                           "first_purchase": np.int64, "lines": np.int64})
    items = pd.read_csv(items_path, dtype=str, keep_default_na=False)
    return RawData(
        interactions=pd.DataFrame({
            "user": frame["customer"], "item": frame["stock_code"],
            "rating": frame["lines"].astype(np.float64), "timestamp": frame["first_purchase"],
        }),
        items=pd.DataFrame({"item": items["stock_code"], "text": items["description"]}),
        source_files=list(FILES),
    )
