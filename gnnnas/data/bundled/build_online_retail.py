"""Build the bundled ``online-retail`` files from the UCI Online Retail CSV.

Usage::

    python -m gnnnas.data.bundled.build_online_retail onlineretail.csv.gz OUT_DIR

Reads the converted UCI file (columns ``InvoiceNo,StockCode,Description,Quantity,
InvoiceDate,UnitPrice,CustomerID,Country``) and writes, deterministically:

* ``interactions.csv.gz`` -- ``customer,stock_code,first_purchase,lines``: one row
  per (customer, stock code) the customer bought, with the unix time (UTC
  seconds) of the first purchase and the number of purchase lines. A purchase
  line has a CustomerID, an InvoiceNo not starting with ``C`` (cancellation)
  and Quantity > 0. Rows are sorted by customer, time, stock code.
* ``items.csv.gz`` -- ``stock_code,description``: for every purchased stock code,
  its most frequent non-empty Description among those purchase lines (ties:
  alphabetically first).

gzip headers carry no file name and mtime 0, so the same input gives the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

import pandas as pd

INTERACTIONS = "interactions.csv.gz"
ITEMS = "items.csv.gz"


def purchases(source: Path) -> pd.DataFrame:
    """Purchase lines (customer known, not cancelled, quantity > 0) of the UCI file."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8")
    quantity = pd.to_numeric(frame["Quantity"], errors="coerce")
    keep = (frame["CustomerID"].str.strip() != "") & ~frame["InvoiceNo"].str.startswith("C") & (quantity > 0)
    frame = frame[keep]
    when = pd.to_datetime(frame["InvoiceDate"], format="%Y-%m-%d %H:%M:%S", utc=True)
    return pd.DataFrame({
        "customer": frame["CustomerID"].str.strip(),
        "stock_code": frame["StockCode"].str.strip(),
        "description": frame["Description"].str.strip(),
        "time": (when - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1),
    })


def interactions(buys: pd.DataFrame) -> pd.DataFrame:
    grouped = buys.groupby(["customer", "stock_code"], sort=False)["time"]
    out = grouped.agg(first_purchase="min", lines="size").reset_index()
    return out.sort_values(["customer", "first_purchase", "stock_code"], kind="stable").reset_index(drop=True)


def items(buys: pd.DataFrame) -> pd.DataFrame:
    named = buys[buys["description"] != ""]
    counts = named.groupby(["stock_code", "description"]).size().rename("n").reset_index()
    counts = counts.sort_values(["stock_code", "n", "description"], ascending=[True, False, True], kind="stable")
    best = counts.drop_duplicates("stock_code")[["stock_code", "description"]]
    every = pd.DataFrame({"stock_code": sorted(buys["stock_code"].unique())})
    return every.merge(best, on="stock_code", how="left").fillna({"description": ""})


def write_csv_gz(frame: pd.DataFrame, path: Path) -> None:
    """Deterministic gzip'd CSV (no name or mtime in the header), written atomically."""
    text = frame.to_csv(index=False, lineterminator="\n")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                               compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))
    tmp.replace(path)


def build(source: Path, out_dir: Path) -> dict[str, str]:
    """Write both files into ``out_dir``; returns file name -> sha256."""
    buys = purchases(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv_gz(interactions(buys), out_dir / INTERACTIONS)
    write_csv_gz(items(buys), out_dir / ITEMS)
    return {name: hashlib.sha256((out_dir / name).read_bytes()).hexdigest() for name in (INTERACTIONS, ITEMS)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="onlineretail.csv.gz (UCI columns)")
    parser.add_argument("out_dir", type=Path, help="folder to write interactions.csv.gz and items.csv.gz")
    args = parser.parse_args(argv)
    for name, digest in build(args.source, args.out_dir).items():
        print(f"{digest}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
