"""The initial design: presets a new study trains first, as ordinary trials of the study."""

from __future__ import annotations

import textwrap

import pytest
from optuna.trial import TrialState

import gnnnas
from gnnnas.errors import GnnnasError
from gnnnas.models.presets import PRESETS
from gnnnas.search.controllers import CONTROLLERS
from gnnnas.search.initial import resolve_initial
from gnnnas.space import SpaceError, load_space, parse_space
from gnnnas.space.settings import InitialPoint

SPACE = """
name: warm
description: a test space that holds the LightGCN and MF presets
search: {max_epochs: 2, patience: 2, initial: [lightgcn, {preset: mf, lr: 5.0e-3}]}
architecture:
  embedding_dim: [16, 64]
  combination: [mean, sum]
layers:
  num_layers: {low: 0, high: 3}
  aggregator: [lightgcn, gcn]
  hidden: 16
training:
  lr: {low: 1.0e-4, high: 5.0e-2, log: true}
  batch_size: [256, 2048]
"""


@pytest.fixture
def warm_space(tmp_path):
    path = tmp_path / "warm.yaml"
    path.write_text(textwrap.dedent(SPACE))
    return str(path)


def spec_of(trial) -> gnnnas.ArchSpec:
    return gnnnas.ArchSpec.from_dict(trial.user_attrs["spec"])


# --- the space side -------------------------------------------------------------
@pytest.mark.parametrize("name", ["lightgcn", "mf"])
def test_params_of_is_the_inverse_of_to_spec(name):
    space = load_space("default")
    params = space.params_of(PRESETS[name].spec)
    assert space.to_spec(params) == PRESETS[name].spec
    assert params["num_layers"] == len(PRESETS[name].spec.layers)


def test_params_of_names_what_keeps_a_preset_out_of_the_space():
    space = load_space("default")
    with pytest.raises(SpaceError, match=r"activation 'leaky_relu' is outside this space; expected one of"):
        space.params_of(PRESETS["ngcf"].spec)  # LeakyReLU is not among the default space's activations
    # GCN's last layer has no activation while the default space shares one activation over the layers
    with pytest.raises(SpaceError, match=r"layers\[1\]\.activation 'identity' is outside this space"):
        space.params_of(PRESETS["gcn"].spec)


def test_presets_space_answers_with_the_preset_parameter():
    space = load_space("presets")
    assert space.params_of(PRESETS["gat"].spec, "gat") == {"preset": "gat"}


def test_bundled_spaces_declare_their_initial_design():
    fast = (("lr", 5e-3),)
    assert load_space("default").search.initial == (InitialPoint("lightgcn", fast), InitialPoint("mf", fast),
                                                     InitialPoint("mf-ssm", fast))
    assert load_space("lightgcn").search.initial == (InitialPoint("lightgcn", fast),)
    assert load_space("tiny").search.initial == ()


def test_an_initial_point_sets_the_presets_training_knobs():
    point = InitialPoint("lightgcn", (("lr", 5e-3), ("batch_size", 1024)))
    spec = point.spec()
    assert spec.training.lr == 5e-3 and spec.training.batch_size == 1024 and spec.training.l2 == 1e-4
    assert spec.layers == PRESETS["lightgcn"].spec.layers
    assert point.label == "lightgcn lr=0.005 batch_size=1024"
    assert parse_space(SPACE, "warm.yaml").search.to_dict()["initial"] == ["lightgcn", {"preset": "mf", "lr": 5e-3}]


BAD_INITIAL = [
    ("[gcn]", r"search\.initial\[0\]: 'gcn' is not in this space: combination 'last' is outside"),
    ("[nope]", r"search\.initial\[0\]: got 'nope' \(str\); expected a preset name"),
    ("lightgcn", r"search\.initial: got 'lightgcn' \(str\); expected a list"),
    ("[mf, mf]", r"search\.initial\[1\]: 'mf' is listed twice"),
    ("[{preset: mf, lr: 0.5}]", r"search\.initial\[0\]: 'mf lr=0.5' is not in this space: training\.lr 0\.5"),
    ("[{preset: mf, hidden: 8}]", r"search\.initial\[0\]\.hidden: unknown key 'hidden'; expected one of preset, lr"),
    ("[{lr: 0.001}]", r"search\.initial\[0\]: got nothing; expected a preset name"),
    ("[{preset: mf, lr: -1}]", r"search\.initial\[0\]: training\.lr"),
]


