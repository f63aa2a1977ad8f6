"""The layer stack: blocks of aggregator -> norm -> activation -> dropout, joined by skip connections.

Each skip scheme is a module that runs the blocks and returns every layer's
state ``[x_0, x_1, ..., x_L]`` (``x_0`` the input embedding) for the layer
combination to read. ``x_l`` is always ``spec.layers[l-1].hidden`` wide.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from gnnnas.models.dropout import Dropout
from gnnnas.models.layers import build_aggregator
from gnnnas.models.spec import PARAMETER_FREE_AGGREGATORS, LayerSpec

#: norm name -> builder(width)
NORM_LAYERS: dict[str, Callable[[int], nn.Module]] = {
    "none": lambda width: nn.Identity(),
    "batch": nn.BatchNorm1d,
    "layer": nn.LayerNorm,
}

#: activation name -> builder(width)
ACTIVATION_LAYERS: dict[str, Callable[[int], nn.Module]] = {
    "identity": lambda width: nn.Identity(),
    "relu": lambda width: nn.ReLU(),
    "leaky_relu": lambda width: nn.LeakyReLU(0.2),  # NGCF's slope (PyG's GAT uses 0.2 too)
    "prelu": lambda width: nn.PReLU(width),  # one learned slope per channel
    "elu": lambda width: nn.ELU(),
    "tanh": lambda width: nn.Tanh(),
}

#: form name (a layer's ``ADJACENCY``) -> that form of the current graph
AdjacencyFn = Callable[[str], Any]


class LayerBlock(nn.Module):
    """One ``LayerSpec``: aggregator over the graph, then norm, activation, dropout (the order of PyG's ``BasicGNN``)."""

    def __init__(self, spec: LayerSpec, in_dim: int) -> None:
        super().__init__()
        self.spec = spec
        self.conv = build_aggregator(spec, in_dim)
        self.norm = NORM_LAYERS[spec.norm](spec.hidden)
        self.act = ACTIVATION_LAYERS[spec.activation](spec.hidden)
        self.dropout = Dropout(spec.dropout) if spec.dropout > 0 else nn.Identity()

    @property
    def adjacency_form(self) -> str:
        return self.conv.ADJACENCY

    def forward(self, x: Tensor, adjacency: AdjacencyFn) -> Tensor:
        h = self.conv(x, adjacency(self.adjacency_form))
        return self.dropout(self.act(self.norm(h)))


def _projection(in_dim: int, out_dim: int) -> nn.Module:
    """A bias-free linear map where widths differ, identity where they match."""
    return nn.Identity() if in_dim == out_dim else nn.Linear(in_dim, out_dim, bias=False)


class NoSkip(nn.Module):
    r""":math:`x_{l+1} = \mathrm{layer}_l(x_l)`."""

    def __init__(self, dim: int, layers: tuple[LayerSpec, ...]) -> None:
        super().__init__()
        widths = [dim] + [l.hidden for l in layers]
        self.blocks = nn.ModuleList(LayerBlock(l, w) for l, w in zip(layers, widths))

    def forward(self, x: Tensor, adjacency: AdjacencyFn) -> list[Tensor]:
        states = [x]
        for block in self.blocks:
            states.append(block(states[-1], adjacency))
        return states


class ResidualSkip(nn.Module):
    r""":math:`x_{l+1} = \mathrm{layer}_l(x_l) + P_l x_l`, :math:`P_l` identity or a linear map where widths differ (He et al. 2016)."""

    def __init__(self, dim: int, layers: tuple[LayerSpec, ...]) -> None:
        super().__init__()
        widths = [dim] + [l.hidden for l in layers]
        self.blocks = nn.ModuleList(LayerBlock(l, w) for l, w in zip(layers, widths))
        self.shortcuts = nn.ModuleList(_projection(w, l.hidden) for l, w in zip(layers, widths))

    def forward(self, x: Tensor, adjacency: AdjacencyFn) -> list[Tensor]:
        states = [x]
        for block, shortcut in zip(self.blocks, self.shortcuts):
            states.append(block(states[-1], adjacency) + shortcut(states[-1]))
        return states


class DenseSkip(nn.Module):
    r"""Each layer reads the concatenation of the input and every earlier layer's output
    (DenseNet, Huang et al. 2017; GraphGym's skip-concat):
    :math:`x_{l+1} = \mathrm{layer}_l([x_0 \Vert x_1 \Vert \dots \Vert x_l])`.

    Layers with weights take the wide input directly. A parameter-free layer
    (lightgcn) cannot change width, so the concatenation is first projected
    to its ``hidden`` width by a bias-free linear map; otherwise widths would
    double with every layer.
    """

    def __init__(self, dim: int, layers: tuple[LayerSpec, ...]) -> None:
        super().__init__()
        in_dims = [dim + sum(l.hidden for l in layers[:k]) for k in range(len(layers))]
        self.blocks = nn.ModuleList()
        self.inputs = nn.ModuleList()
        for layer, in_dim in zip(layers, in_dims):
            fixed_width = layer.aggregator in PARAMETER_FREE_AGGREGATORS
            self.inputs.append(_projection(in_dim, layer.hidden) if fixed_width else nn.Identity())
            self.blocks.append(LayerBlock(layer, layer.hidden if fixed_width else in_dim))

    def forward(self, x: Tensor, adjacency: AdjacencyFn) -> list[Tensor]:
        states = [x]
        for block, project in zip(self.blocks, self.inputs):
            wide = states[0] if len(states) == 1 else torch.cat(states, dim=1)
            states.append(block(project(wide), adjacency))
        return states


#: skip name -> stack class ``(embedding_dim, layers)``
SKIP_CONNECTIONS: dict[str, type[nn.Module]] = {"none": NoSkip, "residual": ResidualSkip, "dense": DenseSkip}


def build_stack(dim: int, layers: tuple[LayerSpec, ...], skip: str) -> nn.Module:
    """The stack of ``layers`` on ``dim``-wide input with ``skip`` connections."""
    return SKIP_CONNECTIONS[skip](dim, layers)
