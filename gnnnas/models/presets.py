"""Named architectures from the literature, as points of the model space.

Each preset is an :class:`ArchSpec` (with the training knobs its paper or
LightGCN's re-implementation suggests for implicit-feedback recommendation,
64-wide embeddings) plus a one-line description. Build one with
``GNNRecommender(PRESETS[name].spec, graph)``. Graph-learning papers written
for node classification (GCN, GraphSAGE, GIN, GAT) are adapted to the
user-item graph: 64-wide layers, the last one without activation (it feeds
dot-product scores), light dropout.
"""

from __future__ import annotations

from dataclasses import dataclass

from gnnnas.models.spec import ArchSpec, LayerSpec, TrainingSpec


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    spec: ArchSpec


def _preset(name: str, description: str, **spec) -> Preset:
    return Preset(name, description, ArchSpec(**spec))


_LIGHTGCN_TRAINING = TrainingSpec(lr=1e-3, l2=1e-4, batch_size=2048)

PRESETS: dict[str, Preset] = {p.name: p for p in (
    _preset("mf", "BPR matrix factorisation (Rendle et al. 2009): ID embeddings, no propagation",
            embedding_dim=64, layers=(), training=_LIGHTGCN_TRAINING),
    # Wu et al. ("On the Effectiveness of Sampled Softmax Loss for Item Recommendation", TOIS 2024) train
    # MF with sampled softmax over cosine scores and a temperature and find it competitive with LightGCN;
    # 256 negatives shared by the mini-batch cost one matrix product.
    _preset("mf-ssm", "Sampled-softmax MF (Wu et al. 2024): ID embeddings, cosine scores at temperature 0.2, "
            "softmax over each pair's negative and 256 shared by the mini-batch",
            embedding_dim=64, layers=(), scoring="cosine",
            training=TrainingSpec(lr=1e-3, l2=1e-4, batch_size=2048, loss="softmax", shared_negatives=256)),
    _preset("lightgcn", "LightGCN (He et al. 2020): 3 parameter-free normalised propagation layers, mean over layers",
            embedding_dim=64, layers=(LayerSpec("lightgcn"),) * 3, combination="mean",
            training=_LIGHTGCN_TRAINING),
    _preset("ngcf", "NGCF (Wang et al. 2019): 3 bi-interaction layers, LeakyReLU, message dropout 0.1, concat",
            embedding_dim=64,
            layers=(LayerSpec("ngcf", hidden=64, activation="leaky_relu", dropout=0.1),) * 3,
            combination="concat", training=TrainingSpec(lr=1e-3, l2=1e-5, batch_size=2048)),
    _preset("gcn", "GCN (Kipf & Welling 2017): 2 renormalised graph convolutions with self-loops, ReLU between",
            embedding_dim=64,
            layers=(LayerSpec("gcn", hidden=64, activation="relu", dropout=0.1), LayerSpec("gcn", hidden=64)),
            combination="last", training=_LIGHTGCN_TRAINING),
    _preset("sage", "GraphSAGE (Hamilton et al. 2017): 2 mean-aggregator layers, ReLU between",
            embedding_dim=64,
            layers=(LayerSpec("sage_mean", hidden=64, activation="relu", dropout=0.1),
                    LayerSpec("sage_mean", hidden=64)),
            combination="last", training=_LIGHTGCN_TRAINING),
    # Batch norm on both layers, as in the paper's MLPs: without it on the last layer the raw neighbour
    # sums (item degrees run into the thousands) dominate the dot product and the model ranks by
    # popularity (bundled data: test Recall@20 0.060 vs. popularity's 0.061; with it 0.11 after 24 epochs).
    _preset("gin", "GIN (Xu et al. 2019): 2 sum-aggregation MLP layers with batch norm, layer outputs concatenated",
            embedding_dim=64,
            layers=(LayerSpec("gin", hidden=64, norm="batch", activation="relu"),
                    LayerSpec("gin", hidden=64, norm="batch")),
            combination="concat", training=_LIGHTGCN_TRAINING),
    _preset("gat", "GAT (Velickovic et al. 2018): 4-head attention layer (concat, ELU), then a 1-head output layer",
            embedding_dim=64,
            layers=(LayerSpec("gat", hidden=64, heads=4, head_combine="concat", activation="elu", dropout=0.1),
                    LayerSpec("gat", hidden=64, heads=1)),
            combination="last", training=_LIGHTGCN_TRAINING),
)}
