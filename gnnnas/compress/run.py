"""Compress a model bundle: load it, apply a method, measure before and after, write the new bundle.

Before and after are measured the same way: the size of ``weights.pt`` as
exported, top-20 latency on the chosen device (the runs of the original and
the compressed model interleaved, :func:`~gnnnas.evaluation.cost.compare_latency_ms`),
and full-ranking metrics on the bundle's own **test** split (seen
items excluded, as :meth:`TrainedRecommender.evaluate`). The test split is
only reported: no method reads it (distillation selects on validation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from gnnnas.compress.base import CompressOptions
from gnnnas.compress.registry import get_method
from gnnnas.errors import GnnnasError
from gnnnas.evaluation.cost import compare_latency_ms, exported_size_bytes
from gnnnas.models.base import Recommender

KS = (10, 20)


@dataclass(frozen=True)
class CompressionResult:
    """Where the artifact went and what it costs and scores, before and after."""

    method: str
    source: Path
    out: Path
    size_bytes_before: int
    size_bytes_after: int
    latency_ms_before: float
    latency_ms_after: float
    metrics_before: dict[str, float]
    metrics_after: dict[str, float]

    @property
    def size_ratio(self) -> float:
        return self.size_bytes_after / self.size_bytes_before

    @property
    def latency_ratio(self) -> float:
        return self.latency_ms_after / self.latency_ms_before

    def relative_change(self, metric: str) -> float:
        """``after / before - 1`` of a metric (NaN when it was 0 before)."""
        before = self.metrics_before[metric]
        return self.metrics_after[metric] / before - 1.0 if before else float("nan")

    def to_dict(self) -> dict:
        return {"method": self.method, "source": str(self.source), "out": str(self.out),
                "size_bytes_before": self.size_bytes_before, "size_bytes_after": self.size_bytes_after,
                "latency_ms_before": self.latency_ms_before, "latency_ms_after": self.latency_ms_after,
                "metrics_before": dict(self.metrics_before), "metrics_after": dict(self.metrics_after)}


def default_out(path: str | Path, method: str) -> Path:
    """``<PATH>-<method>``, next to the source bundle folder."""
    path = Path(path)
    return path.parent / f"{path.name}-{method}"


def _metrics(model: Recommender, teacher, split: str) -> dict[str, float]:
    from gnnnas.evaluation import Evaluator
    evaluator = Evaluator(teacher.dataset, split, ks=KS, device=teacher.device)
    return evaluator.evaluate(model.scorer()).metrics


def compress(path: str | Path, method: str, out: str | Path | None = None,
             options: CompressOptions = CompressOptions(), device: torch.device | str = "cpu",
             repeats: int = 5) -> CompressionResult:
    """Compress the bundle at ``path`` with ``method`` into a new bundle at ``out`` (default ``<path>-<method>``).

    The new bundle loads with :func:`gnnnas.load` like any other; its
    ``metadata.json`` has a ``compression`` entry (method, served model,
    source bundle, before/after measures). Writing is atomic; an existing
    folder at ``out`` that is not a bundle is refused before any work.
    """
    from gnnnas.export import load, save_bundle
    from gnnnas.export.bundle import check_target, resolve_path
    spec = get_method(method)
    source = resolve_path(path)
    out = Path(out) if out is not None else default_out(path, method)
    if out.resolve() == source.resolve():
        raise GnnnasError(f"--out {out}: is the source bundle; expected another folder")
    check_target(out)
    teacher = load(source, device=device)
    if isinstance(teacher.spec, str):
        raise GnnnasError(f"{source}: a {teacher.spec} baseline has no embeddings to compress; "
                          "expected a bundle of a trained GNN model")
    if teacher.dataset.test.nnz == 0:
        raise GnnnasError(f"{source}: the bundle's test split is empty; compression reports its metric change "
                          "on the test split")

    before_metrics = _metrics(teacher.model, teacher, "test")
    compressed = spec.function(teacher, options)
    model = compressed.model.eval()
    after_metrics = _metrics(model, teacher, "test")
    before_latency, after_latency = compare_latency_ms([teacher.model, model], repeats=repeats)
    size_before = int(teacher.metadata["files"]["weights.pt"]["size"])

    metrics = {"test": after_metrics}
    if teacher.dataset.val.nnz:
        metrics["val"] = _metrics(model, teacher, "val")
    info = {"method": method, **compressed.info,
            "source": {"path": str(source), "weights_sha256": teacher.metadata["files"]["weights.pt"]["sha256"],
                       "compression": teacher.metadata.get("compression")},
            "before": {"size_bytes": size_before, "latency_ms": before_latency, "test": before_metrics},
            "after": {"size_bytes": exported_size_bytes(model), "latency_ms": after_latency, "test": after_metrics},
            "latency_protocol": {"k": 20, "users": 256, "warmup": 1, "repeats": repeats, "interleaved": True,
                                 "device": str(teacher.device)}}
    save_bundle(out, teacher.spec, model, teacher.dataset, metrics, teacher.metadata.get("extra"), compression=info)
    return CompressionResult(method, source, out, size_before, (out / "weights.pt").stat().st_size,
                             before_latency, after_latency, before_metrics, after_metrics)
