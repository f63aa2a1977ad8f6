"""``distill``: a plain embedding-table student, narrower than the teacher, with no propagation.

Two stages, both from the teacher's scores alone (the data's labels are not
used, and the test split never is):

1. **Initialisation**: the best rank-``dim`` approximation of the teacher's
   score matrix ``S = U I^T`` in the Frobenius norm (truncated SVD, computed
   from the ``d x d`` factors, never from ``S`` itself): the student starts
   where a least-squares fit of every score would end.
2. **Listwise distillation**: ``epochs`` passes over the users in batches
   (seeded order), minimising the cross-entropy between the teacher's and the
   student's softmax over all items, at a temperature of ``temperature``
   times the spread (standard deviation) of the teacher's scores. The
   softmax puts the weight on each user's top of the ranking, which is what
   full-ranking metrics read, where the SVD spends it evenly on all scores.
   The items of the training graph are masked for both: they are never
   recommended, so fitting their scores would waste the student's width.

The student kept is the one (the SVD start included) with the best
validation NDCG@20 when the bundle has a validation split, else the last.
With ``quantize="int8"`` (``--quantize int8``) it is then stored per-row int8
like ``--method int8`` stores a model: a quarter of the student's bytes, and
scored with an integer matrix product where the CPU has one.

Defaults (temperature 0.3, Adam lr 1e-3, 10 epochs) were chosen on the
validation split of a LightGCN teacher on the bundled online-retail data,
half width: temperatures 1 and 0.1 and lr 1e-2 were no better there.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from gnnnas.compress.base import Compressed, CompressOptions, Method, final_embeddings
from gnnnas.compress.models import EmbeddingTable, Int8Rows
from gnnnas.errors import GnnnasError

SELECT_METRIC = "ndcg@20"


def low_rank(users: torch.Tensor, items: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, B)`` of width ``dim`` with ``A B^T`` the best rank-``dim`` approximation of ``users items^T``."""
    qu, ru = torch.linalg.qr(users.double())
    qi, ri = torch.linalg.qr(items.double())
    left, sing, right_t = torch.linalg.svd(ru @ ri.T)
    root = sing[:dim].sqrt()
    return (qu @ left[:, :dim] * root).float(), (qi @ right_t[:dim].T * root).float()


def score_spread(users: torch.Tensor, items: torch.Tensor, sample: int = 1024) -> float:
    """Standard deviation of the teacher's scores over a fixed sample of users (evenly spaced) and all items."""
    rows = torch.linspace(0, users.shape[0] - 1, min(sample, users.shape[0])).round().long().to(users.device)
    spread = float((users[rows] @ items.t()).std())
    return spread if spread > 0 else 1.0


def _train_keys(teacher, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """CSR of the training graph's items per user, as tensors (indptr, indices)."""
    train = teacher.dataset.train
    return (torch.from_numpy(train.indptr.astype(np.int64)).to(device),
            torch.from_numpy(train.indices.astype(np.int64)).to(device))


def _mask(batch: torch.Tensor, indptr: torch.Tensor, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(row in batch, item) of every training interaction of ``batch``."""
    starts, ends = indptr[batch], indptr[batch + 1]
    counts = ends - starts
    rows = torch.repeat_interleave(torch.arange(batch.numel(), device=batch.device), counts)
    offsets = torch.repeat_interleave(starts - (torch.cumsum(counts, 0) - counts), counts)
    return rows, indices[torch.arange(rows.numel(), device=batch.device) + offsets]


def _validation(teacher, device: torch.device):
    if teacher.dataset.val.nnz == 0:
        return None
    from gnnnas.evaluation import Evaluator
    evaluator = Evaluator(teacher.dataset, "val", ks=(20,), device=device)
    return evaluator if evaluator.n_users else None


def distill(teacher, options: CompressOptions) -> Compressed:
    users_t, items_t = final_embeddings(teacher)
    device = users_t.device
    width = int(users_t.shape[1])
    dim = options.dim if options.dim is not None else max(1, width // 2)
    if dim > width:
        raise GnnnasError(f"--dim {dim}: expected at most the teacher's embedding width {width}")
    student = EmbeddingTable(teacher.n_users, teacher.n_items, dim).to(device)
    with torch.no_grad():
        u0, i0 = low_rank(users_t, items_t, dim)
        student.user_embedding.copy_(u0)
        student.item_embedding.copy_(i0)

    validation = _validation(teacher, device)
    history = [validation(student.scorer())[SELECT_METRIC]] if validation is not None else []
    best_epoch, best_state = 0, copy.deepcopy(student.state_dict())
    indptr, indices = _train_keys(teacher, device)
    optimizer = torch.optim.Adam(student.parameters(), lr=options.lr)
    generator = torch.Generator().manual_seed(options.seed)
    # the temperature is in units of the teacher's score spread, so one default fits any score scale
    temperature = options.temperature * score_spread(users_t, items_t)
    targets_t = items_t.t().contiguous() / temperature
    # a user who has every item in training has nothing left to rank (and an all-masked softmax)
    rankable = torch.from_numpy(np.diff(teacher.dataset.train.indptr) < teacher.n_items)
    for epoch in range(1, options.epochs + 1):
        student.train()
        order = torch.randperm(teacher.n_users, generator=generator)
        order = order[rankable[order]].to(device)
        for batch in order.split(options.batch_size):
            rows, cols = _mask(batch, indptr, indices)
            with torch.no_grad():
                target = users_t[batch] @ targets_t
                target[rows, cols] = -torch.inf
                target = torch.softmax(target, dim=1)
            logits = student.user_embedding[batch] @ student.item_embedding.t() / temperature
            log_p = torch.log_softmax(logits.index_put((rows, cols), logits.new_full((), -torch.inf)), dim=1)
            # masked items: target 0 and log-probability -inf; their product is 0, not NaN
            loss = -(target * log_p.masked_fill(target == 0, 0.0)).sum(1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        student.eval()
        if validation is not None:
            history.append(validation(student.scorer())[SELECT_METRIC])
            if history[-1] > history[best_epoch]:
                best_epoch, best_state = epoch, copy.deepcopy(student.state_dict())
        else:
            best_epoch, best_state = epoch, student.state_dict()
    student.load_state_dict(best_state)
    student.requires_grad_(False).eval()
    info = {"model": EmbeddingTable.key, "dim": dim, "teacher_dim": width,
            "init": "truncated SVD of the teacher's scores",
            "loss": "listwise softmax cross-entropy on the teacher's scores, training items masked",
            "epochs": options.epochs, "lr": options.lr, "temperature": options.temperature,
            "batch_size": options.batch_size, "seed": options.seed, "epoch_kept": best_epoch,
            "selected_on": f"val {SELECT_METRIC}" if validation is not None else None,
            "val_history": history or None}
    if options.quantize == "int8":
        # quantised after selection: per-row rounding moves scores by at most half a step per value
        info.update(model=Int8Rows.key, quantize="int8")
        return Compressed(Int8Rows.from_embeddings(student.user_embedding, student.item_embedding), info)
    return Compressed(student, info)


METHOD = Method("distill", "a narrower plain embedding-table student (no propagation) fitted to the teacher's "
                           "scores: truncated SVD, then listwise distillation", distill)
