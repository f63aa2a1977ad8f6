"""A :class:`~gnnnas.space.SearchSpace` in NNI's search-space format, and NNI's suggestions back.

:func:`to_nni_space` writes one NNI parameter per trial parameter the space
can ever suggest, named exactly like the space names them (``embedding_dim``,
``training.lr``, ``aggregator``, ``layer3.heads``, ``preset``):

==========================================  ===============================================
space distribution                          NNI parameter
==========================================  ===============================================
``Categorical``                             ``choice`` (the choices, in the file's order)
``IntRange`` step 1                         ``randint`` ``[low, high + 1]`` (NNI's upper bound is exclusive)
``IntRange`` step s > 1                     ``quniform`` ``[low, high, s]`` (``choice`` of the values when
                                            ``low`` is not a multiple of ``s``: quniform rounds to multiples)
``IntRange`` log                            ``qloguniform`` ``[low, high, 1]``
``FloatRange``                              ``uniform`` / ``loguniform`` ``[low, high]``
a range with ``low == high``                ``choice`` of that one value (NNI wants ``high > low``)
``Fixed``                                   left out (never suggested)
==========================================  ===============================================

The form is flat, not nested
----------------------------
NNI can nest parameters under the options of a ``choice`` so that a tuner
only sees a parameter where it matters. The space's conditions do not fit
that shape, so every parameter that can ever be active is exposed, always:

* ``when`` conditions test any dimension, with ``AND`` over several refs and
  *value sets* (``heads`` when ``aggregator`` in ``[gat, gatv2]``); NNI's
  nesting hangs a sub-space under ONE option of ONE parent ``choice``, so a
  condition over a value set must copy the sub-space under each option (one
  ``heads`` becomes two unrelated parameters, splitting what a tuner learns),
  and a condition over two parents has no tree form at all.
* per-layer dimensions depend on ``num_layers``, an integer range
  (``layer3.*`` exists when ``num_layers >= 4``); ``randint``/``quniform``
  cannot carry nested sub-spaces, only ``choice`` can.
* a shared per-layer dimension is active when its condition holds on ANY
  layer (e.g. ``head_combine`` once one layer is GAT) - a disjunction over
  siblings, again not a tree.
* nested parameters come back as nested dicts under other keys, and NNI's
  BOHB converter (to ConfigSpace) does not read nesting at all.

So NNI suggests a value for every parameter, and
:meth:`SearchSpace.sample` reads only the active ones (the rest are ignored,
and are not parameters of the Optuna trial). The cost: tuners also model
parameters that had no effect in a given trial, and grid search enumerates
combinations that differ only in inactive parameters (the controllers skip
such duplicates).

:func:`from_nni_params` turns NNI's values (numpy scalars, ``128.0`` from
``quniform``) back into the space's own values and types, snapped into each
parameter's domain.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from gnnnas.errors import GnnnasError
from gnnnas.space import SearchSpace
from gnnnas.space.distributions import Categorical, Distribution, Fixed, FloatRange, IntRange
from gnnnas.space.space import INDEPENDENT, PRESET_PARAM

__all__ = ["from_nni_params", "nni_domains", "to_nni_space"]


def _max_layers(space: SearchSpace) -> int:
    dist = space.dimension("num_layers").distribution
    if isinstance(dist, Fixed):
        return int(dist.value)
    if isinstance(dist, Categorical):
        return int(max(dist.choices))
    if isinstance(dist, IntRange):
        return dist.high
    raise GnnnasError(f"{space.label}: num_layers must be an integer dimension, not {dist.kind}")


def nni_domains(space: SearchSpace) -> dict[str, Distribution]:
    """Every trial parameter the space can ever suggest -> its distribution, in sampling order.

    Independent per-layer dimensions get one parameter per layer index up to
    the largest ``num_layers``; conditional dimensions are always listed.
    """
    domains: dict[str, Distribution] = {}
    if space.presets:
        domains[PRESET_PARAM] = Categorical(space.preset_choices)
        if not space.searched:
            return domains
    for dim in space.global_dimensions:
        if not isinstance(dim.distribution, Fixed):
            domains[dim.param_name()] = dim.distribution
    n_layers = _max_layers(space)
    for dim in space.layer_dimensions:
        if isinstance(dim.distribution, Fixed) or n_layers == 0:
            continue
        if dim.mode == INDEPENDENT:
            for i in range(n_layers):
                domains[dim.param_name(i)] = dim.distribution
        else:
            domains[dim.param_name()] = dim.distribution
    return domains


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _nni_parameter(name: str, dist: Distribution) -> dict[str, Any]:
    if isinstance(dist, Categorical):
        return {"_type": "choice", "_value": [_plain(c) for c in dist.choices]}
    if isinstance(dist, IntRange):
        if dist.low == dist.high:
            return {"_type": "choice", "_value": [dist.low]}
        if dist.log:
            return {"_type": "qloguniform", "_value": [dist.low, dist.high, dist.step]}
        if dist.step == 1:
            return {"_type": "randint", "_value": [dist.low, dist.high + 1]}
        if dist.low % dist.step == 0:
            return {"_type": "quniform", "_value": [dist.low, dist.high, dist.step]}
        return {"_type": "choice", "_value": list(dist.values())}
    if isinstance(dist, FloatRange):
        if dist.low == dist.high:
            return {"_type": "choice", "_value": [float(dist.low)]}
        return {"_type": "loguniform" if dist.log else "uniform", "_value": [float(dist.low), float(dist.high)]}
    raise TypeError(f"{name}: no NNI form for {dist!r}")  # pragma: no cover - Fixed is left out


def to_nni_space(space: SearchSpace) -> dict[str, dict[str, Any]]:
    """The space in NNI's search-space format (``{name: {"_type": ..., "_value": [...]}}``), flat.

    Keys are the space's trial parameter names (see :func:`nni_domains`).
    """
    return {name: _nni_parameter(name, dist) for name, dist in nni_domains(space).items()}


def _single_value(dist: Distribution) -> tuple[bool, Any]:
    if isinstance(dist, Categorical) and len(dist.choices) == 1:
        return True, dist.choices[0]
    if isinstance(dist, IntRange) and dist.low == dist.high:
        return True, dist.low
    if isinstance(dist, FloatRange) and dist.low == dist.high:
        return True, float(dist.low)
    return False, None


def _same_choice(choice: Any, value: Any) -> bool:
    if isinstance(choice, (bool, str)) or isinstance(value, (bool, str)):
        return type(choice) is type(value) and choice == value
    if isinstance(choice, (int, float)) and isinstance(value, (int, float)):
        return choice == value or math.isclose(choice, value, rel_tol=1e-12, abs_tol=1e-15)
    return choice == value


def _snap(name: str, dist: Distribution, value: Any) -> Any:
    value = _plain(value)
    if isinstance(dist, Categorical):
        for choice in dist.choices:
            if _same_choice(choice, value):
                return choice  # the space's own value and type (0.0, not 0)
        raise GnnnasError(f"NNI suggested {name}={value!r}, which is not one of {list(dist.choices)}")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise GnnnasError(f"NNI suggested {name}={value!r}; expected a number")
    if isinstance(dist, IntRange):
        if dist.log:
            # Round in log space, like the space's own samplers do for log ints.
            value = min(max(int(round(value)), dist.low), dist.high)
            return value
        k = round((value - dist.low) / dist.step)
        k = min(max(k, 0), (dist.high - dist.low) // dist.step)
        return int(dist.low + k * dist.step)
    if isinstance(dist, FloatRange):
        return float(min(max(float(value), dist.low), dist.high))
    raise TypeError(f"{name}: cannot snap to {dist!r}")  # pragma: no cover


def from_nni_params(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, Any]:
    """NNI's suggestion as trial parameters of ``space``: Python types, snapped into each domain.

    Numpy scalars become ``int``/``float``/``str``; integers come back as
    ``int`` on the range's grid (``128.0`` -> ``128``); floats are clipped
    into ``[low, high]``; categorical values become the space's own choice
    objects. Parameters with one possible value that NNI left out are
    filled in; keys the space never suggests are an error (a different
    space), as are values outside a categorical's choices.
    """
    domains = nni_domains(space)
    unknown = sorted(set(params) - set(domains))
    if unknown:
        raise GnnnasError(f"NNI suggested parameter {unknown[0]!r}, which {space.label} does not have "
                          f"(unexpected: {', '.join(unknown)})")
    out: dict[str, Any] = {}
    for name, dist in domains.items():
        if name in params:
            out[name] = _snap(name, dist, params[name])
        else:
            single, value = _single_value(dist)
            if not single:
                raise GnnnasError(f"NNI's suggestion lacks parameter {name!r} of {space.label}")
            out[name] = value
    return out
