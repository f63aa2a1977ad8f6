"""Compression of a trained model bundle: ``int8``, ``fp16``, ``prune`` and ``distill``.

>>> from gnnnas.compress import compress
>>> result = compress("runs/best", "int8")          # writes runs/best-int8
>>> result.size_ratio, result.relative_change("ndcg@20")
>>> gnnnas.load(result.out).recommend(["17850"])

Every method serves final (propagated) embeddings, so a compressed artifact
runs no message passing at inference; see :mod:`gnnnas.compress.models` for
what each stores and the method modules for how it is made.
"""

from gnnnas.compress.base import CompressOptions, Compressed, Method
from gnnnas.compress.registry import METHODS, get_method
from gnnnas.compress.run import CompressionResult, compress, default_out

__all__ = ["METHODS", "CompressOptions", "Compressed", "CompressionResult", "Method", "compress", "default_out",
           "get_method"]
