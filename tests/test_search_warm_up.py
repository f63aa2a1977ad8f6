"""Warm-up (``search.warm_up``, ``--warm-up``): the first share of the budget stays in a sub-space."""

from __future__ import annotations

import textwrap

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

import gnnnas
from gnnnas.errors import GnnnasError
from gnnnas.search.controllers import CONTROLLERS
from gnnnas.search.initial import WARM_UP_ATTR
from gnnnas.search.warm_up import WarmUpPhase, WarmUpPlan, fixed_params, resolve_warm_up
from gnnnas.space import SpaceError, load_space, parse_space

from cli_helpers import assert_one_line_error, run

BROAD = """
name: broad
description: a broad test space
search: {max_epochs: 2, patience: 2, warm_up: {space: narrow.yaml, share: 0.5}}
architecture:
  embedding_dim: [8, 16]
  combination: [mean, sum]
  scoring: [dot, cosine]
layers:
  num_layers: {low: 0, high: 2}
  aggregator: {choices: [lightgcn, gcn], per_layer: independent}
  hidden: 16
training:
  lr: {low: 1.0e-3, high: 5.0e-2, log: true}
  batch_size: 256
"""

# LightGCN's knobs in BROAD: depth, width and lr vary; aggregator, combination and scoring are fixed.
NARROW = """
name: narrow
description: the LightGCN part of the broad space
architecture:
  embedding_dim: [8, 16]
  combination: mean
  scoring: dot
layers:
  num_layers: {low: 1, high: 2}
  aggregator: lightgcn
training:
  lr: {low: 1.0e-3, high: 5.0e-2, log: true}
  batch_size: 256
"""


@pytest.fixture
def broad(tmp_path):
    (tmp_path / "narrow.yaml").write_text(textwrap.dedent(NARROW))
    path = tmp_path / "broad.yaml"
    path.write_text(textwrap.dedent(BROAD))
    return str(path)


def tpe(space):
    return CONTROLLERS["optuna-tpe"](space, seed=0, max_epochs=2)


# --- what a warm-up trial fixes -----------------------------------------------------------
def test_fixed_params_are_what_the_sub_space_fixes_at_every_depth(broad, tmp_path):
    fixed = fixed_params(load_space(broad), load_space(str(tmp_path / "narrow.yaml")))
    assert fixed == {"combination": "mean", "scoring": "dot", "layer0.aggregator": "lightgcn",
                     "layer1.aggregator": "lightgcn"}


def test_the_default_space_warms_up_in_lightgcn_loss_with_its_knobs_left_free():
    default = load_space("default")
    assert default.search.warm_up is not None and default.search.warm_up.space == "lightgcn-loss"
    plan = resolve_warm_up(None, default, tpe(default))
    assert plan.space == "lightgcn-loss" and plan.share == default.search.warm_up.share
    # the sub-space's searched knobs stay free; everything it fixes is fixed, for all 4 layers
    assert not {"num_layers", "embedding_dim", "training.lr", "training.l2", "scoring", "training.loss",
                "training.shared_negatives"} & set(plan.params)
    assert all(plan.params[f"layer{i}.aggregator"] == "lightgcn" for i in range(4))
    assert plan.params["norm"] == "none" and plan.params["skip"] == "none"
    assert plan.params["training.num_negatives"] == 1 and plan.params["combination"] == "mean"
    # every point of the sub-space, with any free values, is then a point of the default space
    sub = load_space("lightgcn-loss")
    samples = sub.sample_random(40, seed=1)
    assert {s.training.loss for s in samples} == {"bpr", "softmax"} and {s.scoring for s in samples} == {"dot", "cosine"}
    for spec in samples:
        params = default.params_of(spec)
        assert {k: params[k] for k in plan.params if k in params} == {k: v for k, v in plan.params.items()
                                                                        if k in params}


def test_a_warm_up_space_outside_the_space_is_one_clear_error(broad, tmp_path):
    (tmp_path / "narrow.yaml").write_text(textwrap.dedent(NARROW).replace("aggregator: lightgcn",
                                                                          "aggregator: gat"))
    with pytest.raises(GnnnasError, match=r"search.warm_up: 'narrow.yaml' is not a sub-space of broad: .*gat"):
        resolve_warm_up(None, load_space(broad), tpe(load_space(broad)))
    out = tmp_path / "run"
    with pytest.raises(GnnnasError, match="not a sub-space"):
        gnnnas.search(space=broad, out=str(out), trials=2)
    assert not out.exists()


def test_an_unknown_warm_up_space_is_named_as_unknown_not_as_outside(broad, capsys, tiny_csv, tmp_path):
    out = tmp_path / "run"
    code, _, err = run(capsys, "search", "--space", broad, "--data", tiny_csv, "--out", out, "--warm-up", "nosuch:0.3")
    assert_one_line_error(code, err, "--warm-up nosuch:0.3", "unknown search space 'nosuch'")
    assert "not a sub-space" not in err and not out.exists()


