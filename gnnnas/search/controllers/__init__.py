"""Search controllers: :class:`Controller` implementations, registered by name in :data:`CONTROLLERS`.

Importing this package registers the Optuna controllers and, when the ``nni``
package is installed, the NNI ones.
"""

from gnnnas.search.controllers.base import CONTROLLERS, Controller, Suggestion, register_controller
from gnnnas.search.controllers import optuna_controllers  # noqa: F401  (registers optuna-*)

_OPTIONAL = ("gnnnas.search.controllers.nni_tuners", "gnnnas.search.controllers.nni_hyperband")


def _import_optional() -> None:
    import importlib
    for module in _OPTIONAL:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            # Skip only a missing nni package or a module not written yet; any other missing
            # import inside these modules is a bug and must surface.
            if err.name != "nni" and not (err.name or "").startswith("nni.") and err.name not in _OPTIONAL:
                raise


_import_optional()

__all__ = ["CONTROLLERS", "Controller", "Suggestion", "register_controller"]
