"""``gnnnas report DIR [--png] [--out FILE]``: rebuild a search's HTML report from its study storage."""

from __future__ import annotations

import argparse
from pathlib import Path

from gnnnas.errors import GnnnasError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the HTML report of a search (also while it runs)",
                       description="Rebuild DIR/report.html from the study storage of the search in DIR: "
                                   "history, leaderboard, learning curves, design-space analysis, cost, timeline "
                                   "and the winning architecture, in one file that opens offline.")
    p.add_argument("dir", metavar="DIR", help="the search's --out folder (it holds search.json)")
    p.add_argument("--out", default=None, metavar="FILE", help="where to write the report (default DIR/report.html)")
    p.add_argument("--png", action="store_true",
                   help="also write PNG images of the figures into REPORT-png/ next to the report "
                        "(needs kaleido and the Debian package chromium)")
    p.add_argument("--storage", default=None, metavar="URL", help="storage URL (default: from DIR/search.json)")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    if not folder.is_dir():
        raise GnnnasError(f"{folder}: no such folder; expected the --out folder of a gnnnas search")
    out = Path(args.out) if args.out else folder / "report.html"
    if out.exists() and out.is_dir():
        raise GnnnasError(f"--out {out}: is a folder; expected an .html file path")
    browser = None
    if args.png:  # before anything is read or written: a missing browser is a one-line error
        from gnnnas.report.png import check_png_support
        browser = check_png_support()
    from gnnnas.report.build import render, write_text
    from gnnnas.search.api import open_folder
    study, _, _ = open_folder(folder, args.storage)
    text, figures = render(study)
    write_text(text, out)
    print(f"wrote {out}")
    if browser is not None:
        from gnnnas.report.png import write_pngs
        folder = out.with_name(f"{out.stem}-png")
        paths = write_pngs(figures, folder, browser)
        print(f"wrote {len(paths)} PNG images to {folder}: {', '.join(p.name for p in paths)}")
    return 0
