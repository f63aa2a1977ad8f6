"""Search spaces: bundled files load, sample valid ArchSpecs, work with Optuna and rebuild from params."""

from __future__ import annotations

import itertools
import re
from dataclasses import fields, replace

import numpy as np
import optuna
import pytest

from gnnnas.models.spec import (
    AGGREGATORS, ATTENTION_AGGREGATORS, COMBINATIONS, PARAMETER_FREE_AGGREGATORS, SKIPS, ArchSpec, LayerSpec,
    TrainingSpec,
)
from gnnnas.space import (
    FIELDS, BUNDLED_DIR, Categorical, OrderedChoices, RandomTrial, SearchSettings, SpaceError, list_spaces,
    load_space, parse_space,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)
BUNDLED = ("attention", "default", "lightgcn", "lightgcn-loss", "presets", "tiny")


def space_from(text: str):
    return parse_space(text, "test.yaml")


@pytest.fixture(scope="module")
def default_samples():
    space = load_space("default")
    rng = np.random.default_rng(7)
    trials = [RandomTrial(rng) for _ in range(300)]
    return space, [(space.sample(t), t.params) for t in trials]


# --- bundled spaces ----------------------------------------------------------------
def test_bundled_spaces_are_listed_and_found_in_the_package():
    assert set(BUNDLED) <= set(list_spaces())
    assert all((BUNDLED_DIR / f"{name}.yaml").is_file() for name in BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_space_samples_valid_reproducible_specs(name):
    space = load_space(name)
    assert space.name == name and space.description and "\n" not in space.description
    assert isinstance(space.search, SearchSettings)
    first = space.sample_random(50, seed=1)
    assert all(isinstance(spec, ArchSpec) for spec in first)
    assert [s.key() for s in first] == [s.key() for s in space.sample_random(50, seed=1)]
    assert [s.key() for s in first] != [s.key() for s in space.sample_random(50, seed=2)]
    assert all(ArchSpec.from_json(s.to_json()) == s for s in first)


@pytest.mark.parametrize("name", BUNDLED)
def test_optuna_trials_sample_and_params_rebuild_the_spec(name):
    space = load_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(25):
        trial = study.ask()
        spec = space.sample(trial)
        assert space.to_spec(trial.params) == spec
        assert space.to_spec(dict(trial.params)).key() == spec.key()
        study.tell(trial, float(spec.embedding_dim))


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # group=True
def test_tpe_sees_the_conditional_structure():
    space = load_space("tiny")
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=4, multivariate=True,
                                                                   group=True))
    for _ in range(10):
        trial = study.ask()
        spec = space.sample(trial)
        study.tell(trial, spec.num_layers + (spec.combination == "sum"))
    assert len(study.trials) == 10 and study.best_value >= 2


def test_optuna_fixed_trial_works_too():
    space = load_space("default")
    for seed in range(10):
        trial = RandomTrial(seed)
        spec = space.sample(trial)
        assert space.sample(optuna.trial.FixedTrial(trial.params)) == spec


def test_lightgcn_space_only_varies_lightgcn_knobs():
    space = load_space("lightgcn")
    for spec in space.sample_random(40, seed=0):
        assert spec.is_linear and spec.combination == "mean" and 1 <= spec.num_layers <= 4
        assert {l.aggregator for l in spec.layers} == {"lightgcn"}
        assert 1e-3 <= spec.training.lr <= 1e-2 and 1e-6 <= spec.training.l2 <= 1e-2
    assert space.count() == 4 * 3


def test_tiny_space_is_small_and_fast():
    space = load_space("tiny")
    assert space.search.max_epochs <= 5 and space.is_finite
    assert all(spec.num_layers <= 2 and spec.embedding_dim <= 32 for spec in space.sample_random(50, seed=0))


# --- default.yaml coverage ---------------------------------------------------------
def test_default_space_covers_every_aggregator_skip_and_combination(default_samples):
    _, samples = default_samples
    specs = [spec for spec, _ in samples]
    pairs = {(layer.aggregator, spec.combination) for spec in specs for layer in spec.layers}
    assert {layer.aggregator for spec in specs for layer in spec.layers} == set(AGGREGATORS)
    assert {spec.skip for spec in specs} == set(SKIPS)
    assert {spec.combination for spec in specs} == set(COMBINATIONS)
    assert pairs == set(itertools.product(AGGREGATORS, COMBINATIONS))
    assert {spec.num_layers for spec in specs} == {0, 1, 2, 3, 4}


