"""Trained weights of the best completed trials: ``<out>/trials/<number>/model.pt``.

Only the top ``keep`` completed trials (by validation value; ties: the
earlier trial) of the folder keep their file; a file that falls out of the
top is deleted. Writes are atomic (temporary file, then rename), so a
crash never leaves a half-written ``model.pt``.
"""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState

from gnnnas.search.objectives import is_feasible

WEIGHTS_FILE = "model.pt"


def weights_path(out: Path, number: int) -> Path:
    return Path(out) / "trials" / str(number) / WEIGHTS_FILE


def stored_numbers(out: Path) -> list[int]:
    root = Path(out) / "trials"
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / WEIGHTS_FILE).is_file())


class WeightKeeper:
    """Keeps the weights of the ``keep`` best completed trials under ``out/trials``."""

    def __init__(self, out: Path, keep: int = 3):
        self.out = Path(out)
        self.keep = max(0, int(keep))

    def offer(self, study: optuna.Study, number: int, value: float, model: torch.nn.Module,
              feasible: bool = True) -> bool:
        """Save ``model`` as trial ``number``'s weights if it makes the top; prune the rest. True if saved.

        ``value`` is the quality (first objective); trials over a cost limit (infeasible) are never
        exported, so they never take a place in the top.
        """
        if self.keep == 0 or not feasible:
            return False
        values = {t.number: t.values[0] for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                  if t.values and is_feasible(t)}
        values[number] = value
        candidates = set(stored_numbers(self.out)) | {number}
        ranked = sorted((n for n in candidates if n in values), key=lambda n: (-values[n], n))
        top = set(ranked[: self.keep])
        saved = number in top
        if saved:
            path = weights_path(self.out, number)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{WEIGHTS_FILE}.{os.getpid()}.tmp")
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
            os.replace(tmp, path)
        for n in candidates - top:
            if n != number:
                _remove(weights_path(self.out, n))
        return saved


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()  # only when nothing else is kept for that trial
    except OSError:
        pass
