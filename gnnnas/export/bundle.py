"""Writing and reading model bundles: a folder that holds one trained recommender.

A bundle is self-contained: loading it needs neither the source data nor the
run that produced it. Files (all but ``metadata.json`` listed with sha256 and
size in its ``files`` manifest):

* ``spec.json``: the :class:`~gnnnas.models.spec.ArchSpec` JSON, or
  ``{"baseline": "popularity"}``;
* ``weights.pt``: the model's state dict, plain tensors on CPU, readable with
  ``torch.load(..., weights_only=True)`` (no pickled objects);
* ``interactions.npz``: the train / validation / test splits in CSR form
  (internal ids, no pickle). The model's graph is the **train** split (for a
  refitted model that split already holds validation); the items a user has
  **seen** (excluded from recommendations) are train + validation; the test
  split is kept so :meth:`TrainedRecommender.evaluate` reproduces the
  reported test metrics;
* ``users.json`` / ``items.json``: raw ids, as strings exactly as the source
  has them, in internal-id order; ``item_text.json`` (item titles) when the
  dataset has item text;
* ``metadata.json``: format and library versions, dataset name, fingerprint
  and sizes, the metrics and ``extra`` given, the creation time and the manifest.

Writing is atomic: everything goes to a temporary sibling folder which is
renamed into place once complete. An existing bundle at the path is moved
aside only then, and removed after the rename, so a failure at any point
leaves either the old bundle or the new one, never a mix, and no temporary
folder. A folder that is not a bundle is never replaced.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gnnnas.data.cache import file_digest
from gnnnas.data.dataset import Dataset, SplitData
from gnnnas.errors import GnnnasError
from gnnnas.models.base import Recommender
from gnnnas.models.spec import ArchSpec, SpecError

FORMAT_NAME = "gnnnas-model-bundle"
#: ``MAJOR.MINOR``: a reader reads every minor version of its major (minors only add fields).
FORMAT_VERSION = "1.0"

SPEC_FILE = "spec.json"
WEIGHTS_FILE = "weights.pt"
INTERACTIONS_FILE = "interactions.npz"
USERS_FILE = "users.json"
ITEMS_FILE = "items.json"
ITEM_TEXT_FILE = "item_text.json"
METADATA_FILE = "metadata.json"
REQUIRED_FILES = (SPEC_FILE, WEIGHTS_FILE, INTERACTIONS_FILE, USERS_FILE, ITEMS_FILE)
SPLITS = ("train", "val", "test")


def _gnnnas_version() -> str:
    from gnnnas import __version__
    return __version__


def _package_version(name: str) -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version
        return version(name)
    except PackageNotFoundError:  # pragma: no cover - torch-geometric is a dependency
        return None


def _format_major(version: Any) -> int | None:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return None


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays, paths and tuples-in-disguise become plain JSON; anything else is refused."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")


def _finite(value: Any) -> Any:
    """NaN / infinity (not valid JSON) as None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(_finite(value), indent=2, default=_json_default, allow_nan=False) + "\n"
    except (TypeError, ValueError) as err:
        raise TypeError(f"save_bundle: {what} is not JSON-serialisable: {err}") from None


def _index_dtype(n: int) -> type:
    return np.int32 if n < np.iinfo(np.int32).max else np.int64


def _check_model(spec: ArchSpec | str, model: Recommender, dataset: Dataset) -> None:
    """Catch a model saved with the wrong spec or data: the bundle could not be loaded back."""
    if (getattr(model, "n_users", None), getattr(model, "n_items", None)) != (dataset.n_users, dataset.n_items):
        raise ValueError(f"save_bundle: the model has {getattr(model, 'n_users', '?')} users x "
                         f"{getattr(model, 'n_items', '?')} items but the dataset {dataset.n_users} x {dataset.n_items}")
    model_spec = getattr(model, "spec", None)
    if isinstance(spec, ArchSpec) and model_spec is not None and model_spec != spec:
        raise ValueError("save_bundle: spec differs from the model's own spec")
    graph = getattr(model, "graph", None)
    if graph is not None and graph.num_edges != dataset.train.nnz:
        raise ValueError(f"save_bundle: the model's graph has {graph.num_edges} edges but dataset.train has "
                         f"{dataset.train.nnz} interactions; pass the dataset the model was trained on "
                         "(dataset.refit() for a refitted model)")


