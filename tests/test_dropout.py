"""Dropout with the native counter-based mask (gnnnas.models.dropout) against torch's semantics."""

from __future__ import annotations

import pytest
import torch

from gnnnas.graph import native
from gnnnas.models.dropout import Dropout, dropout

needs_native = pytest.mark.skipif(native.kernels() is None, reason="native kernels unavailable (no C compiler)")


def _x(n: int = 1000, d: int = 64) -> torch.Tensor:
    torch.manual_seed(123)
    return torch.randn(n, d).abs_() + 0.5  # no zeros: a zero output means dropped


def test_identity_when_not_training_or_p_zero():
    x = _x(10, 4)
    assert dropout(x, 0.3, training=False) is x
    assert dropout(x, 0.0) is x
    module = Dropout(0.5).eval()
    assert module(x) is x


@needs_native
@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_drop_rate_scale_and_no_structure(p):
    x = _x(4000, 64)  # 256,000 elements
    torch.manual_seed(0)
    y = dropout(x, p)
    kept = y != 0
    n = kept.numel()
    sd = (p * (1 - p) / n) ** 0.5
    assert abs(1 - kept.float().mean().item() - p) < 5 * sd
    torch.testing.assert_close(y[kept], x[kept] * (1 / (1 - p)), rtol=0, atol=0)  # inverted dropout's scale, as torch
    # every column and every block of rows drops at the same rate (no pattern from the index hash)
    col_rate = 1 - kept.float().mean(0)
    assert (col_rate - p).abs().max().item() < 5 * (p * (1 - p) / 4000) ** 0.5
    block_rate = 1 - kept.view(40, -1).float().mean(1)
    assert (block_rate - p).abs().max().item() < 5 * (p * (1 - p) / 6400) ** 0.5
    # neighbouring elements are independent: both kept with probability (1 - p)^2
    flat = kept.flatten().float()
    both = (flat[1:] * flat[:-1]).mean().item()
    assert abs(both - (1 - p) ** 2) < 5 * ((1 - p) ** 2 * (1 - (1 - p) ** 2) / n) ** 0.5


@needs_native
def test_mask_follows_torch_seed_not_thread_count():
    x = _x()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        torch.manual_seed(7)
        a1, a2 = dropout(x, 0.3), dropout(x, 0.3)
        torch.set_num_threads(max(2, threads))
        torch.manual_seed(7)
        b1 = dropout(x, 0.3)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(a1, b1)
    assert not torch.equal(a1 != 0, a2 != 0)  # each call draws a new mask


@needs_native
def test_backward_uses_the_forward_mask():
    x = _x(300, 16).requires_grad_()
    torch.manual_seed(3)
    y = dropout(x, 0.25)
    g = torch.randn_like(y)
    y.backward(g)
    expected = torch.where(y != 0, g * (1 / 0.75), torch.zeros_like(g))
    torch.testing.assert_close(x.grad, expected, rtol=0, atol=0)


@needs_native
def test_non_finite_inputs_stay_visible():
    x = torch.full((1000,), float("nan"))
    assert dropout(x, 0.5).isnan().all()  # NaN * 0 is NaN, as with torch's x * mask


def test_torch_path_when_native_is_off():
    x = _x(2000, 32)
    with native.disabled():
        torch.manual_seed(0)
        y = dropout(x, 0.4)
    kept = y != 0
    assert abs(1 - kept.float().mean().item() - 0.4) < 0.02
    torch.testing.assert_close(y[kept], x[kept] / 0.6)
