"""Compression: every method writes a bundle that loads, recommends and evaluates; sizes, errors, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import gnnnas
from cli_helpers import assert_one_line_error, run
from conftest import clustered_interactions
from gnnnas.compress import METHODS, CompressOptions, compress
from gnnnas.compress.distill import low_rank
from gnnnas.compress.models import EmbeddingTable, HalfRows, Int8Rows, SparseRows
from gnnnas.data import DataOptions, load_dataset
from gnnnas.errors import GnnnasError
from gnnnas.evaluation.cost import exported_size_bytes
from gnnnas.export import save_bundle
from gnnnas.models.registry import override
from gnnnas.pipeline import train_and_evaluate
from gnnnas.training import TrainConfig

DIM = 64
SERVED = {"int8": Int8Rows, "fp16": HalfRows, "prune": SparseRows, "distill": EmbeddingTable}
FAST_DISTILL = CompressOptions(epochs=3)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A LightGCN bundle (dim 64) on 400 x 300 clustered interactions: embedding tables dominate its weights."""
    root = tmp_path_factory.mktemp("compress")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GNNNAS_CACHE_DIR", str(root / "cache"))
        clustered_interactions(n_users=400, n_items=300, n_clusters=6, per_user=14).to_csv(root / "d.csv", index=False)
        dataset = load_dataset(root / "d.csv", DataOptions(seed=0))
        spec = override(gnnnas.PRESETS["lightgcn"].spec, dim=DIM)
        report = train_and_evaluate(dataset, spec, TrainConfig(epochs=15, batch_size=512, progress=False))
        path = save_bundle(root / "teacher", report.arch, report.model, dataset,
                           {"val": report.val, "test": report.test})
    return path


@pytest.fixture(scope="module")
def results(teacher, tmp_path_factory):
    out = tmp_path_factory.mktemp("artifacts")
    return {m: compress(teacher, m, out / m, FAST_DISTILL, repeats=1) for m in METHODS}


def teacher_embeddings(path):
    return gnnnas.load(path).model.get_embeddings()


@pytest.mark.parametrize("method", list(SERVED))
def test_artifact_loads_recommends_and_reproduces_its_metrics(results, teacher, method):
    result = results[method]
    rec = gnnnas.load(result.out)
    assert isinstance(rec.model, SERVED[method]) and not hasattr(rec.model, "graph")  # no propagation
    assert rec.metadata["compression"]["method"] == method and rec.metadata["model"]["kind"] == "compressed"
    assert rec.spec == gnnnas.load(teacher).spec  # the architecture it came from
    raw = rec.known_users()[:3]
    got = rec.recommend(raw, k=5)
    for user in raw:
        items = [item for item, _ in got[user]]
        assert len(items) == 5 and not set(items) & set(rec.seen_items(user))
        assert [s for _, s in got[user]] == sorted((s for _, s in got[user]), reverse=True)
    assert rec.evaluate().metrics == pytest.approx(result.metrics_after, abs=1e-9)
    assert rec.metadata["metrics"]["test"] == pytest.approx(result.metrics_after)
    state = torch.load(result.out / "weights.pt", weights_only=True)
    assert all(isinstance(t, torch.Tensor) for t in state.values())
    assert result.size_bytes_after == (result.out / "weights.pt").stat().st_size == exported_size_bytes(rec.model)
    assert result.size_bytes_before == (teacher / "weights.pt").stat().st_size
    assert result.latency_ms_before > 0 and result.latency_ms_after > 0
    assert set(result.metrics_before) == set(result.metrics_after) >= {"ndcg@20", "recall@20", "ndcg@10"}


def test_int8_is_under_30_percent_and_within_half_a_step_per_value(results, teacher):
    result = results["int8"]
    assert result.size_ratio <= 0.30
    users, items = teacher_embeddings(teacher)
    q_users, q_items = gnnnas.load(result.out).model.get_embeddings()
    for exact, approx in ((users, q_users), (items, q_items)):
        step = exact.abs().amax(dim=1, keepdim=True) / 127
        assert ((approx - exact).abs() <= step / 2 + 1e-6).all()
    assert abs(result.relative_change("ndcg@20")) <= 0.02  # rounding barely moves the ranking


