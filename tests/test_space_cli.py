"""``gnnnas spaces`` / ``gnnnas space show|sample``, and one-line errors for malformed space files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gnnnas.models.spec import ArchSpec
from gnnnas.space import load_space
from cli_helpers import run


def test_spaces_lists_bundled_with_description_and_count(capsys):
    code, out, _ = run(capsys, "spaces")
    assert code == 0
    for name in ("attention", "default", "lightgcn", "lightgcn-loss", "presets", "tiny"):
        space = load_space(name)
        line = next(l for l in out.splitlines() if l.startswith(name + " "))
        assert space.description in line and f"{space.count():,}" in line
    assert "float dims" in out


def test_space_show_prints_dimensions_and_search_settings(capsys):
    code, out, _ = run(capsys, "space", "show", "default")
    assert code == 0
    heads = next(l for l in out.splitlines() if l.startswith("heads "))
    assert "categorical" in heads and "{1, 2, 4}" in heads and "independent" in heads
    scoring = next(l for l in out.splitlines() if l.startswith("scoring "))
    assert "categorical" in scoring and "{dot, cosine}" in scoring
    assert "aggregator in [gat, gatv2]" in heads
    hidden = next(l for l in out.splitlines() if l.startswith("hidden "))
    assert "shared" in hidden and "(implied)" in hidden
    assert "0.001..0.01 log" in out and "0..4" in out
    assert "max_epochs 100" in out and "metric ndcg@20" in out
    assert "148,840,851,888" in out


def test_space_show_accepts_a_path(capsys, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ndescription: just one\narchitecture:\n  skip: dense\nlayers:\n  num_layers: 2\n")
    code, out, _ = run(capsys, "space", "show", str(path))
    assert code == 0 and "mine" in out and str(path) in out and "dense" in out


def test_space_sample_prints_specs(capsys):
    code, out, _ = run(capsys, "space", "sample", "tiny", "-n", "4", "--seed", "3", "--json")
    specs = [ArchSpec.from_json(line) for line in out.strip().splitlines()]
    assert code == 0 and len(specs) == 4
    assert [s.key() for s in specs] == [s.key() for s in load_space("tiny").sample_random(4, 3)]
    assert json.loads(out.splitlines()[0])["embedding_dim"] in (16, 32)


def test_a_reader_that_goes_away_ends_the_command_quietly():
    # `gnnnas space show default | head -1`: the pipe's reader is gone before the output is written
    proc = subprocess.Popen([sys.executable, "-m", "gnnnas", "space", "show", "default"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141, err
    assert err == ""


# --- malformed files ------------------------------------------------------------
HEAD = "name: bad\ndescription: a broken space\n"

# (id, file text, key path in the message or None, other fragments). The offending line carries "#<".
MALFORMED = [
    ("yaml-syntax", HEAD + "layers:\n  aggregator: [gcn, gat\n  hidden: 3  #<\n", None, ["invalid YAML"]),
    ("empty-file", "", None, ["empty file"]),
    ("not-a-mapping", "- name\n- description\n", None, ["a list", "expected a mapping"]),
    ("unknown-top-key", HEAD + "serach:  #<\n  patience: 3\n", "serach", ["unknown key", "search"]),
    ("duplicate-key", HEAD + "layers:\n  num_layers: 2\n  num_layers: 3  #<\n", "layers.num_layers",
     ["duplicate key"]),
    ("missing-name", "description: nameless\n", "name", ["missing"]),
    ("two-line-description", "name: bad\ndescription: |  #<\n  one\n  two\n", "description", ["one line"]),
    ("unknown-field", HEAD + "layers:\n  num_layers: 2\n  aggregater: [gcn]  #<\n", "layers.aggregater",
     ["unknown field", "aggregator"]),
    ("field-in-wrong-section", HEAD + "architecture:\n  lr: 0.01  #<\n", "architecture.lr",
     ["belongs in training"]),
    ("choices-not-a-list", HEAD + "architecture:\n  embedding_dim: {choices: 64}  #<\n",
     "architecture.embedding_dim.choices", ["expected a list"]),
    ("empty-choices", HEAD + "layers:\n  num_layers: 1\n  aggregator: []  #<\n", "layers.aggregator",
     ["non-empty"]),
    ("unknown-aggregator", HEAD + "layers:\n  num_layers: 1\n  aggregator:\n    choices:\n      - gcn\n"
     "      - gat\n      - graphsage  #<\n", "layers.aggregator.choices[2]", ["'graphsage'", "sage_mean"]),
    ("duplicate-choice", HEAD + "architecture:\n  skip: [none, dense, none]  #<\n", "architecture.skip[2]",
     ["twice"]),
    ("wrong-value-type", HEAD + "training:\n  batch_size: [1024, big]  #<\n", "training.batch_size[1]",
     ["not an integer"]),
    ("low-above-high", HEAD + "layers:\n  num_layers: {low: 4, high: 1}  #<\n", "layers.num_layers.low",
     ["low <= high"]),
    ("log-with-zero-low", HEAD + "training:\n  l2:\n    low: 0.0  #<\n    high: 0.1\n    log: true\n",
     "training.l2.low", ["low > 0"]),
    ("step-not-dividing", HEAD + "layers:\n  num_layers: 1\n  aggregator: gcn\n"
     "  hidden: {low: 16, high: 100, step: 32}  #<\n", "layers.hidden.step", ["does not divide"]),
    ("step-zero", HEAD + "architecture:\n  embedding_dim: {low: 16, high: 64, step: 0}  #<\n",
     "architecture.embedding_dim.step", ["step >= 1"]),
    ("step-on-float", HEAD + "training:\n  lr: {low: 0.001, high: 0.01, step: 0.001}  #<\n", "training.lr.step",
     ["choices"]),
    ("range-on-names", HEAD + "architecture:\n  skip: {low: 0, high: 2}  #<\n", "architecture.skip",
     ["choices"]),
    ("out-of-domain", HEAD + "layers:\n  num_layers: 1\n  dropout: {low: 0.0, high: 1.0}  #<\n",
     "layers.dropout.high", ["< 1"]),
    ("missing-high", HEAD + "training:\n  lr: {low: 0.001}  #<\n", "training.lr.high", ["missing"]),
    ("value-and-choices", HEAD + "architecture:\n  skip: {value: none, choices: [dense]}  #<\n",
     "architecture.skip", ["exactly one"]),
    ("bad-per-layer", HEAD + "layers:\n  num_layers: 2\n  per_layer: sometimes  #<\n", "layers.per_layer",
     ["independent or shared"]),
    ("per-layer-on-global", HEAD + "architecture:\n  skip: {choices: [none, dense], per_layer: shared}  #<\n",
     "architecture.skip.per_layer", ["not chosen per layer"]),
    ("condition-unknown-dimension", HEAD + "layers:\n  num_layers: 2\n  aggregator: [gcn, gat]\n"
     "  heads:\n    choices: [1, 2]\n    when:\n      aggregatr: [gat]  #<\n", "layers.heads.when.aggregatr",
     ["unknown dimension 'aggregatr'", "aggregator"]),
    ("condition-impossible-value", HEAD + "layers:\n  num_layers: 2\n  aggregator: [gcn, gatv2]\n"
     "  heads: {choices: [1, 2], when: {aggregator: [gat]}}  #<\n", "layers.heads.when.aggregator[0]",
     ["can never be 'gat'"]),
    ("condition-contradicts-field", HEAD + "layers:\n  num_layers: 2\n  aggregator: [gcn, gat]\n"
     "  heads:\n    choices: [1, 2]\n    when: {aggregator: [gat, gcn]}  #<\n", "layers.heads.when.aggregator[1]",
     ["never applies to 'gcn'"]),
    ("condition-on-float-range", HEAD + "architecture:\n  skip: {choices: [none, dense], when: {edge_dropout: [0.1]}}"
     "  #<\n  edge_dropout: {low: 0.0, high: 0.5}\n", "architecture.skip.when.edge_dropout", ["continuous"]),
    ("global-depends-on-layer", HEAD + "architecture:\n  skip:\n    choices: [none, dense]\n"
     "    when: {aggregator: [gcn]}  #<\nlayers:\n  num_layers: 1\n  aggregator: [gcn, gin]\n",
     "architecture.skip.when.aggregator", ["per-layer aggregator"]),
    ("condition-cycle", HEAD + "layers:\n  num_layers: 1\n  activation: {choices: [relu, elu], when: {norm: [batch]}}"
     "  #<\n  norm: {choices: [none, batch], when: {activation: [elu]}}\n", "layers.activation.when.norm",
     ["cycle", "activation -> norm -> activation"]),
    ("never-used-field", HEAD + "layers:\n  num_layers: 2\n  aggregator: lightgcn\n  hidden: [32, 64]  #<\n",
     "layers.hidden", ["never used", "lightgcn"]),
    ("stack-field-without-layers", HEAD + "architecture:\n  skip: [none, dense]  #<\n", "architecture.skip",
     ["never used", "num_layers is always 0", "layer stack"]),
    ("stack-field-when-no-layers", HEAD + "architecture:\n  combination:\n    choices: [mean, sum]\n"
     "    when: {num_layers: [0, 2]}  #<\nlayers:\n  num_layers: {low: 0, high: 2}\n",
     "architecture.combination.when.num_layers[0]", ["never applies to 0", "values >= 1"]),
    ("layers-without-num-layers", HEAD + "layers:\n  aggregator: [gcn, gat]  #<\n", "layers.aggregator",
     ["num_layers is always 0"]),
    ("heads-do-not-split-hidden", HEAD + "layers:\n  num_layers: 1\n  aggregator: gat\n  hidden: [64, 90]  #<\n"
     "  heads: [1, 4]\n", "layers.hidden", ["90 is not a multiple of 4"]),
    ("bad-metric", HEAD + "search:\n  metric: auc@20  #<\n", "search.metric", ["NAME@K", "ndcg"]),
    ("bad-metric-k", HEAD + "search:\n  metric: ndcg@0  #<\n", "search.metric", ["K >= 1"]),
    ("patience-zero", HEAD + "search:\n  patience: 0  #<\n", "search.patience", [">= 1"]),
    ("eval-after-budget", HEAD + "search:\n  max_epochs: 5\n  eval_every: 10  #<\n", "search.eval_every",
     ["at most max_epochs"]),
    ("unknown-search-key", HEAD + "search:\n  epochs: 5  #<\n", "search.epochs", ["max_epochs"]),
    ("num-layers-conditional", HEAD + "layers:\n  num_layers: {choices: [1, 2], when: {skip: [none]}}  #<\n"
     "architecture:\n  skip: [none, dense]\n", "layers.num_layers.when", ["cannot be conditional"]),
]


def test_enough_distinct_malformed_kinds():
    assert len({case[0] for case in MALFORMED}) == len(MALFORMED) >= 15


@pytest.mark.parametrize("text, key, fragments", [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_space_file_gives_one_line_error(capsys, tmp_path, text, key, fragments):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, out, err = run(capsys, "space", "show", str(path))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gnnnas: error:"), err
    message = lines[0]
    assert str(path) in message
    marked = [i for i, line in enumerate(text.splitlines(), 1) if "#<" in line]
    if marked:
        assert f"{path}:{marked[0]}:" in message, message
    if key:
        assert f": {key}: " in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_file_and_unknown_name(capsys, tmp_path):
    missing = tmp_path / "nowhere.yaml"
    code, _, err = run(capsys, "space", "show", str(missing))
    assert code == 2 and err.count("\n") == 1 and str(missing) in err and "no such file" in err
    code, _, err = run(capsys, "space", "show", "nonexistent")
    assert code == 2 and err.count("\n") == 1 and "default" in err and "tiny" in err
