"""NNI tuners as controllers, in-process: ``nni-tpe``, ``nni-random``, ``nni-evolution``, ``nni-grid``.

No NNI manager, web UI or experiment is started and nothing is written to
``~/nni-experiments`` or the working directory: each controller holds an
NNI tuner object and calls its ``update_search_space`` /
``generate_parameters`` / ``receive_trial_result`` directly. The tuner
sees the space in NNI's flat format (:mod:`.nni_space`).

From NNI's suggestion to a trial of the shared Optuna study
-------------------------------------------------------------
Every trial lives in the one Optuna study, like the trials of every other
controller. :meth:`NNIController.ask`

1. asks the tuner for a parameter set (NNI's ``parameter_id`` + dict),
2. turns it into the space's values (:func:`.nni_space.from_nni_params`)
   and builds the architecture from them (a replay, so an out-of-domain
   value fails here, before a trial exists); only the *active* parameters
   (those the architecture reads) will become trial parameters,
3. ``study.ask()``, then :meth:`SearchSpace.sample` on that trial, whose
   ``suggest_*`` calls are answered by this worker's sampler
   (:class:`PinnedSampler`, what :meth:`Controller.sampler` returns, so the
   study must be opened with it) from the values pinned for that trial id;
4. records user attrs ``controller``, ``nni_parameter_id`` and
   ``nni_params`` (NNI's whole suggestion, inactive parameters included,
   as plain JSON values).

Why a pinned sampler rather than ``study.enqueue_trial`` + ``study.ask()``:
the queue of WAITING trials is shared by every worker of the study, and
``ask()`` pops the OLDEST waiting trial, whoever enqueued it. With two
workers on one storage, worker A can pop worker B's enqueued trial (and B
then A's, or a fresh one), so A would run B's tuner's suggestion and each
tuner would be told the result of a configuration it did not propose. (On a
local SQLite/journal storage the search engine's budget lock happens to
serialise enqueue+ask; on PostgreSQL nothing does.) Pinning values per
trial id inside the worker's own sampler involves no shared state, so it
cannot race. (Optuna 5.0 itself is fine with enqueued parameters that are
never suggested: they stay in the ``fixed_params`` system attr, silently.)
The check in step 3 stays: if ``ask()`` pops a WAITING trial that someone
enqueued (its fixed parameters win over any sampler), the trial's
parameters differ from NNI's; that trial is then run as it is (it is
RUNNING and belongs to this worker now) without NNI attrs, and NNI's
suggestion is kept for the next ``ask``.

Each worker process runs its own tuner: NNI tuners keep their history in
memory, so two workers of one study learn from their own trials only (the
study holds everything), and a resumed study starts a fresh tuner.

Results back to NNI
-------------------
:meth:`NNIController.tell` hands NNI one final value per trial, on the
study's direction (tuners run with ``optimize_mode`` from the study):

* COMPLETE: ``trial.value``;
* PRUNED (a pruner stopped it; only single-fidelity controllers are
  prunable): its best intermediate value, the best it showed before being
  stopped, else the failure value;
* FAIL: :data:`FAILED_VALUE` (``-1e9`` when maximising, ``+1e9`` when
  minimising): worse than any real metric, but finite, because NNI's
  tuners average and subtract values (TPE's liar, BOHB's KDE losses).

A suggestion whose trial ended without ``tell`` (e.g. the search engine
closed it at once as over budget) is told from the study at the next
``ask``: Hyperband and BOHB would otherwise wait for it forever.

Duplicates: NNI deduplicates its flat parameter dicts, but two dicts that
differ only in inactive parameters are the same architecture. ``nni-grid``
skips such repeats (exhausting a finite space means every architecture
once); ``nni-tpe``/``nni-evolution``/``nni-random`` hand the tuner the value
this controller already got for that architecture and draw again (up to
:attr:`NNIController.max_repeats` times in a row), so repeats do not use up
trials of the budget.

Reproducibility: TPE and Random take a seed; Evolution's ``RandomState`` is
re-seeded and its uses of the global ``random`` module run inside
:class:`GlobalRng`, which swaps in this controller's own ``random`` and
``numpy.random`` states around every call into NNI and restores the
process's afterwards (NNI code is never run on the process's global RNG).
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import optuna
from optuna.trial import TrialState

import nni
from nni.runtime.log import silence_stdout

from gnnnas.errors import GnnnasError
from gnnnas.search.controllers.base import Controller, Suggestion, register_controller
from gnnnas.search.controllers.nni_space import from_nni_params, to_nni_space
from gnnnas.space import SearchSpace
from gnnnas.space.space import PRESET_PARAM
from gnnnas.space.trials import ReplayTrial


def quiet_nni() -> None:
    """Stop NNI's console logging (it adds a stdout handler to the ``nni`` logger at import).

    NNI's algorithms log their internals at INFO and WARNING (e.g. BOHB's
    "sampled vector ... has EI value nan", which it then handles); only
    errors still propagate to the application's logging (the root logger).
    """
    silence_stdout()
    logging.getLogger("nni").setLevel(logging.ERROR)


quiet_nni()

#: Magnitude of the value NNI is told for a FAILED trial (negated when the study maximises).
FAILED_VALUE = 1e9


class GlobalRng:
    """This controller's own ``random`` and ``numpy.random`` global states, swapped in by ``with``.

    Some NNI algorithms (Evolution, BOHB's config generator, scipy draws
    inside it) use the process-global RNGs; inside ``with rng:`` they see a
    stream seeded by the controller, and the process's own states are
    restored on exit.
    """

    def __init__(self, seed: int) -> None:
        saved = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed % 2**32)
        self._mine = random.getstate(), np.random.get_state()
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        self._saved: tuple[Any, Any] | None = None
        self._depth = 0

    def __enter__(self) -> "GlobalRng":
        if self._depth == 0:  # re-entrant: nested uses keep the outer swap
            self._saved = random.getstate(), np.random.get_state()
            random.setstate(self._mine[0])
            np.random.set_state(self._mine[1])
        self._depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._mine = random.getstate(), np.random.get_state()
            random.setstate(self._saved[0])
            np.random.set_state(self._saved[1])
            self._saved = None


class PinnedSampler(optuna.samplers.BaseSampler):
    """Answers the ``suggest_*`` calls of a trial from values pinned for its trial id.

    Trials without pinned values (or names not pinned) are sampled by a
    seeded :class:`optuna.samplers.RandomSampler`.
    """

    def __init__(self, seed: int = 0) -> None:
        self._pins: dict[int, dict[str, Any]] = {}
        self._fallback = optuna.samplers.RandomSampler(seed=seed)

    def pin(self, trial_id: int, params: dict[str, Any]) -> None:
        self._pins[trial_id] = params

    def unpin(self, trial_id: int) -> None:
        self._pins.pop(trial_id, None)

    def infer_relative_search_space(self, study, trial):  # noqa: ANN001 - optuna's signature
        return {}

    def sample_relative(self, study, trial, search_space):  # noqa: ANN001
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):  # noqa: ANN001
        pinned = self._pins.get(trial._trial_id)
        if pinned is not None and param_name in pinned:
            value = pinned[param_name]
            if not param_distribution._contains(param_distribution.to_internal_repr(value)):
                raise ValueError(f"pinned value {param_name}={value!r} is outside {param_distribution}")
            return value
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:
        self._fallback.reseed_rng()


@dataclass
class Proposal:
    """One NNI suggestion on its way to (or in) a trial."""

    parameter_id: Any
    raw: dict[str, Any]                        # as NNI gave it (multi-fidelity budget key removed)
    max_epochs: int | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    # filled by NNIController._prepare:
    params: dict[str, Any] = field(default_factory=dict)    # every parameter, the space's values
    active: dict[str, Any] = field(default_factory=dict)    # the ones the architecture reads
    key: str = ""
    trial_id: int | None = None


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}


class NNIController(Controller):
    """Shared machinery of the NNI controllers: proposal -> trial, results -> NNI.

    Subclasses implement :meth:`_start` (build the NNI algorithm once the
    study's direction is known), :meth:`_draw` (the next :class:`Proposal`
    or ``None`` when NNI has nothing more) and :meth:`_report` (hand NNI
    one final value).
    """

    #: How many architectures already evaluated may be answered from memory in a row before one
    #: is run again anyway (the search engine then reuses its recorded result).
    max_repeats: int = 50
    #: True: a repeated architecture is skipped without telling NNI (grid search).
    skip_repeats_silently: bool = False

    def __init__(self, space: SearchSpace, seed: int = 0, max_epochs: int = 50) -> None:
        super().__init__(space, seed, max_epochs)
        self.nni_space = to_nni_space(space)
        self._pinned = PinnedSampler(seed)
        self.rng = GlobalRng(seed)
        self.maximize: bool | None = None       # set at the first ask, from the study
        self._running: dict[int, Proposal] = {}  # trial number -> its proposal
        self._backlog: deque[Proposal] = deque()
        self._values: dict[tuple[str, int | None], float] = {}   # (spec key, budget) -> value told
        self._seen: set[tuple[str, int | None]] = set()

    # --- the Controller interface --------------------------------------
    def sampler(self) -> optuna.samplers.BaseSampler:
        """The worker's study must be opened with this sampler: it answers the trials' suggest calls."""
        return self._pinned

    def ask(self, study: optuna.Study) -> Suggestion | None:
        self._check_study(study)
        self._reconcile(study)
        repeats = 0
        while True:
            proposal = self._backlog.popleft() if self._backlog else self._next_proposal()
            if proposal is None:
                return None
            seen_key = (proposal.key, proposal.max_epochs)
            if not self.multi_fidelity and seen_key in self._seen:
                if self.skip_repeats_silently:
                    continue
                if seen_key in self._values and repeats < self.max_repeats:
                    repeats += 1
                    with self.calling_nni():
                        self._report(proposal, self._values[seen_key], True)
                    continue
            return self._start_trial(study, proposal)

    def tell(self, suggestion: Suggestion | None, trial: optuna.trial.FrozenTrial) -> None:
        proposal = self._running.pop(trial.number, None)
        if proposal is None:
            return  # not proposed by this controller (or told already)
        value, success = self._final_value(trial)
        self._values[(proposal.key, proposal.max_epochs)] = value
        with self.calling_nni():
            self._report(proposal, value, success)

    # --- hooks -----------------------------------------------------------
    def _start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _draw(self) -> Proposal | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _report(self, proposal: Proposal, value: float, success: bool) -> None:  # pragma: no cover
        raise NotImplementedError

    # --- machinery -------------------------------------------------------
    @contextlib.contextmanager
    def calling_nni(self) -> Iterator[None]:
        """Around every call into NNI: this controller's global RNG states, and NNI's dependencies quiet.

        ConfigSpace 1.x deprecates the API NNI's BOHB uses, json-tricks warns
        whenever NNI serialises a numpy scalar, statsmodels about a future
        default, and BOHB's KDE divides by zero when all good configurations
        share a categorical value (NNI then handles the non-finite score):
        none of it is the user's concern.
        """
        with self.rng, warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message="json-tricks: numpy scalar serialization")
            # statsmodels (BOHB's KDE) announces a future change of its default RNG; the
            # 'normal_reference' bandwidth BOHB uses draws nothing from it.
            warnings.filterwarnings("ignore", category=FutureWarning, message=r"After 0\.17 or January 2028")
            yield

    @property
    def optimize_mode(self) -> str:
        return "maximize" if self.maximize else "minimize"

    @property
    def failed_value(self) -> float:
        return -FAILED_VALUE if self.maximize else FAILED_VALUE

    def _check_study(self, study: optuna.Study) -> None:
        if len(study.directions) > 1:
            raise GnnnasError(f"{self.name} optimises one objective; this study has {len(study.directions)}")
        if study.sampler is not self._pinned:
            raise ValueError(f"{self.name}: open the study with this controller's sampler "
                             "(optuna.load_study(..., sampler=controller.sampler())); it answers the "
                             "trials' suggest calls with NNI's values")
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        if self.maximize is None:
            self.maximize = maximize
            with self.calling_nni():
                self._start()
        elif self.maximize != maximize:
            raise ValueError(f"{self.name}: one controller serves one study direction")

    def _next_proposal(self) -> Proposal | None:
        with self.calling_nni():
            proposal = self._draw()
        if proposal is not None:
            self._prepare(proposal)
        return proposal

    def _prepare(self, proposal: Proposal) -> None:
        proposal.params = from_nni_params(self.space, proposal.raw)
        replay = ReplayTrial(proposal.params, f"{self.name} suggestion {proposal.parameter_id}")
        proposal.key = self.space.sample(replay).key()
        proposal.active = dict(replay.params)

    def _start_trial(self, study: optuna.Study, proposal: Proposal) -> Suggestion:
        trial = study.ask()
        self._pinned.pin(trial._trial_id, proposal.active)
        try:
            spec = self.space.sample(trial)
        finally:
            self._pinned.unpin(trial._trial_id)
        if trial.params != proposal.active:
            # A WAITING trial someone enqueued was popped: its fixed parameters answered, not ours.
            # Run it as it is; NNI's suggestion waits for the next ask.
            self._backlog.appendleft(proposal)
            return Suggestion(trial=trial, spec=spec)
        trial.set_user_attr("controller", self.name)
        trial.set_user_attr("nni_parameter_id", proposal.parameter_id)
        trial.set_user_attr("nni_params", _jsonable(proposal.params))
        for name, value in proposal.attrs.items():
            trial.set_user_attr(name, value)
        proposal.trial_id = trial._trial_id
        self._running[trial.number] = proposal
        self._seen.add((proposal.key, proposal.max_epochs))
        return Suggestion(trial=trial, spec=spec, max_epochs=proposal.max_epochs,
                          prunable=not self.multi_fidelity)

    def _reconcile(self, study: optuna.Study) -> None:
        """Tell NNI about trials of ours that finished without :meth:`tell` (closed by someone else)."""
        for number, proposal in list(self._running.items()):
            frozen = study._storage.get_trial(proposal.trial_id)
            if frozen.state.is_finished():
                self.tell(None, frozen)

    def _final_value(self, trial: optuna.trial.FrozenTrial) -> tuple[float, bool]:
        if trial.state == TrialState.COMPLETE and trial.value is not None and math.isfinite(trial.value):
            return float(trial.value), True
        if trial.state == TrialState.PRUNED:
            values = [v for v in trial.intermediate_values.values() if v is not None and math.isfinite(v)]
            if values:
                return float(max(values) if self.maximize else min(values)), True
        return self.failed_value, False


# --- tuner-based controllers ---------------------------------------------------
class _TunerController(NNIController):
    """A controller around one ``nni.tuner.Tuner`` (``generate_parameters`` / ``receive_trial_result``)."""

    def __init__(self, space: SearchSpace, seed: int = 0, max_epochs: int = 50) -> None:
        super().__init__(space, seed, max_epochs)
        self.tuner: Any = None
        self._next_id = 0

    def make_tuner(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _start(self) -> None:
        self.tuner = self.make_tuner()
        self.tuner.update_search_space(self.nni_space)

    def _draw(self) -> Proposal | None:
        pid = self._next_id
        try:
            raw = self.tuner.generate_parameters(pid)
        except nni.NoMoreTrialError:
            return None
        self._next_id += 1
        return Proposal(parameter_id=pid, raw=dict(raw))

    def _report(self, proposal: Proposal, value: float, success: bool) -> None:
        self.tuner.receive_trial_result(proposal.parameter_id, proposal.raw, value)
        self.tuner.trial_end(proposal.parameter_id, success)


class ResamplingDedup:
    """Stands in for a tuner's ``Deduplicator``: a repeated parameter set is drawn again first.

    NNI's Deduplicator answers a repeat with the next unexplored point of a
    grid search that starts at the space's first corner (every first
    choice), so a tuner that keeps proposing its favourite (TPE does, on
    small discrete spaces) degenerates into enumerating that corner. This
    wrapper first tries ``attempts``: ``(draw, times)`` pairs, each draw a
    fresh parameter set in NNI's internal format (TPE's own sampling again,
    then uniform random), and only then falls back to NNI's grid (which
    raises ``NoMoreTrialError`` once everything was proposed).
    """

    def __init__(self, dedup: Any, attempts: list[tuple[Callable[[], dict], int]]) -> None:
        self.dedup = dedup
        self.attempts = attempts

    def __call__(self, formatted: dict) -> dict:
        if self.dedup._never_dup or self.dedup._not_dup(formatted):
            return formatted
        for draw, times in self.attempts:
            for _ in range(times):
                candidate = draw()
                if self.dedup._not_dup(candidate):
                    return candidate
        return self.dedup(formatted)


def _finite_size(space: SearchSpace) -> int | None:
    return int(space.count()) if space.is_finite else None


@register_controller
class NNITPEController(_TunerController):
    name = "nni-tpe"
    description = ("NNI's Tree-structured Parzen Estimator (in-process), per-parameter models over the flat "
                   "space; random for the first min(10, |space|/10) trials")

    def __init__(self, space: SearchSpace, seed: int = 0, max_epochs: int = 50, *,
                 n_startup_jobs: int | None = None) -> None:
        super().__init__(space, seed, max_epochs)
        size = _finite_size(space)
        self.n_startup_jobs = n_startup_jobs if n_startup_jobs is not None else (
            10 if size is None else min(10, max(2, size // 10)))

    #: On a repeated parameter set: TPE's own sampling this many times, then uniform random draws.
    resample_tpe, resample_random = 5, 100

    def make_tuner(self) -> Any:
        from nni.algorithms.hpo.tpe_tuner import TpeTuner
        return TpeTuner(optimize_mode=self.optimize_mode, seed=self.seed,
                        tpe_args={"n_startup_jobs": self.n_startup_jobs})

    def _start(self) -> None:
        super()._start()
        from nni.algorithms.hpo import random_tuner, tpe_tuner
        t = self.tuner
        # No running parameter sets at ask time (one trial at a time per worker): TPE's history as is.
        t.dedup = ResamplingDedup(t.dedup, [
            (lambda: tpe_tuner.suggest(t.args, t.rng, t.space, t._history), self.resample_tpe),
            (lambda: random_tuner.suggest(t.rng, t.space), self.resample_random)])


@register_controller
class NNIRandomController(_TunerController):
    name = "nni-random"
    description = "NNI's random tuner (in-process): uniform over the flat space, no repeated parameter sets"

    #: On a repeated parameter set: this many fresh uniform draws before NNI's grid fallback.
    resample_random = 100

    def make_tuner(self) -> Any:
        from nni.algorithms.hpo.random_tuner import RandomTuner
        return RandomTuner(seed=self.seed)

    def _start(self) -> None:
        super()._start()
        from nni.algorithms.hpo import random_tuner
        t = self.tuner
        t.dedup = ResamplingDedup(t.dedup, [(lambda: random_tuner.suggest(t.rng, t.space), self.resample_random)])


@register_controller
class NNIEvolutionController(_TunerController):
    name = "nni-evolution"
    description = ("NNI's naive evolution (in-process): a random population, then tournament of two + "
                   "one-parameter mutation; population 8 for small budgets")

    def __init__(self, space: SearchSpace, seed: int = 0, max_epochs: int = 50, *,
                 population_size: int | None = None) -> None:
        super().__init__(space, seed, max_epochs)
        size = _finite_size(space)
        self.population_size = population_size if population_size is not None else (
            8 if size is None else max(2, min(8, size)))

    def make_tuner(self) -> Any:
        from nni.algorithms.hpo.evolution_tuner import EvolutionTuner
        return EvolutionTuner(optimize_mode=self.optimize_mode, population_size=self.population_size)

    def _start(self) -> None:
        super()._start()
        # update_search_space drew the first population with an unseeded RandomState: seed and redraw.
        self.tuner.random_state = np.random.RandomState(self.seed % 2**32)
        self.tuner.population = []
        for _ in range(self.population_size):
            self.tuner._random_generate_individual()

    def _report(self, proposal: Proposal, value: float, success: bool) -> None:
        # No trial_end: it would count a trial the tuner never counted as running (and, for a failure,
        # drop an individual receive_trial_result already moved to the population).
        self.tuner.receive_trial_result(proposal.parameter_id, proposal.raw, value)


@register_controller
class NNIGridController(_TunerController):
    name = "nni-grid"
    description = ("NNI's grid search (in-process): every architecture of a finite space once, then stop "
                   "(spaces without float ranges only)")
    skip_repeats_silently = True

    def __init__(self, space: SearchSpace, seed: int = 0, max_epochs: int = 50) -> None:
        if not space.is_finite:
            raise GnnnasError(f"{self.name} needs a space without float ranges; {space.label} has "
                              f"{', '.join(space.continuous)} (list the values as choices, e.g. "
                              f"lr: [1.0e-3, 1.0e-2], or use another controller)")
        super().__init__(space, seed, max_epochs)
        # The grid varies the LAST parameter fastest. Parameters that decide what else is active go
        # last (the global ones, num_layers among them, then ``preset``) and per-layer ones first: the
        # combinations that differ only in inactive parameters (skipped) are then spread thinly over
        # the enumeration instead of forming long runs (e.g. a whole sub-grid under one preset).
        globals_ = {d.param_name() for d in space.global_dimensions}
        order = {name: (2 if name == PRESET_PARAM else 1 if name in globals_ else 0) for name in self.nni_space}
        self.nni_space = dict(sorted(self.nni_space.items(), key=lambda kv: order[kv[0]]))

    def make_tuner(self) -> Any:
        from nni.algorithms.hpo.gridsearch_tuner import GridSearchTuner
        return GridSearchTuner()

