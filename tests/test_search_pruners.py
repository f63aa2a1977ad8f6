"""Pruner steps: epochs, or training milliseconds when every candidate has a time budget."""

from __future__ import annotations

import datetime

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from gnnnas.search.asha import BoundedSuccessiveHalvingPruner, top_rung
from gnnnas.search import pruners
from gnnnas.search.pruners import PRUNERS, Resource, first_rung, make_pruner
from gnnnas.search.time_median import ElapsedMedianPruner, value_by

from test_search import SMALL, run_search, write_space


def test_resource_counts_epochs_without_a_time_limit():
    r = Resource(max_epochs=50, eval_every=3)
    assert not r.timed and r.unit == "epoch"
    assert r.step(7, 123.4) == 7
    assert r.first_rung == first_rung(50, 3) == 6  # a tenth of 50, on an evaluation epoch
    assert r.max_resource == 50


def test_resource_counts_training_milliseconds_under_a_time_limit():
    r = Resource(max_epochs=20, eval_every=1, trial_timeout=20.0)
    assert r.timed and r.unit == "ms"
    assert r.step(2, 1.2345) == 1234 and r.step(1, 0.0) == 1  # steps stay positive integers
    assert r.first_rung == 2000 and r.max_resource == 20000
    assert r.describe(2000) == "2 s of training"


@pytest.fixture
def no_grace(monkeypatch):
    """ASHA judging from a rung's second candidate on: the tests of rung mechanics need few trials."""
    monkeypatch.setattr(pruners, "ASHA_GRACE", 0)


def _run(study: optuna.Study, curve: list[tuple[int, float]], finish: bool = True) -> bool:
    """Report ``curve`` ((step, value) ...) for a new trial; True when the pruner stopped it."""
    trial = study.ask()
    for step, value in curve:
        trial.report(value, step)
        if trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
            return True
    if finish:
        study.tell(trial, max(v for _, v in curve))
    return False


# A fast candidate (MF-like: an epoch every 0.1 s, slow to climb per epoch) and slow stacks (an epoch in
# 5 s, good early per epoch, poor for the time they take). Rows: (epoch, seconds at that evaluation, value).
FAST = [(e, e / 10, 0.004 * e) for e in range(1, 41)]  # 0.016 at epoch 4, 0.08 after 2 s, 0.16 after 4 s
SLOW = [(1, 5.0, 0.05), (2, 10.0, 0.06), (3, 15.0, 0.065), (4, 20.0, 0.07)]


def _study(resource: Resource, name: str) -> optuna.Study:
    return optuna.create_study(direction="maximize", pruner=make_pruner(name, resource),
                               sampler=optuna.samplers.RandomSampler(seed=0))


@pytest.mark.usefixtures("no_grace")
@pytest.mark.parametrize("name", ["asha", "hyperband", "median"])
def test_at_equal_training_time_a_fast_candidate_is_judged_on_what_it_reached(name):
    epochs, timed = Resource(max_epochs=40), Resource(max_epochs=40, trial_timeout=20.0)
    for resource, fast_survives in ((epochs, False), (timed, True)):
        study = _study(resource, name)
        for _ in range(3):  # slow stacks first, as when a search starts with them
            _run(study, [(resource.step(e, s), v) for e, s, v in SLOW])
        pruned = _run(study, [(resource.step(e, s), v) for e, s, v in FAST])
        if name == "hyperband" and not fast_survives:
            continue  # epoch-mode Hyperband may place the trial in a bracket without an early rung
        # at the first rung by epoch (4) the fast one is behind (0.016 vs 0.07); by time (2 s) it is ahead
        # (0.08, the stacks have nothing yet; they reach 0.05 at 5 s), so only the time axis keeps it
        assert pruned is (not fast_survives), (name, resource.unit)


@pytest.mark.usefixtures("no_grace")
def test_a_slow_candidate_is_pruned_by_time_when_fast_ones_did_better_in_the_same_seconds():
    study = _study(Resource(max_epochs=40, trial_timeout=20.0), "asha")
    r = Resource(max_epochs=40, trial_timeout=20.0)
    for _ in range(3):
        _run(study, [(r.step(e, s), v) for e, s, v in FAST])
    assert _run(study, [(r.step(e, s), v) for e, s, v in SLOW])  # 0.05 at its first rung < 0.08 of the others


def test_value_by_reads_the_last_value_at_or_before_a_step():
    values = {100: 0.1, 250: 0.3, 400: float("nan"), 900: 0.2}
    assert value_by(values, 99) is None
    assert value_by(values, 100) == 0.1 and value_by(values, 399) == 0.3
    assert value_by(values, 500) == 0.3  # NaN is no value
    assert value_by(values, 10**6) == 0.2


