"""``gnnnas datasets`` and ``gnnnas data info``."""

from __future__ import annotations

import argparse
import json

from gnnnas.data import add_data_arguments, dataset_info, describe_formats, options_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list bundled datasets and recognised data formats")
    p.set_defaults(func=_datasets)

    p = sub.add_parser("data", help="inspect a dataset")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    info = data_sub.add_parser("info", help="users, items, interactions, density and split sizes of a dataset")
    info.add_argument("source", metavar="PATH|NAME", help="bundled dataset name or file/folder path")
    add_data_arguments(info)
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=_info)


def _datasets(args: argparse.Namespace) -> int:
    print(describe_formats())
    return 0


def _info(args: argparse.Namespace) -> int:
    stats = dataset_info(args.source, options_from_args(args))
    if args.json:
        print(json.dumps(stats, default=str))
        return 0
    rows = [
        ("dataset", stats["name"]), ("source", stats["source"]), ("format", stats["format"]),
        ("users", f"{stats['users']:,}"), ("items", f"{stats['items']:,}"),
        ("interactions", f"{stats['interactions']:,}"), ("density", f"{stats['density']:.5f}"),
        ("split", stats["split"]), ("train", f"{stats['train']:,}"), ("validation", f"{stats['val']:,}"),
        ("test", f"{stats['test']:,}"), ("item text", "yes" if stats["has_item_text"] else "no"),
        ("cache", stats["cache"]),
    ]
    if "cold_items" in stats:  # the cold-start protocol: held-out items and their interactions
        at = rows.index(("item text", "yes" if stats["has_item_text"] else "no"))
        rows[at:at] = [("cold items", f"{stats['cold_items']:,} held out"),
                       ("val_cold", f"{stats['val_cold']:,}"), ("test_cold", f"{stats['test_cold']:,}")]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