@pytest.mark.parametrize("width", [16, 40])
def test_int8_scores_are_the_dequantised_dot_products_on_either_product(width, monkeypatch):
    from gnnnas.compress import models
    gen = torch.Generator().manual_seed(0)
    model = Int8Rows.from_embeddings(torch.randn(40, width, generator=gen), torch.randn(300, width, generator=gen))
    rows = torch.tensor([0, 7, 39, 7])
    expected = (model.user_q[rows].double() * model.user_scale[rows, None].double()) @ \
        (model.item_q.double() * model.item_scale[:, None].double()).t()
    assert models.int_matmul_available(torch.device("cpu"))  # torch's CPU int8 product, exact in int32
    int_products = []
    real_int_mm = torch._int_mm
    monkeypatch.setattr(torch, "_int_mm", lambda a, b: int_products.append(a.shape) or real_int_mm(a, b))
    fast = model.scorer()(rows)
    # the integer product only from width 32 on: below it the float path is faster
    assert int_products == ([(4, width)] if width >= models._INT_MM_MIN_WIDTH else [])
    monkeypatch.setitem(models._INT_MM, "cpu", False)
    slow = model.scorer()(rows)
    assert len(int_products) == (1 if width >= models._INT_MM_MIN_WIDTH else 0)
    for got in (fast, slow):
        assert got.dtype == torch.float32 and got.shape == (4, 300)
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5)


def test_fp16_halves_the_weights_and_keeps_the_scores(results, teacher):
    result = results["fp16"]
    assert 0.45 <= result.size_ratio <= 0.55
    teacher_scores = gnnnas.load(teacher).model.score(torch.arange(50))
    half_scores = gnnnas.load(result.out).model.score(torch.arange(50))
    assert torch.allclose(half_scores, teacher_scores, rtol=0, atol=2e-3 * float(teacher_scores.abs().max()))
    assert abs(result.relative_change("ndcg@20")) <= 0.02


def test_prune_keeps_the_largest_values_of_each_row_and_shrinks_with_the_ratio(results, teacher, tmp_path):
    users, items = teacher_embeddings(teacher)
    pruned_users, pruned_items = gnnnas.load(results["prune"].out).model.get_embeddings()
    keep = round(DIM * 0.5)
    for exact, pruned in ((users, pruned_users), (items, pruned_items)):
        assert ((pruned != 0).sum(1) == keep).all()
        top = exact.abs().topk(keep, dim=1).indices
        assert torch.equal(pruned.gather(1, top), exact.gather(1, top))
    assert results["prune"].size_ratio < 0.7  # 5 bytes per kept value (float32 + uint8 column) vs 4 per value
    harder = compress(teacher, "prune", tmp_path / "p9", CompressOptions(ratio=0.9), repeats=1)
    assert harder.size_bytes_after < results["prune"].size_bytes_after
    assert gnnnas.load(harder.out).metadata["compression"]["kept_per_row"] == round(DIM * 0.1)


def test_distilled_student_is_a_narrower_table_selected_on_validation(results, teacher):
    result = results["distill"]
    rec = gnnnas.load(result.out)
    assert set(rec.model.state_dict()) == {"user_embedding", "item_embedding"}
    assert rec.model.dim == DIM // 2 and result.size_ratio < 0.55
    info = rec.metadata["compression"]
    assert info["selected_on"] == "val ndcg@20" and len(info["val_history"]) == FAST_DISTILL.epochs + 1
    assert info["epoch_kept"] == int(np.argmax(info["val_history"]))
    assert result.metrics_after["ndcg@20"] >= 0.9 * result.metrics_before["ndcg@20"]


def test_a_quantised_student_is_int8_rows_of_the_same_student(results, teacher, tmp_path):
    from dataclasses import replace
    result = compress(teacher, "distill", tmp_path / "q", replace(FAST_DISTILL, quantize="int8"), repeats=1)
    rec, float_student = gnnnas.load(result.out), gnnnas.load(results["distill"].out)
    assert isinstance(rec.model, Int8Rows) and rec.metadata["compression"]["quantize"] == "int8"
    assert rec.metadata["compression"]["epoch_kept"] == float_student.metadata["compression"]["epoch_kept"]
    (users, items), (q_users, q_items) = float_student.model.get_embeddings(), rec.model.get_embeddings()
    for exact, approx in ((users, q_users), (items, q_items)):
        assert approx.shape == exact.shape
        assert ((approx - exact).abs() <= exact.abs().amax(dim=1, keepdim=True) / 254 + 1e-6).all()
    assert result.size_bytes_after < 0.4 * results["distill"].size_bytes_after
    user = rec.known_users()[0]
    assert len(rec.recommend(user, k=5)[user]) == 5


