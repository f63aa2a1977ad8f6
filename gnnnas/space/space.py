"""The search space object: dimensions in sampling order, and trial -> :class:`ArchSpec`.

A :class:`SearchSpace` asks a trial (anything with Optuna's ``suggest_*``
methods) for one value per *active* dimension and assembles the ArchSpec.
Parameter names are flat and stable:

* architecture fields and ``num_layers``: the field name (``embedding_dim``);
* training fields: ``training.<field>`` (``training.lr``);
* per-layer fields shared by all layers: the field name (``aggregator``);
* per-layer fields chosen independently: ``layer<i>.<field>`` (``layer1.heads``).

A dimension whose condition does not hold is not suggested at all (so Optuna
sees the conditional structure) and its field keeps the ArchSpec default.

A space may also list named presets (:data:`gnnnas.models.presets.PRESETS`)
as fixed points: it is then the union of the declared space and those
architectures, and sampling first suggests the categorical ``preset`` from
``"searched"`` plus the preset names (just the preset names when the file
declares no ``architecture``, ``layers`` or ``training`` section). A chosen
preset is returned as is and nothing else is suggested; ``"searched"`` goes
on to the declared dimensions. Without presets nothing changes: no
``preset`` parameter, the same parameters and samples as before.
Conditions compare *effective* values: the sampled value where the dimension
is active, the ArchSpec default where it is not. A shared per-layer dimension
whose condition refers to an independent one is suggested once if the
condition holds on at least one layer, and applies to those layers only.
"""

from __future__ import annotations

import math
from collections import ChainMap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from gnnnas.models.presets import PRESETS
from gnnnas.models.spec import ArchSpec, LayerSpec, TrainingSpec
from gnnnas.space.distributions import Distribution, FloatRange, TrialLike
from gnnnas.space.fields import Field
from gnnnas.space.source import SpaceError
from gnnnas.space.settings import SearchSettings
from gnnnas.space.trials import RandomTrial, ReplayTrial, SpecTrial

GLOBAL, SHARED, INDEPENDENT = "global", "shared", "independent"
#: The parameter that picks a preset (or the declared space) in a space with ``presets``.
PRESET_PARAM = "preset"
#: The ``preset`` choice that samples the declared dimensions.
SEARCHED = "searched"


