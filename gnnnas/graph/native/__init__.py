"""Native CPU kernels, compiled on first use: the propagation's sparse products and GATv2's
attention logits (``spmm.c``), fused full-ranking top-K of dot-product scores (``topk.c``), and
dropout with a counter-based mask (``dropout.c``).

The sources are plain C (no torch headers, so they build in about a second),
linked into one library and called through :mod:`ctypes`, which releases the GIL. It is compiled with
the machine's C compiler (``$CC``, else ``cc``/``gcc``) with ``-O3
-march=native -fno-trapping-math -fopenmp`` (the third flag lets gcc
vectorise comparisons; nothing here reads floating-point exception flags)
into a per-user cache folder keyed by the source, compiler, flags and CPU, and
linked to ``libgomp.so.1``, which resolves to the copy torch has already
loaded, so the kernels share torch's thread pool and thread count.

Where there is no compiler, the build fails, or ``GNNNAS_NATIVE=0`` is set,
:func:`kernels` returns None and callers take the pure-torch path (same
results, slower); the reason is warned once.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Iterator

import torch

_SOURCES = tuple(Path(__file__).with_name(name) for name in ("spmm.c", "topk.c", "dropout.c"))
_FLAGS = ["-O3", "-march=native", "-fno-trapping-math", "-fopenmp", "-fPIC", "-shared", "-std=gnu11"]
_ABI = 1

_lock = threading.Lock()
_state: dict[str, object] = {}
_enabled = True


def _cache_dir() -> Path:
    root = os.environ.get("GNNNAS_NATIVE_CACHE")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gnnnas" / "native"


def _cpu_identity() -> str:
    # -march=native code is only valid on the CPU it was built for; a shared home folder must
    # not hand one machine's build to another.
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags"))][:2]
    except OSError:
        lines = []
    return platform.machine() + "".join(lines)


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _build() -> ctypes.CDLL:
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set CC, or install gcc)")
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    key = hashlib.sha256("\0".join([*(src.read_text() for src in _SOURCES), cc, version, " ".join(_FLAGS), _cpu_identity()])
                         .encode()).hexdigest()[:16]
    target = _cache_dir() / f"spmm-{key}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the target and rename: concurrent workers never load a half-written file.
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        try:
            done = subprocess.run([cc, *_FLAGS, *map(str, _SOURCES), "-o", tmp], capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"{cc} failed on {', '.join(src.name for src in _SOURCES)}: {done.stderr.strip().splitlines()[-1:]}")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    lib = ctypes.CDLL(str(target))
    if lib.gnn_native_abi() != _ABI:
        raise RuntimeError(f"{target} has another ABI version")
    i64, p, f32 = ctypes.c_int64, ctypes.c_void_p, ctypes.c_float
    lib.gnn_spmm.argtypes = [i64, p, p, p, p, p, i64, p, f32, f32, p]
    lib.gnn_spmm.restype = None
    lib.gnn_spmm_masked.argtypes = [i64, p, p, p, p, p, i64, f32, p]
    lib.gnn_spmm_masked.restype = None
    lib.gnn_gatv2_logits.argtypes = [i64, p, p, p, p, p, i64, i64, f32, p]
    lib.gnn_gatv2_logits.restype = None
    lib.gnn_gatv2_logits_backward.argtypes = [i64, p, p, p, p, p, p, i64, i64, f32, p, p, p, p]
    lib.gnn_gatv2_logits_backward.restype = None
    lib.gnn_topk_dot.argtypes = [i64, i64, p, i64, p, i64, p, p, p, p, p, p]
    lib.gnn_topk_dot.restype = None
    lib.gnn_topk_pack.argtypes = [i64, i64, p, p]
    lib.gnn_topk_pack.restype = None
    lib.gnn_dropout.argtypes = [i64, p, ctypes.c_uint64, ctypes.c_uint32, f32, p, p]
    lib.gnn_dropout.restype = None
    lib.gnn_dropout_backward.argtypes = [i64, p, p, f32, p]
    lib.gnn_dropout_backward.restype = None
    return lib


def kernels() -> ctypes.CDLL | None:
    """The compiled kernels, or None when they are disabled or cannot be built (warned once)."""
    if "lib" in _state:
        return _state["lib"]  # type: ignore[return-value]
    with _lock:
        if "lib" not in _state:
            lib = None
            if os.environ.get("GNNNAS_NATIVE", "1") != "0":
                try:
                    lib = _build()
                except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                    warnings.warn(f"gnnnas: native CPU kernels unavailable ({exc}); using the slower torch path",
                                  RuntimeWarning, stacklevel=2)
            _state["lib"] = lib
    return _state["lib"]  # type: ignore[return-value]


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Within the block, :func:`supports` is False and callers take the torch path (for benchmarks
    comparing the two in one process, and for debugging)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def active() -> bool:
    """Whether the kernels are built and not switched off by :func:`disabled`."""
    return _enabled and kernels() is not None


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def supports(csr: torch.Tensor, *dense: torch.Tensor) -> bool:
    """Whether the kernels apply: CPU, float32 CSR with int32 indices, contiguous float32 operands."""
    return (csr.device.type == "cpu" and csr.layout == torch.sparse_csr and csr.dtype == torch.float32
            and csr.crow_indices().dtype == torch.int32
            and all(x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 2 for x in dense)
            and active())


def spmm(csr: torch.Tensor, x: torch.Tensor, rows: torch.Tensor | None = None, y: torch.Tensor | None = None,
         beta: float = 0.0, alpha: float = 1.0) -> torch.Tensor:
    """``beta * y[rows] + alpha * (csr @ x)[rows]`` (all rows when ``rows`` is None), in one pass.

    ``rows`` (int64) selects output rows; ``y`` has ``csr``'s row count. The
    caller checks :func:`supports` first.
    """
    lib = kernels()
    x = x.contiguous()
    d = x.shape[1]
    if y is not None:
        y = y.contiguous()
    if rows is not None:
        rows = rows.to(torch.int64).contiguous()
    n_out = csr.shape[0] if rows is None else rows.numel()
    out = torch.empty(n_out, d, dtype=x.dtype)
    lib.gnn_spmm(n_out, _ptr(rows), csr.crow_indices().data_ptr(), csr.col_indices().data_ptr(),
                 csr.values().data_ptr(), x.data_ptr(), d, _ptr(y), beta, alpha, out.data_ptr())
    return out


def spmm_masked(csr: torch.Tensor, rows: torch.Tensor, g: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """``alpha * csr @ G`` where ``G`` (``csr.shape[1] x d``) is zero except ``G[rows] = g``.

    ``rows`` must not repeat. Costs a scan of ``csr``'s indices plus reads of
    ``g`` only where ``csr`` meets the listed rows; no dense ``G`` is built.
    """
    lib = kernels()
    g = g.contiguous()
    pos = torch.full((csr.shape[1],), -1, dtype=torch.int32)
    pos[rows] = torch.arange(rows.numel(), dtype=torch.int32)
    out = torch.empty(csr.shape[0], g.shape[1], dtype=g.dtype)
    lib.gnn_spmm_masked(csr.shape[0], csr.crow_indices().data_ptr(), csr.col_indices().data_ptr(),
                        csr.values().data_ptr(), pos.data_ptr(), g.data_ptr(), g.shape[1], alpha, out.data_ptr())
    return out


def gatv2_logits(crow: torch.Tensor, col: torch.Tensor, source: torch.Tensor, target: torch.Tensor,
                 att: torch.Tensor, slope: float) -> torch.Tensor:
    """``logit[e, h] = sum_c att[h, c] * leaky_relu(source[col[e], h, c] + target[row(e), h, c])``.

    ``crow``/``col``: int32 CSR of the edges (rows = targets); ``source``, ``target``: contiguous
    float32 ``N x H x C``; ``att``: ``H x C``. Returns ``E x H``.
    """
    n, heads, channels = source.shape
    out = torch.empty(col.numel(), heads, dtype=source.dtype)
    kernels().gnn_gatv2_logits(n, crow.data_ptr(), col.data_ptr(), source.data_ptr(), target.data_ptr(),
                               att.data_ptr(), heads, channels, slope, out.data_ptr())
    return out


def gatv2_logits_backward(crow: torch.Tensor, col: torch.Tensor, reverse: torch.Tensor, source: torch.Tensor,
                          target: torch.Tensor, att: torch.Tensor, slope: float,
                          grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients (source, target, att) of :func:`gatv2_logits` given ``grad`` (``E x H``) on a symmetric
    edge structure whose ``reverse`` (int64) maps each edge to its opposite."""
    lib = kernels()
    n, heads, channels = source.shape
    grad = grad.contiguous()
    d_source, d_target = torch.empty_like(source), torch.empty_like(target)
    parts = torch.zeros(lib.gnn_max_threads(), heads, channels, dtype=source.dtype)
    lib.gnn_gatv2_logits_backward(n, crow.data_ptr(), col.data_ptr(), reverse.data_ptr(), source.data_ptr(),
                                  target.data_ptr(), att.data_ptr(), heads, channels, slope, grad.data_ptr(),
                                  d_source.data_ptr(), d_target.data_ptr(), parts.data_ptr())
    return d_source, d_target, parts.sum(0)


