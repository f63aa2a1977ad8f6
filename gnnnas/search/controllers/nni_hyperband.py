"""NNI's Hyperband and BOHB advisors as multi-fidelity controllers, in-process: ``nni-hyperband``, ``nni-bohb``.

NNI 3.0 runs advisors only behind its manager, over a websocket command
channel. Here the advisor object is driven directly (no manager, nothing
written to ``~/nni-experiments``):

* it is built with ``NNI_TUNER_COMMAND_CHANNEL`` pointing at an offline
  ``ws://_unittest_...`` URL (NNI itself skips connecting for that prefix;
  the environment variable is read at ``import nni``, so the value is
  patched into NNI's dispatcher settings for the constructor only);
* its ``send`` is replaced by a function that collects the ``NewTrialJob``
  commands it would send to the manager;
* its ``is_created_in_previous_exp`` returns False (NNI 3.0 compares the
  advisors' string parameter ids with an int there and fails);
* the controller calls ``handle_initialize`` (the flat NNI space),
  ``handle_request_trial_jobs`` (one job per ask), and, per finished trial,
  ``handle_report_metric_data`` (a FINAL metric; ``sequence`` = the trial's
  budget, which BOHB keys its models on) and ``handle_trial_end``.

Budgets: the advisors hand each configuration a ``TRIAL_BUDGET`` r out of
``R`` (here ``R = 9``, ``eta = 3``: budgets 1, 3, 9, three brackets per
Hyperband iteration); the trial trains ``ceil(r / R * max_epochs)`` epochs
(the search's ``max_epochs`` for r = R), which is
:attr:`Suggestion.max_epochs`. A configuration promoted to the next rung is
a new trial of the same architecture with a larger budget. These trials are
not prunable: the advisor decides who continues.

Every configuration must report a result or its rung never completes:
failed trials report the failure value, and trials that ended without
``tell`` are told at the next ``ask`` (see :mod:`.nni_tuners`).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections import deque
from typing import Any, Iterator

import numpy as np

import nni
from nni.runtime.tuner_command_channel import CommandType

from gnnnas.errors import GnnnasError
from gnnnas.search.controllers.base import register_controller
from gnnnas.search.controllers.nni_space import nni_domains
from gnnnas.search.controllers.nni_tuners import NNIController, Proposal
from gnnnas.space import SearchSpace
from gnnnas.space.distributions import Categorical, FloatRange, IntRange

#: The command-channel URL advisors are built with: NNI does not connect for the ``ws://_unittest_`` prefix.
OFFLINE_CHANNEL = "ws://_unittest_gnnnas_in_process/tuner"
BUDGET_KEY = "TRIAL_BUDGET"


@contextlib.contextmanager
def _offline_channel() -> Iterator[None]:
    import nni.runtime.msg_dispatcher_base as dispatcher
    saved = dispatcher.dispatcher_env_vars
    dispatcher.dispatcher_env_vars = saved._replace(NNI_TUNER_COMMAND_CHANNEL=OFFLINE_CHANNEL)
    try:
        yield
    finally:
        dispatcher.dispatcher_env_vars = saved


class AdvisorDriver:
    """Drives one NNI advisor (``MsgDispatcherBase``) without a manager; collects the jobs it sends."""

    def __init__(self, advisor_class: type, search_space: dict, **kwargs: Any) -> None:
        with _offline_channel():
            self.advisor = advisor_class(**kwargs)
        self.jobs: deque[dict] = deque()
        self.advisor.send = self._receive
        self.advisor.is_created_in_previous_exp = lambda parameter_id: False
        self.advisor.handle_initialize(search_space)

    def _receive(self, command: CommandType, data: str) -> None:
        if command == CommandType.NewTrialJob:
            self.jobs.append(nni.load(data))

    def next_job(self) -> dict | None:
        """The next configuration (``parameter_id``, ``parameters``), or None while the advisor has none."""
        if not self.jobs and self.advisor.credit <= 0:
            self.advisor.handle_request_trial_jobs(1)
        return self.jobs.popleft() if self.jobs else None

    def report(self, parameter_id: str, job_id: str, value: float, budget: float, success: bool,
               parameters: dict) -> None:
        self.advisor.handle_report_metric_data({
            "parameter_id": parameter_id, "trial_job_id": job_id, "type": "FINAL",
            "sequence": budget, "value": nni.dump(float(value))})
        self.advisor.handle_trial_end({
            "trial_job_id": job_id, "event": "SUCCEEDED" if success else "FAILED",
            "hyper_params": nni.dump({"parameter_id": parameter_id, "parameter_source": "algorithm",
                                      "parameters": parameters})})


class _AdvisorController(NNIController):
    """Hyperband-style advisors: each configuration comes with a budget r out of :attr:`R`."""

    multi_fidelity = True
    #: The largest budget (a configuration trained the search's full ``max_epochs``).
    R: int = 9
    #: Keep the best 1/eta of each rung; budgets grow by eta.
    eta: int = 3

    def __init__(self, space: SearchSpace, seed: int = 0, max_epochs: int = 50) -> None:
        super().__init__(space, seed, max_epochs)
        self.driver: AdvisorDriver | None = None

    def epochs_for(self, budget: float) -> int:
        """Training epochs for an advisor budget: ``ceil(budget / R * max_epochs)``, at least 1."""
        return max(1, min(self.max_epochs, math.ceil(budget / self.R * self.max_epochs - 1e-9)))

    def _draw(self) -> Proposal | None:
        job = self.driver.next_job()
        if job is None:
            waiting = len(self._running)
            raise RuntimeError(f"{self.name}: the advisor has no configuration to run now"
                               + (f" (it waits for {waiting} running trial(s): tell them first)" if waiting else ""))
        raw = dict(job["parameters"])
        budget = raw.pop(BUDGET_KEY)
        budget = budget.item() if isinstance(budget, np.generic) else budget
        return Proposal(parameter_id=job["parameter_id"], raw=raw, max_epochs=self.epochs_for(budget),
                        attrs={"nni_budget": budget})

    def _report(self, proposal: Proposal, value: float, success: bool) -> None:
        self.driver.report(proposal.parameter_id, f"gnnnas-trial-{proposal.trial_id}", value,
                           proposal.attrs["nni_budget"], success, {**proposal.raw,
                                                                   BUDGET_KEY: proposal.attrs["nni_budget"]})


@register_controller
class NNIHyperbandController(_AdvisorController):
    name = "nni-hyperband"
    description = ("NNI's Hyperband (in-process): random configurations in successive-halving brackets, "
                   "budgets max_epochs/9, /3 and full (multi-fidelity)")

    def _start(self) -> None:
        from nni.algorithms.hpo.hyperband_advisor import Hyperband
        self.driver = AdvisorDriver(Hyperband, self.nni_space, optimize_mode=self.optimize_mode,
                                    R=self.R, eta=self.eta, exec_mode="parallelism")
        # handle_initialize created an unseeded RandomState; the advisor draws configurations from it.
        self.driver.advisor.random_state = np.random.RandomState(self.seed % 2**32)


def _bohb_imports() -> tuple[Any, Any, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # ConfigSpace's pcs_new, imported by NNI
            import ConfigSpace
            import ConfigSpace.hyperparameters as hyperparameters
            import statsmodels.api  # noqa: F401  (BOHB's KDE models)
            from nni.algorithms.hpo.bohb_advisor.bohb_advisor import BOHB
    except ImportError as err:
        raise GnnnasError(f"nni-bohb needs the packages ConfigSpace and statsmodels "
                          f"(pip install 'gnnnas[nni-bohb]'); {err}") from None
    return ConfigSpace, hyperparameters, BOHB


def config_space(space: SearchSpace, seed: int) -> Any:
    """The flat parameters of ``space`` as a ConfigSpace space, for BOHB's models.

    NNI's own converter (``BOHB.handle_update_search_space``) passes ``q=`` to
    ConfigSpace's float hyperparameters for ``quniform``/``qloguniform``,
    which ConfigSpace 1.x no longer accepts, and drops ``log`` for integers;
    so the space is built here from the domains: categorical ->
    ``CategoricalHyperparameter``, integer ranges -> ``UniformIntegerHyperparameter``
    (``log`` kept; a step > 1 is snapped back onto the grid by
    :func:`.nni_space.from_nni_params`), float ranges ->
    ``UniformFloatHyperparameter``. Parameters with one possible value are
    left out (filled in by ``from_nni_params``).
    """
    cs_module, hp, _ = _bohb_imports()
    cs = cs_module.ConfigurationSpace(seed=seed % 2**31)
    for name, dist in nni_domains(space).items():
        if isinstance(dist, Categorical):
            if len(dist.choices) > 1:
                cs.add(hp.CategoricalHyperparameter(name, choices=list(dist.choices)))
        elif isinstance(dist, IntRange):
            if dist.low < dist.high:
                cs.add(hp.UniformIntegerHyperparameter(name, lower=dist.low, upper=dist.high, log=dist.log))
        elif isinstance(dist, FloatRange):
            if dist.low < dist.high:
                cs.add(hp.UniformFloatHyperparameter(name, lower=dist.low, upper=dist.high, log=dist.log))
    if not list(cs.values()):
        raise GnnnasError(f"nni-bohb: {space.label} has nothing to search (every parameter has one value)")
    return cs


@register_controller
class NNIBOHBController(_AdvisorController):
    name = "nni-bohb"
    description = ("NNI's BOHB (in-process): Hyperband brackets whose configurations come from KDE models "
                   "of the best results (needs ConfigSpace and statsmodels; multi-fidelity)")

    def __init__(self, space: SearchSpace, seed: int = 0, max_epochs: int = 50, *,
                 min_points_in_model: int | None = None) -> None:
        super().__init__(space, seed, max_epochs)
        self.min_points_in_model = min_points_in_model
        self.config_space = config_space(space, seed)  # fails early, with the install hint, without the packages

    def _start(self) -> None:
        _, _, bohb_class = _bohb_imports()
        cs = self.config_space

        class _BOHB(bohb_class):  # type: ignore[misc, valid-type]
            def handle_update_search_space(self, data: Any) -> None:
                self.search_space = cs

        self.driver = AdvisorDriver(_BOHB, self.nni_space, optimize_mode=self.optimize_mode,
                                    min_budget=1, max_budget=self.R, eta=self.eta,
                                    min_points_in_model=self.min_points_in_model)
