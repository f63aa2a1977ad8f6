"""Keep glibc from returning large freed blocks to the OS after every mini-batch.

Training allocates and frees the same multi-megabyte tensors (embeddings of
every node, their gradients) on each mini-batch. With glibc's defaults those
blocks are mmap'ed and unmapped each time, so every batch pays fresh page
faults on several hundred MB: in profiles, elementwise ops on 10 MB tensors
ran 10-30x slower than on warm memory. Raising the mmap and trim thresholds
keeps the memory in the process heap for reuse. Set GNNNAS_NO_MALLOPT=1 to
leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Apply the thresholds once; returns whether they were applied."""
    if os.environ.get("GNNNAS_NO_MALLOPT") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
    # glibc refuses mmap thresholds above 32 MiB on 64-bit; blocks larger than that stay mmap'ed.
    mmap_ok = mallopt(_M_MMAP_THRESHOLD, 32 << 20) == 1
    trim_ok = mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1
    return mmap_ok and trim_ok
