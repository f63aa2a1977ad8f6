"""Would another TPE setting reach random search's final best sooner? A surrogate study of the proposers.

The search-efficiency goal (TPE + pruning reaches random search's final best
in a third of the budget) is measured with real searches, 15 minutes each on
2 cores, so only a handful of sampler settings can ever be tried for real.
This replays many searches in seconds instead, on a surrogate fitted to the
recorded ones:

* value: a random forest from a candidate's parameters to the validation
  NDCG@20 its real search recorded (COMPLETE trials of ``--runs``), plus
  Gaussian noise of ``--noise`` per evaluation (the same noise stream for every
  proposer of one simulated seed);
* cost: a random forest from the parameters to the trial's wall-clock seconds.

Every proposer asks the real search space (``SearchSpace.sample`` on an
Optuna trial, conditional dimensions included) until ``--budget`` seconds of
predicted cost are spent; per simulated seed, random search's final best is
the bar and the table says how often, and how soon, each proposer reached
it. Pruning is not simulated (the real runs prune 7-20 of ~70 trials), so
this compares proposers only, as the goal's "TPE" part. Only recorded
trials that are points of the current space (``SearchSpace.to_spec``) train
the surrogate, and the group cross-validated R^2 (one group per recorded
search) says how far to trust it.

    python experiments/tpe_surrogate.py --runs experiments/out/se-*/search_efficiency/* [--seeds 60]

Prints Markdown tables and appends one JSON line per (proposer, seed) to
experiments/out/tpe_surrogate.jsonl.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import warnings
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, machine  # noqa: E402

from gnnnas.search.api import open_folder  # noqa: E402
from gnnnas.search.controllers.optuna_controllers import TPEController  # noqa: E402
from gnnnas.space import SearchSpace, SpaceError, load_space  # noqa: E402

RESULTS = OUT / "tpe_surrogate.jsonl"
MISSING = -9.0  # an inactive (conditional) parameter; far below every real encoded value


class Encoder:
    """Parameters -> a fixed-length vector: numbers (log10 where the space is log-scaled), one-hot choices."""

    def __init__(self, trials: list[dict[str, Any]]) -> None:
        names = sorted({k for p in trials for k in p})
        self.numeric: list[str] = []
        self.choices: dict[str, list[Any]] = {}
        for name in names:
            values = [p[name] for p in trials if name in p]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                self.numeric.append(name)
            else:
                self.choices[name] = sorted({str(v) for v in values})
        positive = {n for n in self.numeric if all(p[n] > 0 for p in trials if n in p)}
        self.log = {n for n in positive if max(p[n] for p in trials if n in p) >=
                    10 * min(p[n] for p in trials if n in p)}

    def __call__(self, params: dict[str, Any]) -> list[float]:
        row = []
        for name in self.numeric:
            v = params.get(name)
            row.append(MISSING if v is None else (math.log10(v) if name in self.log else float(v)))
        for name, values in self.choices.items():
            v = str(params.get(name))
            row.extend(1.0 if v == c else 0.0 for c in values)
        return row


def recorded(folders: list[Path], space: SearchSpace) -> list[tuple[int, dict[str, Any], float, float]]:
    """(run index, params, value, wall seconds) of every COMPLETE trial that is a point of ``space``."""
    rows = []
    for i, folder in enumerate(folders):
        study, _, _ = open_folder(folder)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            try:
                space.to_spec(t.params)
            except SpaceError:
                continue  # another space's point (an older range, a preset): not this space's surrogate
            rows.append((i, dict(t.params), float(t.value),
                         (t.datetime_complete - t.datetime_start).total_seconds()))
    return rows


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, leaf: int) -> tuple[Any, float]:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.model_selection import GroupKFold, cross_val_score
    model = RandomForestRegressor(n_estimators=300, min_samples_leaf=leaf, random_state=0)
    r2 = cross_val_score(model, x, y, cv=GroupKFold(5), groups=groups, scoring="r2").mean()
    return model.fit(x, y), float(r2)


class Overriding(BaseSampler):
    """``base``'s proposals, except on the trials :meth:`overrides` picks, whose values :meth:`draw` gives."""

    def __init__(self, base: BaseSampler) -> None:
        self.base = base

    def overrides(self, trial: optuna.trial.FrozenTrial) -> bool:
        raise NotImplementedError

    def draw(self, study, trial, name, dist):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def infer_relative_search_space(self, study, trial):  # type: ignore[no-untyped-def]
        return {} if self.overrides(trial) else self.base.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):  # type: ignore[no-untyped-def]
        return {} if self.overrides(trial) else self.base.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, name, dist):  # type: ignore[no-untyped-def]
        if self.overrides(trial):
            return self.draw(study, trial, name, dist)
        return self.base.sample_independent(study, trial, name, dist)

    def before_trial(self, study, trial):  # type: ignore[no-untyped-def]
        self.base.before_trial(study, trial)

    def after_trial(self, study, trial, state, values):  # type: ignore[no-untyped-def]
        self.base.after_trial(study, trial, state, values)