def _first_difference(want: Any, got: Any, path: str = "") -> tuple[str, Any, Any]:
    """The first (dotted path, wanted, got) where two ``to_dict`` records differ."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key in want:
            if want[key] != got.get(key):
                return _first_difference(want[key], got.get(key), f"{path}.{key}" if path else key)
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (a, b) in enumerate(zip(want, got)):
            if a != b:
                return _first_difference(a, b, f"{path}[{i}]")
    return path, want, got


@dataclass(frozen=True)
class Condition:
    """``ref`` must take one of ``values``. ``implicit``: derived from the field, not written in the file."""

    ref: str
    values: tuple[Any, ...]
    implicit: bool = False

    def holds(self, context: Mapping[str, Any]) -> bool:
        return context[self.ref] in self.values

    def describe(self) -> str:
        shown = ", ".join(v if isinstance(v, str) else f"{v:g}" for v in self.values)
        return f"{self.ref} in [{shown}]"


@dataclass(frozen=True)
class Dimension:
    """One field of the ArchSpec, how its value is drawn, and when.

    ``mode`` is ``global`` (one value per architecture), ``shared`` (one value
    for every layer) or ``independent`` (one value per layer). ``declared``
    is False for fields the file does not mention (fixed at their default).
    """

    field: Field
    distribution: Distribution
    mode: str = GLOBAL
    conditions: tuple[Condition, ...] = ()
    declared: bool = True

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def is_layer(self) -> bool:
        return self.mode != GLOBAL

    def param_name(self, layer: int | None = None) -> str:
        """The trial parameter name; ``layer`` is needed for independent per-layer dimensions."""
        if self.mode == INDEPENDENT:
            if layer is None:
                raise ValueError(f"{self.name} is chosen per layer; pass the layer index")
            return f"layer{layer}.{self.name}"
        return f"training.{self.name}" if self.field.section == "training" else self.name

    def active(self, context: Mapping[str, Any]) -> bool:
        return all(c.holds(context) for c in self.conditions)

    def draw(self, trial: TrialLike, layer: int | None = None) -> Any:
        return self.distribution.suggest(trial, self.param_name(layer))


@dataclass(frozen=True)
class SearchSpace:
    """A set of architectures. Build one with :func:`gnnnas.space.load_space` or :func:`parse_space`.

    ``dimensions`` holds every ArchSpec field in sampling order (a field the
    file does not mention is a fixed, undeclared dimension at its default).
    ``presets`` names fixed architectures from
    :data:`~gnnnas.models.presets.PRESETS` that belong to the space too;
    ``searched`` is False for a space that is only its presets (its
    ``dimensions`` are then never sampled).
    """

    name: str
    description: str
    dimensions: tuple[Dimension, ...]
    search: SearchSettings = field(default_factory=SearchSettings)
    path: Path | None = None
    presets: tuple[str, ...] = ()
    searched: bool = True

    def __post_init__(self) -> None:
        unknown = [name for name in self.presets if name not in PRESETS]
        if unknown:
            raise ValueError(f"unknown preset {unknown[0]!r}; expected one of {', '.join(PRESETS)}")
        if not self.searched and not self.presets:
            raise ValueError("a space with no searched dimensions needs at least one preset")

    # --- introspection -------------------------------------------------
    def possible(self, name: str) -> tuple:
        """Every value the field ``name`` can take in this space (presets included); ``()`` for float ranges."""
        dim = next(d for d in self.dimensions if d.name == name)
        values = list(dim.distribution.values() or ()) if self.searched else []
        for preset in self.presets:
            value = getattr(PRESETS[preset].spec, name)
            if value not in values:
                values.append(value)
        return tuple(values)

    def needs_item_text(self) -> str | None:
        """The first field whose values need item text (``features: text`` ...), or None."""
        from gnnnas.models.spec import TEXT_FEATURES
        if any(v in TEXT_FEATURES for v in self.possible("features")):
            return "features"
        if "text-knn" in self.possible("graph"):
            return "graph"
        return None

    @property
    def declared(self) -> tuple[Dimension, ...]:
        """The dimensions the file names, in sampling order."""
        return tuple(d for d in self.dimensions if d.declared)

    def dimension(self, name: str) -> Dimension:
        for dim in self.dimensions:
            if dim.name == name:
                return dim
        raise KeyError(name)

    @property
    def global_dimensions(self) -> tuple[Dimension, ...]:
        return tuple(d for d in self.dimensions if not d.is_layer)

    @property
    def layer_dimensions(self) -> tuple[Dimension, ...]:
        return tuple(d for d in self.dimensions if d.is_layer)

    @property
    def continuous(self) -> tuple[str, ...]:
        """Names of float-range dimensions (each counts as one value in :meth:`count`)."""
        return tuple(d.name for d in self.dimensions if isinstance(d.distribution, FloatRange))

    @property
    def is_finite(self) -> bool:
        return not self.continuous

    @property
    def preset_choices(self) -> tuple[str, ...]:
        """The choices of the ``preset`` parameter: ``"searched"`` (if the file declares any) and the presets."""
        if not self.presets:
            return ()
        return ((SEARCHED,) if self.searched else ()) + self.presets

    @property
    def preset_specs(self) -> dict[str, ArchSpec]:
        """Preset name -> its architecture, in the file's order."""
        return {name: PRESETS[name].spec for name in self.presets}

    @property
    def label(self) -> str:
        """How messages name this space: its file, else its name."""
        return str(self.path) if self.path else self.name

    # --- sampling ------------------------------------------------------
    def sample(self, trial: TrialLike) -> ArchSpec:
        """Ask ``trial`` for every active dimension and return the architecture.

        ``trial`` may be an ``optuna.Trial``, an ``optuna.trial.FixedTrial``,
        a :class:`RandomTrial` or anything else with the same three methods.
        In a space with presets the first suggestion is ``preset``; a chosen
        preset is returned as is, with nothing else suggested.
        """
        if self.presets:
            choice = trial.suggest_categorical(PRESET_PARAM, self.preset_choices)
            if choice != SEARCHED:
                return PRESETS[choice].spec
        return self._assemble(self._draw(trial))

    def sample_random(self, n: int, seed: int | None = 0) -> list[ArchSpec]:
        """``n`` independent uniform samples (one :class:`RandomTrial` each), reproducible by ``seed``."""
        rng = np.random.default_rng(seed)
        return [self.sample(RandomTrial(rng)) for _ in range(n)]

    def to_spec(self, params: Mapping[str, Any]) -> ArchSpec:
        """Rebuild the architecture from recorded parameters (e.g. Optuna's ``trial.params``).

        Every parameter the architecture needs must be present and in range;
        parameters the architecture would not use are an error too.
        """
        replay = ReplayTrial(params, self.label)
        spec = self.sample(replay)
        replay.check_all_used()
        return spec

    fixed_params = to_spec  # Optuna's name for the same idea (optuna.trial.FixedTrial)

    def params_of(self, spec: ArchSpec, preset: str | None = None) -> dict[str, Any]:
        """The parameters under which this space samples ``spec``: the inverse of :meth:`to_spec`.

        ``preset`` names ``spec`` when it is one of the space's presets (its
        parameters are then just ``preset``). Raises :class:`SpaceError` when
        ``spec`` is not a point of the space, naming the first parameter or
        field that differs.
        """
        if preset is not None and preset in self.presets:
            return {PRESET_PARAM: preset}
        if not self.searched:
            raise SpaceError(f"the architecture is not one of the presets {', '.join(self.presets)}",
                             file=self.label)
        trial = SpecTrial(spec, self.label, fixed={PRESET_PARAM: SEARCHED})
        drawn = self.sample(trial)
        if drawn != spec:
            # a field the space does not vary (or fixes to another value) differs
            key, want, got = _first_difference(spec.to_dict(), drawn.to_dict())
            raise SpaceError(f"{key} {want!r} is outside this space (its dimensions give {got!r})", file=self.label)
        return dict(trial.params)

    def _draw(self, trial: TrialLike) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        top: dict[str, Any] = {}
        for dim in self.global_dimensions:
            top[dim.name] = dim.draw(trial) if dim.active(top) else dim.field.default
        layers: list[dict[str, Any]] = [{} for _ in range(top["num_layers"])]
        for dim in self.layer_dimensions:
            contexts = [ChainMap(layer, top) for layer in layers]
            if dim.mode == INDEPENDENT:
                for i, (layer, ctx) in enumerate(zip(layers, contexts)):
                    layer[dim.name] = dim.draw(trial, i) if dim.active(ctx) else dim.field.default
            else:
                applies = [dim.active(ctx) for ctx in contexts]
                value = dim.draw(trial) if any(applies) else None
                for layer, on in zip(layers, applies):
                    layer[dim.name] = value if on else dim.field.default
        return top, layers

    def _assemble(self, drawn: tuple[dict[str, Any], list[dict[str, Any]]]) -> ArchSpec:
        top, layers = drawn
        by_section: dict[str, dict[str, Any]] = {"architecture": {}, "training": {}}
        for dim in self.global_dimensions:
            if dim.name != "num_layers":
                by_section[dim.field.section][dim.name] = top[dim.name]
        return ArchSpec(**by_section["architecture"], layers=tuple(LayerSpec(**layer) for layer in layers),
                        training=TrainingSpec(**by_section["training"]))

    # --- size ------------------------------------------------------------
    def count(self, include_continuous: bool = False) -> int | float:
        """Number of distinct architectures.

        Exact over the discrete dimensions (conditions, per-layer choices and
        every layer count included); each float range counts as ONE value, so
        this is the size of the discrete skeleton. With
        ``include_continuous=True`` a space with float ranges returns
        ``math.inf``.

        Presets add one each. They are not deduplicated against the declared
        space: a preset that the declared dimensions can also produce counts
        twice (the union is counted as a sum, an upper bound in that case).
        """
        from gnnnas.space.counting import count_architectures
        if not self.searched:
            return len(self.presets)
        if include_continuous and self.continuous:
            return math.inf
        return count_architectures(self.global_dimensions, self.layer_dimensions) + len(self.presets)

    def __str__(self) -> str:
        return f"{self.name}: {self.description}"