@pytest.mark.parametrize("bad, fragment", [("{space: narrow.yaml, share: 1.5}", "share"),
                                           ("{space: narrow.yaml, share: 0}", "share"),
                                           ("{share: 0.3}", "space"),
                                           ("lightgcn", "expected a mapping"),
                                           ("{space: lightgcn, share: 0.3, trials: 4}", "unknown key 'trials'")])
def test_bad_warm_up_settings_name_the_key(bad, fragment):
    text = textwrap.dedent(BROAD).replace("{space: narrow.yaml, share: 0.5}", bad)
    with pytest.raises(SpaceError, match=fragment) as err:
        parse_space(text, "broad.yaml")
    assert "search.warm_up" in str(err.value)


@pytest.mark.parametrize("requested", ["narrow.yaml:1.2", "narrow.yaml:x", ":0.3"])
def test_bad_warm_up_flags_are_one_line_errors(capsys, broad, tiny_csv, tmp_path, requested):
    out = tmp_path / "run"
    code, _, err = run(capsys, "search", "--space", broad, "--data", tiny_csv, "--out", out, "--warm-up", requested)
    assert_one_line_error(code, err, "--warm-up", "SHARE")
    assert not out.exists()


def test_a_controller_that_proposes_every_trial_refuses_an_explicit_warm_up_and_skips_the_spaces(broad):
    space = load_space(broad)

    class Proposer:  # what resolve_warm_up reads of a controller, e.g. the NNI tuners
        name, initial_design = "nni-tpe", False

    assert resolve_warm_up(None, space, Proposer()) is None
    with pytest.raises(GnnnasError, match="nni-tpe proposes every trial itself"):
        resolve_warm_up("narrow.yaml:0.5", space, Proposer())


# --- when the warm-up lasts -----------------------------------------------------------------
def test_the_phase_queues_one_trial_at_a_time_and_ends_with_its_share_or_the_first_free_trial():
    plan = WarmUpPlan("narrow", 0.5, {"x": 1})
    study = optuna.create_study(direction="maximize")
    phase = WarmUpPhase(plan, total=6, timeout=None)
    phase.before_ask(study)
    phase.before_ask(study)  # one queued already: nothing more
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].params == {} and waiting[0].user_attrs == {WARM_UP_ATTR: "narrow"}
    for _ in range(3):
        phase.before_ask(study)
        trial = study.ask()
        assert trial.suggest_int("x", 0, 3) == 1  # the fixed value
        study.tell(trial, 0.5)
    phase.before_ask(study)  # 3 of 6 trials done: the share is spent
    assert not study.get_trials(states=(TrialState.WAITING,))
    # a study whose controller already proposed freely does not go back to warming up (a resumed search)
    fresh = optuna.create_study(direction="maximize")
    fresh.tell(fresh.ask(), 0.1)
    WarmUpPhase(plan, total=6, timeout=None).before_ask(fresh)
    assert not fresh.get_trials(states=(TrialState.WAITING,))
    # with a timeout it also ends after its share of the seconds
    timed = optuna.create_study(direction="maximize")
    WarmUpPhase(plan, total=6, timeout=0.0).before_ask(timed)
    assert not timed.get_trials(states=(TrialState.WAITING,))


# --- a real search ------------------------------------------------------------------------------
def test_a_search_spends_its_first_share_in_the_sub_space_then_the_whole_space(broad, tiny_csv, tmp_path):
    out = tmp_path / "run"
    result = gnnnas.search(space=broad, data=str(tiny_csv), out=str(out), trials=6, pruner="none", seed=3)
    trials = sorted(result.study.get_trials(), key=lambda t: t.number)
    assert len(trials) == 6
    warm = [t for t in trials if t.user_attrs.get(WARM_UP_ATTR)]
    assert [t.number for t in warm] == [0, 1, 2] and all(t.user_attrs[WARM_UP_ATTR] == "narrow" for t in warm)
    for t in warm:  # points of the sub-space: what it fixes is fixed, what it varies was proposed
        spec = gnnnas.ArchSpec.from_dict(t.user_attrs["spec"])
        assert spec.scoring == "dot" and spec.combination == "mean"
        assert all(layer.aggregator == "lightgcn" for layer in spec.layers)
        assert {"embedding_dim", "training.lr", "num_layers"} <= set(t.params)
    assert result.study.user_attrs["warm_up"]["space"] == "narrow"
    board = pd.read_csv(out / "leaderboard.csv")
    proposed = dict(zip(board["trial"], board["controller"]))
    assert all(proposed[n] == "optuna-tpe (warm-up narrow)" for n in (0, 1, 2))
    assert all(proposed[n] == "optuna-tpe" for n in (3, 4, 5))


def test_warm_up_none_turns_it_off(broad, tiny_csv, tmp_path):
    result = gnnnas.search(space=broad, data=str(tiny_csv), out=str(tmp_path / "run"), trials=3, pruner="none",
                           warm_up="none")
    assert not any(t.user_attrs.get(WARM_UP_ATTR) for t in result.study.get_trials())
    assert result.study.user_attrs["warm_up"] is None
