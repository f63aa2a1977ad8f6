"""The controller interface: what proposes the next architecture of a search.

A controller turns the study's history into the next candidate. Every trial,
whoever proposed it, lives in one Optuna study (storage, leaderboard, report
and resume work the same for every controller): a controller's :meth:`ask`
returns a started ``optuna.Trial`` together with the architecture it stands
for, and :meth:`tell` hears how it ended. Adding a controller is one module
that subclasses :class:`Controller` and decorates it with
:func:`register_controller`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar, TypeVar

import optuna

from gnnnas.models.spec import ArchSpec
from gnnnas.space import SearchSpace


@dataclass(frozen=True)
class Suggestion:
    """One candidate: the running Optuna trial and the architecture its parameters describe.

    ``max_epochs`` is a multi-fidelity controller's training budget for this
    candidate (``None``: the search's own ``max_epochs``); ``prunable`` says
    whether the study's pruner may stop it early (multi-fidelity controllers
    decide budgets themselves).
    """

    trial: optuna.Trial
    spec: ArchSpec
    max_epochs: int | None = None
    prunable: bool = True


class Controller(ABC):
    """Proposes architectures from ``space`` for ``study``; one instance per worker process.

    ``seed`` makes a controller's proposals reproducible; ``max_epochs`` is
    the search's per-candidate training budget (multi-fidelity controllers
    spend fractions of it).
    """

    #: Registry name, e.g. ``optuna-tpe``.
    name: ClassVar[str]
    #: One line for ``gnnnas search --help`` and the controller list.
    description: ClassVar[str]
    #: True when the controller sets each candidate's budget itself (Hyperband, BOHB).
    multi_fidelity: ClassVar[bool] = False
    #: True when the controller can search several objectives at once (``--objectives``).
    multi_objective: ClassVar[bool] = False
    #: True when the study may hand out fixed first trials (the initial design, :mod:`gnnnas.search.initial`).
    initial_design: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, seed: int = 0, max_epochs: int = 50) -> None:
        self.space = space
        self.seed = seed
        self.max_epochs = max_epochs

    def sampler(self) -> optuna.samplers.BaseSampler:
        """The sampler this worker opens the study with (controllers that propose by other means keep random)."""
        return optuna.samplers.RandomSampler(seed=self.seed)

    @abstractmethod
    def ask(self, study: optuna.Study) -> Suggestion | None:
        """Start the next trial in ``study``; ``None`` when the controller has nothing left to propose."""

    def tell(self, suggestion: Suggestion, trial: optuna.trial.FrozenTrial) -> None:
        """Hear how ``suggestion`` ended (``trial.state``, ``trial.value``, ``trial.user_attrs``)."""


C = TypeVar("C", bound=type[Controller])

#: Controller name -> class of every imported controller module; filled by :func:`register_controller`.
#: Look controllers up in :data:`gnnnas.search.controllers.CONTROLLERS`, which also imports lazy ones.
REGISTERED: dict[str, type[Controller]] = {}


def register_controller(cls: C) -> C:
    """Class decorator adding a controller to :data:`REGISTERED` under its ``name``."""
    if cls.name in REGISTERED:
        raise ValueError(f"controller {cls.name!r} registered twice")
    REGISTERED[cls.name] = cls
    return cls


ControllerFactory = Callable[[SearchSpace, int, int], Controller]
