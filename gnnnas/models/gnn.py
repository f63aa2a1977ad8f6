"""The model space: any :class:`ArchSpec` as a trainable recommender."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from gnnnas.graph import BipartiteGraph, adjacency_form, linear_propagation, linear_propagation_rows
from gnnnas.models.base import Recommender
from gnnnas.models.combination import LINEAR_LAYER_WEIGHTS, build_combination
from gnnnas.models.inputs import INPUT_STAGES
from gnnnas.models.scoring import SCORINGS
from gnnnas.models.spec import ArchSpec
from gnnnas.models.stack import build_stack


class GNNRecommender(Recommender):
    """A recommender built from an architecture description.

    ``forward``: input embeddings (users then items, one homogeneous graph)
    -> layer stack with skip connections -> layer combination -> scoring
    transform; returns (users x d, items x d) embeddings whose dot products
    are the scores (see :mod:`gnnnas.models.scoring`).

    LightGCN-family specs (:attr:`ArchSpec.is_linear`) skip the stack and run
    the fused :func:`gnnnas.graph.linear_propagation` with the combination's
    layer weights: the ``lightgcn`` preset is then the engine's
    :class:`~gnnnas.models.LightGCN`, operation for operation. ``num_layers
    == 0`` is matrix factorisation.
    """

    def __init__(self, spec: ArchSpec, graph: BipartiteGraph, init_std: float = 0.1) -> None:
        super().__init__()
        self.spec = spec
        self.n_users, self.n_items = graph.n_users, graph.n_items
        self.graph = graph
        self.input = INPUT_STAGES[spec.features](spec, graph, init_std)
        self.linear = spec.is_linear
        if self.linear:
            self.layer_weights = LINEAR_LAYER_WEIGHTS[spec.combination](spec.num_layers)
        else:
            self.stack = build_stack(spec.embedding_dim, spec.layers, spec.skip)
            widths = [spec.embedding_dim] + [layer.hidden for layer in spec.layers]
            self.combine = build_combination(spec.combination, widths)
        self.scoring = SCORINGS[spec.scoring]()

    @property
    def out_dim(self) -> int:
        """Width of the final embeddings."""
        return self.spec.embedding_dim if self.linear else self.combine.out_dim

    def set_graph(self, graph: BipartiteGraph) -> None:
        """Propagate over another graph of the same nodes (the trainer's edge dropout)."""
        if (graph.n_users, graph.n_items) != (self.n_users, self.n_items):
            raise ValueError("set_graph: the graph must have the model's users and items")
        self.graph = graph.to(self.device)

    def _apply(self, fn, recurse=True):
        out = super()._apply(fn, recurse)
        self.graph = self.graph.to(self.device)  # the graph follows .to(device)
        return out

    def _adjacency(self, form: str) -> Any:
        return adjacency_form(self.graph, form)

    def forward(self) -> tuple[Tensor, Tensor]:
        if self.linear:
            xu, xi = self.input.embeddings()
            zu, zi = linear_propagation(self.graph, xu, xi, self.layer_weights)
            return self.scoring(zu), self.scoring(zi)
        states = self.stack(self.input(), self._adjacency)
        z = self.scoring(self.combine(states))
        # split, not two slices: the backward of split is one concatenation, that of each slice
        # a zero-filled N x d buffer (page faults on every batch when it is wide, e.g. concat)
        zu, zi = z.split([self.n_users, self.n_items])
        return zu, zi

    def batch_embeddings(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        if not self.linear:
            return super().batch_embeddings(users, items)
        xu, xi = self.input.embeddings()
        zu, zi = linear_propagation_rows(self.graph, xu, xi, self.layer_weights, users, items)
        return self.scoring(zu), self.scoring(zi)  # the scoring transform is row-wise

    def embedding_tables(self) -> tuple[nn.Parameter, nn.Parameter | None]:
        return self.input.tables()

    def extra_repr(self) -> str:
        return f"{self.spec}, fused linear propagation" if self.linear else str(self.spec)
