"""``presets:`` in a space file: named architectures as fixed points next to (or instead of) searched ones."""

from __future__ import annotations

from collections import Counter

import numpy as np
import optuna
import pytest

from gnnnas.cli import main
from gnnnas.models.presets import PRESETS
from gnnnas.models.spec import ArchSpec
from gnnnas.space import RandomTrial, SpaceError, list_spaces, load_space, parse_space
from test_space_count import brute_force

optuna.logging.set_verbosity(optuna.logging.WARNING)

ONLY = """\
name: only
description: three classics
presets: [mf, lightgcn, ngcf]
"""

MIXED = """\
name: mixed
description: a small searched space plus two presets
presets: [lightgcn, gat]
architecture:
  embedding_dim: [16, 32]
  combination: [last, sum]
layers:
  num_layers: {low: 1, high: 2}
  aggregator: [gcn, sage_mean]
  hidden: {choices: [16, 32], per_layer: shared}
training:
  lr: {low: 1.0e-4, high: 1.0e-2, log: true}
"""

WITHOUT = MIXED.replace("presets: [lightgcn, gat]\n", "")


def space_from(text: str, file: str = "test.yaml"):
    return parse_space(text, file)


def optuna_trials(n: int, seed: int = 0):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(n):
        trial = study.ask()
        yield trial
        study.tell(trial, 0.0)


# --- presets only ------------------------------------------------------------------
def test_preset_only_space_samples_only_presets_and_all_of_them():
    space = space_from(ONLY)
    assert space.presets == ("mf", "lightgcn", "ngcf") and not space.searched
    assert space.preset_choices == ("mf", "lightgcn", "ngcf")  # no "searched": nothing is declared
    rng = np.random.default_rng(0)
    seen = Counter()
    for _ in range(60):
        trial = RandomTrial(rng)
        spec = space.sample(trial)
        assert trial.params == {"preset": trial.params["preset"]}
        assert spec == PRESETS[trial.params["preset"]].spec
        assert space.to_spec(trial.params) == spec
        seen[trial.params["preset"]] += 1
    assert set(seen) == {"mf", "lightgcn", "ngcf"}


def test_preset_only_space_counts_its_presets():
    space = space_from(ONLY)
    assert space.count() == 3 == brute_force(space)
    assert space.count(include_continuous=True) == 3 and space.is_finite


def test_an_empty_section_keeps_the_declared_space():
    space = space_from(ONLY + "architecture:\n")
    assert space.searched and space.preset_choices == ("searched", "mf", "lightgcn", "ngcf")
    assert space.count() == 4
    assert space.to_spec({"preset": "searched"}) == ArchSpec()


# --- presets next to a searched space -------------------------------------------------
def test_mixed_space_yields_presets_and_searched_specs():
    space = space_from(MIXED)
    assert space.searched and space.preset_choices == ("searched", "lightgcn", "gat")
    plain = space_from(WITHOUT)
    rng = np.random.default_rng(1)
    kinds = Counter()
    for _ in range(90):
        trial = RandomTrial(rng)
        spec = space.sample(trial)
        choice = trial.params["preset"]
        kinds[choice] += 1
        if choice == "searched":
            rest = {k: v for k, v in trial.params.items() if k != "preset"}
            assert {"embedding_dim", "num_layers", "training.lr"} <= set(rest)
            assert plain.to_spec(rest) == spec  # exactly the declared space's architecture
        else:
            assert trial.params == {"preset": choice}  # nothing else suggested
            assert spec == PRESETS[choice].spec
        assert space.to_spec(trial.params) == spec
        assert space.to_spec(dict(trial.params)).key() == spec.key()
    assert set(kinds) == {"searched", "lightgcn", "gat"}


def test_mixed_space_with_optuna_trials_round_trips():
    space = space_from(MIXED)
    seen = set()
    for trial in optuna_trials(40):
        spec = space.sample(trial)
        choice = trial.params["preset"]
        seen.add(choice)
        if choice != "searched":
            assert spec == PRESETS[choice].spec and set(trial.params) == {"preset"}
        else:
            assert len(trial.params) > 1
        assert space.to_spec(trial.params) == spec
        assert space.sample(optuna.trial.FixedTrial(trial.params)) == spec
    assert seen == {"searched", "lightgcn", "gat"}


def test_preset_only_space_with_optuna_trials_round_trips():
    space = load_space("presets")
    seen = set()
    for trial in optuna_trials(60, seed=3):
        spec = space.sample(trial)
        assert set(trial.params) == {"preset"} and spec == PRESETS[trial.params["preset"]].spec
        assert space.to_spec(trial.params) == spec
        seen.add(trial.params["preset"])
    assert seen == set(PRESETS)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # group=True
