"""Validation of a space file's data and construction of the :class:`SearchSpace`.

Every check reports the first problem as one line naming the file, the line,
the key path and what was expected (see :class:`~gnnnas.space.source.SpaceError`).
File-level structure is checked here; conditions between dimensions, which
need every dimension parsed first, are resolved in :mod:`gnnnas.space.conditions`.
"""

from __future__ import annotations

import re
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

from gnnnas.errors import GnnnasError
from gnnnas.models.presets import PRESETS
from gnnnas.models.spec import TrainingSpec
from gnnnas.space.conditions import ParsedDimension, resolve
from gnnnas.space.distributions import Categorical, Distribution, Fixed, FloatRange, IntRange, OrderedChoices
from gnnnas.space.fields import FIELDS, SECTIONS, Field, Integer, Number, OneOf, section_fields
from gnnnas.space.settings import InitialPoint, SearchSettings, WarmUp
from gnnnas.space.source import KeyPath, Source, SpaceError, describe_value, parse_yaml, read_text
from gnnnas.space.space import GLOBAL, INDEPENDENT, SHARED, SearchSpace

TOP_KEYS = ("name", "description", "search", "presets", *SECTIONS)
PER_LAYER_MODES = (INDEPENDENT, SHARED)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# Keys a dimension mapping may have, by form. ``when`` and ``per_layer`` go with any form.
_FORMS = {"value": ("value",), "choices": ("choices", "ordered"), "range": ("low", "high", "step", "log")}
_COMMON = ("per_layer", "when")
_DIM_KEYS = ("value", "choices", "ordered", "low", "high", "step", "log", *_COMMON)


def load_file(path: str | Path) -> SearchSpace:
    """Read, validate and build the space in ``path``."""
    path = Path(path)
    return parse_space(read_text(path), str(path), path=path)


def parse_space(text: str, file: str = "<string>", path: Path | None = None) -> SearchSpace:
    """Validate YAML text and build its :class:`SearchSpace`; ``file`` names it in messages."""
    data, source = parse_yaml(text, file)
    return build_space(data, source, path)


def build_space(data: Any, source: Source, path: Path | None = None) -> SearchSpace:
    """Validate already-parsed data (``source`` locates keys for messages) and build the space."""
    if data is None:
        source.fail((), f"empty file; expected a mapping with keys {', '.join(TOP_KEYS)}")
    _mapping(data, (), source, "a mapping with keys " + ", ".join(TOP_KEYS))
    _known_keys(data, (), TOP_KEYS, source)
    name = _text(data, "name", source)
    if not _NAME.match(name):
        source.fail(("name",), f"{name!r} is not a valid name; expected letters, digits, '_', '-' or '.'")
    description = _text(data, "description", source)
    settings = _search_settings(data.get("search"), source)
    presets = _presets(data["presets"], source) if "presets" in data else ()
    parsed: list[ParsedDimension] = []
    for section in SECTIONS:
        parsed += _section(data.get(section), section, source)
    dimensions = resolve(parsed, source)
    # A file that lists presets and writes no section at all is only its presets; a section key,
    # even an empty one, keeps the declared space (its ArchSpec defaults at least) in the union.
    searched = not presets or any(section in data for section in SECTIONS)
    space = SearchSpace(name=name, description=description, dimensions=dimensions, search=settings, path=path,
                        presets=presets, searched=searched)
    _check_initial(space, source)
    return space


# --- small checks ------------------------------------------------------------
def _mapping(value: Any, path: KeyPath, source: Source, expected: str) -> dict:
    if not isinstance(value, dict):
        source.fail(path, f"got {describe_value(value)}; expected {expected}")
    for key in value:
        if not isinstance(key, str):
            source.fail(path + (key,), f"key {key!r} is not text; expected {expected}")
    return value


def _known_keys(data: dict, path: KeyPath, allowed: tuple[str, ...], source: Source, hint: str = "") -> None:
    for key in data:
        if key not in allowed:
            source.fail(path + (key,), f"unknown key {key!r}{hint}; expected one of {', '.join(allowed)}")


