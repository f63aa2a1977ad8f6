"""``int8``: the final (propagated) embeddings, quantised per row to int8 with a float32 scale.

Serving a GNN needs its final embeddings, not its input tables: quantising
the layer-0 tables would still leave message passing at inference. So the
propagation runs once, here, and its output is stored as ``d + 4`` bytes per
row instead of ``4 d`` (26.6% at ``d = 64``); scores are dequantised on the
fly (``s_u s_i (q_u . q_i)``). The rounding error per value is at most half
a quantisation step, ``max|row| / 254``.
"""

from __future__ import annotations

from gnnnas.compress.base import Compressed, CompressOptions, Method, final_embeddings
from gnnnas.compress.models import Int8Rows


def int8(teacher, options: CompressOptions) -> Compressed:
    users, items = final_embeddings(teacher)
    return Compressed(Int8Rows.from_embeddings(users, items), {"model": Int8Rows.key, "dim": int(users.shape[1])})


METHOD = Method("int8", "final embeddings as int8 with one float32 scale per row, no propagation at inference",
                int8)
