"""Served forms of compressed models: final embedding tables, no propagation at inference.

Every recommender here holds scoring-ready *final* user and item embeddings
(what a GNN's forward pass produces: the score is their dot product), stored
in a compact form and expanded on the fly for scoring. So a loaded artifact
never runs message passing; its graph is only used for the seen-item mask.

=====================  ==============================================  =================================
model (registry key)   stored tensors (``weights.pt``)                 bytes per row of width ``d``
=====================  ==============================================  =================================
``int8_rows``          ``*_q`` int8 ``n x d``, ``*_scale`` float32 n   ``d + 4``
``fp16``               ``*_half`` float16 ``n x d``                    ``2 d``
``sparse_rows``        ``*_values`` float32 ``n x m``, ``*_cols``      ``5 m`` (``m`` kept of ``d``)
                       uint8/int16 ``n x m`` (column of each value)
``embedding_table``    ``user_embedding`` / ``item_embedding`` float32  ``4 d`` (the student's ``d``)
=====================  ==============================================  =================================

The loader finds the class by the ``model`` field of the bundle's
``metadata.json`` ``compression`` entry (:func:`build_compressed`).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from gnnnas.errors import GnnnasError
from gnnnas.graph import native
from gnnnas.models.base import DotScorer, Recommender

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


class _Compressed(Recommender):
    """Common parts: no training, sizes checked on load, stored values counted as parameters."""

    trainable = False
    #: registry key written to ``metadata.json`` (``compression.model``)
    key: str = ""
    #: stored tensor names, users first
    tensor_names: tuple[str, ...] = ()

    def __init__(self, n_users: int, n_items: int):
        super().__init__()
        self.n_users, self.n_items = int(n_users), int(n_items)

    def num_parameters(self) -> int:
        """Stored values (buffers included: the compressed tables are buffers, not trainable parameters)."""
        return sum(t.numel() for t in self.state_dict().values())

    @classmethod
    def from_weights(cls, weights: dict[str, torch.Tensor], n_users: int, n_items: int,
                     info: dict) -> "_Compressed":  # pragma: no cover - interface
        raise NotImplementedError

    def scorer(self) -> DotScorer:
        return DotScorer(self._user_table(), self._item_table())

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._user_table()(torch.arange(self.n_users, device=self.device)), self._item_table()

    def _user_table(self) -> ScoreFn:  # pragma: no cover - interface
        """Rows -> dequantised user embeddings (users are expanded per batch only)."""
        raise NotImplementedError

    def _item_table(self) -> torch.Tensor:  # pragma: no cover - interface
        """All dequantised item embeddings (expanded once per scorer)."""
        raise NotImplementedError


def _expect(weights: dict[str, torch.Tensor], names: tuple[str, ...], what: str) -> None:
    if set(weights) != set(names):
        raise GnnnasError(f"weights.pt: holds {sorted(weights)}; a {what} artifact expects {sorted(names)}")


def _expect_rows(tensor: torch.Tensor, rows: int, name: str, dtypes: tuple[torch.dtype, ...], dim: int = 2) -> None:
    if tensor.dim() != dim or tensor.shape[0] != rows or tensor.dtype not in dtypes:
        raise GnnnasError(f"weights.pt: {name} is {tuple(tensor.shape)} {tensor.dtype}; expected {rows} rows "
                          f"({dim}-D, {' or '.join(str(d) for d in dtypes)})")


# --- int8 ---------------------------------------------------------------------------------------


def quantize_rows(table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8: ``table[r] ~= q[r] * scale[r]`` with ``|q| <= 127``."""
    table = table.float()
    scale = table.abs().amax(dim=1) / 127.0
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero row stays zero
    q = torch.round(table / safe[:, None]).clamp_(-127, 127).to(torch.int8)
    return q, scale.contiguous()


_INT_MM: dict[str, bool] = {}
_INT_MM_MIN_WIDTH = 32


def int_matmul_available(device: torch.device) -> bool:
    """Whether ``torch._int_mm`` (int8 x int8 -> int32 matrix product) runs on ``device``'s type.

    On CPU it has no shape constraints (CUDA's needs multiples of 8 and more
    than 16 rows, so CUDA keeps the float product, fast there anyway); probed
    once per device type, since builds without it raise.
    """
    if device.type != "cpu":
        return False
    if "cpu" not in _INT_MM:
        try:
            a = torch.ones(2, 3, dtype=torch.int8)
            _INT_MM["cpu"] = bool(torch._int_mm(a, a.t().contiguous()).eq(3).all())
        except (RuntimeError, AttributeError, NotImplementedError):
            _INT_MM["cpu"] = False
    return _INT_MM["cpu"]