def _text(data: dict, key: str, source: Source) -> str:
    if key not in data:
        source.fail((key,), f"missing; expected a one-line {key}")
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        source.fail((key,), f"got {describe_value(value)}; expected a non-empty one-line text")
    value = value.strip()
    if "\n" in value:
        source.fail((key,), "spans several lines; expected one line")
    return value


# --- search settings -----------------------------------------------------------
def _search_settings(raw: Any, source: Source) -> SearchSettings:
    from gnnnas.evaluation.metrics import METRICS  # the evaluator decides which metrics exist

    defaults = SearchSettings()
    if raw is None:
        return defaults
    path: KeyPath = ("search",)
    _mapping(raw, path, source, "a mapping of search settings")
    _known_keys(raw, path, tuple(defaults.to_dict()), source)
    values = defaults.to_dict()
    for key in ("max_epochs", "patience", "eval_every"):
        if key in raw:
            problem = Integer(1).problem(raw[key])
            if problem:
                source.fail(path + (key,), problem)
            values[key] = raw[key]
    if "metric" in raw:
        metric = raw["metric"]
        name, at, k = metric.partition("@") if isinstance(metric, str) else ("", "", "")
        if not at or name not in METRICS or not k.isdigit() or int(k) < 1:
            source.fail(path + ("metric",), f"{metric!r} is not a metric; expected NAME@K with NAME one of "
                                            f"{', '.join(METRICS)} and K >= 1 (e.g. ndcg@20)")
        values["metric"] = f"{name}@{int(k)}"
    values["initial"] = _initial_points(raw["initial"], path + ("initial",), source) if "initial" in raw else ()
    if raw.get("warm_up") is not None:
        values["warm_up"] = _warm_up(raw["warm_up"], path + ("warm_up",), source)
    if values["eval_every"] > values["max_epochs"]:
        source.fail(path + ("eval_every",), f"{values['eval_every']} evaluates after max_epochs="
                                            f"{values['max_epochs']}; expected at most max_epochs")
    return SearchSettings(**values)


def _initial_points(raw: Any, path: KeyPath, source: Source) -> tuple[InitialPoint, ...]:
    """``[lightgcn, {preset: mf, lr: 5.0e-3}]``: preset names, or a preset with training knobs set."""
    known = ", ".join(PRESETS)
    knobs = tuple(f.name for f in dataclass_fields(TrainingSpec))
    expected = f"a preset name ({known}) or a mapping {{preset: NAME, <training field>: value}}"
    if not isinstance(raw, list):
        source.fail(path, f"got {describe_value(raw)}; expected a list, each item {expected}")
    points: list[InitialPoint] = []
    for i, item in enumerate(raw):
        at = path + (i,)
        if isinstance(item, dict):
            _known_keys(item, at, ("preset", *knobs), source)
            name = item.get("preset")
            training = tuple((k, item[k]) for k in knobs if k in item)
        else:
            name, training = item, ()
        if not isinstance(name, str) or name not in PRESETS:
            source.fail(at, f"got {describe_value(name)}; expected {expected}")
        point = InitialPoint(name, training)
        try:
            point.spec().validate()
        except (GnnnasError, TypeError) as err:
            source.fail(at, str(err))
        if any(p.label == point.label for p in points):
            source.fail(at, f"{point.label!r} is listed twice; expected distinct points")
        points.append(point)
    return tuple(points)


def _warm_up(raw: Any, path: KeyPath, source: Source) -> WarmUp:
    """``{space: lightgcn, share: 0.4}``: a sub-space (bundled name or file) and the share of the budget it gets."""
    expected = "a mapping {space: NAME|FILE, share: FRACTION} with 0 < FRACTION < 1"
    if not isinstance(raw, dict):
        source.fail(path, f"got {describe_value(raw)}; expected {expected}")
    _known_keys(raw, path, ("space", "share"), source)
    space, share = raw.get("space"), raw.get("share")
    if not isinstance(space, str) or not space.strip():
        source.fail(path + ("space",), f"got {describe_value(space)}; expected the name or file of a space")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share < 1:
        source.fail(path + ("share",), f"got {describe_value(share)}; expected a fraction of the budget, "
                                       "0 < share < 1")
    return WarmUp(space.strip(), float(share))