@pytest.mark.parametrize("initial, message", BAD_INITIAL)
def test_bad_initial_in_a_space_file_is_one_line_naming_the_key(initial, message):
    with pytest.raises(SpaceError, match=message) as err:
        parse_space(SPACE.replace("initial: [lightgcn, {preset: mf, lr: 5.0e-3}]", f"initial: {initial}"),
                    "warm.yaml")
    assert "\n" not in str(err.value) and str(err.value).startswith("warm.yaml:4: ")


def test_resolve_initial_overrides_and_refusals():
    space = parse_space(SPACE, "warm.yaml")
    tpe = CONTROLLERS["optuna-tpe"](space)
    assert resolve_initial(None, space, tpe) == (InitialPoint("lightgcn"), InitialPoint("mf", (("lr", 5e-3),)))
    assert resolve_initial("mf", space, tpe) == (InitialPoint("mf"),)  # the preset as defined
    assert resolve_initial("none", space, tpe) == resolve_initial([], space, tpe) == ()
    with pytest.raises(GnnnasError, match=r"--initial 'gcn': preset not in space warm: combination 'last'"):
        resolve_initial("lightgcn,gcn", space, tpe)
    with pytest.raises(GnnnasError, match=r"--initial 'gnn': unknown preset"):
        resolve_initial("gnn", space, tpe)
    nni = CONTROLLERS["nni-random"](space)
    assert not nni.initial_design and resolve_initial(None, space, nni) == ()  # the space's list is skipped
    with pytest.raises(GnnnasError, match=r"controller nni-random proposes every trial itself"):
        resolve_initial("lightgcn", space, nni)


# --- the search side --------------------------------------------------------------
def test_a_new_study_trains_the_initial_presets_first(tiny_csv, warm_space, tmp_path):
    result = gnnnas.search(space=warm_space, data=str(tiny_csv), out=str(tmp_path / "run"), trials=4, pruner="none")
    trials = sorted(result.study.get_trials(), key=lambda t: t.number)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert spec_of(trials[0]) == PRESETS["lightgcn"].spec
    assert spec_of(trials[1]) == InitialPoint("mf", (("lr", 5e-3),)).spec() != PRESETS["mf"].spec
    assert [t.user_attrs.get("initial") for t in trials] == ["lightgcn", "mf lr=0.005", None, None]
    # the sampler recorded them like its own proposals (TPE learns from them)
    assert trials[0].params["num_layers"] == 3 and trials[0].params["training.lr"] == pytest.approx(1e-3)
    board = result.leaderboard.set_index("trial")
    assert board.loc[0, "controller"] == "optuna-tpe (initial lightgcn)"
    assert board.loc[2, "controller"] == "optuna-tpe"


def test_budget_below_the_initial_design_then_resume_runs_the_rest_once(tiny_csv, warm_space, tmp_path):
    out = tmp_path / "run"
    first = gnnnas.search(space=warm_space, data=str(tiny_csv), out=str(out), trials=1, pruner="none")
    states = {t.number: t.state for t in first.study.get_trials()}
    assert states == {0: TrialState.COMPLETE, 1: TrialState.WAITING}  # mf queued, not started
    assert list(first.leaderboard.trial) == [0]  # a queued trial is not a result
    again = gnnnas.search(space=warm_space, data=str(tiny_csv), out=str(out), trials=3, pruner="none")
    trials = sorted(again.study.get_trials(), key=lambda t: t.number)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert [t.user_attrs.get("initial") for t in trials] == ["lightgcn", "mf lr=0.005", None]  # not enqueued again
    assert spec_of(trials[1]).training.lr == 5e-3 and not spec_of(trials[1]).layers


def test_initial_none_leaves_the_first_trial_to_the_controller(tiny_csv, warm_space, tmp_path):
    result = gnnnas.search(space=warm_space, data=str(tiny_csv), out=str(tmp_path / "run"), trials=1,
                           pruner="none", initial="none", controller="optuna-random")
    (trial,) = result.study.get_trials()
    assert "initial" not in trial.user_attrs
    assert result.study.user_attrs["controller"] == "optuna-random"


def test_the_default_space_holds_every_point_of_the_lightgcn_space():
    # A broad space that leaves out the narrow space's best points loses to it at any budget.
    from dataclasses import replace

    from gnnnas.space import RandomTrial
    default, lightgcn = load_space("default"), load_space("lightgcn")
    for seed in range(200):
        spec = lightgcn.sample(RandomTrial(seed))
        assert default.to_spec(default.params_of(spec)) == spec
    corner = lightgcn.sample(RandomTrial(0))
    for l2, lr in ((1e-2, 1e-2), (1e-6, 1e-3)):
        spec = replace(corner, training=replace(corner.training, l2=l2, lr=lr))
        assert default.params_of(spec)["training.l2"] == l2