def test_tpe_handles_the_preset_branch():
    space = space_from(MIXED)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(
        seed=0, n_startup_trials=4, multivariate=True, group=True))
    for _ in range(12):
        trial = study.ask()
        spec = space.sample(trial)
        study.tell(trial, float(spec.num_layers))
    assert len(study.trials) == 12 and study.best_value >= 2


def test_to_spec_checks_the_preset_parameter():
    space = space_from(MIXED)
    with pytest.raises(SpaceError, match="'preset' is missing"):
        space.to_spec({"embedding_dim": 16})
    with pytest.raises(SpaceError, match=r"params\['preset'\].*searched, lightgcn, gat"):
        space.to_spec({"preset": "ngcf"})
    with pytest.raises(SpaceError, match="'embedding_dim' is not used"):
        space.to_spec({"preset": "gat", "embedding_dim": 16})


def test_mixed_count_adds_the_presets():
    space, plain = space_from(MIXED), space_from(WITHOUT)
    assert space.count() == plain.count() + 2
    assert space.continuous == ("lr",) and space.count(include_continuous=True) == float("inf")
    finite = space_from(MIXED.replace("  lr: {low: 1.0e-4, high: 1.0e-2, log: true}\n", "  lr: [1.0e-3, 1.0e-2]\n"))
    assert finite.count() == brute_force(finite)  # the presets are not in the searched part here


def test_a_space_without_presets_is_unchanged():
    plain = space_from(WITHOUT)
    assert plain.presets == () and plain.searched and plain.preset_choices == ()
    for seed in range(20):
        trial = RandomTrial(seed)
        plain.sample(trial)
        assert "preset" not in trial.params


# --- schema errors ---------------------------------------------------------------------
HEAD = "name: bad\ndescription: broken presets\n"


@pytest.mark.parametrize("text, line, key, fragments", [
    (HEAD + "presets: [mf, transformr]\n", 3, "presets[1]",
     ["unknown preset 'transformr'", "expected one of mf, mf-ssm, lightgcn, ngcf, gcn, sage, gin, gat"]),
    (HEAD + "presets:\n  - mf\n  - transformr\n", 5, "presets[1]", ["unknown preset 'transformr'"]),
    (HEAD + "presets: []\n", 3, "presets", ["non-empty list"]),
    (HEAD + "presets:\n  - gat\n  - mf\n  - gat\n", 6, "presets[2]", ["'gat' is listed twice"]),
    (HEAD + "presets: lightgcn\n", 3, "presets", ["'lightgcn' (str)", "expected a list of preset names"]),
    (HEAD + "presets: {mf: 1}\n", 3, "presets", ["a mapping", "expected a list"]),
    (HEAD + "presets:\n", 3, "presets", ["got nothing", "expected a list"]),
    (HEAD + "presets: [mf, 3]\n", 3, "presets[1]", ["3 (int)", "expected a preset name"]),
])
def test_malformed_presets_give_one_line_error(text, line, key, fragments):
    with pytest.raises(SpaceError) as excinfo:
        space_from(text, "my.yaml")
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(f"my.yaml:{line}: {key}: "), message
    for fragment in fragments:
        assert fragment in message, message


def test_malformed_presets_exit_2_from_the_cli(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + "presets: [lightgcn, transformr]\n")
    assert main(["space", "show", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert f"{path}:3: presets[1]: unknown preset 'transformr'" in err


# --- the bundled presets space and the CLI ----------------------------------------------
def test_bundled_presets_space():
    assert "presets" in list_spaces()
    space = load_space("presets")
    assert space.name == "presets" and space.presets == tuple(PRESETS) and not space.searched
    assert space.description == "The named paper architectures as fixed points - compare the classics"
    assert space.count() == 8 == brute_force(space)
    specs = {spec.key() for spec in space.sample_random(100, seed=0)}
    assert specs == {p.spec.key() for p in PRESETS.values()}


def test_space_show_lists_presets(capsys, tmp_path):
    assert main(["space", "show", "presets"]) == 0
    out = capsys.readouterr().out
    assert "8 (presets only)" in out
    for name, preset in PRESETS.items():
        assert any(line.startswith(name + " ") and preset.description in line for line in out.splitlines())
    assert "DIMENSION" not in out and "max_epochs" in out

    path = tmp_path / "mixed.yaml"
    path.write_text(MIXED)
    assert main(["space", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{space_from(MIXED).count():,} (includes 2 presets" in out
    assert "choices searched, lightgcn, gat" in out and "DIMENSION" in out and "embedding_dim" in out


def test_spaces_count_includes_presets(capsys):
    assert main(["spaces"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("presets "))
    assert " 8 " in line and "float dims" not in line


def test_space_sample_draws_presets(capsys):
    assert main(["space", "sample", "presets", "-n", "5", "--seed", "2", "--json"]) == 0
    specs = [ArchSpec.from_json(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert specs == load_space("presets").sample_random(5, 2)
    assert all(spec in [p.spec for p in PRESETS.values()] for spec in specs)
