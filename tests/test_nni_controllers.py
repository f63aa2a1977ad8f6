"""NNI controllers, in-process: space mapping, suggestion -> trial, each tuner/advisor driven by a tiny loop.

No training: the loop tells the study a synthetic value computed from the spec.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

pytest.importorskip("nni")

from gnnnas.errors import GnnnasError  # noqa: E402
from gnnnas.search.controllers import CONTROLLERS  # noqa: E402
from gnnnas.search.controllers.nni_space import from_nni_params, to_nni_space  # noqa: E402
from gnnnas.space import RandomTrial, load_space, parse_space  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

NNI_EXPERIMENTS = Path.home() / "nni-experiments"
NNI_EXPERIMENTS_BEFORE = NNI_EXPERIMENTS.exists()
SINGLE = ["nni-tpe", "nni-random", "nni-evolution", "nni-grid"]
MULTI = ["nni-hyperband", "nni-bohb"]

SIX = """
name: six
description: six architectures - two widths times (MF or one lightgcn/gcn layer)
architecture:
  embedding_dim: [16, 32]
layers:
  num_layers: {low: 0, high: 1}
  aggregator: [lightgcn, gcn]
"""

SMALL_FLOAT = """
name: small-float
description: a few discrete choices and a log-scale learning rate
architecture:
  embedding_dim: [16, 32]
  skip: [none, residual]
layers:
  num_layers: {low: 0, high: 1}
  aggregator: [lightgcn, gcn]
training:
  lr: {low: 1.0e-3, high: 1.0e-1, log: true}
"""


@pytest.fixture(autouse=True)
def _in_tmp_cwd(tmp_path, monkeypatch):
    # Nothing may be written to the working directory (checked in test_nothing_written_anywhere).
    monkeypatch.chdir(tmp_path)


def score(spec) -> float:
    """A clear synthetic objective: wide, residual, mean-combined, deep stacks are best (max 4)."""
    return float((spec.embedding_dim == 32) + (spec.skip == "residual") + 0.5 * len(spec.layers)
                 + (spec.combination == "mean"))


def make(name: str, space, seed: int = 0, max_epochs: int = 9, **kwargs):
    controller = CONTROLLERS[name](space, seed=seed, max_epochs=max_epochs, **kwargs)
    study = optuna.create_study(direction="maximize", sampler=controller.sampler())
    return controller, study


def run_loop(controller, study, n: int, objective=score, state=None):
    """The search engine's loop without training: ask -> tell the study -> tell the controller."""
    done = []
    for _ in range(n):
        suggestion = controller.ask(study)
        if suggestion is None:
            break
        if state is not None and state(suggestion):
            study.tell(suggestion.trial, state=state(suggestion))
        else:
            study.tell(suggestion.trial, objective(suggestion.spec))
        frozen = study._storage.get_trial(suggestion.trial._trial_id)
        controller.tell(suggestion, frozen)
        done.append((suggestion, frozen))
    return done


def assert_nni_trial(space, suggestion, frozen, name):
    attrs = frozen.user_attrs
    assert attrs["controller"] == name
    assert "nni_parameter_id" in attrs
    nni_params = attrs["nni_params"]
    # The trial's parameters are NNI's suggestion (its active part), and they rebuild the spec.
    assert frozen.params and set(frozen.params) <= set(nni_params)
    assert frozen.params == {k: nni_params[k] for k in frozen.params}
    assert space.to_spec(frozen.params) == suggestion.spec


# --- space mapping -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["default", "tiny", "attention"])
def test_mapping_names_exactly_the_parameters_the_space_can_emit(name):
    space = load_space(name)
    nni_space = to_nni_space(space)
    rng = np.random.default_rng(0)
    emitted: set[str] = set()
    for _ in range(600):
        trial = RandomTrial(rng)
        space.sample(trial)
        emitted |= set(trial.params)
    assert emitted == set(nni_space)  # every emitted name is there, and nothing else
    for spec in nni_space.values():
        assert spec["_type"] in {"choice", "randint", "quniform", "qloguniform", "uniform", "loguniform"}


