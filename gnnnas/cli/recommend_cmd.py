"""``gnnnas recommend``: top-K items for users from a model bundle."""

from __future__ import annotations

import argparse
import json

from gnnnas.cli.argtypes import positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recommend", help="recommend items to users from a model bundle",
                       description="Rank every item for each user with a model bundle (gnnnas train --out DIR, "
                                   "gnnnas export, a search's best/) and print the top K, best first. Items the "
                                   "user already has in the training or validation data are left out unless "
                                   "--include-seen.")
    p.add_argument("path", metavar="PATH", help="model bundle folder (or a gnnnas train --out folder)")
    p.add_argument("--user", dest="users", action="append", required=True, metavar="USER",
                   help="raw user id as in the source data; repeat for several users")
    p.add_argument("--k", type=positive_int, default=10, help="items per user (default 10)")
    p.add_argument("--include-seen", action="store_true", help="also rank the items the user has already seen")
    p.add_argument("--device", default="cpu", help="cpu (default), auto, cuda or cuda:N")
    p.add_argument("--json", action="store_true", help="print {user: [[item, score], ...]} as one JSON object")
    p.set_defaults(func=_recommend)


def _recommend(args: argparse.Namespace) -> int:
    from gnnnas.export import load
    rec = load(args.path, device=args.device)
    result = rec.recommend(args.users, k=args.k, exclude_seen=not args.include_seen)
    if args.json:
        print(json.dumps({user: [[item, score] for item, score in items] for user, items in result.items()}))
        return 0
    for n, (user, items) in enumerate(result.items()):
        if n:
            print()
        seen = len(rec.seen_items(user))
        how = "included" if args.include_seen else "excluded"
        print(f"user {user}: top {len(items)} of {rec.n_items} items ({seen} seen items {how})")
        print(_table(rec, items))
    return 0


def _table(rec, items: list[tuple[str, float]]) -> str:
    if not items:
        return "  (no unseen item left to recommend)"
    header = ["rank", "item", "score"] + (["title"] if rec.has_item_text else [])
    rows = [[str(r), item, f"{score:.4f}"] + ([_clip(rec.item_text(item))] if rec.has_item_text else [])
            for r, (item, score) in enumerate(items, start=1)]
    widths = [max(len(header[c]), *(len(row[c]) for row in rows)) for c in range(len(header))]
    right = {0, 2}  # rank and score right-aligned

    def line(cells: list[str]) -> str:
        out = [cell.rjust(widths[c]) if c in right else cell.ljust(widths[c]) for c, cell in enumerate(cells)]
        return "  ".join(out).rstrip()

    return "\n".join([line(header)] + [line(row) for row in rows])


def _clip(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 3] + "..."
