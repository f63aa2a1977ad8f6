"""Resolving ``when`` clauses: which dimension depends on which, and the sampling order.

Rules (each violation is a :class:`~gnnnas.space.source.SpaceError` at the
offending key):

* a clause names dimensions declared in the file, never itself, never a float
  range, and only values that dimension can take;
* an architecture/training dimension may only depend on architecture/training
  dimensions and ``num_layers``; a per-layer dimension may depend on anything;
* fields that only matter for some aggregators (``hidden``, ``heads``,
  ``head_combine``) or only with layers (``skip``, ``combination``,
  ``edge_dropout``: ``num_layers >= 1``) get that restriction as an implicit condition; a clause
  that contradicts it, or a dimension it switches off everywhere, is an error;
* conditions may not form a cycle; dimensions are sampled referenced-first,
  ties in the canonical field order, so samples do not depend on key order;
* attention layers that concatenate heads need ``hidden`` divisible by
  ``heads``: checked conservatively over all value pairs the file allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from gnnnas.models.spec import ATTENTION_AGGREGATORS
from gnnnas.space.distributions import Distribution, Fixed, FloatRange, IntRange
from gnnnas.space.fields import FIELDS, AtLeast, Field
from gnnnas.space.source import KeyPath, Source, describe_value
from gnnnas.space.space import GLOBAL, SHARED, Condition, Dimension

_ORDER = {name: i for i, name in enumerate(FIELDS)}
_AGG_ORDER = {name: i for i, name in enumerate(FIELDS["aggregator"].domain.values)}


@dataclass(frozen=True)
class ParsedDimension:
    """A dimension as written, before its ``when`` clause is resolved against the others."""

    field: Field
    distribution: Distribution
    mode: str
    path: KeyPath
    when: dict | None


def resolve(parsed: list[ParsedDimension], source: Source) -> tuple[Dimension, ...]:
    """Every field as a :class:`Dimension` (undeclared ones fixed at their default), in sampling order."""
    declared = {p.field.name: p for p in parsed}
    resolver = _Resolver(declared, source)
    conditions = {name: resolver.conditions(p) for name, p in declared.items()}
    resolver.check_layers_exist()
    resolver.check_head_split()
    dims = {}
    for name, field in FIELDS.items():
        if name in declared:
            p = declared[name]
            dims[name] = Dimension(field, p.distribution, p.mode, conditions[name])
        else:
            dims[name] = Dimension(field, Fixed(field.default), SHARED if field.per_layer else GLOBAL,
                                   declared=False)
    return tuple(dims[name] for name in _sampling_order(dims, declared, source))


class _Resolver:
    def __init__(self, declared: dict[str, ParsedDimension], source: Source) -> None:
        self.declared, self.source = declared, source

    # --- what a dimension can be --------------------------------------------
    def may_be_off(self, name: str) -> bool:
        """Whether the field can keep its default because a condition switched it off."""
        p = self.declared.get(name)
        if p is None:
            return False
        if p.when is not None:
            return True
        applies = p.field.applies
        return applies is not None and not applies.covers(self.possible(applies.ref))

    def possible(self, name: str) -> Sequence[Any]:
        """Every effective value the field can take (its values, plus its default if it can be off).

        Integer ranges stay lazy ``range`` objects unless the default lies outside them.
        """
        p = self.declared.get(name)
        if p is None:
            return (FIELDS[name].default,)
        values = p.distribution.values()
        default = p.field.default
        if not self.may_be_off(name) or default in values:
            return values
        return (*values, default)

    # --- conditions -------------------------------------------------------------
    def conditions(self, p: ParsedDimension) -> tuple[Condition, ...]:
        explicit = self._explicit(p) if p.when is not None else ()
        implicit = self._implicit(p, explicit)
        return explicit + implicit

    def _explicit(self, p: ParsedDimension) -> tuple[Condition, ...]:
        path = p.path + ("when",)
        when = p.when
        if not isinstance(when, dict) or not when:
            self.source.fail(path, f"got {describe_value(when)}; expected a mapping of dimension -> allowed values, "
                                   "e.g. {aggregator: [gat, gatv2]}")
        out = []
        name = p.field.name
        for ref, raw in when.items():
            ref_path = path + (ref,)
            self._check_ref(p, ref, ref_path)
            items = raw if isinstance(raw, list) else [raw]
            if not items:
                self.source.fail(ref_path, f"no values; expected a non-empty list of {ref} values")
            values: list[Any] = []
            for i, item in enumerate(items):
                item_path = ref_path + (i,) if isinstance(raw, list) else ref_path
                value = self._check_value(ref, item, item_path)
                if value not in values:
                    values.append(value)
            if p.field.per_layer and ref == "num_layers" and values == [0]:
                self.source.fail(ref_path, f"{name} never applies: per-layer fields do not exist with 0 layers; "
                                           "expected num_layers values >= 1")
            out.append(Condition(ref, tuple(values)))
        return tuple(out)

    def _check_ref(self, p: ParsedDimension, ref: Any, path: tuple) -> None:
        name = p.field.name
        if ref == name:
            self.source.fail(path, f"{name} cannot depend on itself; expected another dimension")
        if ref not in self.declared:
            known = [n for n in self.declared if n != name]
            hint = " (a field the file does not set is always its default)" if ref in FIELDS else ""
            self.source.fail(path, f"unknown dimension {ref!r}{hint}; expected one of {', '.join(known) or '(none)'}")
        target = self.declared[ref]
        if not p.field.per_layer and target.field.per_layer:
            self.source.fail(path, f"{name} is one value per architecture and cannot depend on the "
                                   f"per-layer {ref}; expected an architecture/training dimension or num_layers")
        if isinstance(target.distribution, FloatRange):
            self.source.fail(path, f"{ref} is a continuous range; expected a dimension with "
                                   "listed values (choices, an integer range or a fixed value)")

    def _check_value(self, ref: str, item: Any, path: tuple) -> Any:
        field = FIELDS[ref]
        value = field.domain.coerce(item)
        problem = field.domain.problem(value)
        if problem:
            self.source.fail(path, problem)
        if value not in self.possible(ref):
            self.source.fail(path, f"{ref} can never be {value!r}; expected one of "
                                   f"{_show(self.possible(ref), self.declared[ref].distribution)}")
        return value

    def _implicit(self, p: ParsedDimension, explicit: tuple[Condition, ...]) -> tuple[Condition, ...]:
        applies = p.field.applies
        if applies is None:
            return ()
        name = p.field.name
        stated = next((c for c in explicit if c.ref == applies.ref), None)
        if stated is not None:
            raw = p.when[applies.ref]
            for value in stated.values:
                if value not in applies.values:
                    at = raw.index(value) if isinstance(raw, list) and value in raw else None
                    self.source.fail(p.path + ("when", applies.ref) + ((at,) if at is not None else ()),
                                     f"{name} never applies to {value!r} "
                                     f"({applies.reason}); expected only {_names(applies.values)}")
            return ()
        possible = self.possible(applies.ref)
        kept = tuple(v for v in possible if v in applies.values)
        if not kept:
            self.source.fail(p.path, f"{name} is never used: {applies.ref} is always "
                                     f"{' or '.join(map(str, possible))} ({applies.reason}); "
                                     f"expected {applies.ref} choices including {_names(applies.values)}")
        if len(kept) == len(possible):
            return ()  # always applies: no condition, so no spurious dependency
        return (Condition(applies.ref, kept, implicit=True),)

    # --- whole-space checks -----------------------------------------------------
    def check_layers_exist(self) -> None:
        if any(v >= 1 for v in self.possible("num_layers")):
            return
        for name, p in self.declared.items():
            if p.field.per_layer:
                self.source.fail(p.path, f"{name} is never used: num_layers is always 0; "
                                         "expected layers.num_layers with values >= 1")

    def check_head_split(self) -> None:
        if not set(self.possible("aggregator")) & ATTENTION_AGGREGATORS:
            return
        heads = (k for k in self.possible("heads") if k > 1)  # lazy: a wide range fails on its first values
        if "concat" not in self.possible("head_combine"):
            return
        hidden = self.declared.get("hidden")
        if hidden is None:
            default = FIELDS["hidden"].default
            bad = next((k for k in heads if default % k), None)
            if bad is not None:
                self.source.fail(self.declared["heads"].path, f"{bad} heads do not divide the default hidden "
                                 f"{default} (concatenated heads split the width evenly); expected heads "
                                 "dividing hidden, a hidden dimension, or head_combine: mean")
            return
        for k in heads:
            bad = _first_not_multiple(hidden.distribution, k)
            # Only a written condition can leave an attention layer at the default width.
            if bad is None and hidden.when is not None and FIELDS["hidden"].default % k:
                bad = FIELDS["hidden"].default
            if bad is not None:
                self.source.fail(hidden.path, f"{bad} is not a multiple of {k} heads (concatenated "
                                 "attention heads split hidden evenly); expected every hidden value to be "
                                 "a multiple of every heads value, or head_combine: mean")


def _first_not_multiple(distribution: Any, k: int) -> int | None:
    if isinstance(distribution, IntRange):
        low, step = distribution.low, distribution.step
        if low % k:
            return low
        return low + step if distribution.high > low and step % k else None
    return next((v for v in distribution.values() if v % k), None)


def _sampling_order(dims: dict[str, Dimension], declared: dict[str, ParsedDimension],
                    source: Source) -> list[str]:
    """Topological order (referenced first); globals before layer fields; ties in canonical order."""
    refs = {name: {c.ref for c in dim.conditions} for name, dim in dims.items()}
    done: list[str] = []
    left = set(dims)
    while left:
        ready = [n for n in left if refs[n] <= set(done)]
        if not ready:
            cycle = _find_cycle(left, refs)
            source.fail(declared[cycle[0]].path + ("when", cycle[1]),
                        f"conditions form a cycle ({' -> '.join(cycle)}); expected dimensions that do not "
                        "depend on each other in a loop")
        nxt = min(ready, key=lambda n: (dims[n].is_layer, _ORDER[n]))
        done.append(nxt)
        left.remove(nxt)
    return done


def _find_cycle(left: set[str], refs: dict[str, set[str]]) -> list[str]:
    node = min(left, key=_ORDER.get)
    seen: list[str] = []
    while node not in seen:
        seen.append(node)
        node = min((r for r in refs[node] if r in left), key=_ORDER.get)
    return seen[seen.index(node):] + [node]


def _names(values: Iterable[Any] | AtLeast) -> str:
    if isinstance(values, AtLeast):
        return str(values)
    return ", ".join(sorted(map(str, values), key=lambda v: _AGG_ORDER.get(v, 99)))


def _show(values: Iterable[Any], distribution: Any) -> str:
    if isinstance(distribution, IntRange):
        return distribution.describe()
    return ", ".join(map(str, values))