def test_mapping_types():
    default = to_nni_space(load_space("default"))
    assert default["training.lr"] == {"_type": "loguniform", "_value": [1e-3, 1e-2]}
    assert default["num_layers"] == {"_type": "randint", "_value": [0, 5]}  # NNI's upper bound is exclusive
    assert default["layer3.heads"] == {"_type": "choice", "_value": [1, 2, 4]}
    assert default["head_combine"]["_type"] == "choice"  # conditional dims are always exposed
    assert "aggregator" not in default and "layer0.aggregator" in default
    tiny = to_nni_space(load_space("tiny"))
    assert "training.batch_size" not in tiny  # fixed
    assert tiny["hidden"] == {"_type": "choice", "_value": [16, 32]}  # shared per-layer dim: one parameter
    space = parse_space("""
name: ranges
description: integer grids, a log integer and a degenerate range
architecture:
  embedding_dim: {low: 16, high: 64, step: 16}
layers:
  num_layers: {low: 1, high: 1}
  aggregator: gat
  head_combine: mean
  hidden: {low: 8, high: 128, log: true}
  heads: {low: 3, high: 9, step: 2}
training:
  num_negatives: {low: 2, high: 2}
""")
    nni_space = to_nni_space(space)
    assert nni_space["embedding_dim"] == {"_type": "quniform", "_value": [16, 64, 16]}
    assert nni_space["layer0.hidden"] == {"_type": "qloguniform", "_value": [8, 128, 1]}
    assert nni_space["layer0.heads"] == {"_type": "choice", "_value": [3, 5, 7, 9]}  # low not a multiple of step
    assert nni_space["num_layers"] == {"_type": "choice", "_value": [1]}
    assert nni_space["training.num_negatives"] == {"_type": "choice", "_value": [2]}


def test_from_nni_params_casts_and_snaps():
    space = parse_space("""
name: casts
description: casts
architecture:
  embedding_dim: {low: 16, high: 64, step: 16}
  skip: [none, residual]
  edge_dropout: [0.0, 0.1]
layers:
  num_layers: {low: 0, high: 1}
training:
  lr: {low: 1.0e-3, high: 1.0e-1, log: true}
""")
    params = from_nni_params(space, {"embedding_dim": np.float64(128.0 / 4), "skip": np.str_("residual"),
                                     "edge_dropout": np.float64(0.0), "num_layers": np.int64(1),
                                     "training.lr": np.float64(0.5)})
    assert params == {"embedding_dim": 32, "skip": "residual", "edge_dropout": 0.0, "num_layers": 1,
                      "training.lr": 0.1}
    assert type(params["embedding_dim"]) is int and type(params["skip"]) is str
    assert type(params["edge_dropout"]) is float and type(params["training.lr"]) is float
    assert from_nni_params(space, {**params, "embedding_dim": 41.0})["embedding_dim"] == 48  # onto the grid
    assert from_nni_params(space, {**params, "embedding_dim": 500})["embedding_dim"] == 64  # into the range
    with pytest.raises(GnnnasError, match="not one of"):
        from_nni_params(space, {**params, "skip": "dense"})
    with pytest.raises(GnnnasError, match="does not have"):
        from_nni_params(space, {**params, "TRIAL_BUDGET": 3})
    with pytest.raises(GnnnasError, match="lacks"):
        from_nni_params(space, {k: v for k, v in params.items() if k != "skip"})


# --- suggestions become trials of the shared study ----------------------------------------
@pytest.mark.parametrize("space_name", ["default", "attention"])
@pytest.mark.parametrize("name", ["nni-random", "nni-tpe"])
def test_suggestions_map_to_valid_specs_through_the_study(space_name, name):
    space = load_space(space_name)
    controller, study = make(name, space)
    done = run_loop(controller, study, 8)
    assert len(done) == 8
    for suggestion, frozen in done:
        assert_nni_trial(space, suggestion, frozen, name)
        assert set(frozen.user_attrs["nni_params"]) == set(to_nni_space(space))  # the whole suggestion


@pytest.mark.parametrize("name", SINGLE + MULTI)
def test_each_controller_runs_on_tiny(name):
    space = load_space("tiny")
    controller, study = make(name, space, seed=3)
    done = run_loop(controller, study, 12)
    assert len(done) >= 6
    assert len(study.trials) == len(done)
    for suggestion, frozen in done:
        assert frozen.state == optuna.trial.TrialState.COMPLETE
        assert_nni_trial(space, suggestion, frozen, name)
        if controller.multi_fidelity:
            assert suggestion.prunable is False and suggestion.max_epochs in {1, 3, 9}
            assert frozen.user_attrs["nni_budget"] == suggestion.max_epochs  # R = max_epochs = 9 here
        else:
            assert suggestion.prunable is True and suggestion.max_epochs is None
    assert CONTROLLERS[name].multi_fidelity is (name in MULTI)


