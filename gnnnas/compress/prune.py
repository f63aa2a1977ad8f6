"""``prune``: magnitude pruning of the final (propagated) embeddings, row by row.

Each user and item row keeps its ``round(d * (1 - ratio))`` largest-magnitude
values (at least one); the rest become zero. Every row keeps the same number
of values, so the artifact stores two dense ``n x m`` matrices, the float32
values and their column numbers (uint8 up to ``d = 256``), and no row
pointers: ``5 m`` bytes per row against the original ``4 d``, so
``--ratio 0.5`` gives 62.5% of the size and ``0.75`` about 31%. Pruning per
row rather than globally keeps every user and item scorable: a global
threshold would wipe out the small-norm rows entirely.
"""

from __future__ import annotations

from gnnnas.compress.base import Compressed, CompressOptions, Method, final_embeddings
from gnnnas.compress.models import SparseRows


def prune(teacher, options: CompressOptions) -> Compressed:
    users, items = final_embeddings(teacher)
    dim = int(users.shape[1])
    keep = max(1, min(dim, round(dim * (1.0 - options.ratio))))
    model = SparseRows.from_embeddings(users, items, keep)
    return Compressed(model, {"model": SparseRows.key, "dim": dim, "kept_per_row": keep, "ratio": options.ratio})


METHOD = Method("prune", "final embeddings with the smallest-magnitude fraction --ratio of each row dropped, "
                         "stored as fixed-width sparse rows", prune)
