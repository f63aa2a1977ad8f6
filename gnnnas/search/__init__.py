"""Architecture search: controllers, pruners, trial execution, storage, leaderboard.

``gnnnas.search`` is also callable: ``gnnnas.search(space="tiny", trials=10)``
is :func:`gnnnas.search.api.search` (the package and the function share the
name, so the package module itself forwards calls).
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["search", "join", "SearchResult"]


def __getattr__(name: str) -> Any:
    if name in ("search", "join", "SearchResult"):
        from gnnnas.search import api
        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any):
        """Run a search: see :func:`gnnnas.search.api.search`."""
        from gnnnas.search.api import search
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