def test_default_samples_round_trip_through_json(default_samples):
    _, samples = default_samples
    for spec, _ in samples:
        assert ArchSpec.from_json(spec.to_json()) == spec
        assert ArchSpec.from_json(spec.to_json()).to_json() == spec.to_json()


def test_conditional_dimensions_appear_only_when_active(default_samples):
    space, samples = default_samples
    for spec, params in samples:
        n = spec.num_layers
        for i, layer in enumerate(spec.layers):
            assert params[f"layer{i}.aggregator"] == layer.aggregator
            assert (f"layer{i}.heads" in params) == (layer.aggregator in ATTENTION_AGGREGATORS)
            if layer.aggregator not in ATTENTION_AGGREGATORS:
                assert layer.heads == 1 and layer.head_combine == "concat"
        attention = any(l.aggregator in ATTENTION_AGGREGATORS for l in spec.layers)
        parametric = any(l.aggregator not in PARAMETER_FREE_AGGREGATORS for l in spec.layers)
        assert ("head_combine" in params) == attention
        assert ("hidden" in params) == parametric
        assert not any(re.match(rf"layer({'|'.join(map(str, range(n, 10)))})\.", p) for p in params)
        # Skip, combination and edge dropout act on the layer stack: matrix factorisation draws none of them.
        for name in ("activation", "dropout", "norm", "skip", "combination", "edge_dropout"):
            assert (name in params) == (n > 0)
        if n == 0:
            assert (spec.skip, spec.combination, spec.edge_dropout) == ("none", "mean", 0.0)
        assert {"embedding_dim", "num_layers", "training.lr", "training.l2", "training.batch_size"} <= set(params)
        assert "features" not in params and "graph" not in params  # fixed: never suggested
        assert params["training.loss"] == spec.training.loss
        assert params["training.shared_negatives"] == spec.training.shared_negatives
        assert space.to_spec(params) == spec


def test_parameter_names_are_flat_and_stable():
    space = load_space("default")
    trial = RandomTrial(0)
    trial.params = {"num_layers": 2, "layer0.aggregator": "gat", "layer1.aggregator": "lightgcn"}
    spec = space.sample(trial)
    assert {"layer0.heads", "head_combine", "hidden", "training.lr", "embedding_dim", "skip"} <= set(trial.params)
    assert "layer1.heads" not in trial.params and "aggregator" not in trial.params
    assert spec.layers[1].hidden == spec.layers[0].hidden  # lightgcn keeps its input width


# --- shared vs independent -----------------------------------------------------------
PER_LAYER = """
name: modes
description: per-layer modes
layers:
  num_layers: {{value: 3}}
  per_layer: {mode}
  aggregator: [gcn, sage_mean, gin, ngcf]
  activation: {{choices: [relu, elu, tanh], per_layer: {other}}}
"""


def test_shared_choice_is_one_parameter_for_all_layers():
    space = space_from(PER_LAYER.format(mode="shared", other="independent"))
    for seed in range(20):
        trial = RandomTrial(seed)
        spec = space.sample(trial)
        assert len({l.aggregator for l in spec.layers}) == 1
        assert "aggregator" in trial.params and "layer0.aggregator" not in trial.params
        assert {"layer0.activation", "layer1.activation", "layer2.activation"} <= set(trial.params)


def test_independent_choice_is_one_parameter_per_layer():
    space = space_from(PER_LAYER.format(mode="independent", other="shared"))
    mixed = 0
    for seed in range(20):
        trial = RandomTrial(seed)
        spec = space.sample(trial)
        mixed += len({l.aggregator for l in spec.layers}) > 1
        assert [trial.params[f"layer{i}.aggregator"] for i in range(3)] == [l.aggregator for l in spec.layers]
        assert len({l.activation for l in spec.layers}) == 1 and "activation" in trial.params
    assert mixed >= 15


