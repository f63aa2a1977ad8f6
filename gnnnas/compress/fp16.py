"""``fp16``: the final (propagated) embeddings stored as float16 (half the bytes), scored in float32."""

from __future__ import annotations

from gnnnas.compress.base import Compressed, CompressOptions, Method, final_embeddings
from gnnnas.compress.models import HalfRows


def fp16(teacher, options: CompressOptions) -> Compressed:
    users, items = final_embeddings(teacher)
    return Compressed(HalfRows(users, items), {"model": HalfRows.key, "dim": int(users.shape[1])})


METHOD = Method("fp16", "final embeddings as float16, no propagation at inference", fp16)
