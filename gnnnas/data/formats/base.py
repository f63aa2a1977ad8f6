"""The :class:`Format` record every loader module registers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from gnnnas.data.options import DataOptions
    from gnnnas.data.raw import RawData


@dataclass(frozen=True)
class Format:
    """A source format: how to recognise it, which files it reads, how to parse it.

    ``files`` lists the files ``load`` would read, without parsing them, so the
    cache fingerprint can be computed before deciding to parse.
    """

    name: str
    description: str
    detect: Callable[[Path], bool]
    load: Callable[[Path, "DataOptions"], "RawData"]
    files: Callable[[Path, "DataOptions"], list[Path]]