def test_shared_dimension_depending_on_independent_applies_where_it_holds():
    space = space_from("""
name: anylayer
description: shared heads over independently chosen aggregators
layers:
  num_layers: {value: 3}
  aggregator: [gcn, gat]
  heads: {choices: [2, 4], per_layer: shared}
""")
    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(60):
        trial = RandomTrial(rng)
        spec = space.sample(trial)
        attention = [l for l in spec.layers if l.aggregator == "gat"]
        assert ("heads" in trial.params) == bool(attention)
        assert all(l.heads == trial.params["heads"] for l in attention)
        assert all(l.heads == 1 for l in spec.layers if l.aggregator == "gcn")
        seen.add(len(attention))
    assert seen == {0, 1, 2, 3}


# --- rebuilding from params ------------------------------------------------------------
def test_to_spec_rejects_missing_extra_and_out_of_range_params():
    space = load_space("tiny")
    trial = RandomTrial(0)
    trial.params = {"num_layers": 1}  # pre-recorded answers are kept, like Optuna's enqueued params
    spec = space.sample(trial)
    good = dict(trial.params)
    assert space.to_spec(good) == spec
    missing = {k: v for k, v in good.items() if k != "embedding_dim"}
    with pytest.raises(SpaceError, match="'embedding_dim' is missing"):
        space.to_spec(missing)
    with pytest.raises(SpaceError, match="'layer5.aggregator' is not used"):
        space.to_spec({**good, "layer5.aggregator": "gcn"})
    with pytest.raises(SpaceError, match=r"params\['embedding_dim'\].*expected one of 16, 32"):
        space.to_spec({**good, "embedding_dim": 48})
    with pytest.raises(SpaceError, match=r"params\['num_layers'\].*0\.\.2"):
        space.to_spec({**good, "num_layers": 7})
    assert space.fixed_params(good) == space.to_spec(good)
    as_numpy = {k: np.asarray([v])[0] for k, v in good.items()}  # as in study.trials_dataframe()
    assert space.to_spec(as_numpy) == spec


def test_to_spec_keeps_the_space_types():
    space = space_from("""
name: types
description: float choices
architecture:
  edge_dropout: [0.0, 0.5]
layers:
  num_layers: 1
""")
    spec = space.to_spec({"edge_dropout": 0})
    assert spec.edge_dropout == 0.0 and isinstance(spec.edge_dropout, float)
    assert spec.key() == space.sample(optuna.trial.FixedTrial({"edge_dropout": 0.0})).key()


# --- the pieces ---------------------------------------------------------------------
def test_every_spec_field_is_searchable():
    spec_fields = ({f.name for f in fields(ArchSpec)} - {"layers", "training"}
                   | {f.name for f in fields(LayerSpec)} | {f.name for f in fields(TrainingSpec)})
    assert spec_fields <= set(FIELDS)


def test_unmentioned_fields_take_archspec_defaults():
    space = space_from("name: empty\ndescription: nothing searched\n")
    assert space.count() == 1
    trial = RandomTrial(0)
    assert space.sample(trial) == ArchSpec() and trial.params == {}


def test_random_trial_respects_ranges_and_log_scales():
    trial = RandomTrial(0)
    ints = [RandomTrial(s).suggest_int("x", 1, 1000, log=True) for s in range(400)]
    floats = [RandomTrial(s).suggest_float("y", 1e-6, 1e-2, log=True) for s in range(400)]
    steps = {RandomTrial(s).suggest_int("z", 16, 128, step=16) for s in range(200)}
    assert min(ints) >= 1 and max(ints) <= 1000 and np.median(ints) < 100  # log-uniform: median ~ 32
    assert min(floats) >= 1e-6 and max(floats) <= 1e-2 and np.median(floats) < 1e-3
    assert steps == set(range(16, 129, 16))
    assert trial.suggest_categorical("c", ["a", "b"]) == trial.suggest_categorical("c", ["a", "b"])
    assert trial.suggest_float("same", 0.5, 0.5) == 0.5


