"""Optuna studies with gnnnas's attrs, built directly (no training): the report's edge cases in milliseconds."""

from __future__ import annotations

import datetime as dt
import warnings

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

# A minute ago: a RUNNING trial lasts until now, so the synthetic searches must have started recently.
T0 = dt.datetime.now().replace(microsecond=0) - dt.timedelta(seconds=70)


def reset_clock() -> None:
    """Trials start 70 s before now: a study built minutes after import must not look abandoned (stale)."""
    global T0
    T0 = dt.datetime.now().replace(microsecond=0) - dt.timedelta(seconds=70)
METRIC = "ndcg@20"

STUDY_ATTRS = {
    "space": {"name": "tiny", "path": None, "sha256": "x"},
    "data": {"source": "tiny.csv", "name": "tiny", "n_users": 80, "n_items": 60, "interactions": 960,
             "options": {"split": "ratio", "ratios": [0.8, 0.1, 0.1]}, "fingerprint": "f"},
    "metric": METRIC, "direction": "maximize", "controller": "optuna-tpe", "pruner": "asha", "trials": 8,
    "max_epochs": 6, "patience": 3, "eval_every": 1, "seed": 0,
}

DISTRIBUTIONS = {
    "num_layers": IntDistribution(0, 3),
    "layer0.aggregator": CategoricalDistribution(("lightgcn", "gcn", "gat")),
    "skip": CategoricalDistribution(("none", "residual", "dense")),
    "combination": CategoricalDistribution(("last", "mean", "concat")),
    "training.lr": FloatDistribution(1e-4, 1e-1, log=True),
}


def spec(layers: int = 2, aggregator: str = "gcn", skip: str = "residual", combination: str = "mean",
         lr: float = 0.01, heads: int = 1) -> dict:
    return {"embedding_dim": 16, "skip": skip, "combination": combination, "edge_dropout": 0.0, "scoring": "dot",
            "features": "id",
            "layers": [{"aggregator": aggregator, "hidden": 16, "heads": heads if aggregator in ("gat", "gatv2") else 1,
                        "head_combine": "concat", "activation": "relu", "dropout": 0.0, "norm": "none"}
                       for _ in range(layers)],
            "training": {"lr": lr, "l2": 1e-4, "batch_size": 512, "num_negatives": 1, "loss": "bpr"}}


def trial(number: int, state: TrialState, values=None, curve=None, stopped: str | None = None, start: float = 0.0,
          seconds: float = 10.0, worker: str = "host:1", controller: str = "optuna-tpe", arch: dict | None = None,
          error: str | None = None, params: dict | None = None) -> FrozenTrial:
    """A trial as the search engine records it (user attrs of gnnnas.search.objective)."""
    arch = arch if arch is not None else spec()
    curve = curve or []
    attrs = {"controller": controller, "worker": worker, "spec": arch, "seconds": seconds,
             "params": 1000 + 100 * len(arch["layers"]) * (arch["layers"][0]["hidden"] if arch["layers"] else 0)}
    if curve:
        best = max(v for _, v in curve)
        attrs.update({"curve": [list(p) for p in curve], "epochs": int(curve[-1][0]),
                      "best_epoch": int(max(curve, key=lambda p: p[1])[0]), "val": {METRIC: best},
                      "test": {METRIC: best * 0.95}, "max_epochs": 6})
    if stopped:
        attrs["stopped"] = stopped
    if error:
        attrs["error"] = error
    finished = state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    if params is None:
        params = {"num_layers": len(arch["layers"]), "skip": arch["skip"], "combination": arch["combination"],
                  "training.lr": arch["training"]["lr"]}
        if arch["layers"]:
            params["layer0.aggregator"] = arch["layers"][0]["aggregator"]
    return FrozenTrial(
        number=number, trial_id=number, state=state,
        value=None, values=values if state == TrialState.COMPLETE else None,
        datetime_start=T0 + dt.timedelta(seconds=start),
        datetime_complete=T0 + dt.timedelta(seconds=start + seconds) if finished else None,
        params=params, distributions={k: DISTRIBUTIONS[k] for k in params},
        user_attrs=attrs, system_attrs={},
        intermediate_values={} if state == TrialState.COMPLETE else {int(e): v for e, v in curve})


def study_with(trials: list[FrozenTrial], directions: list[str] | None = None, attrs: dict | None = None,
               metric_names: list[str] | None = None) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=directions or ["maximize"], study_name="edge")
    for key, value in (STUDY_ATTRS if attrs is None else attrs).items():
        study.set_user_attr(key, value)
    if metric_names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.set_metric_names(metric_names)
    for t in trials:
        study.add_trial(t)
    return study


def rich_study() -> optuna.Study:
    """Every way a trial ends, two workers in parallel, NNI-proposed trials among Optuna's, one still running."""
    reset_clock()
    c = TrialState.COMPLETE
    return study_with([
        trial(0, c, [0.30], [(1, 0.20), (2, 0.26), (3, 0.30)], "max_epochs", 0, 30, "host:1",
              arch=spec(2, "gcn", "residual", "mean", 0.01)),
        trial(1, c, [0.36], [(1, 0.25), (2, 0.33), (3, 0.36), (4, 0.35)], "early_stopping", 1, 40, "host:2",
              arch=spec(3, "gat", "dense", "concat", 0.02, heads=2)),
        trial(2, TrialState.PRUNED, None, [(1, 0.05)], "pruned", 31, 8, "host:1",
              arch=spec(1, "lightgcn", "none", "last", 0.0005)),
        trial(3, TrialState.FAIL, error="RuntimeError: out of memory", start=41, seconds=2, worker="host:2",
              arch=spec(3, "gat", "dense", "concat", 0.05, heads=4)),
        trial(4, c, [0.28], [(1, 0.21), (2, 0.28)], "time_limit", 43, 20, "host:2", controller="nni-tpe",
              arch=spec(0, skip="none", combination="mean", lr=0.003)),
        trial(5, c, [0.33], [(1, 0.22), (2, 0.30), (3, 0.33)], "early_stopping", 40, 25, "host:1",
              controller="nni-tpe", arch=spec(2, "gcn", "none", "concat", 0.05)),
        trial(6, TrialState.RUNNING, None, [(1, 0.24)], None, 64, 5, "host:2", arch=spec(1, "gcn", "dense", "mean")),
    ])
