"""Search controllers: :class:`Controller` implementations, registered by name in :data:`CONTROLLERS`.

Importing this package registers the Optuna controllers. The NNI ones are
listed when the ``nni`` package is installed but imported only when one is
looked up: ``import nni`` costs about a second, which every ``gnnnas``
command would otherwise pay whether or not it uses NNI.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator, Mapping

from gnnnas.search.controllers.base import REGISTERED, Controller, Suggestion, register_controller
from gnnnas.search.controllers import optuna_controllers  # noqa: F401  (registers optuna-*)

#: Controllers whose module needs an optional package: name -> (module, package it needs).
LAZY: dict[str, tuple[str, str]] = {
    **{name: ("gnnnas.search.controllers.nni_tuners", "nni")
       for name in ("nni-tpe", "nni-random", "nni-evolution", "nni-grid")},
    **{name: ("gnnnas.search.controllers.nni_hyperband", "nni") for name in ("nni-hyperband", "nni-bohb")},
}


class ControllerRegistry(Mapping[str, type[Controller]]):
    """Controller name -> class: the registered controllers, plus the lazy ones whose package is installed.

    Looking a lazy name up imports its module (which registers it); names,
    ``in`` and ``len`` never import anything.
    """

    def __init__(self, registered: dict[str, type[Controller]], lazy: dict[str, tuple[str, str]]) -> None:
        self._registered = registered
        self._lazy = {name: module for name, (module, package) in lazy.items()
                      if importlib.util.find_spec(package) is not None}

    def _names(self) -> list[str]:
        return list(dict.fromkeys([*self._registered, *self._lazy]))

    def __getitem__(self, name: str) -> type[Controller]:
        if name not in self._registered and name in self._lazy:
            importlib.import_module(self._lazy[name])
            if name not in self._registered:
                raise RuntimeError(f"{self._lazy[name]} did not register controller {name!r}")
        return self._registered[name]

    def __contains__(self, name: object) -> bool:
        return name in self._registered or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


#: Every available controller by name; see :class:`ControllerRegistry`.
CONTROLLERS = ControllerRegistry(REGISTERED, LAZY)

__all__ = ["CONTROLLERS", "LAZY", "Controller", "ControllerRegistry", "Suggestion", "register_controller"]
