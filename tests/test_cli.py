"""The command line: train/data commands and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import gnnnas
from cli_helpers import assert_one_line_error, run


def test_datasets_lists_formats_and_bundled(capsys):
    code, out, _ = run(capsys, "datasets")
    assert code == 0
    for name in ("online-retail", "lightgcn", "recbole", "movielens", "tabular"):
        assert name in out


def test_data_info(capsys, tiny_csv):
    code, out, _ = run(capsys, "data", "info", str(tiny_csv), "--json")
    info = json.loads(out.strip().splitlines()[-1])
    assert code == 0
    assert info["users"] == 80 and info["items"] == 60
    assert info["train"] + info["val"] + info["test"] == info["interactions"]
    code, out, _ = run(capsys, "data", "info", str(tiny_csv))
    assert "density" in out and "validation" in out


def test_train_json_and_outputs(capsys, tiny_csv, tmp_path):
    out_dir = tmp_path / "run"
    code, out, _ = run(capsys, "train", "--data", str(tiny_csv), "--epochs", "3", "--dim", "16",
                       "--batch-size", "128", "--json", "--out", str(out_dir))
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert {"epoch_seconds", "best_epoch", "val", "test"} <= set(summary)
    assert summary["epoch_seconds"] > 0 and 1 <= summary["best_epoch"] <= 3
    assert {"recall@20", "ndcg@20", "precision@10", "hitrate@10", "mrr@20", "coverage@20"} <= set(summary["test"])
    assert sorted(p.name for p in out_dir.iterdir()) == ["history.csv", "metrics.json", "model"]
    assert {"metadata.json", "spec.json", "weights.pt"} <= {p.name for p in (out_dir / "model").iterdir()}
    assert json.loads((out_dir / "metrics.json").read_text())["best_epoch"] == summary["best_epoch"]


def test_train_with_sampled_softmax_and_shared_negatives(capsys, tiny_csv, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--data", str(tiny_csv), "--epochs", "2", "--dim", "16", "--batch-size",
                         "128", "--loss", "softmax", "--shared-negatives", "16", "--json", "--out", str(out_dir))
    assert code == 0, err
    spec = json.loads((out_dir / "model" / "spec.json").read_text())
    assert spec["training"]["loss"] == "softmax" and spec["training"]["shared_negatives"] == 16
    history = (out_dir / "history.csv").read_text().splitlines()
    assert len(history) == 3 and json.loads(out.strip().splitlines()[-1])["test"]["ndcg@20"] > 0


def test_train_popularity_baseline(capsys, tiny_csv):
    code, out, _ = run(capsys, "train", "--arch", "popularity", "--data", str(tiny_csv), "--json")
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["epochs_run"] == 0 and summary["test"]["recall@20"] > 0


@pytest.mark.parametrize("argv, fragments", [
    (["train", "--data", "no/such/file.csv"], ["no/such/file.csv"]),
    (["train", "--data", "no-such-bundled-name"], ["no-such-bundled-name", "online-retail"]),
    (["train", "--arch", "transformer"], ["transformer", "lightgcn"]),
    (["train", "--ks", "ten"], ["--ks"]),
    (["train", "--metric", "ndcg@50"], ["ndcg@50"]),
    (["train", "--device", "tpu"], ["tpu"]),
    (["data", "info", "no/such/dir"], ["no/such/dir"]),
])
def test_bad_input_gives_one_line_and_exit_2(capsys, argv, fragments):
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, *fragments)


def test_bad_lightgcn_file_names_file_and_line(capsys, tmp_path):
    folder = tmp_path / "lgcn"
    folder.mkdir()
    (folder / "train.txt").write_text("0 1 2\n1 2 x3\n")
    (folder / "test.txt").write_text("0 3\n")
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, "train", "--data", str(folder), "--out", str(out_dir))
    assert_one_line_error(code, err, "train.txt", "line 2")
    assert not out_dir.exists()


def test_console_script_exit_code(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gnnnas", "train", "--data", str(tmp_path / "missing.csv")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "missing.csv" in proc.stderr


@pytest.mark.parametrize("preset", ["mf", "mf-ssm", "lightgcn", "ngcf", "gcn", "sage", "gin", "gat"])
def test_every_preset_trains_from_the_cli_and_beats_popularity(capsys, tiny_csv, preset):
    common = ["--data", str(tiny_csv), "--json", "--quiet"]
    _, out, _ = run(capsys, "train", "--arch", "popularity", *common)
    popularity = json.loads(out.strip().splitlines()[-1])["test"]["recall@20"]
    code, out, _ = run(capsys, "train", "--arch", preset, *common, "--epochs", "60", "--lr", "0.01",
                       "--batch-size", "128", "--eval-every", "5", "--patience", "3")
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["arch"]["layers"] == gnnnas.PRESETS[preset].spec.to_dict()["layers"]
    assert summary["test"]["recall@20"] > popularity, (preset, summary["test"]["recall@20"], popularity)


def test_arch_json_file_and_overrides(capsys, tiny_csv, tmp_path):
    spec = gnnnas.ArchSpec.from_dict({"embedding_dim": 8, "layers": [{"aggregator": "sage_max", "hidden": 8},
                                                                     {"aggregator": "gin", "hidden": 8}],
                                      "skip": "residual", "combination": "attention"})
    path = tmp_path / "arch.json"
    path.write_text(spec.to_json(indent=2))
    code, out, _ = run(capsys, "train", "--arch", str(path), "--data", str(tiny_csv), "--epochs", "2", "--json")
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert gnnnas.ArchSpec.from_dict(summary["arch"]) == spec
    assert out.startswith("architecture: ")
    code, out, _ = run(capsys, "train", "--arch", str(path), "--data", str(tiny_csv), "--epochs", "1", "--json",
                       "--layers", "3", "--dim", "12", "--lr", "0.01")
    arch = gnnnas.ArchSpec.from_dict(json.loads(out.strip().splitlines()[-1])["arch"])
    assert [l.aggregator for l in arch.layers] == ["gin"] * 3
    assert arch.embedding_dim == 12 and {l.hidden for l in arch.layers} == {12} and arch.training.lr == 0.01


@pytest.mark.parametrize("content, fragments", [
    ("{not json", ["arch.json", "JSON"]),
    ('{"layers": [{"aggregator": "transformer"}]}', ["arch.json", "layers[0].aggregator", "transformer"]),
    ('{"embedding_dim": -4}', ["arch.json", "embedding_dim", "-4"]),
    ('{"skip": "residual", "layers": [], "colour": 1}', ["arch.json", "colour"]),
])
def test_bad_arch_json_gives_one_line(capsys, tmp_path, content, fragments):
    path = tmp_path / "arch.json"
    path.write_text(content)
    code, _, err = run(capsys, "train", "--arch", str(path))
    assert_one_line_error(code, err, *fragments)


@pytest.mark.parametrize("argv, fragments", [
    (["train", "--arch", "missing.json"], ["missing.json", "no such file"]),
    (["train", "--arch", "popularity", "--layers", "2"], ["popularity", "layers"]),
    (["train", "--layers", "-1"], ["--layers", "-1"]),
    (["train", "--loss", "hinge"], ["training.loss", "hinge", "bpr", "softmax"]),
    (["train", "--shared-negatives", "-1"], ["training.shared_negatives", "-1", ">= 0"]),
])
def test_bad_arch_arguments(capsys, argv, fragments):
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, *fragments)
