"""Exact number of distinct architectures in a space, without enumerating them.

Distinct parameter assignments give distinct ArchSpecs (a dimension that
would not change the spec is never active), so counting assignments counts
architectures. The count is a sum over the values of the dimensions that
conditions refer to; every other dimension only multiplies.

Layers are exchangeable, so for ``n`` layers the independent per-layer
choices contribute ``w ** n`` where ``w`` counts one layer's configurations.
Shared dimensions whose condition may hold on some layers and not others (a
shared ``hidden`` next to independently chosen aggregators) are active iff
it holds on at least one layer; the tuples of layers with exactly a given
set of such dimensions switched on are counted by inclusion-exclusion over
that set.
"""

from __future__ import annotations

from collections import ChainMap
from itertools import combinations
from typing import Any, Collection, Iterator, Sequence

from gnnnas.space.space import INDEPENDENT, Dimension

_OFF = object()      # a shared dimension active on no layer
_ANY = object()      # active, value irrelevant to every condition (counted by its size)


def count_architectures(global_dims: Sequence[Dimension], layer_dims: Sequence[Dimension]) -> int:
    referenced = {c.ref for d in (*global_dims, *layer_dims) for c in d.conditions}
    total = 0
    for weight, context in _assignments(global_dims, {}, referenced, branch={"num_layers"}):
        total += weight * _count_layers(layer_dims, context, referenced)
    return total


def _assignments(dims: Sequence[Dimension], context: dict[str, Any], referenced: set[str],
                 branch: Collection[str] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    """(weight, effective values) over the referenced values of ``dims``, in order."""
    if not dims:
        yield 1, context
        return
    dim, rest = dims[0], dims[1:]
    if not dim.active(context):
        yield from _assignments(rest, {**context, dim.name: dim.field.default}, referenced, branch)
    elif dim.name in referenced or dim.name in branch:
        for value in dim.distribution.values():
            yield from _assignments(rest, {**context, dim.name: value}, referenced, branch)
    else:
        for weight, ctx in _assignments(rest, context, referenced, branch):
            yield weight * dim.distribution.size(), ctx


def _count_layers(layer_dims: Sequence[Dimension], top: dict[str, Any], referenced: set[str]) -> int:
    n = top["num_layers"]
    if n == 0:
        return 1
    shared = [d for d in layer_dims if d.mode != INDEPENDENT]
    switched = [d.name for d in shared if d.conditions]  # shared dims that may be off on some layers
    total = 0
    for weight, states in _shared_states(shared, {}, referenced):
        layer_configs = list(_layer_configs(layer_dims, 0, ChainMap({}, top), states, switched, referenced))
        on = frozenset(i for i, name in enumerate(switched) if states[name] is not _OFF)
        total += weight * _tuples_with_exactly(on, layer_configs, n)
    return total


def _shared_states(shared: Sequence[Dimension], states: dict[str, Any],
                   referenced: set[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each way the shared dimensions can be set: a value, ``_ANY`` (weighted by size) or ``_OFF``."""
    if not shared:
        yield 1, states
        return
    dim, rest = shared[0], shared[1:]
    options: list[tuple[int, Any]] = [(1, _OFF)] if dim.conditions else []
    if dim.name in referenced:
        options += [(1, v) for v in dim.distribution.values()]
    else:
        options.append((dim.distribution.size(), _ANY))
    for w, state in options:
        for weight, out in _shared_states(rest, {**states, dim.name: state}, referenced):
            yield w * weight, out


def _layer_configs(dims: Sequence[Dimension], i: int, context: ChainMap, states: dict[str, Any],
                   switched: list[str], referenced: set[str], weight: int = 1,
                   mask: int = 0) -> Iterator[tuple[int, int]]:
    """(weight, mask) of one layer's configurations; bit j of mask: shared ``switched[j]`` holds here."""
    if i == len(dims):
        yield weight, mask
        return
    dim = dims[i]
    holds = dim.active(context)
    if dim.mode != INDEPENDENT:
        state = states[dim.name]
        if dim.conditions and holds:
            mask |= 1 << switched.index(dim.name)
        value = state if holds and state not in (_OFF, _ANY) else dim.field.default
        yield from _layer_configs(dims, i + 1, context.new_child({dim.name: value}), states, switched,
                                  referenced, weight, mask)
    elif not holds:
        yield from _layer_configs(dims, i + 1, context.new_child({dim.name: dim.field.default}), states,
                                  switched, referenced, weight, mask)
    elif dim.name in referenced:
        for value in dim.distribution.values():
            yield from _layer_configs(dims, i + 1, context.new_child({dim.name: value}), states, switched,
                                      referenced, weight, mask)
    else:
        yield from _layer_configs(dims, i + 1, context, states, switched, referenced,
                                  weight * dim.distribution.size(), mask)


def _tuples_with_exactly(on: frozenset[int], configs: list[tuple[int, int]], n: int) -> int:
    """Weighted number of ``n``-tuples of layer configurations whose masks OR to exactly ``on``.

    Inclusion-exclusion: tuples whose OR lies within a subset S number
    ``(sum of weights of configs with mask within S) ** n``.
    """
    bits = sorted(on)
    total = 0
    for size in range(len(bits) + 1):
        for subset in combinations(bits, size):
            allowed = sum(1 << b for b in subset)
            within = sum(w for w, m in configs if m & ~allowed == 0)
            total += (-1) ** (len(bits) - size) * within ** n
    return total
