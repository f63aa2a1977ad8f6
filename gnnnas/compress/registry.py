"""The compression methods by name."""

from __future__ import annotations

from gnnnas.compress import distill, fp16, int8, prune
from gnnnas.compress.base import Method
from gnnnas.errors import GnnnasError

METHODS: dict[str, Method] = {m.name: m for m in (int8.METHOD, fp16.METHOD, prune.METHOD, distill.METHOD)}


def get_method(name: str) -> Method:
    """The method called ``name``; an unknown name is a :class:`GnnnasError` listing the known ones."""
    if name not in METHODS:
        raise GnnnasError(f"--method {name!r}: unknown compression method; expected one of {', '.join(METHODS)}")
    return METHODS[name]
