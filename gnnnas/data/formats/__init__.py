"""Source formats (:data:`FORMATS`) and how a ``--data`` value is resolved to one.

Resolution order: a bundled dataset name; else the format named by
``options.format``; else the first format whose ``detect`` accepts the path,
in :data:`FORMATS` order.
"""

from __future__ import annotations

from pathlib import Path

from gnnnas.data.bundled import BUNDLED
from gnnnas.data.formats import bundled, lightgcn, movielens, recbole, tabular
from gnnnas.data.formats.base import Format
from gnnnas.data.options import DataOptions
from gnnnas.errors import GnnnasError

#: name -> format; the order is the path-detection order.
FORMATS: dict[str, Format] = {
    fmt.name: fmt
    for fmt in (bundled.FORMAT, lightgcn.FORMAT, movielens.FORMAT, recbole.FORMAT, tabular.FORMAT)
}


def _format_list() -> str:
    return ", ".join(FORMATS)


def resolve_source(source: str | Path, options: DataOptions) -> tuple[Format, Path]:
    """Pick the format of ``source``; bad or missing sources raise :class:`GnnnasError`."""
    text = str(source)
    if text in BUNDLED and options.format in (None, "bundled"):
        return FORMATS["bundled"], Path(text)
    if options.format is not None and options.format not in FORMATS:
        raise GnnnasError(f"unknown data format {options.format!r}; recognised formats: {_format_list()}")
    if options.format == "bundled":
        raise GnnnasError(f"unknown bundled dataset {text!r}; bundled datasets: {bundled.bundled_names()}")
    path = Path(text).expanduser()
    if not path.exists():
        raise GnnnasError(f"{text}: no such file or folder, and not a bundled dataset name "
                          f"(bundled datasets: {bundled.bundled_names()})")
    if path.is_file() and path.stat().st_size == 0:
        raise GnnnasError(f"{path}: file is empty")
    if options.format is not None:
        return FORMATS[options.format], path
    for fmt in FORMATS.values():
        if fmt.name != "bundled" and fmt.detect(path):
            return fmt, path
    what = "folder" if path.is_dir() else "file"
    raise GnnnasError(f"{path}: unrecognised data {what}; recognised formats: {_format_list()} "
                      "(see 'gnnnas datasets'); pass --format to choose one")


def describe_formats() -> str:
    """Human-readable list of the formats and bundled datasets (for ``gnnnas datasets``)."""
    lines = ["Formats (--format; detected from the path when not given):"]
    lines += [f"  {fmt.name:<10} {fmt.description}" for fmt in FORMATS.values()]
    lines.append("Bundled datasets (--data NAME):")
    lines += [f"  {ds.name:<14} {ds.description}" for ds in BUNDLED.values()]
    return "\n".join(lines)


__all__ = ["FORMATS", "Format", "describe_formats", "resolve_source"]