class StratifiedStartup(Overriding):
    """The first ``n`` trials from per-parameter balanced sequences (Latin-hypercube-like), then ``base``.

    Each choice parameter cycles through shuffled rounds of its values, each
    float parameter takes one of ``n`` equal strata: the start-up covers every
    value of every dimension as evenly as ``n`` trials allow.
    """

    def __init__(self, base: BaseSampler, seed: int, n: int = 10) -> None:
        super().__init__(base)
        self.seed, self.n = seed, n

    def overrides(self, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number < self.n

    def draw(self, study, trial, name, dist):  # type: ignore[no-untyped-def]
        k = sum(1 for t in study.get_trials(deepcopy=False) if t.number < trial.number and name in t.params)
        rng = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
        if isinstance(dist, (CategoricalDistribution, IntDistribution)):
            values = (list(dist.choices) if isinstance(dist, CategoricalDistribution)
                      else list(range(dist.low, dist.high + 1, dist.step)))
            order = np.concatenate([rng.permutation(len(values)) for _ in range(self.n)])
            return values[order[k]]
        strata, jitter = rng.permutation(self.n), rng.uniform(size=self.n)
        u = (strata[k % self.n] + jitter[k % self.n]) / self.n
        lo, hi = (math.log(dist.low), math.log(dist.high)) if dist.log else (dist.low, dist.high)
        x = lo + u * (hi - lo)
        return float(math.exp(x) if dist.log else x)


class RandomFraction(Overriding):
    """``base``, except every ``every``-th trial after ``n`` is a uniform random draw (BOHB's random fraction)."""

    def __init__(self, base: BaseSampler, seed: int, every: int = 3, n: int = 10) -> None:
        super().__init__(base)
        self.every, self.n, self.random = every, n, RandomSampler(seed=seed + 7919)

    def overrides(self, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number >= self.n and trial.number % self.every == self.every - 1

    def draw(self, study, trial, name, dist):  # type: ignore[no-untyped-def]
        return self.random.sample_independent(study, trial, name, dist)


def tpe(space: SearchSpace, seed: int, **overrides: Any) -> BaseSampler:
    """``optuna-tpe``'s own sampler with ``overrides`` of its TPESampler arguments."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)  # gamma and prior_weight: deprecated since optuna 4.9
        return TPEController(space, seed=seed).make_sampler(**overrides)


#: proposer name -> sampler for a seed; "tpe" is exactly what ``--controller optuna-tpe`` opens a study with,
#: the others change one of its settings: start-up trials, gamma (the share of trials that count as good),
#: the prior's weight, EI candidates, every third proposal uniform, or a stratified start-up
PROPOSERS: dict[str, Callable[[SearchSpace, int], BaseSampler]] = {
    "random": lambda space, s: RandomSampler(seed=s),
    "tpe": lambda space, s: TPEController(space, seed=s).sampler(),
    "tpe-startup5": lambda space, s: tpe(space, s, n_startup_trials=5),
    "tpe-startup7": lambda space, s: tpe(space, s, n_startup_trials=7),
    "tpe-gamma15": lambda space, s: tpe(space, s, gamma=lambda n: min(math.ceil(0.15 * n), 25)),
    "tpe-gamma25": lambda space, s: tpe(space, s, gamma=lambda n: min(math.ceil(0.25 * n), 25)),
    "tpe-prior2": lambda space, s: tpe(space, s, prior_weight=2.0),
    "tpe-ei8": lambda space, s: tpe(space, s, n_ei_candidates=8),
    "tpe-random3": lambda space, s: RandomFraction(tpe(space, s), s, every=3),
    "tpe-stratified": lambda space, s: StratifiedStartup(tpe(space, s), s),
}


def simulate(space: SearchSpace, sampler: BaseSampler, value, cost, encode: Encoder, budget: float,
             noise: np.ndarray) -> list[tuple[float, float]]:
    """(seconds, best so far) after each candidate until the predicted cost passes ``budget``."""
    study = optuna.create_study(direction="maximize", sampler=sampler)
    clock, best, curve = 0.0, -math.inf, []
    for i in range(len(noise)):
        trial = study.ask()
        space.sample(trial)
        x = np.asarray([encode(trial.params)])
        clock += float(cost.predict(x)[0])
        if clock > budget:
            break
        v = float(value.predict(x)[0]) + float(noise[i])
        study.tell(trial, v)
        best = max(best, v)
        curve.append((clock, best))
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", required=True, help="recorded gnnnas search --out folders")
    parser.add_argument("--space", default="default")
    parser.add_argument("--seeds", type=int, default=60, help="simulated searches per proposer")
    parser.add_argument("--budget", type=float, default=900)
    parser.add_argument("--noise", type=float, default=0.006, help="std of one evaluation's noise")
    parser.add_argument("--proposers", default=",".join(PROPOSERS))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    names = args.proposers.split(",")
    for n in names:
        if n not in PROPOSERS:
            raise SystemExit(f"--proposers: unknown {n!r}; expected some of {', '.join(PROPOSERS)}")
    space = load_space(args.space)
    folders = [Path(f) for f in args.runs if (Path(f) / "search.json").is_file()]
    rows = recorded(folders, space)
    if len(rows) < 50:
        raise SystemExit(f"--runs: {len(rows)} completed trials of space {args.space!r}; need at least 50")
    encode = Encoder([p for _, p, _, _ in rows])
    x = np.asarray([encode(p) for _, p, _, _ in rows])
    groups = np.asarray([i for i, _, _, _ in rows])
    value, r2_value = fit(x, np.asarray([v for _, _, v, _ in rows]), groups, leaf=2)
    cost, r2_cost = fit(x, np.asarray([s for _, _, _, s in rows]), groups, leaf=3)
    print(f"Surrogate: {len(rows)} completed trials of {len(folders)} searches; group cross-validated R^2 "
          f"{r2_value:.2f} (value), {r2_cost:.2f} (seconds). Machine: {machine()}.\n")

    curves: dict[str, list[list[tuple[float, float]]]] = {n: [] for n in names}
    bars = []
    with RESULTS.open("a") as log:
        for seed in range(args.seeds):
            noise = np.random.default_rng(10_000 + seed).normal(0, args.noise, 10_000)
            bar = simulate(space, PROPOSERS["random"](space, seed), value, cost, encode, args.budget, noise)
            bars.append(bar[-1][1])
            for n in names:
                c = bar if n == "random" else simulate(space, PROPOSERS[n](space, seed), value, cost, encode,
                                                        args.budget, noise)
                curves[n].append(c)
                log.write(json.dumps({"proposer": n, "seed": seed, "budget": args.budget, "noise": args.noise,
                                      "curve": c}) + "\n")

    print(f"{args.seeds} simulated searches per proposer, {args.budget:g} s each; bar: random search's final "
          "best of the same seed.\n")
    print("| proposer | reached the bar by 1/3 of the budget | by 1/2 | median time to the bar | "
          "best at 1/3 | best at the end | candidates |")
    print("|---|---|---|---|---|---|---|")
    for n in names:
        fractions, third, end, count = [], [], [], []
        for c, bar in zip(curves[n], bars):
            hit = next((t for t, b in c if b >= bar - 1e-12), None)
            fractions.append(hit / args.budget if hit is not None else math.inf)
            third.append(max((b for t, b in c if t <= args.budget / 3), default=float("nan")))
            end.append(c[-1][1])
            count.append(len(c))
        k = len(fractions)
        med = statistics.median(fractions)
        print(f"| {n} | {sum(f <= 1 / 3 for f in fractions)}/{k} | {sum(f <= 1 / 2 for f in fractions)}/{k} | "
              f"{'never' if med == math.inf else f'{med:.2f}'} | {statistics.fmean(third):.4f} | "
              f"{statistics.fmean(end):.4f} | {statistics.fmean(count):.0f} |")


if __name__ == "__main__":
    main()