def test_elapsed_median_waits_for_startup_trials_and_warm_up_then_compares_at_equal_time():
    study = optuna.create_study(direction="maximize", pruner=ElapsedMedianPruner(n_startup_trials=3,
                                                                                  n_warmup_steps=1000))
    assert not _run(study, [(1500, 0.0)])  # no completed trials yet
    for curve in ([(700, 0.10), (1400, 0.20)], [(900, 0.12), (1800, 0.30)]):
        _run(study, curve)
    trial = study.ask()
    trial.report(0.01, 900)
    assert not trial.should_prune()  # before the warm-up
    trial.report(0.01, 1500)
    assert trial.should_prune()  # three completed; by 1500 ms they had 0.0, 0.20, 0.12: median 0.12
    study.tell(trial, state=TrialState.PRUNED)
    trial = study.ask()
    trial.report(0.15, 1500)
    assert not trial.should_prune()


def test_successive_halving_rungs_stop_where_no_higher_rung_fits_the_budget():
    assert Resource(max_epochs=20).rungs() == [2, 6]  # 18 is the top rung: 54 > 20, nothing to promote to
    assert Resource(max_epochs=10).rungs() == [1, 3]
    assert Resource(max_epochs=100, eval_every=2).rungs() == [10, 30]
    assert Resource(max_epochs=2).rungs() == []  # 1 * 3 > 2: successive halving has nothing to judge
    assert Resource(max_epochs=20, trial_timeout=20.0).rungs() == [2000, 6000]
    assert top_rung(2, 20, 3) == 18 and top_rung(2, 20, 3, min_early_stopping_rate=2) == 18
    assert top_rung(2, 17, 3) == 6


def _best_then_close(study: optuna.Study, close_at_18: float) -> bool:
    """A leader, then a candidate level with it at epochs 2 and 6 and behind it at 18; True if pruned."""
    _run(study, [(2, 0.05), (6, 0.10), (18, 0.140), (20, 0.141)])
    return _run(study, [(2, 0.05), (6, 0.10), (18, close_at_18), (20, 0.139)])


@pytest.mark.usefixtures("no_grace")
def test_asha_never_prunes_at_its_top_rung():
    resource = Resource(max_epochs=20)
    unbounded = optuna.create_study(direction="maximize", pruner=optuna.pruners.SuccessiveHalvingPruner(
        min_resource=resource.first_rung, reduction_factor=3))
    assert _best_then_close(unbounded, 0.138)  # Optuna's own pruner stops it two epochs before its end
    assert not _best_then_close(_study(resource, "asha"), 0.138)


@pytest.mark.usefixtures("no_grace")
def test_asha_judges_lower_rungs_on_a_first_report_past_the_top_rung():
    study = _study(Resource(max_epochs=20), "asha")
    _run(study, [(2, 0.05), (6, 0.10), (20, 0.14)])
    trial = study.ask()
    trial.report(0.01, 19)  # a slow candidate evaluated for the first time near its end
    assert trial.should_prune()  # behind at rung 2
    rungs = {k for k in study.trials[-1].system_attrs if k.startswith("completed_rung_")}
    assert rungs == {"completed_rung_0"}
    study.tell(trial, state=TrialState.PRUNED)
    trial = study.ask()
    trial.report(0.2, 19)
    assert not trial.should_prune()  # ahead at rungs 2 and 6, and 18 is not judged
    assert {k for k in study.trials[-1].system_attrs if k.startswith("completed_rung_")} == {
        "completed_rung_0", "completed_rung_1"}


def test_hyperband_brackets_never_prune_at_or_past_the_top_rung():
    resource = Resource(max_epochs=20)
    pruned_at: dict[str, list[int]] = {}
    for label, pruner in (("optuna", optuna.pruners.HyperbandPruner(min_resource=2, max_resource=20,
                                                                     reduction_factor=3)),
                          ("bounded", make_pruner("hyperband", resource))):
        study = optuna.create_study(direction="maximize", pruner=pruner)
        for i in range(30):  # early values in a scrambled order, late ones falling: every rung has losers
            trial, early = study.ask(), (i * 7) % 10 / 100
            for step, value in ((2, early), (6, 2 * early), (18, 1.0 - 0.01 * i), (20, 1.0 - 0.01 * i)):
                trial.report(value, step)
                if trial.should_prune():
                    study.tell(trial, state=TrialState.PRUNED)
                    break
            else:
                study.tell(trial, 1.0 - 0.01 * i)
        pruned_at[label] = [t.last_step for t in study.get_trials(states=(TrialState.PRUNED,))]
    assert 18 in pruned_at["optuna"]
    assert pruned_at["bounded"] and max(pruned_at["bounded"]) < 18


