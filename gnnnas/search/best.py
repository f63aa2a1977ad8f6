"""Export a trial of a study as a model bundle (:func:`gnnnas.export.save_bundle`).

The trial's weights come from ``<out>/trials/<n>/model.pt`` when this machine
kept them (``<out>/trials/<n>/final.pt`` for a final fit,
:mod:`gnnnas.search.final_fit`); otherwise the architecture is rebuilt and
retrained deterministically (the trial's seed) for its recorded best epoch
count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState

from gnnnas.data.dataset import Dataset
from gnnnas.errors import GnnnasError
from gnnnas.evaluation import split_cold
from gnnnas.graph import build_graph
from gnnnas.models.base import Recommender
from gnnnas.models.registry import build_model
from gnnnas.models.spec import ArchSpec
from gnnnas.search.final_fit import final_weights_path
from gnnnas.search.objectives import is_feasible
from gnnnas.pipeline import train_config
from gnnnas.search.weights import weights_path
from gnnnas.training import TrainConfig, Trainer


@dataclass
class Exported:
    path: Path
    trial: int
    source: str  # "weights" (loaded from model.pt), "final-fit" (final.pt) or "retrained"
    epochs: int
    final_fit: bool = False  # the weights are the trial's final fit, not its search run

    def describe(self) -> str:
        how = {"weights": f"weights from trials/{self.trial}/model.pt",
               "final-fit": f"final fit, weights from trials/{self.trial}/final.pt ({self.epochs} epochs)"}.get(
            self.source, f"retrained for {self.epochs} epochs"
            f"{' (its final fit)' if self.final_fit else ''} (weights not kept on this machine)")
        return f"trial {self.trial}, {how}"


def ks_for(metric: str) -> tuple[int, ...]:
    k = int(metric.partition("@")[2])
    return tuple(sorted({10, 20, k}))


def best_complete(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The trial ``best/`` exports: the best quality (first objective) among feasible completed trials.

    In a multi-objective study the candidates are Optuna's ``best_trials``
    (the Pareto front of the feasible trials); the best-quality member is the
    most accurate trial that no cheaper trial matches. Ties go to the earlier
    trial. Trials over a cost limit (infeasible) are never chosen; None when
    no feasible trial completed.
    """
    if study._is_multi_objective():
        candidates = study.best_trials
    else:
        candidates = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                      if t.values and is_feasible(t)]
    return max(candidates, key=lambda t: (t.values[0], -t.number)) if candidates else None


def trial_model(study: optuna.Study, trial: optuna.trial.FrozenTrial, dataset: Dataset, out: Path,
                device: torch.device, final: dict | None = None) -> tuple[Recommender, ArchSpec, str, int]:
    """(model with the trial's weights, spec, "weights" | "final-fit" | "retrained", epochs).

    ``final``: the trial's final-fit record, whose weights to load instead of the search's.
    """
    attrs = trial.user_attrs
    if "spec" not in attrs:
        raise GnnnasError(f"trial {trial.number} has no recorded architecture")
    spec = ArchSpec.from_dict(attrs["spec"])
    best_epoch = int((final or attrs).get("best_epoch") or 0)
    if best_epoch < 1:
        raise GnnnasError(f"trial {trial.number} ({trial.state.name}) has no trained epoch to export")
    origin = int(attrs.get("reused_from", trial.number))
    seed = int(attrs.get("seed", study.user_attrs.get("seed", 0)))
    graph = build_graph(dataset, spec, device)
    model = build_model(spec, graph, seed, device)
    path = final_weights_path(out, trial.number) if final is not None else weights_path(out, origin)
    if path.is_file():
        model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
        return model, spec, "final-fit" if final is not None else "weights", best_epoch
    metric = str(study.user_attrs.get("metric", "ndcg@20"))
    config = train_config(spec, TrainConfig(epochs=best_epoch, eval_every=best_epoch, patience=1, metric=metric,
                                            ks=ks_for(metric), seed=seed, progress=False))
    Trainer(model, dataset, config, graph=graph).fit()
    return model, spec, "retrained", best_epoch


def export_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial, dataset: Dataset, out: Path, to: Path,
                 device: torch.device, final: dict | None = None) -> Exported:
    """Write ``trial`` as a model bundle at ``to`` (its final fit's weights and metrics when ``final`` is given)."""
    try:
        from gnnnas.export import save_bundle
    except ImportError as err:  # pragma: no cover - the export package ships with gnnnas
        raise GnnnasError(f"model bundles are not available in this installation ({err})") from None
    model, spec, source, epochs = trial_model(study, trial, dataset, out, device, final)
    attrs = trial.user_attrs
    val, val_cold = split_cold((final or attrs).get("val") or {})
    test, test_cold = split_cold((final or attrs).get("test") or {})
    metrics = {"val": val, "test": test, **({"val_cold": val_cold, "test_cold": test_cold} if test_cold else {})}
    extra = {"study": study.study_name, "trial": trial.number, "state": trial.state.name.lower(),
             "weights": source, "epochs": epochs, "metric": study.user_attrs.get("metric"),
             "space": (study.user_attrs.get("space") or {}).get("name"), "controller": attrs.get("controller"),
             "seed": attrs.get("seed"), "final_fit": final is not None}
    path = save_bundle(Path(to), spec, model, dataset, metrics, extra)
    return Exported(Path(path), trial.number, source, epochs, final_fit=final is not None)