def _check_initial(space: SearchSpace, source: Source) -> None:
    """Every preset of ``search.initial`` must be a point of the space (its first trials are drawn from it)."""
    for i, point in enumerate(space.search.initial):
        try:
            space.params_of(point.spec(), point.preset)
        except SpaceError as err:
            source.fail(("search", "initial", i), f"{point.label!r} is not in this space: {err.problem}")


# --- presets -----------------------------------------------------------------------
def _presets(raw: Any, source: Source) -> tuple[str, ...]:
    path: KeyPath = ("presets",)
    known = ", ".join(PRESETS)
    if not isinstance(raw, list):
        source.fail(path, f"got {describe_value(raw)}; expected a list of preset names (from {known})")
    if not raw:
        source.fail(path, f"no presets; expected a non-empty list of preset names (from {known})")
    names: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, str):
            source.fail(path + (i,), f"got {describe_value(item)}; expected a preset name, one of {known}")
        if item not in PRESETS:
            source.fail(path + (i,), f"unknown preset {item!r}; expected one of {known}")
        if item in names:
            source.fail(path + (i,), f"{item!r} is listed twice; expected distinct presets")
        names.append(item)
    return tuple(names)


# --- dimensions ------------------------------------------------------------------
def _section(raw: Any, section: str, source: Source) -> list[ParsedDimension]:
    if raw is None:
        return []
    path: KeyPath = (section,)
    _mapping(raw, path, source, f"a mapping of {section} fields")
    allowed = tuple(section_fields(section)) + (("per_layer",) if section == "layers" else ())
    for key in raw:
        if key not in allowed:
            other = FIELDS.get(key)
            hint = f" (it belongs in {other.section})" if other else ""
            source.fail(path + (key,), f"unknown field {key!r}{hint}; expected one of {', '.join(allowed)}")
    default_mode = INDEPENDENT
    if "per_layer" in raw:
        default_mode = _per_layer(raw["per_layer"], path + ("per_layer",), source)
    return [_dimension(FIELDS[key], value, path + (key,), default_mode, source)
            for key, value in raw.items() if key != "per_layer"]


def _per_layer(value: Any, path: KeyPath, source: Source) -> str:
    if value not in PER_LAYER_MODES:
        source.fail(path, f"got {describe_value(value)}; expected {' or '.join(PER_LAYER_MODES)}")
    return value


def _dimension(field: Field, raw: Any, path: KeyPath, default_mode: str, source: Source) -> ParsedDimension:
    mode = default_mode if field.per_layer else GLOBAL
    when = None
    if isinstance(raw, list):
        distribution = _choices(field, raw, path, source)
    elif isinstance(raw, dict):
        _mapping(raw, path, source, "a dimension mapping")
        _known_keys(raw, path, _DIM_KEYS, source)
        distribution = _from_mapping(field, raw, path, source)
        if "per_layer" in raw:
            if not field.per_layer:
                source.fail(path + ("per_layer",), f"{field.name} is not chosen per layer; "
                                                   "expected per_layer only on per-layer fields in layers")
            mode = _per_layer(raw["per_layer"], path + ("per_layer",), source)
        if "when" in raw:
            if field.name == "num_layers":
                source.fail(path + ("when",), "num_layers cannot be conditional; expected no when clause")
            when = raw["when"]
    elif raw is None:
        source.fail(path, "missing value; expected a fixed value, a list of choices, "
                          "or a mapping with value, choices or low/high")
    else:
        distribution = Fixed(_value(field, raw, path, source))
    return ParsedDimension(field, distribution, mode, path, when)