def test_bounded_asha_decides_like_optunas_below_its_top_rung():
    rng = np.random.default_rng(0)
    curves = [np.cumsum(rng.uniform(0.0, 0.02, size=9)) + rng.uniform(0.0, 0.05) for _ in range(40)]
    decisions = {}
    for label, pruner in (("optuna", optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)),
                          ("ours", BoundedSuccessiveHalvingPruner(min_resource=1, max_resource=10**4))):
        study = optuna.create_study(direction="maximize", pruner=pruner)
        decisions[label] = [_run(study, list(enumerate(map(float, curve), start=1))) for curve in curves]
    assert decisions["ours"] == decisions["optuna"] and 10 < sum(decisions["ours"]) < 40


def test_asha_grace_spares_a_rungs_first_candidates_and_still_counts_their_values():
    # A fast starter, then three slow starters that end higher: at epoch 2 each is behind the fast one.
    fast, slow = [(2, 0.10), (6, 0.11), (10, 0.12)], [(2, 0.01), (6, 0.12), (10, 0.20)]
    plain = optuna.create_study(direction="maximize", pruner=BoundedSuccessiveHalvingPruner(2, 10))
    graced = optuna.create_study(direction="maximize", pruner=BoundedSuccessiveHalvingPruner(2, 10, grace=3))
    assert [_run(plain, c) for c in (fast, slow, slow, slow)] == [False, True, True, True]
    assert [_run(graced, c) for c in (fast, slow, slow, slow)] == [False, False, False, True]
    # the spared candidates' rung values count: a fifth one behind all four at epoch 2 is stopped
    assert _run(graced, [(2, 0.005), (6, 0.3), (10, 0.3)])
    assert all("completed_rung_0" in t.system_attrs for t in graced.trials)


def test_the_default_asha_spares_the_first_candidates_of_a_rung():
    study = _study(Resource(max_epochs=10), "asha")  # rungs at epochs 1 and 3
    assert study.pruner.grace == pruners.ASHA_GRACE >= 1
    _run(study, [(1, 0.10), (3, 0.12), (10, 0.13)])
    spared = [_run(study, [(1, 0.01), (3, 0.02), (10, 0.20)]) for _ in range(pruners.ASHA_GRACE - 1)]
    assert not any(spared)  # behind the leader at epoch 1, and still too few to judge by
    assert _run(study, [(1, 0.005), (3, 0.01), (10, 0.3)])  # the rung holds ASHA_GRACE values now


def _run_timed(study: optuna.Study, rows: list[tuple[int, float, float]]) -> bool:
    """Like _run, with (epoch, seconds since the trial started, value) rows and the pruner's clock set to them."""
    trial = study.ask()
    started = study._storage.get_trial(trial._trial_id).datetime_start
    for epoch, seconds, value in rows:
        study.pruner.clock = lambda s=seconds: started + datetime.timedelta(seconds=s)
        trial.report(value, epoch)
        if trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
            return True
    study.tell(trial, max(v for _, _, v in rows))
    return False


@pytest.mark.usefixtures("no_grace")
def test_asha_matched_judges_a_cheap_candidate_among_cheap_ones():
    resource = Resource(max_epochs=40)  # rungs at epochs 4 and 12
    plain, matched = _study(resource, "asha"), _study(resource, "asha_matched")
    assert matched.pruner.cost_slack == 1.5
    for study in (plain, matched):
        for _ in range(3):
            _run_timed(study, SLOW)  # 0.07 at epoch 4, after 20 s
    worse_fast = [(e, s, v / 2) for e, s, v in FAST]
    # by epoch alone the fast one (0.016 at epoch 4, after 0.4 s) trails the stacks: stopped
    assert _run_timed(plain, FAST)
    # matched, nobody got to epoch 4 within 1.5 x 0.4 s: it goes on, and the next cheap one meets it
    assert not _run_timed(matched, FAST)
    assert _run_timed(matched, worse_fast)
    seconds = [t.system_attrs.get("gnnnas_rung_seconds_0") for t in matched.trials]
    assert seconds == pytest.approx([20.0, 20.0, 20.0, 0.4, 0.4])
    # a slow candidate still meets everyone at least as fast: 0.03 at epoch 4 trails the others
    assert _run_timed(matched, [(e, s, v - 0.04) for e, s, v in SLOW])


def test_a_search_with_matched_asha_records_when_each_candidate_reached_a_rung(tiny_csv, tmp_path):
    space = write_space(tmp_path, SMALL)
    result = run_search(tiny_csv, space, tmp_path / "run", trials=3, pruner="asha_matched",
                        controller="optuna-random")
    judged = [t for t in result.study.trials if "completed_rung_0" in t.system_attrs]
    assert len(judged) == 3  # every candidate reached epoch 1, the first rung of max_epochs 3
    for t in judged:
        assert 0 < t.system_attrs["gnnnas_rung_seconds_0"] <= t.duration.total_seconds()