class Int8Rows(_Compressed):
    """Final embeddings as int8 with one float32 scale per row; score ``= s_u s_i (q_u . q_i)``."""

    key = "int8_rows"
    tensor_names = ("user_q", "user_scale", "item_q", "item_scale")

    def __init__(self, user_q: torch.Tensor, user_scale: torch.Tensor, item_q: torch.Tensor,
                 item_scale: torch.Tensor):
        super().__init__(user_q.shape[0], item_q.shape[0])
        for name, t in zip(self.tensor_names, (user_q, user_scale, item_q, item_scale)):
            self.register_buffer(name, t.contiguous())

    @classmethod
    def from_embeddings(cls, users: torch.Tensor, items: torch.Tensor) -> "Int8Rows":
        return cls(*quantize_rows(users), *quantize_rows(items))

    @classmethod
    def from_weights(cls, weights, n_users, n_items, info) -> "Int8Rows":
        _expect(weights, cls.tensor_names, "int8")
        for name, rows in zip(cls.tensor_names, (n_users, n_users, n_items, n_items)):
            is_q = name.endswith("_q")
            _expect_rows(weights[name], rows, name, (torch.int8,) if is_q else (torch.float32,), 2 if is_q else 1)
        return cls(*(weights[n] for n in cls.tensor_names))

    def _user_table(self) -> ScoreFn:
        return lambda rows: self.user_q[rows].float() * self.user_scale[rows, None]

    def _item_table(self) -> torch.Tensor:
        return self.item_q.float() * self.item_scale[:, None]

    def scorer(self) -> ScoreFn:
        # With the native kernels, ranking dequantised float tables fused beats any score matrix
        # (experiments/RESULTS.md, "Fused score-and-select"); the integer product below remains for
        # scoring and for rows the fused kernel cannot rank.
        if self.device.type == "cpu" and native.active():
            built: list[ScoreFn] = []  # the integer operand is only built if something asks for scores

            def scores(rows: torch.Tensor) -> torch.Tensor:
                if not built:
                    built.append(self._integer_scorer())
                return built[0](rows)

            return DotScorer(self._user_table(), self._item_table(), scores=scores)
        return self._integer_scorer()

    def _integer_scorer(self) -> ScoreFn:
        # Both scales factor out of the dot product, so q_u . q_i can be an integer matrix product,
        # exact in int32. On a 2-core EPYC it ranks 256 x 39k items 1.5x faster than the float path at
        # width 64, equally fast at 32 and slower at 16 (two scaling passes outweigh a short product).
        scale, user_q, user_scale = self.item_scale, self.user_q, self.user_scale
        if self.item_q.shape[1] >= _INT_MM_MIN_WIDTH and int_matmul_available(self.device):
            items_qt = self.item_q.t().contiguous()
            return lambda rows: torch.mul(torch._int_mm(user_q[rows], items_qt), scale).mul_(user_scale[rows, None])
        items_t = self.item_q.t().float().contiguous()
        users = self._user_table()
        return lambda rows: (users(rows) @ items_t).mul_(scale)


# --- fp16 ---------------------------------------------------------------------------------------


class HalfRows(_Compressed):
    """Final embeddings stored as float16, scored in float32 (CPUs have no fast half matmul)."""

    key = "fp16"
    tensor_names = ("user_half", "item_half")

    def __init__(self, user_half: torch.Tensor, item_half: torch.Tensor):
        super().__init__(user_half.shape[0], item_half.shape[0])
        self.register_buffer("user_half", user_half.to(torch.float16).contiguous())
        self.register_buffer("item_half", item_half.to(torch.float16).contiguous())

    @classmethod
    def from_weights(cls, weights, n_users, n_items, info) -> "HalfRows":
        _expect(weights, cls.tensor_names, "fp16")
        _expect_rows(weights["user_half"], n_users, "user_half", (torch.float16,))
        _expect_rows(weights["item_half"], n_items, "item_half", (torch.float16,))
        return cls(weights["user_half"], weights["item_half"])

    def _user_table(self) -> ScoreFn:
        return lambda rows: self.user_half[rows].float()

    def _item_table(self) -> torch.Tensor:
        return self.item_half.float()


# --- sparse rows (prune) ------------------------------------------------------------------------


def _col_dtype(dim: int) -> torch.dtype:
    return torch.uint8 if dim <= 256 else torch.int16 if dim <= 32768 else torch.int32


