"""Model bundles: save_bundle / gnnnas.load round trips, integrity, atomic writes, ``gnnnas recommend``."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

import gnnnas
from gnnnas.cli import main
from gnnnas.data import DataOptions, load_dataset
from gnnnas.errors import GnnnasError
from gnnnas.export import FORMAT_VERSION, TrainedRecommender, load, save_bundle
from gnnnas.models.registry import override
from gnnnas.pipeline import train_and_evaluate
from gnnnas.training import TrainConfig

FAST = TrainConfig(epochs=2, batch_size=256, progress=False)


def train(dataset, arch, refit=False):
    if arch != "popularity":
        arch = override(gnnnas.PRESETS[arch].spec, dim=8)
    return train_and_evaluate(dataset, arch, FAST, refit=refit)


def bundle_of(tmp_path, dataset, arch="lightgcn", name="bundle", **kwargs):
    report = train(dataset, arch)
    path = save_bundle(tmp_path / name, report.arch, report.model, dataset,
                       {"val": report.val, "test": report.test}, {"trial": 7, "study": "s"}, **kwargs)
    return report, path


def reference_topk(model, dataset, users, k, exclude_seen=True):
    """Top-k from the in-memory model, ranked independently: score desc, then lower item id."""
    scores = model.score(torch.as_tensor(users)).numpy()
    out = []
    for row, u in enumerate(users):
        seen = set(dataset.train.items_of(u).tolist()) | set(dataset.val.items_of(u).tolist())
        order = sorted(range(dataset.n_items), key=lambda i: (-scores[row, i], i))
        if exclude_seen:
            order = [i for i in order if i not in seen]
        out.append([(str(dataset.item_ids[i]), float(scores[row, i])) for i in order[:k]])
    return out


@pytest.mark.parametrize("arch", ["lightgcn", "gat", "popularity"])
def test_round_trip_recommends_and_scores_like_the_in_memory_model(tmp_path, tiny_dataset, arch):
    report, path = bundle_of(tmp_path, tiny_dataset, arch)
    rec = gnnnas.load(path)
    assert isinstance(rec, TrainedRecommender) and not rec.model.training
    assert rec.spec == report.arch
    users = [0, 5, 17, 79]
    raw = [str(tiny_dataset.user_ids[u]) for u in users]
    got = rec.recommend(raw, k=7)
    assert list(got) == raw
    assert [got[r] for r in raw] == reference_topk(report.model, tiny_dataset, users, 7)
    assert all(type(score) is float for items in got.values() for _, score in items)
    everyone = torch.arange(tiny_dataset.n_users)
    assert torch.equal(rec.model.score(everyone), report.model.score(everyone))
    # the recorded test split reproduces the exported test metrics; metadata keeps what was given
    assert rec.evaluate().metrics == pytest.approx(report.test, abs=1e-12)
    meta = rec.metadata
    assert meta["format_version"] == FORMAT_VERSION and meta["gnnnas_version"] == gnnnas.__version__
    assert meta["dataset"]["fingerprint"] == tiny_dataset.fingerprint
    assert (meta["dataset"]["n_users"], meta["dataset"]["n_items"]) == (80, 60)
    assert meta["metrics"]["test"] == pytest.approx(report.test) and meta["extra"] == {"trial": 7, "study": "s"}
    assert set(meta["files"]) == {"spec.json", "weights.pt", "interactions.npz", "users.json", "items.json"}
    assert {"torch_version", "torch_geometric_version", "python_version", "created"} <= set(meta)


def test_weights_are_plain_tensors_and_spec_is_json(tmp_path, tiny_dataset):
    report, path = bundle_of(tmp_path, tiny_dataset, "gat")
    state = torch.load(path / "weights.pt", weights_only=True)
    assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
    assert state.keys() == report.model.state_dict().keys()
    assert gnnnas.ArchSpec.from_json((path / "spec.json").read_text()) == report.arch
    _, pop = bundle_of(tmp_path, tiny_dataset, "popularity", name="pop")
    assert json.loads((pop / "spec.json").read_text()) == {"baseline": "popularity"}


def test_exclude_seen_leaves_out_train_and_validation_items(tmp_path, tiny_dataset):
    _, path = bundle_of(tmp_path, tiny_dataset, "popularity")
    rec = load(path)
    ds = tiny_dataset
    u = int(np.argmax(ds.val.counts()))  # a user with validation items
    user = str(ds.user_ids[u])
    seen = {str(ds.item_ids[i]) for i in np.concatenate([ds.train.items_of(u), ds.val.items_of(u)])}
    assert ds.val.counts()[u] > 0 and set(rec.seen_items(user)) == seen
    excluded = [item for item, _ in rec.recommend(user, k=1000)[user]]
    assert len(excluded) == ds.n_items - len(seen) and not seen & set(excluded)
    assert {str(ds.item_ids[i]) for i in ds.test.items_of(u)} <= set(excluded)  # test items stay rankable
    included = rec.recommend([user], k=1000, exclude_seen=False)[user]
    assert len(included) == ds.n_items and seen <= {item for item, _ in included}
    assert [s for _, s in included] == sorted((s for _, s in included), reverse=True)
    assert len(rec.recommend(user, k=3)[user]) == 3


def test_refitted_model_graph_is_train_plus_validation(tmp_path, tiny_dataset):
    report = train(tiny_dataset, "lightgcn", refit=True)
    assert report.dataset.refitted
    path = save_bundle(tmp_path / "b", report.arch, report.model, report.dataset, {"test": report.test})
    rec = load(path)
    assert rec.dataset.refitted and rec.dataset.train.nnz == tiny_dataset.train.nnz + tiny_dataset.val.nnz
    assert rec.evaluate().metrics == pytest.approx(report.test, abs=1e-12)
    with pytest.raises(GnnnasError, match="refitted"):
        rec.evaluate(split="val")
    with pytest.raises(ValueError, match="dataset the model was trained on"):  # graph of train+val, train given
        save_bundle(tmp_path / "c", report.arch, report.model, tiny_dataset, {})


def test_unknown_user_and_bad_k(tmp_path, tiny_dataset):
    _, path = bundle_of(tmp_path, tiny_dataset, "popularity")
    rec = load(path)
    with pytest.raises(GnnnasError) as err:
        rec.recommend(["u1", "nobody"])
    assert "'nobody'" in str(err.value) and "80 users" in str(err.value)
    with pytest.raises(GnnnasError, match="k=0"):
        rec.recommend("u1", k=0)
    assert rec.known_users() == tiny_dataset.user_ids.tolist()


def test_evaluate_on_new_data_maps_ids_and_counts_unknown(tmp_path, tiny_dataset):
    _, path = bundle_of(tmp_path, tiny_dataset, "lightgcn")
    rec = load(path)
    same = rec.evaluate(tiny_dataset)  # the same data as a Dataset: the same test metrics
    assert same.metrics == pytest.approx(rec.evaluate().metrics, abs=1e-12) and same.dropped["interactions"] == 0
    unseen = [f"i{i}" for i in range(60) if f"i{i}" not in set(rec.seen_items("u1")) | set(rec.seen_items("u2"))]
    new = tmp_path / "new.csv"
    new.write_text(f"user,item\nu1,{unseen[0]}\nu1,{unseen[1]}\nu2,{unseen[0]}\nstranger,i3\nu3,brand-new\n")
    res = rec.evaluate(new, split="all", options=DataOptions(split="ratio", ratios=(0.5, 0.0, 0.5)))
    assert res.dropped == {"interactions": 2, "unknown_users": 1, "unknown_items": 1}
    assert res.interactions == 3 and 0 <= res["recall@20"] <= 1


def test_altered_or_missing_files_are_refused(tmp_path, tiny_dataset):
    _, path = bundle_of(tmp_path, tiny_dataset, "lightgcn")
    weights = path / "weights.pt"
    data = bytearray(weights.read_bytes())
    data[-20] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(GnnnasError) as err:
        load(path)
    assert str(err.value) == f"{weights}: checksum mismatch; the bundle was altered after export"

    _, path = bundle_of(tmp_path, tiny_dataset, "popularity", name="b2")
    (path / "users.json").unlink()
    with pytest.raises(GnnnasError, match=r"users\.json: missing"):
        load(path)
    (path / "metadata.json").unlink()
    with pytest.raises(GnnnasError, match="not a model bundle"):
        load(path)
    with pytest.raises(GnnnasError, match="no such model bundle"):
        load(tmp_path / "nowhere")


def test_newer_format_version_is_refused_naming_both(tmp_path, tiny_dataset):
    _, path = bundle_of(tmp_path, tiny_dataset, "popularity")
    meta = json.loads((path / "metadata.json").read_text())
    meta["format_version"] = "2.0"
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(GnnnasError) as err:
        load(path)
    message = str(err.value)
    assert "format 2.0" in message and "format 1.x" in message and gnnnas.__version__ in message
    meta["format_version"] = "1.7"  # a newer minor of the same major still loads
    (path / "metadata.json").write_text(json.dumps(meta))
    assert load(path).recommend("u0", k=1)


def test_failed_write_keeps_previous_bundle_and_leaves_no_temp(tmp_path, tiny_dataset):
    report, path = bundle_of(tmp_path / "out", tiny_dataset, "lightgcn")
    before = {f.name: f.read_bytes() for f in path.iterdir()}
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        save_bundle(path, report.arch, report.model, tiny_dataset, {"test": report.test}, {"bad": object()})
    assert {f.name: f.read_bytes() for f in path.iterdir()} == before
    assert [p.name for p in path.parent.iterdir()] == ["bundle"]
    # a complete new bundle replaces the old one; numpy scalars are fine; other folders are never replaced
    save_bundle(path, report.arch, report.model, tiny_dataset, {"test": report.test}, {"trial": np.int64(9)})
    assert load(path).metadata["extra"] == {"trial": 9}
    assert [p.name for p in path.parent.iterdir()] == ["bundle"]
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(GnnnasError, match="not a model bundle"):
        save_bundle(other, report.arch, report.model, tiny_dataset, {})
    assert (other / "keep.txt").read_text() == "mine"


def test_integer_looking_raw_ids_round_trip(tmp_path):
    folder = tmp_path / "lgcn"
    folder.mkdir()
    rng = np.random.default_rng(0)
    users = [3, 10, 42, 100, 7, 55]  # sparse ids: internal ids differ from raw ones
    items = [1000 + 7 * i for i in range(12)]
    train_lines, test_lines = [], []
    for u in users:
        chosen = rng.choice(items, size=6, replace=False).tolist()
        train_lines.append(" ".join(map(str, [u] + chosen[:5])))
        test_lines.append(f"{u} {chosen[5]}")
    (folder / "train.txt").write_text("\n".join(train_lines) + "\n")
    (folder / "test.txt").write_text("\n".join(test_lines) + "\n")
    ds = load_dataset(folder, DataOptions())
    report = train(ds, "popularity")
    rec = load(save_bundle(tmp_path / "b", "popularity", report.model, ds, {}))
    assert sorted(rec.known_users(), key=int) == [str(u) for u in sorted(users)]
    by_int, by_str = rec.recommend([42], k=3), rec.recommend(["42"], k=3)
    assert list(by_int) == [42] and list(by_str) == ["42"] and by_int[42] == by_str["42"]
    in_files = {tok for line in train_lines + test_lines for tok in line.split()[1:]}
    assert {item for item, _ in rec.recommend(42, k=100, exclude_seen=False)[42]} == in_files
    assert rec.known_items() == sorted(in_files, key=int)  # numeric ids keep numeric order
    line = next(l for l in train_lines if l.startswith("42 "))
    assert set(rec.seen_items(42)) >= set(line.split()[1:]) - {""}
    assert rec.seen_items(42) == rec.seen_items("42")
    with pytest.raises(GnnnasError, match="'43'.*6 users"):
        rec.recommend(43)


def test_train_out_writes_a_loadable_bundle(capsys, tiny_csv, tmp_path):
    out = tmp_path / "run"
    code = main(["train", "--data", str(tiny_csv), "--arch", "mf", "--epochs", "2", "--dim", "8", "--quiet",
                 "--out", str(out), "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and sorted(p.name for p in out.iterdir()) == ["history.csv", "metrics.json", "model"]
    rec = gnnnas.load(out)  # the --out folder resolves to its model/ bundle
    assert rec.path == out / "model" and rec.metadata["metrics"]["test"] == pytest.approx(summary["test"])
    assert rec.evaluate().metrics == pytest.approx(summary["test"], abs=1e-9)
    assert rec.metadata["extra"]["command"] == "train"
    # a second run replaces the bundle; a foreign model/ folder is refused before training
    assert main(["train", "--data", str(tiny_csv), "--arch", "popularity", "--quiet", "--out", str(out)]) == 0
    assert load(out).spec == "popularity"
    foreign = tmp_path / "run2" / "model"
    foreign.mkdir(parents=True)
    (foreign / "x.txt").write_text("x")
    capsys.readouterr()
    assert main(["train", "--data", str(tiny_csv), "--out", str(foreign.parent)]) == 2
    assert "not a model bundle" in capsys.readouterr().err


def test_recommend_cli_text_json_and_errors(capsys, tmp_path, tiny_dataset):
    text = np.empty(tiny_dataset.n_items, dtype=object)
    text[:] = [f"Product number {i}" for i in range(tiny_dataset.n_items)]
    with_text = replace(tiny_dataset, item_text=text)
    report = train(tiny_dataset, "popularity")
    path = save_bundle(tmp_path / "b", "popularity", report.model, with_text, {})
    expected = load(path).recommend(["u1", "u2"], k=3)

    code = main(["recommend", str(path), "--user", "u1", "--user", "u2", "--k", "3", "--json"])
    out = capsys.readouterr().out
    assert code == 0 and json.loads(out) == {u: [[i, s] for i, s in items] for u, items in expected.items()}

    code = main(["recommend", str(path), "--user", "u1", "--k", "3"])
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("user u1: top 3 of 60 items") and "excluded" in lines[0]
    assert lines[1].split() == ["rank", "item", "score", "title"]
    first_item, first_score = expected["u1"][0]
    assert lines[2].split()[:3] == ["1", first_item, f"{first_score:.4f}"]
    assert lines[2].endswith(f"Product number {tiny_dataset.item_ids.tolist().index(first_item)}")
    assert len(lines) == 5

    code = main(["recommend", str(path), "--user", "u1", "--k", "100", "--include-seen", "--json"])
    assert code == 0 and len(json.loads(capsys.readouterr().out)["u1"]) == 60

    code = main(["recommend", str(path), "--user", "u1", "--user", "ghost"])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("gnnnas: error:") and "'ghost'" in err and "80 users" in err
    code = main(["recommend", str(tmp_path / "missing"), "--user", "u1"])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1 and "missing" in err


def test_import_gnnnas_does_not_import_export():
    code = ("import sys, gnnnas; assert 'gnnnas.export' not in sys.modules; "
            "assert callable(gnnnas.load) and 'gnnnas.export' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
