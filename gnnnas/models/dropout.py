"""Inverted dropout (as :func:`torch.nn.functional.dropout`) with a fast mask on CPU.

Node-feature dropout masks every node's state on every mini-batch, and
torch's CPU masks come from one sequential random generator: that was a
fifth of an epoch of a 2-layer stack with dropout (see ``dropout.c`` in
:mod:`gnnnas.graph.native`). On CPU, with the native kernels, the mask is
a hash of the element's index and a seed drawn from torch's generator, so
``torch.manual_seed`` still fixes it; elsewhere torch's own dropout runs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gnnnas.graph import native


class _HashedDropout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, p: float) -> Tensor:
        seed = int(torch.randint(0, 2 ** 62, (), dtype=torch.int64))
        y, keep = native.dropout(x, p, seed)
        ctx.save_for_backward(keep)
        ctx.p = p
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (keep,) = ctx.saved_tensors
        return native.dropout_backward(grad, keep, ctx.p), None


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Zero each element of ``x`` with probability ``p`` and scale the rest by ``1 / (1 - p)`` while training."""
    if not training or p == 0:
        return x
    if (x.device.type == "cpu" and x.dtype == torch.float32 and x.is_contiguous() and 0 < p < 1
            and native.active()):
        return _HashedDropout.apply(x, p)
    return nn.functional.dropout(x, p, True)


class Dropout(nn.Module):
    """:class:`torch.nn.Dropout` through :func:`dropout`."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"