def _weights(model: Recommender) -> dict[str, torch.Tensor]:
    state = {}
    for key, value in model.state_dict().items():
        if not isinstance(value, torch.Tensor):  # pragma: no cover - extra state is not used by gnnnas models
            raise TypeError(f"save_bundle: state dict entry {key!r} is a {type(value).__name__}, not a tensor")
        state[key] = value.detach().to("cpu").contiguous()
    return state


def _dataset_metadata(dataset: Dataset) -> dict:
    info = dataset.info or {}
    return {
        "name": dataset.name,
        "fingerprint": dataset.fingerprint,
        "n_users": int(dataset.n_users),
        "n_items": int(dataset.n_items),
        "interactions": {s: int(getattr(dataset, s).nnz) for s in SPLITS},
        "refitted": dataset.refitted,
        "has_item_text": dataset.item_text is not None,
        "source": info.get("source"),
        "format": info.get("format"),
        "split": info.get("split"),
        "options": info.get("options"),
    }


def save_bundle(path: str | Path, spec: ArchSpec | str, model: Recommender, dataset: Dataset,
                metrics: dict, extra: dict | None = None, *, compression: dict | None = None) -> Path:
    """Write ``model`` (built from ``spec`` on ``dataset.train``) as a bundle folder at ``path``; returns ``path``.

    ``spec`` is an :class:`ArchSpec` or a baseline name (``"popularity"``);
    ``dataset`` is the one the model was trained on (``dataset.refit()`` for a
    refitted model); ``metrics`` (e.g. ``{"val": {...}, "test": {...}}``) and
    ``extra`` (trial number, study, ...) are stored in ``metadata.json`` and
    must be JSON-serialisable (numpy scalars are converted). An existing bundle
    at ``path`` is replaced once the new one is complete; any other existing
    folder is refused. ``compression`` (from :mod:`gnnnas.compress`) marks a
    compressed model: ``spec`` is then the architecture it was made from, and
    the loader rebuilds the served model named by ``compression["model"]``.
    """
    path = Path(path)
    if isinstance(spec, str):
        from gnnnas.models.registry import BASELINES
        if spec not in BASELINES:
            raise ValueError(f"save_bundle: spec {spec!r} is neither an ArchSpec nor a baseline "
                             f"({', '.join(BASELINES)})")
        spec_data: dict = {"baseline": spec}
    elif isinstance(spec, ArchSpec):
        spec_data = spec.to_dict()
    else:
        raise TypeError(f"save_bundle: spec must be an ArchSpec or a baseline name, got {type(spec).__name__}")
    _check_model(spec, model, dataset)
    check_target(path)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        (tmp / SPEC_FILE).write_text(_dumps(spec_data, "spec"), encoding="utf-8")
        torch.save(_weights(model), tmp / WEIGHTS_FILE)
        arrays = {"shape": np.asarray([dataset.n_users, dataset.n_items], dtype=np.int64)}
        for split in SPLITS:
            data: SplitData = getattr(dataset, split)
            arrays[f"{split}_indptr"] = data.indptr.astype(np.int64)
            arrays[f"{split}_indices"] = data.indices.astype(_index_dtype(dataset.n_items))
        with open(tmp / INTERACTIONS_FILE, "xb") as handle:
            np.savez_compressed(handle, **arrays)
        (tmp / USERS_FILE).write_text(json.dumps([str(u) for u in dataset.user_ids]) + "\n", encoding="utf-8")
        (tmp / ITEMS_FILE).write_text(json.dumps([str(i) for i in dataset.item_ids]) + "\n", encoding="utf-8")
        if dataset.item_text is not None:
            text = ["" if t is None else str(t) for t in dataset.item_text]
            (tmp / ITEM_TEXT_FILE).write_text(json.dumps(text, ensure_ascii=False) + "\n", encoding="utf-8")
        files = {f.name: {"sha256": file_digest(f), "size": f.stat().st_size}
                 for f in sorted(tmp.iterdir()) if f.is_file()}
        metadata = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "gnnnas_version": _gnnnas_version(),
            "torch_version": torch.__version__,
            "torch_geometric_version": _package_version("torch-geometric"),
            "numpy_version": np.__version__,
            "python_version": platform.python_version(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "model": {"kind": "baseline" if isinstance(spec, str) else "gnn", "class": type(model).__name__,
                      "parameters": int(model.num_parameters())},
            "graph": "train",  # the split the model propagates over
            "seen": "train+val",  # what recommend(exclude_seen=True) leaves out
            "dataset": _dataset_metadata(dataset),
            "metrics": metrics or {},
            "extra": extra or {},
            "files": files,
        }
        if compression is not None:
            metadata["model"]["kind"] = "compressed"
            metadata["compression"] = compression
        (tmp / METADATA_FILE).write_text(_dumps(metadata, "metrics/extra"), encoding="utf-8")
        _install(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def is_bundle(path: Path) -> bool:
    """A folder with a gnnnas bundle's ``metadata.json``."""
    try:
        data = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT_NAME


def check_target(path: Path) -> None:
    """Refuse a path that :func:`save_bundle` must not replace: a file, or a folder that is not a bundle."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise GnnnasError(f"{path}: exists and is not a folder; expected a new or model bundle folder")
    if path.is_dir() and any(path.iterdir()) and not is_bundle(path):
        raise GnnnasError(f"{path}: folder exists and is not a model bundle; refusing to replace it")


def _install(tmp: Path, path: Path) -> None:
    """Rename the complete bundle ``tmp`` to ``path``, replacing an existing bundle (or empty folder) there."""
    check_target(path)
    old = None
    if path.is_dir() and any(path.iterdir()):
        old = path.parent / f".{path.name}.old-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        os.rename(path, old)
    try:
        os.replace(tmp, path)  # an empty folder at path is replaced atomically
    except BaseException:
        if old is not None and not path.exists():
            os.rename(old, path)  # put the previous bundle back
            old = None
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def install_folder(tmp: Path, path: Path) -> None:
    """Move a complete bundle written elsewhere on the same file system into ``path`` (see :func:`save_bundle`)."""
    _install(Path(tmp), Path(path))


# --- reading ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BundleContents:
    """A verified bundle's parts, before the model is rebuilt."""

    path: Path
    metadata: dict
    spec: ArchSpec | str
    weights: dict[str, torch.Tensor]
    n_users: int
    n_items: int
    splits: dict[str, SplitData]
    user_ids: np.ndarray  # str
    item_ids: np.ndarray  # str
    item_text: np.ndarray | None  # object array of str


def resolve_path(path: str | Path) -> Path:
    """The bundle folder: ``path`` itself, or ``path/model`` for a ``gnnnas train --out`` folder."""
    path = Path(path)
    if not path.exists():
        raise GnnnasError(f"{path}: no such model bundle")
    if not path.is_dir():
        raise GnnnasError(f"{path}: expected a model bundle folder, found a file")
    if not (path / METADATA_FILE).exists() and (path / "model" / METADATA_FILE).is_file():
        return path / "model"
    return path


def read_metadata(path: Path) -> dict:
    """``metadata.json``, with the format and version checks."""
    meta_path = path / METADATA_FILE
    if not meta_path.is_file():
        raise GnnnasError(f"{path}: not a model bundle (no {METADATA_FILE}); "
                          "expected a folder written by gnnnas train --out / gnnnas export / save_bundle")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise GnnnasError(f"{meta_path}: unreadable ({err}); the bundle is damaged") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise GnnnasError(f"{meta_path}: not a gnnnas model bundle (format is not {FORMAT_NAME!r})")
    version = metadata.get("format_version")
    major = _format_major(version)
    ours = _format_major(FORMAT_VERSION)
    written_by = metadata.get("gnnnas_version", "?")
    if major is None or major < 1:
        raise GnnnasError(f"{meta_path}: format_version={version!r}: expected MAJOR.MINOR such as {FORMAT_VERSION}")
    if major > ours:
        raise GnnnasError(f"{path}: bundle format {version} (written by gnnnas {written_by}) is newer than "
                          f"this gnnnas {_gnnnas_version()} reads (format {ours}.x); upgrade gnnnas to load it")
    if not isinstance(metadata.get("files"), dict):
        raise GnnnasError(f"{meta_path}: no 'files' manifest; the bundle is damaged")
    return metadata


def verify(path: Path, metadata: dict) -> None:
    """Every file of the manifest is present with its recorded size and sha256."""
    files: dict = metadata["files"]
    for name in REQUIRED_FILES:
        if name not in files:
            raise GnnnasError(f"{path / METADATA_FILE}: the manifest does not list {name}; the bundle is damaged")
    for name, entry in files.items():
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", "..") \
                or not isinstance(entry, dict):
            raise GnnnasError(f"{path / METADATA_FILE}: bad manifest entry {name!r}; the bundle is damaged")
        file = path / name
        if not file.is_file():
            raise GnnnasError(f"{file}: missing; the bundle is incomplete (it lists {len(files)} files)")
        if file.stat().st_size != entry.get("size") or file_digest(file) != entry.get("sha256"):
            raise GnnnasError(f"{file}: checksum mismatch; the bundle was altered after export")


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise GnnnasError(f"{file}: unreadable ({err})") from None


def _read_spec(path: Path, metadata: dict) -> ArchSpec | str:
    data = _read_json(path / SPEC_FILE)
    if isinstance(data, dict) and set(data) == {"baseline"}:
        from gnnnas.models.registry import BASELINES
        if data["baseline"] not in BASELINES:
            raise GnnnasError(f"{path / SPEC_FILE}: unknown baseline {data['baseline']!r} (written by gnnnas "
                              f"{metadata.get('gnnnas_version', '?')}; this is gnnnas {_gnnnas_version()}, "
                              f"which knows {', '.join(BASELINES)})")
        return data["baseline"]
    try:
        return ArchSpec.from_dict(data)
    except SpecError as err:
        raise GnnnasError(f"{path / SPEC_FILE}: {err} (written by gnnnas {metadata.get('gnnnas_version', '?')}; "
                          f"this is gnnnas {_gnnnas_version()})") from None


def _ids(file: Path, n: int) -> np.ndarray:
    data = _read_json(file)
    if not isinstance(data, list) or len(data) != n or not all(isinstance(v, str) for v in data):
        raise GnnnasError(f"{file}: expected a list of {n} string ids")
    return np.asarray(data, dtype=str) if data else np.empty(0, dtype=str)


def read_bundle(path: str | Path, device: torch.device | str = "cpu") -> BundleContents:
    """Check and read the bundle at ``path`` (weights mapped to ``device``)."""
    path = resolve_path(path)
    metadata = read_metadata(path)
    verify(path, metadata)
    spec = _read_spec(path, metadata)
    try:
        with np.load(path / INTERACTIONS_FILE, allow_pickle=False) as npz:
            n_users, n_items = (int(v) for v in npz["shape"])
            splits = {s: SplitData(indptr=npz[f"{s}_indptr"].astype(np.int64),
                                   indices=npz[f"{s}_indices"].astype(np.int64)) for s in SPLITS}
    except (OSError, ValueError, KeyError) as err:
        raise GnnnasError(f"{path / INTERACTIONS_FILE}: unreadable ({err})") from None
    for name, split in splits.items():
        ok = (split.indptr.size == n_users + 1 and split.indptr[0] == 0 and split.indptr[-1] == split.indices.size
              and (split.indices.size == 0 or (split.indices.min() >= 0 and split.indices.max() < n_items)))
        if not ok:
            raise GnnnasError(f"{path / INTERACTIONS_FILE}: split {name} does not fit {n_users} users x {n_items} items")
    user_ids = _ids(path / USERS_FILE, n_users)
    item_ids = _ids(path / ITEMS_FILE, n_items)
    item_text = None
    if ITEM_TEXT_FILE in metadata["files"]:
        text = _read_json(path / ITEM_TEXT_FILE)
        if not isinstance(text, list) or len(text) != n_items:
            raise GnnnasError(f"{path / ITEM_TEXT_FILE}: expected a list of {n_items} strings")
        item_text = np.empty(n_items, dtype=object)
        item_text[:] = [str(t) for t in text]
    try:
        weights = torch.load(path / WEIGHTS_FILE, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 - the unpickler raises many kinds
        raise GnnnasError(f"{path / WEIGHTS_FILE}: cannot be read as plain tensors ({err})") from None
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise GnnnasError(f"{path / WEIGHTS_FILE}: expected a state dict of tensors")
    return BundleContents(path, metadata, spec, weights, n_users, n_items, splits, user_ids, item_ids, item_text)
