"""``gnnnas spaces``, ``gnnnas space show`` and ``gnnnas space sample``."""

from __future__ import annotations

import argparse

from gnnnas.models.presets import PRESETS
from gnnnas.space import FIELDS, SearchSpace, list_spaces, load_space
from gnnnas.space.distributions import Fixed
from gnnnas.space.space import PRESET_PARAM


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("spaces", help="list bundled search spaces")
    p.set_defaults(func=_spaces)

    p = sub.add_parser("space", help="inspect a search space")
    space_sub = p.add_subparsers(dest="space_command", metavar="ACTION", required=True)
    show = space_sub.add_parser("show", help="dimensions, conditions and search settings of a space")
    show.add_argument("space", metavar="NAME|PATH", help="bundled space name or .yaml file path")
    show.set_defaults(func=_show)
    sample = space_sub.add_parser("sample", help="draw random architectures from a space")
    sample.add_argument("space", metavar="NAME|PATH", help="bundled space name or .yaml file path")
    sample.add_argument("-n", "--num", type=int, default=5, help="how many (default 5)")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sample.add_argument("--json", action="store_true", help="one ArchSpec JSON object per line")
    sample.set_defaults(func=_sample)


def format_count(space: SearchSpace) -> str:
    """``1,234`` or ``1,234 (+2 float dims)``: float ranges count once in :meth:`SearchSpace.count`.

    Presets are included in the count (one each).
    """
    text = f"{space.count():,}"
    return f"{text} (+{len(space.continuous)} float dims)" if space.searched and space.continuous else text


def _spaces(args: argparse.Namespace) -> int:
    rows = [(name, format_count(space), space.description)
            for name, space in ((n, load_space(n)) for n in list_spaces())]
    _table([("NAME", "ARCHITECTURES", "DESCRIPTION"), *rows])
    return 0


def _show(args: argparse.Namespace) -> int:
    space = load_space(args.space)
    notes = []
    if space.presets:
        notes.append(f"includes {len(space.presets)} presets" if space.searched else "presets only")
    if space.searched and space.continuous:
        notes.append(f"float ranges {', '.join(space.continuous)} counted once each")
    header = [("space", space.name), ("description", space.description), ("file", str(space.path)),
              ("architectures", f"{space.count():,}" + (f" ({'; '.join(notes)})" if notes else ""))]
    if space.presets:
        choices = f", choices {', '.join(space.preset_choices)}" if space.searched else ""
        header.append(("presets", f"{', '.join(space.presets)} (parameter {PRESET_PARAM!r}{choices})"))
    width = max(len(k) for k, _ in header)
    for key, value in header:
        print(f"{key:<{width}}  {value}")
    print()
    if space.presets:
        _table([("PRESET", "DESCRIPTION"), *((name, PRESETS[name].description) for name in space.presets)])
        print()
    if space.searched:
        _show_dimensions(space)
    else:
        print("searched: nothing (no architecture, layers or training section; the space is its presets)")
    s = space.search
    initial = f", first trials {', '.join(p.label for p in s.initial)} (initial design)" if s.initial else ""
    warm = f", warm-up in {s.warm_up.space} for {s.warm_up.share:.0%} of the budget" if s.warm_up else ""
    print(f"search: max_epochs {s.max_epochs}, patience {s.patience}, eval_every {s.eval_every}, "
          f"metric {s.metric}{initial}{warm}")
    return 0


def _show_dimensions(space: SearchSpace) -> None:
    rows = [("DIMENSION", "SECTION", "TYPE", "VALUES", "PER LAYER", "WHEN")]
    for dim in sorted(space.declared, key=lambda d: list(FIELDS).index(d.name)):
        when = " and ".join(c.describe() + (" (implied)" if c.implicit else "") for c in dim.conditions)
        rows.append((dim.name, dim.field.section, dim.distribution.kind, dim.distribution.describe(),
                     dim.mode if dim.is_layer and not isinstance(dim.distribution, Fixed) else "-", when or "-"))
    _table(rows)
    defaults = [f"{d.name}={d.distribution.describe()}" for d in space.dimensions if not d.declared]
    if defaults:
        print(f"\ndefaults: {', '.join(defaults)}")


def _sample(args: argparse.Namespace) -> int:
    space = load_space(args.space)
    for spec in space.sample_random(max(args.num, 0), args.seed):
        print(spec.to_json() if args.json else spec)
    return 0


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
