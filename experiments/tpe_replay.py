"""What TPE would propose next, given a recorded study's first N trials: sizes as categories vs. ordered.

A search's path hangs on a few early proposals, so comparing sampler inputs by
whole searches needs many seeds. This replays one recorded history instead:
the study's first ``--cut`` finished trials (complete or pruned) are copied
into a fresh in-memory study, and ``--proposals`` TPE samplers (seeds 0, 1,
...), set up as ``optuna-tpe`` sets them, each propose one trial from that same
history through the space's own ``sample``. It does so twice: with the size
dimensions (embedding size, hidden width, batch size, heads) as the plain
choices the study recorded, and as ordered sizes (``ordered: true``,
:class:`gnnnas.space.OrderedChoices`), the recorded history re-encoded to
match. With ``--warm-up`` the study's warm-up parameters are fixed first, as a
search does while its warm-up lasts. Nothing is trained.

    python experiments/tpe_replay.py experiments/out/RUN/online-retail-default-s0/study.db --cuts 11,15,25 --warm-up
"""

from __future__ import annotations

import argparse
import collections
import warnings
from dataclasses import replace
from typing import Any

import optuna
from optuna.distributions import IntDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from gnnnas.search.controllers.nni_space import nni_domains
from gnnnas.search.controllers.optuna_controllers import TPEController
from gnnnas.space import Categorical, OrderedChoices, SearchSpace, load_space


def with_ordered_sizes(space: SearchSpace) -> SearchSpace:
    """The same space with every plain size ladder (e.g. ``[32, 64, 128]``) marked ``ordered: true``."""
    dims = tuple(replace(d, distribution=OrderedChoices(d.distribution.choices))
                 if type(d.distribution) is Categorical and OrderedChoices.applies(d.distribution.choices) else d
                 for d in space.dimensions)
    return replace(space, dimensions=dims)


def ordered_params(space: SearchSpace) -> dict[str, OrderedChoices]:
    """Trial parameter name -> its ordered-size distribution (per-layer names for every layer index)."""
    return {name: dist for name, dist in nni_domains(space).items() if isinstance(dist, OrderedChoices)}


def reencode(trial: FrozenTrial, ordered: dict[str, OrderedChoices]) -> FrozenTrial:
    """A recorded trial with its size parameters as the log-scale integers ordered sizes ask for."""
    dists = dict(trial.distributions)
    for name in dists:
        if name in ordered:
            dists[name] = IntDistribution(*ordered[name].bounds, log=True)
    return create_trial(state=trial.state, value=trial.value, params=trial.params, distributions=dists,
                        user_attrs=trial.user_attrs, intermediate_values=trial.intermediate_values)


def replay(history: list[FrozenTrial], directions: list, space: SearchSpace, proposals: int,
           warm_up: dict | None) -> dict[str, Any]:
    widths, depths, scoring, lrs = collections.Counter(), collections.Counter(), collections.Counter(), []
    for seed in range(proposals):
        controller = TPEController(space, seed=seed)
        fresh = optuna.create_study(directions=directions, sampler=controller.sampler())
        fresh.add_trials(history)
        if warm_up:
            fresh.enqueue_trial(dict(warm_up))
        spec = space.sample(fresh.ask())
        widths[spec.embedding_dim] += 1
        depths[len(spec.layers)] += 1
        scoring[spec.scoring] += 1
        lrs.append(spec.training.lr)
    lrs.sort()
    return {"widths": dict(sorted(widths.items())), "depths": dict(sorted(depths.items())),
            "scoring": dict(sorted(scoring.items())), "lr_median": lrs[len(lrs) // 2]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", help="a search's study.db")
    parser.add_argument("--study", default=None, help="study name (default: the only one in the file)")
    parser.add_argument("--cuts", default="11,15,25", help="history lengths (trial numbers below which to keep)")
    parser.add_argument("--proposals", type=int, default=60, help="proposals per encoding and cut")
    parser.add_argument("--warm-up", action="store_true", help="fix the study's warm-up parameters first")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    study = optuna.load_study(study_name=args.study, storage=f"sqlite:///{args.db}")
    label = study.user_attrs.get("space")
    plain = load_space((label.get("name") if isinstance(label, dict) else label) or "default")
    ordered_space = with_ordered_sizes(plain)
    warm_up = (study.user_attrs.get("warm_up") or {}).get("params") if args.warm_up else None
    if args.warm_up and not warm_up:
        raise SystemExit(f"{args.db}: the study records no warm-up; run without --warm-up")
    ordered = ordered_params(ordered_space)
    print(f"{args.db}: space {ordered_space.name}, {len(study.trials)} trials; {args.proposals} proposals "
          f"per row{', warm-up parameters fixed' if warm_up else ''}; ordered sizes: {', '.join(sorted(ordered))}")
    for cut in (int(c) for c in args.cuts.split(",")):
        recorded = [t for t in study.trials if t.number < cut and t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        print(f"\nafter the first {cut} trials:")
        print("| sizes asked as | embedding size | layers | scoring | lr median |\n|---|---|---|---|---|")
        for name, space, history in (("categories", plain, recorded),
                                     ("ordered sizes", ordered_space, [reencode(t, ordered) for t in recorded])):
            r = replay(history, study.directions, space, args.proposals, warm_up)
            print(f"| {name} | {r['widths']} | {r['depths']} | {r['scoring']} | {r['lr_median']:.4f} |")


if __name__ == "__main__":
    main()