def test_distillation_is_seeded(teacher, tmp_path):
    a = compress(teacher, "distill", tmp_path / "a", CompressOptions(epochs=2, dim=16), repeats=1)
    b = compress(teacher, "distill", tmp_path / "b", CompressOptions(epochs=2, dim=16), repeats=1)
    wa = torch.load(a.out / "weights.pt", weights_only=True)
    wb = torch.load(b.out / "weights.pt", weights_only=True)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_low_rank_start_is_the_truncated_svd_of_the_scores():
    gen = torch.Generator().manual_seed(0)
    users, items = torch.randn(30, 8, generator=gen), torch.randn(20, 8, generator=gen)
    scores = users @ items.T
    full_u, full_i = low_rank(users, items, 8)
    assert torch.allclose(full_u @ full_i.T, scores, atol=1e-4)
    u3, i3 = low_rank(users, items, 3)
    singular = torch.linalg.svdvals(scores.double())
    error = torch.linalg.matrix_norm((u3 @ i3.T - scores).double())
    assert float(error) == pytest.approx(float(singular[3:].square().sum().sqrt()), rel=1e-4)


def test_a_compressed_bundle_compresses_again(results, tmp_path):
    again = compress(results["distill"].out, "int8", tmp_path / "twice", repeats=1)
    info = gnnnas.load(again.out).metadata["compression"]
    assert info["source"]["compression"]["method"] == "distill"
    assert again.size_bytes_after < results["distill"].size_bytes_after


def test_unknown_served_model_is_refused_on_load(results, tmp_path):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(results["int8"].out, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta["compression"]["model"] = "int3_magic"
    (copy / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(GnnnasError, match="compression.model='int3_magic'"):
        gnnnas.load(copy)


def test_cli_prints_a_table_and_a_json_last_line(capsys, teacher, tmp_path):
    import shutil
    source = tmp_path / "model"
    shutil.copytree(teacher, source)
    code, out, err = run(capsys, "compress", source, "--method", "int8", "--json", "--repeats", "1")
    assert code == 0, err
    lines = out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert {"size_bytes_before", "size_bytes_after", "latency_ms_before", "latency_ms_after", "metrics_before",
            "metrics_after"} <= set(summary)
    assert "ndcg@20" in summary["metrics_after"] and summary["size_bytes_after"] < summary["size_bytes_before"]
    assert summary["out"] == str(tmp_path / "model-int8") and gnnnas.load(tmp_path / "model-int8")
    assert any(line.startswith("test ndcg@20") for line in lines) and any("weights size" in l for l in lines)
    code, out, _ = run(capsys, "recommend", tmp_path / "model-int8", "--user", gnnnas.load(source).known_users()[0],
                       "--json")
    assert code == 0 and len(next(iter(json.loads(out).values()))) == 10


@pytest.mark.parametrize("args, fragments", [
    (["{missing}", "--method", "int8"], ["no such model bundle"]),
    (["{plain}", "--method", "int8"], ["not a model bundle"]),
    (["{teacher}", "--method", "zip"], ["--method 'zip'", "int8, fp16, prune, distill"]),
    (["{teacher}", "--method", "prune", "--ratio", "1.5"], ["--ratio 1.5", "between 0 and 1"]),
    (["{teacher}", "--method", "prune", "--ratio", "0"], ["--ratio 0.0"]),
    (["{teacher}", "--method", "distill", "--dim", "0"], ["--dim 0", ">= 1"]),
    (["{teacher}", "--method", "distill", "--dim", "65", "--epochs", "0"], ["--dim 65", "width 64"]),
    (["{teacher}", "--method", "int8", "--out", "{plain}"], ["not a model bundle", "refusing"]),
    (["{teacher}", "--method", "int8", "--out", "{teacher}"], ["is the source bundle"]),
    (["{popularity}", "--method", "int8"], ["popularity baseline"]),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(capsys, teacher, tmp_dataset_bundle, tmp_path, args,
                                                         fragments):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("mine")
    names = {"missing": tmp_path / "missing", "plain": plain, "teacher": teacher, "popularity": tmp_dataset_bundle}
    before = sorted(p.name for p in teacher.parent.iterdir())
    ours = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run(capsys, "compress", *[a.format(**names) for a in args])
    assert_one_line_error(code, err, *fragments)
    assert sorted(p.name for p in teacher.parent.iterdir()) == before  # no artifact, no temporary folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ours
    assert (plain / "notes.txt").read_text() == "mine"


@pytest.fixture
def tmp_dataset_bundle(tmp_path, tiny_dataset):
    report = train_and_evaluate(tiny_dataset, "popularity", TrainConfig(epochs=1, progress=False))
    return save_bundle(tmp_path / "popularity", "popularity", report.model, tiny_dataset,
                       {"test": report.test})
