"""The searchable fields: every :class:`~gnnnas.models.spec.ArchSpec` knob a space file may name.

One :class:`Field` per knob says where it lives (``architecture``, ``layers``
or ``training``), its value type and legal values (taken from the spec's own
constants, so a new aggregator in ``spec.py`` is searchable at once) and its
default (the spec dataclass default). Some layer fields only matter for some
aggregators, and the stack-wide ones (skip, layer combination, edge dropout)
only where there are layers to skip, combine or propagate over;
:attr:`Field.applies` records that, so the sampler never proposes a value the
architecture would ignore or reject.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from gnnnas.models.spec import (
    ACTIVATIONS, AGGREGATORS, ATTENTION_AGGREGATORS, COMBINATIONS, FEATURES, GRAPHS, HEAD_COMBINES, ITEM_GRAPHS,
    NORMS, PARAMETER_FREE_AGGREGATORS, SCORINGS, SKIPS, TEXT_COMBINES, TEXT_FEATURES, TEXT_PROJECTORS, ArchSpec,
    LayerSpec, TrainingSpec,
)

SECTIONS = ("architecture", "layers", "training")

# YAML 1.1 reads ``1e-4`` (no dot) as text; numeric fields accept such text as a number.
_NUMBER_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


# --- value domains ---------------------------------------------------------
@dataclass(frozen=True)
class OneOf:
    """A categorical field: the value must be one of ``values`` (strings).

    ``source`` may be a function, for registries that are costly to import.
    """

    source: tuple[str, ...] | Callable[[], tuple[str, ...]]

    @property
    def values(self) -> tuple[str, ...]:
        return self.source() if callable(self.source) else self.source

    def coerce(self, value: Any) -> Any:
        return value

    def problem(self, value: Any) -> str | None:
        if value in self.values and isinstance(value, str):
            return None
        return f"{value!r} is not allowed; expected one of {', '.join(self.values)}"


@dataclass(frozen=True)
class Integer:
    """An integer field with an inclusive lower bound."""

    minimum: int

    def coerce(self, value: Any) -> Any:
        return value

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{value!r} is not an integer; expected an integer >= {self.minimum}"
        if value < self.minimum:
            return f"{value} is too small; expected an integer >= {self.minimum}"
        return None


@dataclass(frozen=True)
class Number:
    """A float field in ``[minimum, maximum)`` (either bound optional, ``minimum`` exclusive if asked)."""

    minimum: float | None = None
    maximum: float | None = None  # exclusive
    minimum_exclusive: bool = False

    @property
    def expected(self) -> str:
        lo = "" if self.minimum is None else f"{'>' if self.minimum_exclusive else '>='} {self.minimum:g}"
        hi = "" if self.maximum is None else f"< {self.maximum:g}"
        return "a number " + " and ".join(x for x in (lo, hi) if x)

    def coerce(self, value: Any) -> Any:
        """ints and number-like text become floats, so equal specs serialise equally."""
        if isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
            return float(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, float) or not math.isfinite(value):
            return f"{value!r} is not a number; expected {self.expected}"
        too_low = self.minimum is not None and (value <= self.minimum if self.minimum_exclusive
                                                 else value < self.minimum)
        too_high = self.maximum is not None and value >= self.maximum
        if too_low or too_high:
            return f"{value:g} is out of range; expected {self.expected}"
        return None


Domain = OneOf | Integer | Number


# --- fields ----------------------------------------------------------------
@dataclass(frozen=True)
class AtLeast:
    """The integers ``>= minimum``: the values of an open-ended :class:`Applicability`."""

    minimum: int

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= self.minimum

    def __str__(self) -> str:
        return f"values >= {self.minimum}"


@dataclass(frozen=True)
class Applicability:
    """A field that only matters for some values of another field (an implicit ``when``)."""

    ref: str
    values: frozenset[str] | AtLeast
    reason: str

    def covers(self, values: Any) -> bool:
        """Whether the field applies at every one of ``values`` (so no condition is needed)."""
        return all(v in self.values for v in values)


@dataclass(frozen=True)
class Field:
    """One searchable knob. ``name`` is its key in the space file and its dimension name."""

    name: str
    section: str
    domain: Domain
    default: Any
    applies: Applicability | None = None

    @property
    def per_layer(self) -> bool:
        """True for fields of each :class:`LayerSpec` (``num_layers`` itself is not one)."""
        return self.section == "layers" and self.name != "num_layers"


_ARCH, _LAYER, _TRAIN = ArchSpec(), LayerSpec(), TrainingSpec()


def _losses() -> tuple[str, ...]:
    # The loss registry decides which losses exist; importing it pulls in torch, so only on use.
    from gnnnas.training.losses import LOSSES
    return tuple(LOSSES)


_ATTENTION = Applicability("aggregator", ATTENTION_AGGREGATORS, "only attention aggregators have heads")
_PARAMETRIC = Applicability("aggregator", frozenset(AGGREGATORS) - PARAMETER_FREE_AGGREGATORS,
                            "parameter-free aggregators keep their input width")
_TEXT = Applicability("features", TEXT_FEATURES, "only text features are projected")
_ID_TEXT = Applicability("features", frozenset({"id+text"}), "only id+text features are combined")
_ITEM_GRAPH = Applicability("graph", ITEM_GRAPHS, "only item-item graphs have neighbours per item")
# Without layers (matrix factorisation) there is nothing to skip over, one output to combine and
# no propagation for dropped edges to thin: the three would be no-ops that a sampler still models.
_STACK = Applicability("num_layers", AtLeast(1), "it acts on the layer stack, and 0 layers have none")

_FIELD_LIST = (
    Field("embedding_dim", "architecture", Integer(1), _ARCH.embedding_dim),
    Field("skip", "architecture", OneOf(SKIPS), _ARCH.skip, _STACK),
    Field("combination", "architecture", OneOf(COMBINATIONS), _ARCH.combination, _STACK),
    Field("edge_dropout", "architecture", Number(0.0, 1.0), _ARCH.edge_dropout, _STACK),
    Field("scoring", "architecture", OneOf(SCORINGS), _ARCH.scoring),
    Field("features", "architecture", OneOf(FEATURES), _ARCH.features),
    Field("text_projector", "architecture", OneOf(TEXT_PROJECTORS), _ARCH.text_projector, _TEXT),
    Field("text_combine", "architecture", OneOf(TEXT_COMBINES), _ARCH.text_combine, _ID_TEXT),
    Field("graph", "architecture", OneOf(GRAPHS), _ARCH.graph),
    Field("item_k", "architecture", Integer(1), _ARCH.item_k, _ITEM_GRAPH),
    Field("num_layers", "layers", Integer(0), len(_ARCH.layers)),
    Field("aggregator", "layers", OneOf(tuple(AGGREGATORS)), _LAYER.aggregator),
    Field("hidden", "layers", Integer(1), _LAYER.hidden, _PARAMETRIC),
    Field("heads", "layers", Integer(1), _LAYER.heads, _ATTENTION),
    Field("head_combine", "layers", OneOf(HEAD_COMBINES), _LAYER.head_combine, _ATTENTION),
    Field("activation", "layers", OneOf(ACTIVATIONS), _LAYER.activation),
    Field("dropout", "layers", Number(0.0, 1.0), _LAYER.dropout),
    Field("norm", "layers", OneOf(NORMS), _LAYER.norm),
    Field("lr", "training", Number(0.0, minimum_exclusive=True), _TRAIN.lr),
    Field("l2", "training", Number(0.0), _TRAIN.l2),
    Field("batch_size", "training", Integer(1), _TRAIN.batch_size),
    Field("num_negatives", "training", Integer(1), _TRAIN.num_negatives),
    Field("loss", "training", OneOf(_losses), _TRAIN.loss),
    Field("shared_negatives", "training", Integer(0), _TRAIN.shared_negatives),
)

#: name -> field, in canonical order (the order parameters are suggested in when conditions allow).
FIELDS: dict[str, Field] = {f.name: f for f in _FIELD_LIST}


def section_fields(section: str) -> dict[str, Field]:
    """The fields a section of the space file may name."""
    return {name: f for name, f in FIELDS.items() if f.section == section}