@pytest.mark.parametrize("name", ["nni-tpe", "nni-evolution", "nni-hyperband", "nni-bohb"])
def test_proposals_are_reproducible_and_leave_global_rngs_alone(name):
    space = load_space("tiny")

    def proposals(seed):
        random.seed(123)
        np.random.seed(123)
        controller, study = make(name, space, seed=seed)
        params = [frozen.params for _, frozen in run_loop(controller, study, 10)]
        # The process's global RNGs continue as if NNI had not run.
        return params, (random.random(), np.random.random())

    first, globals_after = proposals(5)
    random.seed(123)
    np.random.seed(123)
    assert globals_after == (random.random(), np.random.random())
    assert proposals(5)[0] == first
    assert proposals(6)[0] != first


def test_tpe_concentrates_on_better_regions_after_startup():
    space = load_space("tiny")
    tpe_start, tpe_after, random_after = [], [], []
    for seed in (0, 1, 2):
        controller, study = make("nni-tpe", space, seed=seed)
        assert controller.n_startup_jobs == 10
        values = [frozen.value for _, frozen in run_loop(controller, study, 30)]
        tpe_start += values[:10]
        tpe_after += values[10:]
        controller, study = make("nni-random", space, seed=seed)
        random_after += [frozen.value for _, frozen in run_loop(controller, study, 30)][10:]
    # Fixed seeds: deterministic. Over three seeds, TPE's model-based trials beat its random start
    # and the random tuner's trials over the same stretch, by a clear margin.
    assert np.mean(tpe_after) > np.mean(tpe_start) + 0.2
    assert np.mean(tpe_after) > np.mean(random_after) + 0.2


def test_evolution_population_suits_small_budgets():
    assert CONTROLLERS["nni-evolution"](load_space("tiny")).population_size == 8
    assert CONTROLLERS["nni-evolution"](parse_space(SIX)).population_size == 6


RANGES_AND_PRESETS = """
name: ranges-and-presets
description: presets, integer grids, a log integer and a one-value range
presets: [mf, gat]
architecture:
  embedding_dim: {low: 16, high: 64, step: 16}
layers:
  num_layers: {low: 1, high: 2}
  aggregator: gat
  head_combine: mean
  hidden: {low: 8, high: 128, log: true}
  heads: {low: 3, high: 9, step: 2}
training:
  num_negatives: {low: 2, high: 2}
"""


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name", SINGLE + MULTI)
def test_presets_integer_grids_and_log_integers(name):
    space = parse_space(RANGES_AND_PRESETS)
    assert to_nni_space(space)["preset"] == {"_type": "choice", "_value": ["searched", "mf", "gat"]}
    controller, study = make(name, space, seed=2)
    done = run_loop(controller, study, 15, objective=lambda spec: spec.embedding_dim / 64 + len(spec.layers))
    assert len(done) == 15
    for suggestion, frozen in done:
        assert_nni_trial(space, suggestion, frozen, name)
        if frozen.params["preset"] != "searched":
            assert frozen.params == {"preset": frozen.params["preset"]}  # nothing else is asked
        else:
            assert frozen.params["embedding_dim"] in (16, 32, 48, 64)
            assert frozen.params["layer0.heads"] in (3, 5, 7, 9) and 8 <= frozen.params["layer0.hidden"] <= 128
    assert {f.user_attrs["nni_params"]["training.num_negatives"] for _, f in done} == {2}


# --- grid ------------------------------------------------------------------------
def test_grid_over_the_presets_space():
    space = load_space("presets")
    controller, study = make("nni-grid", space)
    done = run_loop(controller, study, 20)
    assert [f.params["preset"] for _, f in done] == list(space.presets)


def test_grid_exhausts_a_small_space_then_returns_none():
    space = parse_space(SIX)
    assert space.count() == 6
    controller, study = make("nni-grid", space)
    done = run_loop(controller, study, 20)
    assert len(done) == 6
    assert len({s.spec.key() for s, _ in done}) == 6  # all distinct: repeats in inactive parameters are skipped
    assert controller.ask(study) is None
    assert controller.ask(study) is None
    assert len(study.trials) == 6


def test_grid_visits_every_architecture_of_tiny_once():
    space = load_space("tiny")
    controller, study = make("nni-grid", space)
    done = run_loop(controller, study, 1000)
    assert len(done) == space.count() == 532
    assert len({s.spec.key() for s, _ in done}) == 532


def test_grid_needs_a_space_without_float_ranges():
    with pytest.raises(GnnnasError, match="nni-grid needs a space without float ranges.*lr"):
        CONTROLLERS["nni-grid"](load_space("default"))


