"""The initial design: presets a new study trains first, before its controller proposes anything.

A sampler starting from nothing spends its first trials on random draws
(TPE's start-up trials, NSGA-II's first generation). A space's
``search.initial`` (or ``--initial``) names architectures from
:data:`~gnnnas.models.presets.PRESETS` that are points of the space, the
field's known-good baselines such as LightGCN and MF, optionally with their
training knobs set for the search (:class:`~gnnnas.space.settings.InitialPoint`:
a paper's learning rate is tuned for hundreds of epochs); a new study enqueues
them (``study.enqueue_trial``) with the parameters the space would sample
them under, so they are ordinary trials of the study: the sampler learns
from them, the pruner judges them and the leaderboard ranks them. Only a
new study enqueues (a resumed one or a joining worker never repeats them),
and only for controllers that take fixed first trials (the Optuna ones; NNI
tuners propose every trial by their own algorithm).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import optuna

from gnnnas.errors import GnnnasError
from gnnnas.models.presets import PRESETS
from gnnnas.search.controllers.base import Controller
from gnnnas.space import SearchSpace
from gnnnas.space.settings import InitialPoint
from gnnnas.space.source import SpaceError

#: User attr of an enqueued trial: the preset it trains.
INITIAL_ATTR = "initial"
#: User attr of a warm-up trial (:mod:`gnnnas.search.warm_up`): the sub-space it was drawn in.
WARM_UP_ATTR = "warm_up"


def resolve_initial(requested: str | Sequence[str] | None, space: SearchSpace,
                    controller: Controller) -> tuple[InitialPoint, ...]:
    """What to enqueue: ``requested`` (preset names as they are defined, ``"a,b"`` or ``"none"``) or else
    the space's ``search.initial``.

    An explicit request that the space or controller cannot honour is an
    error; the space's own list is skipped for controllers that take no
    fixed trials.
    """
    if requested is None:
        return space.search.initial if controller.initial_design else ()
    names = [n.strip() for n in requested.split(",")] if isinstance(requested, str) else [str(n) for n in requested]
    if names in (["none"], [""], []):
        return ()
    if not controller.initial_design:
        raise GnnnasError(f"--initial {','.join(names)}: controller {controller.name} proposes every trial itself; "
                          "use an optuna-* controller or --initial none")
    for name in names:
        if name not in PRESETS:
            raise GnnnasError(f"--initial {name!r}: unknown preset; expected names from {', '.join(PRESETS)} or none")
        try:
            space.params_of(PRESETS[name].spec, name)
        except SpaceError as err:
            raise GnnnasError(f"--initial {name!r}: preset not in space {space.name}: {err.problem}") from None
    if len(set(names)) != len(names):
        raise GnnnasError(f"--initial {','.join(names)}: a preset is listed twice; expected distinct presets")
    return tuple(InitialPoint(name) for name in names)


def enqueue_initial(study: optuna.Study, space: SearchSpace, points: Sequence[InitialPoint]) -> None:
    """Queue ``points`` as the study's next trials, in order (``study.ask()`` hands them out first)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for point in points:
            study.enqueue_trial(space.params_of(point.spec(), point.preset), user_attrs={INITIAL_ATTR: point.label},
                                skip_if_exists=True)


def proposed_by(attrs: dict) -> str | None:
    """Who proposed a trial, for leaderboards: its controller, marked when it was an initial-design preset
    or a warm-up trial."""
    controller = attrs.get("controller")
    if attrs.get(INITIAL_ATTR):
        return f"{controller} (initial {attrs[INITIAL_ATTR]})"
    return f"{controller} (warm-up {attrs[WARM_UP_ATTR]})" if attrs.get(WARM_UP_ATTR) else controller