def prune_rows(table: torch.Tensor, keep: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's ``keep`` largest-magnitude values and their columns (ascending), the rest dropped."""
    cols = table.abs().topk(keep, dim=1).indices.sort(dim=1).values
    return table.gather(1, cols).float().contiguous(), cols.to(_col_dtype(table.shape[1])).contiguous()


class SparseRows(_Compressed):
    """Final embeddings with the same number ``m`` of kept values per row (fixed-width sparse rows).

    A fixed width needs no row pointers: ``values`` and ``cols`` are ``n x m``
    matrices, and a row is expanded by scattering its values into a zero row
    of width ``dim`` (recorded in the bundle metadata).
    """

    key = "sparse_rows"
    tensor_names = ("user_values", "user_cols", "item_values", "item_cols")

    def __init__(self, user_values: torch.Tensor, user_cols: torch.Tensor, item_values: torch.Tensor,
                 item_cols: torch.Tensor, dim: int):
        super().__init__(user_values.shape[0], item_values.shape[0])
        self.dim = int(dim)
        for name, t in zip(self.tensor_names, (user_values, user_cols, item_values, item_cols)):
            self.register_buffer(name, t.contiguous())

    @classmethod
    def from_embeddings(cls, users: torch.Tensor, items: torch.Tensor, keep: int) -> "SparseRows":
        return cls(*prune_rows(users, keep), *prune_rows(items, keep), dim=users.shape[1])

    @classmethod
    def from_weights(cls, weights, n_users, n_items, info) -> "SparseRows":
        _expect(weights, cls.tensor_names, "prune")
        dim = info.get("dim")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise GnnnasError(f"metadata.json: compression.dim={dim!r}; expected the embedding width (an integer >= 1)")
        ints = (torch.uint8, torch.int16, torch.int32)
        for side, rows in (("user", n_users), ("item", n_items)):
            values, cols = weights[f"{side}_values"], weights[f"{side}_cols"]
            _expect_rows(values, rows, f"{side}_values", (torch.float32,))
            _expect_rows(cols, rows, f"{side}_cols", ints)
            if cols.shape != values.shape or (cols.numel() and int(cols.max()) >= dim) or values.shape[1] > dim:
                raise GnnnasError(f"weights.pt: {side}_cols does not fit {side}_values {tuple(values.shape)} "
                                  f"and width {dim}")
        return cls(*(weights[n] for n in cls.tensor_names), dim=dim)

    def _dense(self, values: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        out = values.new_zeros(values.shape[0], self.dim)
        return out.scatter_(1, cols.long(), values)

    def _user_table(self) -> ScoreFn:
        return lambda rows: self._dense(self.user_values[rows], self.user_cols[rows])

    def _item_table(self) -> torch.Tensor:
        return self._dense(self.item_values, self.item_cols)


# --- distilled student --------------------------------------------------------------------------


class EmbeddingTable(Recommender):
    """A distilled student: one float32 embedding per user and item, scores their dot products.

    No graph and no layers: inference is a lookup and one matrix product.
    """

    key = "embedding_table"

    def __init__(self, n_users: int, n_items: int, dim: int):
        super().__init__()
        self.n_users, self.n_items, self.dim = int(n_users), int(n_items), int(dim)
        self.user_embedding = nn.Parameter(torch.zeros(self.n_users, self.dim))
        self.item_embedding = nn.Parameter(torch.zeros(self.n_items, self.dim))

    @classmethod
    def from_weights(cls, weights, n_users, n_items, info) -> "EmbeddingTable":
        _expect(weights, ("user_embedding", "item_embedding"), "distilled")
        _expect_rows(weights["user_embedding"], n_users, "user_embedding", (torch.float32,))
        _expect_rows(weights["item_embedding"], n_items, "item_embedding", (torch.float32,))
        dim = weights["user_embedding"].shape[1]
        if weights["item_embedding"].shape[1] != dim:
            raise GnnnasError(f"weights.pt: item_embedding is {tuple(weights['item_embedding'].shape)}; "
                              f"expected width {dim} like user_embedding")
        model = cls(n_users, n_items, dim)
        model.load_state_dict(weights)
        return model.requires_grad_(False)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_embedding, self.item_embedding

    def embedding_tables(self) -> tuple[nn.Parameter, nn.Parameter]:
        return self.user_embedding, self.item_embedding


#: ``compression.model`` -> class with ``from_weights(weights, n_users, n_items, info)``
COMPRESSED_MODELS: dict[str, type] = {c.key: c for c in (Int8Rows, HalfRows, SparseRows, EmbeddingTable)}


def build_compressed(contents, device: torch.device) -> Recommender:
    """The recommender of a compressed bundle (:class:`~gnnnas.export.bundle.BundleContents`), in eval mode."""
    info = contents.metadata.get("compression")
    key = info.get("model") if isinstance(info, dict) else None
    if key not in COMPRESSED_MODELS:
        raise GnnnasError(f"{contents.path / 'metadata.json'}: compression.model={key!r}; expected one of "
                          f"{', '.join(COMPRESSED_MODELS)} (a newer gnnnas may know more)")
    model = COMPRESSED_MODELS[key].from_weights(contents.weights, contents.n_users, contents.n_items, info)
    return model.to(device).eval()