def test_every_pruner_has_a_time_axis():
    timed = Resource(max_epochs=10, trial_timeout=5.0)
    assert isinstance(make_pruner("median", timed), ElapsedMedianPruner)
    assert make_pruner("asha", timed)._min_resource == 500
    for name in PRUNERS:
        make_pruner(name, timed)


@pytest.mark.parametrize("pruner", ["asha", "median"])
def test_a_timed_search_reports_training_milliseconds_and_records_them(tiny_csv, tmp_path, pruner):
    space = write_space(tmp_path, SMALL.replace("search: {max_epochs: 3, patience: 3}",
                                                "search: {max_epochs: 6, patience: 6}"))
    result = run_search(tiny_csv, space, tmp_path / "run", trials=4, trial_timeout=60.0, pruner=pruner,
                        prune_by="seconds", controller="optuna-random")
    trials = result.study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(trials) == 4
    for t in trials:
        a = t.user_attrs
        assert len(a["curve_seconds"]) == len(a["curve"]) == len(t.intermediate_values) >= 1
        steps = sorted(t.intermediate_values)
        assert steps == [max(1, round(s * 1000)) for s in a["curve_seconds"]]  # milliseconds, not epochs
        assert a["curve_seconds"] == sorted(a["curve_seconds"]) and a["curve_seconds"][-1] <= a["seconds"]
        assert [v for _, v in a["curve"]] == [t.intermediate_values[s] for s in steps]


@pytest.mark.parametrize("trial_timeout", [None, 60.0])
def test_pruning_by_epochs_reports_epochs_with_or_without_a_time_limit(tiny_csv, tmp_path, trial_timeout):
    small_space = write_space(tmp_path, SMALL)
    result = run_search(tiny_csv, small_space, tmp_path / "run", trials=2, pruner="asha", controller="optuna-random",
                        trial_timeout=trial_timeout)
    assert result.study.user_attrs["prune_by"] == "epochs"
    for t in result.study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED)):
        assert sorted(t.intermediate_values) == [e for e, _ in t.user_attrs["curve"]]
        assert len(t.user_attrs["curve_seconds"]) == len(t.user_attrs["curve"])


def test_prune_by_seconds_needs_a_time_limit_and_a_known_name(tiny_csv, tmp_path):
    from gnnnas.errors import GnnnasError

    space = write_space(tmp_path, SMALL)
    with pytest.raises(GnnnasError, match=r"--prune-by seconds: .*--trial-timeout"):
        run_search(tiny_csv, space, tmp_path / "a", prune_by="seconds")
    with pytest.raises(GnnnasError, match=r"--prune-by 'minutes': expected one of epochs, seconds"):
        run_search(tiny_csv, space, tmp_path / "b", prune_by="minutes", trial_timeout=5.0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_optuna_tpe_proposes_from_its_model_after_its_start_up_trials():
    from gnnnas.search.controllers import CONTROLLERS
    from gnnnas.space import load_space

    controller = CONTROLLERS["optuna-tpe"](load_space("tiny"), seed=3)
    n = controller.n_startup_trials
    draws = {}
    for name, sampler in (("tpe", controller.sampler()), ("random", optuna.samplers.RandomSampler(seed=3))):
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(lambda t: -abs(t.suggest_float("x", 0.0, 1.0) - 0.9), n_trials=n + 15)
        draws[name] = [t.params["x"] for t in study.trials]
    assert draws["tpe"][:n] == draws["random"][:n]  # the start-up draws are the seeded random ones
    assert draws["tpe"][n] != draws["random"][n]  # the next comes from the model ...
    near = lambda xs: sum(abs(x - 0.9) for x in xs) / len(xs)  # noqa: E731
    assert near(draws["tpe"][n:]) < 0.75 * near(draws["random"][n:])  # ... which concentrates on the best region


def test_a_single_objective_search_prunes_with_cost_matched_asha_by_default(tiny_csv, tmp_path):
    import gnnnas

    result = gnnnas.search(space=write_space(tmp_path, SMALL), data=str(tiny_csv), out=str(tmp_path / "run"),
                           trials=3, controller="optuna-random")
    assert result.study.user_attrs["pruner"] == "asha_matched"
    judged = [t for t in result.study.trials if "completed_rung_0" in t.system_attrs]
    assert judged and all("gnnnas_rung_seconds_0" in t.system_attrs for t in judged)  # matched by cost
