"""Controllers backed by Optuna's samplers: the sampler proposes, ``space.sample(trial)`` builds the spec.

Every controller here opens the study with its sampler, asks for a trial and
lets :meth:`gnnnas.space.SearchSpace.sample` suggest the *active* dimensions
only, so samplers that model conditional structure (TPE with ``group=True``)
see which parameters belong together.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import optuna

from gnnnas.search.controllers.base import Controller, Suggestion, register_controller

# optuna's GP module logs at import when the optional 'greenlet' package is missing; the
# sequential fallback it announces is fine for our trial counts.
logging.getLogger("optuna._gp.batched_lbfgsb").addFilter(lambda record: "greenlet" not in record.getMessage())


class OptunaController(Controller):
    """Base for sampler-backed controllers: ``ask`` = ``study.ask()`` + ``space.sample(trial)``."""

    initial_design = True  # study.ask() hands out enqueued trials first, whatever the sampler

    def ask(self, study: optuna.Study) -> Suggestion | None:
        trial = study.ask()
        return Suggestion(trial=trial, spec=self.space.sample(trial))

    def sampler(self) -> optuna.samplers.BaseSampler:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return self.make_sampler()

    def make_sampler(self) -> optuna.samplers.BaseSampler:  # pragma: no cover - overridden
        raise NotImplementedError


@register_controller
class TPEController(OptunaController):
    name = "optuna-tpe"
    description = ("Tree-structured Parzen Estimator (multivariate, grouped by conditional structure, "
                   "constant liar for parallel workers; multi-objective: MOTPE; random for the first 10 "
                   "trials, initial design included); the default")
    multi_objective = True
    #: Trials (complete or pruned, the initial design's included) before TPE's model proposes: Optuna's
    #: default. 5 looked better suited to our short searches but measured worse (experiments/RESULTS.md,
    #: "Search efficiency": 2 of 2 seeds lower), so it stays.
    n_startup_trials = 10

    def make_sampler(self, **overrides: Any) -> optuna.samplers.BaseSampler:
        """Our TPESampler; ``overrides`` change its arguments (experiments/tpe_surrogate.py compares some)."""
        # TPESampler handles one or several objectives (MOTPE) from the study's directions, and the
        # constraints each trial records (Trial.set_constraint).
        options = dict(multivariate=True, group=True, constant_liar=True, seed=self.seed,
                       n_startup_trials=self.n_startup_trials)
        return optuna.samplers.TPESampler(**{**options, **overrides})


@register_controller
class NSGA2Controller(OptunaController):
    name = "optuna-nsga2"
    description = ("NSGA-II genetic search (populations of 10), for multi-objective searches "
                   "(--objectives); cost limits via constrained domination")
    multi_objective = True
    #: Optuna's default (50) would keep a whole search of a few dozen trials in the random first generation.
    population_size = 10

    def make_sampler(self) -> optuna.samplers.BaseSampler:
        # constrained domination reads the constraints each trial records (Trial.set_constraint)
        return optuna.samplers.NSGAIISampler(population_size=self.population_size, seed=self.seed)


@register_controller
class RandomController(OptunaController):
    name = "optuna-random"
    description = "uniform random sampling of the space: the baseline every controller must beat"
    multi_objective = True  # proposals ignore the objectives: a baseline for multi-objective searches too

    def make_sampler(self) -> optuna.samplers.BaseSampler:
        return optuna.samplers.RandomSampler(seed=self.seed)


@register_controller
class CmaEsController(OptunaController):
    name = "optuna-cmaes"
    description = ("CMA-ES over the numeric dimensions, TPE for categorical and conditional ones; "
                   "for spaces that are mostly numeric (lr, l2, widths as ranges)")

    def make_sampler(self) -> optuna.samplers.BaseSampler:
        # CMA-ES models only numeric parameters present in every trial; the rest (categorical or
        # conditional) go to the independent sampler, silently: that split is this controller's design.
        return optuna.samplers.CmaEsSampler(
            seed=self.seed, warn_independent_sampling=False,
            independent_sampler=optuna.samplers.TPESampler(seed=self.seed))


@register_controller
class GPController(OptunaController):
    name = "optuna-gp"
    description = ("Gaussian-process Bayesian optimisation (optuna GPSampler, torch + scipy); "
                   "strongest with few trials on small, mostly numeric spaces")

    def make_sampler(self) -> optuna.samplers.BaseSampler:
        # Conditional parameters fall outside the GP's fixed search space and are drawn at random.
        return optuna.samplers.GPSampler(seed=self.seed, warn_independent_sampling=False)