def topk_panel() -> int:
    """Items per panel of the packed item table :func:`topk_dot` reads (16, or 32 with AVX-512)."""
    return int(kernels().gnn_topk_panel())


def pack_items(item_emb: torch.Tensor) -> torch.Tensor:
    """``item_emb`` (``n x d``) as :func:`topk_dot`'s operand: panels of :func:`topk_panel` items,
    each ``d x panel`` row-major, the last one zero-padded."""
    item_emb = item_emb.to(torch.float32).contiguous()
    n, d = item_emb.shape
    panel = topk_panel()
    packed = torch.empty(-(-n // panel), d, panel, dtype=torch.float32)
    kernels().gnn_topk_pack(n, d, item_emb.data_ptr(), packed.data_ptr())
    return packed


def topk_dot(user_emb: torch.Tensor, packed: torch.Tensor, n_items: int, k: int,
             exclude: tuple[torch.Tensor, torch.Tensor] | None = None,
             allowed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-``k`` items of ``user_emb @ items^T`` per row without writing the score matrix.

    ``packed`` comes from :func:`pack_items`; ``exclude`` = (``indptr`` (``b + 1``), ``items``),
    int64, each row's excluded items sorted ascending; ``allowed``: optional uint8 per item (0 =
    never ranked). Returns ``(items, values, found)``: ``b x k`` best first, ties by item id, and how
    many items each row ranked (``< k`` only for rows with fewer than ``k`` rankable items; their
    tail slots are undefined). ``-inf`` and NaN scores are never ranked. Caller ensures
    ``1 <= k <= n_items`` and that :func:`active` is true.
    """
    user_emb = user_emb.to(torch.float32).contiguous()
    b, d = user_emb.shape
    items = torch.empty(b, k, dtype=torch.int64)
    values = torch.empty(b, k, dtype=torch.float32)
    found = torch.empty(b, dtype=torch.int64)
    indptr, excluded = (None, None) if exclude is None else (exclude[0].contiguous(), exclude[1].contiguous())
    kernels().gnn_topk_dot(b, d, user_emb.data_ptr(), n_items, packed.data_ptr(), k, _ptr(indptr), _ptr(excluded),
                           _ptr(allowed), items.data_ptr(), values.data_ptr(), found.data_ptr())
    return items, values, found


def dropout(x: torch.Tensor, p: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverted dropout of a contiguous float32 ``x``: ``(y, keep)`` with ``keep`` (uint8, ``x``'s
    shape) the mask its backward needs. ``seed`` (0 <= seed < 2^64) alone fixes the mask; ``0 <= p < 1``."""
    y = torch.empty_like(x)
    keep = torch.empty(x.shape, dtype=torch.uint8)
    threshold = min(round(p * 2 ** 32), 2 ** 32 - 1)
    kernels().gnn_dropout(x.numel(), x.data_ptr(), seed, threshold, 1.0 / (1.0 - p), y.data_ptr(), keep.data_ptr())
    return y, keep


def dropout_backward(grad: torch.Tensor, keep: torch.Tensor, p: float) -> torch.Tensor:
    """The gradient of :func:`dropout` for the output gradient ``grad``."""
    grad = grad.contiguous()
    out = torch.empty_like(grad)
    kernels().gnn_dropout_backward(grad.numel(), grad.data_ptr(), keep.data_ptr(), 1.0 / (1.0 - p), out.data_ptr())
    return out