# --- hyperband / bohb ----------------------------------------------------------------
def test_hyperband_budgets_grow_within_and_across_brackets():
    space = load_space("tiny")
    controller, study = make("nni-hyperband", space, max_epochs=9)  # R = 9: epochs == budget
    done = run_loop(controller, study, 22)
    budgets = [s.max_epochs for s, _ in done]
    # One Hyperband iteration, R=9, eta=3: bracket s=2 (9@1, 3@3, 1@9), s=1 (5@3, 1@9), s=0 (3@9).
    assert budgets == [1] * 9 + [3] * 3 + [9] + [3] * 5 + [9] + [9] * 3
    brackets = [s.trial.user_attrs["nni_parameter_id"].split("_")[0] for s, _ in done]
    assert brackets == ["0-2"] * 13 + ["0-1"] * 6 + ["0-0"] * 3
    # Promotions are the best configurations of the rung below (the results reached the advisor).
    rung0_keys = {s.spec.key() for s, _ in done[:9]}
    assert {s.spec.key() for s, _ in done[9:13]} <= rung0_keys  # promoted: the same architectures again
    top3 = sorted((f.value for _, f in done[:9]), reverse=True)[:3]
    assert sorted((f.value for _, f in done[9:12]), reverse=True) == top3
    assert done[12][1].value == max(f.value for _, f in done[9:12])


def test_budget_to_epochs():
    controller = CONTROLLERS["nni-hyperband"](load_space("tiny"), max_epochs=50)
    assert [controller.epochs_for(r) for r in (1, 3, 9)] == [6, 17, 50]
    controller = CONTROLLERS["nni-hyperband"](load_space("tiny"), max_epochs=5)
    assert [controller.epochs_for(r) for r in (1, 3, 9)] == [1, 2, 5]


@pytest.mark.filterwarnings("error")
def test_bohb_fits_its_models_quietly_on_a_space_with_a_float_range():
    space = parse_space(SMALL_FLOAT)
    controller, study = make("nni-bohb", space, seed=1)
    done = run_loop(controller, study, 40, objective=lambda spec: score(spec) + 10 * spec.training.lr)
    assert len(done) == 40
    assert controller.driver.advisor.cg.kde_models  # model-based proposals were reached
    for suggestion, frozen in done:
        assert_nni_trial(space, suggestion, frozen, "nni-bohb")
        assert 1e-3 <= suggestion.spec.training.lr <= 1e-1


def test_bohb_without_its_packages_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ConfigSpace", None)  # import fails
    with pytest.raises(GnnnasError, match=r"ConfigSpace and statsmodels.*gnnnas\[nni-bohb\]"):
        CONTROLLERS["nni-bohb"](load_space("tiny"))


# --- results that are not plain COMPLETE -----------------------------------------------------
def test_failed_and_pruned_trials_report_a_value():
    space = load_space("tiny")
    controller, study = make("nni-tpe", space)
    failed = controller.ask(study)
    study.tell(failed.trial, state=optuna.trial.TrialState.FAIL)
    pruned = controller.ask(study)
    pruned.trial.report(0.2, 1)
    pruned.trial.report(0.7, 2)
    pruned.trial.report(0.4, 3)
    study.tell(pruned.trial, state=optuna.trial.TrialState.PRUNED)
    trials = study.get_trials(deepcopy=False)
    assert controller._final_value(trials[0]) == (-1e9, False)
    assert controller._final_value(trials[1]) == (0.7, True)
    controller.tell(failed, trials[0])
    controller.tell(pruned, trials[1])
    losses = sorted(record.loss for record in controller.tuner._history[("embedding_dim",)])
    assert losses == [-0.7, 1e9]  # TPE minimises -value


def test_hyperband_keeps_going_when_trials_fail_or_end_untold():
    space = load_space("tiny")
    controller, study = make("nni-hyperband", space)
    untold = controller.ask(study)
    study.tell(untold.trial, state=optuna.trial.TrialState.FAIL)  # e.g. closed as surplus: no controller.tell
    done = run_loop(controller, study, 21,
                    state=lambda s: optuna.trial.TrialState.FAIL if s.trial.number in (3, 4) else None)
    budgets = [untold.max_epochs] + [s.max_epochs for s, _ in done]
    assert budgets == [1] * 9 + [3] * 3 + [9] + [3] * 5 + [9] + [9] * 3  # no rung waits forever
    failed = {untold.spec.key()} | {s.spec.key() for s, f in done if f.state.name == "FAIL"}
    assert not failed & {s.spec.key() for s, _ in done[8:12]}  # failures are not promoted


