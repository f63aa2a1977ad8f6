"""The architecture description: one point in a search space.

An :class:`ArchSpec` is frozen, validated on construction and round-trips
exactly through JSON (``ArchSpec.from_json(spec.to_json()) == spec``). It
describes the whole candidate: input features, the layer stack (one
:class:`LayerSpec` per message-passing layer), skip connections, the layer
combination that forms the final embedding, scoring, and the training knobs
that interact with the architecture (:class:`TrainingSpec`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from gnnnas.errors import GnnnasError

#: aggregator -> one-line meaning. ``lightgcn`` is parameter-free.
AGGREGATORS: dict[str, str] = {
    "lightgcn": "parameter-free symmetric-normalised sum (LightGCN)",
    "gcn": "normalised sum then a linear map (Kipf & Welling GCN)",
    "sage_mean": "GraphSAGE, mean of neighbours concatenated with self",
    "sage_max": "GraphSAGE, max of neighbours concatenated with self",
    "sage_sum": "GraphSAGE, sum of neighbours concatenated with self",
    "gin": "GIN: MLP((1 + eps) self + sum of neighbours)",
    "gat": "GAT attention over neighbours",
    "gatv2": "GATv2 (dynamic attention) over neighbours",
    "ngcf": "NGCF: normalised sum plus bi-interaction term",
}
ATTENTION_AGGREGATORS = frozenset({"gat", "gatv2"})
PARAMETER_FREE_AGGREGATORS = frozenset({"lightgcn"})
ACTIVATIONS = ("identity", "relu", "leaky_relu", "prelu", "elu", "tanh")
NORMS = ("none", "batch", "layer")
HEAD_COMBINES = ("concat", "mean")
SKIPS = ("none", "residual", "dense")
COMBINATIONS = ("last", "mean", "sum", "concat", "weighted", "attention")
SCORINGS = ("dot", "cosine")
#: input features of the items: free ID embeddings, a projected text embedding, or both
FEATURES = ("id", "text", "id+text")
TEXT_FEATURES = frozenset({"text", "id+text"})
#: text vector -> model width
TEXT_PROJECTORS = ("linear", "mlp")
#: how ``id+text`` joins an item's ID embedding and projected text
TEXT_COMBINES = ("sum", "concat")
#: the graph layers propagate over: user-item only, or plus item-item edges (text kNN / co-occurrence)
GRAPHS = ("user-item", "text-knn", "co-occurrence")
ITEM_GRAPHS = frozenset({"text-knn", "co-occurrence"})
LOSS_NAMES = ("bpr",)


class SpecError(GnnnasError):
    """An architecture description that is not valid; the message names the field."""


def _check(cond: bool, path: str, value: Any, expected: str) -> None:
    if not cond:
        raise SpecError(f"{path}={value!r}: expected {expected}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class LayerSpec:
    """One message-passing layer.

    ``hidden`` is the layer's output width (for attention with ``concat``
    heads, ``hidden`` is split evenly over the heads). Parameter-free
    aggregators keep their input width; their ``hidden`` is normalised to it.
    """

    aggregator: str = "lightgcn"
    hidden: int = 64
    heads: int = 1
    head_combine: str = "concat"
    activation: str = "identity"
    dropout: float = 0.0
    norm: str = "none"

    def validate(self, path: str = "layer") -> None:
        _check(self.aggregator in AGGREGATORS, f"{path}.aggregator", self.aggregator, f"one of {', '.join(AGGREGATORS)}")
        _check(_is_int(self.hidden) and self.hidden >= 1, f"{path}.hidden", self.hidden, "an integer >= 1")
        _check(_is_int(self.heads) and self.heads >= 1, f"{path}.heads", self.heads, "an integer >= 1")
        _check(self.head_combine in HEAD_COMBINES, f"{path}.head_combine", self.head_combine, "concat or mean")
        if self.aggregator not in ATTENTION_AGGREGATORS:
            _check(self.heads == 1, f"{path}.heads", self.heads, f"1 for the non-attention aggregator {self.aggregator}")
        elif self.head_combine == "concat":
            _check(self.hidden % self.heads == 0, f"{path}.hidden", self.hidden,
                   f"a multiple of heads={self.heads} (concatenated heads split the width evenly)")
        _check(self.activation in ACTIVATIONS, f"{path}.activation", self.activation, f"one of {', '.join(ACTIVATIONS)}")
        _check(_is_num(self.dropout) and 0 <= self.dropout < 1, f"{path}.dropout", self.dropout, "a number in [0, 1)")
        _check(self.norm in NORMS, f"{path}.norm", self.norm, f"one of {', '.join(NORMS)}")

    @property
    def is_attention(self) -> bool:
        return self.aggregator in ATTENTION_AGGREGATORS

    @property
    def is_linear_propagation(self) -> bool:
        """Pure normalised propagation: no weights, nonlinearity, dropout or norm."""
        return (self.aggregator in PARAMETER_FREE_AGGREGATORS and self.activation == "identity"
                and self.dropout == 0 and self.norm == "none")

    def __str__(self) -> str:
        parts = [f"{self.aggregator}({self.hidden}"]
        if self.is_attention:
            parts.append(f", {self.heads}x{self.head_combine}")
        parts.append(")")
        extras = [x for x in (self.activation if self.activation != "identity" else "",
                              f"drop {self.dropout:g}" if self.dropout else "",
                              f"{self.norm}norm" if self.norm != "none" else "") if x]
        return "".join(parts) + (f"[{', '.join(extras)}]" if extras else "")


@dataclass(frozen=True)
class TrainingSpec:
    """Training knobs that interact with the architecture (learning rate, L2, batch, negatives, loss).

    ``num_negatives`` items are drawn for each training pair; ``shared_negatives``
    more are drawn once per mini-batch and scored against every user of it (a
    matrix product, so hundreds cost little more than one per pair).
    """

    lr: float = 1e-3
    l2: float = 1e-4
    batch_size: int = 2048
    num_negatives: int = 1
    loss: str = "bpr"
    shared_negatives: int = 0

    def validate(self, path: str = "training") -> None:
        _check(_is_num(self.lr) and self.lr > 0, f"{path}.lr", self.lr, "a number > 0")
        _check(_is_num(self.l2) and self.l2 >= 0, f"{path}.l2", self.l2, "a number >= 0")
        _check(_is_int(self.batch_size) and self.batch_size >= 1, f"{path}.batch_size", self.batch_size, "an integer >= 1")
        _check(_is_int(self.num_negatives) and self.num_negatives >= 1, f"{path}.num_negatives",
               self.num_negatives, "an integer >= 1")
        _check(_is_int(self.shared_negatives) and self.shared_negatives >= 0, f"{path}.shared_negatives",
               self.shared_negatives, "an integer >= 0")
        from gnnnas.training.losses import LOSSES  # the registry decides which losses exist
        _check(self.loss in LOSSES, f"{path}.loss", self.loss, f"one of {', '.join(LOSSES)}")


@dataclass(frozen=True)
class ArchSpec:
    """A complete candidate recommender. ``num_layers == 0`` is matrix factorisation."""

    embedding_dim: int = 64
    layers: tuple[LayerSpec, ...] = ()
    skip: str = "none"
    combination: str = "mean"
    edge_dropout: float = 0.0
    scoring: str = "dot"
    features: str = "id"
    text_projector: str = "linear"  # used with text features only
    text_combine: str = "sum"  # used with id+text only
    graph: str = "user-item"
    item_k: int = 10  # item-item neighbours per item, used with an item-item graph only
    training: TrainingSpec = field(default_factory=TrainingSpec)

    def __post_init__(self) -> None:
        layers = tuple(LayerSpec(**l) if isinstance(l, dict) else l for l in self.layers)
        training = TrainingSpec(**self.training) if isinstance(self.training, dict) else self.training
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "training", training)
        self.validate()
        # Parameter-free layers keep their input width whatever ``hidden`` says: normalise it so
        # equal architectures have equal specs (and equal JSON).
        width, fixed = self.embedding_dim, []
        for layer in self.layers:
            if layer.aggregator in PARAMETER_FREE_AGGREGATORS and layer.hidden != width:
                layer = replace(layer, hidden=width)
            fixed.append(layer)
            width = layer.hidden
        object.__setattr__(self, "layers", tuple(fixed))
        # Knobs a candidate does not use take their defaults, for the same reason.
        if self.features not in TEXT_FEATURES:
            object.__setattr__(self, "text_projector", "linear")
        if self.features != "id+text":
            object.__setattr__(self, "text_combine", "sum")
        if self.graph not in ITEM_GRAPHS:
            object.__setattr__(self, "item_k", 10)

    def validate(self) -> None:
        _check(_is_int(self.embedding_dim) and self.embedding_dim >= 1, "embedding_dim", self.embedding_dim,
               "an integer >= 1")
        _check(isinstance(self.layers, tuple), "layers", self.layers, "a list of layers")
        for i, layer in enumerate(self.layers):
            _check(isinstance(layer, LayerSpec), f"layers[{i}]", layer, "a layer mapping")
            layer.validate(f"layers[{i}]")
        _check(self.skip in SKIPS, "skip", self.skip, f"one of {', '.join(SKIPS)}")
        _check(self.combination in COMBINATIONS, "combination", self.combination, f"one of {', '.join(COMBINATIONS)}")
        _check(_is_num(self.edge_dropout) and 0 <= self.edge_dropout < 1, "edge_dropout", self.edge_dropout,
               "a number in [0, 1)")
        _check(self.scoring in SCORINGS, "scoring", self.scoring, f"one of {', '.join(SCORINGS)}")
        _check(self.features in FEATURES, "features", self.features, f"one of {', '.join(FEATURES)}")
        _check(self.text_projector in TEXT_PROJECTORS, "text_projector", self.text_projector,
               f"one of {', '.join(TEXT_PROJECTORS)}")
        _check(self.text_combine in TEXT_COMBINES, "text_combine", self.text_combine, f"one of {', '.join(TEXT_COMBINES)}")
        _check(self.graph in GRAPHS, "graph", self.graph, f"one of {', '.join(GRAPHS)}")
        _check(_is_int(self.item_k) and self.item_k >= 1, "item_k", self.item_k, "an integer >= 1")
        _check(isinstance(self.training, TrainingSpec), "training", self.training, "a training mapping")
        self.training.validate()

    @property
    def uses_text(self) -> bool:
        """Whether the candidate needs item text (text features or a text-kNN item graph)."""
        return self.features in TEXT_FEATURES or self.graph == "text-knn"

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def is_linear(self) -> bool:
        """LightGCN-family: only parameter-free linear propagation, no skip, fixed combination."""
        return (all(l.is_linear_propagation for l in self.layers) and self.skip == "none"
                and self.combination in ("last", "mean", "sum"))

    # --- serialisation -------------------------------------------------
    def to_dict(self) -> dict:
        out = asdict(self)
        out["layers"] = [dict(l) for l in out["layers"]]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "ArchSpec":
        if not isinstance(data, dict):
            raise SpecError(f"architecture: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"{unknown[0]}: unknown architecture field; expected one of {', '.join(sorted(known))}")
        data = dict(data)
        layer_fields = {f.name for f in fields(LayerSpec)}
        layers = data.get("layers", [])
        if not isinstance(layers, list):
            raise SpecError(f"layers={layers!r}: expected a list of layer objects")
        for i, layer in enumerate(layers):
            if not isinstance(layer, dict):
                raise SpecError(f"layers[{i}]={layer!r}: expected an object")
            bad = sorted(set(layer) - layer_fields)
            if bad:
                raise SpecError(f"layers[{i}].{bad[0]}: unknown layer field; expected one of {', '.join(sorted(layer_fields))}")
        training = data.get("training", {})
        if not isinstance(training, dict):
            raise SpecError(f"training={training!r}: expected an object")
        train_fields = {f.name for f in fields(TrainingSpec)}
        bad = sorted(set(training) - train_fields)
        if bad:
            raise SpecError(f"training.{bad[0]}: unknown training field; expected one of {', '.join(sorted(train_fields))}")
        data["layers"] = tuple(LayerSpec(**l) for l in layers)
        data["training"] = TrainingSpec(**training)
        return cls(**data)

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=indent is None)

    @classmethod
    def from_json(cls, text: str) -> "ArchSpec":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise SpecError(f"architecture JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
        return cls.from_dict(data)

    def key(self) -> str:
        """Canonical string: equal for equal architectures (used to skip retraining duplicates)."""
        return self.to_json()

    def __str__(self) -> str:
        stack = " -> ".join(str(l) for l in self.layers) or "no propagation (MF)"
        t = self.training
        features = self.features
        if self.features in TEXT_FEATURES:
            features += f" ({self.text_projector}" + (f", {self.text_combine})" if self.features == "id+text" else ")")
        graph = self.graph + (f" k={self.item_k}" if self.graph in ITEM_GRAPHS else "")
        return (f"dim {self.embedding_dim} | {stack} | skip {self.skip} | combine {self.combination} | "
                f"{self.scoring} | edge drop {self.edge_dropout:g} | {features} features | {graph} graph | "
                f"{t.loss} lr {t.lr:g} l2 {t.l2:g} batch {t.batch_size} neg {t.num_negatives}"
                + (f"+{t.shared_negatives} shared" if t.shared_negatives else ""))
