"""Static PNG images of the report's figures (``gnnnas report DIR --png``), drawn by kaleido in Chromium.

Kaleido v1 drives an installed Chrome/Chromium; this module points it at
the system's (Debian package ``chromium``) and never lets it download one.
plotly.js comes from the installed plotly package and MathJax is off, so no
network is needed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import plotly.graph_objects as go

from gnnnas.errors import GnnnasError
from gnnnas.report.style import Empty

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
WIDTH = 1300  # pixels of every image (the report's content width); heights are the figures' own


def find_browser() -> str | None:
    """Chromium or Chrome: ``$BROWSER_PATH`` when set (kaleido's own override), else the first on PATH."""
    explicit = os.environ.get("BROWSER_PATH")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def check_png_support() -> str:
    """The browser kaleido will use; a :class:`GnnnasError` saying what to install when something is missing."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise GnnnasError("--png needs the kaleido package: pip install 'gnnnas[report-png]' "
                          "(and the Debian package chromium)") from None
    browser = find_browser()
    if browser is None:
        where = f" (BROWSER_PATH={os.environ['BROWSER_PATH']} is not a file)" if os.environ.get("BROWSER_PATH") else ""
        raise GnnnasError(f"--png needs Chromium{where}: install it with apt-get install chromium "
                          "(or set BROWSER_PATH to a Chrome/Chromium binary)")
    return browser


def write_pngs(figures: dict[str, go.Figure | Empty], folder: Path, browser: str) -> list[Path]:
    """``folder/<name>.png`` for every drawn figure (placeholders have no image), in one browser session."""
    import kaleido
    folder.mkdir(parents=True, exist_ok=True)
    jobs, paths = [], []
    for name, fig in figures.items():
        if not isinstance(fig, go.Figure):
            continue
        path = folder / f"{name}.png"
        width = fig.layout.width or WIDTH
        jobs.append({"fig": fig, "path": path, "opts": {"format": "png", "width": width,
                                                         "height": fig.layout.height or 450, "scale": 1.5}})
        paths.append(path)
    if not jobs:
        return []
    errors = kaleido.write_fig_from_object_sync(jobs, kopts={"path": browser, "mathjax": False, "timeout": 120})
    if errors:
        raise GnnnasError(f"--png: kaleido could not draw {len(errors)} figure(s): {errors[0]}")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise GnnnasError(f"--png: kaleido wrote no {missing[0].name}")
    return paths