def _from_mapping(field: Field, raw: dict, path: KeyPath, source: Source) -> Distribution:
    forms = [form for form, keys in _FORMS.items() if any(k in raw for k in keys)]
    if len(forms) != 1:
        problem = "no value, choices or low/high" if not forms else f"both {forms[0]} and {forms[1]}"
        source.fail(path, f"{problem}; expected exactly one of: value, choices, low/high")
    form = forms[0]
    for key in raw:
        if key not in _FORMS[form] + _COMMON:
            source.fail(path + (key,), f"{key!r} does not go with {'low/high' if form == 'range' else form}; "
                                       f"expected one of {', '.join(_FORMS[form] + _COMMON)}")
    if form == "value":
        return Fixed(_value(field, raw["value"], path + ("value",), source))
    if form == "choices":
        if "choices" not in raw:
            source.fail(path, "ordered without choices; expected choices: [...] next to ordered: true")
        choices = _choices(field, raw["choices"], path + ("choices",), source)
        return _ordered(choices, raw.get("ordered", False), path + ("ordered",), source)
    return _range(field, raw, path, source)


def _ordered(choices: Categorical, ordered: Any, path: KeyPath, source: Source) -> Categorical:
    """``choices`` as a size ladder when ``ordered: true`` asks for one."""
    if not isinstance(ordered, bool):
        source.fail(path, f"got {describe_value(ordered)}; expected true or false")
    if not ordered:
        return choices
    if not OrderedChoices.applies(choices.choices):
        source.fail(path, f"choices {list(choices.choices)} are not sizes on a ladder; expected 3 or more positive "
                          "integers, each the same multiple (> 1) of the one before, e.g. [32, 64, 128]")
    return OrderedChoices(choices.choices)


def _value(field: Field, raw: Any, path: KeyPath, source: Source) -> Any:
    value = field.domain.coerce(raw)
    problem = field.domain.problem(value)
    if problem:
        source.fail(path, problem)
    return value


def _choices(field: Field, raw: Any, path: KeyPath, source: Source) -> Categorical:
    if not isinstance(raw, list):
        source.fail(path, f"got {describe_value(raw)}; expected a list of choices")
    if not raw:
        source.fail(path, "no choices; expected a non-empty list")
    values = []
    for i, item in enumerate(raw):
        value = _value(field, item, path + (i,), source)
        if value in values:
            source.fail(path + (i,), f"{value!r} is listed twice; expected distinct choices")
        values.append(value)
    return Categorical(tuple(values))


def _range(field: Field, raw: dict, path: KeyPath, source: Source) -> IntRange | FloatRange:
    if isinstance(field.domain, OneOf):
        source.fail(path, f"{field.name} takes names, not numbers; expected choices "
                          f"(one of {', '.join(field.domain.values)})")
    for key in ("low", "high"):
        if key not in raw:
            source.fail(path + (key,), f"missing; a range needs both low and high")
    low = _value(field, raw["low"], path + ("low",), source)
    high = _value(field, raw["high"], path + ("high",), source)
    log = raw.get("log", False)
    if not isinstance(log, bool):
        source.fail(path + ("log",), f"got {describe_value(log)}; expected true or false")
    if low > high:
        source.fail(path + ("low",), f"low {low:g} is above high {high:g}; expected low <= high")
    if log and low <= 0:
        source.fail(path + ("low",), f"low {low:g} on a log scale; expected low > 0 with log: true")
    if isinstance(field.domain, Number):
        if "step" in raw:
            source.fail(path + ("step",), f"{field.name} is a float; expected no step "
                                          "(list the values as choices for a grid)")
        return FloatRange(low, high, log)
    step = raw.get("step", 1)
    step_path = path + ("step",)
    if not isinstance(step, int) or isinstance(step, bool) or step < 1:
        source.fail(step_path, f"got {describe_value(step)}; expected an integer step >= 1")
    if log and step != 1:
        source.fail(step_path, f"step {step} with log: true; expected step 1 (log ranges are not gridded)")
    if (high - low) % step:
        source.fail(step_path, f"step {step} does not divide high - low = {high - low}; "
                               f"expected a step that reaches high (e.g. high {low + (high - low) // step * step})")
    return IntRange(low, high, step, log)