def test_floats_written_as_text_or_ints_become_floats():
    space = space_from("""
name: numbers
description: YAML 1.1 reads 1e-4 as text
architecture:
  edge_dropout: 0
layers:
  num_layers: 1
training:
  lr: {low: 1e-4, high: 1e-2, log: true}
  l2: 1e-5
""")
    spec = space.sample(RandomTrial(0))
    assert spec.training.l2 == 1e-5 and isinstance(spec.edge_dropout, float)
    assert space.dimension("lr").distribution.low == 1e-4


def test_load_space_by_path_and_unknown_name(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text((BUNDLED_DIR / "tiny.yaml").read_text())
    assert load_space(path).path == path and load_space(str(path)).count() == load_space("tiny").count()
    with pytest.raises(SpaceError, match="unknown search space 'nope'.*attention, default, lightgcn, lightgcn-loss, presets, text, tiny"):
        load_space("nope")


def _yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


def test_documented_examples_are_valid_spaces():
    import textwrap

    import gnnnas.space as package

    readme = _yaml_blocks((BUNDLED_DIR / "README.md").read_text())
    doc = package.__doc__
    start = doc.index("    name: attention")
    docstring_example = textwrap.dedent(doc[start:doc.index("Every field of ArchSpec")])
    assert readme and "layers:" in docstring_example
    for text in [*readme, docstring_example]:
        space = space_from(text)
        assert space.count() > 1 and len(space.sample_random(5)) == 5


# --- ordered sizes -------------------------------------------------------------------
SIZES = """
name: sizes
description: ordered sizes next to unordered choices
architecture:
  embedding_dim: {choices: [16, 32, 64, 128, 256], ordered: true}
  scoring: [dot, cosine]
layers:
  num_layers: 1
  aggregator: gat
  heads: {choices: [1, 2, 4], ordered: true}
  hidden: [32, 64, 128]
training:
  batch_size: [1024, 2048]
  shared_negatives: [0, 256, 1024]
  lr: 0.01
"""


def test_ordered_true_makes_a_size_ladder_and_plain_lists_stay_categorical():
    space = space_from(SIZES)
    kinds = {d.name: type(d.distribution) for d in space.dimensions if d.declared}
    assert kinds["embedding_dim"] is OrderedChoices and kinds["heads"] is OrderedChoices
    assert space.dimension("heads").distribution.kind == "ordered"
    # a ladder written as a plain list is still a categorical choice: ordering is asked for
    assert kinds["hidden"] is Categorical and kinds["batch_size"] is Categorical
    assert kinds["shared_negatives"] is Categorical and kinds["scoring"] is Categorical
    assert not OrderedChoices.applies((128, 64, 32)) and not OrderedChoices.applies((16, 32, 48))
    assert not OrderedChoices.applies((0.1, 0.2, 0.4)) and OrderedChoices.applies((3, 9, 27))
    assert space.count() == 5 * 2 * 3 * 3 * 2 * 3  # counted as choices, not as the integers behind them


@pytest.mark.parametrize("raw, message", [
    ("{choices: [0, 256, 1024], ordered: true}", r"training\.shared_negatives\.ordered: choices \[0, 256, 1024\] "
                                                  r"are not sizes on a ladder; expected 3 or more positive integers"),
    ("{choices: [256, 1024], ordered: true}", "are not sizes on a ladder"),
    ("{choices: [1024, 256, 64], ordered: true}", "are not sizes on a ladder"),
    ("{choices: [64, 256, 1024], ordered: yes please}", r"ordered: got .*expected true or false"),
    ("{ordered: true}", "ordered without choices"),
    ("{low: 1, high: 4, ordered: true}", "both choices and range"),
])
def test_ordered_needs_a_ladder_of_positive_integers(raw, message):
    with pytest.raises(SpaceError, match=message):
        space_from(f"name: bad\ndescription: bad ladder\ntraining:\n  shared_negatives: {raw}\n")


def test_ordered_sizes_are_asked_on_a_log_scale_and_round_trip():
    space = space_from(SIZES)
    dist = space.dimension("embedding_dim").distribution
    assert dist.bounds == (11, 362)
    assert [dist.snap(v) for v in (11, 22, 23, 45, 46, 180, 182, 362)] == [16, 16, 32, 32, 64, 128, 256, 256]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = []
    for _ in range(40):
        trial = study.ask()
        spec = space.sample(trial)
        assert isinstance(trial.distributions["embedding_dim"], optuna.distributions.IntDistribution)
        drawn_int = trial.params["embedding_dim"]
        assert trial.distributions["embedding_dim"].log and spec.embedding_dim == dist.snap(drawn_int)
        assert space.to_spec(trial.params) == spec
        params = space.params_of(spec)  # a size is enqueued as itself
        assert params["embedding_dim"] == spec.embedding_dim and space.to_spec(params) == spec
        drawn.append(trial.params["embedding_dim"])
        study.tell(trial, 0.0)
    assert len(set(drawn)) > 5  # integers between the sizes are drawn, not just the sizes
    with pytest.raises(SpaceError, match="embedding_dim 48 is outside this space"):
        space.params_of(replace(spec, embedding_dim=48))


def test_a_uniform_draw_picks_each_size_about_equally_often():
    space = space_from(SIZES)
    for sampler in (optuna.samplers.RandomSampler(seed=1), None):
        counts = {16: 0, 32: 0, 64: 0, 128: 0, 256: 0}
        if sampler is None:  # gnnnas's own uniform trials
            specs = space.sample_random(2000, seed=1)
        else:
            study = optuna.create_study(sampler=sampler)
            specs = [space.sample(study.ask()) for _ in range(2000)]
        for spec in specs:
            counts[spec.embedding_dim] += 1
        assert all(330 <= c <= 470 for c in counts.values()), counts  # 400 each, give or take 3.5 sd


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_tpe_explores_the_neighbouring_size_of_the_good_trials():
    """The reason sizes are ordered: from good trials at 32, TPE tries 64 more often than 128 or 256."""
    ordered = space_from(SIZES)
    unordered = replace(ordered, dimensions=tuple(
        replace(d, distribution=Categorical(d.distribution.choices)) if isinstance(d.distribution, OrderedChoices)
        else d for d in ordered.dimensions))

    def proposals(space):
        seen = {16: 0, 32: 0, 64: 0, 128: 0, 256: 0}
        for seed in range(40):
            study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(
                seed=seed, n_startup_trials=10, multivariate=True, group=True))
            # every size twice, then four more at 32: the good ones are 32 wide
            for i, dim in enumerate([16, 32, 64, 128, 256] * 2 + [32] * 4):
                study.enqueue_trial({"embedding_dim": dim})
                trial = study.ask()
                spec = space.sample(trial)
                study.tell(trial, 1.0 if spec.embedding_dim == 32 else 0.1 * i / 14)
            seen[space.sample(study.ask()).embedding_dim] += 1
        return seen

    with_order, without = proposals(ordered), proposals(unordered)
    assert with_order[64] + with_order[16] > without[64] + without[16]
    assert with_order[64] > with_order[128] + with_order[256]


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_study_that_recorded_sizes_as_categories_keeps_asking_them_so():
    """Optuna keeps a parameter's kind for a whole study: an older study's sizes stay categorical."""
    space = space_from(SIZES)
    old = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(
        seed=0, n_startup_trials=3, multivariate=True, group=True))
    for i, dim in enumerate([16, 64, 256, 32]):  # recorded the way gnnnas asked before
        old.enqueue_trial({"embedding_dim": dim})
        trial = old.ask()
        trial.suggest_categorical("embedding_dim", (16, 32, 64, 128, 256))
        old.tell(trial, float(i))
    for _ in range(6):  # TPE's model proposes from here (relative sampling), then the enqueued path
        trial = old.ask()
        spec = space.sample(trial)
        assert isinstance(trial.distributions["embedding_dim"], optuna.distributions.CategoricalDistribution)
        assert trial.params["embedding_dim"] == spec.embedding_dim and space.to_spec(trial.params) == spec
        old.tell(trial, 1.0)
    old.enqueue_trial(space.params_of(spec))
    trial = old.ask()
    assert space.sample(trial) == spec
    # a fresh study asks the same space's sizes as integers
    fresh = optuna.create_study()
    trial = fresh.ask()
    space.sample(trial)
    assert isinstance(trial.distributions["embedding_dim"], optuna.distributions.IntDistribution)
