"""Datasets shipped with the package, addressed by name (``--data online-retail``)."""

from __future__ import annotations

from pathlib import Path

from gnnnas.data.bundled import BUNDLED
from gnnnas.data.formats.base import Format
from gnnnas.data.options import DataOptions
from gnnnas.data.raw import RawData
from gnnnas.errors import GnnnasError


def bundled_names() -> str:
    return ", ".join(sorted(BUNDLED))


def detect(path: Path) -> bool:
    return str(path) in BUNDLED


def _dataset(path: Path):
    name = str(path)
    if name not in BUNDLED:
        raise GnnnasError(f"unknown bundled dataset {name!r}; bundled datasets: {bundled_names()}")
    return BUNDLED[name]


def files(path: Path, options: DataOptions) -> list[Path]:
    dataset = _dataset(path)
    for file in dataset.files:
        if not file.is_file():
            raise GnnnasError(f"{file}: bundled file of {dataset.name!r} is missing; reinstall gnnnas")
    return list(dataset.files)


def load(path: Path, options: DataOptions) -> RawData:
    files(path, options)
    return _dataset(path).loader(options)


FORMAT = Format(
    name="bundled",
    description="a dataset shipped with gnnnas, by name: " + bundled_names(),
    detect=detect,
    load=load,
    files=files,
)