def test_a_waiting_trial_enqueued_by_someone_else_runs_as_is():
    space = load_space("tiny")
    controller, study = make("nni-random", space)
    study.enqueue_trial({"embedding_dim": 16, "skip": "none", "combination": "last", "num_layers": 0,
                         "training.lr": 0.001})
    foreign = controller.ask(study)
    assert foreign.trial.params["embedding_dim"] == 16 and foreign.spec.layers == ()
    assert "nni_parameter_id" not in foreign.trial.user_attrs
    study.tell(foreign.trial, 1.0)
    controller.tell(foreign, study.trials[0])  # ignored: not NNI's
    ours = controller.ask(study)
    assert ours.trial.user_attrs["nni_parameter_id"] == 0  # NNI's first suggestion, kept for this ask


def test_the_study_must_use_the_controllers_sampler():
    controller = CONTROLLERS["nni-random"](load_space("tiny"))
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.raises(ValueError, match="controller.sampler"):
        controller.ask(study)


def test_minimising_study():
    controller = CONTROLLERS["nni-tpe"](load_space("tiny"))
    study = optuna.create_study(direction="minimize", sampler=controller.sampler())
    assert len(run_loop(controller, study, 12)) == 12
    assert controller.tuner.optimize_mode.value == "minimize"
    assert controller.failed_value == 1e9


def test_nothing_written_anywhere(tmp_path):
    space = load_space("tiny")
    for name in SINGLE + MULTI:
        controller, study = make(name, space)
        run_loop(controller, study, 3)
    assert list(tmp_path.iterdir()) == []  # the working directory (see _in_tmp_cwd)
    assert NNI_EXPERIMENTS.exists() == NNI_EXPERIMENTS_BEFORE


# --- through the search engine ------------------------------------------------------------
SEARCH_SPACE = """
name: small
description: a test space
search: {max_epochs: 3, patience: 3}
architecture:
  embedding_dim: [8, 16]
layers:
  num_layers: {low: 0, high: 1}
  aggregator: [lightgcn, gcn]
  hidden: 16
training:
  lr: {low: 1.0e-3, high: 5.0e-2, log: true}
  batch_size: 256
"""


@pytest.mark.parametrize("name,trials", [("nni-tpe", 2), ("nni-hyperband", 3)])
def test_gnnnas_search_runs_nni_controllers(tiny_csv, tmp_path, name, trials):
    import gnnnas

    space = tmp_path / "small.yaml"
    space.write_text(SEARCH_SPACE)
    result = gnnnas.search(space=str(space), data=str(tiny_csv), out=str(tmp_path / "run"), trials=trials,
                           controller=name, pruner="none")
    trials_ = result.study.get_trials()
    assert [t.state.name for t in trials_] == ["COMPLETE"] * trials
    for t in trials_:
        assert t.user_attrs["controller"] == name and "nni_params" in t.user_attrs
        if name == "nni-hyperband":
            assert t.user_attrs["nni_budget"] == 1 and t.user_attrs["epochs"] == 1  # ceil(1/9 * 3 epochs)


def test_nni_is_imported_only_when_an_nni_controller_is_looked_up():
    import subprocess
    code = ("import sys\n"
            "from gnnnas.cli import main, search_cmd\n"
            "from gnnnas.search import api\n"
            "from gnnnas.search.controllers import CONTROLLERS\n"
            "assert 'nni-tpe' in CONTROLLERS and 'nni-bohb' in list(CONTROLLERS), sorted(CONTROLLERS)\n"
            "api._make_controller('optuna-tpe', api.load_space('tiny'), 0, 3)\n"
            "print('before', 'nni' in sys.modules)\n"
            "cls = CONTROLLERS['nni-bohb']\n"
            "print('after', 'nni' in sys.modules, cls.name)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["before", "False", "after", "True", "nni-bohb"]


def test_lazy_controller_table_matches_what_the_nni_modules_register():
    from gnnnas.search.controllers import LAZY
    from gnnnas.search.controllers.base import REGISTERED
    for name in LAZY:
        assert CONTROLLERS[name].name == name
    nni_registered = {name for name, cls in REGISTERED.items() if cls.__module__ in {m for m, _ in LAZY.values()}}
    assert nni_registered == set(LAZY) == set(SINGLE + MULTI)
    with pytest.raises(KeyError):
        CONTROLLERS["nni-nothing"]
    assert "nni-nothing" not in CONTROLLERS and len(CONTROLLERS) == len(set(CONTROLLERS))
