"""A search's study: its identity, its settings in study user attrs, and ``<out>/search.json``.

A study is identified by its name, its search space (the file's text), its
data (the dataset fingerprint) and its metric. Re-running the same command
continues it; an output folder or storage that already holds a study with
another identity is refused before anything is written.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna

from gnnnas.data.dataset import Dataset
from gnnnas.data.options import DataOptions
from gnnnas.errors import GnnnasError
from gnnnas.search.objectives import Constraints, Objectives
from gnnnas.search.pruners import Resource
from gnnnas.search.storage import mask
from gnnnas.space import SearchSpace

SEARCH_JSON = "search.json"
DIRECTION = "maximize"


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_record(source: str, options: DataOptions, dataset: Dataset) -> dict:
    """What the study remembers about its data (enough for a worker to load the same dataset)."""
    path = Path(str(source))
    return {
        "source": str(source),
        "path": str(path.resolve()) if path.exists() else None,
        "options": options.to_dict(),
        "name": dataset.name,
        "fingerprint": dataset.fingerprint,
        "n_users": int(dataset.n_users),
        "n_items": int(dataset.n_items),
        "interactions": int(dataset.train.nnz + dataset.val.nnz + dataset.test.nnz),
    }


@dataclass(frozen=True)
class RunSettings:
    """How this run trains and chooses candidates (may change when a study is resumed)."""

    controller: str
    pruner: str
    trials: int
    max_epochs: int
    patience: int
    eval_every: int
    seed: int
    trial_timeout: float | None = None  # training seconds per candidate (None: no limit)
    prune_by: str = "epochs"  # what the pruner's rungs count: epochs, or seconds of training (needs trial_timeout)
    warm_up: dict | None = None  # a WarmUpPlan's to_dict(): the first share of the budget in a sub-space

    @property
    def resource(self) -> Resource:
        """What the pruner's steps count: epochs, or training milliseconds under a time limit."""
        return Resource(self.max_epochs, self.eval_every, self.trial_timeout if self.prune_by == "seconds" else None)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def study_attrs(space: SearchSpace, space_text: str, data: dict, metric: str, run: RunSettings,
                objectives: Objectives | None = None, constraints: Constraints | None = None) -> dict:
    from gnnnas import __version__
    objectives = objectives or Objectives(metric)
    return {
        "space": {"name": space.name, "path": str(space.path) if space.path else None, "sha256": text_sha(space_text)},
        "space_text": space_text,
        "data": data,
        "metric": metric,
        "direction": DIRECTION,
        # multi-objective studies only: a single-objective study keeps the attrs it always had
        **({"objectives": objectives.names, "directions": objectives.directions} if objectives.multi else {}),
        **({"constraints": constraints.to_dict()} if constraints else {}),
        **run.to_dict(),
        "gnnnas_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def identity(attrs: dict) -> dict:
    """The parts of a study that must match for a run to continue it."""
    space = attrs.get("space") or {}
    data = attrs.get("data") or {}
    return {"space": space.get("sha256"), "data": data.get("fingerprint"), "metric": attrs.get("metric"),
            "objectives": ",".join(attrs.get("objectives") or [str(attrs.get("metric"))]),
            "constraints": _constraints_text(attrs.get("constraints"))}


def _constraints_text(record: dict | None) -> str:
    return ", ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in sorted((record or {}).items())) or "none"


def _differences(old: dict, new: dict) -> list[str]:
    a, b = identity(old), identity(new)
    names = {"space": "search space", "data": "data", "metric": "metric", "objectives": "--objectives",
             "constraints": "constraints"}
    out = []
    # a changed quality metric shows once: as the metric of single-objective studies, else in the objectives
    drop = "objectives" if "objectives" not in old and "objectives" not in new else "metric"
    a.pop(drop), b.pop(drop)
    for key in a:
        if a[key] != b[key]:
            if key == "space":
                out.append(f"space {(old.get('space') or {}).get('name')!r} (another file text)"
                           if (old.get("space") or {}).get("name") == (new.get("space") or {}).get("name")
                           else f"space {(old.get('space') or {}).get('name')!r}")
            elif key == "data":
                out.append(f"data {(old.get('data') or {}).get('source')!r} (fingerprint {str(a[key])[:12]})")
            else:
                out.append(f"{names[key]} {a[key]}")
    return out


# --- search.json ------------------------------------------------------------
def read_search_json(out: Path) -> dict | None:
    path = Path(out) / SEARCH_JSON
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise GnnnasError(f"{path}: unreadable ({err}); expected the search.json a search wrote") from None


def write_search_json(out: Path, study_name: str, storage_url: str, storage_default: bool, attrs: dict) -> Path:
    record = {
        "study": study_name,
        "storage": "sqlite:///study.db" if storage_default else mask(storage_url),
        "storage_default": storage_default,
        "space": attrs["space"],
        "data": attrs["data"],
        "metric": attrs["metric"],
        "direction": attrs["direction"],
        **({k: attrs[k] for k in ("objectives", "directions", "constraints") if k in attrs}),
        "controller": attrs.get("controller"),
        "pruner": attrs.get("pruner"),
        "trials": attrs.get("trials"),
        "max_epochs": attrs.get("max_epochs"),
        "seed": attrs.get("seed"),
        "gnnnas_version": attrs.get("gnnnas_version"),
    }
    path = Path(out) / SEARCH_JSON
    tmp = path.with_name(f".{SEARCH_JSON}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def storage_of(out: Path, record: dict, override: str | None = None) -> str:
    """The storage URL of the search recorded in ``out/search.json``."""
    if override:
        return override
    if record.get("storage_default"):
        return f"sqlite:///{(Path(out) / 'study.db').resolve()}"
    url = str(record.get("storage", ""))
    if "***" in url:
        raise GnnnasError(f"{Path(out) / SEARCH_JSON}: the storage URL's password is not stored; "
                          "pass --storage URL with the password")
    return url


def check_out_folder(out: Path, study_name: str, storage_url: str, storage_default: bool, attrs: dict) -> None:
    """Refuse an output folder whose ``search.json`` describes another study."""
    record = read_search_json(out)
    if record is None:
        return
    problems = []
    if record.get("study") != study_name:
        problems.append(f"study {record.get('study')!r}")
    if bool(record.get("storage_default")) != storage_default or (
            not storage_default and record.get("storage") != mask(storage_url)):
        problems.append(f"storage {record.get('storage')}")
    problems += _differences(record, attrs)
    if problems:
        raise GnnnasError(f"--out {out} holds another search ({', '.join(problems)}); "
                          "choose another --out or repeat that search's settings to resume it")


# --- the study itself -------------------------------------------------------
def find_study(storage, name: str) -> optuna.Study | None:
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return None


def open_study(storage, name: str, attrs: dict, storage_shown: str, sampler=None, pruner=None) -> tuple[optuna.Study, bool]:
    """Create the study (recording ``attrs``) or continue it after checking its identity; (study, resumed)."""
    existing = find_study(storage, name)
    if existing is not None:
        check_identity(existing, attrs, storage_shown)
        resumed = True
    else:
        try:
            optuna.create_study(storage=storage, study_name=name, directions=attrs.get("directions", [DIRECTION]))
            resumed = False
        except optuna.exceptions.DuplicatedStudyError:  # another worker created it just now
            resumed = True
        study = optuna.load_study(study_name=name, storage=storage)
        if not resumed:
            if "objectives" in attrs:  # names for Optuna's own tools and the report's axes
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    study.set_metric_names(study_objectives_of(attrs).labels)
            # "space" last: once it is there, every other attr is too (see _wait_for_attrs).
            for key, value in sorted(attrs.items(), key=lambda kv: kv[0] == "space"):
                study.set_user_attr(key, value)
        else:
            _wait_for_attrs(study)
            check_identity(study, attrs, storage_shown)
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
    if resumed:  # this run's settings replace the previous run's (workers that join read them)
        for key in RunSettings.__dataclass_fields__:
            if study.user_attrs.get(key) != attrs.get(key):
                study.set_user_attr(key, attrs[key])
    return study, resumed


def study_objectives_of(attrs: dict) -> Objectives:
    names = attrs.get("objectives") or [attrs.get("metric", "ndcg@20")]
    return Objectives(str(names[0]), tuple(str(n) for n in names[1:]))


def _wait_for_attrs(study: optuna.Study, seconds: float = 20.0) -> None:
    """A study another process created a moment ago may not have its attrs yet."""
    import time
    stop = time.monotonic() + seconds
    while "space" not in study.user_attrs and time.monotonic() < stop:
        time.sleep(0.2)


def check_identity(study: optuna.Study, attrs: dict, storage_shown: str) -> None:
    old = study.user_attrs
    if "space" not in old:
        raise GnnnasError(f"study {study.study_name!r} in {storage_shown} was not created by gnnnas search; "
                          "choose another --study")
    expected = [optuna.study.StudyDirection.MAXIMIZE if d == "maximize" else optuna.study.StudyDirection.MINIMIZE
                for d in old.get("directions", [DIRECTION])]
    if study.directions != expected:
        raise GnnnasError(f"study {study.study_name!r} in {storage_shown} does not have the directions its "
                          "attrs record; choose another --study")
    problems = _differences(old, attrs)
    if problems:
        raise GnnnasError(f"study {study.study_name!r} in {storage_shown} was created with another "
                          f"{', '.join(problems)}; choose another --study or --out, or repeat its settings")
