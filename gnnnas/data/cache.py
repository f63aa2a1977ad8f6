"""On-disk cache of processed datasets: one ``.npz`` per fingerprint.

Files are written under a temporary name and renamed into place, so a crash
or error never leaves a half-written entry. Arrays are stored without pickle:
ids as numpy unicode arrays, item text as UTF-8 bytes plus offsets (a unicode
array would pad every title to the longest one), ``info`` as JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
import zipfile
from pathlib import Path

import numpy as np

from gnnnas.data.dataset import Dataset, SplitData

#: Bump when parsing, preprocessing or splitting changes what a source produces.
FORMAT_VERSION = 2
ENV_VAR = "GNNNAS_CACHE_DIR"
_log = logging.getLogger(__name__)


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$GNNNAS_CACHE_DIR``, else ``~/.cache/gnnnas/datasets``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path.home() / ".cache" / "gnnnas" / "datasets"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(format_name: str, files: list[Path], options: dict) -> str:
    """sha256 over the format version, format, options and the files' names and contents.

    Paths are left out on purpose: the same data copied elsewhere has the same
    fingerprint, so experiments on it compare.
    """
    payload = {
        "version": FORMAT_VERSION,
        "format": format_name,
        "options": options,
        "files": [[Path(f).name, file_digest(Path(f))] for f in files],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def entry_path(root: Path, name: str, fp: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60] or "data"
    return root / f"{safe}-{fp[:24]}.npz"


def _encode_text(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    blobs = [str(t).encode("utf-8") for t in text]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    return np.frombuffer(b"".join(blobs), dtype=np.uint8), offsets


def _decode_text(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    raw = data.tobytes()
    out = np.empty(offsets.size - 1, dtype=object)
    out[:] = [raw[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    return out


def _index_dtype(n: int) -> type:
    return np.int32 if n < np.iinfo(np.int32).max else np.int64


def save(dataset: Dataset, path: Path) -> bool:
    """Write ``dataset`` to ``path`` atomically; False (and a warning) if it cannot."""
    arrays: dict[str, np.ndarray] = {
        "name": np.asarray(dataset.name, dtype=str),
        "fingerprint": np.asarray(dataset.fingerprint, dtype=str),
        "info": np.asarray(json.dumps(dataset.info, sort_keys=True), dtype=str),
        "shape": np.asarray([dataset.n_users, dataset.n_items], dtype=np.int64),
        "user_ids": np.asarray(dataset.user_ids, dtype=str),
        "item_ids": np.asarray(dataset.item_ids, dtype=str),
    }
    for split in ("train", "val", "test"):
        data: SplitData = getattr(dataset, split)
        arrays[f"{split}_indptr"] = data.indptr
        # int32 halves the file; compression would cost more time than it saves.
        arrays[f"{split}_indices"] = data.indices.astype(_index_dtype(dataset.n_items))
    if dataset.item_text is not None:
        arrays["text_data"], arrays["text_offsets"] = _encode_text(dataset.item_text)
    if dataset.has_cold:
        for split in ("val_cold", "test_cold"):
            data = getattr(dataset, split)
            arrays[f"{split}_indptr"] = data.indptr
            arrays[f"{split}_indices"] = data.indices.astype(_index_dtype(dataset.n_items))
        arrays["cold_val_items"] = dataset.cold_val_items
        arrays["cold_test_items"] = dataset.cold_test_items
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A unique name in the same folder (so os.replace is atomic); plain open()
        # keeps the user's umask, unlike tempfile's private 0600 files.
        tmp_name = str(path.with_name(f".tmp-{os.getpid()}-{uuid.uuid4().hex}.npz"))
        with open(tmp_name, "xb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp_name, path)
        return True
    except OSError as exc:
        _log.warning("could not write dataset cache %s: %s", path, exc)
        return False
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)


def load(path: Path) -> Dataset | None:
    """The cached dataset at ``path``, or None when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            n_users, n_items = (int(v) for v in npz["shape"])
            splits = {s: SplitData(indptr=npz[f"{s}_indptr"].astype(np.int64),
                                   indices=npz[f"{s}_indices"].astype(np.int64))
                      for s in ("train", "val", "test")}
            text = _decode_text(npz["text_data"], npz["text_offsets"]) if "text_offsets" in npz.files else None
            cold = {}
            if "cold_val_items" in npz.files:
                cold = {s: SplitData(indptr=npz[f"{s}_indptr"].astype(np.int64),
                                     indices=npz[f"{s}_indices"].astype(np.int64)) for s in ("val_cold", "test_cold")}
                cold["cold_val_items"] = npz["cold_val_items"].astype(np.int64)
                cold["cold_test_items"] = npz["cold_test_items"].astype(np.int64)
            return Dataset(
                name=str(npz["name"]), n_users=n_users, n_items=n_items, **splits, **cold,
                user_ids=npz["user_ids"], item_ids=npz["item_ids"], item_text=text,
                fingerprint=str(npz["fingerprint"]), info=json.loads(str(npz["info"])),
            )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # corrupt or from an older layout: rebuild
        _log.warning("ignoring unreadable dataset cache %s: %s", path, exc)
        return None
