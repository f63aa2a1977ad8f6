"""SearchSpace.count() equals a brute-force enumeration of every architecture."""

from __future__ import annotations

import math
from typing import Any, Sequence

import pytest

from gnnnas.space import OrderedChoices, load_space, parse_space


class OdometerTrial:
    """Answers suggestions from a list of choice indices; records how many options each had.

    An ordered size dimension asks for an integer on a log scale and snaps it to
    its choices; the odometer offers just the choices, one integer per size.
    """

    def __init__(self, path: list[int], space) -> None:
        self.path, self.sizes, self.params, self.space = path, [], {}, space

    def _pick(self, name: str, options: Sequence[Any]) -> Any:
        if name not in self.params:
            pos = len(self.sizes)
            if pos == len(self.path):
                self.path.append(0)
            self.sizes.append(len(options))
            self.params[name] = options[self.path[pos]]
        return self.params[name]

    def suggest_categorical(self, name, choices):
        return self._pick(name, list(choices))

    def suggest_int(self, name, low, high, step=1, log=False):
        dist = self.space.dimension(name.rsplit(".", 1)[-1]).distribution
        if isinstance(dist, OrderedChoices):
            return self._pick(name, list(dist.choices))
        return self._pick(name, list(range(low, high + 1, step)))

    def suggest_float(self, name, low, high, log=False):
        return self._pick(name, [low])  # count() counts a float range once


def enumerate_all(space):
    """Every (spec, params) the space can produce, by depth-first search over the suggestions."""
    path: list[int] = []
    while True:
        trial = OdometerTrial(path, space)
        yield space.sample(trial), trial.params
        path = path[:len(trial.sizes)]
        while path and path[-1] + 1 >= trial.sizes[len(path) - 1]:
            path.pop()
        if not path:
            return
        path[-1] += 1


def brute_force(space) -> int:
    keys = [spec.key() for spec, _ in enumerate_all(space)]
    assert len(set(keys)) == len(keys), "two parameter sets gave the same architecture"
    return len(keys)


SPACES = {
    "plain": """
layers:
  num_layers: {low: 0, high: 3}
  aggregator: [gcn, sage_sum, gin]
  activation: {choices: [relu, prelu], per_layer: shared}
architecture:
  embedding_dim: {low: 16, high: 48, step: 16}
""",
    "implicit-hidden-and-heads": """
layers:
  num_layers: {low: 1, high: 3}
  aggregator: [lightgcn, gcn, gat, gatv2]
  hidden: {choices: [16, 32], per_layer: shared}
  heads: [1, 2]
  head_combine: {choices: [concat, mean], per_layer: shared}
""",
    "chained-and-num-layers-conditions": """
architecture:
  combination: {choices: [last, mean, concat], when: {num_layers: [2, 3]}}
  skip: {choices: [none, residual], when: {combination: [mean, concat]}}
layers:
  num_layers: {low: 0, high: 3}
  per_layer: shared
  aggregator: [gat, sage_mean]
  heads: {choices: [1, 2, 4], ordered: true, when: {aggregator: [gat]}, per_layer: independent}
  dropout: {choices: [0.0, 0.2], when: {heads: [4], num_layers: [1, 2]}, per_layer: independent}
  norm: {value: batch, when: {dropout: [0.2]}}
""",
    "shared-over-independent-and-back": """
layers:
  num_layers: {low: 1, high: 3}
  aggregator: [lightgcn, ngcf, gatv2]
  activation: {choices: [relu, elu], per_layer: shared, when: {aggregator: [ngcf, gatv2]}}
  norm: {choices: [none, batch, layer], when: {activation: [elu]}}
  heads: {choices: [2, 4], per_layer: shared}
  dropout: {choices: [0.0, 0.1], when: {heads: [4], aggregator: [gatv2]}}
training:
  batch_size: {low: 512, high: 2048, step: 512}
  lr: {low: 1.0e-4, high: 1.0e-2, log: true}
""",
}


@pytest.mark.parametrize("name", sorted(SPACES))
def test_count_matches_enumeration(name):
    space = parse_space(f"name: {name}\ndescription: counted\n{SPACES[name]}", f"{name}.yaml")
    assert space.count() == brute_force(space) > 1


def test_count_of_hand_computed_space():
    space = parse_space(f"name: x\ndescription: counted\n{SPACES['plain']}", "x.yaml")
    # embedding 3 x (0 layers: 1 + activation 2 x (3 + 9 + 27) for 1-3 layers)
    assert space.count() == 3 * (1 + 2 * (3 + 9 + 27))


@pytest.mark.parametrize("name", ["tiny", "lightgcn"])
def test_count_of_small_bundled_spaces_matches_enumeration(name):
    space = load_space(name)
    assert space.count() == brute_force(space)


def test_float_ranges_count_once_or_infinite():
    space = load_space("lightgcn")
    assert space.continuous == ("lr", "l2") and not space.is_finite
    assert space.count() == 12 and space.count(include_continuous=True) == math.inf
    assert load_space("tiny").count(include_continuous=True) == load_space("tiny").count()


def test_bundled_counts_are_stable():
    assert {name: load_space(name).count() for name in ("attention", "default")} == {
        "attention": 3 * 2 * 4 * 4 * 4 * 2 * sum(48 ** n for n in (1, 2, 3)),
        # 0 layers (matrix factorisation) has no skip, combination or edge dropout: of the 3 * 6 * 3
        # variants of each of its 3 * 2 * 3 * 4 * 2 * 3 = 432 embedding/scoring/training points, one is left.
        "default": 148_840_874_784 - (3 * 6 * 3 - 1) * 432,
    }
